package app

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/intel/ssvc"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// View says which analysis a reading shows. Stored results are those of
// Analysis (the latest recorded one, its partial re-analyses merged in);
// when Stored is false nothing was recorded yet, or other options were
// asked for, and the results were computed for this reading only.
type View struct {
	Stored   bool           `json:"stored"`
	Analysis store.Analysis `json:"analysis"`
	// IngestSeq is the ingest sequence now; Waiting is true when it is
	// newer than the one up to which the analysis covers every ingest
	// (store.Analysis.UpTo): newer data waits for an analysis. (When the
	// scope in force is not the one the analysis read, the reading is
	// computed instead: Stored is false.)
	IngestSeq int64 `json:"ingest_seq"`
	Waiting   bool  `json:"waiting"`
}

// view returns the View of the stored results, or ok false when reading
// opt needs the analysis to run: none is recorded, opt (when not zero)
// differs from the recorded options, or the scope or CODEOWNERS files in
// force now (the App's, else the stored ones) are not those the analysis
// read.
func (a *App) view(ctx context.Context, opt graph.Options) (View, bool, error) {
	var v View
	last, ok, err := a.Store.LatestAnalysis(ctx)
	if err != nil || !ok {
		return v, false, err
	}
	if (opt.K != 0 && opt.K != last.K) || (opt.MaxSteps != 0 && opt.MaxSteps != last.MaxSteps) {
		return v, false, nil
	}
	in, err := a.loadInputs(ctx)
	if err != nil {
		return v, false, err
	}
	if in.ref.Digest != last.Scope.Digest || !slices.Equal(in.codeOwners, last.CodeOwners) {
		return v, false, nil
	}
	v.Stored, v.Analysis = true, last
	if v.IngestSeq, err = a.Store.IngestSeq(ctx); err != nil {
		return v, false, err
	}
	v.Waiting = v.IngestSeq > last.UpTo
	return v, true, nil
}

// compute runs the analysis for one reading without recording it.
func (a *App) compute(ctx context.Context, opt graph.Options) (*analyze.Run, View, error) {
	opt, err := normOptions(opt)
	if err != nil {
		return nil, View{}, err
	}
	p, err := a.prepare(ctx, nil, false)
	if err != nil {
		return nil, View{}, err
	}
	if err := p.run.RunContext(ctx, opt); err != nil {
		return nil, View{}, err
	}
	v := View{IngestSeq: p.seq, Analysis: store.Analysis{At: a.now(), IngestSeq: p.seq, UpTo: p.seq, Scope: p.in.ref, CodeOwners: p.in.codeOwners,
		Feeds: p.intel.Feeds, K: opt.K, MaxSteps: opt.MaxSteps, Paths: len(p.run.Result.Paths), Risk: p.run.Result.Risk}}
	return p.run, v, nil
}

// PathQuery selects attack paths.
type PathQuery struct {
	// To keeps the paths to this crown jewel (an asset key or any of its
	// names, or a prefix ending in *).
	To string
	// From keeps the paths whose entry state contains this text
	// ("internet", "network:KEY").
	From string
	// Through keeps the paths with a step that this exposure enables.
	Through string
	// Limit, when above 0, is the most paths to return.
	Limit int
	// Distinct shows near-identical paths once (see DistinctRoutes):
	// the riskiest of each group, the others named in
	// PathList.Alternatives; Limit then counts distinct routes.
	Distinct bool
	// Options, when not zero, asks for an analysis with these options
	// instead of the stored one.
	Options graph.Options
}

// PathList is a reading of attack paths with the names of the first
// exposure of each step (exposure id to its first vulnerability id or
// rule), which listings show.
type PathList struct {
	View  View
	Paths []graph.Path
	Names map[string]string
	// Alternatives maps a path's id to the ids of the near-identical
	// paths it stands for (with PathQuery.Distinct).
	Alternatives map[string][]string
	// Accepted maps the id of a path accepted as a whole (a path
	// acceptance rule in force) to its rule's id; MarkAccepted fills it.
	Accepted map[string]string `json:",omitempty"`
}

