// Package kpi computes a CTEM programme's key figures over time from what
// the store already records: when each exposure was first seen, the
// status changes of its findings (fixed, reopened) and the attack paths
// each analysis opened and closed, so the same figures come out of any
// existing database. What history cannot give back is read from what
// each analysis recorded when the store keeps it (store.KPIHistory): the
// validated paths and the figures per crown jewel at every analysis
// (Report.Snapshots), and the priority each exposure had, which sorts
// its time to remediate into a priority band (Report.ByBand).
package kpi

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// Week is the length of one period of the series.
const Week = 7 * 24 * time.Hour

// Options say what to compute.
type Options struct {
	// Now ends the series (the clock, injected).
	Now time.Time
	// Since is how far back the series starts; the first period begins
	// on the Monday (00:00 UTC) of Now − Since. Zero means 90 days.
	Since time.Duration
	// Owner names an asset's team, for the figures by team; nil puts
	// every asset in the team "".
	Owner func(asset string) string
	// Critical reports whether an asset is business-critical (its
	// service's criticality in the scope); nil means none is.
	Critical func(asset string) bool
	// KEVDue returns the due date CISA's Known Exploited Vulnerabilities
	// catalog sets for a CVE, and false when the CVE is not in it; nil
	// means no catalog.
	KEVDue func(cve string) (time.Time, bool)
	// KEVCVEs lists the catalog's CVE ids (those KEVDue knows), so that a
	// store with an index of vulnerability ids (store.KPIKEVFacts) reads
	// only the exposures on them; nil reads every untriaged exposure's ids.
	KEVCVEs []string
	// SLA returns an exposure's due date under the SLA policy as of at
	// (at is when it was fixed, or the end of a period), and false when
	// no rule applies to it. Nil leaves Report.SLA empty; set, it makes
	// Compute read every exposure with its history (the SLA depends on
	// each exposure's facts), not the store's aggregates.
	SLA func(x *model.Exposure, at time.Time) (time.Time, bool)
}

// SLAWeek is one owner's SLA adherence in one period, over the exposures
// the SLA policy gives a due date.
type SLAWeek struct {
	Start time.Time `json:"start"`
	// Fixed counts the fixes in the period (as Period.Fixed does), and
	// FixedInTime those made by the exposure's due date.
	Fixed       int `json:"fixed"`
	FixedInTime int `json:"fixed_in_time"`
	// Open counts the exposures open at the period's end (as Period.Open
	// does), and PastDue those whose due date had passed.
	Open    int `json:"open"`
	PastDue int `json:"past_due"`
	// InTimeShare is FixedInTime / Fixed and PastDueShare PastDue / Open;
	// each is 0 when its denominator is.
	InTimeShare  float64 `json:"in_time_share"`
	PastDueShare float64 `json:"past_due_share"`
}

// OwnerSLA is one owner's (team's) SLA adherence, week by week.
type OwnerSLA struct {
	Owner string `json:"owner"`
	// Weeks are in the order of Report.Periods.
	Weeks []SLAWeek `json:"weeks"`
}

// Period is one week of the series.
type Period struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Opened counts exposures first seen in the period, Fixed those that
	// became fixed (every finding of theirs fixed) and Reopened those
	// that came back after a fix.
	Opened   int `json:"opened"`
	Fixed    int `json:"fixed"`
	Reopened int `json:"reopened"`
	// Open counts exposures open at the period's end.
	Open int `json:"open"`
	// PathsOpened and PathsClosed count attack paths the analyses of
	// the period opened and closed; OpenPaths those open at its end.
	PathsOpened int `json:"paths_opened"`
	PathsClosed int `json:"paths_closed"`
	OpenPaths   int `json:"open_paths"`
	// KEVOverdue counts exposures open at the period's end on a CVE of
	// the KEV catalog whose due date had passed.
	KEVOverdue int `json:"kev_overdue"`

	// until is End, but just after it for the last period, which
	// includes its end (the report's time).
	until time.Time
}

// Remediation is the time to remediate of the exposures fixed in the
// window, from first seen to fixed.
type Remediation struct {
	Severity model.Severity `json:"severity,omitempty"`
	Band     string         `json:"band,omitempty"`
	Team     string         `json:"team,omitempty"`
	Fixed    int            `json:"fixed"`
	Mean     time.Duration  `json:"mean_ns"`
	P90      time.Duration  `json:"p90_ns"`
}

// Team is the state of one team's assets.
type Team struct {
	Team   string `json:"team"`
	Open   int    `json:"open"`
	Opened int    `json:"opened"`
	Fixed  int    `json:"fixed"`
	// Remediation is the team's time to remediate in the window.
	Remediation Remediation `json:"remediation"`
}

