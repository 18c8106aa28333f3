package graph

import (
	"slices"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

// TestStepWeaknessIsTheLikeliest checks that a step enabled by two
// weaknesses names the one whose way gives its probability, not the
// first by id: "CVE-A-BARE" sorts before "CVE-Z-KEV", but the KEV-listed
// one makes the step likely.
func TestStepWeaknessIsTheLikeliest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		kevOnBare bool
		want      string
	}{
		{"kev sorts last", false, "CVE-Z-KEV"},
		{"kev sorts first", true, "CVE-A-BARE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := weak("CVE-A-BARE", "w", model.FindingVulnerability, effect.Exec)
			z := weak("CVE-Z-KEV", "w", model.FindingVulnerability, effect.Exec)
			if tc.kevOnBare {
				a.KEV = true
			} else {
				z.KEV = true
			}
			in := &Input{
				Relations:  []model.Relation{rel("internet", model.RelExposes, "w"), rel("w", model.RelUsesIdentit, "sa"), rel("sa", model.RelCan, "db", "read")},
				Weaknesses: []Weakness{a, z},
				Jewels:     []Jewel{{Asset: "db", Value: 10}},
			}
			res, err := Analyze(in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Paths) == 0 {
				t.Fatal("Analyze() found no path")
			}
			st := res.Paths[0].Steps[0]
			if st.Rule != "remote-code-execution" || len(st.ExposureIDs) != 2 {
				t.Fatalf("first step = %s with %v, want remote-code-execution with both weaknesses", st.Rule, st.ExposureIDs)
			}
			if st.Weakness != tc.want {
				t.Errorf("Analyze() first step Weakness = %q (p=%v), want %q", st.Weakness, st.Probability, tc.want)
			}
		})
	}
}

// TestPublicByDesignIsNoFix checks the positive and negative twins: a
// storefront's internet exposure is the cheapest cut when nothing says
// otherwise, and is never proposed when the scope declares it public by
// design; the plan then fixes the weakness.
func TestPublicByDesignIsNoFix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		byDesign  bool
		wantClose bool
	}{
		{"no declaration", false, true},
		{"public by design", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rce := weak("CVE-RCE", "shop", model.FindingVulnerability, effect.Exec)
			rce.Effort = 5 // a hard upgrade: closing the exposure looks cheaper
			var labels []string
			if tc.byDesign {
				labels = []string{model.LabelPublicByDesign, "true"}
			}
			in := &Input{
				Assets:     []model.Asset{asset("shop", model.KindWorkload, labels...), asset("keys", model.KindSecret)},
				Relations:  []model.Relation{rel("internet", model.RelExposes, "shop"), rel("shop", model.RelMounts, "keys")},
				Weaknesses: []Weakness{rce},
				Jewels:     []Jewel{{Asset: "keys", Value: 10}},
			}
			res, err := Analyze(in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Paths) == 0 {
				t.Fatal("Analyze() found no path; the storefront must stay an entry point")
			}
			closes := slices.ContainsFunc(res.Plan.Items, func(it PlanItem) bool {
				return strings.HasPrefix(it.Title, "close the internet exposure of shop")
			})
			if closes != tc.wantClose {
				t.Errorf("Analyze() plan closes the storefront's exposure = %v, want %v (plan %+v)", closes, tc.wantClose, res.Plan.Items)
			}
			if len(res.Plan.Items) == 0 || res.Plan.Items[len(res.Plan.Items)-1].Remaining > 1e-9 {
				t.Errorf("Analyze() plan = %+v, want one that removes all the risk", res.Plan.Items)
			}
		})
	}
}
