package ticket_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/ticket"
)

// memTracker is a tracker in memory that counts its writes.
type memTracker struct {
	tickets map[string]*ticket.Remote
	writes  int
}

func (m *memTracker) Name() string { return "mem" }
func (m *memTracker) List(context.Context) ([]ticket.Remote, error) {
	var out []ticket.Remote
	for _, r := range m.tickets {
		out = append(out, *r)
	}
	return out, nil
}
func (m *memTracker) Create(_ context.Context, t ticket.Ticket) (ticket.Remote, error) {
	m.writes++
	r := &ticket.Remote{Key: t.Key, ID: fmt.Sprint(len(m.tickets) + 1), Open: true, Digest: t.Digest()}
	m.tickets[t.Key] = r
	return *r, nil
}
func (m *memTracker) Update(_ context.Context, r ticket.Remote, t ticket.Ticket) error {
	m.writes++
	m.tickets[t.Key].Digest = t.Digest()
	return nil
}
func (m *memTracker) SetOpen(_ context.Context, r ticket.Remote, _ ticket.Ticket, open bool, _ string) error {
	m.writes++
	m.tickets[r.Key].Open = open
	return nil
}

func opsOf(r *ticket.Result) string {
	var out []string
	for _, c := range r.Changes {
		out = append(out, c.Op)
	}
	return strings.Join(out, ",")
}

// TestSyncVerifiesClosedAsDone checks that a ticket people closed as done
// waits for the next scan: reopened when that scan still needs the
// action, verified when the action left the plan.
func TestSyncVerifiesClosedAsDone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tr := &memTracker{tickets: map[string]*ticket.Remote{}}
	item := func(k string) ticket.Ticket {
		return ticket.FromPlanItem(graph.PlanItem{Action: graph.Action{Key: k, Title: "upgrade " + k}, RiskRemoved: 1}, nil, "", nil)
	}
	a, b := item("a"), item("b")
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	step := func(name string, want []ticket.Ticket, scan string, dry bool, wantOps string) {
		t.Helper()
		res, err := ticket.SyncWith(ctx, tr, st, want, ticket.Options{DryRun: dry, Now: now, LatestScan: scan})
		if err != nil {
			t.Fatalf("%s: SyncWith() = %v", name, err)
		}
		if got := opsOf(res); got != wantOps {
			t.Errorf("%s: SyncWith() ops = %q, want %q", name, got, wantOps)
		}
	}
	state := func(key string) string {
		for r, err := range st.Tickets(ctx, "mem") {
			if err != nil {
				t.Fatal(err)
			}
			if r.ActionKey == key {
				return r.State + "@" + r.VerifyScan
			}
		}
		return ""
	}
	step("create", []ticket.Ticket{a, b}, "s1", false, "create,create")
	tr.tickets[a.Key].Open = false // people close a as done
	writes := tr.writes
	step("dry run", []ticket.Ticket{a, b}, "s1", true, "verify")
	if got := state(a.Key); got != "open@" {
		t.Errorf("after a dry run, a's record = %s, want open", got)
	}
	step("closed as done", []ticket.Ticket{a, b}, "s1", false, "verify")
	if got := state(a.Key); got != "verifying@s1" || tr.writes != writes || tr.tickets[a.Key].Open {
		t.Errorf("a's record = %s, %d tracker writes, open %v; want verifying@s1, none, closed", got, tr.writes-writes, tr.tickets[a.Key].Open)
	}
	step("same scan", []ticket.Ticket{a, b}, "s1", false, "")
	step("next scan still needs a", []ticket.Ticket{a, b}, "s2", false, "reopen")
	if !tr.tickets[a.Key].Open || state(a.Key) != "open@" {
		t.Errorf("after the next scan, a open %v record %s; want reopened", tr.tickets[a.Key].Open, state(a.Key))
	}
	tr.tickets[b.Key].Open = false // people close b as done
	step("b closed as done", []ticket.Ticket{a, b}, "s2", false, "verify")
	step("next scan: b left the plan", []ticket.Ticket{a}, "s3", false, "verified")
	if got := state(b.Key); got != "closed@" || tr.tickets[b.Key].Open {
		t.Errorf("b's record = %s, open %v; want closed", got, tr.tickets[b.Key].Open)
	}
	step("again", []ticket.Ticket{a}, "s3", false, "")
	// Without a scan id, Sync reopens at once as before.
	tr.tickets[a.Key].Open = false
	res, err := ticket.Sync(ctx, tr, st, []ticket.Ticket{a}, false, now)
	if err != nil || opsOf(res) != "reopen" {
		t.Errorf("Sync(closed, no scan id) = %q, %v; want reopen", opsOf(res), err)
	}
}
