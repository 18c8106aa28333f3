package npmaudit_test

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/npmaudit"
	"github.com/ctem-dev/ctem/internal/model"
)

func testdata(t testing.TB) []string {
	t.Helper()
	a, _ := filepath.Glob("testdata/*.json")
	b, _ := filepath.Glob("testdata/v7/*.json")
	files := append(a, b...)
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	return files
}

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

var foreign = map[string]string{
	"trivy":     `{"SchemaVersion": 2, "ArtifactName": ".", "ArtifactType": "filesystem", "Results": [{"Target": "package-lock.json"}]}`,
	"sarif":     `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "npm"}}, "results": []}]}`,
	"yarn":      `{"type":"auditAdvisory","data":{"resolution":{"id":1}}}`,
	"api-error": `{"error": {"code": "NotFound", "message": "no"}}`,
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := append(formats.All(), npmaudit.Format)
	for _, path := range testdata(t) {
		got, err := reg.Detect(sniffFile(t, path))
		if err != nil || got.Name != "npmaudit" {
			t.Errorf("Detect(%s) = %q, %v, want npmaudit", path, got.Name, err)
		}
	}
	for name, doc := range foreign {
		if npmaudit.Detect(ingest.SniffBytes([]byte(doc))) {
			t.Errorf("Detect(%s) = true, want false", name)
		}
	}
}

// report is an independent minimal decoding of both shapes.
type report struct {
	Error      json.RawMessage `json:"error"`
	Advisories map[string]struct {
		ModuleName string `json:"module_name"`
		Severity   string `json:"severity"`
		Findings   []struct {
			Version string `json:"version"`
		} `json:"findings"`
	} `json:"advisories"`
	Vulnerabilities map[string]struct {
		Via []json.RawMessage `json:"via"`
	} `json:"vulnerabilities"`
}

func decode(t testing.TB, path string) (report, int) {
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
	for _, a := range r.Advisories {
		n += len(a.Findings)
	}
	for _, v := range r.Vulnerabilities {
		for _, via := range v.Via {
			if strings.HasPrefix(string(via), "{") {
				n++
			}
		}
	}
	return r, n
}

