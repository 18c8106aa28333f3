package osvscanner_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/osvscanner"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// spySink records, and notes whether a spool file existed in dir when
// the first finding arrived.
type spySink struct {
	*ingesttest.Recorder
	dir     string
	checked bool
	spilled bool
}

func (s *spySink) Finding(f *model.Finding) error {
	if !s.checked {
		s.checked = true
		files, _ := filepath.Glob(filepath.Join(s.dir, "ctem-spool-*"))
		s.spilled = len(files) > 0
	}
	return s.Recorder.Finding(f)
}

// TestSpill parses a generated report whose packages overflow a small
// spool limit into a temporary file. The second result names its source
// after its packages, which still get its path. Not parallel: it sets
// the limit and TMPDIR.
func TestSpill(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	osvscanner.SetSpoolLimit(t, 4<<10)
	const perResult = 150
	pkgs := func(b *strings.Builder, r int) {
		b.WriteString(`"packages": [`)
		for i := range perResult {
			if i > 0 {
				b.WriteString(",\n")
			}
			fmt.Fprintf(b, `{"package": {"name": "pkg%d-%d", "version": "1.0", "ecosystem": "npm"}, "vulnerabilities": [{"id": "GHSA-%d-%d", "summary": "s"}], "groups": [{"ids": ["GHSA-%d-%d"], "max_severity": "7.5"}]}`, r, i, r, i, r, i)
		}
		b.WriteString(`]`)
	}
	var b strings.Builder
	b.WriteString(`{"results": [{"source": {"path": "/src/app/a/package-lock.json", "type": "lockfile"}, `)
	pkgs(&b, 0)
	b.WriteString(`}, {`)
	pkgs(&b, 1)
	b.WriteString(`, "source": {"path": "/src/app/b/package-lock.json", "type": "lockfile"}}]}`)

	src, err := ingest.NewSource("gen.json", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	sink := &spySink{Recorder: &ingesttest.Recorder{}, dir: dir}
	if err := osvscanner.Format.Parse(context.Background(), &ingest.Input{Name: "gen.json", R: src.Reader()}, sink); err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if !sink.spilled {
		t.Errorf("no spool file in TMPDIR while findings were emitted, want one past a 4 KiB limit")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("after Parse, TMPDIR holds %v, want nothing", left)
	}
	if len(sink.Scans) != 1 || sink.Scans[0].Target != "/src/app" {
		t.Fatalf("scans = %+v, want one of /src/app", sink.Scans)
	}
	got := sink.Findings
	if len(got) != 2*perResult {
		t.Fatalf("Parse = %d findings, want %d", len(got), 2*perResult)
	}
	for i, f := range got {
		r, j := i/perResult, i%perResult
		wantID, wantPtr := fmt.Sprintf("GHSA-%d-%d", r, j), fmt.Sprintf("/results/%d/packages/%d/groups/0", r, j)
		wantPath := []string{"/src/app/a/package-lock.json", "/src/app/b/package-lock.json"}[r]
		if f.RuleID != wantID || f.Pointer != wantPtr || f.Location.Path != wantPath || f.Severity != model.SeverityHigh || f.Asset != sink.Scans[0].Asset {
			t.Errorf("finding %d = %s at %s, path %q, %s on %s, want %s at %s, path %q, high", i, f.RuleID, f.Pointer, f.Location.Path, f.Severity, f.Asset, wantID, wantPtr, wantPath)
		}
	}
}

// TestSpillKeepsFindings checks that every testdata file gives the same
// records whether its packages stay in memory or go to a file. Not
// parallel: it sets the spool limit.
func TestSpillKeepsFindings(t *testing.T) {
	want := map[string]*ingesttest.Recorder{}
	for _, path := range reports {
		want[path] = ingesttest.Parse(t, osvscanner.Format, path, ingest.Options{})
	}
	for _, limit := range []int{-1, 2000} {
		osvscanner.SetSpoolLimit(t, limit)
		for _, path := range reports {
			got := ingesttest.Parse(t, osvscanner.Format, path, ingest.Options{})
			if diff := cmp.Diff(got, want[path]); diff != "" {
				t.Errorf("Parse(%s) with a spool limit of %d (-got +want):\n%s", path, limit, diff)
			}
		}
	}
}

// span returns where the value at path (member names and array indexes)
// starts and ends in data.
func span(t testing.TB, data []byte, path ...any) (start, end int64) {
	t.Helper()
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	for _, step := range path {
		if _, err := dec.ReadToken(); err != nil {
			t.Fatal(err)
		}
		switch s := step.(type) {
		case string:
			for {
				name, err := dec.ReadToken()
				if err != nil {
					t.Fatalf("no member %q: %v", s, err)
				}
				if name.String() == s {
					break
				}
				if err := dec.SkipValue(); err != nil {
					t.Fatal(err)
				}
			}
		case int:
			for range s {
				if err := dec.SkipValue(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	v, err := dec.ReadValue()
	if err != nil {
		t.Fatal(err)
	}
	return dec.InputOffset() - int64(len(v)), dec.InputOffset()
}

// TestBadPackage checks that a wrong type in the second package, found
// when the spooled packages are decoded, is reported at its own place in
// the file, and that nothing of the report is stored.
func TestBadPackage(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/many_findings.json")
	if err != nil {
		t.Fatal(err)
	}
	start, end := span(t, data, "results", 0, "packages", 1)
	// The package's first "name" is its package's.
	loc := regexp.MustCompile(`"name":\s*("[^"]*")`).FindSubmatchIndex(data[start:end])
	if loc == nil {
		t.Fatal("no name in the second package")
	}
	at := start + int64(loc[2])
	bad := append(append(bytes.Clone(data[:at]), "12345"...), data[start+int64(loc[3]):]...)
	path := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}

	st := ingesttest.OpenStore(t)
	_, err = ingesttest.Ingest(st, osvscanner.Format, ingest.Options{}, path)
	ie, ok := errors.AsType[*ingest.InputError](err)
	if !ok {
		t.Fatalf("Ingest(bad.json) = %v, want an *ingest.InputError", err)
	}
	line, _ := ingest.LineCol(path, ie.Offset)
	wantLine := bytes.Count(bad[:at], []byte("\n")) + 1
	firstLine := bytes.Count(bad[:start], []byte("\n")) + 1
	const wantPtr = "/results/0/packages/1/package/name"
	if ie.File != path || ie.Offset != at || line != wantLine || !strings.Contains(ie.Error(), wantPtr) {
		t.Errorf("Ingest(bad.json) = %v at offset %d, line %d, want %s at offset %d, line %d (in the package of line %d), pointer %s", err, ie.Offset, line, path, at, wantLine, firstLine, wantPtr)
	}
	if got := ingesttest.Count(t, st); got != (store.Counts{}) {
		t.Errorf("after the failed ingest the store holds %+v, want nothing", got)
	}
}