// Report holds the KPIs.
type Report struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Periods []Period  `json:"periods"`
	// BySeverity is the time to remediate per severity, most severe
	// first; severities without a fix in the window are left out.
	BySeverity []Remediation `json:"time_to_remediate"`
	// ByBand is the time to remediate per priority band (see BandOf), in
	// the order of Bands; bands without a fix in the window are left out.
	// It is empty when the store records no priorities.
	ByBand []Remediation `json:"time_to_remediate_by_band,omitempty"`
	// Snapshots are the figures each analysis in the window recorded,
	// oldest first; empty when the store records none.
	Snapshots []Snapshot `json:"snapshots,omitempty"`
	// Open and OpenOnCritical count the exposures open at To, and of them
	// those on business-critical assets; CriticalShare is their ratio
	// (0 when nothing is open).
	Open           int     `json:"open"`
	OpenOnCritical int     `json:"open_on_critical"`
	CriticalShare  float64 `json:"critical_share"`
	// OpenPaths counts the attack paths open at To.
	OpenPaths int `json:"open_paths"`
	// KEVOverdue counts the exposures open at To on a KEV CVE past its
	// due date.
	KEVOverdue int `json:"kev_overdue"`
	// Teams are the figures by team, by name.
	Teams []Team `json:"teams,omitempty"`
	// Jewels are the open attack paths per crown jewel, by key: every
	// jewel a path to which was open at a period's end or opened or
	// closed in the window.
	Jewels []Jewel `json:"jewels,omitempty"`
	// SLA is the SLA adherence by owner (Options.Owner), by owner name;
	// empty without Options.SLA.
	SLA []OwnerSLA `json:"sla,omitempty"`
}

// Jewel is the series of attack paths open to one crown jewel.
type Jewel struct {
	Jewel string `json:"jewel"`
	// Open counts the paths open at the end of each period (in the
	// order of Report.Periods), OpenNow those open at Report.To.
	Open    []int `json:"open"`
	OpenNow int   `json:"open_now"`
}

// Priority bands: the highest priority (risk removed by fixing it, the
// likelihood of the paths it is on times their crown jewels' value, 1 to
// 10) any analysis gave an exposure. A jewel of value 10 on a path of
// likelihood 0.1 is P1; an exposure on no recorded path is off-path.
const (
	BandP1      = "p1"       // risk removed >= 1
	BandP2      = "p2"       // risk removed >= 0.1
	BandP3      = "p3"       // risk removed > 0
	BandOffPath = "off-path" // on no attack path any analysis recorded
)

// Bands lists the priority bands, highest first.
var Bands = []string{BandP1, BandP2, BandP3, BandOffPath}

// BandOf returns the priority band of a risk removed.
func BandOf(riskRemoved float64) string {
	switch {
	case riskRemoved >= 1:
		return BandP1
	case riskRemoved >= 0.1:
		return BandP2
	case riskRemoved > 0:
		return BandP3
	}
	return BandOffPath
}

// Snapshot is what one analysis recorded of the paths open after it.
type Snapshot struct {
	AnalysisID int64     `json:"analysis_id"`
	At         time.Time `json:"at"`
	OpenPaths  int       `json:"open_paths"`
	// ValidatedPaths counts the open paths whose every step is
	// evidenced; ValidatedBy counts them by a kind of evidence that
	// validated one of their steps ("kev", "probe-confirmed", ...,
	// "relation", "label").
	ValidatedPaths int            `json:"validated_paths"`
	ValidatedBy    map[string]int `json:"validated_by,omitempty"`
	Risk           float64        `json:"risk"`
	PathExposures  int            `json:"path_exposures"`
	// Jewels are the figures per crown jewel, by asset key.
	Jewels map[string]JewelSnapshot `json:"jewels,omitempty"`
	// Derived marks a snapshot computed back from the path events, for an
	// analysis made before the store recorded snapshots (see
	// derivedSnapshots): only OpenPaths, the jewels' OpenPaths and Teams
	// are known; AnalysisID is 0 and the validated paths, the risk and
	// the path exposures are left at zero.
	Derived bool `json:"derived,omitempty"`
	// Teams sums Jewels by the team that owns each jewel now
	// (Options.Owner); empty without owners.
	Teams map[string]JewelSnapshot `json:"teams,omitempty"`
}

// JewelSnapshot is one crown jewel's figures in a Snapshot.
type JewelSnapshot struct {
	OpenPaths      int     `json:"open_paths"`
	ValidatedPaths int     `json:"validated_paths"`
	Risk           float64 `json:"risk"`
}

