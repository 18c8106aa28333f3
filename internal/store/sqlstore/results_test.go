package sqlstore_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/storetest"
)

func openResults(t *testing.T) store.Results {
	t.Helper()
	return storetest.Open(t)
}

func path(id, jewel string, risk float64) store.StoredPath {
	return store.StoredPath{ID: id, Entry: "network:lb", Target: "read:" + jewel, Jewel: jewel, Likelihood: risk / 10, Risk: risk, Steps: "[]", Summary: id}
}

func events(evs []store.PathEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Event+" "+e.PathID)
	}
	return out
}

// TestRecordAnalysis: events come out in a stable order, a partial
// analysis replaces only the results of its components and closes only
// paths to its jewels, and an analysis that read older data is refused.
func TestRecordAnalysis(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openResults(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	feeds := func(d int) []store.FeedVersion { return []store.FeedVersion{{Feed: "kev", DataDate: day(d)}} }

	full := &store.AnalysisRecord{
		Analysis: store.Analysis{At: at, IngestSeq: 3, Scope: store.ScopeRef{Source: "stored", Version: 2, Digest: "d"}, Feeds: feeds(2)},
		Paths:    []store.StoredPath{path("p9", "db", 9), path("p1", "db", 5), path("p5", "bucket", 3)},
		Priorities: []store.StoredPriority{
			{ExposureID: "x1", Anchor: "api", RiskRemoved: 9}, {ExposureID: "x2", Anchor: "worker", RiskRemoved: 3}},
		Plan:       []store.StoredAction{{Anchor: "api", Data: "a"}, {Anchor: "worker", Data: "w"}},
		JewelRisks: []store.JewelRisk{{Jewel: "db", Value: 10, Risk: 9}, {Jewel: "bucket", Value: 5, Risk: 3}},
	}
	a, evs, err := st.RecordAnalysis(ctx, full)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(events(evs), []string{"opened p9", "opened p1", "opened p5"}); a.ID != 1 || diff != "" {
		t.Errorf("RecordAnalysis(full) = id %d, events (-got +want):\n%s", a.ID, diff)
	}

	// A partial analysis of the api's component, which holds jewel db:
	// both its paths close (in id order), the worker's results stay.
	part := &store.AnalysisRecord{
		Analysis: store.Analysis{At: at.Add(time.Hour), Partial: true, IngestSeq: 4, Scope: full.Analysis.Scope, Feeds: feeds(2)},
		Jewels:   map[string]bool{"db": true}, Covered: []string{"api", "db"},
		Priorities: []store.StoredPriority{{ExposureID: "x3", Anchor: "api", RiskRemoved: 1}},
		Plan:       []store.StoredAction{{Anchor: "api", Data: "a2"}},
		JewelRisks: []store.JewelRisk{{Jewel: "db", Value: 10, Risk: 0}},
	}
	a, evs, err = st.RecordAnalysis(ctx, part)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(events(evs), []string{"closed p1", "closed p9"}); a.ID != 2 || a.Closed != 2 || diff != "" {
		t.Errorf("RecordAnalysis(partial) = id %d, %d closed, events (-got +want):\n%s", a.ID, a.Closed, diff)
	}
	var prios []string
	for p, err := range st.StoredPriorities(ctx, store.PriorityFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		prios = append(prios, p.ExposureID)
	}
	if diff := cmp.Diff(prios, []string{"x2", "x3"}); diff != "" {
		t.Errorf("StoredPriorities() after a partial analysis (-got +want):\n%s", diff)
	}
	plan, err := st.StoredActions(ctx, store.ActionPlan)
	if err != nil {
		t.Fatal(err)
	}
	var data []string
	for _, p := range plan {
		data = append(data, p.Data)
	}
	if diff := cmp.Diff(data, []string{"w", "a2"}); diff != "" {
		t.Errorf("StoredActions(plan) after a partial analysis (-got +want):\n%s", diff)
	}
	var open []string
	for p, err := range st.OpenPaths(ctx, store.PathFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, p.ID)
	}
	if !slices.Equal(open, []string{"p5"}) {
		t.Errorf("OpenPaths() = %v, want [p5]", open)
	}
	for _, tt := range []struct {
		jewel string
		want  int
	}{{"bucket", 1}, {"buck*", 1}, {"Buck*", 0}, {"db", 0}, {"bu", 0}} {
		n := 0
		for _, err := range st.OpenPaths(ctx, store.PathFilter{Jewel: tt.jewel}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != tt.want {
			t.Errorf("OpenPaths(jewel %q) = %d paths, want %d", tt.jewel, n, tt.want)
		}
	}
	// Keyset pages of one give the same order as one listing.
	var paged []string
	var after *store.StoredPriority
	for range 3 {
		for p, err := range st.StoredPriorities(ctx, store.PriorityFilter{After: after, Limit: 1}) {
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, p.ExposureID)
			after = &p
		}
	}
	if diff := cmp.Diff(paged, prios); diff != "" {
		t.Errorf("StoredPriorities() by pages of 1 (-got +want):\n%s", diff)
	}

	// Older data of any input is refused and changes nothing.
	for _, tt := range []struct {
		name string
		a    store.Analysis
	}{
		{"ingest", store.Analysis{IngestSeq: 3, Scope: full.Analysis.Scope, Feeds: feeds(2)}},
		{"scope", store.Analysis{IngestSeq: 4, Scope: store.ScopeRef{Source: "stored", Version: 1}, Feeds: feeds(2)}},
		{"feeds", store.Analysis{IngestSeq: 4, Scope: full.Analysis.Scope, Feeds: feeds(1)}},
	} {
		if _, _, err := st.RecordAnalysis(ctx, &store.AnalysisRecord{Analysis: tt.a}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("RecordAnalysis(older %s) = %v, want ErrConflict", tt.name, err)
		}
	}
	last, ok, err := st.LatestAnalysis(ctx)
	if err != nil || !ok || last.ID != 2 || last.IngestSeq != 4 || !last.Partial || len(last.Feeds) != 1 {
		t.Errorf("LatestAnalysis() = %+v, %v, %v; want analysis 2", last, ok, err)
	}
	// The same data again is no conflict.
	if _, _, err := st.RecordAnalysis(ctx, &store.AnalysisRecord{Analysis: store.Analysis{IngestSeq: 4, Scope: full.Analysis.Scope, Feeds: feeds(3)}}); err != nil {
		t.Errorf("RecordAnalysis(same data, newer feeds) = %v, want nil", err)
	}
}

