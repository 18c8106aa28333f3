package graph

import (
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
