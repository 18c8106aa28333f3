package graph

import (
	"cmp"
	"container/heap"
	"slices"
)

// Action is one remediation action. One action often removes many
// exposures (an upgrade fixes every CVE of one package version on one
// image) or one relation (a permission, an exposure, a network reach).
type Action struct {
	Key    string  `json:"key"`
	Kind   string  `json:"kind"`
	Title  string  `json:"title"`
	Effort float64 `json:"effort"`
	// Owner is the owner of the asset the action changes, when known.
	Owner     string   `json:"owner,omitempty"`
	Exposures []string `json:"exposures,omitempty"`
	Relations []string `json:"relations,omitempty"`
}

// Priority is the risk that fixing one exposure removes.
type Priority struct {
	ExposureID  string  `json:"exposure_id"`
	RiskRemoved float64 `json:"risk_removed"`
	// Paths is the number of found paths with a step it enables.
	Paths int `json:"paths"`
}

// PlanItem is one action of the fix plan with its effect.
type PlanItem struct {
	Action
	// RiskRemoved is the risk this action removes after the ones
	// before it; Remaining is the risk left after it, the cumulative
	// curve; CumulativeEffort is the effort up to and including it.
	RiskRemoved      float64 `json:"risk_removed"`
	Remaining        float64 `json:"remaining"`
	CumulativeEffort float64 `json:"cumulative_effort"`
}

// Plan is the fix plan: actions in the order to take them.
type Plan struct {
	// Risk is the total risk before any action.
	Risk  float64    `json:"risk"`
	Items []PlanItem `json:"items"`
}

// Budget returns the plan cut to its first n units of effort: the
// leading items whose cumulative effort is at most n.
func (p Plan) Budget(n float64) Plan {
	out := Plan{Risk: p.Risk}
	for _, it := range p.Items {
		if it.CumulativeEffort > n {
			break
		}
		out.Items = append(out.Items, it)
	}
	return out
}

// Result is the outcome of an analysis.
type Result struct {
	// Paths are the K most likely paths to each jewel, riskiest first.
	Paths []Path `json:"paths"`
	// Risk is the total risk over the jewels (see Plan).
	Risk float64 `json:"risk"`
	// Priorities rank the exposures on some path by the risk fixing each
	// removes, highest first. Exposures on no path have priority 0 and
	// are not listed.
	Priorities []Priority `json:"priorities"`
	// ChokePoints are the actions of the minimum cuts, by action key.
	ChokePoints []ChokePoint `json:"choke_points"`
	// Plan is the fix plan.
	Plan Plan `json:"plan"`
	// Actions are every action the paths and cuts name, by key.
	Actions map[string]*Action `json:"-"`

	comps map[uint64]*compResult
}

// riskModel evaluates the risk of a set of paths with some facts
// removed. The risk of a jewel of value v reached by paths of likelihood
// L1..Ln is v × (1 − Π(1 − Li)), the chance that at least one path
// works if paths were independent, which never exceeds v however many
// paths share a step; the total risk is the sum over jewels. Removing a
// fact kills every way that needs it; a step with no way left, or a path
// whose entry has none, has likelihood 0; otherwise a step's probability
// is that of its best living way.
//
// The approximation: only the K paths found per jewel count. Fixing an
// exposure may open a path that was the K+1st; its risk is not
// subtracted. This keeps one evaluation O(steps of the affected paths)
// instead of a new search.
type riskModel struct {
	paths    []mPath
	jewels   []mJewel
	nActions int
	actIdx   map[string]int32
	expIdx   map[string]int32
	actPaths [][]int32 // action → paths
	expPaths [][]int32
}

type mPath struct {
	jewel int32
	steps [][]mWay // steps[0] is the entry
}

type mWay struct {
	p    float64
	acts []int32
	exps []int32
}

type mJewel struct {
	value float64
	paths []int32
}

func newRiskModel(paths []Path) *riskModel {
	m := &riskModel{actIdx: map[string]int32{}, expIdx: map[string]int32{}}
	jewelIdx := map[string]int32{}
	intern := func(idx map[string]int32, list *[][]int32, s string, p int32) int32 {
		i, ok := idx[s]
		if !ok {
			i = int32(len(idx))
			idx[s] = i
			*list = append(*list, nil)
		}
		if l := (*list)[i]; len(l) == 0 || l[len(l)-1] != p {
			(*list)[i] = append(l, p)
		}
		return i
	}
	for pi, p := range paths {
		j, ok := jewelIdx[p.Jewel]
		if !ok {
			j = int32(len(m.jewels))
			jewelIdx[p.Jewel] = j
			m.jewels = append(m.jewels, mJewel{value: float64(p.Impact)})
		}
		m.jewels[j].paths = append(m.jewels[j].paths, int32(pi))
		mp := mPath{jewel: j}
		conv := func(ws []way) []mWay {
			out := make([]mWay, len(ws))
			for i, w := range ws {
				out[i].p = w.p
				for _, a := range w.actions {
					out[i].acts = append(out[i].acts, intern(m.actIdx, &m.actPaths, a, int32(pi)))
				}
				for _, e := range w.exposures {
					out[i].exps = append(out[i].exps, intern(m.expIdx, &m.expPaths, e, int32(pi)))
				}
			}
			return out
		}
		mp.steps = append(mp.steps, conv(p.entryWays))
		for _, s := range p.Steps {
			mp.steps = append(mp.steps, conv(s.ways))
		}
		m.paths = append(m.paths, mp)
	}
	m.nActions = len(m.actIdx)
	return m
}

