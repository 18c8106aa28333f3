package effect

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/model"
)

// top25 is MITRE's 2024 CWE Top 25 Most Dangerous Software Weaknesses,
// in rank order.
var top25 = []string{
	"CWE-79", "CWE-787", "CWE-89", "CWE-352", "CWE-22", "CWE-125", "CWE-78", "CWE-416", "CWE-862", "CWE-434",
	"CWE-94", "CWE-20", "CWE-77", "CWE-287", "CWE-269", "CWE-502", "CWE-200", "CWE-863", "CWE-918", "CWE-119",
	"CWE-476", "CWE-798", "CWE-190", "CWE-400", "CWE-306",
}

func TestEveryKnownCWEConsidered(t *testing.T) {
	t.Parallel()
	cwes := append([]string{}, top25...)
	f, err := os.Open("testdata/corpus_cwes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cwes = append(cwes, sc.Text())
	}
	if len(cwes) < 25+100 {
		t.Fatalf("read %d CWEs, want the Top 25 and the corpus's 129", len(cwes))
	}
	for _, c := range cwes {
		_, inTable := cweTable[c]
		_, generic := genericCWEs[c]
		if inTable == generic {
			t.Errorf("CWE %s: in table %v, generic %v, want exactly one", c, inTable, generic)
		}
	}
	for c, e := range cweTable {
		if model.NormalizeCWE(c) != c || e.effect.Rank() == 0 || e.confidence.rank() == 0 || e.why == "" {
			t.Errorf("cweTable[%q] = %+v, want a normalized key, an effect, a confidence and a reason", c, e)
		}
	}
	for id, e := range ruleTable {
		if normRule(id) != id || e.effect.Rank() == 0 || e.confidence.rank() == 0 || e.why == "" {
			t.Errorf("ruleTable[%q] = %+v, want a normalized key, an effect, a confidence and a reason", id, e)
		}
	}
}

