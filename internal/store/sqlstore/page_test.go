package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/sarif"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
	"github.com/ctem-dev/ctem/internal/synth"
)

// mixedStore returns a store of two images (one rescanned with some
// vulnerabilities gone), a real SARIF log, and a triage decision, so that
// every filter selects something and leaves something out.
func mixedStore(t *testing.T) *sqlstore.DB {
	t.Helper()
	st := ingesttest.OpenStore(t)
	dir := t.TempDir()
	a1 := writeTrivy(t, dir, "a1.json", synth.Trivy{Image: "shop/api:1", Findings: 60, Results: 2, Seed: 1})
	a2 := writeTrivy(t, dir, "a2.json", synth.Trivy{Image: "shop/api:1", Findings: 60, Results: 2, Seed: 1, Drop: 5})
	w1 := writeTrivy(t, dir, "w1.json", synth.Trivy{Image: "shop/web:2", Findings: 45, Results: 3, Seed: 2})
	gosec := filepath.Join("..", "..", "ingest", "sarif", "testdata", "gh-app-auth-gosec.sarif")
	for _, in := range []struct {
		f      ingest.Format
		path   string
		target string
	}{{trivy.Format, a1, ""}, {trivy.Format, w1, ""}, {trivy.Format, a2, ""}, {sarif.Format, gosec, "https://github.com/acme/app"}} {
		if _, err := ingesttest.Ingest(st, in.f, ingest.Options{Target: in.target}, in.path); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	x := collect(t, st.Exposures(ctx, store.Filter{Statuses: []model.Status{model.StatusOpen}, Limit: 1}))[0]
	if _, err := st.Triage(ctx, store.Decision{ExposureID: x.ID, Status: model.StatusFalsePositive, Reason: "test", By: "t"}); err != nil {
		t.Fatal(err)
	}
	return st
}

// webPrefix returns a prefix of the second image's asset key, with the
// trailing * of a prefix filter.
func webPrefix(t *testing.T, st store.Store) string {
	t.Helper()
	for _, a := range collect(t, st.Assets(context.Background(), store.Filter{})) {
		if strings.Contains(a.Key, "shop/web:2") {
			return strings.TrimSuffix(a.Key, "web:2") + "w*"
		}
	}
	t.Fatal("no asset of shop/web:2")
	return ""
}

// filters returns the filters of the test: each field alone and some
// together, with values taken from the store's own records.
func filters(t *testing.T, st store.Store) map[string]store.Filter {
	t.Helper()
	ctx := context.Background()
	fs := collect(t, st.Findings(ctx, store.Filter{}))
	scans := collect(t, st.Scans(ctx, store.Filter{}))
	mid := fs[len(fs)/2]
	web := webPrefix(t, st)
	return map[string]store.Filter{
		"none":          {},
		"severity":      {Severities: []model.Severity{model.SeverityCritical, model.SeverityHigh}},
		"tool":          {Tools: []string{"trivy"}},
		"no such tool":  {Tools: []string{"no-such-tool"}},
		"asset prefix":  {Assets: []string{web}},
		"asset exact":   {Assets: []string{mid.Asset}},
		"status open":   {Statuses: []model.Status{model.StatusOpen}},
		"status fixed":  {Statuses: []model.Status{model.StatusFixed}},
		"status fp":     {Statuses: []model.Status{model.StatusFalsePositive}},
		"cve":           {VulnIDs: []string{mid.VulnIDs[0], "cve-2001-10001"}},
		"kind":          {Kinds: []string{string(mid.Kind)}},
		"id prefix":     {IDs: []string{mid.ID[:4], mid.ExposureID[:5]}},
		"scan":          {ScanID: scans[0].ID},
		"since":         {Since: scans[1].StartedAt},
		"tool+severity": {Tools: []string{"trivy"}, Severities: []model.Severity{model.SeverityMedium}, Statuses: []model.Status{model.StatusOpen}},
		"asset+cve":     {Assets: []string{"image:*"}, VulnIDs: []string{mid.VulnIDs[0]}},
	}
}

// readAll reads a listing with filter f, whole or by pages of n through
// the cursor, and returns the ids in the order read.
func readAll[T any](t *testing.T, list func(store.Filter) func(func(T, error) bool), id func(T) string, f store.Filter, n int) []string {
	t.Helper()
	var out []string
	if n == 0 {
		for _, v := range collect(t, list(f)) {
			out = append(out, id(v))
		}
		return out
	}
	f.Limit = n
	for pages := 0; ; pages++ {
		page := collect(t, list(f))
		for _, v := range page {
			out = append(out, id(v))
		}
		if len(page) < n {
			return out
		}
		f.After = store.Cursor(page[len(page)-1])
		if pages > 10000 {
			t.Fatal("paging does not end")
		}
	}
}

// TestEveryFilterWithEverySort checks that each filter of the findings
// and exposures listings gives the same set of records in every sort
// order, that a page-by-page read through the cursor gives the same
// sequence as one read, and that the filters select what they say.
func TestEveryFilterWithEverySort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := mixedStore(t)
	allF := collect(t, st.Findings(ctx, store.Filter{}))
	allX := collect(t, st.Exposures(ctx, store.Filter{}))
	findings := func(f store.Filter) func(func(model.Finding, error) bool) { return st.Findings(ctx, f) }
	exposures := func(f store.Filter) func(func(model.Exposure, error) bool) { return st.Exposures(ctx, f) }
	fid := func(f model.Finding) string { return f.ID }
	xid := func(x model.Exposure) string { return x.ID }
	for name, f := range filters(t, st) {
		var wantF, wantX []string
		for _, s := range store.Sorts {
			f := f
			f.Sort = s
			gotF := readAll(t, findings, fid, f, 0)
			gotX := readAll(t, exposures, xid, f, 0)
			if s == store.SortSeverity {
				wantF, wantX = slices.Sorted(slices.Values(gotF)), slices.Sorted(slices.Values(gotX))
				if name == "none" && (len(gotF) != len(allF) || len(gotX) != len(allX)) {
					t.Fatalf("no filter: %d findings, %d exposures; want %d, %d", len(gotF), len(gotX), len(allF), len(allX))
				}
				if name == "no such tool" && (len(gotF) != 0 || len(gotX) != 0) {
					t.Errorf("tool no-such-tool: %d findings, %d exposures; want none", len(gotF), len(gotX))
				}
				if name != "none" && name != "no such tool" && (len(gotX) == 0 || len(gotX) == len(allX)) {
					t.Errorf("filter %s selects %d of %d exposures; the test wants it to select some and not all", name, len(gotX), len(allX))
				}
			}
			if diff := cmp.Diff(slices.Sorted(slices.Values(gotF)), wantF); diff != "" {
				t.Errorf("Findings(%s, sort %s): set differs from sort severity (-got +want):\n%s", name, s, diff)
			}
			if diff := cmp.Diff(slices.Sorted(slices.Values(gotX)), wantX); diff != "" {
				t.Errorf("Exposures(%s, sort %s): set differs from sort severity (-got +want):\n%s", name, s, diff)
			}
			for _, n := range []int{1, 7} {
				if diff := cmp.Diff(readAll(t, findings, fid, f, n), gotF); diff != "" {
					t.Errorf("Findings(%s, sort %s) by pages of %d (-got +want):\n%s", name, s, n, diff)
				}
				if diff := cmp.Diff(readAll(t, exposures, xid, f, n), gotX); diff != "" {
					t.Errorf("Exposures(%s, sort %s) by pages of %d (-got +want):\n%s", name, s, n, diff)
				}
			}
		}
	}
	// Each sort is the order it names.
	for _, tc := range []struct {
		sort store.Sort
		cmp  func(a, b model.Finding) int
	}{
		{store.SortSeverity, func(a, b model.Finding) int { return b.Severity.Rank() - a.Severity.Rank() }},
		{store.SortID, func(a, b model.Finding) int { return strings.Compare(a.ID, b.ID) }},
		{store.SortNewest, func(a, b model.Finding) int { return b.FirstSeen.Compare(a.FirstSeen) }},
	} {
		got := collect(t, st.Findings(ctx, store.Filter{Sort: tc.sort}))
		if !slices.IsSortedFunc(got, tc.cmp) {
			t.Errorf("Findings(sort %s) is not in that order", tc.sort)
		}
	}
	// The filters mean what they say, checked against the records.
	for _, tc := range []struct {
		name string
		f    store.Filter
		keep func(model.Finding) bool
	}{
		{"tool", store.Filter{Tools: []string{"gosec"}}, func(f model.Finding) bool { return f.Tool == "gosec" }},
		{"asset prefix", store.Filter{Assets: []string{webPrefix(t, st)}}, func(f model.Finding) bool { return strings.Contains(f.Asset, "shop/web:2") }},
		{"status", store.Filter{Statuses: []model.Status{model.StatusFixed}}, func(f model.Finding) bool { return f.Status == model.StatusFixed }},
		{"cve", store.Filter{VulnIDs: []string{"cve-2001-10001"}}, func(f model.Finding) bool { return slices.Contains(f.VulnIDs, "CVE-2001-10001") }},
	} {
		var want []string
		for _, f := range allF {
			if tc.keep(f) {
				want = append(want, f.ID)
			}
		}
		got := readAll(t, findings, fid, tc.f, 0)
		slices.Sort(got)
		slices.Sort(want)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("Findings(%s) = %d findings, want the %d that match", tc.name, len(got), len(want))
		}
	}
	// Other listings page the same way.
	assets := readAll(t, func(f store.Filter) func(func(model.Asset, error) bool) { return st.Assets(ctx, f) }, func(a model.Asset) string { return a.Key }, store.Filter{}, 0)
	if got := readAll(t, func(f store.Filter) func(func(model.Asset, error) bool) { return st.Assets(ctx, f) }, func(a model.Asset) string { return a.Key }, store.Filter{}, 2); !slices.Equal(got, assets) || len(assets) < 3 {
		t.Errorf("Assets by pages of 2 = %v, want %v", got, assets)
	}
	scans := readAll(t, func(f store.Filter) func(func(model.Scan, error) bool) { return st.Scans(ctx, f) }, func(s model.Scan) string { return s.ID }, store.Filter{}, 0)
	if got := readAll(t, func(f store.Filter) func(func(model.Scan, error) bool) { return st.Scans(ctx, f) }, func(s model.Scan) string { return s.ID }, store.Filter{}, 1); !slices.Equal(got, scans) || len(scans) < 3 {
		t.Errorf("Scans by pages of 1 = %v, want %v", got, scans)
	}
}