// byTeam sums a snapshot's jewel figures by their owner.
func byTeam(s *Snapshot, owner func(string) string) {
	for j, f := range s.Jewels {
		if s.Teams == nil {
			s.Teams = map[string]JewelSnapshot{}
		}
		t := s.Teams[owner(j)]
		t.OpenPaths += f.OpenPaths
		t.ValidatedPaths += f.ValidatedPaths
		t.Risk += f.Risk
		s.Teams[owner(j)] = t
	}
}

// snapshots reads the recorded figures from since on into snapshots.
func snapshots(ctx context.Context, h store.KPIHistory, since time.Time) ([]Snapshot, error) {
	var out []Snapshot
	for v, err := range h.KPISnapshots(ctx, since) {
		if err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].AnalysisID != v.AnalysisID {
			out = append(out, Snapshot{AnalysisID: v.AnalysisID, At: v.At})
		}
		s := &out[len(out)-1]
		n := int(math.Round(v.Value))
		switch v.Dim {
		case store.KPIWhole:
			switch v.Metric {
			case store.MetricOpenPaths:
				s.OpenPaths = n
			case store.MetricValidatedPaths:
				s.ValidatedPaths = n
			case store.MetricRisk:
				s.Risk = v.Value
			case store.MetricPathExposures:
				s.PathExposures = n
			}
		case store.KPIEvidence:
			if v.Metric == store.MetricValidatedPaths {
				if s.ValidatedBy == nil {
					s.ValidatedBy = map[string]int{}
				}
				s.ValidatedBy[v.Key] = n
			}
		case store.KPIJewel:
			if s.Jewels == nil {
				s.Jewels = map[string]JewelSnapshot{}
			}
			j := s.Jewels[v.Key]
			switch v.Metric {
			case store.MetricOpenPaths:
				j.OpenPaths = n
			case store.MetricValidatedPaths:
				j.ValidatedPaths = n
			case store.MetricRisk:
				j.Risk = v.Value
			}
			s.Jewels[v.Key] = j
		}
	}
	return out, nil
}

// transition is an exposure becoming fixed (fixed true) or coming back.
type transition struct {
	at    time.Time
	fixed bool
}

// timeline returns the exposure-level fixes and reopenings of x from its
// findings' events: x is fixed when every one of its findings is, and
// comes back when one is reopened. Findings are taken to exist from the
// exposure's first sighting, so a fix of the only finding seen so far
// while a later tool's finding is yet to come is not counted as a fix.
func timeline(x *model.Exposure) []transition {
	return timelineOf(len(x.FindingIDs), x.History)
}

// timelineOf is timeline of an exposure of n findings and history h.
func timelineOf(n int, h []model.Event) []transition {
	if n == 0 {
		return nil
	}
	evs := slices.Clone(h)
	slices.SortStableFunc(evs, func(a, b model.Event) int { return a.At.Compare(b.At) })
	fixed := map[string]bool{}
	was := false
	var out []transition
	for _, e := range evs {
		switch {
		case e.To == model.StatusFixed:
			fixed[e.FindingID] = true
		case e.From == model.StatusFixed:
			delete(fixed, e.FindingID)
		}
		now := len(fixed) >= n
		if now != was {
			out = append(out, transition{e.At, now})
			was = now
		}
	}
	return out
}

// stateAt reports whether the exposure is fixed at t after transitions ts.
func stateAt(ts []transition, t time.Time) bool {
	fixed := false
	for _, tr := range ts {
		if tr.at.After(t) {
			break
		}
		fixed = tr.fixed
	}
	return fixed
}

// triaged reports whether a status takes an exposure out of the open
// count: accepted, not affected and false positives are decided, not
// open. The current status is applied to the whole history (the store
// keeps no history of triage).
func triaged(s model.Status) bool {
	return s == model.StatusAccepted || s == model.StatusNotAffected || s == model.StatusFalsePositive
}

// weekStart is the Monday 00:00 UTC on or before t.
func weekStart(t time.Time) time.Time {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	off := (int(d.Weekday()) + 6) % 7 // days since Monday
	return d.AddDate(0, 0, -off)
}

// within reports whether t is in [from, to).
func within(t, from, to time.Time) bool {
	return !t.Before(from) && t.Before(to)
}

