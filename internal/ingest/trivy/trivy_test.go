package trivy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
)

// countItems counts, independently of the parser, the items a Trivy report
// holds: vulnerabilities, failed or excepted misconfigurations, secrets,
// licences and suppressed findings, in every result of every shape.
func countItems(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	countResults := func(results []any) int {
		n := 0
		for _, r := range results {
			rm, _ := r.(map[string]any)
			for _, k := range []string{"Vulnerabilities", "Secrets", "Licenses", "ModifiedFindings"} {
				if xs, ok := rm[k].([]any); ok {
					n += len(xs)
				}
			}
			if xs, ok := rm["Misconfigurations"].([]any); ok {
				for _, x := range xs {
					if x.(map[string]any)["Status"] != "PASS" {
						n++
					}
				}
			}
		}
		return n
	}
	switch d := doc.(type) {
	case []any:
		return countResults(d)
	case map[string]any:
		if rs, ok := d["Results"].([]any); ok {
			return countResults(rs)
		}
		n := 0
		for _, k := range []string{"Resources", "Vulnerabilities", "Misconfigurations"} {
			if res, ok := d[k].([]any); ok {
				for _, r := range res {
					if rs, ok := r.(map[string]any)["Results"].([]any); ok {
						n += countResults(rs)
					}
				}
			}
		}
		return n
	}
	t.Fatalf("%s: unexpected JSON", path)
	return 0
}

func TestParseCountsEveryItem(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) < 10 {
		t.Fatalf("testdata: %v, %d files", err, len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			r := ingesttest.Parse(t, trivy.Format, path, ingest.Options{Target: "fallback"})
			if got, want := len(r.Findings), countItems(t, path); got != want {
				t.Errorf("Parse(%s) emitted %d findings, the file holds %d items", path, got, want)
			}
			if got, want := len(r.Distinct()), len(r.Findings); got != want {
				t.Errorf("Parse(%s): %d distinct finding ids among %d findings; items must not collide", path, got, want)
			}
			if len(r.Scans) != 1 {
				t.Errorf("Parse(%s) began %d scans, want 1", path, len(r.Scans))
			}
			for _, f := range r.Findings {
				if f.Asset == "" || f.ID == "" || f.Title == "" {
					t.Errorf("finding without asset, id or title: %+v", f)
				}
			}
		})
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := formats.All()
	files, _ := filepath.Glob("testdata/*.json")
	for _, path := range files {
		src, err := ingest.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		f, err := reg.Detect(src.Sniff())
		src.Close()
		if err != nil || f.Name != "trivy" {
			t.Errorf("Detect(%s) = %q, %v; want trivy", path, f.Name, err)
		}
	}
}

func find(fs []*model.Finding, pred func(*model.Finding) bool) *model.Finding {
	for _, f := range fs {
		if pred(f) {
			return f
		}
	}
	return nil
}

func TestImageReport(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, trivy.Format, "testdata/alpine-310.json", ingest.Options{})
	s := r.Scans[0]
	if s.Target != "image:ghcr.io/aquasecurity/trivy-test-images:alpine-310" || s.Tool != "trivy" || s.ToolVersion != "dev" {
		t.Errorf("scan = %+v", s)
	}
	f := find(r.Findings, func(f *model.Finding) bool {
		return f.RuleID == "CVE-2019-1549" && f.Package.Name == "libcrypto1.1"
	})
	if f == nil {
		t.Fatal("CVE-2019-1549 in libcrypto1.1 not found")
	}
	want := model.Package{Name: "libcrypto1.1", Version: "1.1.1c-r0", FixedVersion: "1.1.1d-r0", PURL: "pkg:apk/alpine/libcrypto1.1@1.1.1c-r0?arch=x86_64&distro=3.10.2"}
	if f.Package != want {
		t.Errorf("package = %+v, want %+v", f.Package, want)
	}
	if f.Severity != model.SeverityMedium || f.ToolSeverity != "MEDIUM" {
		t.Errorf("severity = %s (%s), want medium (MEDIUM)", f.Severity, f.ToolSeverity)
	}
	if !slices.Equal(f.CWEs, []string{"CWE-330"}) || f.VulnIDs[0] != "CVE-2019-1549" {
		t.Errorf("ids = %v %v", f.VulnIDs, f.CWEs)
	}
	if f.Asset != "image:ghcr.io/aquasecurity/trivy-test-images:alpine-310" || f.Kind != model.FindingVulnerability {
		t.Errorf("asset, kind = %s, %s", f.Asset, f.Kind)
	}
	if len(f.CVSS) != 3 || f.CVSS[0].Source != "nvd" || !strings.HasPrefix(f.CVSS[0].Vector, "CVSS:3.1/") {
		t.Errorf("cvss = %+v", f.CVSS)
	}
	if f.Pointer != "/Results/0/Vulnerabilities/0" {
		t.Errorf("pointer = %q", f.Pointer)
	}
}

func TestDigestWinsOverTag(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, trivy.Format, "testdata/license_scheme.json", ingest.Options{})
	if got := r.Scans[0].Asset; got != "image:docker.io/library/alpine@sha256:bcae378eacedab83da66079d9366c8f5df542d7ed9ab23bf487e3e1a8481375d" {
		t.Errorf("asset = %s", got)
	}
	if got := r.Scans[0].Target; got != "image:docker.io/library/alpine:3.11" {
		t.Errorf("target = %s", got)
	}
	for _, f := range r.Findings {
		if f.Kind != model.FindingLicense || f.Severity != model.SeverityInfo {
			t.Errorf("licence finding %s: kind %s severity %s, want license, info", f.RuleID, f.Kind, f.Severity)
		}
	}
}

