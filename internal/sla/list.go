package sla

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// Item is an exposure with its SLA.
type Item struct {
	Exposure   model.Exposure `json:"exposure"`
	Owner      string         `json:"owner,omitempty"`
	KEV        bool           `json:"kev"`
	Internet   bool           `json:"internet"`
	JewelValue int            `json:"jewel_value,omitempty"`
	Due        Due            `json:"sla"`
}

// Query selects SLA items.
type Query struct {
	// Owner keeps the exposures of this team.
	Owner string
	// Breached keeps the breached ones; DueWithin, when above 0, those
	// not accepted and due within that time from Now (breached included).
	Breached  bool
	DueWithin time.Duration
	// Now is the clock's reading; zero is the App's clock.
	Now time.Time
}

// Result is a reading of the SLAs with the breach events it recorded.
type Result struct {
	Items []Item `json:"items"`
	// NewBreaches are the breaches first seen by this reading (recorded
	// when the store keeps them, see store.Mobilisation).
	NewBreaches []store.SLABreach `json:"new_breaches"`
}

// List returns the SLA of every open or accepted exposure that q selects,
// soonest due first, under the scope's SLA policy: the facts come from
// the estate (owner, internet exposure), the threat intelligence (KEV),
// the open attack paths (the jewels they reach) and the status history
// (time accepted). Every breach found, whatever q selects, is recorded
// once per due date as an event.
func List(ctx context.Context, a *app.App, q Query) (*Result, error) {
	now := q.Now
	if now.IsZero() {
		now = time.Now().UTC()
		if a.Now != nil {
			now = a.Now().UTC()
		}
	}
	f, err := gather(ctx, a)
	if err != nil {
		return nil, err
	}
	pol, es, intel, jewel, history := f.pol, f.es, f.intel, f.jewel, f.history
	res := &Result{Items: []Item{}, NewBreaches: []store.SLABreach{}}
	var breaches []store.SLABreach
	for x, err := range a.Store.Exposures(ctx, store.Filter{Statuses: []model.Status{model.StatusOpen, model.StatusAccepted}, Sort: store.SortID}) {
		if err != nil {
			return nil, err
		}
		c := es.Context(x.Asset)
		it := Item{Exposure: x, Owner: c.Owner, Internet: c.InternetExposed, JewelValue: jewel[x.ID]}
		if intel.KEV != nil {
			for _, id := range x.VulnIDs {
				if _, ok := intel.KEV.Lookup(id); ok {
					it.KEV = true
					break
				}
			}
		}
		d, ok := pol.Evaluate(Facts{Severity: x.Severity, KEV: it.KEV, Internet: it.Internet, JewelValue: it.JewelValue,
			FirstSeen: x.FirstSeen, History: history[x.ID], Status: x.Status}, now)
		if !ok {
			continue
		}
		it.Due = d
		if d.Breached {
			breaches = append(breaches, store.SLABreach{ExposureID: x.ID, Due: d.At, Rule: d.Rule, Owner: it.Owner, At: now})
		}
		switch {
		case q.Owner != "" && it.Owner != q.Owner:
			continue
		case q.Breached && !d.Breached:
			continue
		case q.DueWithin > 0 && (d.Accepted || d.At.After(now.Add(q.DueWithin))):
			continue
		}
		res.Items = append(res.Items, it)
	}
	slices.SortStableFunc(res.Items, func(a, b Item) int {
		return cmp.Or(a.Due.At.Compare(b.Due.At), cmp.Compare(a.Exposure.ID, b.Exposure.ID))
	})
	if m, ok := a.Store.(store.Mobilisation); ok && len(breaches) > 0 {
		nb, err := m.RecordBreaches(ctx, breaches)
		if err != nil {
			return nil, err
		}
		if nb != nil {
			res.NewBreaches = nb
		}
	}
	return res, nil
}

// facts are what List and KPIDue read once for every exposure: the
// scope's policy, the estate, the threat intelligence, the highest crown
// jewel value an open path through each exposure reaches, and each
// exposure's status changes.
type facts struct {
	pol     Policy
	es      *estate.Estate
	intel   app.Intel
	jewel   map[string]int
	history map[string][]store.StatusChange
}

func gather(ctx context.Context, a *app.App) (*facts, error) {
	sc, err := a.ScopeInForce(ctx)
	if err != nil {
		return nil, err
	}
	f := &facts{pol: FromScope(sc.SLA)}
	es, err := a.Estate(ctx)
	if err != nil {
		return nil, err
	}
	var intel app.Intel
	if a.Intel != nil {
		if intel, err = a.Intel(); err != nil {
			return nil, err
		}
	}
	paths, err := a.Paths(ctx, app.PathQuery{})
	if err != nil {
		return nil, err
	}
	jewel := map[string]int{}
	for _, p := range paths.Paths {
		v := 0
		if as, ok := es.Assets[p.Jewel]; ok && as.CrownJewel != nil {
			v = *as.CrownJewel
		}
		for _, s := range p.Steps {
			for _, id := range s.ExposureIDs {
				jewel[id] = max(jewel[id], v)
			}
		}
	}
	history := map[string][]store.StatusChange{}
	for c, err := range a.Store.StatusHistory(ctx, store.Filter{}) {
		if err != nil {
			return nil, err
		}
		history[c.ExposureID] = append(history[c.ExposureID], c)
	}
	f.es, f.intel, f.jewel, f.history = es, intel, jewel, history
	return f, nil
}

// KPIDue returns the due date of an exposure under the scope's SLA
// policy as of at, for the SLA adherence series of package kpi
// (kpi.Options.SLA), and nil when the policy sets no rule. The facts are
// today's (owner, internet exposure, KEV, the jewels of the paths open
// now); the clock's pauses are those of the status changes made by at,
// the exposure accepted at at when the last of them accepted it.
func KPIDue(ctx context.Context, a *app.App) (func(x *model.Exposure, at time.Time) (time.Time, bool), error) {
	f, err := gather(ctx, a)
	if err != nil {
		return nil, err
	}
	if f.pol.Empty() {
		return nil, nil
	}
	return func(x *model.Exposure, at time.Time) (time.Time, bool) {
		var h []store.StatusChange
		status := model.StatusOpen
		for _, c := range f.history[x.ID] {
			if !c.At.After(at) {
				h = append(h, c)
				status = c.To
			}
		}
		kev := false
		if f.intel.KEV != nil {
			for _, id := range x.VulnIDs {
				if _, ok := f.intel.KEV.Lookup(id); ok {
					kev = true
					break
				}
			}
		}
		d, ok := f.pol.Evaluate(Facts{Severity: x.Severity, KEV: kev, Internet: f.es.Context(x.Asset).InternetExposed, JewelValue: f.jewel[x.ID],
			FirstSeen: x.FirstSeen, History: h, Status: status}, at)
		return d.At, ok
	}, nil
}