func TestForCWE(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cwe  string
		want Result
		ok   bool
	}{
		{"CWE-78", Result{Exec, High, "CWE-78 (OS command injection)"}, true},
		{"89", Result{Write, High, "CWE-89 (SQL injection: reads and changes the database)"}, true},
		{"cwe_918", Result{SSRF, High, "CWE-918 (server-side request forgery)"}, true},
		{"CWE-20", Result{}, false},
		{"NVD-CWE-Other", Result{}, false},
		{"CWE-99999", Result{}, false},
	}
	for _, tt := range tests {
		got, ok := ForCWE(tt.cwe)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ForCWE(%q) = %+v, %v, want %+v, %v", tt.cwe, got, ok, tt.want, tt.ok)
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Input
		want Effect
		conf Confidence
	}{
		// Secrets.
		{"secret finding", Input{Kind: model.FindingSecret, Rule: "aws-access-key-id", CWEs: []string{"CWE-200"}}, Credential, High},

		// Rule ids of misconfiguration scanners, normalized.
		{"checkov public read bucket", Input{Kind: model.FindingMisconfig, Rule: "CKV_AWS_20"}, Read, High},
		{"checkov public write bucket", Input{Kind: model.FindingMisconfig, Rule: "ckv_aws_57"}, Write, High},
		{"checkov SSH open to the world", Input{Kind: model.FindingMisconfig, Rule: "CKV_AWS_24", Title: "Ensure no security groups allow ingress from 0.0.0.0:0 to port 22"}, Exposure, High},
		{"checkov admin policy", Input{Kind: model.FindingMisconfig, Rule: "CKV_AWS_62"}, PrivEsc, High},
		{"checkov privileged pod", Input{Kind: model.FindingMisconfig, Rule: "CKV_K8S_16"}, Escape, High},
		{"checkov IMDSv1", Input{Kind: model.FindingMisconfig, Rule: "CKV_AWS_79"}, Credential, Low},
		{"tfsec open security group", Input{Kind: model.FindingMisconfig, Rule: "aws-vpc-no-public-ingress-sgr"}, Exposure, High},
		{"tfsec wildcard IAM", Input{Kind: model.FindingMisconfig, Rule: "aws-iam-no-policy-wildcards"}, PrivEsc, Medium},
		{"trivy privileged, AVD id", Input{Kind: model.FindingMisconfig, Rule: "AVD-KSV-0017"}, Escape, High},
		{"trivy hostPath, short id", Input{Kind: model.FindingMisconfig, Rule: "KSV023"}, Escape, Medium},
		{"trivy hostPath, new id", Input{Kind: model.FindingMisconfig, Rule: "KSV-0023"}, Escape, Medium},
		{"trivy runs as root", Input{Kind: model.FindingMisconfig, Rule: "KSV012"}, InfoOnly, Low},
		{"kics public bucket", Input{Kind: model.FindingMisconfig, Rule: "7af43613-6bb9-4a0e-8c4d-1314b799425e"}, Read, High},
		{"kics secrets in code", Input{Kind: model.FindingMisconfig, Rule: "f996f3cb-00fc-480c-8973-8ab04d44a8cc"}, Credential, High},
		{"kics RBAC wildcard", Input{Kind: model.FindingMisconfig, Rule: "6b896afb-ca07-467a-b256-1a0077a1c08e"}, PrivEsc, Medium},

		// Rule ids unknown: words of the title.
		{"unknown rule, 0.0.0.0/0 title", Input{Kind: model.FindingMisconfig, Rule: "CKV_GCP_88", Title: "Ensure Google compute firewall ingress does not allow unrestricted access from 0.0.0.0/0"}, Exposure, Medium},
		{"unknown rule, privileged title", Input{Kind: model.FindingMisconfig, Rule: "kubescape-C-0057", Title: "Privileged container"}, Escape, Medium},
		{"unknown rule, wildcard title", Input{Kind: model.FindingMisconfig, Rule: "X", Title: "Role uses wildcard permissions"}, PrivEsc, Low},
		{"unknown hardening rule", Input{Kind: model.FindingMisconfig, Rule: "CKV_AWS_118", Title: "Ensure that enhanced monitoring is enabled for Amazon RDS instances"}, InfoOnly, Low},

		// CWEs: the most powerful wins; generic CWEs fall through.
		{"log4shell CWEs (Trivy, CISA KEV)", Input{Kind: model.FindingVulnerability, CWEs: []string{"CWE-20", "CWE-400", "CWE-502"}}, Exec, Medium},
		{"bandit hard-coded password B105", Input{Kind: model.FindingCode, Rule: "B105", CWEs: []string{"CWE-259"}, Title: "Possible hardcoded password: 'Pass'"}, Credential, High},
		{"glibc regex CWE-399 (Trivy CVE-2010-4052)", Input{Kind: model.FindingVulnerability, CWEs: []string{"CWE-399"}, Title: "glibc: De-recursivise regular expression engine"}, DoSOnly, Low},
		{"apt-key CWE-347 (Trivy CVE-2011-3374)", Input{Kind: model.FindingVulnerability, CWEs: []string{"CWE-347"}}, AuthBypass, Medium},
		{"shadow TOCTOU CWE-367 (Trivy CVE-2013-4235)", Input{Kind: model.FindingVulnerability, CWEs: []string{"CWE-367"}}, PrivEsc, Low},
		{"same power, more confident wins", Input{CWEs: []string{"CWE-190", "CWE-78"}}, Exec, High},
		{"CodeQL tag", Input{Kind: model.FindingCode, Tags: []string{"security", "external/cwe/cwe-918"}}, SSRF, High},
		{"certain SSRF over a guessed XSS credential", Input{CWEs: []string{"CWE-79", "CWE-918"}}, SSRF, High},
		{"certain DoS over a guessed overflow", Input{CWEs: []string{"CWE-190", "CWE-400"}}, DoSOnly, High},
		{"only guesses: the most powerful", Input{CWEs: []string{"CWE-79", "CWE-190"}}, Exec, Low},
		{"tfsec legacy GEN003", Input{Kind: model.FindingMisconfig, Rule: "GEN003"}, Credential, Medium},

		// Generic CWE: the CVSS vector decides.
		{"coreutils chroot CWE-20 (Trivy CVE-2016-2781)", Input{Kind: model.FindingVulnerability, CWEs: []string{"CWE-20"}, CVSS: []string{"CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:C/C:N/I:H/A:N"}}, Write, Low},

		// Tags and words.
		{"semgrep tag", Input{Kind: model.FindingCode, Tags: []string{"OWASP A03", "SQL Injection"}}, Write, Medium},
		{"title says RCE", Input{Kind: model.FindingVulnerability, Title: "Remote Code Execution in foo"}, Exec, Medium},
		{"title says DoS", Input{Kind: model.FindingVulnerability, Title: "foo: DoS via crafted header"}, DoSOnly, Medium},
		{"title says path traversal", Input{Kind: model.FindingDAST, Title: "Path Traversal"}, FileRead, Medium},

		// CVSS alone.
		{"CVSS total loss over the network", Input{CVSS: []string{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}, Exec, Low},
		{"CVSS total loss, local", Input{CVSS: []string{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}}, PrivEsc, Low},
		{"CVSS availability only", Input{CVSS: []string{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}}, DoSOnly, Medium},
		{"CVSS confidentiality only", Input{CVSS: []string{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}}, Read, Low},
		{"CVSS v2 partial all", Input{CVSS: []string{"AV:N/AC:L/Au:N/C:P/I:P/A:P"}}, Write, Low},
		{"CVSS v4 preferred over v2", Input{CVSS: []string{"AV:N/AC:L/Au:N/C:C/I:C/A:C", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N"}}, DoSOnly, Medium},
		{"CVSS no impact", Input{CVSS: []string{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"}}, InfoOnly, Low},
		{"CVSS malformed", Input{CVSS: []string{"CVSS:3.1/junk"}}, Unknown, Low},

		// Nothing.
		{"nothing", Input{}, Unknown, Low},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Classify(tt.in)
			if got.Effect != tt.want || got.Confidence != tt.conf || got.Reason == "" {
				t.Errorf("Classify(%+v) = %+v, want %q at %q with a reason", tt.in, got, tt.want, tt.conf)
			}
		})
	}
}

func TestFromFinding(t *testing.T) {
	t.Parallel()
	f := model.Finding{Kind: model.FindingVulnerability, RuleID: "CVE-2021-44228", CWEs: []string{"CWE-502"}, Title: "log4j-core: Remote code execution in Log4j 2.x",
		CVSS: []model.CVSS{{Source: "nvd", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"}}}
	in := FromFinding(f)
	if len(in.CVSS) != 1 || in.Rule != "CVE-2021-44228" || in.Kind != model.FindingVulnerability {
		t.Errorf("FromFinding(%+v) = %+v", f, in)
	}
	if got := Classify(in); got.Effect != Exec || got.Confidence != Medium {
		t.Errorf("Classify(FromFinding(log4shell)) = %+v, want exec at medium", got)
	}
}

func TestEffectOrder(t *testing.T) {
	t.Parallel()
	for i, e := range Effects {
		if e.Rank() != len(Effects)-i {
			t.Errorf("Effect(%q).Rank() = %d, want %d", e, e.Rank(), len(Effects)-i)
		}
	}
	for _, tt := range []struct {
		e    Effect
		want bool
	}{{Exec, true}, {FileRead, true}, {Exposure, false}, {DoSOnly, false}, {InfoOnly, false}, {Unknown, false}} {
		if got := tt.e.IsStep(); got != tt.want {
			t.Errorf("Effect(%q).IsStep() = %v, want %v", tt.e, got, tt.want)
		}
	}
}

// TestWordNeedles checks the substring prefilter of the word rules: every
// rule has needles, and wherever a rule matches (phrases each rule names,
// near misses, the titles of real reports) its needles let it run.
func TestWordNeedles(t *testing.T) {
	t.Parallel()
	texts := []string{
		"Remote Code Execution in log4j", "RCE via JNDI", "unsafe YAML load", "Deserialization of untrusted data",
		"Privileged container", "mounts docker.sock", "Privilege escalation in sudo", "allowPrivilegeEscalation is true",
		"IAM policy allows *:*", "Hard-coded password", "AWS secret in repo", "Authentication bypass", "IDOR on /users",
		"SQL injection in login", "SSRF in webhook", "Path traversal", "information disclosure", "Denial of service",
		"ReDoS in minimatch", "Open redirect", "XSS in comments", "", "ingress from 0.0.0.0/0", "HARDCODED PASSWORD",
		"Publicly accessible bucket", "XML External Entity", "elevates its own privileges", "Cluster-Admin binding",
		"forcecode execution", "preconditions", "dosage", "privilegedness", "openredirection", "the pickled cucumber",
	}
	for _, dir := range []string{"../../ingest/trivy/testdata", "../../ingest/grype/testdata", "../../ingest/semgrep/testdata"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range titleRE.FindAllSubmatch(data, -1) {
				texts = append(texts, string(m[1]))
			}
		}
	}
	if len(texts) < 200 {
		t.Fatalf("%d texts; the real reports should give hundreds of titles", len(texts))
	}
	for i, w := range wordRules {
		if len(wordNeedles[i]) == 0 {
			t.Errorf("rule %s has no needles", w.re)
		}
	}
	hits, skipped := 0, 0
	for _, s := range texts {
		want := false
		for i, w := range wordRules {
			m := w.re.MatchString(s)
			may := mayMatch(i, strings.ToLower(s))
			if m && !may {
				t.Errorf("rule %s matches %q but its needles %q skip it", w.re, s, wordNeedles[i])
			}
			if !may {
				skipped++
			}
			want = want || m
		}
		if want {
			hits++
		}
	}
	if skipped == 0 {
		t.Error("the needles never skip a rule")
	}
	if hits == 0 || hits == len(texts) {
		t.Errorf("%d of %d texts match: the test needs both kinds", hits, len(texts))
	}
}

var titleRE = regexp.MustCompile(`"(?:Title|title|message|description)"\s*:\s*"([^"\\]{1,300})"`)
