package gitleaks_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/gitleaks"
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

// leaks decodes a report independently.
func leaks(t testing.TB, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc []map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestDetect(t *testing.T) {
	t.Parallel()
	ingesttest.CheckDetect(t, append(formats.All(), gitleaks.Format), gitleaks.Format, testdata(t), "../trivy/testdata/*.json", "../sarif/testdata/*.json")
	for _, head := range []string{`[]`, `{"RuleID": "x", "Secret": "y"}`, `[{"rule": {"id": "x"}, "secret": "y", "path": "a"}]`, `[{"Target": "x"}]`} {
		if gitleaks.Detect(ingest.SniffBytes([]byte(head))) {
			t.Errorf("Detect(%s) = true, want false", head)
		}
	}
}

func TestCounts(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t) {
		var warned bool
		r := ingesttest.Parse(t, gitleaks.Format, path, ingest.Options{Warnf: func(string, ...any) { warned = true }})
		if got, want := len(r.Findings), len(leaks(t, path)); got != want {
			t.Errorf("Parse(%s): %d findings, want %d", path, got, want)
		}
		if len(r.Scans) != 1 || !warned {
			t.Errorf("Parse(%s): %d scans, warned %v; want 1 scan and a warning", path, len(r.Scans), warned)
		}
		for _, f := range r.Findings {
			if f.Kind != model.FindingSecret || f.RuleID == "" || f.Title == "" || f.Location.Path == "" || f.SecretHash == "" {
				t.Errorf("Parse(%s): incomplete finding %+v", path, f)
			}
		}
	}
}

// TestNoSecrets checks that no secret, match or quoted line of a report
// survives in what the parser emits.
func TestNoSecrets(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t) {
		r := ingesttest.Parse(t, gitleaks.Format, path, ingest.Options{Target: "repo"})
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		for _, l := range leaks(t, path) {
			for _, k := range []string{"Secret", "Match", "Line", "offender", "line"} {
				v, _ := l[k].(string)
				if v == "" {
					continue
				}
				n++
				if strings.Contains(string(out), v) {
					t.Errorf("Parse(%s): the %s %q survives in the records", path, k, v)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no secrets to check", path)
		}
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, gitleaks.Format, "testdata/gitleaks8_many.json", ingest.Options{Target: "https://github.com/Org/App"})
	f := r.Findings[0]
	want := model.Location{Path: "/conf/aws.tf", Line: 2, Column: 24038, Component: "74d53286c550630f80847d37f68aa3065554ac813544072ccd1278da71fafe31"}
	if f.RuleID != "aws-access-token" || f.Title != "AWS" || f.Location != want || f.Asset != "repo:github.com/org/app" ||
		f.Severity != model.SeverityHigh || f.SecretHint != "…cret" {
		t.Errorf("Parse(gitleaks8_many.json)[0] = %+v, location %+v", f, f.Location)
	}
	// One secret in two commits: two findings with one hash.
	if g := r.Findings[1]; g.SecretHash != f.SecretHash || g.ID == f.ID {
		t.Errorf("same secret in two commits: hashes %s, %s; ids %s, %s", f.SecretHash, g.SecretHash, f.ID, g.ID)
	}

	r = ingesttest.Parse(t, gitleaks.Format, "testdata/data_one.json", ingest.Options{Target: "app"})
	f = r.Findings[0]
	if f.RuleID != "Asymmetric Private Key" || f.Location.Path != "cert-key.pem" || f.Location.Component != "9afb561b348d59eceb6dc82c0061fb07bee09f7b" ||
		!strings.Contains(f.Description, "Tags: key, AsymmetricPrivateKey") {
		t.Errorf("Parse(data_one.json)[0] = %+v", f)
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `[`, `{}`, `[1]`, `[{"RuleID": []}]`, `[] x`} {
		_, err := ingesttest.ParseBytes(gitleaks.Format, "bad.json", []byte(in), ingest.Options{Target: "x"})
		if _, ok := errors.AsType[*ingest.InputError](err); !ok {
			t.Errorf("Parse(%q) = %v, want an *ingest.InputError", in, err)
		}
	}
	r, err := ingesttest.ParseBytes(gitleaks.Format, "empty.json", []byte("[]\n"), ingest.Options{Target: "x"})
	if err != nil || len(r.Scans) != 1 || len(r.Findings) != 0 {
		t.Errorf("Parse([]) = %d scans, %d findings, %v; want 1, 0, nil", len(r.Scans), len(r.Findings), err)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, gitleaks.Format, "testdata/version_7.5.0.json")
	ingesttest.CheckMalformed(t, gitleaks.Format, "testdata/gitleaks8_many.json")
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	opts := ingest.Options{Target: "github.com/org/app"}
	path := "testdata/version_7.5.0.json"
	if _, err := ingesttest.Ingest(st, gitleaks.Format, opts, path); err != nil {
		t.Fatal(err)
	}
	first := ingesttest.Count(t, st)
	r := ingesttest.Parse(t, gitleaks.Format, path, opts)
	if got, want := first.Findings, len(r.Distinct()); got != want {
		t.Errorf("store holds %d findings, want %d", got, want)
	}
	if _, err := ingesttest.Ingest(st, gitleaks.Format, opts, path); err != nil {
		t.Fatal(err)
	}
	if again := ingesttest.Count(t, st); again.Findings != first.Findings {
		t.Errorf("second ingest: %d findings, want %d", again.Findings, first.Findings)
	}
}

func FuzzGitleaks(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	ingesttest.Fuzz(f, gitleaks.Format, files...)
}