// Paths returns the open attack paths that match q, riskiest first, from
// the stored results (or computed, see View).
func (a *App) Paths(ctx context.Context, q PathQuery) (*PathList, error) {
	if !q.Distinct {
		return a.paths(ctx, q)
	}
	limit := q.Limit
	q.Limit = 0
	out, err := a.paths(ctx, q)
	if err != nil {
		return out, err
	}
	out.Paths, out.Alternatives = DistinctRoutes(out.Paths)
	if limit > 0 && len(out.Paths) > limit {
		out.Paths = out.Paths[:limit]
	}
	return out, nil
}

func (a *App) paths(ctx context.Context, q PathQuery) (*PathList, error) {
	v, ok, err := a.view(ctx, q.Options)
	if err != nil {
		return nil, err
	}
	out := &PathList{View: v, Paths: []graph.Path{}, Names: map[string]string{}}
	if !ok {
		run, v, err := a.compute(ctx, q.Options)
		if err != nil {
			return nil, err
		}
		out.View = v
		to := run.Estate.Canonical(q.To)
		from := entryMatcher(run.Estate, q.From)
		for _, p := range run.Result.Paths {
			if q.Limit > 0 && len(out.Paths) >= q.Limit {
				break
			}
			if matchPath(p, to, from, q.Through) {
				out.Paths = append(out.Paths, p)
				maps.Copy(out.Names, stepNames(p, run.Exposures))
			}
		}
		if len(out.Paths) == 0 {
			return out, unknownJewel(run.Estate, q.To)
		}
		return out, nil
	}
	var es *estate.Estate
	if q.From == string(graph.EntryInternet) || q.To != "" {
		if es, err = a.Estate(ctx); err != nil {
			return nil, err
		}
	}
	from := entryMatcher(es, q.From)
	if err := a.storedPaths(ctx, out, q.To, from, q); err != nil {
		return nil, err
	}
	if len(out.Paths) == 0 && q.To != "" && !strings.HasSuffix(q.To, "*") {
		// Perhaps another name of a jewel: the estate knows its key,
		// unless q.To is a jewel's key already.
		jr, err := a.Store.JewelRisks(ctx)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(jr, func(j store.JewelRisk) bool { return j.Jewel == q.To }) {
			return out, nil
		}
		if to := es.Canonical(q.To); to != q.To {
			if err := a.storedPaths(ctx, out, to, from, q); err != nil {
				return nil, err
			}
		}
		if len(out.Paths) == 0 {
			return out, unknownJewel(es, q.To)
		}
	}
	return out, nil
}

// unknownJewel is ErrNotFound when to names an asset key that the
// estate does not hold (a prefix ending in * is no key), else nil: a
// filter on a misspelt key would otherwise read as no path.
func unknownJewel(es *estate.Estate, to string) error {
	if to == "" || strings.HasSuffix(to, "*") || es == nil {
		return nil
	}
	if _, ok := es.Assets[es.Canonical(to)]; ok {
		return nil
	}
	return fmt.Errorf("--to %s: %w: no asset has this key (see 'ctem assets'; a prefix ends in *)", to, ErrNotFound)
}

func (a *App) storedPaths(ctx context.Context, out *PathList, to string, from func(string) bool, q PathQuery) error {
	for sp, err := range a.Store.OpenPaths(ctx, store.PathFilter{Exposure: q.Through, Jewel: to}) {
		if err != nil {
			return err
		}
		if !from(sp.Entry) {
			continue
		}
		if q.Limit > 0 && len(out.Paths) >= q.Limit {
			break
		}
		p, err := decodePath(sp.StoredPath)
		if err != nil {
			return err
		}
		out.Paths = append(out.Paths, p)
		maps.Copy(out.Names, sp.Names)
	}
	return nil
}

func decodePath(sp store.StoredPath) (graph.Path, error) {
	p := graph.Path{ID: sp.ID, Entry: sp.Entry, Target: sp.Target, Jewel: sp.Jewel, Likelihood: sp.Likelihood, Risk: sp.Risk, Validated: sp.Validated}
	// go-json-experiment decodes the steps about twice as fast as
	// encoding/json, which matters when a listing decodes every path.
	if err := jsonv2.Unmarshal([]byte(sp.Steps), &p.Steps); err != nil {
		return p, fmt.Errorf("stored path %s: %w", sp.ID, err)
	}
	return p, nil
}

func matchPath(p graph.Path, to string, from func(string) bool, through string) bool {
	if to != "" && !matchKey(p.Jewel, to) {
		return false
	}
	if !from(p.Entry) {
		return false
	}
	if through != "" {
		for _, s := range p.Steps {
			if slices.Contains(s.ExposureIDs, through) {
				return true
			}
		}
		return false
	}
	return true
}

