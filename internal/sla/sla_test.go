package sla

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

const day = 24 * time.Hour

func policy(t testing.TB) Policy {
	t.Helper()
	d := func(s string) scope.Duration {
		v, err := scope.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return FromScope(scope.SLA{Critical: d("30d"), High: d("60d"), Medium: d("90d"), KEV: d("14d"), KEVInternet: d("7d"),
		Internet: d("21d"), CrownJewel: d("14d"), CrownJewelMinValue: 8})
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	change := func(seq int64, from, to model.Status, at time.Time, expires time.Time) store.StatusChange {
		return store.StatusChange{Seq: seq, From: from, To: to, At: at, Expires: expires}
	}
	accept := func(seq int64, at time.Time, expires time.Time) store.StatusChange {
		return change(seq, model.StatusOpen, model.StatusAccepted, at, expires)
	}
	reopen := func(seq int64, at time.Time) store.StatusChange {
		return change(seq, model.StatusAccepted, model.StatusOpen, at, time.Time{})
	}
	tests := []struct {
		name string
		f    Facts
		now  time.Time
		want Due
		ok   bool
	}{
		{name: "critical band", f: Facts{Severity: model.SeverityCritical, FirstSeen: first, Status: model.StatusOpen},
			now: first.Add(10 * day), want: Due{Rule: "critical", Allowed: 30 * day, At: first.Add(30 * day)}, ok: true},
		{name: "critical breached", f: Facts{Severity: model.SeverityCritical, FirstSeen: first, Status: model.StatusOpen},
			now: first.Add(31 * day), want: Due{Rule: "critical", Allowed: 30 * day, At: first.Add(30 * day), Breached: true}, ok: true},
		{name: "low has no band", f: Facts{Severity: model.SeverityLow, FirstSeen: first, Status: model.StatusOpen}, now: first},
		{name: "kev anywhere", f: Facts{Severity: model.SeverityLow, KEV: true, FirstSeen: first, Status: model.StatusOpen},
			now: first, want: Due{Rule: RuleKEV, Allowed: 14 * day, At: first.Add(14 * day)}, ok: true},
		{name: "internet", f: Facts{Severity: model.SeverityHigh, Internet: true, FirstSeen: first, Status: model.StatusOpen},
			now: first, want: Due{Rule: RuleInternet, Allowed: 21 * day, At: first.Add(21 * day)}, ok: true},
		{name: "kev on internet beats every other", f: Facts{Severity: model.SeverityCritical, KEV: true, Internet: true, JewelValue: 10, FirstSeen: first, Status: model.StatusOpen},
			now: first.Add(8 * day), want: Due{Rule: RuleKEVInternet, Allowed: 7 * day, At: first.Add(7 * day), Breached: true}, ok: true},
		{name: "path to a valuable jewel", f: Facts{Severity: model.SeverityMedium, JewelValue: 9, FirstSeen: first, Status: model.StatusOpen},
			now: first, want: Due{Rule: RuleCrownJewel, Allowed: 14 * day, At: first.Add(14 * day)}, ok: true},
		{name: "path to a jewel below the minimum value", f: Facts{Severity: model.SeverityMedium, JewelValue: 5, FirstSeen: first, Status: model.StatusOpen},
			now: first, want: Due{Rule: "medium", Allowed: 90 * day, At: first.Add(90 * day)}, ok: true},
		{name: "accepted now: paused, never breached", f: Facts{Severity: model.SeverityCritical, FirstSeen: first, Status: model.StatusAccepted,
			History: []store.StatusChange{accept(1, first.Add(20*day), first.Add(200*day))}},
			now: first.Add(50 * day), want: Due{Rule: "critical", Allowed: 30 * day, Paused: 30 * day, Accepted: true, At: first.Add(60 * day)}, ok: true},
		{name: "accepted then reopened: resumes with the pause added", f: Facts{Severity: model.SeverityCritical, FirstSeen: first, Status: model.StatusOpen,
			History: []store.StatusChange{accept(1, first.Add(20*day), first.Add(200*day)), reopen(2, first.Add(25*day))}},
			now: first.Add(34 * day), want: Due{Rule: "critical", Allowed: 30 * day, Paused: 5 * day, At: first.Add(35 * day)}, ok: true},
		{name: "resumed and breached", f: Facts{Severity: model.SeverityCritical, FirstSeen: first, Status: model.StatusOpen,
			History: []store.StatusChange{accept(1, first.Add(20*day), first.Add(200*day)), reopen(2, first.Add(25*day))}},
			now: first.Add(36 * day), want: Due{Rule: "critical", Allowed: 30 * day, Paused: 5 * day, At: first.Add(35 * day), Breached: true}, ok: true},
		{name: "two acceptances add up", f: Facts{Severity: model.SeverityCritical, FirstSeen: first, Status: model.StatusOpen,
			History: []store.StatusChange{accept(1, first.Add(2*day), first.Add(99*day)), reopen(2, first.Add(4*day)),
				accept(3, first.Add(10*day), first.Add(99*day)), reopen(4, first.Add(13*day))}},
			now: first, want: Due{Rule: "critical", Allowed: 30 * day, Paused: 5 * day, At: first.Add(35 * day)}, ok: true},
		{name: "expired acceptance not yet reopened: the clock runs from the expiry", f: Facts{Severity: model.SeverityCritical, FirstSeen: first, Status: model.StatusAccepted,
			History: []store.StatusChange{accept(1, first.Add(20*day), first.Add(30*day))}},
			now: first.Add(45 * day), want: Due{Rule: "critical", Allowed: 30 * day, Paused: 10 * day, At: first.Add(40 * day), Breached: true}, ok: true},
		{name: "history out of order is read by sequence", f: Facts{Severity: model.SeverityCritical, FirstSeen: first, Status: model.StatusOpen,
			History: []store.StatusChange{reopen(2, first.Add(25*day)), accept(1, first.Add(20*day), first.Add(200*day))}},
			now: first, want: Due{Rule: "critical", Allowed: 30 * day, Paused: 5 * day, At: first.Add(35 * day)}, ok: true},
	}
	p := policy(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := p.Evaluate(tc.f, tc.now)
			if ok != tc.ok {
				t.Fatalf("Evaluate(%s) ok = %v, want %v", tc.name, ok, tc.ok)
			}
			if !ok {
				return
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("Evaluate(%s) (-got +want):\n%s", tc.name, diff)
			}
		})
	}
}
