// Package tickettest is the conformance test every tracker passes: the
// whole life of ctem's tickets, run by ticket.SyncWith against the
// tracker and a stand-in of its service that plays the people.
package tickettest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/ticket"
)

// People is what a tracker's stand-in lets the test do as people would,
// and see of its state. key is a ticket key (ctem-…), found in the
// ticket's body marker.
type People interface {
	// Close closes the ticket, as done or as won't fix (in the tracker's
	// own way: a close reason, a resolution, a label).
	Close(key string, wontFix bool)
	// Open reports whether the ticket is open; exists is false when the
	// tracker holds no ticket with the key.
	Open(key string) (open, exists bool)
}

func ops(r *ticket.Result) string {
	var out []string
	for _, c := range r.Changes {
		out = append(out, c.Op)
	}
	return strings.Join(out, ",")
}

// Item returns the ticket of a plan item with key k and risk removed r.
func Item(k string, r float64) ticket.Ticket {
	return ticket.FromPlanItem(graph.PlanItem{Action: graph.Action{Key: k, Title: "upgrade " + k}, RiskRemoved: r}, nil, "", nil)
}

// Run runs the conformance test: create, idempotence, update, won't fix
// read back as an acceptance request, a ticket closed as done reopened,
// closing what left the plan, a regression reopened, and a ticket closed
// as done waiting for the next scan.
func Run(t *testing.T, tr ticket.Tracker, people People) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	a, b, c := Item("a", 1), Item("b", 1), Item("c", 1)
	step := func(name string, want []ticket.Ticket, scan, wantOps string) {
		t.Helper()
		res, err := ticket.SyncWith(ctx, tr, st, want, ticket.Options{Now: now, LatestScan: scan})
		if err != nil {
			t.Fatalf("%s: SyncWith() = %v", name, err)
		}
		if got := ops(res); got != wantOps {
			t.Errorf("%s: SyncWith() ops = %q, want %q", name, got, wantOps)
		}
	}
	open := func(name string, tk ticket.Ticket, want bool) {
		t.Helper()
		o, ok := people.Open(tk.Key)
		if !ok || o != want {
			t.Errorf("%s: ticket of %s open %v (exists %v), want open %v", name, tk.Action, o, ok, want)
		}
	}
	step("create", []ticket.Ticket{a, b, c}, "", "create,create,create")
	for _, tk := range []ticket.Ticket{a, b, c} {
		open("create", tk, true)
	}
	step("again", []ticket.Ticket{a, b, c}, "", "")
	a2 := Item("a", 5)
	step("content changed", []ticket.Ticket{a2, b, c}, "", "update")
	step("again after update", []ticket.Ticket{a2, b, c}, "", "")

	people.Close(b.Key, true)
	people.Close(c.Key, false)
	step("people acted", []ticket.Ticket{a2, b, c}, "", "acceptance-request,reopen")
	open("people acted", b, false)
	open("people acted", c, true)
	step("again after people", []ticket.Ticket{a2, b, c}, "", "")

	step("c fixed", []ticket.Ticket{a2, b}, "", "close")
	open("c fixed", c, false)
	step("again after fix", []ticket.Ticket{a2, b}, "", "")
	step("c regressed", []ticket.Ticket{a2, b, c}, "", "reopen")
	open("c regressed", c, true)

	people.Close(a.Key, false)
	step("a closed as done", []ticket.Ticket{a2, b, c}, "scan-1", "verify")
	open("a closed as done", a, false)
	step("same scan", []ticket.Ticket{a2, b, c}, "scan-1", "")
	step("next scan needs a", []ticket.Ticket{a2, b, c}, "scan-2", "reopen")
	open("next scan needs a", a, true)
	people.Close(a.Key, false)
	step("a closed as done again", []ticket.Ticket{a2, b, c}, "scan-2", "verify")
	step("next scan: a fixed", []ticket.Ticket{b, c}, "scan-3", "verified")
	open("a verified", a, false)
	step("the end", []ticket.Ticket{b, c}, "scan-3", "")
}
