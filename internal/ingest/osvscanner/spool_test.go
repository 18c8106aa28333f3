package osvscanner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/osvscanner"
	"github.com/ctem-dev/ctem/internal/model"
)

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
	sink := &ingesttest.SpillSink{Recorder: &ingesttest.Recorder{}, Dir: dir}
	if err := osvscanner.Format.Parse(context.Background(), &ingest.Input{Name: "gen.json", R: src.Reader()}, sink); err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if !sink.Spilled {
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
// records whether its items stay in memory or go to a file. Not
// parallel: it sets the spool limit.
func TestSpillKeepsFindings(t *testing.T) {
	ingesttest.CheckSpillKeepsRecords(t, osvscanner.Format, ingest.Options{}, reports, osvscanner.SetSpoolLimit)
}

// TestBadPackage checks that a wrong type in the second package, found when
// the spooled items are decoded, is reported at its own place in the
// file, and that nothing of the report is stored.
func TestBadPackage(t *testing.T) {
	t.Parallel()
	ingesttest.CheckBadItem(t, osvscanner.Format, ingest.Options{}, "testdata/many_findings.json", []any{"results", 0, "packages", 1}, "name", "/results/0/packages/1/package/name")
}
