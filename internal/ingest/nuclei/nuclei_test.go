package nuclei_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/nuclei"
	"github.com/ctem-dev/ctem/internal/model"
)

func testFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	return files
}

// results decodes a Nuclei file independently: a JSON array, or one object
// per line.
func results(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.TrimSpace(data)
	var out []map[string]any
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := append(formats.All(), nuclei.Format)
	for _, path := range testFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 {
			continue // an empty output names no format; it needs --format
		}
		got, err := reg.Detect(ingest.SniffBytes(data[:min(len(data), 64<<10)]))
		if err != nil || got.Name != "nuclei" {
			t.Errorf("Detect(%s) = %q, %v, want nuclei", path, got.Name, err)
		}
	}
	for name, doc := range map[string]string{
		"trivy":     `{"SchemaVersion": 2, "ArtifactName": "alpine:3.19", "ArtifactType": "container_image", "Results": []}`,
		"sarif":     `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "nuclei"}}}]}`,
		"zap":       `{"@version": "2.14.0", "@generated": "x", "site": [{"@name": "https://a", "alerts": []}]}`,
		"trivy-old": `[{"Target": "x", "Vulnerabilities": []}]`,
		"template":  `{"id": "x", "info": {"name": "x", "severity": "info"}, "http": []}`,
	} {
		if nuclei.Detect(ingest.SniffBytes([]byte(doc))) {
			t.Errorf("Detect(%s) = true, want false", name)
		}
	}
}

func TestCounts(t *testing.T) {
	t.Parallel()
	for _, path := range testFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			want := results(t, path)
			r := ingesttest.Parse(t, nuclei.Format, path, ingest.Options{Target: "run"})
			if len(r.Findings) != len(want) {
				t.Errorf("Parse(%s) gave %d findings, want %d", path, len(r.Findings), len(want))
			}
			if len(r.Scans) != 1 || r.Scans[0].Target != "run" || r.Scans[0].Tool != "nuclei" {
				t.Errorf("Parse(%s) scans = %+v, want one nuclei scan of run", path, r.Scans)
			}
			for i, f := range r.Findings {
				m := want[i]
				id, _ := m["template-id"].(string)
				if id == "" {
					id, _ = m["templateID"].(string)
				}
				wantKind := model.FindingNetwork
				if m["type"] == "http" {
					wantKind = model.FindingDAST
				}
				if f.RuleID != id || f.Kind != wantKind || f.Asset == "" {
					t.Errorf("finding %d = rule %q kind %q asset %q, want rule %q kind %q", i, f.RuleID, f.Kind, f.Asset, id, wantKind)
				}
			}
		})
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, nuclei.Format, "testdata/many_findings_new.json", ingest.Options{})
	if len(r.Scans) != 1 || r.Scans[0].Target != "https://nuclei-example.com" || r.Scans[0].Asset != "url:https://nuclei-example.com/" {
		t.Errorf("scans = %+v, want one of https://nuclei-example.com", r.Scans)
	}
	f := r.Findings[0]
	if f.RuleID != "CVE-2018-15473" || f.Kind != model.FindingNetwork || !slices.Equal(f.VulnIDs, []string{"CVE-2018-15473"}) ||
		!slices.Equal(f.CWEs, []string{"CWE-362"}) || f.Severity != model.SeverityMedium || f.Asset != "host:nuclei-example.com:22" ||
		f.Location.URL != "nuclei-example.com:22" || f.Title != "OpenSSH Username Enumeration v7.7" {
		t.Errorf("CVE finding = %+v", f)
	}
	if len(f.CVSS) != 1 || f.CVSS[0].Vector != "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N" || f.CVSS[0].Score != 5.3 {
		t.Errorf("CVSS = %+v, want the 3.0 vector scored 5.3", f.CVSS)
	}
	if len(r.Facts) != 1 || r.Facts[0].Kind != model.EvidenceProbeConfirmed || r.Facts[0].VulnID != "CVE-2018-15473" || r.Facts[0].Asset != f.Asset {
		t.Errorf("evidence = %+v, want probe-confirmed CVE-2018-15473 on %s", r.Facts, f.Asset)
	}
	if !slices.ContainsFunc(r.Relations, func(rel model.Relation) bool {
		return rel.From == "host:nuclei-example.com" && rel.To == "host:nuclei-example.com:22" && rel.Type == model.RelExposes
	}) {
		t.Errorf("relations = %+v, want host:nuclei-example.com exposes host:nuclei-example.com:22", r.Relations)
	}
	g := r.Findings[1]
	if g.RuleID != "prometheus-metrics" || g.Kind != model.FindingDAST || g.Asset != "url:https://nuclei-example.com/" ||
		g.Location.URL != "https://nuclei-example.com/metrics" || g.Severity != model.SeverityLow {
		t.Errorf("http finding = %+v", g)
	}

	// Matcher names tell results of one template apart.
	r = ingesttest.Parse(t, nuclei.Format, "testdata/multiple_v3.json", ingest.Options{})
	if f := r.Findings[0]; f.Location.Component != "dns-saas-service-detection:wix" || f.Asset != "host:www.asdf.de" {
		t.Errorf("dns finding = %+v, want component dns-saas-service-detection:wix, asset host:www.asdf.de", f)
	}
	if f := r.Findings[2]; f.Asset != "host:www.asdf.de:443" || f.Kind != model.FindingNetwork {
		t.Errorf("ssl finding = %+v, want asset host:www.asdf.de:443", f)
	}

	// A JSON array export with several CWEs.
	r = ingesttest.Parse(t, nuclei.Format, "testdata/multi_cwe_fabricated.json", ingest.Options{})
	if f := r.Findings[0]; !slices.Equal(f.CWEs, []string{"CWE-79", "CWE-89"}) || f.Pointer != "/0" || f.Severity != model.SeverityHigh {
		t.Errorf("array finding = %+v, want CWE-79 and CWE-89, pointer /0", f)
	}
	// An id that is no CWE is dropped.
	r = ingesttest.Parse(t, nuclei.Format, "testdata/invalid_cwe.json", ingest.Options{})
	if f := r.Findings[0]; len(f.CWEs) != 0 || f.Asset != "host:nuclei-example.com:3306" || f.Pointer != "line 1" {
		t.Errorf("finding = %+v, want no CWE, asset host:nuclei-example.com:3306", f)
	}
}

