package graph

import (
	"slices"
	"testing"

	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

// TestSSHKeyGivesShell checks the leaked-credential rule on a host's
// login key: a bucket that a stolen user's keys read holds an SSH private
// key of an instance (bucket —grants→ instance), whose role is the
// jewel. The key
// gives a shell on the instance, near certain when the internet reaches
// its tcp/22 and halved when only another port is open; its negative
// twin, the bucket holding nothing, gives no path.
func TestSSHKeyGivesShell(t *testing.T) {
	t.Parallel()
	in := func(port string, grants bool) *Input {
		rels := []model.Relation{
			rel("user", model.RelCan, "bucket", "s3:GetObject"),
			rel(InternetKey, model.RelExposes, "vm", port),
			rel("vm", model.RelUsesIdentit, "role"),
		}
		if grants {
			rels = append(rels, rel("bucket", RelGrants, "vm", "ssh private key"))
		}
		return &Input{
			Assets: []model.Asset{asset(InternetKey, model.KindNetwork), asset("bucket", model.KindDatastore),
				asset("user", model.KindIdentity), asset("vm", model.KindHost), asset("role", model.KindIdentity)},
			Relations: rels,
			Entries:   []Entry{{Kind: EntryIdentity, Identity: "user"}},
			Jewels:    []Jewel{{Asset: "role", Value: 10}},
		}
	}
	tests := []struct {
		name   string
		in     *Input
		wantP  float64 // the key step's probability, 0: no path
		wantTo string
	}{
		{"ssh open", in("tcp/22", true), pNearCertain, "exec:vm"},
		{"ssh closed", in("tcp/443", true), pNearCertain * pNoLoginPath, "exec:vm"},
		{"no key", in("tcp/22", false), 0, ""},
	}
	for _, tt := range tests {
		res, err := Analyze(tt.in, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got float64
		for _, p := range res.Paths {
			for _, s := range p.Steps {
				if s.Rule == "leaked-credential" && s.To == tt.wantTo {
					got = s.Probability
				}
			}
		}
		if got != tt.wantP {
			t.Errorf("%s: Analyze() leaked-credential step probability = %v, want %v", tt.name, got, tt.wantP)
		}
	}
}

// TestCredentialFindingTargets checks what a secret finding that grants
// an asset gives, by the asset's kind: a database's data (read and
// write, never an identity of the database), a shell on a host, an
// identity of a principal; its twin, a finding that grants nothing,
// gives no step.
func TestCredentialFindingTargets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind   model.AssetKind
		grants []string
		want   []string // states the leaked-credential steps reach
	}{
		{model.KindDatastore, []string{"target"}, []string{"read:target", "write:target"}},
		{model.KindHost, []string{"target"}, []string{"exec:target"}},
		{model.KindIdentity, []string{"target"}, []string{"identity:target"}},
		{model.KindDatastore, nil, nil},
	}
	for _, tt := range tests {
		in := &Input{
			Assets: []model.Asset{asset("user", model.KindIdentity), asset("store", model.KindDatastore), asset("target", tt.kind)},
			Relations: []model.Relation{
				rel("user", model.RelCan, "store", "s3:GetObject"),
			},
			Weaknesses: []Weakness{{Exposure: model.Exposure{ID: "leak", Kind: model.FindingSecret, Asset: "store"},
				Effect: effect.Result{Effect: effect.Credential}, Grants: tt.grants}},
			Entries: []Entry{{Kind: EntryIdentity, Identity: "user"}},
			Jewels:  []Jewel{{Asset: "target", Value: 10}},
		}
		res, err := Analyze(in, Options{K: 10})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range res.Paths {
			for _, s := range p.Steps {
				if s.Rule == "leaked-credential" && !slices.Contains(got, s.To) {
					got = append(got, s.To)
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("Analyze(finding granting a %s %v) leaked-credential steps reach %v, want %v", tt.kind, tt.grants, got, tt.want)
		}
	}
}
