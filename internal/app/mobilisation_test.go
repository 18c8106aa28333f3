package app

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/storetest"
)

// mobilApp returns an App over a new database holding the analysed
// example estate, its scope with acceptance.max 90d, and a clock that
// reads *now.
func mobilApp(t testing.TB, now *time.Time) *App {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t)
	a := &App{Store: st, Formats: inputs.All(), Now: func() time.Time { return *now }}
	data, err := examples.Files.ReadFile(examples.Scope)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, "acceptance:\n  max: 90d\n"...)
	if _, _, err := a.SetScope(ctx, ScopeFile{Name: "ctem.yaml", Data: data}); err != nil {
		t.Fatal(err)
	}
	var ins []Input
	for _, name := range examples.Inputs {
		b, err := examples.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, Input{Name: name, R: bytes.NewReader(b), Target: examples.Targets[name]})
	}
	if _, err := a.Ingest(ctx, IngestRequest{Inputs: ins, NoAnalyze: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Analyze(ctx, graph.Options{}); err != nil {
		t.Fatal(err)
	}
	return a
}

func exposuresOf(t testing.TB, a *App, f store.Filter) []model.Exposure {
	t.Helper()
	var out []model.Exposure
	for x, err := range a.Store.Exposures(context.Background(), f) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

func topIDs(t testing.TB, a *App) []string {
	t.Helper()
	_, rs, err := a.Top(context.Background(), 0, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestAcceptRisk(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	a := mobilApp(t, &now)
	springs := exposuresOf(t, a, store.Filter{VulnIDs: []string{"CVE-2022-22965"}})
	if len(springs) != 1 {
		t.Fatalf("Spring4Shell exposures = %d, want 1", len(springs))
	}
	spring := springs[0].ID
	if !slices.Contains(topIDs(t, a), spring) {
		t.Fatalf("Top() before acceptance lacks Spring4Shell %s", spring)
	}
	req := AcceptRequest{Scope: AcceptScope{ExposureID: spring[:6]}, Reason: "WAF rule blocks class.module", By: "alice", Approver: "ciso"}

	// Refused, and nothing changed: no expiry, an expiry beyond the
	// scope's maximum, no approver, a scope that matches nothing.
	for _, bad := range []func(r *AcceptRequest){
		func(r *AcceptRequest) {},
		func(r *AcceptRequest) { r.Expires = now.Add(91 * 24 * time.Hour) },
		func(r *AcceptRequest) { r.Expires = now.Add(-time.Hour) },
		func(r *AcceptRequest) { r.Expires, r.Approver = now.Add(24*time.Hour), "" },
		func(r *AcceptRequest) {
			r.Expires, r.Scope = now.Add(24*time.Hour), AcceptScope{VulnID: "CVE-1999-0001"}
		},
		func(r *AcceptRequest) { r.Expires, r.Scope = now.Add(24*time.Hour), AcceptScope{Asset: "x"} },
	} {
		r := req
		bad(&r)
		if _, err := a.AcceptRisk(ctx, r); !IsBadInput(err) {
			t.Errorf("AcceptRisk(%+v) = %v, want a bad-input error", r, err)
		}
	}
	if got := exposuresOf(t, a, store.Filter{Statuses: []model.Status{model.StatusAccepted}}); len(got) != 0 {
		t.Fatalf("after refused acceptances, %d exposures are accepted, want 0", len(got))
	}
	if _, err := a.AcceptRisk(ctx, AcceptRequest{Scope: req.Scope, Reason: req.Reason, By: req.By, Approver: req.Approver,
		Expires: now.Add(91 * 24 * time.Hour)}); err == nil || !strings.Contains(err.Error(), "acceptance.max") {
		t.Errorf("AcceptRisk(beyond the maximum) = %v, want an error naming acceptance.max", err)
	}

	req.Expires = now.Add(30 * 24 * time.Hour)
	res, err := a.AcceptRisk(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].ExposureID != spring || res.Changes[0].To != model.StatusAccepted || res.Changes[0].Approver != "ciso" {
		t.Fatalf("AcceptRisk(%s) changes = %+v, want Spring4Shell accepted by ciso", spring[:6], res.Changes)
	}
	if slices.Contains(topIDs(t, a), spring) {
		t.Errorf("Top() lists the accepted Spring4Shell %s", spring)
	}
	// Re-analysed, the accepted exposure stays on its paths, marked, and
	// out of Top.
	if _, err := a.Analyze(ctx, graph.Options{}); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(topIDs(t, a), spring) {
		t.Errorf("Top() after re-analysis lists the accepted Spring4Shell %s", spring)
	}
	pl, err := a.Paths(ctx, PathQuery{Through: spring})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Paths) == 0 {
		t.Fatalf("Paths(through the accepted %s) = none, want its paths kept", spring)
	}
	if err := a.MarkAccepted(ctx, pl); err != nil {
		t.Fatal(err)
	}
	if got := pl.Names[spring]; got != "CVE-2022-22965 (accepted)" {
		t.Errorf("MarkAccepted() name of %s = %q, want %q", spring, got, "CVE-2022-22965 (accepted)")
	}

	// A CVE everywhere: both packages that carry CVE-2019-1549.
	res, err = a.AcceptRisk(ctx, AcceptRequest{Scope: AcceptScope{VulnID: "CVE-2019-1549"}, Reason: "fork() never called", By: "bob",
		Approver: "ciso", Expires: now.Add(60 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(res.Changes), len(exposuresOf(t, a, store.Filter{VulnIDs: []string{"CVE-2019-1549"}})); got != want || got < 2 {
		t.Errorf("AcceptRisk(CVE-2019-1549 everywhere) accepted %d, want all %d (at least 2)", got, want)
	}

	// The same CVE found later on another image is covered by the rule.
	edge, err := examples.Files.ReadFile("reports/edge-proxy-image.trivy.json")
	if err != nil {
		t.Fatal(err)
	}
	other := strings.ReplaceAll(string(edge), "trivy-test-images:alpine-310", "trivy-test-images:alpine-310-copy")
	if _, err := a.Ingest(ctx, IngestRequest{Inputs: []Input{{Name: "copy.trivy.json", R: strings.NewReader(other)}}, NoAnalyze: true}); err != nil {
		t.Fatal(err)
	}
	fresh := exposuresOf(t, a, store.Filter{VulnIDs: []string{"CVE-2019-1549"}, Statuses: []model.Status{model.StatusOpen}})
	if len(fresh) == 0 {
		t.Fatal("the copied image's report brought no open CVE-2019-1549")
	}
	applied, err := a.ApplyAcceptanceRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(fresh) {
		t.Errorf("ApplyAcceptanceRules() = %d changes, want %d (the new image's)", len(applied), len(fresh))
	}

	// Thirty-one days on, the acceptance has expired: the next run
	// reopens it, with an event, and it is back in Top.
	now = now.Add(31 * 24 * time.Hour)
	changes, err := a.ExpireAcceptances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].ExposureID != spring || changes[0].To != model.StatusOpen || changes[0].By != store.Actor {
		t.Fatalf("ExpireAcceptances(+31d) = %+v, want Spring4Shell reopened by %s", changes, store.Actor)
	}
	if !slices.Contains(topIDs(t, a), spring) {
		t.Errorf("Top() after the expiry lacks Spring4Shell %s", spring)
	}
	if again, err := a.ExpireAcceptances(ctx); err != nil || len(again) != 0 {
		t.Errorf("ExpireAcceptances(+31d) again = %d changes, %v; want none", len(again), err)
	}
}

func TestMarkFalsePositive(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Now().UTC().Add(time.Hour)
	a := mobilApp(t, &now)
	xs := exposuresOf(t, a, store.Filter{Tools: []string{"gosec"}, Sort: store.SortID})
	if len(xs) == 0 {
		t.Fatal("no gosec exposure")
	}
	if _, err := a.MarkFalsePositive(ctx, xs[0].ID, "", "alice"); !IsBadInput(err) {
		t.Errorf("MarkFalsePositive(no reason) = %v, want a bad-input error", err)
	}
	c, err := a.MarkFalsePositive(ctx, xs[0].ID[:8], "test fixture, not shipped", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if c.To != model.StatusFalsePositive || c.ExposureID != xs[0].ID {
		t.Fatalf("MarkFalsePositive(%s) = %+v, want false_positive", xs[0].ID[:8], c)
	}
	// The rescan reports the same finding: its fingerprint meets the decision.
	sarif, err := examples.Files.ReadFile("reports/shop-api.gosec.sarif")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Ingest(ctx, IngestRequest{Inputs: []Input{{Name: "reports/shop-api.gosec.sarif", R: bytes.NewReader(sarif),
		Target: examples.Targets["reports/shop-api.gosec.sarif"]}}}); err != nil {
		t.Fatal(err)
	}
	got := exposuresOf(t, a, store.Filter{IDs: []string{xs[0].ID}})
	if len(got) != 1 || got[0].Status != model.StatusFalsePositive {
		t.Errorf("after a rescan, exposure %s = %+v, want still false_positive", xs[0].ID, got)
	}
	if _, err := a.MarkFalsePositive(ctx, "ffffffffffff", "x", "alice"); err == nil {
		t.Errorf("MarkFalsePositive(unknown id) = nil, want not found")
	}
}
