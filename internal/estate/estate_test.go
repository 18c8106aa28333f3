package estate

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/model"
)

// TestEdgeSources checks that an edge reported by several inputs is kept
// once with every input that reported it, in the order they came, and
// that edges differing in type, action or direction, or reported through
// an alias, are told apart or joined as they should be.
func TestEdgeSources(t *testing.T) {
	t.Parallel()
	rel := func(from, to string, typ model.RelationType, action, src string) model.Relation {
		return model.Relation{From: from, To: to, Type: typ, Action: action, Source: src}
	}
	e := Build(nil, []model.Relation{
		rel("old-a", "a", model.RelAliasOf, "", "inv"),
		rel("a", "b", model.RelConnectsTo, "", "k8s"),
		rel("a", "b", model.RelConnectsTo, "", "terraform"),
		rel("old-a", "b", model.RelConnectsTo, "", "inventory"),
		rel("a", "b", model.RelConnectsTo, "", "k8s"),
		rel("a", "b", model.RelCan, "s3:GetObject", "aws"),
		rel("a", "b", model.RelCan, "s3:PutObject", "aws"),
		rel("b", "a", model.RelConnectsTo, "", "scan"),
	}, nil)
	for _, c := range []struct {
		r    model.Relation
		want []string
	}{
		{rel("a", "b", model.RelConnectsTo, "", ""), []string{"k8s", "terraform", "inventory"}},
		{rel("a", "b", model.RelCan, "s3:GetObject", ""), []string{"aws"}},
		{rel("a", "b", model.RelCan, "s3:PutObject", ""), []string{"aws"}},
		{rel("b", "a", model.RelConnectsTo, "", ""), []string{"scan"}},
		{rel("a", "b", model.RelRoutesTo, "", ""), nil},
	} {
		if diff := cmp.Diff(e.EdgeSources(c.r), c.want); diff != "" {
			t.Errorf("EdgeSources(%s -%s(%s)-> %s) (-got +want):\n%s", c.r.From, c.r.Type, c.r.Action, c.r.To, diff)
		}
	}
	if len(e.Relations) != 4 {
		t.Errorf("Build: %d relations, want 4 (the repeats joined)", len(e.Relations))
	}
}
