package notify_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/notify"
	"github.com/ctem-dev/ctem/internal/store"
)

// TestForTeam sends the example estate's events, 40 days on (SLA
// breaches of several owners), to an unrestricted channel and to a
// channel of each owner: each team's channel hears of its own events
// only, nothing without an owner, and is recorded apart.
func TestForTeam(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	a := exampleApp(t, &now, "")
	now = now.Add(40 * 24 * time.Hour)
	events, err := notify.Collect(ctx, a, notify.CollectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byOwner := map[string]map[string]bool{}
	for _, e := range events {
		if byOwner[e.Owner] == nil {
			byOwner[e.Owner] = map[string]bool{}
		}
		byOwner[e.Owner][e.Key] = true
	}
	teams := slices.Sorted(maps.Keys(byOwner))
	teams = slices.DeleteFunc(teams, func(s string) bool { return s == "" })
	if len(teams) < 2 {
		t.Fatalf("Collect() owners = %q, want events of two teams at least", teams)
	}
	all := &recorder{name: "slack"}
	senders := []notify.Sender{all}
	recs := map[string]*recorder{}
	for _, team := range append(teams, "team-none") {
		recs[team] = &recorder{name: "slack"}
		senders = append(senders, notify.ForTeam(recs[team], team))
	}
	out, err := notify.Run(ctx, a.Store.(store.Notifications), senders, events, 100, false, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.got) != 1 || out[0].Sent != len(events) {
		t.Errorf("Run() unrestricted channel = %d messages, %d sent; want one digest of all %d events", len(all.got), out[0].Sent, len(events))
	}
	for i, team := range append(teams, "team-none") {
		o := out[i+1]
		if want := "slack:" + team; o.Channel != want {
			t.Errorf("Run() channel %d = %q, want %q", i+1, o.Channel, want)
		}
		got := map[string]bool{}
		for _, m := range recs[team].got {
			for _, e := range m.Events {
				got[e.Key] = true
				if e.Owner != team {
					t.Errorf("Run() told %s's channel of %s owned by %q", team, e.Key, e.Owner)
				}
			}
		}
		if len(got) != len(byOwner[team]) || o.Sent != len(byOwner[team]) {
			t.Errorf("Run() %s's channel = %d events (%d sent), want its %d", team, len(got), o.Sent, len(byOwner[team]))
		}
	}
	// Run again: every channel was told already, and nothing is sent.
	out, err = notify.Run(ctx, a.Store.(store.Notifications), senders, events, 100, false, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Sent != 0 {
			t.Errorf("Run() again: %s sent %d, want 0", o.Channel, o.Sent)
		}
	}
}

// BenchmarkCollectRun is the server's digest job on the example estate,
// 40 days on: Collect, then Run (a dry run, so every iteration does the
// same work) to one unrestricted channel and one channel per team.
func BenchmarkCollectRun(b *testing.B) {
	ctx := b.Context()
	now := time.Now().UTC().Truncate(time.Second)
	a := exampleApp(b, &now, "")
	now = now.Add(40 * 24 * time.Hour)
	senders := []notify.Sender{&recorder{name: "slack"}}
	for _, team := range []string{"team-platform", "team-data", "team-orders", "team-web"} {
		senders = append(senders, notify.ForTeam(&recorder{name: "slack"}, team))
	}
	recs := a.Store.(store.Notifications)
	n := 0
	for b.Loop() {
		events, err := notify.Collect(ctx, a, notify.CollectOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := notify.Run(ctx, recs, senders, events, 20, true, now); err != nil {
			b.Fatal(err)
		}
		n = len(events)
	}
	b.ReportMetric(float64(n), "events")
}
