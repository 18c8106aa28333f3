package sqlstore_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
	"github.com/ctem-dev/ctem/internal/synth"
)

// TestExposureFindingsPlan checks that the queries reading an exposure's
// findings search the findings' primary key by range (finding ids begin
// with their exposure's), and never scan the findings or build a
// temporary index over them, which on a large database costs seconds a
// query. The database has no ANALYZE statistics, as a fresh one has not.
// It checks SQLite's planner (EXPLAIN QUERY PLAN is SQLite's), so it
// opens a SQLite store whichever backend the suite runs on.
func TestExposureFindingsPlan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeTrivy(t, dir, "r.json", synth.Trivy{Image: "shop/api:1", Results: 2, Findings: 500})
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, path); err != nil {
		t.Fatal(err)
	}
	db := st.SQL()
	for name, q := range map[string]string{
		"exposure listing": `SELECT f.id FROM (VALUES ('0123456789abcdef'), ('fedcba9876543210')) v JOIN findings f ON ` + sqlstore.OfExposure("f", "v.column1"),
		"scan filter":      `SELECT id FROM exposures WHERE EXISTS (SELECT 1 FROM findings x WHERE ` + sqlstore.OfExposure("x", "exposures.id") + ` AND (x.scan_id || '') IN (SELECT id FROM scans WHERE tool = 'trivy' AND target = 'shop/api:1') AND (x.status <> 'fixed' OR x.last_seen = 0))`,
		"lifecycle":        `SELECT (SELECT MAX(f.sev) FROM findings f WHERE ` + sqlstore.OfExposure("f", "exposures.id") + `) FROM exposures WHERE id = '0123456789abcdef'`,
	} {
		rows, err := db.Query("EXPLAIN QUERY PLAN " + q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "; ")
		var searched bool
		for _, d := range plan {
			if strings.Contains(d, "AUTOMATIC") || strings.HasPrefix(d, "SCAN f") || strings.HasPrefix(d, "SCAN x") {
				t.Errorf("%s: plan %q reads every finding", name, all)
			}
			searched = searched || strings.Contains(d, "findings_1 (id>? AND id<?)")
		}
		if !searched {
			t.Errorf("%s: plan %q does not search the findings' primary key by range", name, all)
		}
	}
}
