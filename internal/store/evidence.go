package store

import (
	"context"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// EvidenceIndex holds every fact of a store in memory, to give the
// evidence of many exposures without a query each: an analysis or a VEX
// export of a million exposures made a million queries.
type EvidenceIndex struct {
	byFinding map[string][]int
	byVuln    map[string][]int
	all       []model.Evidence
}

// LoadEvidence reads every fact of st into an index.
func LoadEvidence(ctx context.Context, st Store) (*EvidenceIndex, error) {
	ix := &EvidenceIndex{byFinding: map[string][]int{}, byVuln: map[string][]int{}}
	for e, err := range st.AllEvidence(ctx) {
		if err != nil {
			return nil, err
		}
		i := len(ix.all)
		ix.all = append(ix.all, e)
		if e.FindingID != "" {
			ix.byFinding[e.FindingID] = append(ix.byFinding[e.FindingID], i)
		}
		if e.VulnID != "" {
			ix.byVuln[e.VulnID] = append(ix.byVuln[e.VulnID], i)
		}
	}
	return ix, nil
}

// Match returns the evidence about x, as Store.Evidence does: facts
// recorded for one of its findings, or for one of its vulnerability ids
// on its asset, its package (purl, with or without qualifiers) or on no
// asset. The order is the store's: by kind, then source.
func (ix *EvidenceIndex) Match(x model.Exposure) []model.Evidence {
	var hits []int
	for _, id := range x.FindingIDs {
		hits = append(hits, ix.byFinding[id]...)
	}
	if len(x.VulnIDs) > 0 {
		keys := []string{x.Asset, ""}
		if x.Package.PURL != "" {
			keys = append(keys, x.Package.PURL)
			if i := strings.IndexAny(x.Package.PURL, "?#"); i > 0 {
				keys = append(keys, x.Package.PURL[:i])
			}
		}
		for _, v := range x.VulnIDs {
			for _, i := range ix.byVuln[v] {
				if slices.Contains(keys, ix.all[i].Asset) {
					hits = append(hits, i)
				}
			}
		}
	}
	if len(hits) == 0 {
		return nil
	}
	// Indexes follow the store's order; a fact matched twice is one fact.
	slices.Sort(hits)
	hits = slices.Compact(hits)
	out := make([]model.Evidence, len(hits))
	for k, i := range hits {
		out[k] = ix.all[i]
	}
	return out
}
