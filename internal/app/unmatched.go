package app

import (
	"fmt"
	"slices"

	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/estate/scope"
)

// Unmatched lists what the scope in force names that no asset of es
// answers: each crown jewel none of whose selectors matches an asset, and
// each identity entry point whose key is no asset. Each line says what
// to do; none means every crown jewel and entry point has its assets.
// A scope whose selectors match nothing gives an analysis without paths,
// which would otherwise look like a clean estate.
func Unmatched(es *estate.Estate) []string {
	if es == nil || es.Scope == nil {
		return nil
	}
	var out []string
	for _, cj := range es.Scope.CrownJewels {
		found := false
		for _, a := range es.Assets {
			if slices.ContainsFunc(cj.Match, func(s scope.Selector) bool { return s.Match(a) }) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, fmt.Sprintf("crown jewel %q matches no asset: no path can end there; compare its selectors with 'ctem assets' (a Kubernetes object's key names its cluster, set with ingest --target)", cj.Name))
		}
	}
	for _, e := range es.Scope.Entries() {
		if e.Identity == "" {
			continue
		}
		if _, ok := es.Assets[es.Canonical(e.Identity)]; !ok {
			out = append(out, fmt.Sprintf("entry point identity %q is no asset: no path starts there; use a key that 'ctem assets --kind identity' lists", e.Identity))
		}
	}
	return out
}
