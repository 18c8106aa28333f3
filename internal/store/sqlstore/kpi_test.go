package sqlstore_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/store/storetest"
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

// TestPathExposuresKPIAfterClose: the exposures on an open path that a
// partial analysis counts leave out those of paths a full analysis
// closed, and count again those of a path that reopened (path_exposures
// keeps the links of open paths only).
func TestPathExposuresKPIAfterClose(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := storetest.Open(t)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	seq := int64(0)
	record := func(r *store.AnalysisRecord) store.Analysis {
		t.Helper()
		seq++
		r.Analysis.At, r.Analysis.IngestSeq = at.Add(time.Duration(seq)*time.Hour), seq
		a, _, err := st.RecordAnalysis(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	both := func() *store.AnalysisRecord {
		return &store.AnalysisRecord{Paths: []store.StoredPath{path("p1", "a", 2), path("p2", "b", 1)},
			PathExposures: map[string][]string{"p1": {"x1"}, "p2": {"x2", "x3"}}}
	}
	partial := func() store.Analysis {
		return record(&store.AnalysisRecord{Analysis: store.Analysis{Partial: true}, Jewels: map[string]bool{"a": true}, Covered: []string{"a"},
			Paths: []store.StoredPath{path("p1", "a", 2)}, PathExposures: map[string][]string{"p1": {"x1"}}})
	}
	counted := func(id int64) float64 {
		t.Helper()
		for v, err := range st.KPISnapshots(ctx, time.Time{}) {
			if err != nil {
				t.Fatal(err)
			}
			if v.AnalysisID == id && v.Dim == store.KPIWhole && v.Metric == store.MetricPathExposures {
				return v.Value
			}
		}
		t.Fatalf("KPISnapshots: no %s of analysis %d", store.MetricPathExposures, id)
		return 0
	}
	for _, c := range []struct {
		name string
		full *store.AnalysisRecord
		want float64
	}{
		{"both open", both(), 3},
		{"p2 closed", &store.AnalysisRecord{Paths: []store.StoredPath{path("p1", "a", 2)}, PathExposures: map[string][]string{"p1": {"x1"}}}, 1},
		{"p2 reopened", both(), 3},
	} {
		if got := counted(record(c.full).ID); got != c.want {
			t.Errorf("%s: full analysis counted %v exposures on open paths, want %v", c.name, got, c.want)
		}
		if got := counted(partial().ID); got != c.want {
			t.Errorf("%s: partial analysis of a counted %v exposures on open paths, want %v", c.name, got, c.want)
		}
	}
}
