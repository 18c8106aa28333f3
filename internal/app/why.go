package app

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/graph"
)

// nearZero is the share of the riskiest path's risk below which an
// exposure's priority counts as near zero: fixing it alone removes
// almost nothing although attack paths go through it.
const nearZero = 0.05

// WhyLowPriority explains why fixing exposure id removes almost no risk
// although paths go through it: each path it is on has another way
// around it. It names the other exposures that enable the same steps
// (the parallel ways that stay after the fix) and otherwise says that
// other routes reach the same crown jewels. It returns "" when id is on
// no path or its priority is not near zero (below 5% of the riskiest
// path's risk).
func WhyLowPriority(id string, priority float64, paths []graph.Path) string {
	var maxRisk float64
	for _, p := range paths {
		maxRisk = max(maxRisk, p.Risk)
	}
	if len(paths) == 0 || maxRisk == 0 || priority >= nearZero*maxRisk {
		return ""
	}
	var others []string
	for _, p := range paths {
		for _, s := range p.Steps {
			if !slices.Contains(s.ExposureIDs, id) {
				continue
			}
			for _, o := range s.ExposureIDs {
				if o != id && !slices.Contains(others, o) {
					others = append(others, o)
				}
			}
		}
	}
	n := len(paths)
	if len(others) > 0 {
		slices.Sort(others)
		if len(others) > 5 {
			others = append(others[:5], fmt.Sprintf("%d more", len(others)-5))
		}
		return fmt.Sprintf("its %d attack path(s) remain after fixing it alone: the same steps are also taken through %s; fix those too, or cut a later step (see 'ctem fixplan')", n, strings.Join(others, ", "))
	}
	return fmt.Sprintf("its %d attack path(s) have other routes to the same crown jewels (other weaknesses or relations that stay after fixing it); see 'ctem explain %s' for the paths and 'ctem fixplan'", n, id)
}
