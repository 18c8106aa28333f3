package semgrep_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/semgrep"
	"github.com/ctem-dev/ctem/internal/model"
)

func testdata(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	return files
}

func TestDetect(t *testing.T) {
	t.Parallel()
	ingesttest.CheckDetect(t, append(formats.All(), semgrep.Format), semgrep.Format, testdata(t), "../trivy/testdata/*.json", "../sarif/testdata/*.json")
	for _, head := range []string{`{"results": [], "errors": [], "metrics": {}, "generated_at": "x"}`, `[]`, `{"Issues": []}`} {
		if semgrep.Detect(ingest.SniffBytes([]byte(head))) {
			t.Errorf("Detect(%s) = true, want false", head)
		}
	}
}

// count decodes a report independently and counts its results and vulns.
func count(t testing.TB, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Results []any `json:"results"`
		Vulns   []any `json:"vulns"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return len(doc.Results) + len(doc.Vulns)
}

func TestCounts(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t) {
		var warned bool
		r := ingesttest.Parse(t, semgrep.Format, path, ingest.Options{Warnf: func(string, ...any) { warned = true }})
		if got, want := len(r.Findings), count(t, path); got != want {
			t.Errorf("Parse(%s): %d findings, want %d", path, got, want)
		}
		if len(r.Scans) != 1 {
			t.Fatalf("Parse(%s): %d scans, want 1", path, len(r.Scans))
		}
		if !warned {
			t.Errorf("Parse(%s) without --target gave no warning", path)
		}
		for _, f := range r.Findings {
			if f.Title == "" || f.RuleID == "" || f.Asset == "" || f.Severity == model.SeverityUnknown {
				t.Errorf("Parse(%s): incomplete finding %+v", path, f)
			}
		}
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, semgrep.Format, "testdata/cwe_list.json", ingest.Options{Target: "https://GitHub.com/Org/App.git"})
	if got, want := r.Scans[0].Asset, "repo:github.com/org/app"; got != want {
		t.Errorf("scan asset = %q, want %q", got, want)
	}
	f := r.Findings[0]
	if f.Kind != model.FindingCode || f.RuleID != "javascript.express.security.audit.express-check-csurf-middleware-usage.express-check-csurf-middleware-usage" ||
		f.Location.Path != "index.js" || f.Location.Line != 12 || f.Location.Column != 7 || f.Location.Snippet != "const app = express();" ||
		f.ToolFingerprint != "143cb0c62f3740d62180cbde3ffa976e" || f.Severity != model.SeverityInfo || f.ToolSeverity != "INFO" ||
		!slices.Equal(f.CWEs, []string{"CWE-352"}) || f.Asset != "repo:github.com/org/app" {
		t.Errorf("Parse(cwe_list.json) = %+v", f)
	}

	r = ingesttest.Parse(t, semgrep.Format, "testdata/fingerprint_test.json", ingest.Options{Target: "org/app"})
	for _, f := range r.Findings {
		if f.ToolFingerprint != "" || f.Location.Snippet != "" {
			t.Errorf("placeholder kept: fingerprint %q, snippet %q", f.ToolFingerprint, f.Location.Snippet)
		}
		if f.Asset != "repo:org/app" {
			t.Errorf("asset = %q, want repo:org/app", f.Asset)
		}
	}

	r = ingesttest.Parse(t, semgrep.Format, "testdata/multiple_cwes_fabricated.json", ingest.Options{Target: "x"})
	if len(r.Findings[0].CWEs) < 2 {
		t.Errorf("multiple CWEs: got %v", r.Findings[0].CWEs)
	}
}

func TestSupplyChain(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, semgrep.Format, "testdata/sca-deployments-vulns.json", ingest.Options{})
	f := r.Findings[0]
	if f.Kind != model.FindingVulnerability || !slices.Equal(f.VulnIDs, []string{"CVE-2023-1428", "GHSA-6628-q6j9-w8vg"}) ||
		f.Package.Name != "grpcio" || f.Package.Version != "1.47.0" || f.Package.FixedVersion != "1.53.0" ||
		f.Asset != "repo:example/rfv" || f.Location.Path != "requirements3.txt" || f.Location.Line != 222 ||
		f.Severity != model.SeverityHigh || !slices.Equal(f.CWEs, []string{"CWE-617"}) || f.RuleID != "ssc-82207871-bbda-49be-b1af-49fd927a2f93" {
		t.Errorf("Parse(sca)[0] = %+v", f)
	}
	repos := map[string]bool{}
	for _, a := range r.Assets {
		repos[a.Key] = true
	}
	if len(repos) != 22 {
		t.Errorf("repository assets = %d, want 22", len(repos))
	}
	if len(r.Facts) != 22 || r.Facts[0].Kind != model.EvidenceReachableCall || r.Facts[0].VulnID != "CVE-2023-1428" {
		t.Errorf("evidence = %d facts, first %+v", len(r.Facts), r.Facts)
	}
	var fixed int
	for _, f := range r.Findings {
		if f.Status == model.StatusFixed {
			fixed++
		}
	}
	if fixed != 1 {
		t.Errorf("closed vulns = %d, want 1", fixed)
	}
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, semgrep.Format, "testdata/empty.json", ingest.Options{Target: "org/app"})
	if len(r.Scans) != 1 || len(r.Findings) != 0 || r.Scans[0].Target != "org/app" {
		t.Errorf("Parse(empty.json) = %d scans %+v, %d findings; want 1 scan, 0 findings", len(r.Scans), r.Scans, len(r.Findings))
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `{`, `[1]`, `{"results": {}}`, `{"results": [{"check_id": 1}]}`, `{"results": []} x`} {
		_, err := ingesttest.ParseBytes(semgrep.Format, "bad.json", []byte(in), ingest.Options{Target: "x"})
		if _, ok := errors.AsType[*ingest.InputError](err); !ok {
			t.Errorf("Parse(%q) = %v, want an *ingest.InputError", in, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, semgrep.Format, "testdata/many_vulns.json")
	ingesttest.CheckMalformed(t, semgrep.Format, "testdata/sca-deployments-vulns.json")
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	opts := ingest.Options{Target: "github.com/org/app"}
	path := "testdata/many_vulns.json"
	if _, err := ingesttest.Ingest(st, semgrep.Format, opts, path); err != nil {
		t.Fatal(err)
	}
	first := ingesttest.Count(t, st)
	r := ingesttest.Parse(t, semgrep.Format, path, opts)
	if got, want := first.Findings, len(r.Distinct()); got != want {
		t.Errorf("store holds %d findings, want %d", got, want)
	}
	if _, err := ingesttest.Ingest(st, semgrep.Format, opts, path); err != nil {
		t.Fatal(err)
	}
	if again := ingesttest.Count(t, st); again.Findings != first.Findings {
		t.Errorf("second ingest: %d findings, want %d", again.Findings, first.Findings)
	}
}

func FuzzSemgrep(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	ingesttest.Fuzz(f, semgrep.Format, files...)
}
