package store

import (
	"context"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/model"
)

// EvidenceIndex holds every fact of a store in memory, to give the
// evidence of many exposures without a query each: an analysis or a VEX
// export of a million exposures made a million queries.
type EvidenceIndex struct {
	byFinding map[string][]int
	// byVuln is keyed by vulnerability id and asset key (vulnKey): a fact
	// about a common CVE on one asset is not among the candidates of that
	// CVE on every other asset (a quadratic read on large estates).
	byVuln map[vulnAsset][]int
	all    []model.Evidence
}

// vulnAsset is a vulnerability id and an asset key.
type vulnAsset struct{ vuln, asset string }

// LoadEvidence reads every fact of st into an index.
func LoadEvidence(ctx context.Context, st Store) (*EvidenceIndex, error) {
	return IndexEvidence(st.AllEvidence(ctx))
}

// IndexEvidence reads the facts of seq, in the store's order (by kind,
// then source), into an index. Match finds among them only, so seq must
// hold every fact about the exposures the index is asked about.
func IndexEvidence(seq iter.Seq2[model.Evidence, error]) (*EvidenceIndex, error) {
	ix := &EvidenceIndex{byFinding: map[string][]int{}, byVuln: map[vulnAsset][]int{}}
	for e, err := range seq {
		if err != nil {
			return nil, err
		}
		i := len(ix.all)
		ix.all = append(ix.all, e)
		if e.FindingID != "" {
			ix.byFinding[e.FindingID] = append(ix.byFinding[e.FindingID], i)
		}
		if e.VulnID != "" {
			k := vulnAsset{e.VulnID, e.Asset}
			ix.byVuln[k] = append(ix.byVuln[k], i)
		}
	}
	return ix, nil
}

// EvidenceKeys returns the asset keys a fact about one of x's
// vulnerability ids may name to be about x: its asset, its package (the
// purl, and the purl without qualifiers and subpath, as a VEX statement
// names a product), and "" (a fact on no asset: about every asset).
func EvidenceKeys(x model.Exposure) []string {
	keys := []string{x.Asset, ""}
	if x.Package.PURL != "" {
		keys = append(keys, x.Package.PURL)
		if i := strings.IndexAny(x.Package.PURL, "?#"); i > 0 {
			keys = append(keys, x.Package.PURL[:i])
		}
	}
	return keys
}

// EvidenceMatches reports whether fact e is about exposure x: recorded
// for one of its findings, or for one of its vulnerability ids under one
// of its EvidenceKeys. It is the one statement of the rule, which the
// store's Evidence, the index's Match and the application of VEX
// statements at ingest all use.
func EvidenceMatches(e model.Evidence, x model.Exposure) bool {
	if e.FindingID != "" && slices.Contains(x.FindingIDs, e.FindingID) {
		return true
	}
	return e.VulnID != "" && slices.Contains(x.VulnIDs, e.VulnID) && slices.Contains(EvidenceKeys(x), e.Asset)
}

// Match returns the evidence about x, as Store.Evidence does (see
// EvidenceMatches). The order is the store's: by kind, then source.
func (ix *EvidenceIndex) Match(x model.Exposure) []model.Evidence {
	var hits []int
	for _, id := range x.FindingIDs {
		hits = append(hits, ix.byFinding[id]...)
	}
	if len(x.VulnIDs) > 0 && len(ix.byVuln) > 0 {
		keys := EvidenceKeys(x)
		for _, v := range x.VulnIDs {
			for _, k := range keys {
				hits = append(hits, ix.byVuln[vulnAsset{v, k}]...)
			}
		}
	}
	if len(hits) == 0 {
		return nil
	}
	// Indexes follow the store's order; a fact matched twice is one fact.
	slices.Sort(hits)
	hits = slices.Compact(hits)
	var out []model.Evidence
	for _, i := range hits {
		if EvidenceMatches(ix.all[i], x) {
			out = append(out, ix.all[i])
		}
	}
	return out
}

// EvidenceReplacer replaces what one source of evidence recorded, for
// sources whose newest observation supersedes the older ones (a probe
// that found a port open and now finds it closed).
type EvidenceReplacer interface {
	// ReplaceEvidence deletes, in one transaction, the facts of source
	// about any of findingIDs and, when expire is not zero, every fact of
	// source recorded before expire; then it records evs, each with
	// Source set to source. It returns how many facts it deleted.
	ReplaceEvidence(ctx context.Context, source string, findingIDs []string, evs []model.Evidence, expire time.Time) (int, error)
}