// likelihood of path p when dead reports the removed facts of a way.
func (m *riskModel) likelihood(p int32, dead func(*mWay) bool) float64 {
	l := 1.0
	for _, st := range m.paths[p].steps {
		best := 0.0
		for i := range st {
			if !dead(&st[i]) {
				best = max(best, st[i].p)
			}
		}
		l *= best
		if l == 0 {
			return 0
		}
	}
	return l
}

func (m *riskModel) jewelRisk(j int32, dead func(*mWay) bool) float64 {
	q := 1.0
	for _, p := range m.jewels[j].paths {
		q *= 1 - m.likelihood(p, dead)
	}
	return m.jewels[j].value * (1 - q)
}

func anyIn(ids []int32, set []bool) bool {
	for _, i := range ids {
		if set[i] {
			return true
		}
	}
	return false
}

func (m *riskModel) jewelsOf(paths []int32) []int32 {
	var js []int32
	for _, p := range paths {
		if j := m.paths[p].jewel; !slices.Contains(js, j) {
			js = append(js, j)
		}
	}
	return js
}

// priorities returns each exposure's risk removed: O(Σ over exposures of
// the steps of the paths of their jewels).
func (m *riskModel) priorities() []Priority {
	removed := make([]bool, len(m.expIdx))
	none := func(*mWay) bool { return false }
	dead := func(w *mWay) bool { return anyIn(w.exps, removed) }
	out := make([]Priority, 0, len(m.expIdx))
	for id, i := range m.expIdx {
		removed[i] = true
		gain := 0.0
		for _, j := range m.jewelsOf(m.expPaths[i]) {
			gain += m.jewelRisk(j, none) - m.jewelRisk(j, dead)
		}
		removed[i] = false
		out = append(out, Priority{ExposureID: id, RiskRemoved: gain, Paths: len(m.expPaths[i])})
	}
	slices.SortFunc(out, func(a, b Priority) int {
		if c := cmp.Compare(b.RiskRemoved, a.RiskRemoved); c != 0 {
			return c
		}
		return cmp.Compare(a.ExposureID, b.ExposureID)
	})
	return out
}

type gainItem struct {
	act   int32
	ratio float64
	round int
}

type gainHeap []gainItem

func (h gainHeap) Len() int { return len(h) }
func (h gainHeap) Less(i, j int) bool {
	if h[i].ratio != h[j].ratio {
		return h[i].ratio > h[j].ratio
	}
	return h[i].act < h[j].act
}
func (h gainHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *gainHeap) Push(x any)   { *h = append(*h, x.(gainItem)) }
func (h *gainHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// kindRank breaks ties between actions of equal risk removed per effort:
// fixing a weakness (upgrade, fix, rotate) comes before hardening, and
// hardening before taking a relation away, which is more likely to break
// what the estate is for.
func kindRank(a *Action) int {
	if a == nil {
		return 9
	}
	switch a.Kind {
	case ActUpgrade:
		return 0
	case ActFix:
		return 1
	case ActRotate:
		return 2
	case ActHarden:
		return 3
	case ActRemove:
		return 4
	}
	return 5
}

// plan orders the actions greedily by risk removed per effort, with lazy
// evaluation: an action's gain only shrinks as others are taken (nearly
// always; the noisy-or is not exactly submodular), so a stale gain is an
// upper bound and the heap's top is re-evaluated until it stays on top.
// Ties go by kindRank, then to the smaller key, so the plan is
// deterministic. Actions that
// remove no risk are left out. O(A log A) heap operations plus one
// evaluation per pop, for A actions on paths.
func (m *riskModel) plan(actions map[string]*Action) Plan {
	removed := make([]bool, m.nActions)
	keys := make([]string, m.nActions)
	for k, i := range m.actIdx {
		keys[i] = k
	}
	dead := func(w *mWay) bool { return anyIn(w.acts, removed) }
	cur := make([]float64, len(m.jewels))
	total := 0.0
	for j := range m.jewels {
		cur[j] = m.jewelRisk(int32(j), dead)
		total += cur[j]
	}
	effort := func(a int32) float64 {
		if ac, ok := actions[keys[a]]; ok && ac.Effort > 0 {
			return ac.Effort
		}
		return 1
	}
	gain := func(a int32) float64 {
		removed[a] = true
		g := 0.0
		for _, j := range m.jewelsOf(m.actPaths[a]) {
			g += cur[j] - m.jewelRisk(j, dead)
		}
		removed[a] = false
		return g
	}
	// Keys sorted so that equal ratios pop in key order.
	order := make([]int32, m.nActions)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		ka, kb := kindRank(actions[keys[a]]), kindRank(actions[keys[b]])
		if ka != kb {
			return ka - kb
		}
		return cmp.Compare(keys[a], keys[b])
	})
	rank := make([]int32, m.nActions)
	for r, a := range order {
		rank[a] = int32(r)
	}
	h := gainHeap{}
	for _, a := range order {
		// An action of structural effort is none: nothing removes its
		// fact (a relation, an entry point public by design).
		if effort(a) >= structural {
			continue
		}
		if g := gain(a); g > 1e-12 {
			h = append(h, gainItem{rank[a], g / effort(a), 0})
		}
	}
	heap.Init(&h)
	p := Plan{Risk: total}
	remaining, spent, round := total, 0.0, 0
	for h.Len() > 0 {
		it := heap.Pop(&h).(gainItem)
		a := order[it.act]
		if it.round != round {
			g := gain(a)
			if g > 1e-12 {
				heap.Push(&h, gainItem{it.act, g / effort(a), round})
			}
			continue
		}
		g := gain(a)
		removed[a] = true
		for _, j := range m.jewelsOf(m.actPaths[a]) {
			cur[j] = m.jewelRisk(j, dead)
		}
		round++
		remaining -= g
		spent += effort(a)
		ac := Action{Key: keys[a], Effort: effort(a)}
		if x, ok := actions[keys[a]]; ok {
			ac = *x
		}
		p.Items = append(p.Items, PlanItem{Action: ac, RiskRemoved: g, Remaining: max(remaining, 0), CumulativeEffort: spent})
	}
	return p
}

