package kpi_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// TestSnapshotsDerivedFromPathEvents: analyses open and close paths to
// two jewels and record their snapshots; with the snapshots deleted (a
// database made before they were recorded), Compute derives from the
// path events the same open paths, whole and per jewel and team, at each
// analysis that changed a path.
func TestSnapshotsDerivedFromPathEvents(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	file := filepath.Join(t.TempDir(), "ctem.db")
	st, err := sqlite.Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day := 24 * time.Hour
	pathTo := func(id, jewel string) store.StoredPath {
		return store.StoredPath{ID: id, Entry: "network:lb", Target: "read:" + jewel, Jewel: jewel, Likelihood: 0.5, Risk: 5,
			Steps: `[]`, Summary: "network:lb -[expose]-> read:" + jewel}
	}
	// Which paths each analysis finds open, by jewel.
	script := []map[string]int{{"db": 2, "bucket": 1}, {"db": 3}, {"db": 1, "bucket": 2}, {"bucket": 1}}
	for i, open := range script {
		rec := &store.AnalysisRecord{Analysis: store.Analysis{At: base.Add(time.Duration(i+1) * day), IngestSeq: int64(i + 1)}}
		for j, n := range open {
			for k := range n {
				rec.Paths = append(rec.Paths, pathTo(fmt.Sprintf("%s-%d", j, k), j))
			}
		}
		if _, _, err := st.RecordAnalysis(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	owner := func(j string) string { return "team-" + j }
	opt := kpi.Options{Now: base.Add(10 * day), Since: 30 * day, Owner: owner}
	recorded, err := kpi.Compute(ctx, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(recorded.Snapshots) != len(script) {
		t.Fatalf("Compute() recorded %d snapshots, want %d", len(recorded.Snapshots), len(script))
	}
	var want []kpi.Snapshot
	for i, s := range recorded.Snapshots {
		w := kpi.Snapshot{At: s.At, OpenPaths: s.OpenPaths, Derived: true}
		for j, f := range s.Jewels {
			if w.Jewels == nil {
				w.Jewels, w.Teams = map[string]kpi.JewelSnapshot{}, map[string]kpi.JewelSnapshot{}
			}
			w.Jewels[j] = kpi.JewelSnapshot{OpenPaths: f.OpenPaths}
			w.Teams[owner(j)] = kpi.JewelSnapshot{OpenPaths: f.OpenPaths}
			if f.OpenPaths != script[i][j] {
				t.Fatalf("snapshot %d recorded %d paths to %s, script says %d", i, f.OpenPaths, j, script[i][j])
			}
		}
		want = append(want, w)
	}
	db, err := sql.Open("sqlite", file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `DELETE FROM kpi_snapshots`); err != nil {
		t.Fatal(err)
	}
	got, err := kpi.Compute(ctx, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got.Snapshots, want); diff != "" {
		t.Errorf("Compute().Snapshots derived (-got +want):\n%s", diff)
	}
	// With the last analysis's snapshot recorded again, the earlier ones
	// are derived and the last is the recorded one.
	if _, err := db.ExecContext(ctx, `INSERT INTO kpi_snapshots (analysis_id, at, dim, key, metric, value)
SELECT 4, at, dim, key, metric, value FROM (SELECT ? AS at, '' AS dim, '' AS key, ? AS metric, 1.0 AS value) v`,
		recorded.Snapshots[3].At.UnixMicro(), store.MetricOpenPaths); err != nil {
		t.Fatal(err)
	}
	got, err = kpi.Compute(ctx, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Snapshots); n != 4 || !got.Snapshots[2].Derived || got.Snapshots[3].Derived || got.Snapshots[3].AnalysisID != 4 {
		t.Errorf("Compute().Snapshots with the last recorded = %+v, want 3 derived then analysis 4", got.Snapshots)
	}
}
