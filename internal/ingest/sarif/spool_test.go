package sarif_test

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
	"github.com/ctem-dev/ctem/internal/ingest/sarif"
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

// TestSpill parses a generated gosec-style log whose results, all before
// the run's tool, overflow a small spool limit into a temporary file; the
// rules of the tool still apply to them. Not parallel: it sets the limit
// and TMPDIR.
func TestSpill(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	sarif.SetSpoolLimit(t, 4<<10)
	const n = 400
	var b strings.Builder
	b.WriteString(`{"runs": [{"results": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"level": "error", "locations": [{"physicalLocation": {"artifactLocation": {"uri": "f%d.go"}, "region": {"startLine": %d}}}], "message": {"text": "Potential file inclusion via variable"}, "ruleId": "G304"}`, i, i+1)
	}
	b.WriteString(`], "tool": {"driver": {"name": "gosec", "rules": [{"id": "G304", "shortDescription": {"text": "File inclusion"}, "properties": {"tags": ["CWE-22"]}}]}}}], "version": "2.1.0"}`)

	src, err := ingest.NewSource("gen.sarif", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	sink := &spySink{Recorder: &ingesttest.Recorder{}, dir: dir}
	if err := sarif.Format.Parse(context.Background(), &ingest.Input{Name: "gen.sarif", R: src.Reader(), Options: ingest.Options{Target: "t"}}, sink); err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if !sink.spilled {
		t.Errorf("no spool file in TMPDIR while findings were emitted, want one past a 4 KiB limit")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("after Parse, TMPDIR holds %v, want nothing", left)
	}
	got := sink.Findings
	if len(got) != n {
		t.Fatalf("Parse = %d findings, want %d", len(got), n)
	}
	for i, f := range got {
		wantPtr, wantPath := fmt.Sprintf("/runs/0/results/%d", i), fmt.Sprintf("f%d.go", i)
		if f.Pointer != wantPtr || f.Location.Path != wantPath || f.Location.Line != i+1 || f.Title != "File inclusion" || len(f.CWEs) != 1 || f.CWEs[0] != "CWE-22" {
			t.Errorf("finding %d = %q at %s, %s:%d, CWEs %v, want %q at %s, %s:%d, CWE-22", i, f.Title, f.Pointer, f.Location.Path, f.Location.Line, f.CWEs, "File inclusion", wantPtr, wantPath, i+1)
		}
	}
}

// TestSpillKeepsFindings checks that every testdata file gives the same
// records whether its early results stay in memory or go to a file. Not
// parallel: it sets the spool limit.
func TestSpillKeepsFindings(t *testing.T) {
	files := sarifFiles(t)
	want := map[string]*ingesttest.Recorder{}
	for _, path := range files {
		want[path] = ingesttest.Parse(t, sarif.Format, path, ingest.Options{})
	}
	for _, limit := range []int{-1, 2000} {
		sarif.SetSpoolLimit(t, limit)
		for _, path := range files {
			got := ingesttest.Parse(t, sarif.Format, path, ingest.Options{})
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

// TestBadResult checks that a wrong type in the second result of a run
// whose results come before its tool, found when the spooled results are
// decoded, is reported at its own place in the file, and that nothing of
// the log is stored.
func TestBadResult(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/gh-app-auth-gosec.sarif")
	if err != nil {
		t.Fatal(err)
	}
	start, end := span(t, data, "runs", 0, "results", 1)
	loc := regexp.MustCompile(`"ruleId":\s*("[^"]*")`).FindSubmatchIndex(data[start:end])
	if loc == nil {
		t.Fatal("no ruleId in the second result")
	}
	at := start + int64(loc[2])
	bad := append(append(bytes.Clone(data[:at]), "12345"...), data[start+int64(loc[3]):]...)
	path := filepath.Join(t.TempDir(), "bad.sarif")
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}

	st := ingesttest.OpenStore(t)
	_, err = ingesttest.Ingest(st, sarif.Format, ingest.Options{Target: "t"}, path)
	ie, ok := errors.AsType[*ingest.InputError](err)
	if !ok {
		t.Fatalf("Ingest(bad.sarif) = %v, want an *ingest.InputError", err)
	}
	line, _ := ingest.LineCol(path, ie.Offset)
	wantLine := bytes.Count(bad[:at], []byte("\n")) + 1
	firstLine := bytes.Count(bad[:start], []byte("\n")) + 1
	const wantPtr = "/runs/0/results/1/ruleId"
	if ie.File != path || ie.Offset != at || line != wantLine || !strings.Contains(ie.Error(), wantPtr) {
		t.Errorf("Ingest(bad.sarif) = %v at offset %d, line %d, want %s at offset %d, line %d (in the result of line %d), pointer %s", err, ie.Offset, line, path, at, wantLine, firstLine, wantPtr)
	}
	if got := ingesttest.Count(t, st); got != (store.Counts{}) {
		t.Errorf("after the failed ingest the store holds %+v, want nothing", got)
	}
}
