package app

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store/open"
	"github.com/ctem-dev/ctem/internal/store/storetest"
)

// demoAnalysed returns an App over a fresh database file holding the
// demo, analysed, and the file's path.
func demoAnalysed(t testing.TB) (*App, string) {
	t.Helper()
	path := storetest.Name(t)
	a := newApp(t, openDB(t, path))
	if _, err := a.Ingest(context.Background(), IngestRequest{Inputs: demoInputs(t)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Analyze(context.Background(), graph.Options{}); err != nil {
		t.Fatal(err)
	}
	return a, path
}

// rowCounts counts the rows of every table of the database named path,
// through a connection of its own.
func rowCounts(t testing.TB, path string) map[string]int {
	t.Helper()
	st, err := open.Open(context.Background(), path, open.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db := st.SQL()
	tables := storetest.Tables(t, db, st.Dialect().Name)
	out := map[string]int{}
	for _, tb := range tables {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM "` + tb + `"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tb] = n
	}
	if out["paths"] == 0 || out["analyses"] == 0 {
		t.Fatalf("rowCounts(%s) = %v, want stored paths and analyses", path, out)
	}
	return out
}

// usesRelation reports whether a step of p names rel ("relation:" evidence).
func usesRelation(p graph.Path, rel string) bool {
	for _, s := range p.Steps {
		if slices.Contains(s.Evidence, "relation:"+rel) {
			return true
		}
	}
	return false
}

func TestWhatIfFixPlan(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, path := demoAnalysed(t)
	fp, err := a.FixPlan(ctx, 0, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fp.Plan.Items) < 2 {
		t.Fatalf("FixPlan() = %d items, want at least 2 on the demo", len(fp.Plan.Items))
	}
	rows := rowCounts(t, path)
	// Taking the plan's first n actions removes what the plan says they
	// remove together: the risk before less the remaining risk after the
	// nth.
	for n := 1; n <= 2; n++ {
		var keys []string
		for _, it := range fp.Plan.Items[:n] {
			keys = append(keys, it.Key)
		}
		w, err := a.WhatIf(ctx, WhatIfQuery{Fixes: keys})
		if err != nil {
			t.Fatalf("WhatIf(%v) = %v", keys, err)
		}
		want := fp.Plan.Risk - fp.Plan.Items[n-1].Remaining
		if math.Abs(w.RiskRemoved-want) > 1e-9 {
			t.Errorf("WhatIf(%v).RiskRemoved = %v, want %v (the plan's)", keys, w.RiskRemoved, want)
		}
		if math.Abs(w.Before.Risk-fp.Plan.Risk) > 1e-9 {
			t.Errorf("WhatIf(%v).Before.Risk = %v, want the plan's %v", keys, w.Before.Risk, fp.Plan.Risk)
		}
		if len(w.Closed) == 0 || w.After.Paths != w.Before.Paths-len(w.Closed)+len(w.Opened) {
			t.Errorf("WhatIf(%v) = %d paths before, %d after, %d closed, %d opened; want some closed and the counts to add up",
				keys, w.Before.Paths, w.After.Paths, len(w.Closed), len(w.Opened))
		}
	}
	if got := rowCounts(t, path); !cmp.Equal(got, rows) {
		t.Errorf("rows after WhatIf differ (-got +want):\n%s", cmp.Diff(got, rows))
	}
	// The stored results still say what they said.
	again, err := a.FixPlan(ctx, 0, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !again.View.Stored || !cmp.Equal(again.Plan, fp.Plan) {
		t.Errorf("FixPlan() after WhatIf = stored %v, plan changed %v; want the stored plan unchanged", again.View.Stored, !cmp.Equal(again.Plan, fp.Plan))
	}
}

func TestWhatIfRemoveRelation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, path := demoAnalysed(t)
	const (
		from = "k8s:prod/shop/Deployment/shop-api"
		to   = "k8s:prod/shop/ServiceAccount/shop-api"
	)
	rel := "uses-identity " + from + " -> " + to
	pl, err := a.Paths(ctx, PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var through []string
	for _, p := range pl.Paths {
		if usesRelation(p, rel) {
			through = append(through, p.ID)
		}
	}
	if len(through) == 0 {
		t.Fatalf("Paths() = no path through %s, want some on the demo", rel)
	}
	rows := rowCounts(t, path)
	r, err := ParseRelation(from + ",uses-identity," + to)
	if err != nil {
		t.Fatal(err)
	}
	w, err := a.WhatIf(ctx, WhatIfQuery{Remove: []model.Relation{r}})
	if err != nil {
		t.Fatal(err)
	}
	closed := pathIDs(w.Closed)
	for _, id := range through {
		if !slices.Contains(closed, id) {
			t.Errorf("WhatIf(remove %s).Closed = %v, want it to hold %s, a path through it", rel, closed, id)
		}
	}
	for _, p := range w.Opened {
		if usesRelation(p, rel) {
			t.Errorf("WhatIf(remove %s) opened %s, which goes through it", rel, p.ID)
		}
	}
	if !(w.After.Risk < w.Before.Risk) {
		t.Errorf("WhatIf(remove %s) risk %v -> %v, want less", rel, w.Before.Risk, w.After.Risk)
	}
	if got := rowCounts(t, path); !cmp.Equal(got, rows) {
		t.Errorf("rows after WhatIf differ (-got +want):\n%s", cmp.Diff(got, rows))
	}
}

func TestWhatIfBadInput(t *testing.T) {
	t.Parallel()
	a, _ := demoAnalysed(t)
	for _, tc := range []struct {
		name string
		q    WhatIfQuery
	}{
		{"nothing", WhatIfQuery{}},
		{"unknown action", WhatIfQuery{Fixes: []string{"upgrade|image:nowhere|x@1"}}},
		{"unknown relation", WhatIfQuery{Remove: []model.Relation{{From: "a", Type: "runs", To: "b"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := a.WhatIf(t.Context(), tc.q); !IsBadInput(err) {
				t.Errorf("WhatIf(%+v) = %v, want a bad input error", tc.q, err)
			}
		})
	}
	for _, s := range []string{"", "a,b", "a,,b", "a,b,c,d"} {
		if _, err := ParseRelation(s); !IsBadInput(err) {
			t.Errorf("ParseRelation(%q) = %v, want a bad input error", s, err)
		}
	}
	r, err := ParseRelation("role, can(s3:GetObject) ,bucket")
	if want := (model.Relation{From: "role", Type: "can", Action: "s3:GetObject", To: "bucket"}); err != nil || r != want {
		t.Errorf("ParseRelation(role, can(s3:GetObject) ,bucket) = %+v, %v; want %+v", r, err, want)
	}
}

func TestBlastRadius(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, path := demoAnalysed(t)
	pl, err := a.Paths(ctx, PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	rows := rowCounts(t, path)
	for _, tc := range []struct {
		asset, entry string
	}{
		{"k8s:prod/shop/Deployment/shop-api", "exec:k8s:prod/shop/Deployment/shop-api"},
		{"k8s:prod/shop/ServiceAccount/shop-api", "identity:k8s:prod/shop/ServiceAccount/shop-api"},
		{"tf:aws_iam_role.shop_api", "identity:tf:aws_iam_role.shop_api"},
	} {
		br, err := a.BlastRadius(ctx, tc.asset, graph.Options{})
		if err != nil {
			t.Fatalf("BlastRadius(%s) = %v", tc.asset, err)
		}
		if !slices.Equal(br.Entries, []string{tc.entry}) {
			t.Errorf("BlastRadius(%s).Entries = %v, want [%s]", tc.asset, br.Entries, tc.entry)
		}
		risk := map[string]float64{}
		sum := 0.0
		for _, j := range br.Jewels {
			risk[j.Jewel] = j.Risk
			sum += j.Risk
		}
		if math.Abs(sum-br.Risk) > 1e-9 {
			t.Errorf("BlastRadius(%s).Risk = %v, want the jewels' sum %v", tc.asset, br.Risk, sum)
		}
		for _, p := range br.Paths {
			if p.Entry != tc.entry {
				t.Errorf("BlastRadius(%s) path %s starts at %s, want %s", tc.asset, p.ID, p.Entry, tc.entry)
			}
		}
		// Every internet path through the entry state has a suffix from
		// it, as likely or more: the jewel is reached at that risk or
		// higher.
		n := 0
		for _, p := range pl.Paths {
			if !slices.ContainsFunc(p.Steps, func(s graph.Step) bool { return s.To == tc.entry }) {
				continue
			}
			n++
			if risk[p.Jewel] < p.Risk-1e-9 {
				t.Errorf("BlastRadius(%s) risk to %s = %v, want at least %v, that of internet path %s through it", tc.asset, p.Jewel, risk[p.Jewel], p.Risk, p.ID)
			}
		}
		if n == 0 {
			t.Errorf("Paths() has no path through %s, want some on the demo", tc.entry)
		}
	}
	// A crown jewel compromised is reached at its whole value.
	const jewel = "k8s:prod/shop/StatefulSet/orders-db"
	br, err := a.BlastRadius(ctx, jewel, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(br.Jewels, func(j BlastJewel) bool { return j.Jewel == jewel })
	if i < 0 || !br.Jewels[i].Direct || br.Jewels[i].Risk != float64(br.Jewels[i].Value) {
		t.Errorf("BlastRadius(%s).Jewels = %+v, want itself, direct, at its value", jewel, br.Jewels)
	}
	if _, err := a.BlastRadius(ctx, "k8s:prod/shop/Deployment/nowhere", graph.Options{}); !IsBadInput(err) || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("BlastRadius(unknown) = %v, want a bad input error naming it", err)
	}
	if got := rowCounts(t, path); !cmp.Equal(got, rows) {
		t.Errorf("rows after BlastRadius differ (-got +want):\n%s", cmp.Diff(got, rows))
	}
}

func TestWhatIfAddRelation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, path := demoAnalysed(t)
	rows := rowCounts(t, path)
	// Removing a relation and adding it back changes nothing.
	r, err := ParseRelation("k8s:prod/shop/Deployment/shop-api,uses-identity,k8s:prod/shop/ServiceAccount/shop-api")
	if err != nil {
		t.Fatal(err)
	}
	w, err := a.WhatIf(ctx, WhatIfQuery{Remove: []model.Relation{r}, Add: []model.Relation{r}})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(w.RiskRemoved) > 1e-9 || len(w.Closed) != 0 || len(w.Opened) != 0 {
		t.Errorf("WhatIf(remove and add back %+v) = risk removed %v, %d closed, %d opened; want 0, 0, 0", r, w.RiskRemoved, len(w.Closed), len(w.Opened))
	}
	// Exposing the API workload to the internet opens paths that start
	// on it, and removes no risk.
	const api = "k8s:prod/shop/Deployment/shop-api"
	w, err = a.WhatIf(ctx, WhatIfQuery{Add: []model.Relation{{From: "internet", Type: model.RelExposes, To: api}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Opened) == 0 || w.RiskRemoved > 1e-9 {
		t.Errorf("WhatIf(expose %s) = %d opened, risk removed %v; want some opened, none removed", api, len(w.Opened), w.RiskRemoved)
	}
	for _, p := range w.Opened {
		if p.Entry != "network:"+api {
			t.Errorf("WhatIf(expose %s) opened %s from %s, want from network:%s", api, p.ID, p.Entry, api)
		}
	}
	if _, err := a.WhatIf(ctx, WhatIfQuery{Add: []model.Relation{{From: "internet", Type: model.RelExposes, To: "k8s:nowhere"}}}); !IsBadInput(err) {
		t.Errorf("WhatIf(add to an unknown asset) = %v, want a bad input error", err)
	}
	if got := rowCounts(t, path); !cmp.Equal(got, rows) {
		t.Errorf("rows after WhatIf differ (-got +want):\n%s", cmp.Diff(got, rows))
	}
}

// BenchmarkWhatIf takes the fix plan's first action on the benchmark
// database (see benchStore): two analyses in memory.
func BenchmarkWhatIf(b *testing.B) {
	a, _ := benchStore(b)
	ctx := b.Context()
	fp, err := a.FixPlan(ctx, 0, graph.Options{})
	if err != nil || len(fp.Plan.Items) == 0 {
		b.Fatal(err, "no plan")
	}
	q := WhatIfQuery{Fixes: []string{fp.Plan.Items[0].Key}}
	for b.Loop() {
		if _, err := a.WhatIf(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlastRadius assumes one workload of the benchmark database
// compromised.
func BenchmarkBlastRadius(b *testing.B) {
	a, _ := benchStore(b)
	ctx := b.Context()
	var br *BlastRadius
	for b.Loop() {
		var err error
		if br, err = a.BlastRadius(ctx, "k8s:c/app7/Deployment/w0", graph.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(br.Paths)), "paths")
}
