package sarif_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/sarif"
)

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
	sink := &ingesttest.SpillSink{Recorder: &ingesttest.Recorder{}, Dir: dir}
	if err := sarif.Format.Parse(context.Background(), &ingest.Input{Name: "gen.sarif", R: src.Reader(), Options: ingest.Options{Target: "t"}}, sink); err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if !sink.Spilled {
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
// records whether its items stay in memory or go to a file. Not
// parallel: it sets the spool limit.
func TestSpillKeepsFindings(t *testing.T) {
	ingesttest.CheckSpillKeepsRecords(t, sarif.Format, ingest.Options{Target: "t"}, sarifFiles(t), sarif.SetSpoolLimit)
}

// TestBadResult checks that a wrong type in the second result, found when
// the spooled items are decoded, is reported at its own place in the
// file, and that nothing of the report is stored.
func TestBadResult(t *testing.T) {
	t.Parallel()
	ingesttest.CheckBadItem(t, sarif.Format, ingest.Options{Target: "t"}, "testdata/gh-app-auth-gosec.sarif", []any{"runs", 0, "results", 1}, "ruleId", "/runs/0/results/1/ruleId")
}
