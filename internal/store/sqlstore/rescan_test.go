package sqlstore_test

import (
	"context"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/synth"
)

// TestUnchangedRescanWritesNoFinding checks that a rescan that reports
// every finding as stored writes none of their rows, while listings show
// them last seen by it; and that a later scan without some of them fixes
// those, last seen by the scan before, which the scan filter then gives.
func TestUnchangedRescanWritesNoFinding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := ingesttest.OpenStore(t)
	dir := t.TempDir()
	full := writeTrivy(t, dir, "full.json", synth.Trivy{Image: "shop/api:1", Findings: 200, Results: 4})
	later := writeTrivy(t, dir, "later.json", synth.Trivy{Image: "shop/api:1", Findings: 200, Results: 4, Drop: 5})
	scan := func(p string) model.Scan {
		t.Helper()
		s, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, p)
		if err != nil {
			t.Fatal(err)
		}
		return s[0]
	}
	first := scan(full)
	second := scan(full)
	if second.Findings != 200 || second.New != 0 || second.Fixed != 0 || second.Reopened != 0 {
		t.Errorf("unchanged rescan = %d findings, %d new, %d fixed, %d reopened; want 200, 0, 0, 0", second.Findings, second.New, second.Fixed, second.Reopened)
	}
	var written int
	if err := st.SQL().QueryRow(st.Rebind(`SELECT COUNT(*) FROM findings WHERE scan_id = ? OR last_seen = ?`), second.ID, second.StartedAt.UnixMicro()).Scan(&written); err != nil {
		t.Fatal(err)
	}
	if written != 0 {
		t.Errorf("the unchanged rescan wrote %d finding rows, want 0", written)
	}
	for _, f := range collect(t, st.Findings(ctx, store.Filter{})) {
		if !f.LastSeen.Equal(second.StartedAt) || !f.FirstSeen.Equal(first.StartedAt) {
			t.Fatalf("finding %s first seen %v, last seen %v; want %v, %v", f.ID, f.FirstSeen, f.LastSeen, first.StartedAt, second.StartedAt)
		}
	}
	for _, x := range collect(t, st.Exposures(ctx, store.Filter{})) {
		if !x.LastSeen.Equal(second.StartedAt) {
			t.Fatalf("exposure %s last seen %v, want %v", x.ID, x.LastSeen, second.StartedAt)
		}
	}
	if got := collect(t, st.Findings(ctx, store.Filter{ScanID: second.ID})); len(got) != 200 {
		t.Errorf("Findings(scan %s, the latest) = %d, want 200", second.ID, len(got))
	}
	third := scan(later)
	if third.Findings != 160 || third.Fixed != 40 || third.New != 0 {
		t.Errorf("scan without every fifth = %d findings, %d fixed, %d new; want 160, 40, 0", third.Findings, third.Fixed, third.New)
	}
	fixed := collect(t, st.Findings(ctx, store.Filter{Statuses: []model.Status{model.StatusFixed}}))
	if len(fixed) != 40 {
		t.Fatalf("%d fixed findings, want 40", len(fixed))
	}
	for _, f := range fixed {
		if !f.LastSeen.Equal(second.StartedAt) || !f.FixedAt.Equal(third.StartedAt) {
			t.Fatalf("fixed finding %s last seen %v, fixed at %v; want %v, %v", f.ID, f.LastSeen, f.FixedAt, second.StartedAt, third.StartedAt)
		}
	}
	for _, tc := range []struct {
		scan model.Scan
		want int
	}{{first, 0}, {second, 40}, {third, 160}} {
		if got := collect(t, st.Findings(ctx, store.Filter{ScanID: tc.scan.ID})); len(got) != tc.want {
			t.Errorf("Findings(scan %s) = %d findings, want %d last seen by it", tc.scan.ID, len(got), tc.want)
		}
	}
	// What comes back is reopened by a scan that writes it again.
	fourth := scan(full)
	if fourth.Reopened != 40 || fourth.Findings != 200 {
		t.Errorf("rescan with the fixed back = %d reopened of %d; want 40 of 200", fourth.Reopened, fourth.Findings)
	}
}

// TestVulnFilterFollowsAliases checks the vulnerability-id filter of
// findings and exposures through finding_vulns: exact ids of any case
// the ids are normalized to, and an alias a rescan no longer reports no
// longer matches.
func TestVulnFilterFollowsAliases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := ingesttest.OpenStore(t)
	ingestOne := func(vulns ...string) {
		t.Helper()
		tx, err := st.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := tx.BeginScan(model.Scan{Tool: "grype", Format: "grype", Target: "image:a", Asset: "image:a"}); err != nil {
			t.Fatal(err)
		}
		f := &model.Finding{Kind: model.FindingVulnerability, RuleID: "r", VulnIDs: vulns, Fingerprint: "fp", Title: "t",
			Package: model.Package{Name: "p", Version: "1"}}
		if err := tx.Finding(f); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.EndInput(ctx, "in", "d"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	count := func(id string) (findings, exposures int) {
		t.Helper()
		f := store.Filter{VulnIDs: []string{id}}
		return len(collect(t, st.Findings(ctx, f))), len(collect(t, st.Exposures(ctx, f)))
	}
	ingestOne("CVE-2024-0001", "GHSA-aaaa-bbbb-cccc")
	for _, id := range []string{"CVE-2024-0001", "cve-2024-0001", "GHSA-AAAA-BBBB-CCCC", "ghsa-aaaa-bbbb-cccc"} {
		if f, x := count(id); f != 1 || x != 1 {
			t.Errorf("filter %s: %d findings, %d exposures; want 1, 1", id, f, x)
		}
	}
	if f, x := count("CVE-2024-0002"); f != 0 || x != 0 {
		t.Errorf("filter on another id: %d findings, %d exposures; want none", f, x)
	}
	ingestOne("CVE-2024-0001")
	if f, x := count("GHSA-aaaa-bbbb-cccc"); f != 0 || x != 0 {
		t.Errorf("filter on a dropped alias: %d findings, %d exposures; want none", f, x)
	}
	if f, x := count("CVE-2024-0001"); f != 1 || x != 1 {
		t.Errorf("filter on the kept id after the rescan: %d findings, %d exposures; want 1, 1", f, x)
	}
}
