package kpi_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/storetest"
)

// TestSnapshotsAndBands: a real Grype report on two images, analyses
// that give their exposures priorities, rescans that fix one image on
// day 3 and the other on day 10. The time to remediate by band equals the
// test's own account (the band of each exposure's highest priority), and
// the snapshots are what each analysis recorded.
func TestSnapshotsAndBands(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := storetest.Open(t)
	var clock time.Time
	st.Now = func() time.Time { return clock }
	day := 24 * time.Hour
	report, clean := "testdata/check_all_fields.json", "testdata/no_vuln.json"
	images := []string{"registry.example.com/shop/a:1", "registry.example.com/shop/b:1"}
	ingestAt := func(at time.Time, file, target string) {
		t.Helper()
		clock = at
		if _, err := ingesttest.Ingest(st, detect(t, file), ingest.Options{Target: target}, file); err != nil {
			t.Fatalf("ingest %s: %v", file, err)
		}
	}
	for _, img := range images {
		ingestAt(base, report, img)
	}
	// Each image's exposures, by id.
	byImage := map[string][]string{}
	for x, err := range st.Exposures(ctx, store.Filter{ByID: true}) {
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range images {
			if x.Asset == model.ImageKey(img) {
				byImage[img] = append(byImage[img], x.ID)
			}
		}
	}
	a, b := byImage[images[0]], byImage[images[1]]
	if len(a) < 3 || len(b) < 3 {
		t.Fatalf("exposures per image: %d and %d, want at least 3 each", len(a), len(b))
	}
	// The priorities: the first analysis ranks a[0] P1 and b[0] P3, the
	// second lowers a[0] to P3 (its peak stays P1) and raises b[0] to P2;
	// a[1] and b[1] are P2 once; the rest are on no path.
	prio := map[string][]float64{a[0]: {5, 0.05}, b[0]: {0.05, 0.5}, a[1]: {0.3, 0}, b[1]: {0, 0.2}}
	pathOf := func(id, jewel string, risk float64, valid bool) store.StoredPath {
		return store.StoredPath{ID: id, Entry: "network:lb", Target: "read:" + jewel, Jewel: jewel, Likelihood: risk / 10, Risk: risk,
			Validated: valid, Steps: `[{"evidence":["reachable-call","exposure:x"]}]`, Summary: id}
	}
	analyses := []struct {
		at    time.Time
		paths []store.StoredPath
	}{
		{base.Add(time.Hour), []store.StoredPath{pathOf("p1", "db", 5, true), pathOf("p2", "db", 0.3, false), pathOf("p3", "bucket", 0.05, false)}},
		{base.Add(2 * day), []store.StoredPath{pathOf("p1", "db", 0.5, true), pathOf("p4", "bucket", 0.2, true)}},
	}
	for i, an := range analyses {
		rec := &store.AnalysisRecord{Analysis: store.Analysis{At: an.at, IngestSeq: int64(i + 2)}, Paths: an.paths}
		for id, ps := range prio {
			if ps[i] > 0 {
				rec.Priorities = append(rec.Priorities, store.StoredPriority{ExposureID: id, Anchor: "x", RiskRemoved: ps[i]})
			}
		}
		if _, _, err := st.RecordAnalysis(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	fixAt := map[string]time.Time{images[0]: base.Add(3 * day), images[1]: base.Add(10*day + 6*time.Hour)}
	for _, img := range images {
		ingestAt(fixAt[img], clean, img)
	}
	now := base.Add(20 * day)

	// The test's own account: each exposure's band is its highest
	// priority's; its time to remediate runs from base to its image's fix.
	peak := func(id string) float64 {
		p := 0.0
		for _, v := range prio[id] {
			p = math.Max(p, v)
		}
		return p
	}
	band := func(p float64) string {
		switch {
		case p >= 1:
			return "p1"
		case p >= 0.1:
			return "p2"
		case p > 0:
			return "p3"
		}
		return "off-path"
	}
	durs := map[string][]time.Duration{}
	for img, ids := range byImage {
		for _, id := range ids {
			durs[band(peak(id))] = append(durs[band(peak(id))], fixAt[img].Sub(base))
		}
	}
	var want []kpi.Remediation
	for _, bd := range []string{"p1", "p2", "p3", "off-path"} {
		ds := durs[bd]
		if len(ds) == 0 {
			continue
		}
		slices.Sort(ds)
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		// Nearest rank: the smallest duration with at least 90% at or below it.
		var p90 time.Duration
		for i, d := range ds {
			if float64(i+1) >= 0.9*float64(len(ds)) {
				p90 = d
				break
			}
		}
		want = append(want, kpi.Remediation{Band: bd, Fixed: len(ds), Mean: sum / time.Duration(len(ds)), P90: p90})
	}
	// One team owns both jewels; their figures add up.
	owner := func(string) string { return "team-shop" }
	got, err := kpi.Compute(ctx, st, kpi.Options{Now: now, Since: 30 * day, Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got.ByBand, want); diff != "" {
		t.Errorf("Compute().ByBand (-got +want):\n%s", diff)
	}
	if len(want) < 3 {
		t.Errorf("the script covers %d bands, want at least 3", len(want))
	}
	wantSnaps := []kpi.Snapshot{
		{AnalysisID: 1, At: analyses[0].at, OpenPaths: 3, ValidatedPaths: 1, ValidatedBy: map[string]int{"reachable-call": 1}, Risk: 5.35,
			Jewels: map[string]kpi.JewelSnapshot{"db": {OpenPaths: 2, ValidatedPaths: 1, Risk: 5.3}, "bucket": {OpenPaths: 1, Risk: 0.05}},
			Teams:  map[string]kpi.JewelSnapshot{"team-shop": {OpenPaths: 3, ValidatedPaths: 1, Risk: 5.35}}},
		// A full analysis: p2 and p3 close.
		{AnalysisID: 2, At: analyses[1].at, OpenPaths: 2, ValidatedPaths: 2, ValidatedBy: map[string]int{"reachable-call": 2}, Risk: 0.7,
			Jewels: map[string]kpi.JewelSnapshot{"db": {OpenPaths: 1, ValidatedPaths: 1, Risk: 0.5}, "bucket": {OpenPaths: 1, ValidatedPaths: 1, Risk: 0.2}},
			Teams:  map[string]kpi.JewelSnapshot{"team-shop": {OpenPaths: 2, ValidatedPaths: 2, Risk: 0.7}}},
	}
	approx := cmp.Comparer(func(x, y float64) bool { return math.Abs(x-y) < 1e-9 })
	if diff := cmp.Diff(got.Snapshots, wantSnaps, approx); diff != "" {
		t.Errorf("Compute().Snapshots (-got +want):\n%s", diff)
	}
}
