package ticket

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/policy"
	"github.com/ctem-dev/ctem/internal/sla"
	"github.com/ctem-dev/ctem/internal/store"
)

// Wanted returns the tickets the current fix plan asks for: one per plan
// item that removes risk, with the names of the exposures it closes, the
// SLA due date of the most urgent one, routed by the scope's
// tickets.routes; and one per match of a policy whose action is ticket
// (see FromPolicyMatch).
func Wanted(ctx context.Context, a *app.App) ([]Ticket, error) {
	sc, err := a.ScopeInForce(ctx)
	if err != nil {
		return nil, err
	}
	var routes []Route
	for _, r := range sc.Tickets.Routes {
		routes = append(routes, Route{Team: r.Team, Project: r.Project, Labels: r.Labels, Assignee: r.Assignee})
	}
	plan, err := a.FixPlan(ctx, 0, graph.Options{})
	if err != nil {
		return nil, err
	}
	slas, err := sla.List(ctx, a, sla.Query{})
	if err != nil {
		return nil, err
	}
	due := map[string]time.Time{}
	for _, it := range slas.Items {
		if !it.Due.Accepted {
			due[it.Exposure.ID] = it.Due.At
		}
	}
	var ids []string
	for _, it := range plan.Plan.Items {
		ids = append(ids, it.Exposures...)
	}
	names := map[string]string{}
	for i := 0; i < len(ids); i += 500 {
		for x, err := range a.Store.Exposures(ctx, store.Filter{IDs: ids[i:min(i+500, len(ids))]}) {
			if err != nil {
				return nil, err
			}
			names[x.ID] = app.WeaknessName(x) + " on " + x.Asset
		}
	}
	var out []Ticket
	for _, it := range plan.Plan.Items {
		if it.RiskRemoved <= 0 {
			continue
		}
		var first time.Time
		for _, id := range it.Exposures {
			if d, ok := due[id]; ok && (first.IsZero() || d.Before(first)) {
				first = d
			}
		}
		d := ""
		if !first.IsZero() {
			d = first.UTC().Format(time.DateOnly)
		}
		out = append(out, FromPlanItem(it, names, d, routes))
	}
	// The matches of policies whose action is ticket: one ticket per
	// policy and subject, closed by the sync once the policy no longer
	// matches.
	has := false
	for _, p := range sc.Policies {
		has = has || p.Action == scope.ActionTicket
	}
	if has {
		r, err := policy.Test(ctx, a)
		if err != nil {
			return nil, err
		}
		ms := r.WithAction(scope.ActionTicket)
		owners, err := matchOwners(ctx, a, ms)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			out = append(out, FromPolicyMatch(m, owners[m.On+":"+m.Subject], routes))
		}
	}
	return out, nil
}

// matchOwners returns the owner of each match's subject, by "on:subject":
// an exposure's is its asset's owner, a path's its crown jewel's.
func matchOwners(ctx context.Context, a *app.App, ms []policy.Match) (map[string]string, error) {
	out := map[string]string{}
	if len(ms) == 0 {
		return out, nil
	}
	es, err := a.Estate(ctx)
	if err != nil {
		return nil, err
	}
	var xids []string
	paths := false
	for _, m := range ms {
		switch m.On {
		case "exposure":
			xids = append(xids, m.Subject)
		case "path":
			paths = true
		}
	}
	for i := 0; i < len(xids); i += 500 {
		for x, err := range a.Store.Exposures(ctx, store.Filter{IDs: xids[i:min(i+500, len(xids))]}) {
			if err != nil {
				return nil, err
			}
			out["exposure:"+x.ID] = es.Context(x.Asset).Owner
		}
	}
	if paths {
		pl, err := a.Paths(ctx, app.PathQuery{})
		if err != nil {
			return nil, err
		}
		for _, p := range pl.Paths {
			out["path:"+p.ID] = es.Context(p.Jewel).Owner
		}
	}
	return out, nil
}

// FromPolicyMatch writes the ticket of a match of a policy whose action
// is ticket: the policy, the path or exposure it matched and the values
// that made it match, routed by owner (the subject's: an exposure's
// asset, a path's crown jewel) as a plan item is, keyed by policy and
// subject.
func FromPolicyMatch(m policy.Match, owner string, routes []Route) Ticket {
	action := "policy:" + m.Policy + ":" + m.On + ":" + m.Subject
	key := Key(action)
	t := Ticket{Key: key, Action: action, Title: fmt.Sprintf("[ctem] policy %s: %s %s", m.Policy, m.On, m.Subject),
		Labels: []string{Label}, Owner: owner}
	t.route(routes)
	var b strings.Builder
	fmt.Fprintf(&b, "The policy %s matched the %s %s.\n\n", m.Policy, m.On, m.Subject)
	if owner != "" {
		fmt.Fprintf(&b, "Owner: %s\n\n", owner)
	}
	for _, c := range m.Because {
		fmt.Fprintf(&b, "- %s\n", c)
	}
	fmt.Fprintf(&b, "\nctem closes this ticket when the policy no longer matches. See 'ctem policy test'.\n\n%s\n", marker(key))
	t.Body = b.String()
	return t
}

// LatestScan returns the id of the newest scan, "" when there is none:
// the Options.LatestScan of a sync that waits for a scan to verify a
// ticket closed as done.
func LatestScan(ctx context.Context, a *app.App) (string, error) {
	for sc, err := range a.Store.Scans(ctx, store.Filter{Limit: 1}) {
		if err != nil {
			return "", err
		}
		return sc.ID, nil
	}
	return "", nil
}
