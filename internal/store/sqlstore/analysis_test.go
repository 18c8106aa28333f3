package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// TestAnalysisExposuresAsListed checks that the analysis's one-pass read
// gives every open exposure as the listing by id does (findings, tools,
// merged vulnerability ids, CWEs, CVSS vectors, last sighting), with and
// without an asset filter, on real reports, a rescan and a triage
// decision.
func TestAnalysisExposuresAsListed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := mixedStore(t)
	for _, name := range []string{"all_statuses.json", "alpine-310.json", "cvssv4_severity_source.json"} {
		path := filepath.Join("..", "..", "ingest", "trivy", "testdata", name)
		if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, path); err != nil {
			t.Fatal(err)
		}
	}
	web := webPrefix(t, st)
	withCVSS := 0
	for _, assets := range [][]string{nil, {web}, {"no-such-asset"}} {
		want := collect(t, st.Exposures(ctx, store.Filter{Statuses: []model.Status{model.StatusOpen}, Assets: assets, ByID: true}))
		got := collect(t, st.AnalysisExposures(ctx, assets, "", ""))
		// Read in two ranges of ids, as the analysis does.
		halves := append(collect(t, st.AnalysisExposures(ctx, assets, "", "8")), collect(t, st.AnalysisExposures(ctx, assets, "8", ""))...)
		if diff := cmp.Diff(halves, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("AnalysisExposures(%v) in two ranges differs from one read (-halves +one):\n%s", assets, diff)
		}
		if assets == nil && len(want) < 50 {
			t.Fatalf("Exposures(open) = %d exposures, want a test of at least 50", len(want))
		}
		if diff := cmp.Diff(got, want, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("AnalysisExposures(%v) differs from Exposures (-got +want):\n%s", assets, diff)
		}
		for _, x := range got {
			if len(x.CVSS) > 0 {
				withCVSS++
			}
		}
	}
	if withCVSS == 0 {
		t.Errorf("AnalysisExposures gave no exposure with CVSS vectors; the test data should have some")
	}
}
