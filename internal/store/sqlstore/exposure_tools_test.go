package sqlstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
)

// grypeAgrees ingests, as a Grype scan of the first Trivy image of
// mixedStore, every other vulnerability Trivy reported there, so that
// some exposures are reported by two tools and some by one; every
// other one of those Grype reports as critical, which raises its
// exposure's severity. It returns the scan.
func grypeAgrees(t *testing.T, st *sqlstore.DB) model.Scan {
	t.Helper()
	var fs []model.Finding
	for i, f := range collect(t, st.Findings(context.Background(), store.Filter{Tools: []string{"trivy"}, Sort: store.SortID})) {
		if i%2 == 0 && f.Kind == model.FindingVulnerability && strings.Contains(f.Asset, "shop/api:1") {
			if len(fs)%2 == 0 {
				f.Severity = model.SeverityCritical
			}
			fs = append(fs, f)
		}
	}
	if len(fs) < 5 {
		t.Fatalf("%d Trivy vulnerabilities of shop/api:1 to report again, want 5 or more", len(fs))
	}
	return grypeScan(t, st, fs)
}

// grypeScan ingests fs, findings of one asset, as one Grype scan of
// shop/api:1 and returns the scan.
func grypeScan(t *testing.T, st *sqlstore.DB, fs []model.Finding) model.Scan {
	t.Helper()
	ctx := context.Background()
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.BeginScan(model.Scan{Tool: "grype", Format: "grype", Target: "shop/api:1", Asset: fs[0].Asset}); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		g := &model.Finding{Kind: f.Kind, RuleID: f.RuleID, VulnIDs: f.VulnIDs, Severity: f.Severity, Title: f.Title,
			Asset: f.Asset, Package: f.Package, Location: f.Location}
		if err := tx.Finding(g); err != nil {
			t.Fatal(err)
		}
	}
	scans, err := tx.EndInput(ctx, "grype.json", "sha256:grype")
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return scans[0]
}

// exposureTools reads the rows of exposure_tools, and the rows the
// findings imply (each exposure with each tool of its findings, and the
// exposure's first sighting, severity, asset, vulnerability and rule),
// as lines.
func exposureTools(t *testing.T, st *sqlstore.DB) (got, want []string) {
	t.Helper()
	read := func(q string) []string {
		rows, err := st.SQL().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var tool, id, asset, vuln, rule string
			var first, sev int64
			if err := rows.Scan(&tool, &id, &first, &sev, &asset, &vuln, &rule); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(tool, " ", id, " ", first, " ", sev, " ", asset, " ", vuln, " ", rule))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	return read(`SELECT tool, exposure_id, exposure_first_seen, exposure_sev, exposure_asset, exposure_vuln_id, exposure_rule_id FROM exposure_tools ORDER BY tool, exposure_id`),
		read(`SELECT DISTINCT f.tool, f.exposure_id, x.first_seen, x.sev, x.asset, x.vuln_id, x.rule_id FROM findings f JOIN exposures x ON x.id = f.exposure_id ORDER BY f.tool, f.exposure_id`)
}

