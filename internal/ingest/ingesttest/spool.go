package ingesttest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// SpillSink is a Recorder that notes whether a spool file (see
// ingest.Spool) existed in Dir when the first finding arrived.
type SpillSink struct {
	*Recorder
	Dir     string
	checked bool
	Spilled bool
}

// Finding records f, and on the first finding looks for a spool file.
func (s *SpillSink) Finding(f *model.Finding) error {
	if !s.checked {
		s.checked = true
		files, _ := filepath.Glob(filepath.Join(s.Dir, "ctem-spool-*"))
		s.Spilled = len(files) > 0
	}
	return s.Recorder.Finding(f)
}

// CheckSpillKeepsRecords checks that every file gives the same records
// whether a parser's spooled items stay in memory or go to a file:
// setLimit sets the parser's spool limit (-1 sends everything to the
// file). Not for parallel tests, since the limit is the package's.
func CheckSpillKeepsRecords(t *testing.T, f ingest.Format, opts ingest.Options, files []string, setLimit func(testing.TB, int)) {
	t.Helper()
	want := map[string]*Recorder{}
	for _, path := range files {
		want[path] = Parse(t, f, path, opts)
	}
	for _, limit := range []int{-1, 2000} {
		setLimit(t, limit)
		for _, path := range files {
			got := Parse(t, f, path, opts)
			if diff := cmp.Diff(got, want[path]); diff != "" {
				t.Errorf("Parse(%s) with a spool limit of %d (-got +want):\n%s", path, limit, diff)
			}
		}
	}
}

// Span returns where the value at path (member names and array indexes)
// starts and ends in the JSON data.
func Span(t testing.TB, data []byte, path ...any) (start, end int64) {
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

// CheckBadItem makes a copy of the real report src in which the first
// string member named member inside the item at item (see Span) is a
// number, ingests it into a real store and checks that it fails with an
// *ingest.InputError at that value, whose message holds wantPointer, and
// that nothing of the report is stored. It is the test of an item a
// parser spooled and decoded later, whose error must still name its own
// place in the file.
func CheckBadItem(t *testing.T, f ingest.Format, opts ingest.Options, src string, item []any, member, wantPointer string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	start, end := Span(t, data, item...)
	loc := regexp.MustCompile(`"` + regexp.QuoteMeta(member) + `":\s*("[^"]*")`).FindSubmatchIndex(data[start:end])
	if loc == nil {
		t.Fatalf("no %q in the item at %v of %s", member, item, src)
	}
	at := start + int64(loc[2])
	bad := append(append(bytes.Clone(data[:at]), "12345"...), data[start+int64(loc[3]):]...)
	path := filepath.Join(t.TempDir(), "bad"+filepath.Ext(src))
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	st := OpenStore(t)
	_, err = Ingest(st, f, opts, path)
	ie, ok := errors.AsType[*ingest.InputError](err)
	if !ok {
		t.Fatalf("Ingest(%s) = %v, want an *ingest.InputError", path, err)
	}
	line, _ := ingest.LineCol(path, ie.Offset)
	wantLine := bytes.Count(bad[:at], []byte("\n")) + 1
	if ie.File != path || ie.Offset != at || line != wantLine || !strings.Contains(ie.Error(), wantPointer) {
		t.Errorf("Ingest(%s) = %v at offset %d, line %d; want offset %d, line %d, pointer %s", path, err, ie.Offset, line, at, wantLine, wantPointer)
	}
	if got := Count(t, st); got != (store.Counts{}) {
		t.Errorf("after the failed ingest the store holds %+v, want nothing", got)
	}
}
