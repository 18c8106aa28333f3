package kpi

import (
	"context"
	"time"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// counter computes the exposure figures of a Report from a store's
// aggregates (store.KPIFacts) instead of every exposure: the groups count
// every exposure as never fixed, and each exposure whose history holds a
// fix or a reopening then takes back its share as never fixed and adds
// its share as it happened. The figures are those Compute's reading of
// every exposure gives; at 1M exposures it reads a few groups per asset
// and week instead of a million exposures with their findings.
type counter struct {
	r          *Report
	opt        Options
	now, from  time.Time
	team       func(string) *Team
	owner      func(string) string
	endOf      func(Period) time.Time
	durs       map[model.Severity][]time.Duration
	teamDurs   map[string][]time.Duration
	bandDurs   map[string][]time.Duration
	peaks      map[string]float64
	recorded   bool
	critical   map[string]bool
	hasCritSet map[string]bool
	sla        map[string]*OwnerSLA
}

// slaOf counts one exposure's SLA adherence into its owner's weeks: each
// fix in a period, in time when made by the due date as of the fix, and
// the period's end if the exposure is open then, past due when its due
// date as of that end has passed (breached, as package sla says: the
// end is after the due date).
func (c *counter) slaOf(x *model.Exposure, owner string, ts []transition) {
	o := c.sla[owner]
	if o == nil {
		if c.sla == nil {
			c.sla = map[string]*OwnerSLA{}
		}
		o = &OwnerSLA{Owner: owner, Weeks: make([]SLAWeek, len(c.r.Periods))}
		for i, p := range c.r.Periods {
			o.Weeks[i].Start = p.Start
		}
		c.sla[owner] = o
	}
	for i, p := range c.r.Periods {
		w := &o.Weeks[i]
		for _, tr := range ts {
			if !tr.fixed || !within(tr.at, p.Start, p.until) {
				continue
			}
			if due, ok := c.opt.SLA(x, tr.at); ok {
				w.Fixed++
				if !tr.at.After(due) {
					w.FixedInTime++
				}
			}
		}
		end := c.endOf(p)
		if !triaged(x.Status) && !x.FirstSeen.After(end) && !stateAt(ts, end) {
			if due, ok := c.opt.SLA(x, end); ok {
				w.Open++
				if end.After(due) {
					w.PastDue++
				}
			}
		}
	}
}

// run reads the groups and the changed exposures into the report.
func (c *counter) run(ctx context.Context, facts store.KPIFacts) error {
	q := store.KPIQuery{From: c.from, Now: c.now, Week: Week}
	for g, err := range facts.KPIGroups(ctx, q) {
		if err != nil {
			return err
		}
		c.add(g.Asset, g.Triaged, nil, g.Bucket, nil, g.Count)
	}
	if c.opt.KEVDue != nil {
		vulns := facts.KPIVulns(ctx, q)
		if on, ok := facts.(store.KPIKEVFacts); ok && c.opt.KEVCVEs != nil {
			vulns = on.KPIVulnsOn(ctx, q, c.opt.KEVCVEs)
		}
		for g, err := range vulns {
			if err != nil {
				return err
			}
			c.kev(g.VulnIDs, g.Bucket, g.Count)
		}
	}
	for x, err := range facts.KPIChanges(ctx) {
		if err != nil {
			return err
		}
		if x.FirstSeen.After(c.now) {
			continue
		}
		b := c.bucket(x.FirstSeen)
		ts := timelineOf(x.Findings, x.History)
		tri := triaged(x.Status)
		c.add(x.Asset, tri, x.VulnIDs, b, nil, -1)
		c.add(x.Asset, tri, x.VulnIDs, b, ts, 1)
		// Time to remediate: the last fix in the window, from first seen.
		for i := len(ts) - 1; i >= 0; i-- {
			if ts[i].fixed && within(ts[i].at, c.from, c.now.Add(time.Nanosecond)) {
				d := ts[i].at.Sub(x.FirstSeen)
				c.durs[x.Severity] = append(c.durs[x.Severity], d)
				if c.recorded {
					b := BandOf(c.peaks[x.ID])
					c.bandDurs[b] = append(c.bandDurs[b], d)
				}
				tm := c.owner(x.Asset)
				c.teamDurs[tm] = append(c.teamDurs[tm], d)
				break
			}
		}
	}
	return nil
}

// bucket is the index of the period in which t falls, -1 before the
// first: what KPIGroups computes in the database.
func (c *counter) bucket(t time.Time) int {
	if t.Before(c.from) {
		return -1
	}
	return int(t.Sub(c.from) / Week)
}

// isCritical caches Options.Critical per asset.
func (c *counter) isCritical(asset string) bool {
	if c.opt.Critical == nil {
		return false
	}
	if c.critical == nil {
		c.critical, c.hasCritSet = map[string]bool{}, map[string]bool{}
	}
	if !c.hasCritSet[asset] {
		c.critical[asset], c.hasCritSet[asset] = c.opt.Critical(asset), true
	}
	return c.critical[asset]
}

// kev counts n untriaged exposures on vulnerabilities vulns, first seen
// in period b, as never fixed, into the figures on the KEV catalog.
func (c *counter) kev(vulns []string, b, n int) {
	due, kev := kevDue(&model.Exposure{VulnIDs: vulns}, c.opt.KEVDue)
	if !kev {
		return
	}
	for i := max(b, 0); i < len(c.r.Periods); i++ {
		if due.Before(c.endOf(c.r.Periods[i])) {
			c.r.Periods[i].KEVOverdue += n
		}
	}
	if due.Before(c.now) {
		c.r.KEVOverdue += n
	}
}

// add counts n exposures (n < 0 takes them back) of one asset, triage
// state and vulnerability ids, first seen in period b (-1: before the
// window), with transitions ts.
func (c *counter) add(asset string, tri bool, vulns []string, b int, ts []transition, n int) {
	r := c.r
	tm := c.team(c.owner(asset))
	due, kev := kevDue(&model.Exposure{VulnIDs: vulns}, c.opt.KEVDue)
	if b >= 0 && b < len(r.Periods) {
		r.Periods[b].Opened += n
		tm.Opened += n
	}
	for i := range r.Periods {
		p := &r.Periods[i]
		for _, tr := range ts {
			if !within(tr.at, p.Start, p.until) {
				continue
			}
			if tr.fixed {
				p.Fixed += n
				tm.Fixed += n
			} else {
				p.Reopened += n
			}
		}
		if !tri && b <= i && !stateAt(ts, c.endOf(*p)) {
			p.Open += n
			if kev && due.Before(c.endOf(*p)) {
				p.KEVOverdue += n
			}
		}
	}
	if !tri && !stateAt(ts, c.now) {
		r.Open += n
		tm.Open += n
		if c.isCritical(asset) {
			r.OpenOnCritical += n
		}
		if kev && due.Before(c.now) {
			r.KEVOverdue += n
		}
	}
}

// each computes the exposure figures from every exposure with its
// history, for a store without aggregates (store.KPIFacts).
func (c *counter) each(ctx context.Context, st store.Store) error {
	for x, err := range st.Exposures(ctx, store.Filter{History: true, ByID: true}) {
		if err != nil {
			return err
		}
		if x.FirstSeen.After(c.now) {
			continue
		}
		ts := timeline(&x)
		tm := c.team(c.owner(x.Asset))
		if c.opt.SLA != nil {
			c.slaOf(&x, tm.Team, ts)
		}
		due, kev := kevDue(&x, c.opt.KEVDue)
		for i := range c.r.Periods {
			p := &c.r.Periods[i]
			if within(x.FirstSeen, p.Start, p.until) {
				p.Opened++
				tm.Opened++
			}
			for _, tr := range ts {
				if !within(tr.at, p.Start, p.until) {
					continue
				}
				if tr.fixed {
					p.Fixed++
					tm.Fixed++
				} else {
					p.Reopened++
				}
			}
			if !triaged(x.Status) && !x.FirstSeen.After(c.endOf(*p)) && !stateAt(ts, c.endOf(*p)) {
				p.Open++
				if kev && due.Before(c.endOf(*p)) {
					p.KEVOverdue++
				}
			}
		}
		// Time to remediate: the last fix in the window, from first seen.
		for i := len(ts) - 1; i >= 0; i-- {
			if ts[i].fixed && within(ts[i].at, c.from, c.now.Add(time.Nanosecond)) {
				d := ts[i].at.Sub(x.FirstSeen)
				c.durs[x.Severity] = append(c.durs[x.Severity], d)
				if c.recorded {
					b := BandOf(c.peaks[x.ID])
					c.bandDurs[b] = append(c.bandDurs[b], d)
				}
				c.teamDurs[tm.Team] = append(c.teamDurs[tm.Team], d)
				break
			}
		}
		if !triaged(x.Status) && !stateAt(ts, c.now) {
			c.r.Open++
			tm.Open++
			if c.opt.Critical != nil && c.opt.Critical(x.Asset) {
				c.r.OpenOnCritical++
			}
			if kev && due.Before(c.now) {
				c.r.KEVOverdue++
			}
		}
	}
	return nil
}
