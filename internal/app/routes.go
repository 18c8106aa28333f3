package app

import (
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/graph"
)

// routeKey is what near-identical paths share: the entry, the crown
// jewel, and the weaknesses exploited in order (each step's exposures).
// Paths that differ only in the relations between those weaknesses, such
// as a secret read through a mount or through the service account's
// permission, or a jewel reached with read or with write, share it.
func routeKey(p graph.Path) string {
	var b strings.Builder
	b.WriteString(p.Entry)
	b.WriteString("\x00")
	b.WriteString(p.Jewel)
	for _, s := range p.Steps {
		if len(s.ExposureIDs) == 0 {
			continue
		}
		ids := slices.Clone(s.ExposureIDs)
		slices.Sort(ids)
		b.WriteString("\x00")
		b.WriteString(strings.Join(ids, ","))
	}
	return b.String()
}

// DistinctRoutes keeps the first (riskiest, as paths come sorted) of
// each group of near-identical paths (see routeKey) and maps its id to
// the ids of the others, so that a listing's top paths are different
// routes and the alternatives are still named. It runs in time linear in
// the steps.
func DistinctRoutes(paths []graph.Path) (kept []graph.Path, alternatives map[string][]string) {
	alternatives = map[string][]string{}
	first := map[string]string{}
	for _, p := range paths {
		k := routeKey(p)
		if id, ok := first[k]; ok {
			alternatives[id] = append(alternatives[id], p.ID)
			continue
		}
		first[k] = p.ID
		kept = append(kept, p)
	}
	return kept, alternatives
}
