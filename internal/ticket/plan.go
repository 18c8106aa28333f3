package ticket

import (
	"context"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/sla"
	"github.com/ctem-dev/ctem/internal/store"
)

// Wanted returns the tickets the current fix plan asks for: one per plan
// item that removes risk, with the names of the exposures it closes, the
// SLA due date of the most urgent one, routed by the scope's
// tickets.routes.
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
	return out, nil
}
