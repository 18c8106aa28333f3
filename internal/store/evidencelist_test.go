package store_test

import (
	"errors"
	"testing"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

func TestEvidenceCursor(t *testing.T) {
	t.Parallel()
	for _, e := range []model.Evidence{
		{Kind: model.EvidenceProbeConfirmed, Asset: "k8s:prod/shop/Deployment/shop-api", FindingID: "0123456789abcdef", Source: "ctem-validate"},
		{Kind: model.EvidenceVEXNotAffected, VulnID: "CVE-2021-44228", Source: `evil"source],["x`},
		{},
	} {
		c := store.EvidenceCursor(e)
		got, err := store.ParseEvidenceCursor(c)
		if err != nil || got != store.KeyOf(e) {
			t.Errorf("ParseEvidenceCursor(EvidenceCursor(%+v)) = %q, %v; want %q", e, got, err, store.KeyOf(e))
		}
	}
	for _, c := range []string{"", "bm9wZQ", "!!", store.Cursor(model.Finding{ID: "x"}), "ZVsiYSJd"} {
		if _, err := store.ParseEvidenceCursor(c); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ParseEvidenceCursor(%q) = %v, want ErrInvalid", c, err)
		}
	}
}

// FuzzParseEvidenceCursor checks that any text either is refused with
// ErrInvalid or names a key whose cursor reads back the same.
func FuzzParseEvidenceCursor(f *testing.F) {
	f.Add(store.EvidenceCursor(model.Evidence{Kind: "kev", Asset: "a", Source: "s"}))
	f.Add("ZVsiYSJd")
	f.Add("")
	f.Fuzz(func(t *testing.T, c string) {
		k, err := store.ParseEvidenceCursor(c)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("ParseEvidenceCursor(%q) = %v, want ErrInvalid", c, err)
			}
			return
		}
		e := model.Evidence{Kind: model.EvidenceKind(k[0]), Asset: k[1], VulnID: k[2], FindingID: k[3], Source: k[4]}
		if again, err := store.ParseEvidenceCursor(store.EvidenceCursor(e)); err != nil || again != k {
			t.Fatalf("round trip of %q = %q, %v; want %q", k, again, err, k)
		}
	})
}