// TestScopeVersions: setting the same scope twice keeps one version.
func TestScopeVersions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openResults(t)
	if _, ok, err := st.LatestScope(ctx); ok || err != nil {
		t.Fatalf("LatestScope() of a new database = %v, %v; want none", ok, err)
	}
	at := time.Unix(1, 0)
	for i, tt := range []struct {
		data        string
		wantVersion int64
		wantNew     bool
	}{{"a: 1\n", 1, true}, {"a: 1\n", 1, false}, {"a: 2\n", 2, true}} {
		v, changed, err := st.SetScope(ctx, "ctem.yaml", []byte(tt.data), at)
		if err != nil || v.Version != tt.wantVersion || changed != tt.wantNew {
			t.Errorf("SetScope #%d = version %d, new %v, %v; want %d, %v", i, v.Version, changed, err, tt.wantVersion, tt.wantNew)
		}
	}
	v, ok, err := st.LatestScope(ctx)
	if err != nil || !ok || string(v.Data) != "a: 2\n" || v.Version != 2 {
		t.Errorf("LatestScope() = %+v, %v, %v; want version 2", v, ok, err)
	}
	if _, _, err := st.SetCodeOwners(ctx, "repo", "CODEOWNERS", []byte("* @a\n"), at); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.SetCodeOwners(ctx, "repo", "CODEOWNERS", []byte("* @b\n"), at); err != nil {
		t.Fatal(err)
	}
	cos, err := st.CodeOwners(ctx)
	if err != nil || len(cos) != 1 || cos[0].Version != 2 || string(cos[0].Data) != "* @b\n" {
		t.Errorf("CodeOwners() = %+v, %v; want repo's version 2", cos, err)
	}
}