// Compute reads the history of st and computes the KPIs of the window
// that ends at opt.Now. From a store with aggregates (store.KPIFacts) it
// reads the exposures grouped by asset and week and only those with a fix
// or a reopening one by one (see counter); from another it reads every
// exposure with its history once, keeping per exposure only its
// transitions. It reads every path event.
func Compute(ctx context.Context, st store.Store, opt Options) (*Report, error) {
	if opt.Now.IsZero() {
		return nil, fmt.Errorf("kpi: no time given")
	}
	since := opt.Since
	if since <= 0 {
		since = 90 * 24 * time.Hour
	}
	now := opt.Now.UTC()
	from := weekStart(now.Add(-since))
	r := &Report{From: from, To: now}
	for s := from; s.Before(now) || s.Equal(from); s = s.Add(Week) {
		end := s.Add(Week)
		if end.After(now) {
			end = now
		}
		until := end
		if !end.Before(now) {
			until = now.Add(time.Nanosecond)
		}
		r.Periods = append(r.Periods, Period{Start: s, End: end, until: until})
		if !end.Before(now) {
			break
		}
	}
	var peaks map[string]float64
	hist, recorded := st.(store.KPIHistory)
	if recorded {
		var err error
		if peaks, err = hist.PriorityPeaks(ctx); err != nil {
			return nil, err
		}
		if r.Snapshots, err = snapshots(ctx, hist, from); err != nil {
			return nil, err
		}
		if opt.Owner != nil {
			for i := range r.Snapshots {
				byTeam(&r.Snapshots[i], opt.Owner)
			}
		}
	}
	bandDurs := map[string][]time.Duration{}
	owner := opt.Owner
	if owner == nil {
		owner = func(string) string { return "" }
	}
	durs := map[model.Severity][]time.Duration{}
	teamDurs := map[string][]time.Duration{}
	teams := map[string]*Team{}
	team := func(name string) *Team {
		t := teams[name]
		if t == nil {
			t = &Team{Team: name}
			teams[name] = t
		}
		return t
	}
	endOf := func(p Period) time.Time { return p.until.Add(-time.Nanosecond) }
	c := &counter{r: r, opt: opt, now: now, from: from, team: team, owner: owner, endOf: endOf,
		durs: durs, teamDurs: teamDurs, bandDurs: bandDurs, peaks: peaks, recorded: recorded}
	var err error
	if facts, ok := st.(store.KPIFacts); ok && opt.SLA == nil {
		err = c.run(ctx, facts)
	} else {
		err = c.each(ctx, st)
	}
	if err != nil {
		return nil, err
	}
	if r.Open > 0 {
		r.CriticalShare = float64(r.OpenOnCritical) / float64(r.Open)
	}
	for _, sev := range model.Severities {
		if ds := durs[sev]; len(ds) > 0 {
			r.BySeverity = append(r.BySeverity, remediation(ds, sev, ""))
		}
	}
	for _, b := range Bands {
		if ds := bandDurs[b]; len(ds) > 0 {
			m := remediation(ds, "", "")
			m.Band = b
			r.ByBand = append(r.ByBand, m)
		}
	}
	for _, t := range teams {
		if ds := teamDurs[t.Team]; len(ds) > 0 {
			t.Remediation = remediation(ds, "", t.Team)
		}
		r.Teams = append(r.Teams, *t)
	}
	slices.SortFunc(r.Teams, func(a, b Team) int { return cmp.Compare(a.Team, b.Team) })
	for _, o := range c.sla {
		for i := range o.Weeks {
			w := &o.Weeks[i]
			if w.Fixed > 0 {
				w.InTimeShare = float64(w.FixedInTime) / float64(w.Fixed)
			}
			if w.Open > 0 {
				w.PastDueShare = float64(w.PastDue) / float64(w.Open)
			}
		}
		r.SLA = append(r.SLA, *o)
	}
	slices.SortFunc(r.SLA, func(a, b OwnerSLA) int { return cmp.Compare(a.Owner, b.Owner) })
	if err := r.paths(ctx, st, opt.Owner); err != nil {
		return nil, err
	}
	return r, nil
}

