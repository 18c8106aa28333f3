package sqlstore_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// TestTouchedByPurlPrefix checks that a VEX statement about a package
// named by its purl without qualifiers touches the assets whose
// exposures carry that purl with qualifiers (the prefix match the
// evidence rules use), on either database.
func TestTouchedByPurlPrefix(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := ingesttest.OpenStore(t)
	report := filepath.Join("..", "..", "ingest", "trivy", "testdata", "alpine-310.json")
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, report); err != nil {
		t.Fatal(err)
	}
	var x model.Exposure
	for e, err := range st.Exposures(ctx, store.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(e.Package.PURL, "?") && len(e.VulnIDs) > 0 {
			x = e
			break
		}
	}
	if x.ID == "" {
		t.Fatal("the report gave no exposure with a qualified purl")
	}
	base, _, _ := strings.Cut(x.Package.PURL, "?")
	tx, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, asset := range []string{base, "pkg:apk/alpine/no-such-package@1"} {
		if err := tx.Evidence(model.Evidence{Kind: model.EvidenceVEXNotAffected, VulnID: x.VulnIDs[0], Asset: asset, Source: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := tx.(store.AssetTracker).TouchedAssets(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, x.Asset) {
		t.Errorf("TouchedAssets after a VEX statement on %s = %v, want %s among them", base, got, x.Asset)
	}
}