// TestRecordAnalysisWritesChangesOnly: an analysis rewrites only the
// stored results that changed since the last one (an unchanged priority
// or asset context keeps the analysis that wrote it), deletes those that
// went, moves an unchanged path's analysis on, and counts the exposures
// on open paths (a stored link of an earlier analysis included) as the
// database does.
func TestRecordAnalysisWritesChangesOnly(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := storetest.Open(t)
	db := st.SQL()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	scope := store.ScopeRef{Source: "stored", Version: 1, Digest: "d"}
	rec := func(n int64, partial bool, paths []store.StoredPath, links map[string][]string, prios []store.StoredPriority, ctxs []store.AssetContext) {
		t.Helper()
		r := &store.AnalysisRecord{Analysis: store.Analysis{At: at.Add(time.Duration(n) * time.Hour), IngestSeq: n, Partial: partial, Scope: scope},
			Paths: paths, PathExposures: links, Priorities: prios, Contexts: ctxs}
		if partial {
			r.Jewels, r.Covered = map[string]bool{"bucket": true}, []string{"worker", "bucket"}
		}
		if a, _, err := st.RecordAnalysis(ctx, r); err != nil || a.ID != n {
			t.Fatalf("RecordAnalysis #%d = %d, %v; want analysis %d", n, a.ID, err, n)
		}
	}
	rec(1, false, []store.StoredPath{path("p1", "db", 9), path("p2", "db", 5)}, map[string][]string{"p1": {"x2", "x1"}, "p2": {"x3"}},
		[]store.StoredPriority{{ExposureID: "x1", Anchor: "api", RiskRemoved: 9, Paths: 1}, {ExposureID: "x2", Anchor: "api", RiskRemoved: 3, Paths: 1},
			{ExposureID: "x3", Anchor: "api", RiskRemoved: 1, Paths: 1}},
		[]store.AssetContext{{Key: "api", Anchor: "api", Data: "a"}, {Key: "worker", Anchor: "worker", Data: "w"}})
	// p2 changes (its exposure x3 is no longer on it, but its stored link
	// stays), p3 opens; x1 and api's context are unchanged, x2 and
	// worker's context change, x3 goes, x4 comes.
	rec(2, false, []store.StoredPath{path("p1", "db", 9), path("p2", "db", 6), path("p3", "bucket", 2)}, map[string][]string{"p1": {"x1", "x2"}, "p2": {"x1"}, "p3": {"x4"}},
		[]store.StoredPriority{{ExposureID: "x1", Anchor: "api", RiskRemoved: 9, Paths: 2}, {ExposureID: "x2", Anchor: "api", RiskRemoved: 4, Paths: 1},
			{ExposureID: "x4", Anchor: "worker", RiskRemoved: 2, Paths: 1}},
		[]store.AssetContext{{Key: "api", Anchor: "api", Data: "a"}, {Key: "worker", Anchor: "worker", Data: "w2"}})

	type row struct {
		Key  string
		ID   int64
		Risk float64
	}
	rows := func(q string) []row {
		t.Helper()
		rs, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		var out []row
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.Key, &r.ID, &r.Risk); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	// x1 is unchanged but for its paths count: rewritten. p1 is as it
	// was: not rewritten, but last seen by analysis 2.
	for _, tt := range []struct {
		q    string
		want []row
	}{
		{`SELECT exposure_id, analysis_id, risk_removed FROM analysis_priorities ORDER BY exposure_id`, []row{{"x1", 2, 9}, {"x2", 2, 4}, {"x4", 2, 2}}},
		{`SELECT key, analysis_id, 0.0 FROM asset_contexts ORDER BY key`, []row{{"api", 1, 0}, {"worker", 2, 0}}},
		{`SELECT id, analysis_id, risk FROM paths ORDER BY id`, []row{{"p1", 2, 9}, {"p2", 2, 6}, {"p3", 2, 2}}},
		{`SELECT id, last_seen, 0.0 FROM paths WHERE id = 'p1'`, []row{{"p1", at.Add(2 * time.Hour).UnixMicro(), 0}}},
	} {
		if diff := cmp.Diff(rows(tt.q), tt.want); diff != "" {
			t.Errorf("%s after a second analysis (-got +want):\n%s", tt.q, diff)
		}
	}
	// The same results again rewrite no priority or context.
	prios := []store.StoredPriority{{ExposureID: "x1", Anchor: "api", RiskRemoved: 9, Paths: 2}, {ExposureID: "x2", Anchor: "api", RiskRemoved: 4, Paths: 1},
		{ExposureID: "x4", Anchor: "worker", RiskRemoved: 2, Paths: 1}}
	rec(3, false, []store.StoredPath{path("p1", "db", 9), path("p2", "db", 6), path("p3", "bucket", 2)}, map[string][]string{"p1": {"x1", "x2"}, "p2": {"x1"}, "p3": {"x4"}},
		prios, []store.AssetContext{{Key: "api", Anchor: "api", Data: "a"}, {Key: "worker", Anchor: "worker", Data: "w2"}})
	if diff := cmp.Diff(rows(`SELECT exposure_id, analysis_id, risk_removed FROM analysis_priorities ORDER BY exposure_id`), []row{{"x1", 2, 9}, {"x2", 2, 4}, {"x4", 2, 2}}); diff != "" {
		t.Errorf("priorities after the same analysis again (-got +want):\n%s", diff)
	}
	// A partial analysis of the worker's component counts in the
	// database what the full ones counted from the links they read.
	rec(4, true, []store.StoredPath{path("p3", "bucket", 2)}, map[string][]string{"p3": {"x4"}}, prios[2:], nil)
	counts := map[int64]float64{}
	for v, err := range st.KPISnapshots(ctx, time.Time{}) {
		if err != nil {
			t.Fatal(err)
		}
		if v.Dim == store.KPIWhole && v.Metric == store.MetricPathExposures {
			counts[v.AnalysisID] = v.Value
		}
	}
	// After 1: x1, x2, x3; after 2 to 4: x1, x2, x3 (p2's link of
	// analysis 1), x4.
	if diff := cmp.Diff(counts, map[int64]float64{1: 3, 2: 4, 3: 4, 4: 4}); diff != "" {
		t.Errorf("exposures on open paths by analysis (-got +want):\n%s", diff)
	}
}