// paths replays every path event, oldest first, into the periods, and
// puts the snapshots derived from them before the recorded ones.
func (r *Report) paths(ctx context.Context, st store.Store, owner func(string) string) error {
	var evs []store.PathEvent
	for e, err := range st.PathEvents(ctx, store.Filter{}) {
		if err != nil {
			return err
		}
		evs = append(evs, e)
	}
	slices.SortStableFunc(evs, func(a, b store.PathEvent) int { return a.At.Compare(b.At) })
	if d := derivedSnapshots(evs, r.From, r.To, r.Snapshots); len(d) > 0 {
		if owner != nil {
			for i := range d {
				byTeam(&d[i], owner)
			}
		}
		r.Snapshots = append(d, r.Snapshots...)
	}
	open := map[string]string{} // path id -> jewel
	jewels := map[string]*Jewel{}
	seen := func(j string) {
		if jewels[j] == nil {
			jewels[j] = &Jewel{Jewel: j, Open: make([]int, len(r.Periods))}
		}
	}
	i := 0
	apply := func(until time.Time, p *Period) {
		for ; i < len(evs) && evs[i].At.Before(until); i++ {
			e := evs[i]
			switch e.Event {
			case "opened":
				open[e.PathID] = JewelOf(e.Summary)
				if p != nil && !e.At.Before(p.Start) {
					p.PathsOpened++
					seen(JewelOf(e.Summary))
				}
			case "closed":
				delete(open, e.PathID)
				if p != nil && !e.At.Before(p.Start) {
					p.PathsClosed++
					seen(JewelOf(e.Summary))
				}
			}
		}
	}
	count := func() map[string]int {
		n := map[string]int{}
		for _, j := range open {
			n[j]++
			seen(j)
		}
		return n
	}
	for k := range r.Periods {
		p := &r.Periods[k]
		apply(p.Start, nil)
		apply(p.until, p)
		p.OpenPaths = len(open)
		for j, n := range count() {
			jewels[j].Open[k] = n
		}
	}
	apply(r.To.Add(time.Nanosecond), nil)
	r.OpenPaths = len(open)
	for j, n := range count() {
		jewels[j].OpenNow = n
	}
	for _, j := range jewels {
		r.Jewels = append(r.Jewels, *j)
	}
	slices.SortFunc(r.Jewels, func(a, b Jewel) int { return cmp.Compare(a.Jewel, b.Jewel) })
	return nil
}

// derivedSnapshots computes back the open paths after each analysis in
// [from, to] older than the first recorded snapshot (every analysis when
// none is recorded, as in a database made before snapshots were), from
// the path events evs (sorted by time): an analysis's events share its
// time, so each distinct time of an event is one analysis. It is
// approximate where the events say nothing: an analysis that opened and
// closed no path has no snapshot, and the crown jewel is the one the
// event's summary names (JewelOf).
func derivedSnapshots(evs []store.PathEvent, from, to time.Time, recorded []Snapshot) []Snapshot {
	var out []Snapshot
	open := map[string]string{} // path id -> jewel
	for i := 0; i < len(evs); {
		at := evs[i].At
		for ; i < len(evs) && evs[i].At.Equal(at); i++ {
			switch e := evs[i]; e.Event {
			case "opened":
				open[e.PathID] = JewelOf(e.Summary)
			case "closed":
				delete(open, e.PathID)
			}
		}
		if at.Before(from) || at.After(to) || (len(recorded) > 0 && !at.Before(recorded[0].At)) {
			continue
		}
		s := Snapshot{At: at, OpenPaths: len(open), Derived: true}
		for _, j := range open {
			if s.Jewels == nil {
				s.Jewels = map[string]JewelSnapshot{}
			}
			f := s.Jewels[j]
			f.OpenPaths++
			s.Jewels[j] = f
		}
		out = append(out, s)
	}
	return out
}

// JewelOf returns the crown jewel of a path event: the asset of the
// path's last state, with which both summaries end ("ENTRY -[rule]->
// STATE ... -[rule]-> CAP:JEWEL" when a path opens, "ENTRY => CAP:JEWEL"
// when it closes). The store's path events carry no jewel of their own.
func JewelOf(summary string) string {
	last := summary
	for _, sep := range []string{"]-> ", " => "} {
		if i := strings.LastIndex(last, sep); i >= 0 {
			last = last[i+len(sep):]
		}
	}
	_, asset, ok := strings.Cut(last, ":")
	if !ok {
		return last
	}
	return asset
}

// kevDue returns the earliest KEV due date of the exposure's CVEs, and
// false when none is in the catalog.
func kevDue(x *model.Exposure, lookup func(string) (time.Time, bool)) (time.Time, bool) {
	if lookup == nil {
		return time.Time{}, false
	}
	var due time.Time
	found := false
	for _, id := range x.VulnIDs {
		if d, ok := lookup(id); ok && (!found || d.Before(due)) {
			due, found = d, true
		}
	}
	return due, found
}

// remediation summarises durations: their mean and 90th percentile
// (nearest rank: the smallest duration at or above 90% of them).
func remediation(ds []time.Duration, sev model.Severity, team string) Remediation {
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	rank := int(math.Ceil(0.9*float64(len(ds)))) - 1
	return Remediation{Severity: sev, Team: team, Fixed: len(ds), Mean: sum / time.Duration(len(ds)), P90: ds[max(rank, 0)]}
}
