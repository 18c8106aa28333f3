package sqlstore_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// sliceSink keeps the exposures of a bulk read in a slice.
type sliceSink struct {
	xs    []model.Exposure
	grown int
	atted bool
	order []int32
	t     *testing.T
}

func (s *sliceSink) Order(byID []int32) {
	if s.order != nil {
		s.t.Errorf("ReadAnalysisExposures called Order twice")
	}
	s.order = byID
}

func (s *sliceSink) Grow(n int) { s.grown = n }

func (s *sliceSink) Add(x model.Exposure) int {
	if s.atted {
		s.t.Errorf("ReadAnalysisExposures called Add after At")
	}
	s.xs = append(s.xs, x)
	return len(s.xs) - 1
}

func (s *sliceSink) At(i int) *model.Exposure { s.atted = true; return &s.xs[i] }

// TestReadAnalysisExposuresAsStreamed checks that the bulk read of the
// full analysis gives exactly the exposures of the streaming read
// (AnalysisExposures), once sorted by id: real reports, a rescan, triage
// decisions (an accepted exposure stays, a false positive goes), and
// exposures of several findings from several tools whose vulnerability
// ids, CWEs and CVSS vectors merge, one of them fixed.
func TestReadAnalysisExposuresAsStreamed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := mixedStore(t)
	for _, name := range []string{"all_statuses.json", "alpine-310.json", "cvssv4_severity_source.json"} {
		path := filepath.Join("..", "..", "ingest", "trivy", "testdata", name)
		if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, path); err != nil {
			t.Fatal(err)
		}
	}
	// One exposure reported by three tools; the third's finding is then
	// fixed by a rescan of its target that reports nothing.
	img := model.ImageKey("nginx:1.25")
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range []struct {
		name, id, alias, cwe, vector string
	}{
		{"trivy", "CVE-2023-44487", "", "CWE-400", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"},
		{"grype", "GHSA-qppj-fm5r-hxr3", "CVE-2023-44487", "CWE-770", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H"},
		{"osv", "CVE-2023-44487", "GO-2023-2102", "CWE-94", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
	} {
		if err := tx.BeginScan(model.Scan{Tool: tool.name, Target: "nginx:1.25", Asset: img, Format: "test"}); err != nil {
			t.Fatal(err)
		}
		f := &model.Finding{Kind: model.FindingVulnerability, RuleID: tool.id, VulnIDs: []string{tool.id, tool.alias},
			CWEs: []string{tool.cwe}, CVSS: []model.CVSS{{Vector: tool.vector, Source: tool.name}},
			Severity: model.SeverityHigh, Title: "HTTP/2 rapid reset", Asset: img,
			Package: model.Package{Name: "libnghttp2-14", Version: "1.52.0-1"}}
		if err := tx.Finding(f); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.EndInput(ctx, tool.name+".json", "sha256:"+tool.name); err != nil {
			t.Fatal(err)
		}
	}
	// A finding whose rule, package and path hold the byte that joins an
	// exposure's fields in the bulk read (read again column by column).
	if err := tx.BeginScan(model.Scan{Tool: "semgrep", Target: "repo", Asset: "repo:sep", Format: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Finding(&model.Finding{Kind: model.FindingCode, RuleID: "rule\x1fone", CWEs: []string{"CWE-89"}, Title: "sep",
		Asset: "repo:sep", Package: model.Package{Name: "p\x1f\x1fq"}, Location: model.Location{Path: "a\x1fb.go", Line: 3}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.EndInput(ctx, "semgrep.json", "sha256:semgrep"); err != nil {
		t.Fatal(err)
	}
	if err := tx.BeginScan(model.Scan{Tool: "osv", Target: "nginx:1.25", Asset: img, Format: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.EndInput(ctx, "osv.json", "sha256:osv2"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	open := collect(t, st.Exposures(ctx, store.Filter{Statuses: []model.Status{model.StatusOpen}, ByID: true}))
	if len(open) < 50 {
		t.Fatalf("Exposures(open) = %d exposures, want a test of at least 50", len(open))
	}
	if _, err := st.Triage(ctx, store.Decision{ExposureID: open[3].ID, Status: model.StatusAccepted, Reason: "test", By: "t",
		Approver: "a", Expires: time.Now().Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}

	want := collect(t, st.AnalysisExposures(ctx, nil, "", ""))
	sink := &sliceSink{t: t}
	if err := st.ReadAnalysisExposures(ctx, sink); err != nil {
		t.Fatalf("ReadAnalysisExposures = %v", err)
	}
	got := sink.xs
	// The order it gives is the exposures' id order.
	var ordered []string
	for _, i := range sink.order {
		ordered = append(ordered, got[i].ID)
	}
	var ids []string
	for _, x := range got {
		ids = append(ids, x.ID)
	}
	if slices.Sort(ids); !slices.Equal(ordered, ids) {
		t.Errorf("ReadAnalysisExposures: Order gave the ids %v..., want %v...", ordered[:min(3, len(ordered))], ids[:min(3, len(ids))])
	}
	slices.SortFunc(got, func(a, b model.Exposure) int { return strings.Compare(a.ID, b.ID) })
	// What the bulk read leaves out: severity, line, URL, component,
	// times and tools; its finding ids are in id order.
	read := make([]model.Exposure, len(want))
	for i, x := range want {
		x.Severity, x.Location.Line, x.Location.URL, x.Location.Component = "", 0, "", ""
		x.FirstSeen, x.LastSeen, x.FixedAt, x.Tools = time.Time{}, time.Time{}, time.Time{}, nil
		x.FindingIDs = slices.Sorted(slices.Values(x.FindingIDs))
		read[i] = x
	}
	if diff := cmp.Diff(got, read); diff != "" {
		t.Errorf("ReadAnalysisExposures differs from AnalysisExposures (-got +want):\n%s", diff)
	}
	if sink.grown != len(want) {
		t.Errorf("ReadAnalysisExposures: Grow(%d), want Grow(%d)", sink.grown, len(want))
	}
	// The streaming read of some assets by exact key (a re-analysis),
	// keys repeated and out of order, gives those exposures in id order.
	keys := []string{img, want[len(want)-1].Asset, img, open[3].Asset}
	var onKeys []model.Exposure
	for _, x := range want {
		if slices.Contains(keys, x.Asset) {
			onKeys = append(onKeys, x)
		}
	}
	if diff := cmp.Diff(collect(t, st.AnalysisExposures(ctx, keys, "", "")), onKeys); diff != "" || len(onKeys) < 2 {
		t.Errorf("AnalysisExposures(%q) differs from the exposures of all on those keys (-got +want):\n%s", keys, diff)
	}

	var merged, accepted, sep bool
	for _, x := range got {
		merged = merged || (len(x.FindingIDs) == 3 && len(x.CWEs) == 3 && len(x.CVSS) == 2)
		accepted = accepted || x.Status == model.StatusAccepted
		sep = sep || (x.RuleID == "rule\x1fone" && x.Package.Name == "p\x1f\x1fq" && x.Location.Path == "a\x1fb.go")
	}
	if !merged || !accepted || !sep {
		t.Errorf("ReadAnalysisExposures: an exposure of three findings, one fixed = %v, an accepted one = %v, one whose fields hold \\x1f = %v; want all in the test",
			merged, accepted, sep)
	}
}