// TestToolFilter checks the exposures listing's tool filter, which
// reads exposure_tools (migrations 00021 and 00024): after real ingests
// of three tools, two of which report some exposures together (some
// with a higher severity), each tool filter selects exactly the
// exposures of that tool's findings, in every sort order and in that
// order (the unfiltered listing's, less the other exposures), read whole
// or by pages through the cursor, with the filter read first or the
// order walked; the table holds exactly the rows the findings and
// exposures imply after the ingests, after a rescan that fixes some
// findings (lowering their exposures' severity) and after the scans'
// removal, when the removed tool's exposures leave the filter.
func TestToolFilter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := mixedStore(t)
	grype := grypeAgrees(t, st)
	check := func(stage string) {
		t.Helper()
		if got, want := exposureTools(t, st); len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("%s: exposure_tools = %d rows, want the %d pairs of the findings (-got +want):\n%s", stage, len(got), len(want), cmp.Diff(got, want))
		}
		allF := collect(t, st.Findings(ctx, store.Filter{}))
		for _, tools := range [][]string{{"trivy"}, {"grype"}, {"gosec"}, {"grype", "gosec"}, {"trivy", "grype"}, {"no-such-tool"}} {
			wantSet := map[string]bool{}
			for _, f := range allF {
				if slices.Contains(tools, f.Tool) {
					wantSet[f.ExposureID] = true
				}
			}
			// With and without a severity filter (which bounds the walk
			// of exposure_tools_severity too).
			for _, sevs := range [][]model.Severity{nil, {model.SeverityHigh}, {model.SeverityCritical, model.SeverityLow}} {
				for _, s := range store.Sorts {
					var want []string
					for _, x := range collect(t, st.Exposures(ctx, store.Filter{Sort: s})) {
						if wantSet[x.ID] && (sevs == nil || slices.Contains(sevs, x.Severity)) {
							want = append(want, x.ID)
						}
					}
					for _, capped := range []int{0, 1} {
						for _, n := range []int{0, 1, 7} {
							sqlstore.SetProbeCap(st, capped)
							f := store.Filter{Tools: tools, Severities: sevs, Sort: s}
							xs := readAll(t, func(f store.Filter) func(func(model.Exposure, error) bool) { return st.Exposures(ctx, f) },
								func(x model.Exposure) string { return x.ID }, f, n)
							if got := xs; !slices.Equal(got, want) {
								t.Errorf("%s: Exposures(tools %v, severities %v, sort %s, probe cap %d, pages of %d) = %d exposures, want %d (-got +want):\n%s",
									stage, tools, sevs, s, capped, n, len(got), len(want), cmp.Diff(got, want))
							}
						}
					}
				}
			}
			// The findings listing's tool filter, too, in each order
			// (the unfiltered listing's, less the other tools' findings;
			// several tools are read a page each and merged).
			for _, s := range store.Sorts {
				var wantF []string
				for _, f := range collect(t, st.Findings(ctx, store.Filter{Sort: s})) {
					if slices.Contains(tools, f.Tool) {
						wantF = append(wantF, f.ID)
					}
				}
				for _, capped := range []int{0, 1} {
					for _, n := range []int{0, 7} {
						sqlstore.SetProbeCap(st, capped)
						fs := readAll(t, func(f store.Filter) func(func(model.Finding, error) bool) { return st.Findings(ctx, f) },
							func(f model.Finding) string { return f.ID }, store.Filter{Tools: tools, Sort: s}, n)
						if !slices.Equal(fs, wantF) {
							t.Errorf("%s: Findings(tools %v, sort %s, probe cap %d, pages of %d) = %d findings, want %d (-got +want):\n%s",
								stage, tools, s, capped, n, len(fs), len(wantF), cmp.Diff(fs, wantF))
						}
					}
				}
			}
			sqlstore.SetProbeCap(st, 0)
			for _, x := range collect(t, st.Exposures(ctx, store.Filter{Tools: tools})) {
				if !slices.ContainsFunc(x.Tools, func(tool string) bool { return slices.Contains(tools, tool) }) {
					t.Errorf("%s: Exposures(tools %v) lists %s of tools %v", stage, tools, x.ID, x.Tools)
				}
			}
		}
	}
	both := 0
	for _, x := range collect(t, st.Exposures(ctx, store.Filter{Tools: []string{"grype"}})) {
		if fmt.Sprint(x.Tools) == "[grype trivy]" {
			both++
		}
	}
	if both < 5 {
		t.Fatalf("%d exposures reported by Grype and Trivy, want 5 or more", both)
	}
	check("after the ingests")
	// A rescan reporting the first half of the vulnerabilities fixes the
	// others: an exposure Grype had raised to critical falls back to
	// Trivy's severity.
	reported := collect(t, st.Findings(ctx, store.Filter{ScanID: grype.ID, Sort: store.SortID}))
	rescan := grypeScan(t, st, reported[:len(reported)/2])
	if rescan.Fixed == 0 {
		t.Fatalf("Grype rescan fixed no finding, want %d", len(reported)-len(reported)/2)
	}
	check("after a Grype rescan")
	for _, id := range []string{rescan.ID, grype.ID} {
		if _, err := st.RemoveScan(ctx, store.ScanRemoval{ScanID: id, Actor: "t", Reason: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(collect(t, st.Exposures(ctx, store.Filter{Tools: []string{"grype"}}))); n != 0 {
		t.Errorf("after removing the Grype scan, Exposures(tool grype) = %d exposures, want none", n)
	}
	check("after removing the Grype scan")
}
