package grype_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/grype"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/model"
)

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
	sink := &ingesttest.SpillSink{Recorder: &ingesttest.Recorder{}, Dir: dir}
	if err := grype.Format.Parse(context.Background(), &ingest.Input{Name: "gen.json", R: src.Reader()}, sink); err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if !sink.Spilled {
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
// records whether its items stay in memory or go to a file. Not
// parallel: it sets the spool limit.
func TestSpillKeepsFindings(t *testing.T) {
	ingesttest.CheckSpillKeepsRecords(t, grype.Format, ingest.Options{}, testdata(t), grype.SetSpoolLimit)
}

// TestBadMatch checks that a wrong type in the second match, found when
// the spooled items are decoded, is reported at its own place in the
// file, and that nothing of the report is stored.
func TestBadMatch(t *testing.T) {
	t.Parallel()
	ingesttest.CheckBadItem(t, grype.Format, ingest.Options{}, "testdata/check_all_fields.json", []any{"matches", 1}, "id", "/matches/1/vulnerability/id")
}
