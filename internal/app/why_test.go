package app

import (
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/graph"
)

func TestWhyLowPriority(t *testing.T) {
	t.Parallel()
	parallel := graph.Path{Risk: 9, Steps: []graph.Step{{ExposureIDs: []string{"a", "b"}}, {ExposureIDs: []string{}}}}
	alone := graph.Path{Risk: 9, Steps: []graph.Step{{ExposureIDs: []string{"a"}}}}
	for _, tc := range []struct {
		name     string
		priority float64
		paths    []graph.Path
		want     string // a part of the answer; "" for none
	}{
		{"on no path", 0, nil, ""},
		{"priority high", 5, []graph.Path{parallel}, ""},
		{"parallel way", 0.01, []graph.Path{parallel}, "also taken through b"},
		{"other routes", 0, []graph.Path{alone}, "other routes to the same crown jewels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := WhyLowPriority("a", tc.priority, tc.paths)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("WhyLowPriority(a, %v, %d paths) = %q, want one containing %q", tc.priority, len(tc.paths), got, tc.want)
			}
		})
	}
}
