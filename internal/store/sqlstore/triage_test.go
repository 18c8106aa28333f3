package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/synth"
)

func TestTriageRefusesIncompleteDecisions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := ingesttest.OpenStore(t)
	p := writeTrivy(t, t.TempDir(), "r.json", synth.Trivy{Image: "shop/api:1", Findings: 10, Results: 1})
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, p); err != nil {
		t.Fatal(err)
	}
	x := collect(t, st.Exposures(ctx, store.Filter{Limit: 1}))[0]
	later := time.Now().Add(24 * time.Hour)
	ok := store.Decision{ExposureID: x.ID, Status: model.StatusAccepted, Reason: "compensating WAF rule", By: "alice", Approver: "bob", Expires: later}
	for _, tc := range []struct {
		name string
		edit func(*store.Decision)
		want error
	}{
		{"no reason", func(d *store.Decision) { d.Reason = "" }, store.ErrInvalid},
		{"no author", func(d *store.Decision) { d.By = "" }, store.ErrInvalid},
		{"unknown status", func(d *store.Decision) { d.Status = "wontfix" }, store.ErrInvalid},
		{"acceptance without approver", func(d *store.Decision) { d.Approver = "" }, store.ErrInvalid},
		{"acceptance without expiry", func(d *store.Decision) { d.Expires = time.Time{} }, store.ErrInvalid},
		{"acceptance expired already", func(d *store.Decision) { d.Expires = time.Now().Add(-time.Hour) }, store.ErrInvalid},
		{"not_affected without justification", func(d *store.Decision) { d.Status, d.Expires = model.StatusNotAffected, time.Time{} }, store.ErrInvalid},
		{"false positive that expires", func(d *store.Decision) { d.Status = model.StatusFalsePositive }, store.ErrInvalid},
		{"no such exposure", func(d *store.Decision) { d.ExposureID = "0000000000000000" }, store.ErrNotFound},
	} {
		d := ok
		tc.edit(&d)
		if _, err := st.Triage(ctx, d); !errors.Is(err, tc.want) {
			t.Errorf("%s: Triage(%+v) = %v, want %v", tc.name, d, err, tc.want)
		}
	}
	if got := collect(t, st.StatusHistory(ctx, store.Filter{})); len(got) != 0 {
		t.Errorf("refused decisions recorded %d changes, want none", len(got))
	}
	if got, err := st.Exposure(ctx, x.ID); err != nil || got.Status != model.StatusOpen {
		t.Errorf("after refused decisions, Exposure(%s) = %v, %v; want open", x.ID, got.Status, err)
	}
}