func TestCounts(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t) {
		t.Run(strings.ReplaceAll(path, "/", "_"), func(t *testing.T) {
			t.Parallel()
			r, want := decode(t, path)
			rec, err := ingesttest.TryParse(npmaudit.Format, path, ingest.Options{Target: "github.com/org/app"})
			if r.Error != nil {
				if _, ok := errors.AsType[*ingest.InputError](err); !ok || len(rec.Scans) != 0 {
					t.Errorf("Parse(%s) = %v with %d scans, want an input error and no scan", path, err, len(rec.Scans))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Scans) != 1 || rec.Scans[0].Asset != "repo:github.com/org/app" {
				t.Errorf("Parse(%s) scans = %+v, want one of the --target repository", path, rec.Scans)
			}
			if got := len(rec.Findings); got != want {
				t.Errorf("Parse(%s) = %d findings, want %d", path, got, want)
			}
			for _, f := range rec.Findings {
				if f.Package.Name == "" || f.RuleID == "" || f.Severity == model.SeverityUnknown {
					t.Errorf("finding %s = %+v, want a package, rule and severity", f.Pointer, f)
				}
			}
		})
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	rec := ingesttest.Parse(t, npmaudit.Format, "testdata/many_vuln.json", ingest.Options{Target: "app"})
	var f *model.Finding
	for _, g := range rec.Findings {
		if g.Package.Name == "negotiator" {
			f = g
		}
	}
	if f == nil || f.RuleID != "NPM-106" || f.VulnIDs[0] != "CVE-2016-10539" || f.Package.Version != "0.5.3" || f.Package.FixedVersion != ">= 0.6.1" ||
		f.Severity != model.SeverityHigh || len(f.CWEs) != 1 || f.CWEs[0] != "CWE-400" || f.Package.PURL != "pkg:npm/negotiator@0.5.3" || f.Pointer != "/advisories/106/findings/0" {
		t.Errorf("negotiator finding = %+v", f)
	}

	rec = ingesttest.Parse(t, npmaudit.Format, "testdata/v7/one_vuln.json", ingest.Options{Target: "app"})
	if len(rec.Findings) != 2 {
		t.Fatalf("one_vuln: %d findings, want 2 (the string via is no advisory)", len(rec.Findings))
	}
	f = rec.Findings[1]
	if f.RuleID != "GHSA-9vvw-cc9w-f27h" || f.Severity != model.SeverityHigh || f.ToolSeverity != "high" || f.CWEs[0] != "CWE-1333" ||
		len(f.CVSS) != 1 || f.CVSS[0].Score != 7.5 || f.Package.Name != "debug" || f.Pointer != "/vulnerabilities/debug/via/1" {
		t.Errorf("debug finding = %+v", f)
	}

	rec = ingesttest.Parse(t, npmaudit.Format, "testdata/multiple_cwes2.json", ingest.Options{Target: "app"})
	multi := false
	for _, f := range rec.Findings {
		multi = multi || len(f.CWEs) > 1
	}
	if !multi {
		t.Errorf("multiple_cwes2: no finding with several CWEs")
	}
}

func TestNoTarget(t *testing.T) {
	t.Parallel()
	var warnings []string
	rec, err := ingesttest.TryParse(npmaudit.Format, "testdata/v7/no_vuln.json", ingest.Options{Warnf: func(f string, a ...any) { warnings = append(warnings, f) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Scans) != 1 || len(rec.Findings) != 0 || len(warnings) != 1 {
		t.Errorf("Parse(no_vuln) = %d scans, %d findings, %d warnings; want 1, 0, 1", len(rec.Scans), len(rec.Findings), len(warnings))
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	opts := ingest.Options{Target: "github.com/org/app"}
	path := "testdata/multiple_cwes.json"
	rec := ingesttest.Parse(t, npmaudit.Format, path, opts)
	for range 2 {
		if _, err := ingesttest.Ingest(st, npmaudit.Format, opts, path); err != nil {
			t.Fatal(err)
		}
		if got, want := ingesttest.Count(t, st).Findings, len(rec.Distinct()); got != want {
			t.Errorf("store holds %d findings, want %d", got, want)
		}
	}
	before := ingesttest.Count(t, st)
	if _, err := ingesttest.Ingest(st, npmaudit.Format, opts, "testdata/empty_with_error.json"); err == nil {
		t.Errorf("ingest of an npm error = nil, want an error")
	}
	if after := ingesttest.Count(t, st); after != before {
		t.Errorf("failed ingest changed counts from %+v to %+v", before, after)
	}
	scans, err := ingesttest.Ingest(st, npmaudit.Format, opts, "testdata/no_vuln.json")
	if err != nil {
		t.Fatal(err)
	}
	if scans[0].Fixed != len(rec.Distinct()) {
		t.Errorf("empty rescan fixed %d, want %d", scans[0].Fixed, len(rec.Distinct()))
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, npmaudit.Format, "testdata/multiple_cwes2.json")
	ingesttest.CheckMalformed(t, npmaudit.Format, "testdata/v7/many_vulns.json")
	for _, doc := range []string{``, `[]`, `{"auditReportVersion": 3, "vulnerabilities": {}}`, `{"vulnerabilities": []}`, `{} {}`} {
		if _, err := ingesttest.ParseBytes(npmaudit.Format, "bad.json", []byte(doc), ingest.Options{}); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", doc)
		}
	}
}

func FuzzNPMAudit(f *testing.F) {
	a, _ := filepath.Glob("testdata/*.json")
	b, _ := filepath.Glob("testdata/v7/*.json")
	ingesttest.Fuzz(f, npmaudit.Format, append(a, b...)...)
}