func matchKey(key, pattern string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(key, p)
	}
	return key == pattern
}

// exposuresByID reads the exposures with these ids that match f, by id.
func (a *App) exposuresByID(ctx context.Context, ids []string, f store.Filter) (map[string]model.Exposure, error) {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := map[string]model.Exposure{}
	f.Limit = 0
	for i := 0; i < len(ids); i += 500 {
		f.IDs = ids[i:min(i+500, len(ids))]
		for x, err := range a.Store.Exposures(ctx, f) {
			if err != nil {
				return nil, err
			}
			out[x.ID] = x
		}
	}
	return out, nil
}

// FixPlan is a reading of the fix plan and the choke points.
type FixPlan struct {
	View        View
	Plan        graph.Plan
	ChokePoints []graph.ChokePoint
}

// FixPlan returns the fix plan, cut to the actions that fit in budget
// units of effort when budget is above 0, and the choke points.
func (a *App) FixPlan(ctx context.Context, budget float64, opt graph.Options) (*FixPlan, error) {
	if budget < 0 {
		return nil, badInput(fmt.Errorf("--budget must not be negative"))
	}
	v, ok, err := a.view(ctx, opt)
	if err != nil {
		return nil, err
	}
	out := &FixPlan{View: v}
	if !ok {
		run, v, err := a.compute(ctx, opt)
		if err != nil {
			return nil, err
		}
		out.View, out.Plan, out.ChokePoints = v, run.Result.Plan, run.Result.ChokePoints
	} else if out.Plan, out.ChokePoints, err = a.storedPlan(ctx); err != nil {
		return nil, err
	}
	if budget > 0 {
		out.Plan = out.Plan.Budget(budget)
	}
	if out.Plan.Items == nil {
		out.Plan.Items = []graph.PlanItem{}
	}
	if out.ChokePoints == nil {
		out.ChokePoints = []graph.ChokePoint{}
	}
	return out, nil
}

// storedPlan reads the stored plan. Each analysis's items are a merge of
// its components' greedy sequences; an analysis of some components
// replaced those components' items only, so the stored items of several
// analyses are merged again, as package graph merges components: by risk
// removed per effort, then key. The running totals are recomputed from
// the jewels' stored risks.
func (a *App) storedPlan(ctx context.Context) (graph.Plan, []graph.ChokePoint, error) {
	var plan graph.Plan
	jr, err := a.Store.JewelRisks(ctx)
	if err != nil {
		return plan, nil, err
	}
	for _, j := range jr {
		plan.Risk += j.Risk
	}
	rows, err := a.Store.StoredActions(ctx, store.ActionPlan)
	if err != nil {
		return plan, nil, err
	}
	h := &itemHeap{}
	for _, r := range rows {
		var it graph.PlanItem
		if err := jsonv2.Unmarshal([]byte(r.Data), &it); err != nil {
			return plan, nil, fmt.Errorf("stored plan item: %w", err)
		}
		if n := len(*h); n > 0 && (*h)[n-1].analysis == r.AnalysisID {
			(*h)[n-1].items = append((*h)[n-1].items, it)
		} else {
			*h = append(*h, itemRun{analysis: r.AnalysisID, items: []graph.PlanItem{it}})
		}
	}
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
	crows, err := a.Store.StoredActions(ctx, store.ActionChoke)
	if err != nil {
		return plan, nil, err
	}
	chokes := make([]graph.ChokePoint, 0, len(crows))
	for _, r := range crows {
		var c graph.ChokePoint
		if err := jsonv2.Unmarshal([]byte(r.Data), &c); err != nil {
			return plan, nil, fmt.Errorf("stored choke point: %w", err)
		}
		chokes = append(chokes, c)
	}
	slices.SortFunc(chokes, func(a, b graph.ChokePoint) int { return cmp.Compare(a.Action.Key, b.Action.Key) })
	return plan, chokes, nil
}

type itemRun struct {
	analysis int64
	items    []graph.PlanItem
}

type itemHeap []itemRun

func ratio(it graph.PlanItem) float64 { return it.RiskRemoved / max(it.Effort, 1e-9) }