// TestListingsRefuse checks that a filter a listing has no meaning for,
// an unknown sort and a cursor of another listing are errors wrapping
// store.ErrInvalid, not silently ignored.
func TestListingsRefuse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := mixedStore(t)
	f := collect(t, st.Findings(ctx, store.Filter{Limit: 1}))[0]
	for _, tc := range []struct {
		name string
		err  func() error
	}{
		{"assets by severity", func() error {
			return firstErr(st.Assets(ctx, store.Filter{Severities: []model.Severity{model.SeverityHigh}}))
		}},
		{"scans by status", func() error { return firstErr(st.Scans(ctx, store.Filter{Statuses: []model.Status{model.StatusOpen}})) }},
		{"findings by an unknown sort", func() error { return firstErr(st.Findings(ctx, store.Filter{Sort: "priority"})) }},
		{"exposures after a finding's cursor", func() error { return firstErr(st.Exposures(ctx, store.Filter{After: store.Cursor(f)})) }},
		{"findings after garbage", func() error { return firstErr(st.Findings(ctx, store.Filter{After: "%%%"})) }},
		{"findings after an absent finding", func() error {
			return firstErr(st.Findings(ctx, store.Filter{After: store.Cursor(model.Finding{ID: "ffffffffffffffff"})}))
		}},
	} {
		if err := tc.err(); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: error %v, want one wrapping store.ErrInvalid", tc.name, err)
		}
	}
}

