package graph

import (
	"slices"
	"testing"

	"github.com/ctem-dev/ctem/internal/model"
)

// TestCompromisedEntry is the positive and negative twin of the
// EntryCompromised entry on diamond's estate: a compromised workload
// runs code (its service account reads the jewel), a compromised service
// account holds its credentials, and an asset with no way to the jewel
// reaches nothing.
func TestCompromisedEntry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		asset     string
		kind      model.AssetKind
		wantEntry string
		wantPaths int
	}{
		{"w2", model.KindWorkload, "exec:w2", 1},
		{"sa", model.KindIdentity, "identity:sa", 1},
		{"bucket", model.KindDatastore, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.asset, func(t *testing.T) {
			t.Parallel()
			in := diamond()
			in.Assets = []model.Asset{{Key: "w1", Kind: model.KindWorkload}, {Key: "w2", Kind: model.KindWorkload},
				{Key: "sa", Kind: model.KindIdentity}, {Key: "lb", Kind: model.KindLoadBalancer}, {Key: "db", Kind: model.KindDatastore},
				{Key: "bucket", Kind: model.KindDatastore}}
			in.Entries = []Entry{{Kind: EntryCompromised, Asset: tt.asset}}
			res, err := Analyze(in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Paths) != tt.wantPaths {
				t.Fatalf("Analyze(compromised %s) = %d paths, want %d", tt.asset, len(res.Paths), tt.wantPaths)
			}
			for _, p := range res.Paths {
				if p.Entry != tt.wantEntry || p.Likelihood != 1 || p.Jewel != "db" {
					t.Errorf("Analyze(compromised %s) path from %s, likelihood %v, to %s; want from %s, likelihood 1, to db", tt.asset, p.Entry, p.Likelihood, p.Jewel, tt.wantEntry)
				}
			}
			// The internet's entries are not added: diamond's internet
			// paths through the RCEs do not appear.
			for _, p := range res.Paths {
				if slices.ContainsFunc(p.Steps, func(s Step) bool { return s.Rule == "remote-code-execution" }) {
					t.Errorf("Analyze(compromised %s) has an internet path %s, want none", tt.asset, p.ID)
				}
			}
		})
	}
	if got := CompromisedCaps(model.KindSecret); !slices.Equal(got, []Capability{Read, Write}) {
		t.Errorf("CompromisedCaps(secret) = %v, want [read write]", got)
	}
}
