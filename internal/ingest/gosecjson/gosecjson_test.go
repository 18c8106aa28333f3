package gosecjson_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/gosecjson"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
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

// modern is a report of a recent gosec: a version, numbered code excerpts,
// line ranges, columns and suppressions.
const modern = `{
	"Golang errors": {},
	"Issues": [
		{"severity": "HIGH", "confidence": "HIGH", "cwe": {"id": "78", "url": "https://cwe.mitre.org/data/definitions/78.html"},
		 "rule_id": "G204", "details": "Subprocess launched with variable", "file": "/src/app/run.go",
		 "code": "11: \t\"os/exec\"\n12: \tcmd := exec.Command(name,\n13: \t\targ)\n14: ", "line": "12-13", "column": "9", "nosec": false, "suppressions": null},
		{"severity": "MEDIUM", "confidence": "HIGH", "cwe": {"id": "22", "url": ""}, "rule_id": "G304", "details": "Potential file inclusion via variable",
		 "file": "/src/app/read.go", "code": "40: \tb, err := os.ReadFile(p)\n", "line": "40", "column": "12", "nosec": true,
		 "suppressions": [{"kind": "inSource", "justification": "path is validated"}]}
	],
	"Stats": {"files": 2, "lines": 100, "nosec": 1, "found": 2},
	"GosecVersion": "2.20.0"
}`

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := append(formats.All(), gosecjson.Format)
	for _, path := range testdata(t) {
		f, err := reg.Detect(ingesttest.SniffFile(t, path))
		if err != nil || f.Name != "gosec-json" {
			t.Errorf("Detect(%s) = %q, %v, want gosec-json", path, f.Name, err)
		}
	}
	if f, err := reg.Detect(ingest.SniffBytes([]byte(modern))); err != nil || f.Name != "gosec-json" {
		t.Errorf("Detect(modern) = %q, %v, want gosec-json", f.Name, err)
	}
	others, _ := filepath.Glob("../trivy/testdata/*.json")
	more, _ := filepath.Glob("../sarif/testdata/*.json")
	for _, path := range append(others, more...) {
		if gosecjson.Detect(ingesttest.SniffFile(t, path)) {
			t.Errorf("Detect(%s) = true, want false", path)
		}
	}
	for _, head := range []string{`{"Issues": []}`, `[]`, `{"results": []}`} {
		if gosecjson.Detect(ingest.SniffBytes([]byte(head))) {
			t.Errorf("Detect(%s) = true, want false", head)
		}
	}
}

func TestCounts(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Issues []any `json:"Issues"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		var warned bool
		r := ingesttest.Parse(t, gosecjson.Format, path, ingest.Options{Warnf: func(string, ...any) { warned = true }})
		if got, want := len(r.Findings), len(doc.Issues); got != want {
			t.Errorf("Parse(%s): %d findings, want %d", path, got, want)
		}
		if got := len(r.Distinct()); got != len(doc.Issues) {
			t.Errorf("Parse(%s): %d distinct findings, want %d", path, got, len(doc.Issues))
		}
		if len(r.Scans) != 1 || !warned {
			t.Errorf("Parse(%s): %d scans, warned %v; want 1 scan and a warning", path, len(r.Scans), warned)
		}
		for _, f := range r.Findings {
			if f.Title == "" || f.RuleID == "" || f.Location.Path == "" || f.Location.Line == 0 || f.Severity == model.SeverityUnknown || f.Location.Snippet == "" {
				t.Errorf("Parse(%s): incomplete finding %+v", path, f)
			}
		}
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, gosecjson.Format, "testdata/many_vulns.json", ingest.Options{Target: "github.com/org/govwa"})
	f := r.Findings[0]
	want := model.Location{Path: "/vagrant/go/src/govwa/app.go", Line: 79, Snippet: "s.ListenAndServe()"}
	if f.Kind != model.FindingCode || f.RuleID != "G104" || f.Severity != model.SeverityLow || f.Location != want ||
		!slices.Equal(f.CWEs, []string{"CWE-252"}) || f.Asset != "repo:github.com/org/govwa" || f.Title != "Errors unhandled." || f.Status != model.StatusOpen {
		t.Errorf("Parse(many_vulns.json)[0] = %+v", f)
	}

	r2, err := ingesttest.ParseBytes(gosecjson.Format, "modern.json", []byte(modern), ingest.Options{Target: "app"})
	if err != nil {
		t.Fatal(err)
	}
	f = r2.Findings[0]
	want = model.Location{Path: "/src/app/run.go", Line: 12, EndLine: 13, Column: 9, Snippet: "cmd := exec.Command(name,\n\t\targ)"}
	if f.Location != want || f.Severity != model.SeverityHigh || f.Status != model.StatusOpen {
		t.Errorf("Parse(modern)[0] = %+v, location %+v", f, f.Location)
	}
	f = r2.Findings[1]
	if f.Status != model.StatusAccepted || f.ToolStatus != "suppressed (nosec; inSource: path is validated)" {
		t.Errorf("Parse(modern)[1] status = %q %q, want accepted, suppressed", f.Status, f.ToolStatus)
	}
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	in := `{"Golang errors": {}, "Issues": [], "Stats": {"files": 3, "lines": 10, "nosec": 0, "found": 0}, "GosecVersion": "dev"}`
	r, err := ingesttest.ParseBytes(gosecjson.Format, "empty.json", []byte(in), ingest.Options{Target: "x"})
	if err != nil || len(r.Scans) != 1 || len(r.Findings) != 0 {
		t.Errorf("Parse(empty) = %d scans, %d findings, %v; want 1, 0, nil", len(r.Scans), len(r.Findings), err)
	}
	if !gosecjson.Detect(ingest.SniffBytes([]byte(in))) {
		t.Errorf("Detect(empty report) = false, want true")
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `{`, `[1]`, `{"Issues": {}}`, `{"Issues": [{"line": []}]}`, `{"Issues": []} x`} {
		_, err := ingesttest.ParseBytes(gosecjson.Format, "bad.json", []byte(in), ingest.Options{Target: "x"})
		if _, ok := errors.AsType[*ingest.InputError](err); !ok {
			t.Errorf("Parse(%q) = %v, want an *ingest.InputError", in, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, gosecjson.Format, "testdata/many_vulns.json")
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	opts := ingest.Options{Target: "github.com/org/app"}
	path := "testdata/many_vulns.json"
	if _, err := ingesttest.Ingest(st, gosecjson.Format, opts, path); err != nil {
		t.Fatal(err)
	}
	first := ingesttest.Count(t, st)
	if first.Findings != 28 || first.Scans != 1 {
		t.Errorf("store counts = %+v, want 28 findings in 1 scan", first)
	}
	if _, err := ingesttest.Ingest(st, gosecjson.Format, opts, path); err != nil {
		t.Fatal(err)
	}
	if again := ingesttest.Count(t, st); again.Findings != first.Findings {
		t.Errorf("second ingest: %d findings, want %d", again.Findings, first.Findings)
	}
}

func FuzzGosecJSON(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	ingesttest.Fuzz(f, gosecjson.Format, files...)
}