func TestStatuses(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, trivy.Format, "testdata/all_statuses.json", ingest.Options{})
	var notAffected, open int
	for _, f := range r.Findings {
		switch f.Status {
		case model.StatusNotAffected:
			notAffected++
		case model.StatusOpen:
			open++
		}
	}
	if notAffected == 0 || open == 0 {
		t.Errorf("not_affected %d, open %d; want both", notAffected, open)
	}
	if f := find(r.Findings, func(f *model.Finding) bool { return f.ToolStatus == "will_not_fix" }); f == nil {
		t.Error("no finding keeps the tool status will_not_fix")
	}
}

func TestKubernetesReport(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, trivy.Format, "testdata/kubernetes.json", ingest.Options{})
	const cluster = "arn:aws:eks:us-east-1:576036489467:cluster/monitoring-test-cluster"
	if r.Scans[0].Target != "cluster:"+cluster {
		t.Errorf("target = %s", r.Scans[0].Target)
	}
	workload := model.K8sKey(cluster, "default", "Deployment", "redis-follower")
	img := "image:gcr.io/google_samples/gb-redis-follower:v2"
	if !slices.Contains(r.Relations, model.Relation{From: workload, To: img, Type: model.RelRuns, Source: "trivy"}) {
		t.Errorf("no runs relation %s -> %s in %v", workload, img, r.Relations)
	}
	var vulns, misconf int
	for _, f := range r.Findings {
		switch f.Kind {
		case model.FindingVulnerability:
			vulns++
			if !strings.HasPrefix(f.Asset, "image:") {
				t.Errorf("vulnerability on %s, want an image", f.Asset)
			}
		case model.FindingMisconfig:
			misconf++
			if !strings.HasPrefix(f.Asset, "k8s:") {
				t.Errorf("misconfiguration on %s, want a k8s object", f.Asset)
			}
		}
	}
	if vulns == 0 || misconf == 0 {
		t.Errorf("vulns %d misconfigurations %d", vulns, misconf)
	}
	if model.KindOfKey(workload) != model.KindWorkload {
		t.Errorf("KindOfKey(%s) = %s", workload, model.KindOfKey(workload))
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, trivy.Format, "testdata/secrets.json", ingest.Options{})
	if len(r.Findings) == 0 {
		t.Fatal("no secret findings")
	}
	for _, f := range r.Findings {
		if f.Kind != model.FindingSecret || f.SecretHash == "" {
			t.Errorf("secret finding %+v: want kind secret and a hash", f)
		}
	}
	// The raw matches of the report never reach a finding.
	data, _ := os.ReadFile("testdata/secrets.json")
	var doc struct {
		Results []struct {
			Secrets []struct{ Match string }
		}
	}
	json.Unmarshal(data, &doc)
	out, _ := json.Marshal(r.Findings)
	for _, res := range doc.Results {
		for _, s := range res.Secrets {
			if s.Match != "" && strings.Contains(string(out), s.Match) {
				t.Errorf("secret match %q stored", s.Match)
			}
		}
	}
}

func TestTargetFallback(t *testing.T) {
	t.Parallel()
	var warnings []string
	r := ingesttest.Parse(t, trivy.Format, "testdata/misconfigurations_and_secrets.json", ingest.Options{Warnf: func(f string, a ...any) { warnings = append(warnings, f) }})
	if len(warnings) == 0 {
		t.Error("a report scanning \".\" should warn that it names no target")
	}
	if got, want := r.Scans[0].Asset, model.FileKey("."); got != want {
		t.Errorf("asset without --target = %s, want %s", got, want)
	}
	r = ingesttest.Parse(t, trivy.Format, "testdata/misconfigurations_and_secrets.json", ingest.Options{Target: "https://github.com/Acme/Shop.git"})
	if got := r.Scans[0].Asset; got != "repo:github.com/acme/shop" {
		t.Errorf("asset = %s, want repo:github.com/acme/shop", got)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, trivy.Format, "testdata/scheme_2_many_vulns.json")
	ingesttest.CheckMalformed(t, trivy.Format, "testdata/legacy_trivy_mix.json")
	ingesttest.CheckMalformed(t, trivy.Format, "testdata/kubernetes.json")
}

func TestRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`{"SchemaVersion": 3, "Results": []}`, `{"SchemaVersion": 2, "Results": {}}`, `{"SchemaVersion": 2, "Results": [{"Vulnerabilities": [1]}]}`, `{"SchemaVersion":2}{}`, `"x"`} {
		_, err := ingesttest.ParseBytes(trivy.Format, "bad.json", []byte(in), ingest.Options{Target: "t"})
		if _, ok := err.(*ingest.InputError); !ok {
			t.Errorf("Parse(%s) = %v (%T), want an *ingest.InputError", in, err, err)
		}
	}
}

func TestIngestTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	for i := range 2 {
		scans, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, "testdata/scheme_2_many_vulns.json")
		if err != nil {
			t.Fatal(err)
		}
		c := ingesttest.Count(t, st)
		if want := countItems(t, "testdata/scheme_2_many_vulns.json"); c.Findings != want {
			t.Errorf("ingest %d: %d findings stored, want %d", i+1, c.Findings, want)
		}
		if i == 1 && (scans[0].New != 0 || scans[0].Fixed != 0 || scans[0].Reopened != 0) {
			t.Errorf("identical reimport: %+v, want nothing new, fixed or reopened", scans[0])
		}
	}
}

func FuzzTrivy(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.json")
	ingesttest.Fuzz(f, trivy.Format, seeds...)
}
