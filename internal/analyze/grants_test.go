package analyze

import (
	"slices"
	"testing"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

func TestLeakedGrantsBelongToTheFinding(t *testing.T) {
	t.Parallel()
	gi := &graph.Input{
		Relations: []model.Relation{
			{From: "repo:docs", To: "ci:bot", Type: graph.RelGrants},
			{From: "k8s:prod/shop/Secret/db", To: "db:app", Type: graph.RelGrants},
			{From: "repo:docs", To: "repo:web", Type: model.RelContains},
		},
		Weaknesses: []graph.Weakness{
			{Exposure: model.Exposure{ID: "leak", Kind: model.FindingSecret, Asset: "repo:docs"}, Effect: effect.Result{Effect: effect.Credential}},
			{Exposure: model.Exposure{ID: "cve", Kind: model.FindingVulnerability, Asset: "repo:web"}, Effect: effect.Result{Effect: effect.Exec}},
		},
	}
	leakedGrants(gi)
	if got := gi.Weaknesses[0].Grants; !slices.Equal(got, []string{"ci:bot"}) {
		t.Errorf("grants of the secret finding = %v, want [ci:bot]", got)
	}
	if len(gi.Weaknesses[1].Grants) != 0 {
		t.Errorf("a CVE got grants %v", gi.Weaknesses[1].Grants)
	}
	// The repository's grant moved to its finding; the Kubernetes
	// Secret's stays a relation; other relations stay.
	want := []model.Relation{
		{From: "k8s:prod/shop/Secret/db", To: "db:app", Type: graph.RelGrants},
		{From: "repo:docs", To: "repo:web", Type: model.RelContains},
	}
	if !slices.Equal(gi.Relations, want) {
		t.Errorf("relations = %v, want %v", gi.Relations, want)
	}
}