func TestDuplicates(t *testing.T) {
	t.Parallel()
	// The old output repeats tech-detect without matcher names: identical
	// items collapse into one finding each.
	r := ingesttest.Parse(t, nuclei.Format, "testdata/many_findings.json", ingest.Options{})
	seen := map[string]bool{}
	for _, m := range results(t, "testdata/many_findings.json") {
		b, _ := json.Marshal([]any{m["templateID"], m["type"], m["host"], m["matched"], m["matcher_name"]})
		seen[string(b)] = true
	}
	if got := len(r.Distinct()); got != len(seen) {
		t.Errorf("distinct findings = %d, want %d", got, len(seen))
	}
	if len(r.Scans) != 1 || r.Scans[0].Target != "https://nuclei-example.com" {
		t.Errorf("scans = %+v, want the first result's host", r.Scans)
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	var warned []string
	r := ingesttest.Parse(t, nuclei.Format, "testdata/issue_14071_subset.json", ingest.Options{Warnf: func(f string, a ...any) { warned = append(warned, f) }})
	b, _ := json.Marshal(r.Findings)
	for _, raw := range []string{"fbeb4812f1bc3aebc7ebd5f969d0ad00", "0ad6e164d446ae529b089236cfa16769", "curl ", "PHPSESSID=", "password=password"} {
		if strings.Contains(string(b), raw) {
			t.Errorf("findings hold %q", raw)
		}
	}
	f := r.Findings[0]
	if f.RuleID != "dvwa-default-login" || f.SecretHash == "" || f.Severity != model.SeverityCritical || f.Asset != "url:http://dvwa_dvwa_1/" {
		t.Errorf("default login finding = %+v, want a secret hash, critical, asset url:http://dvwa_dvwa_1/", f)
	}
	// The javascript result names only a URL and a port.
	if f := r.Findings[2]; f.Kind != model.FindingNetwork || f.Asset != "host:dvwa_dvwa_1:80" {
		t.Errorf("javascript finding = %+v, want network on host:dvwa_dvwa_1:80", f)
	}
	if r.Scans[0].Target != "http://dvwa_dvwa_1/" {
		t.Errorf("target = %q, want the first result's input URL", r.Scans[0].Target)
	}
}

func TestMatcherStatusFalse(t *testing.T) {
	t.Parallel()
	doc := `{"template-id":"a","info":{"name":"A","severity":"high"},"type":"http","host":"https://x.example","matched-at":"https://x.example/a","matcher-status":false}
{"template-id":"b","info":{"name":"B","severity":"high"},"type":"http","host":"https://y.example","matched-at":"https://y.example/b","matcher-status":true}
`
	var warned int
	r, err := ingesttest.ParseBytes(nuclei.Format, "ms.jsonl", []byte(doc), ingest.Options{Warnf: func(string, ...any) { warned++ }})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 || r.Findings[0].RuleID != "b" {
		t.Errorf("findings = %+v, want only the matched template b", r.Findings)
	}
	if warned != 1 {
		t.Errorf("warnings = %d, want 1 (several hosts, no --target)", warned)
	}
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, nuclei.Format, "testdata/no_findings.json", ingest.Options{Target: "https://app.example"})
	if len(r.Scans) != 1 || len(r.Findings) != 0 || r.Scans[0].Target != "https://app.example" || r.Scans[0].Asset != "url:https://app.example/" {
		t.Errorf("Parse(no_findings) = %+v, %d findings, want one scan of https://app.example", r.Scans, len(r.Findings))
	}
	r, err := ingesttest.ParseBytes(nuclei.Format, "e", []byte("[]"), ingest.Options{})
	if err != nil || len(r.Scans) != 1 || r.Scans[0].Target != "unknown" {
		t.Errorf("Parse([]) = %+v, %v, want one scan of unknown", r, err)
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`{"template-id":"a","info":{"name":"A"`,
		`{"template-id":"a"} 42`,
		`"text"`,
		`[{"template-id":"a"}] {}`,
		`[{"template-id":"a","info":[]}]`,
		`not json`,
	} {
		_, err := ingesttest.ParseBytes(nuclei.Format, "bad", []byte(doc), ingest.Options{Target: "x"})
		if _, ok := errors.AsType[*ingest.InputError](err); !ok {
			t.Errorf("Parse(%q) = %v, want an *ingest.InputError", doc, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, nuclei.Format, "testdata/multiple_v3.json")
	ingesttest.CheckMalformed(t, nuclei.Format, "testdata/many_findings.json")
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	path := "testdata/many_findings.json"
	opts := ingest.Options{Target: "nuclei-example"}
	if _, err := ingesttest.Ingest(st, nuclei.Format, opts, path); err != nil {
		t.Fatal(err)
	}
	r := ingesttest.Parse(t, nuclei.Format, path, opts)
	first := ingesttest.Count(t, st)
	if first.Findings != len(r.Distinct()) || first.Scans != 1 {
		t.Errorf("after one ingest: %+v, want %d findings, 1 scan", first, len(r.Distinct()))
	}
	if _, err := ingesttest.Ingest(st, nuclei.Format, opts, path); err != nil {
		t.Fatal(err)
	}
	if again := ingesttest.Count(t, st); again.Findings != first.Findings {
		t.Errorf("after a second ingest: %+v, want %d findings", again, first.Findings)
	}
	// An empty run of the same target fixes everything.
	s, err := ingesttest.Ingest(st, nuclei.Format, opts, "testdata/no_findings.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1 || s[0].Fixed != first.Findings {
		t.Errorf("empty rescan = %+v, want %d fixed", s, first.Findings)
	}
}

func FuzzParse(f *testing.F) {
	ingesttest.Fuzz(f, nuclei.Format, "testdata/many_findings_new.json", "testdata/multiple_v3.json", "testdata/multi_cwe_fabricated.json", "testdata/invalid_cwe.json")
}