func (h itemHeap) Len() int { return len(h) }
func (h itemHeap) Less(i, j int) bool {
	a, b := h[i].items[0], h[j].items[0]
	if ra, rb := ratio(a), ratio(b); ra != rb {
		return ra > rb
	}
	return a.Key < b.Key
}
func (h itemHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *itemHeap) Push(x any)   { *h = append(*h, x.(itemRun)) }
func (h *itemHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// priorityPage is how many priorities a listing reads at a time.
const priorityPage = 500

// Ranked is an exposure with its priority: the attack-path risk that
// fixing it removes, and the number of paths through it.
type Ranked struct {
	model.Exposure
	Priority float64 `json:"priority"`
	Paths    int     `json:"paths"`
}

// Priorities lists the exposures that match f by priority: those on some
// attack path, highest priority first, then the rest in the store's
// order (most severe first). Every filter of f applies, f.Limit included.
// The View says which analysis the priorities come from.
func (a *App) Priorities(ctx context.Context, f store.Filter, opt graph.Options) (View, iter.Seq2[Ranked, error], error) {
	v, ok, err := a.view(ctx, opt)
	if err != nil {
		return v, nil, err
	}
	// pages returns the prioritized exposures a page at a time: computed
	// ones, or stored ones read by keyset, so that a short listing reads
	// a few pages of a large database.
	var pages func(yield func([]store.StoredPriority, error) bool)
	if !ok {
		run, cv, err := a.compute(ctx, opt)
		if err != nil {
			return v, nil, err
		}
		v = cv
		var all []store.StoredPriority
		for _, p := range run.Result.Priorities {
			all = append(all, store.StoredPriority{ExposureID: p.ExposureID, RiskRemoved: p.RiskRemoved, Paths: p.Paths})
		}
		pages = func(yield func([]store.StoredPriority, error) bool) {
			for i := 0; i < len(all); i += priorityPage {
				if !yield(all[i:min(i+priorityPage, len(all))], nil) {
					return
				}
			}
		}
	} else {
		pages = func(yield func([]store.StoredPriority, error) bool) {
			var after *store.StoredPriority
			for {
				var page []store.StoredPriority
				for p, err := range a.Store.StoredPriorities(ctx, store.PriorityFilter{After: after, Limit: priorityPage}) {
					if err != nil {
						yield(nil, err)
						return
					}
					page = append(page, p)
				}
				if len(page) == 0 || !yield(page, nil) {
					return
				}
				after = &page[len(page)-1]
			}
		}
	}
	limit := f.Limit
	seq := func(yield func(Ranked, error) bool) {
		n := 0
		shown := map[string]bool{}
		for chunk, err := range pages {
			if err != nil {
				yield(Ranked{}, err)
				return
			}
			ids := make([]string, len(chunk))
			for j, p := range chunk {
				ids[j] = p.ExposureID
			}
			xs, err := a.exposuresByID(ctx, ids, f)
			if err != nil {
				yield(Ranked{}, err)
				return
			}
			for _, p := range chunk {
				x, ok := xs[p.ExposureID]
				if !ok || shown[x.ID] {
					continue
				}
				shown[x.ID] = true
				if limit > 0 && n >= limit {
					return
				}
				n++
				if !yield(Ranked{x, p.RiskRemoved, p.Paths}, nil) {
					return
				}
			}
		}
		rest := f
		rest.Limit = 0
		for x, err := range a.Store.Exposures(ctx, rest) {
			if err != nil {
				yield(Ranked{}, err)
				return
			}
			if shown[x.ID] {
				continue
			}
			if limit > 0 && n >= limit {
				return
			}
			n++
			if !yield(Ranked{Exposure: x}, nil) {
				return
			}
		}
	}
	return v, seq, nil
}

// Top lists the n open exposures whose fix removes the most attack-path
// risk (all when n is 0), then the other open ones by severity.
func (a *App) Top(ctx context.Context, n int, opt graph.Options) (View, []Ranked, error) {
	v, seq, err := a.Priorities(ctx, store.Filter{Statuses: []model.Status{model.StatusOpen}, Limit: n}, opt)
	if err != nil {
		return v, nil, err
	}
	var out []Ranked
	for r, err := range seq {
		if err != nil {
			return v, nil, err
		}
		out = append(out, r)
	}
	return v, out, nil
}

// Explanation is an exposure's risk explained: its score part by part,
// the risk its fix removes from the attack paths, and those paths.
type Explanation struct {
	View     View
	Exposure model.Exposure
	score.Assessment
	Priority float64
	Paths    []graph.Path
	// WhyLow, when not empty, says why Priority is near zero although
	// paths go through the exposure (see WhyLowPriority).
	WhyLow string
}

// Explain explains the exposure whose id is or begins with id. override
// sets SSVC decision points by hand. It returns ErrNotFound when no
// exposure has the id, and a BadInputError when several do.
func (a *App) Explain(ctx context.Context, id string, override ssvc.Inputs) (*Explanation, error) {
	var xs []model.Exposure
	for x, err := range a.Store.Exposures(ctx, store.Filter{IDs: []string{id}, History: true}) {
		if err != nil {
			return nil, err
		}
		xs = append(xs, x)
	}
	switch {
	case len(xs) == 0:
		return nil, fmt.Errorf("no exposure %q (see 'ctem exposures'): %w", id, ErrNotFound)
	case len(xs) > 1:
		return nil, badInput(fmt.Errorf("%q names %d exposures; give more of the id", id, len(xs)))
	}
	x := xs[0]
	v, stored, err := a.view(ctx, graph.Options{})
	if err != nil {
		return nil, err
	}
	c, err := a.assetContext(ctx, x.Asset, stored)
	if err != nil {
		return nil, err
	}
	intel, err := a.intel()
	if err != nil {
		return nil, err
	}
	var fs []model.Finding
	if len(x.FindingIDs) > 0 {
		for f, err := range a.Store.Findings(ctx, store.Filter{IDs: x.FindingIDs}) {
			if err != nil {
				return nil, err
			}
			fs = append(fs, f)
		}
	}
	var ev []model.Evidence
	for e, err := range a.Store.Evidence(ctx, x) {
		if err != nil {
			return nil, err
		}
		ev = append(ev, e)
	}
	sc := score.Context{InternetExposed: c.InternetExposed, Via: c.Via, Service: c.Service, Criticality: c.Criticality, CrownJewel: c.CrownJewel,
		SSVCOverride: override, SSVCReason: "set on the command line"}
	out := &Explanation{Exposure: x, Assessment: score.Assess(x, fs, ev, sc, intel.Intel), Paths: []graph.Path{}}
	if !stored {
		run, cv, err := a.compute(ctx, graph.Options{})
		if err != nil {
			return nil, err
		}
		out.View = cv
		for _, p := range run.Result.Paths {
			if matchPath(p, "", entryMatcher(nil, ""), x.ID) {
				out.Paths = append(out.Paths, p)
			}
		}
		for _, p := range run.Result.Priorities {
			if p.ExposureID == x.ID {
				out.Priority = p.RiskRemoved
			}
		}
		out.WhyLow = WhyLowPriority(x.ID, out.Priority, out.Paths)
		return out, nil
	}
	out.View = v
	for sp, err := range a.Store.OpenPaths(ctx, store.PathFilter{Exposure: x.ID}) {
		if err != nil {
			return nil, err
		}
		p, err := decodePath(sp.StoredPath)
		if err != nil {
			return nil, err
		}
		out.Paths = append(out.Paths, p)
	}
	for p, err := range a.Store.StoredPriorities(ctx, store.PriorityFilter{IDs: []string{x.ID}}) {
		if err != nil {
			return nil, err
		}
		out.Priority = p.RiskRemoved
	}
	out.WhyLow = WhyLowPriority(x.ID, out.Priority, out.Paths)
	return out, nil
}

// assetContext returns the estate context of the asset named key: the
// one the stored analysis recorded when stored is true and it has one,
// else the estate's, correlated now.
func (a *App) assetContext(ctx context.Context, key string, stored bool) (estate.Context, error) {
	if stored {
		sc, ok, err := a.Store.AssetContextOf(ctx, key)
		if err != nil {
			return estate.Context{}, err
		}
		if ok {
			var c estate.Context
			if err := jsonv2.Unmarshal([]byte(sc.Data), &c); err != nil {
				return c, fmt.Errorf("stored context of %s: %w", key, err)
			}
			return c, nil
		}
	}
	es, err := a.Estate(ctx)
	if err != nil {
		return estate.Context{}, err
	}
	return es.Context(key), nil
}
