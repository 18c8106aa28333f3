package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/store"
)

// TestGetByID checks that each get-by-id returns the record its listing
// gives, and an error wrapping store.ErrNotFound for an absent id, a
// prefix of a present one included (listings match prefixes, gets do not).
func TestGetByID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := ingesttest.OpenStore(t)
	report := filepath.Join("..", "..", "ingest", "trivy", "testdata", "all_statuses.json")
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, report); err != nil {
		t.Fatal(err)
	}
	f := collect(t, st.Findings(ctx, store.Filter{Limit: 1}))[0]
	x := collect(t, st.Exposures(ctx, store.Filter{Limit: 1, History: true}))[0]
	a := collect(t, st.Assets(ctx, store.Filter{Limit: 1}))[0]
	sc := collect(t, st.Scans(ctx, store.Filter{Limit: 1}))[0]

	if sc.ParserVersion != trivy.ParserVersion {
		t.Errorf("Scans()[0].ParserVersion = %q, want %q", sc.ParserVersion, trivy.ParserVersion)
	}

	gotF, err := st.Finding(ctx, f.ID)
	if err != nil || !cmp.Equal(gotF, f) {
		t.Errorf("Finding(%s) = %v, diff (-got +want):\n%s", f.ID, err, cmp.Diff(gotF, f))
	}
	gotX, err := st.Exposure(ctx, x.ID)
	if err != nil || !cmp.Equal(gotX, x) {
		t.Errorf("Exposure(%s) = %v, diff (-got +want):\n%s", x.ID, err, cmp.Diff(gotX, x))
	}
	gotA, err := st.Asset(ctx, a.Key)
	if err != nil || !cmp.Equal(gotA, a) {
		t.Errorf("Asset(%s) = %v, diff (-got +want):\n%s", a.Key, err, cmp.Diff(gotA, a))
	}
	gotS, err := st.Scan(ctx, sc.ID)
	if err != nil || !cmp.Equal(gotS, sc) {
		t.Errorf("Scan(%s) = %v, diff (-got +want):\n%s", sc.ID, err, cmp.Diff(gotS, sc))
	}

	for _, tc := range []struct {
		name string
		get  func(string) error
		id   string
	}{
		{"Finding", func(id string) error { _, err := st.Finding(ctx, id); return err }, f.ID[:6]},
		{"Exposure", func(id string) error { _, err := st.Exposure(ctx, id); return err }, x.ID[:6]},
		{"Asset", func(id string) error { _, err := st.Asset(ctx, id); return err }, "image:nope"},
		{"Scan", func(id string) error { _, err := st.Scan(ctx, id); return err }, "0000000000000000"},
	} {
		if err := tc.get(tc.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s(%q) = %v, want an error wrapping store.ErrNotFound", tc.name, tc.id, err)
		}
	}
}
