package app

import (
	"strings"

	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
)

// entryMatcher returns the test of PathQuery.From on a path's entry
// state. "internet" (the entry point's own name, as the help shows it)
// matches the states the internet entry point gives: network on what the
// internet exposes or connects to and on assets labelled public=true,
// identity of a role anyone may assume. Any other value matches the
// entry states that contain it ("network:KEY", a key, a prefix).
func entryMatcher(es *estate.Estate, from string) func(entry string) bool {
	if from == "" {
		return func(string) bool { return true }
	}
	if from != string(graph.EntryInternet) || es == nil {
		return func(entry string) bool { return strings.Contains(entry, from) }
	}
	states := map[string]bool{}
	for _, r := range es.Relations {
		if r.From == model.InternetKey && (r.Type == model.RelExposes || r.Type == model.RelConnectsTo) {
			states["network:"+r.To] = true
		}
	}
	for k, a := range es.Assets {
		if a.Labels[model.LabelPublic] == "true" {
			states["network:"+k] = true
		}
		if a.Labels[graph.LabelTrustAnyone] == "true" {
			states["identity:"+k] = true
		}
	}
	return func(entry string) bool { return states[entry] || strings.Contains(entry, from) }
}
