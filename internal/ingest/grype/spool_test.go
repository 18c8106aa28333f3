package grype_test

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
	"github.com/ctem-dev/ctem/internal/ingest/grype"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
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

// TestSpill parses a generated report whose matches overflow a small
// spool limit into a temporary file. Not parallel: it sets the limit and
// TMPDIR.
func TestSpill(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	grype.SetSpoolLimit(t, 4<<10)
	const matches, ignored = 400, 50
	var b strings.Builder
	b.WriteString(`{"matches": [`)
	for i := range matches {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"vulnerability": {"id": "CVE-2024-%d", "severity": "High"}, "artifact": {"name": "pkg%d", "version": "1.0"}, "matchDetails": []}`, i, i)
	}
	b.WriteString("],\n\"ignoredMatches\": [")
	for i := range ignored {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"vulnerability": {"id": "CVE-2023-%d", "severity": "Low"}, "artifact": {"name": "lib%d", "version": "2.0"}, "appliedIgnoreRules": [{"vex-status": "not_affected"}]}`, i, i)
	}
	b.WriteString(`], "source": {"type": "directory", "target": "/src/app"}, "descriptor": {"name": "grype", "version": "0.80.0"}}`)

	src, err := ingest.NewSource("gen.json", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	sink := &spySink{Recorder: &ingesttest.Recorder{}, dir: dir}
	if err := grype.Format.Parse(context.Background(), &ingest.Input{Name: "gen.json", R: src.Reader()}, sink); err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if !sink.spilled {
		t.Errorf("no spool file in TMPDIR while findings were emitted, want one past a 4 KiB limit")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("after Parse, TMPDIR holds %v, want nothing", left)
	}
	got := sink.Findings
	if len(got) != matches+ignored {
		t.Fatalf("Parse = %d findings, want %d", len(got), matches+ignored)
	}
	for i, f := range got {
		wantID, wantPtr, wantStatus := fmt.Sprintf("CVE-2024-%d", i), fmt.Sprintf("/matches/%d", i), model.StatusOpen
		if i >= matches {
			wantID, wantPtr, wantStatus = fmt.Sprintf("CVE-2023-%d", i-matches), fmt.Sprintf("/ignoredMatches/%d", i-matches), model.StatusNotAffected
		}
		if f.RuleID != wantID || f.Pointer != wantPtr || f.Status != wantStatus || f.Asset != "repo:src/app" {
			t.Errorf("finding %d = %s at %s, %s on %s, want %s at %s, %s on repo:src/app", i, f.RuleID, f.Pointer, f.Status, f.Asset, wantID, wantPtr, wantStatus)
		}
	}
}

// TestSpillKeepsFindings checks that every testdata file gives the same
// records whether its matches stay in memory or go to a file. Not
// parallel: it sets the spool limit.
func TestSpillKeepsFindings(t *testing.T) {
	files := testdata(t)
	want := map[string]*ingesttest.Recorder{}
	for _, path := range files {
		want[path] = ingesttest.Parse(t, grype.Format, path, ingest.Options{})
	}
	for _, limit := range []int{-1, 2000} {
		grype.SetSpoolLimit(t, limit)
		for _, path := range files {
			got := ingesttest.Parse(t, grype.Format, path, ingest.Options{})
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

// TestBadMatch checks that a wrong type in the second match, found when
// the spooled matches are decoded, is reported at its own place in the
// file, and that nothing of the report is stored.
func TestBadMatch(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/check_all_fields.json")
	if err != nil {
		t.Fatal(err)
	}
	start, end := span(t, data, "matches", 1)
	// The match's first "id" (its vulnerability's) becomes a number.
	loc := regexp.MustCompile(`"id":\s*("[^"]*")`).FindSubmatchIndex(data[start:end])
	if loc == nil {
		t.Fatal("no id in the second match")
	}
	at := start + int64(loc[2])
	bad := append(append(bytes.Clone(data[:at]), "12345"...), data[start+int64(loc[3]):]...)
	path := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}

	st := ingesttest.OpenStore(t)
	_, err = ingesttest.Ingest(st, grype.Format, ingest.Options{}, path)
	ie, ok := errors.AsType[*ingest.InputError](err)
	if !ok {
		t.Fatalf("Ingest(bad.json) = %v, want an *ingest.InputError", err)
	}
	line, _ := ingest.LineCol(path, ie.Offset)
	wantLine := bytes.Count(bad[:at], []byte("\n")) + 1
	firstLine := bytes.Count(bad[:start], []byte("\n")) + 1
	if ie.File != path || ie.Offset != at || line != wantLine || !strings.Contains(ie.Error(), "/matches/1/vulnerability/id") {
		t.Errorf("Ingest(bad.json) = %v at offset %d, line %d, want %s at offset %d, line %d (in the match of line %d), pointer /matches/1/vulnerability/id", err, ie.Offset, line, path, at, wantLine, firstLine)
	}
	if got := ingesttest.Count(t, st); got != (store.Counts{}) {
		t.Errorf("after the failed ingest the store holds %+v, want nothing", got)
	}
}
