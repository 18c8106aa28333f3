// Package sla computes when each exposure must be fixed: the time the
// scope's SLA policy allows it, counted from when it was first seen, with
// the time it spent accepted taken out.
package sla

import (
	"cmp"
	"slices"
	"time"

	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// Rules name what set an exposure's SLA.
const (
	RuleKEVInternet = "kev_internet"
	RuleKEV         = "kev"
	RuleInternet    = "internet"
	RuleCrownJewel  = "crown_jewel"
	// The severity bands are named by the severity: "critical", ...
)

// Policy is the time allowed per rule; a zero duration means the rule is
// not set.
type Policy struct {
	Bands       map[model.Severity]time.Duration
	KEV         time.Duration
	KEVInternet time.Duration
	Internet    time.Duration
	CrownJewel  time.Duration
	// JewelMinValue is the lowest crown-jewel value CrownJewel applies to.
	JewelMinValue int
}

// FromScope returns the scope file's SLA policy.
func FromScope(s scope.SLA) Policy {
	return Policy{
		Bands: map[model.Severity]time.Duration{
			model.SeverityCritical: time.Duration(s.Critical), model.SeverityHigh: time.Duration(s.High),
			model.SeverityMedium: time.Duration(s.Medium), model.SeverityLow: time.Duration(s.Low),
		},
		KEV: time.Duration(s.KEV), KEVInternet: time.Duration(s.KEVInternet), Internet: time.Duration(s.Internet),
		CrownJewel: time.Duration(s.CrownJewel), JewelMinValue: s.CrownJewelMinValue,
	}
}

// Empty reports whether the policy sets no rule.
func (p Policy) Empty() bool {
	for _, d := range p.Bands {
		if d > 0 {
			return false
		}
	}
	return p.KEV <= 0 && p.KEVInternet <= 0 && p.Internet <= 0 && p.CrownJewel <= 0
}

// Facts are what the policy looks at about one exposure.
type Facts struct {
	Severity model.Severity
	KEV      bool
	Internet bool
	// JewelValue is the highest value of the crown jewels reached by an
	// open attack path through the exposure; 0 when none.
	JewelValue int
	FirstSeen  time.Time
	// History is the exposure's status changes, oldest first; the time
	// spent accepted pauses the clock.
	History []store.StatusChange
	// Status is the exposure's status now.
	Status model.Status
}

// Due is an exposure's SLA.
type Due struct {
	// Rule names what set the time allowed (the shortest that applies).
	Rule    string        `json:"rule"`
	Allowed time.Duration `json:"allowed"`
	// Paused is the time the exposure spent accepted, which does not
	// count; Accepted is true while it is accepted now (the clock stands).
	Paused   time.Duration `json:"paused"`
	Accepted bool          `json:"accepted"`
	// At is the due date: first seen + allowed + paused (as of now when
	// the exposure is accepted now).
	At time.Time `json:"due"`
	// Breached is true when At has passed and the exposure is not
	// accepted now.
	Breached bool `json:"breached"`
}

// Evaluate returns the exposure's SLA at now, and false when no rule of
// the policy applies to it. The shortest applicable rule wins: a KEV on
// an internet-facing asset is as urgent as the strictest rule it meets.
func (p Policy) Evaluate(f Facts, now time.Time) (Due, bool) {
	var d Due
	consider := func(rule string, allowed time.Duration, applies bool) {
		if !applies || allowed <= 0 {
			return
		}
		if d.Rule == "" || allowed < d.Allowed {
			d.Rule, d.Allowed = rule, allowed
		}
	}
	consider(string(f.Severity), p.Bands[f.Severity], true)
	consider(RuleKEV, p.KEV, f.KEV)
	consider(RuleInternet, p.Internet, f.Internet)
	consider(RuleKEVInternet, p.KEVInternet, f.KEV && f.Internet)
	consider(RuleCrownJewel, p.CrownJewel, f.JewelValue > 0 && f.JewelValue >= p.JewelMinValue)
	if d.Rule == "" {
		return d, false
	}
	d.Paused, d.Accepted = Paused(f.History, f.Status, now)
	d.At = f.FirstSeen.Add(d.Allowed + d.Paused)
	d.Breached = !d.Accepted && now.After(d.At)
	return d, true
}

// Paused returns the time spent accepted by the history up to now, and
// whether the exposure is accepted now. An acceptance runs from the
// change to accepted to the next change away from it (an expiry, a
// person reopening it), or, when status is still accepted, to now or to
// its expiry when that has passed (an expiry not yet recorded).
func Paused(history []store.StatusChange, status model.Status, now time.Time) (time.Duration, bool) {
	h := slices.Clone(history)
	slices.SortStableFunc(h, func(a, b store.StatusChange) int { return cmp.Compare(a.Seq, b.Seq) })
	var total time.Duration
	var since, expires time.Time
	in := false
	for _, c := range h {
		switch {
		case c.To == model.StatusAccepted:
			if !in {
				in, since = true, c.At
			}
			expires = c.Expires
		case in:
			in = false
			total += max(c.At.Sub(since), 0)
		}
	}
	if !in || status != model.StatusAccepted {
		return total, false
	}
	end, accepted := now, true
	if !expires.IsZero() && expires.Before(now) {
		end, accepted = expires, false
	}
	return total + max(end.Sub(since), 0), accepted
}