func firstErr[T any](seq func(func(T, error) bool)) error {
	for _, err := range seq {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestCursorReadWhileIngesting reads every finding of a generated
// database page by page while other ingests commit between the pages
// (new images, and an unchanged rescan of the one read), and checks that
// every finding present at the start is read exactly once. The size is
// CTEM_PAGE_FINDINGS (default 20,000; the figure is 1,000,000).
func TestCursorReadWhileIngesting(t *testing.T) {
	t.Parallel()
	n := 20_000
	if v := os.Getenv("CTEM_PAGE_FINDINGS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("CTEM_PAGE_FINDINGS=%q: %v", v, err)
		}
	}
	ctx := context.Background()
	st := ingesttest.OpenStore(t)
	dir := t.TempDir()
	base := writeTrivy(t, dir, "base.json", synth.Trivy{Image: "shop/api:1", Findings: n, Results: 10})
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, base); err != nil {
		t.Fatal(err)
	}
	var c store.Counts
	var err error
	if c, err = st.Counts(ctx); err != nil || c.Findings != n {
		t.Fatalf("Counts() = %+v, %v; want %d findings", c, err, n)
	}
	// Ingests run while the read goes on.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	ingErr := make(chan error, 1)
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := base
			if i%2 == 1 {
				p = writeTrivy(t, dir, fmt.Sprintf("new%d.json", i), synth.Trivy{Image: fmt.Sprintf("shop/new:%d", i), Findings: 500, Results: 1, Seed: uint64(i)})
			}
			if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, p); err != nil {
				ingErr <- err
				return
			}
		}
	})
	start0 := collect(t, st.Findings(ctx, store.Filter{Sort: store.SortID}))
	seen := map[string]int{}
	f := store.Filter{Limit: 1000}
	pages := 0
	start := time.Now()
	for {
		page := collect(t, st.Findings(ctx, f))
		for _, x := range page {
			seen[x.ID]++
		}
		pages++
		if len(page) < f.Limit {
			break
		}
		f.After = store.Cursor(page[len(page)-1])
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-ingErr:
		t.Fatal(err)
	default:
	}
	// Every finding read at most once; every finding there at the start
	// read exactly once (those the ingests added may or may not be).
	twice := 0
	for id, k := range seen {
		if k != 1 {
			twice++
			if twice < 5 {
				t.Errorf("finding %s read %d times", id, k)
			}
		}
	}
	missed := 0
	for _, x := range start0 {
		if seen[x.ID] != 1 {
			missed++
		}
	}
	if missed > 0 || twice > 0 || len(start0) != n {
		t.Errorf("of the %d findings there at the start, %d not read once; %d read twice or more; want 0, 0", len(start0), missed, twice)
	}
	after, err := st.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d findings at the start, %d at the end; %d read in %d pages of %d in %v while ingests ran", n, after.Findings, len(seen), pages, f.Limit, time.Since(start))
}
