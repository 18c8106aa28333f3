package app

import (
	"slices"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

func TestAcceptPath(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	a := mobilApp(t, &now)
	pl, err := a.Paths(ctx, PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	// The riskiest path that an exposure enables.
	var path string
	var on []string
	for _, p := range pl.Paths {
		if ids := pathExposures(p); len(ids) >= 1 {
			path, on = p.ID, ids
			break
		}
	}
	if path == "" {
		t.Fatal("the example estate has no path with an exposure")
	}
	slices.Sort(on)
	on = slices.Compact(on)
	req := AcceptRequest{Scope: AcceptScope{PathID: path[:8]}, Reason: "segmented by the new firewall", By: "alice", Approver: "ciso", Expires: now.Add(48 * time.Hour)}

	for _, bad := range []AcceptScope{{PathID: path, VulnID: "CVE-2022-22965"}, {PathID: path, ExposureID: on[0]}, {PathID: "zzzz"}} {
		r := req
		r.Scope = bad
		if _, err := a.AcceptRisk(ctx, r); err == nil {
			t.Errorf("AcceptRisk(%+v) = nil error, want a refusal", bad)
		}
	}
	res, err := a.AcceptRisk(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rule.PathID != path || len(res.Changes) != len(on) {
		t.Errorf("AcceptRisk(path %s) = rule path %q, %d changes; want %s, %d (every exposure on it)", path[:8], res.Rule.PathID, len(res.Changes), path, len(on))
	}
	accepted := exposuresOf(t, a, store.Filter{IDs: on, Statuses: []model.Status{model.StatusAccepted}})
	if len(accepted) != len(on) {
		t.Errorf("accepted exposures on the path = %d, want %d", len(accepted), len(on))
	}
	for _, id := range topIDs(t, a) {
		if slices.Contains(on, id) {
			t.Errorf("Top() lists %s, accepted with its path", id)
		}
	}
	// The path stays, marked accepted.
	pl, err = a.Paths(ctx, PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.MarkAccepted(ctx, pl); err != nil {
		t.Fatal(err)
	}
	if pl.Accepted[path] != res.Rule.ID {
		t.Errorf("MarkAccepted().Accepted[%s] = %q, want rule %s", path[:8], pl.Accepted[path], res.Rule.ID)
	}

	// An exposure reopened on the accepted path (a regression, a new
	// finding on a step) is accepted again by the standing rule.
	if _, err := a.Store.Triage(ctx, store.Decision{ExposureID: on[0], Status: model.StatusOpen, Reason: "reopened", By: "bob", At: now}); err != nil {
		t.Fatal(err)
	}
	changes, err := a.ApplyAcceptanceRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].ExposureID != on[0] {
		t.Errorf("ApplyAcceptanceRules() = %+v, want %s accepted again", changes, on[0])
	}

	// Past the expiry the exposures reopen and the path is no longer accepted.
	now = now.Add(49 * time.Hour)
	expired, err := a.ExpireAcceptances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(expired) != len(on) {
		t.Errorf("ExpireAcceptances() = %d changes, want %d", len(expired), len(on))
	}
	aps, err := a.AcceptedPaths(ctx)
	if err != nil || len(aps) != 0 {
		t.Errorf("AcceptedPaths() after expiry = %v, %v; want none", aps, err)
	}
}
