package sqlstore_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// TestKPISnapshots: every recorded analysis writes the figures of all
// paths open after it (a partial analysis too), validated paths are
// counted by the evidence kinds of their steps, and priority peaks keep
// the highest priority ever recorded.
func TestKPISnapshots(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	valid := func(p store.StoredPath, steps string) store.StoredPath {
		p.Validated, p.Steps = true, steps
		return p
	}
	kev := `[{"evidence":["relation:exposes internet -> lb"]},{"evidence":["kev","epss=0.9","exposure:x1"]}]`
	probe := `[{"evidence":["probe-confirmed","exposure:x2"]}]`
	full := &store.AnalysisRecord{
		Analysis:      store.Analysis{At: at, IngestSeq: 1},
		Paths:         []store.StoredPath{valid(path("p1", "db", 6), kev), valid(path("p2", "db", 2), probe), path("p3", "bucket", 1)},
		PathExposures: map[string][]string{"p1": {"x1"}, "p2": {"x2", "x1"}, "p3": {"x3"}},
		Priorities:    []store.StoredPriority{{ExposureID: "x1", Anchor: "api", RiskRemoved: 6}, {ExposureID: "x3", Anchor: "w", RiskRemoved: 1}},
	}
	if _, _, err := st.RecordAnalysis(ctx, full); err != nil {
		t.Fatal(err)
	}
	// A partial analysis of db's component closes p2 and lowers x1's
	// priority; bucket's path stays open and is still counted.
	part := &store.AnalysisRecord{
		Analysis: store.Analysis{At: at.Add(24 * time.Hour), IngestSeq: 2, Partial: true},
		Jewels:   map[string]bool{"db": true}, Covered: []string{"api", "db"},
		Paths:      []store.StoredPath{valid(path("p1", "db", 3), kev)},
		Priorities: []store.StoredPriority{{ExposureID: "x1", Anchor: "api", RiskRemoved: 3}, {ExposureID: "x2", Anchor: "api", RiskRemoved: 2}},
	}
	if _, _, err := st.RecordAnalysis(ctx, part); err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID               int64
		Dim, Key, Metric string
		Value            float64
	}
	var got []row
	for v, err := range st.KPISnapshots(ctx, at.Add(time.Hour)) {
		if err != nil {
			t.Fatal(err)
		}
		if !v.At.Equal(at.Add(24 * time.Hour)) {
			t.Errorf("KPISnapshots: at = %v, want %v", v.At, at.Add(24*time.Hour))
		}
		got = append(got, row{v.AnalysisID, v.Dim, v.Key, v.Metric, v.Value})
	}
	want := []row{
		{2, "", "", "open_paths", 2}, {2, "", "", "path_exposures", 2}, {2, "", "", "risk", 4}, {2, "", "", "validated_paths", 1},
		{2, "evidence", "kev", "validated_paths", 1}, {2, "evidence", "relation", "validated_paths", 1},
		{2, "jewel", "bucket", "open_paths", 1}, {2, "jewel", "bucket", "risk", 1}, {2, "jewel", "bucket", "validated_paths", 0},
		{2, "jewel", "db", "open_paths", 1}, {2, "jewel", "db", "risk", 3}, {2, "jewel", "db", "validated_paths", 1},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("KPISnapshots(after day 1) (-got +want):\n%s", diff)
	}
	n := 0
	var probeKind bool
	for v, err := range st.KPISnapshots(ctx, time.Time{}) {
		if err != nil {
			t.Fatal(err)
		}
		if v.AnalysisID == 1 {
			n++
			probeKind = probeKind || v.Dim == store.KPIEvidence && v.Key == "probe-confirmed" && v.Value == 1
		}
	}
	if n == 0 || !probeKind {
		t.Errorf("KPISnapshots(all): analysis 1 has %d rows, probe-confirmed counted %v, want rows and true", n, probeKind)
	}
	peaks, err := st.PriorityPeaks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(peaks, map[string]float64{"x1": 6, "x2": 2, "x3": 1}); diff != "" {
		t.Errorf("PriorityPeaks() (-got +want):\n%s", diff)
	}
}
