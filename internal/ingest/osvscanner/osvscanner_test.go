package osvscanner_test

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/osvscanner"
	"github.com/ctem-dev/ctem/internal/model"
)

func sniffFile(t testing.TB, path string) *ingest.Sniff {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	return ingest.SniffBytes(head[:n])
}

// reports are the testdata files with content; no_findings.json is empty.
var reports = []string{"testdata/many_findings.json", "testdata/multi_cwe_fabricated.json", "testdata/some_findings.json"}

var foreign = map[string]string{
	"trivy":   `{"SchemaVersion": 2, "ArtifactName": ".", "ArtifactType": "filesystem", "Results": [{"Target": "go.sum"}]}`,
	"sarif":   `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "osv-scanner"}}, "results": []}]}`,
	"semgrep": `{"results": [{"check_id": "x", "path": "a.go", "start": {"line": 1}}], "errors": []}`,
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := append(formats.All(), osvscanner.Format)
	for _, path := range reports {
		got, err := reg.Detect(sniffFile(t, path))
		if err != nil || got.Name != "osvscanner" {
			t.Errorf("Detect(%s) = %q, %v, want osvscanner", path, got.Name, err)
		}
	}
	for name, doc := range foreign {
		if osvscanner.Detect(ingest.SniffBytes([]byte(doc))) {
			t.Errorf("Detect(%s) = true, want false", name)
		}
	}
}

// report is an independent minimal decoding.
type report struct {
	Results []struct {
		Source struct {
			Path string `json:"path"`
		} `json:"source"`
		Packages []struct {
			Package struct {
				Name    string `json:"name"`
				Version string `json:"version"`
			} `json:"package"`
			Vulnerabilities []struct {
				ID string `json:"id"`
			} `json:"vulnerabilities"`
			Groups []struct {
				IDs []string `json:"ids"`
			} `json:"groups"`
		} `json:"packages"`
	} `json:"results"`
}

// want counts one finding per group, and one per record no group names.
func want(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, res := range r.Results {
		for _, p := range res.Packages {
			grouped := map[string]bool{}
			for _, g := range p.Groups {
				n++
				for _, id := range g.IDs {
					grouped[id] = true
				}
			}
			for _, v := range p.Vulnerabilities {
				if !grouped[v.ID] {
					n++
				}
			}
		}
	}
	return n
}

func TestCounts(t *testing.T) {
	t.Parallel()
	for _, path := range reports {
		rec := ingesttest.Parse(t, osvscanner.Format, path, ingest.Options{})
		if len(rec.Scans) != 1 {
			t.Errorf("Parse(%s) began %d scans, want 1", path, len(rec.Scans))
		}
		if got, want := len(rec.Findings), want(t, path); got != want || got == 0 {
			t.Errorf("Parse(%s) = %d findings, want %d", path, got, want)
		}
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	rec := ingesttest.Parse(t, osvscanner.Format, "testdata/many_findings.json", ingest.Options{})
	if got, want := rec.Scans[0].Target, "/"; got != want {
		t.Errorf("target = %q, want %q", got, want)
	}
	f := rec.Findings[0]
	if f.RuleID != "GHSA-25mq-v84q-4j7r" || f.VulnIDs[0] != "CVE-2022-31090" || f.Package.Name != "guzzlehttp/guzzle" || f.Package.Version != "6.3.3" ||
		f.Package.FixedVersion != "6.5.8, 7.4.5" || f.Package.PURL != "pkg:composer/guzzlehttp/guzzle@6.3.3" || f.Location.Path != "/tmpcardmarket-api/composer.lock" ||
		f.Pointer != "/results/0/packages/0/groups/0" || f.Title == "" {
		t.Errorf("finding 0 = %+v", f)
	}
	rec = ingesttest.Parse(t, osvscanner.Format, "testdata/some_findings.json", ingest.Options{})
	if s := rec.Scans[0]; s.Target != "/tmp/components" || s.Asset != "repo:tmp/components" {
		t.Errorf("scan = %+v, want the lockfile's directory", s)
	}
	if f := rec.Findings[0]; f.RuleID != "MAL-2023-1035" || len(f.CWEs) != 1 || f.CWEs[0] != "CWE-506" || f.VulnIDs[0] != "GHSA-8348-2q94-ffjx" {
		t.Errorf("malware finding = %+v", f)
	}
	rec = ingesttest.Parse(t, osvscanner.Format, "testdata/multi_cwe_fabricated.json", ingest.Options{Target: "https://github.com/Org/App.git"})
	if f := rec.Findings[0]; len(f.CWEs) != 2 || f.Asset != "repo:github.com/org/app" {
		t.Errorf("multi-cwe finding = %+v, want two CWEs on the --target repository", f)
	}
	var sev []model.Severity
	for _, f := range ingesttest.Parse(t, osvscanner.Format, "testdata/many_findings.json", ingest.Options{}).Findings {
		sev = append(sev, f.Severity)
	}
	known := 0
	for _, s := range sev {
		if s != model.SeverityUnknown {
			known++
		}
	}
	if known == 0 {
		t.Errorf("many_findings: no finding has a severity")
	}
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	var warned bool
	for _, doc := range []string{"testdata/no_findings.json"} {
		rec, err := ingesttest.TryParse(osvscanner.Format, doc, ingest.Options{Warnf: func(string, ...any) { warned = true }})
		if err != nil {
			t.Fatalf("Parse(%s) = %v, want an empty scan", doc, err)
		}
		if len(rec.Scans) != 1 || len(rec.Findings) != 0 || !warned {
			t.Errorf("Parse(%s) = %d scans, %d findings, warned %v; want 1, 0, true", doc, len(rec.Scans), len(rec.Findings), warned)
		}
	}
	rec, err := ingesttest.ParseBytes(osvscanner.Format, "e.json", []byte(`{"results": [], "experimental_config": {}}`), ingest.Options{Target: "repo"})
	if err != nil || len(rec.Scans) != 1 || rec.Scans[0].Target != "repo" {
		t.Errorf("Parse(empty results) = %+v, %v", rec, err)
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	path := "testdata/many_findings.json"
	rec := ingesttest.Parse(t, osvscanner.Format, path, ingest.Options{})
	for range 2 {
		if _, err := ingesttest.Ingest(st, osvscanner.Format, ingest.Options{Target: "/"}, path); err != nil {
			t.Fatal(err)
		}
		if got, want := ingesttest.Count(t, st).Findings, len(rec.Distinct()); got != want {
			t.Errorf("store holds %d findings, want %d", got, want)
		}
	}
	scans, err := ingesttest.Ingest(st, osvscanner.Format, ingest.Options{Target: "/"}, "testdata/no_findings.json")
	if err != nil {
		t.Fatal(err)
	}
	if scans[0].Fixed != len(rec.Distinct()) {
		t.Errorf("empty rescan fixed %d, want %d", scans[0].Fixed, len(rec.Distinct()))
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, osvscanner.Format, "testdata/many_findings.json")
	for _, doc := range []string{`[]`, `"x"`, `{"results": {}}`, `{} {}`, `}`} {
		if _, err := ingesttest.ParseBytes(osvscanner.Format, "bad.json", []byte(doc), ingest.Options{}); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", doc)
		}
	}
}

func FuzzOSVScanner(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	ingesttest.Fuzz(f, osvscanner.Format, files...)
}