// aggregate joins component results into a Result, keeping them by hash
// for a later Reanalyze when reusable (their hashes computed).
func aggregate(results []*compResult, reusable bool) *Result {
	res := &Result{Actions: map[string]*Action{}, comps: map[uint64]*compResult{}}
	for _, cr := range results {
		if cr == nil {
			continue
		}
		if reusable {
			res.comps[cr.hash] = cr
		}
		res.Paths = append(res.Paths, cr.paths...)
		res.ChokePoints = append(res.ChokePoints, cr.chokes...)
		for k, a := range cr.actions {
			if cur, ok := res.Actions[k]; ok {
				merged := *cur
				merged.Exposures = append(slices.Clone(cur.Exposures), a.Exposures...)
				merged.Relations = append(slices.Clone(cur.Relations), a.Relations...)
				res.Actions[k] = &merged
			} else {
				res.Actions[k] = a
			}
		}
	}
	slices.SortFunc(res.Paths, func(a, b Path) int {
		if c := cmp.Compare(b.Risk, a.Risk); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	slices.SortFunc(res.ChokePoints, func(a, b ChokePoint) int { return cmp.Compare(a.Action.Key, b.Action.Key) })
	res.Priorities, res.Plan = mergeRanked(results)
	res.Risk = res.Plan.Risk
	return res
}

// mergeRanked merges the components' priorities (sorted by risk removed)
// and fix plans. Components share no path, so an action's gain depends
// only on the actions of its own component: the global greedy order is
// the merge of the components' greedy sequences by risk removed per
// effort, taken with a heap over the components' next items in O(N log
// C) for N items and C components. (Where a component's own sequence is
// not monotone, a rare effect of the noisy-or, its order is kept.)
func mergeRanked(results []*compResult) ([]Priority, Plan) {
	var prios []Priority
	var plan Plan
	h := &mergeHeap{}
	for _, cr := range results {
		if cr == nil {
			continue
		}
		prios = append(prios, cr.prios...)
		plan.Risk += cr.plan.Risk
		if len(cr.plan.Items) > 0 {
			*h = append(*h, mergeHead{items: cr.plan.Items})
		}
	}
	slices.SortFunc(prios, func(a, b Priority) int {
		if c := cmp.Compare(b.RiskRemoved, a.RiskRemoved); c != 0 {
			return c
		}
		return cmp.Compare(a.ExposureID, b.ExposureID)
	})
	heap.Init(h)
	remaining, spent := plan.Risk, 0.0
	for h.Len() > 0 {
		top := &(*h)[0]
		it := top.items[0]
		remaining -= it.RiskRemoved
		spent += it.Effort
		it.Remaining, it.CumulativeEffort = max(remaining, 0), spent
		plan.Items = append(plan.Items, it)
		top.items = top.items[1:]
		if len(top.items) == 0 {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
	}
	return prios, plan
}

type mergeHead struct{ items []PlanItem }

type mergeHeap []mergeHead

func ratio(it PlanItem) float64 { return it.RiskRemoved / max(it.Effort, 1e-9) }

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	a, b := h[i].items[0], h[j].items[0]
	if ra, rb := ratio(a), ratio(b); ra != rb {
		return ra > rb
	}
	if ka, kb := kindRank(&a.Action), kindRank(&b.Action); ka != kb {
		return ka < kb
	}
	return a.Key < b.Key
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(mergeHead)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
