package notify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/policy"
	"github.com/ctem-dev/ctem/internal/sla"
	"github.com/ctem-dev/ctem/internal/store"
)

// CollectOptions tunes Collect.
type CollectOptions struct {
	// ExpiringWithin is how far ahead an acceptance's expiry is news; 0
	// is 7 days.
	ExpiringWithin time.Duration
}

// Collect gathers the events of the current data: every validated open
// attack path to a crown jewel that is not accepted as a whole, every
// SLA breach of an open exposure, every acceptance that expires within
// opt.ExpiringWithin (a rule of 'ctem accept', once for all the exposures
// it accepted, or a single exposure's acceptance made outside a rule),
// and every match of a policy whose action is notify. Each event has a stable key, so a channel is told of it once
// (see Run). Policy errors at evaluation time are returned with the
// events gathered.
func Collect(ctx context.Context, a *app.App, opt CollectOptions) ([]Event, error) {
	now := time.Now().UTC()
	if a.Now != nil {
		now = a.Now().UTC()
	}
	within := opt.ExpiringWithin
	if within <= 0 {
		within = 7 * 24 * time.Hour
	}
	var out []Event
	accepted, err := a.AcceptedPaths(ctx)
	if err != nil {
		return nil, err
	}
	pl, err := a.Paths(ctx, app.PathQuery{})
	if err != nil {
		return nil, err
	}
	es, err := a.Estate(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range pl.Paths {
		if !p.Validated || p.Jewel == "" {
			continue
		}
		if _, ok := accepted[p.ID]; ok {
			continue
		}
		var via []string
		for _, s := range p.Steps {
			if len(s.ExposureIDs) > 0 {
				if n, ok := pl.Names[s.ExposureIDs[0]]; ok {
					via = append(via, n)
				}
			}
		}
		d := fmt.Sprintf("risk %.1f, %d steps, path %s", p.Risk, len(p.Steps), p.ID)
		if len(via) > 0 {
			d += ", via " + strings.Join(via, ", ")
		}
		out = append(out, Event{Kind: KindPath, Key: "path:" + p.ID, Title: p.Entry + " reaches " + p.Target, Detail: d,
			Owner: es.Context(p.Jewel).Owner, Rank: p.Risk, At: now})
	}
	slas, err := sla.List(ctx, a, sla.Query{Breached: true, Now: now})
	if err != nil {
		return nil, err
	}
	for _, it := range slas.Items {
		if it.Due.Accepted || it.Exposure.Status != model.StatusOpen {
			continue
		}
		x := it.Exposure
		over := now.Sub(it.Due.At)
		out = append(out, Event{Kind: KindSLABreach, Key: fmt.Sprintf("sla:%s:%d", x.ID, it.Due.At.Unix()),
			Title:  app.WeaknessName(x) + " on " + x.Asset + " is past its SLA",
			Detail: fmt.Sprintf("due %s (%s), %d days overdue, exposure %s", it.Due.At.Format(time.DateOnly), it.Due.Rule, int(over.Hours()/24), x.ID),
			Owner:  it.Owner, Rank: over.Hours(), At: now})
	}
	expiring := func(t time.Time) bool { return t.After(now) && !t.After(now.Add(within)) }
	// A decision of a rule: the same decider, approver and expiry.
	type decision struct {
		by, approver string
		expires      int64
	}
	ruled := map[decision]bool{}
	if m, ok := a.Store.(store.Mobilisation); ok {
		for r, err := range m.AcceptanceRules(ctx) {
			if err != nil {
				return nil, err
			}
			if !expiring(r.Expires) {
				continue
			}
			ruled[decision{r.By, r.Approver, r.Expires.UnixMicro()}] = true
			owner := ""
			if r.Asset != "" {
				owner = es.Context(r.Asset).Owner
			}
			out = append(out, Event{Owner: owner, Kind: KindAcceptanceExpiring, Key: fmt.Sprintf("accept:%s:%d", r.ID, r.Expires.Unix()),
				Title:  "the acceptance of " + ruleScope(r) + " expires " + r.Expires.Format(time.DateOnly),
				Detail: fmt.Sprintf("%q, decided by %s, approved by %s (rule %s); renew it with 'ctem accept' or fix it", r.Reason, r.By, r.Approver, r.ID),
				Rank:   -r.Expires.Sub(now).Hours(), At: now})
		}
	}
	// Acceptances of single exposures made outside a rule ('ctem triage
	// set --status accepted --expires'): the last decision of each
	// exposure still accepted.
	acceptedX := map[string]model.Exposure{}
	var ids []string
	for x, err := range a.Store.Exposures(ctx, store.Filter{Statuses: []model.Status{model.StatusAccepted}, Sort: store.SortID}) {
		if err != nil {
			return nil, err
		}
		acceptedX[x.ID] = x
		ids = append(ids, x.ID)
	}
	last := map[string]store.StatusChange{}
	for i := 0; i < len(ids); i += 500 {
		for c, err := range a.Store.StatusHistory(ctx, store.Filter{IDs: ids[i:min(i+500, len(ids))]}) {
			if err != nil {
				return nil, err
			}
			if c.Seq > last[c.ExposureID].Seq {
				last[c.ExposureID] = c
			}
		}
	}
	for _, id := range ids {
		c, ok := last[id]
		if !ok {
			continue
		}
		if c.To != model.StatusAccepted || !expiring(c.Expires) || ruled[decision{c.By, c.Approver, c.Expires.UnixMicro()}] {
			continue
		}
		x := acceptedX[id]
		out = append(out, Event{Kind: KindAcceptanceExpiring, Key: fmt.Sprintf("accept:%s:%d", id, c.Expires.Unix()),
			Title:  "the acceptance of " + app.WeaknessName(x) + " on " + x.Asset + " expires " + c.Expires.Format(time.DateOnly),
			Detail: fmt.Sprintf("%q, decided by %s, approved by %s (exposure %s)", c.Reason, c.By, c.Approver, id),
			Owner:  es.Context(x.Asset).Owner, Rank: -c.Expires.Sub(now).Hours(), At: now})
	}
	ms, err := policyMatches(ctx, a, scope.ActionNotify)
	for _, m := range ms {
		out = append(out, Event{Kind: KindPolicy, Key: "policy:" + m.Policy + ":" + m.Subject,
			Title:  fmt.Sprintf("policy %s matched %s %s", m.Policy, m.On, m.Subject),
			Detail: strings.Join(m.Because, ", "), At: now})
	}
	return out, err
}

// policyMatches returns the matches of the scope's policies whose action
// is action; none without such a policy (nothing is evaluated then).
func policyMatches(ctx context.Context, a *app.App, action string) ([]policy.Match, error) {
	sc, err := a.ScopeInForce(ctx)
	if err != nil {
		return nil, err
	}
	has := false
	for _, p := range sc.Policies {
		has = has || p.Action == action
	}
	if !has {
		return nil, nil
	}
	r, err := policy.Test(ctx, a)
	if err != nil {
		return nil, err
	}
	return r.WithAction(action), nil
}

func ruleScope(r store.AcceptanceRule) string {
	switch {
	case r.PathID != "":
		return "path " + r.PathID
	case r.ExposureID != "":
		return "exposure " + r.ExposureID
	case r.Asset != "":
		return r.VulnID + " on " + r.Asset
	}
	return r.VulnID + " everywhere"
}
