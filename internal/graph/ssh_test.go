package graph

import (
	"testing"

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
