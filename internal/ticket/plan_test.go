package ticket_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/ticket"
)

// TestWanted builds the tickets of the example estate's fix plan: one per
// action, routed by owner, with the SLA due date and the stable key.
func TestWanted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := &app.App{Store: st, Formats: inputs.All()}
	data, err := examples.Files.ReadFile(examples.Scope)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, "tickets:\n  routes:\n    - team: team-orders\n      project: ORD\n      labels: [security]\n      assignee: alice\n    - project: SEC\n"+
		"policies:\n  - name: high-on-internet\n    on: exposure\n    expr: exposure.severity in [\"critical\", \"high\"] && asset.internet_exposed\n    action: ticket\n"...)
	if _, _, err := a.SetScope(ctx, app.ScopeFile{Name: "ctem.yaml", Data: data}); err != nil {
		t.Fatal(err)
	}
	var req app.IngestRequest
	for _, name := range examples.Inputs {
		b, err := examples.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		req.Inputs = append(req.Inputs, app.Input{Name: name, R: bytes.NewReader(b), Target: examples.Targets[name]})
	}
	req.NoAnalyze = true
	if _, err := a.Ingest(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Analyze(ctx, graph.Options{}); err != nil {
		t.Fatal(err)
	}
	want, err := ticket.Wanted(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := a.FixPlan(ctx, 0, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var policyTickets int
	for _, tk := range want {
		if strings.HasPrefix(tk.Action, "policy:high-on-internet:exposure:") {
			policyTickets++
			wantProject := "SEC"
			if tk.Owner == "team-orders" {
				wantProject = "ORD"
			}
			if tk.Owner == "" || tk.Project != wantProject || !strings.Contains(tk.Body, "asset.internet_exposed = true") {
				t.Errorf("policy ticket = owner %q project %q body %q, want the asset's owner, its route %s and the values that matched", tk.Owner, tk.Project, tk.Body, wantProject)
			}
		}
	}
	if policyTickets == 0 {
		t.Errorf("Wanted() has no ticket of the ticket policy")
	}
	if len(want) == policyTickets || len(want)-policyTickets > len(plan.Plan.Items) {
		t.Fatalf("Wanted() = %d tickets (%d of policies) for %d plan items", len(want), policyTickets, len(plan.Plan.Items))
	}
	var spring *ticket.Ticket
	for i, tk := range want {
		if k, ok := ticket.KeyOf(tk.Body); !ok || k != tk.Key || tk.Key != ticket.Key(tk.Action) {
			t.Errorf("Wanted()[%d] key %s, body key %s (%v), want the action's stable key", i, tk.Key, k, ok)
		}
		if strings.Contains(tk.Title, "spring-beans") {
			spring = &want[i]
		}
	}
	if spring == nil {
		t.Fatalf("Wanted() has no spring-beans upgrade: %v", want)
	}
	if spring.Project != "ORD" || spring.Assignee != "alice" || !strings.Contains(spring.Body, "CVE-2022-22965 on image:") || !strings.Contains(spring.Body, "- SLA due: ") {
		t.Errorf("spring-beans ticket = project %q assignee %q body %q, want ORD, alice, the CVE and the due date", spring.Project, spring.Assignee, spring.Body)
	}
	for _, tk := range want {
		if tk.Owner != "team-orders" && tk.Project != "SEC" {
			t.Errorf("ticket of owner %q went to %q, want the default SEC", tk.Owner, tk.Project)
		}
	}
}
