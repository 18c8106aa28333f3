package snyk_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/snyk"
	"github.com/ctem-dev/ctem/internal/model"
)

// TestSpill parses a generated container report whose vulnerabilities,
// its application's included, overflow a small spool limit into a
// temporary file. Not parallel: it sets the limit and TMPDIR.
func TestSpill(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	snyk.SetSpoolLimit(t, 4<<10)
	const osVulns, ignored, appVulns = 300, 20, 100
	vulns := func(b *strings.Builder, n int, id, from string) {
		for i := range n {
			if i > 0 {
				b.WriteString(",\n")
			}
			fmt.Fprintf(b, `{"id": "%s-%d", "packageName": "pkg%d", "version": "1.0", "severity": "high", "from": [%s, "pkg%d@1.0"]}`, id, i, i, from, i)
		}
	}
	var b strings.Builder
	b.WriteString(`{"vulnerabilities": [`)
	vulns(&b, osVulns, "SNYK-DEBIAN10-X", `"docker-image|registry.example/app@1.2"`)
	b.WriteString(`], "filtered": {"ignore": [`)
	vulns(&b, ignored, "SNYK-DEBIAN10-Y", `"docker-image|registry.example/app@1.2"`)
	b.WriteString(`]}, "docker": {}, "projectName": "docker-image|registry.example/app", "path": "registry.example/app:1.2",
 "applications": [{"vulnerabilities": [`)
	vulns(&b, appVulns, "SNYK-JS-Z", `"app@1.0.0"`)
	b.WriteString(`], "displayTargetFile": "/srv/package-lock.json", "projectName": "app"}]}`)

	src, err := ingest.NewSource("gen.json", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	sink := &ingesttest.SpillSink{Recorder: &ingesttest.Recorder{}, Dir: dir}
	if err := snyk.Format.Parse(context.Background(), &ingest.Input{Name: "gen.json", R: src.Reader()}, sink); err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if !sink.Spilled {
		t.Errorf("no spool file in TMPDIR while findings were emitted, want one past a 4 KiB limit")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("after Parse, TMPDIR holds %v, want nothing", left)
	}
	if len(sink.Scans) != 1 || sink.Scans[0].Asset != "image:registry.example/app:1.2" {
		t.Fatalf("scans = %+v, want one of image:registry.example/app:1.2", sink.Scans)
	}
	got := sink.Findings
	if len(got) != osVulns+ignored+appVulns {
		t.Fatalf("Parse = %d findings, want %d", len(got), osVulns+ignored+appVulns)
	}
	for i, f := range got {
		var wantID, wantPtr, wantPath string
		wantStatus := model.StatusOpen
		switch {
		case i < osVulns:
			wantID, wantPtr = fmt.Sprintf("SNYK-DEBIAN10-X-%d", i), fmt.Sprintf("/vulnerabilities/%d", i)
		case i < osVulns+ignored:
			j := i - osVulns
			wantID, wantPtr, wantStatus = fmt.Sprintf("SNYK-DEBIAN10-Y-%d", j), fmt.Sprintf("/filtered/ignore/%d", j), model.StatusAccepted
		default:
			j := i - osVulns - ignored
			wantID, wantPtr, wantPath = fmt.Sprintf("SNYK-JS-Z-%d", j), fmt.Sprintf("/applications/0/vulnerabilities/%d", j), "/srv/package-lock.json"
		}
		if f.RuleID != wantID || f.Pointer != wantPtr || f.Status != wantStatus || f.Location.Path != wantPath || f.Asset != sink.Scans[0].Asset {
			t.Errorf("finding %d = %s at %s, %s, path %q on %s, want %s at %s, %s, path %q", i, f.RuleID, f.Pointer, f.Status, f.Location.Path, f.Asset, wantID, wantPtr, wantStatus, wantPath)
		}
	}
}

// TestSpillKeepsFindings checks that every testdata file gives the same
// records whether its items stay in memory or go to a file. Not
// parallel: it sets the spool limit.
func TestSpillKeepsFindings(t *testing.T) {
	ingesttest.CheckSpillKeepsRecords(t, snyk.Format, ingest.Options{}, testdata(t), snyk.SetSpoolLimit)
}

// TestBadVulnerability checks that a wrong type in the second vulnerability, found when
// the spooled items are decoded, is reported at its own place in the
// file, and that nothing of the report is stored.
func TestBadVulnerability(t *testing.T) {
	t.Parallel()
	ingesttest.CheckBadItem(t, snyk.Format, ingest.Options{}, "testdata/single_project_many_vulns.json", []any{"vulnerabilities", 1}, "packageName", "/vulnerabilities/1/packageName")
}
