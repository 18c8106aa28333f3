package sqlstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
)

// TestListingWaysAgree checks that both ways of reading a listing page
// (a filter first, through its index, and the sort's order first, see
// plan.go) give the same records in the same order, page by page, for
// every filter and every sort. The small store reads every filter first
// by default; a probe cap of 1 forces the ordered walk.
func TestListingWaysAgree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := mixedStore(t)
	// Both ways on one store (its scans and times), one after the other.
	findings := func(capped int) func(f store.Filter) func(func(model.Finding, error) bool) {
		return func(f store.Filter) func(func(model.Finding, error) bool) {
			sqlstore.SetProbeCap(st, capped)
			return st.Findings(ctx, f)
		}
	}
	exposures := func(capped int) func(f store.Filter) func(func(model.Exposure, error) bool) {
		return func(f store.Filter) func(func(model.Exposure, error) bool) {
			sqlstore.SetProbeCap(st, capped)
			return st.Exposures(ctx, f)
		}
	}
	fid := func(f model.Finding) string { return fmt.Sprint(f.ID, f.Severity, f.FirstSeen.UnixMicro()) }
	xid := func(x model.Exposure) string { return fmt.Sprint(x.ID, x.Severity, x.FirstSeen.UnixMicro()) }
	for name, f := range filters(t, st) {
		for _, s := range store.Sorts {
			f := f
			f.Sort = s
			for _, n := range []int{0, 5} {
				first := readAll(t, findings(0), fid, f, n)
				walked := readAll(t, findings(1), fid, f, n)
				if diff := cmp.Diff(walked, first); diff != "" {
					t.Errorf("Findings(%s, sort %s, pages of %d): ordered walk differs from filter first (-walk +first):\n%s", name, s, n, diff)
				}
				xfirst := readAll(t, exposures(0), xid, f, n)
				xwalked := readAll(t, exposures(1), xid, f, n)
				if diff := cmp.Diff(xwalked, xfirst); diff != "" {
					t.Errorf("Exposures(%s, sort %s, pages of %d): ordered walk differs from filter first (-walk +first):\n%s", name, s, n, diff)
				}
			}
		}
	}
}
