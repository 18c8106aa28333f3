package bandit_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/bandit"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
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

func TestDetect(t *testing.T) {
	t.Parallel()
	ingesttest.CheckDetect(t, append(formats.All(), bandit.Format), bandit.Format, testdata(t), "../trivy/testdata/*.json", "../sarif/testdata/*.json")
	for _, head := range []string{`{"results": [], "errors": []}`, `[]`, `{"results": [{"check_id": "x"}]}`} {
		if bandit.Detect(ingest.SniffBytes([]byte(head))) {
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
			Results []any `json:"results"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		var warned bool
		r := ingesttest.Parse(t, bandit.Format, path, ingest.Options{Warnf: func(string, ...any) { warned = true }})
		if got, want := len(r.Findings), len(doc.Results); got != want {
			t.Errorf("Parse(%s): %d findings, want %d", path, got, want)
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
	r := ingesttest.Parse(t, bandit.Format, "testdata/one_vuln.json", ingest.Options{Target: "github.com/Org/App"})
	f := r.Findings[0]
	want := model.Location{Path: "one/one.py", Line: 2, Snippet: "assert False"}
	if f.Kind != model.FindingCode || f.RuleID != "B101" || f.Severity != model.SeverityLow || f.ToolSeverity != "LOW" ||
		f.Location != want || f.Asset != "repo:github.com/org/app" || f.Title != "Use of assert detected. The enclosed code will be removed when compiling to optimised byte code." {
		t.Errorf("Parse(one_vuln.json) = %+v, location %+v", f, f.Location)
	}
	r = ingesttest.Parse(t, bandit.Format, "testdata/dd.json", ingest.Options{Target: "dd"})
	var cwe bool
	for _, f := range r.Findings {
		if len(f.CWEs) > 0 {
			cwe = true
		}
	}
	_ = cwe // dd.json predates issue_cwe; CWEs are checked in TestCWE.
}

func TestCWE(t *testing.T) {
	t.Parallel()
	in := `{"errors": [], "generated_at": "2024-01-01T00:00:00Z", "metrics": {"_totals": {}}, "results": [
{"code": "4 import subprocess\n5 subprocess.call(x, shell=True)\n6 \n", "col_offset": 0, "filename": "a.py", "issue_confidence": "HIGH",
 "issue_cwe": {"id": 78, "link": "https://cwe.mitre.org/data/definitions/78.html"}, "issue_severity": "HIGH", "issue_text": "shell", "line_number": 5,
 "line_range": [5], "more_info": "", "test_id": "B602", "test_name": "subprocess_popen_with_shell_equals_true"}]}`
	r, err := ingesttest.ParseBytes(bandit.Format, "x.json", []byte(in), ingest.Options{Target: "x"})
	if err != nil {
		t.Fatal(err)
	}
	f := r.Findings[0]
	if !slices.Equal(f.CWEs, []string{"CWE-78"}) || f.Location.Snippet != "subprocess.call(x, shell=True)" || f.Location.Column != 1 || f.Severity != model.SeverityHigh {
		t.Errorf("Parse = %+v", f)
	}
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	in := `{"errors": [], "generated_at": "2024-01-01T00:00:00Z", "metrics": {"_totals": {"loc": 0}}, "results": []}`
	r, err := ingesttest.ParseBytes(bandit.Format, "empty.json", []byte(in), ingest.Options{Target: "x"})
	if err != nil || len(r.Scans) != 1 || len(r.Findings) != 0 {
		t.Errorf("Parse(empty) = %d scans, %d findings, %v; want 1, 0, nil", len(r.Scans), len(r.Findings), err)
	}
	if !bandit.Detect(ingest.SniffBytes([]byte(in))) {
		t.Errorf("Detect(empty report) = false, want true")
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `{`, `[1]`, `{"results": {}}`, `{"results": [{"line_number": {}}]}`, `{"results": []} x`} {
		_, err := ingesttest.ParseBytes(bandit.Format, "bad.json", []byte(in), ingest.Options{Target: "x"})
		if _, ok := errors.AsType[*ingest.InputError](err); !ok {
			t.Errorf("Parse(%q) = %v, want an *ingest.InputError", in, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, bandit.Format, "testdata/dd.json")
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	opts := ingest.Options{Target: "github.com/org/app"}
	path := "testdata/dd.json"
	if _, err := ingesttest.Ingest(st, bandit.Format, opts, path); err != nil {
		t.Fatal(err)
	}
	first := ingesttest.Count(t, st)
	r := ingesttest.Parse(t, bandit.Format, path, opts)
	if got, want := first.Findings, len(r.Distinct()); got != want || want != len(r.Findings) {
		t.Errorf("store holds %d findings, want %d (of %d items)", got, want, len(r.Findings))
	}
	if _, err := ingesttest.Ingest(st, bandit.Format, opts, path); err != nil {
		t.Fatal(err)
	}
	if again := ingesttest.Count(t, st); again.Findings != first.Findings {
		t.Errorf("second ingest: %d findings, want %d", again.Findings, first.Findings)
	}
}

func FuzzBandit(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	ingesttest.Fuzz(f, bandit.Format, files...)
}
