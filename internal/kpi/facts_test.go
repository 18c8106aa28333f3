package kpi_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/storetest"
)

// perExposure is the SQLite store without its aggregates
// (store.KPIFacts), so that Compute reads every exposure with its
// history one by one: the reading the aggregates must agree with.
type perExposure struct {
	store.Store
	store.KPIHistory
}

// TestAggregatesEqualPerExposure: real Grype reports on two images over
// weeks, with fixes, a reopening, a false positive and a fix decided by a
// person that a later scan disproves. Every figure Compute takes from the
// store's aggregates equals the one it computes from every exposure.
func TestAggregatesEqualPerExposure(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := storetest.Open(t)
	var clock time.Time
	st.Now = func() time.Time { return clock }
	day := 24 * time.Hour
	report, clean := "testdata/check_all_fields.json", "testdata/no_vuln.json"
	a, b := "registry.example.com/shop/a:1", "registry.example.com/shop/b:1"
	ingestAt := func(at time.Time, file, target string) []model.Scan {
		t.Helper()
		clock = at
		scans, err := ingesttest.Ingest(st, detect(t, file), ingest.Options{Target: target}, file)
		if err != nil {
			t.Fatalf("ingest %s: %v", file, err)
		}
		return scans
	}
	ingestAt(base.Add(-20*day), report, a)
	ingestAt(base.Add(day), report, b)
	var ids []string
	for x, err := range st.Exposures(ctx, store.Filter{ByID: true}) {
		if err != nil {
			t.Fatal(err)
		}
		if x.Asset == model.ImageKey(b) {
			ids = append(ids, x.ID)
		}
	}
	if len(ids) < 2 {
		t.Fatalf("exposures on %s: %d, want at least 2", b, len(ids))
	}
	for i, d := range []store.Decision{
		{ExposureID: ids[0], Status: model.StatusFalsePositive, Reason: "test fixture", By: "alice", At: base.Add(2 * day)},
		{ExposureID: ids[1], Status: model.StatusFixed, Reason: "patched by hand", By: "bob", At: base.Add(3 * day)},
	} {
		clock = d.At
		if _, err := st.Triage(ctx, d); err != nil {
			t.Fatalf("Triage(%d): %v", i, err)
		}
	}
	ingestAt(base.Add(10*day), clean, a)
	ingestAt(base.Add(17*day), report, a)
	ingestAt(base.Add(18*day), report, b)
	last := ingestAt(base.Add(30*day), clean, a)
	now := base.Add(33*day + 5*time.Hour)
	// The test's catalog: every id of even length; KEVCVEs lists them for
	// the store's indexed reading (KPIVulnsOn), nil reads every exposure.
	var kevList []string
	for x, err := range st.Exposures(ctx, store.Filter{ByID: true}) {
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range x.VulnIDs {
			if len(id)%2 == 0 && !slices.Contains(kevList, id) {
				kevList = append(kevList, id)
			}
		}
	}
	if len(kevList) == 0 {
		t.Fatal("no vulnerability id of even length: the KEV figures would test nothing")
	}
	for _, c := range []struct {
		since time.Duration
		kev   []string
	}{{90 * day, nil}, {90 * day, kevList}, {14 * day, nil}, {14 * day, kevList}, {day, kevList}} {
		since := c.since
		opt := kpi.Options{Now: now, Since: since, Owner: teamOf, Critical: critical, KEVCVEs: c.kev, KEVDue: func(cve string) (time.Time, bool) {
			return base.Add(12 * day), len(cve)%2 == 0
		}}
		got, err := kpi.Compute(ctx, st, opt)
		if err != nil {
			t.Fatal(err)
		}
		want, err := kpi.Compute(ctx, perExposure{st, st}, opt)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, want, cmpopts.IgnoreUnexported(kpi.Period{})); diff != "" {
			t.Errorf("Compute(since %v, %d KEV ids) from aggregates (-got +want per exposure):\n%s", since, len(c.kev), diff)
		}
		if since == 90*day {
			var fixed, reopened, kevs int
			for _, p := range got.Periods {
				fixed, reopened, kevs = fixed+p.Fixed, reopened+p.Reopened, kevs+p.KEVOverdue
			}
			if fixed == 0 || reopened == 0 || kevs == 0 || got.Open == 0 {
				t.Errorf("Compute(since 90d): fixed %d, reopened %d, KEV overdue %d, open %d: the script exercises too little", fixed, reopened, kevs, got.Open)
			}
		}
	}
	// Removing the last scan takes its fixes back: the aggregates kept by
	// triggers (kpi_fixes) lose its events as the events table does.
	opt := kpi.Options{Now: now, Since: 90 * day, Owner: teamOf}
	before, err := kpi.Compute(ctx, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 1 {
		t.Fatalf("the last ingest made %d scans, want 1", len(last))
	}
	if _, err := st.RemoveScan(ctx, store.ScanRemoval{ScanID: last[0].ID, Actor: "test", At: now}); err != nil {
		t.Fatal(err)
	}
	got, err := kpi.Compute(ctx, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	want, err := kpi.Compute(ctx, perExposure{st, st}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, want, cmpopts.IgnoreUnexported(kpi.Period{})); diff != "" {
		t.Errorf("Compute() after RemoveScan from aggregates (-got +want per exposure):\n%s", diff)
	}
	if got.Open <= before.Open {
		t.Errorf("Compute() after removing the scan that fixed them: open %d, want more than %d", got.Open, before.Open)
	}
}