// TestTriageHoldsAcrossIngests walks decisions through rescans: an
// ingest never reopens what a person closed, and each change it does
// make to a decided exposure is recorded with why.
func TestTriageHoldsAcrossIngests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := ingesttest.OpenStore(t)
	dir := t.TempDir()
	full := writeTrivy(t, dir, "full.json", synth.Trivy{Image: "shop/api:1", Findings: 40, Results: 2})
	later := writeTrivy(t, dir, "later.json", synth.Trivy{Image: "shop/api:1", Findings: 40, Results: 2, Drop: 4})
	ingestOK := func(p string) {
		t.Helper()
		if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, p); err != nil {
			t.Fatal(err)
		}
	}
	ingestOK(full)
	kept := map[string]bool{}
	for _, f := range ingesttest.Parse(t, trivy.Format, later, ingest.Options{}).Findings {
		kept[f.ExposureID] = true
	}
	var dropped, stay []string
	for _, x := range collect(t, st.Exposures(ctx, store.Filter{ByID: true})) {
		if kept[x.ID] {
			stay = append(stay, x.ID)
		} else {
			dropped = append(dropped, x.ID)
		}
	}
	if len(dropped) == 0 || len(stay) < 4 {
		t.Fatalf("%d dropped and %d kept exposures; the test needs some of each", len(dropped), len(stay))
	}
	now := time.Now().UTC()
	acc, fixed, fp, na, soon := dropped[0], stay[0], stay[1], stay[2], stay[3]
	for _, d := range []store.Decision{
		{ExposureID: acc, Status: model.StatusAccepted, Reason: "behind the VPN", By: "alice", Approver: "ciso", Expires: now.Add(365 * 24 * time.Hour)},
		{ExposureID: fixed, Status: model.StatusFixed, Reason: "patched by hand", By: "bob"},
		{ExposureID: fp, Status: model.StatusFalsePositive, Reason: "test fixture", By: "bob"},
		{ExposureID: na, Status: model.StatusNotAffected, Reason: "function never called", By: "carol", Justification: "vulnerable_code_not_in_execute_path"},
		{ExposureID: soon, Status: model.StatusAccepted, Reason: "fix next sprint", By: "alice", Approver: "ciso", Expires: now.Add(time.Hour)},
	} {
		c, err := st.Triage(ctx, d)
		if err != nil {
			t.Fatalf("Triage(%+v) = %v", d, err)
		}
		if c.From != model.StatusOpen || c.To != d.Status || c.By != d.By || c.Reason != d.Reason {
			t.Errorf("Triage(%+v) = %+v, want open -> %s by %s", d, c, d.Status, d.By)
		}
	}
	status := func(id string) model.Status {
		t.Helper()
		x, err := st.Exposure(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return x.Status
	}
	type change struct {
		From, To model.Status
		By       string
	}
	history := func(id string) []change {
		t.Helper()
		var out []change
		for _, c := range collect(t, st.StatusHistory(ctx, store.Filter{IDs: []string{id}})) {
			out = append(out, change{c.From, c.To, c.By})
		}
		return out
	}
	check := func(step string, want map[string]model.Status) {
		t.Helper()
		for id, w := range want {
			if got := status(id); got != w {
				t.Errorf("%s: exposure %s is %s, want %s", step, id, got, w)
			}
		}
	}

	// The same report again: every decision holds but the fix, which
	// the report disproves.
	ingestOK(full)
	check("rescan", map[string]model.Status{acc: model.StatusAccepted, fixed: model.StatusOpen, fp: model.StatusFalsePositive, na: model.StatusNotAffected, soon: model.StatusAccepted})
	if diff := cmp.Diff(history(fixed), []change{{"open", "fixed", "bob"}, {"fixed", "open", store.Actor}}); diff != "" {
		t.Errorf("history of the disproved fix (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(history(fp), []change{{"open", "false_positive", "bob"}}); diff != "" {
		t.Errorf("history of the false positive after a rescan (-got +want):\n%s", diff)
	}
	// The accepted weakness goes away, then comes back: fixed, then
	// accepted again, both recorded.
	ingestOK(later)
	check("later scan", map[string]model.Status{acc: model.StatusFixed, fp: model.StatusFalsePositive})
	ingestOK(full)
	check("weakness back", map[string]model.Status{acc: model.StatusAccepted})
	if diff := cmp.Diff(history(acc), []change{{"open", "accepted", "alice"}, {"accepted", "fixed", store.Actor}, {"fixed", "accepted", store.Actor}}); diff != "" {
		t.Errorf("history of the acceptance (-got +want):\n%s", diff)
	}
	// The exposure's own history shows the decisions with who and why.
	x, err := st.Exposure(ctx, fp)
	if err != nil {
		t.Fatal(err)
	}
	var people []model.Event
	for _, h := range x.History {
		if h.By != "" {
			people = append(people, h)
		}
	}
	if len(people) != 1 || people[0].By != "bob" || people[0].Reason != "test fixture" || people[0].To != model.StatusFalsePositive {
		t.Errorf("Exposure(%s).History decisions = %+v, want bob's false_positive", fp, people)
	}
	// Expiry: the short acceptance ends, the long one holds.
	changes, err := st.ExpireAcceptances(ctx, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].ExposureID != soon || changes[0].To != model.StatusOpen || changes[0].By != store.Actor {
		t.Errorf("ExpireAcceptances(+2h) = %+v, want %s reopened by %s", changes, soon, store.Actor)
	}
	check("expiry", map[string]model.Status{soon: model.StatusOpen, acc: model.StatusAccepted})
	if again, err := st.ExpireAcceptances(ctx, now.Add(2*time.Hour)); err != nil || len(again) != 0 {
		t.Errorf("ExpireAcceptances again = %+v, %v; want nothing", again, err)
	}
	// The expired decision is gone: a rescan leaves the exposure open.
	ingestOK(full)
	check("rescan after expiry", map[string]model.Status{soon: model.StatusOpen})
	// Paging the whole history by cursor gives every change once.
	all := collect(t, st.StatusHistory(ctx, store.Filter{}))
	var paged []store.StatusChange
	after := ""
	for {
		page := collect(t, st.StatusHistory(ctx, store.Filter{Limit: 2, After: after}))
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = store.Cursor(page[len(page)-1])
	}
	if diff := cmp.Diff(paged, all); diff != "" {
		t.Errorf("history paged by 2 (-got +want):\n%s", diff)
	}
}
