package app

import (
	"math"
	"slices"
	"testing"

	"github.com/ctem-dev/ctem/internal/graph"
)

// TestWhatIfKeep checks a team's view of a what-if: with Keep the sides
// count the kept paths only (their number, and the risk of their jewels
// as the stored jewel risks give it), and only kept paths are listed as
// closed or opened; keeping every path is the unscoped what-if.
func TestWhatIfKeep(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, _ := demoAnalysed(t)
	fp, err := a.FixPlan(ctx, 0, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := a.Paths(ctx, PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	jr, err := a.Store.JewelRisks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fix := []string{fp.Plan.Items[0].Key}
	all, err := a.WhatIf(ctx, WhatIfQuery{Fixes: fix})
	if err != nil {
		t.Fatal(err)
	}
	every, err := a.WhatIf(ctx, WhatIfQuery{Fixes: fix, Keep: func(graph.Path) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(every.Before.Risk-all.Before.Risk) > 1e-9 || math.Abs(every.RiskRemoved-all.RiskRemoved) > 1e-9 || len(every.Closed) != len(all.Closed) {
		t.Errorf("WhatIf(keep all) = before %v, removed %v, %d closed; want the unscoped %v, %v, %d",
			every.Before.Risk, every.RiskRemoved, len(every.Closed), all.Before.Risk, all.RiskRemoved, len(all.Closed))
	}
	none, err := a.WhatIf(ctx, WhatIfQuery{Fixes: fix, Keep: func(graph.Path) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	if none.Before.Paths != 0 || none.Before.Risk != 0 || len(none.Before.Jewels) != 0 || len(none.Closed) != 0 || len(none.Opened) != 0 {
		t.Errorf("WhatIf(keep none) = %+v, want nothing", none)
	}
	// Keep the paths to one jewel: the figures are that jewel's.
	for _, j := range jr {
		if j.Risk == 0 {
			continue
		}
		n := 0
		for _, p := range pl.Paths {
			if p.Jewel == j.Jewel {
				n++
			}
		}
		w, err := a.WhatIf(ctx, WhatIfQuery{Fixes: fix, Keep: func(p graph.Path) bool { return p.Jewel == j.Jewel }})
		if err != nil {
			t.Fatal(err)
		}
		if w.Before.Paths != n || math.Abs(w.Before.Risk-j.Risk) > 1e-6 || len(w.Before.Jewels) != 1 {
			t.Errorf("WhatIf(keep %s) before = %d paths, risk %v, jewels %v; want %d, %v, that jewel only", j.Jewel, w.Before.Paths, w.Before.Risk, w.Before.Jewels, n, j.Risk)
		}
		if slices.ContainsFunc(append(w.Closed, w.Opened...), func(p graph.Path) bool { return p.Jewel != j.Jewel }) {
			t.Errorf("WhatIf(keep %s) lists a path to another jewel", j.Jewel)
		}
	}
}
