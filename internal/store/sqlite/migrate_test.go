package sqlite_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// TestMigrateFindingIDs takes a database back to the finding ids of
// schema version 2 (the first sixteen digits of Hash(tool, fingerprint))
// and checks that migration 00003 gives every finding, its events and its
// evidence the id model.Finding.Normalize now computes, so that a rescan
// continues the history instead of closing every finding and opening it
// again under a new id.
func TestMigrateFindingIDs(t *testing.T) {
	ctx := context.Background()
	report := filepath.Join("..", "..", "ingest", "trivy", "testdata", "all_statuses.json")
	rec := ingesttest.Parse(t, trivy.Format, report, ingest.Options{})
	if len(rec.Findings) < 5 {
		t.Fatalf("the report gave %d findings; the test wants several", len(rec.Findings))
	}
	path := filepath.Join(t.TempDir(), "ctem.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, report); err != nil {
		t.Fatal(err)
	}
	db := st.SQL()
	first := rec.Findings[0]
	if _, err := db.Exec(`INSERT INTO finding_events (finding_id, from_status, to_status, at, scan_id) VALUES (?, 'fixed', 'open', 1, 's')`, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO evidence (kind, finding_id, source, at) VALUES ('reachable', ?, 'test', 1)`, first.ID); err != nil {
		t.Fatal(err)
	}
	// Back to version 2, with the ids it had.
	if err := sqlite.MigrateDownTo(ctx, db, 2); err != nil {
		t.Fatal(err)
	}
	old := map[string]string{} // new id -> old id
	for _, f := range rec.Findings {
		old[f.ID] = model.Hash(f.Tool, f.Fingerprint)[:16]
		for _, q := range []string{`UPDATE findings SET id = ? WHERE id = ?`, `UPDATE finding_events SET finding_id = ? WHERE finding_id = ?`, `UPDATE evidence SET finding_id = ? WHERE finding_id = ?`} {
			if _, err := db.Exec(q, old[f.ID], f.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM findings WHERE substr(id, 1, 8) <> substr(exposure_id, 1, 8)`).Scan(&n); err != nil || n != len(old) {
		t.Fatalf("%d of %d findings have old ids (%v)", n, len(old), err)
	}
	st.Close()

	// Opening migrates.
	st, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var got []string
	for f, err := range st.Findings(ctx, store.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f.ID)
	}
	want := make([]string, 0, len(old))
	for id := range old {
		want = append(want, id)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("finding ids after migration:\n got %v\nwant %v", got, want)
	}
	var ev, evid string
	if err := st.SQL().QueryRow(`SELECT e.finding_id, v.finding_id FROM finding_events e, evidence v WHERE v.source = 'test'`).Scan(&ev, &evid); err != nil {
		t.Fatal(err)
	}
	if ev != first.ID || evid != first.ID {
		t.Errorf("event and evidence name %s and %s, want %s", ev, evid, first.ID)
	}
	// Every exposure finds its findings again.
	seen := 0
	for e, err := range st.Exposures(ctx, store.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		if len(e.FindingIDs) == 0 {
			t.Errorf("exposure %s lost its findings", e.ID)
		}
		seen += len(e.FindingIDs)
	}
	if seen != len(want) {
		t.Errorf("exposures list %d findings, want %d", seen, len(want))
	}
	// Migration 00005 filled finding_vulns and vuln_id from the lists.
	for _, f := range rec.Findings {
		for _, v := range f.VulnIDs {
			found := false
			for g, err := range st.Findings(ctx, store.Filter{VulnIDs: []string{v}}) {
				if err != nil {
					t.Fatal(err)
				}
				found = found || g.ID == f.ID
			}
			if !found {
				t.Errorf("after migration, Findings(vuln %s) lacks finding %s", v, f.ID)
			}
		}
	}
	var noVuln int
	if err := st.SQL().QueryRow(`SELECT COUNT(*) FROM findings WHERE vuln_ids <> '' AND vuln_id = ''`).Scan(&noVuln); err != nil || noVuln != 0 {
		t.Errorf("after migration %d findings lack their vuln_id (%v)", noVuln, err)
	}
	// A rescan continues the history.
	scans, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, report)
	if err != nil {
		t.Fatal(err)
	}
	if s := scans[0]; s.New != 0 || s.Fixed != 0 || s.Findings != len(want) {
		t.Errorf("rescan after migration: %d findings, %d new, %d fixed; want %d, 0, 0", s.Findings, s.New, s.Fixed, len(want))
	}
}

// TestNewDatabasePageSize checks that a new database gets the 16 KiB pages
// Open asks for and is in WAL mode: WAL switched on first writes the file
// header with the default 4 KiB pages, which no later pragma changes.
func TestNewDatabasePageSize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ctem.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var size int
	var mode string
	if err := st.SQL().QueryRow(`PRAGMA page_size`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	if err := st.SQL().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if size != 16384 || mode != "wal" {
		t.Errorf("Open(new database): page_size %d, journal_mode %s; want 16384, wal", size, mode)
	}
	// Reads map the file (SQLite bounds the size it was asked for by
	// its compile-time maximum, 2 GiB by default).
	var mmap int64
	if err := st.SQL().QueryRow(`PRAGMA mmap_size`).Scan(&mmap); err != nil {
		t.Fatal(err)
	}
	if mmap < 1<<30 {
		t.Errorf("Open(new database): mmap_size %d, want at least 1 GiB", mmap)
	}
}
