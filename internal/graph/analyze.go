package graph

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ctem-dev/ctem/internal/model"
)

// Path is one attack path from an entry state to a state on a crown
// jewel. Its JSON form is the contract of the CLI and the API.
type Path struct {
	// ID is a stable hash of the path's steps (rule, from, to).
	ID string `json:"id"`
	// Entry and Target are the first and last states,
	// "capability:asset-key".
	Entry  string `json:"entry"`
	Target string `json:"target"`
	// Likelihood is the product of the steps' probabilities and Risk
	// is Likelihood × Impact, the jewel's value.
	Likelihood float64 `json:"likelihood"`
	Risk       float64 `json:"risk"`
	// Validated reports whether every step is evidenced: relation and
	// label steps by their source, weakness steps by kev,
	// reachable-call, runtime-loaded, runtime-exec, dast-confirmed or
	// probe-confirmed evidence.
	Validated bool   `json:"validated"`
	Steps     []Step `json:"steps"`
	// Impact is the jewel's value and Jewel its asset key.
	Impact int    `json:"-"`
	Jewel  string `json:"-"`

	entryWays []way
}

// Step is one transition of a path.
type Step struct {
	Rule string `json:"rule"`
	From string `json:"from"`
	To   string `json:"to"`
	// Capability and Asset are those of To.
	Capability string `json:"capability"`
	Asset      string `json:"asset"`
	// ExposureIDs lists every exposure that enables the step (any one
	// of them is enough).
	ExposureIDs []string `json:"exposure_ids"`
	// Weakness is the exposure of the most likely way to take the step,
	// the one whose evidence gives Probability; empty when no weakness
	// enables it (a relation or a label does). A listing names the step
	// by it, not by the first of ExposureIDs, which may be far less
	// likely.
	Weakness    string  `json:"weakness,omitempty"`
	Probability float64 `json:"probability"`
	// Evidence describes the facts of the most likely way to take the
	// step: evidence kinds of its weakness, "epss=0.42", the relation
	// ("relation:can(get secrets) A -> B") or label ("label:imds.v1=true").
	Evidence []string `json:"evidence"`
	// Validated reports whether one of the ways to take the step is
	// evidenced (the rule of Path.Validated, step by step); a path is
	// validated when all its steps are.
	Validated bool `json:"validated,omitempty"`

	ways []way
}

// way is one set of facts that together enable a step, as remediation
// action keys and exposure ids.
type way struct {
	p         float64
	actions   []string
	exposures []string
}

// compResult is the analysis of one component, kept for Reanalyze.
type compResult struct {
	hash    uint64
	paths   []Path
	chokes  []ChokePoint
	actions map[string]*Action
	jewels  map[string]int
	// prios and plan are the component's own; components share no
	// path, so the global ones are merges of these.
	prios []Priority
	plan  Plan
}

// Analyze runs the full analysis: it partitions the estate into connected
// components, and for each component (in parallel, Options.Workers at a
// time) builds its Graph, finds the K most likely paths to each jewel
// (Yen's algorithm) and its minimum cut (Dinic's algorithm); then it
// ranks exposures by the risk fixing each removes and orders the fix plan.
// in is not modified. The cost is linear in the input for the build plus,
// per jewel, O(K·L) Dijkstra searches on the states that lie on some
// entry-to-jewel path of at most MaxSteps steps.
func Analyze(in *Input, opt Options) (*Result, error) {
	return AnalyzeContext(context.Background(), in, opt)
}

// AnalyzeContext is Analyze that stops when ctx is done: it checks ctx
// before each component and returns ctx's error, and no result, when it
// was cancelled (a request that went away, a job that was stopped).
func AnalyzeContext(ctx context.Context, in *Input, opt Options) (*Result, error) {
	r, _, err := analyze(ctx, nil, in, opt)
	return r, err
}

// Reanalyze is Analyze that reuses prev: components whose inputs hash the
// same as in prev (assets, labels, relations, weaknesses, jewels, entries
// and options) keep their paths and cuts; only the others are rebuilt. It
// returns the new result and the paths opened and closed since prev. A
// nil prev is a full analysis with every path opened.
func Reanalyze(prev *Result, in *Input, opt Options) (*Result, *Diff, error) {
	return analyze(context.Background(), prev, in, opt)
}

// ReanalyzeContext is Reanalyze that stops when ctx is done, as
// AnalyzeContext does.
func ReanalyzeContext(ctx context.Context, prev *Result, in *Input, opt Options) (*Result, *Diff, error) {
	return analyze(ctx, prev, in, opt)
}

// Diff lists the paths a reanalysis opened and closed, by path id, and
// how many components it recomputed and reused.
type Diff struct {
	Opened     []string `json:"opened"`
	Closed     []string `json:"closed"`
	Recomputed int      `json:"recomputed"`
	Reused     int      `json:"reused"`
}

func analyze(ctx context.Context, prev *Result, in *Input, opt Options) (*Result, *Diff, error) {
	if in == nil {
		return nil, nil, fmt.Errorf("graph: nil input")
	}
	for _, j := range in.Jewels {
		if j.Value < 1 || j.Value > 10 {
			return nil, nil, fmt.Errorf("graph: crown jewel %q: value %d out of range 1..10", j.Asset, j.Value)
		}
	}
	opt = opt.norm()
	if prev != nil {
		opt.NoReuse = false // the components are compared by hash
	}
	in = refinePorts(in)
	x := newIndex(in, opt)
	results := make([]*compResult, len(x.comps))
	var todo []int
	diff := &Diff{}
	for i, c := range x.comps {
		if len(c.jewels) == 0 {
			results[i] = &compResult{hash: c.hash}
			continue
		}
		if prev != nil {
			if r, ok := prev.comps[c.hash]; ok {
				results[i] = r
				diff.Reused++
				continue
			}
		}
		todo = append(todo, i)
	}
	diff.Recomputed = len(todo)
	// Largest components first, for balance.
	slices.SortFunc(todo, func(a, b int) int { return cmp.Compare(len(x.comps[b].assets), len(x.comps[a].assets)) })
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, max(len(todo), 1)) {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					continue // drain the queue
				}
				results[i] = analyzeComponent(x, x.comps[i], opt)
			}
		})
	}
	for _, i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}

	res := aggregate(results, !opt.NoReuse)
	if prev != nil || diff.Recomputed > 0 {
		old := map[string]bool{}
		if prev != nil {
			for _, p := range prev.Paths {
				old[p.ID] = true
			}
		}
		cur := map[string]bool{}
		for _, p := range res.Paths {
			cur[p.ID] = true
			if !old[p.ID] {
				diff.Opened = append(diff.Opened, p.ID)
			}
		}
		for id := range old {
			if !cur[id] {
				diff.Closed = append(diff.Closed, id)
			}
		}
		slices.Sort(diff.Opened)
		slices.Sort(diff.Closed)
	}
	return res, diff, nil
}

// analyzeComponent builds one component's graph and finds its paths and
// cut.
func analyzeComponent(x *index, c *compInput, opt Options) *compResult {
	g := build(x, c.assets, x.local, c.rels, c.weaks)
	cr := &compResult{hash: c.hash, actions: map[string]*Action{}, jewels: map[string]int{}}
	if len(g.entries) == 0 {
		return cr
	}
	s := newSearch(g, opt.MaxSteps)
	cut := newCutSet(g)
	// One value per jewel asset: the highest given.
	jewels := map[int32]int{}
	var order []int32
	for _, j := range c.jewels {
		jw := x.in.Jewels[j]
		l := g.localOf(x.ids[jw.Asset])
		if v, ok := jewels[l]; !ok || jw.Value > v {
			if !ok {
				order = append(order, l)
			}
			jewels[l] = jw.Value
		}
	}
	slices.Sort(order)
	for _, l := range order {
		key := x.assets[g.assets[l]].key
		cr.jewels[key] = jewels[l]
		targets := []int32{l*numCaps + int32(Exec), l*numCaps + int32(Read), l*numCaps + int32(Write), l*numCaps + int32(Identity), l*numCaps + int32(Admin)}
		if !s.setTargets(targets) {
			continue
		}
		cut.add(s)
		for _, rp := range s.yen(opt.K) {
			cr.paths = append(cr.paths, g.path(rp, key, jewels[l]))
		}
	}
	cr.chokes = cut.solve()
	g.collectActions(cr, c.weaks)
	m := newRiskModel(cr.paths)
	cr.prios = m.priorities()
	cr.plan = m.plan(cr.actions)
	return cr
}

// path turns a raw path into a Path.
func (g *Graph) path(rp rawPath, jewel string, value int) Path {
	p := Path{Entry: g.State(rp.entry).String(), Impact: value, Jewel: jewel, Validated: true}
	en := g.entries[g.isEntry[rp.entry]]
	if en.free {
		p.entryWays = append(p.entryWays, way{p: 1})
	}
	for _, f := range en.facts {
		p.entryWays = append(p.entryWays, g.factWay(1, []int32{f}))
	}
	h := sha256.New()
	from := rp.entry
	like := 1.0
	for _, e := range rp.edges {
		to := g.to[e]
		ts := g.State(to)
		st := Step{Rule: Rules[g.rule[e]].Name, From: g.State(from).String(), To: ts.String(),
			Capability: ts.Cap.String(), Asset: ts.Asset, Probability: round6(float64(g.p[e])), ExposureIDs: []string{}, Evidence: []string{}}
		best, validated := -1, false
		for w := g.wayOff[e]; w < g.wayOff[e+1]; w++ {
			facts := g.facts[g.factOff[w]:g.factOff[w+1]]
			wy := g.factWay(round6(float64(g.wayP[w])), facts)
			st.ways = append(st.ways, wy)
			st.ExposureIDs = append(st.ExposureIDs, wy.exposures...)
			if best < 0 || g.wayP[w] > g.wayP[best] {
				best = int(w)
				st.Weakness = ""
				if len(wy.exposures) > 0 {
					st.Weakness = wy.exposures[0]
				}
			}
			validated = validated || g.wayValidated(facts, g.State(from).Asset)
		}
		slices.Sort(st.ExposureIDs)
		st.ExposureIDs = slices.Compact(st.ExposureIDs)
		if best >= 0 {
			st.Evidence = g.evidence(g.facts[g.factOff[best]:g.factOff[best+1]], g.State(from).Asset)
		}
		st.Validated = validated
		p.Validated = p.Validated && validated
		like *= st.Probability
		fmt.Fprintf(h, "%s|%s|%s\n", st.Rule, st.From, st.To)
		p.Steps = append(p.Steps, st)
		from = to
	}
	p.Target = g.State(from).String()
	p.ID = hex.EncodeToString(h.Sum(nil)[:8])
	p.Likelihood = like
	p.Risk = like * float64(value)
	return p
}

// round6 rounds a probability stored as float32 to 6 decimals, so that
// 0.95 reads 0.95 and not 0.949999988.
func round6(p float64) float64 { return math.Round(p*1e6) / 1e6 }

// factKind classifies a fact id.
func (g *Graph) factKind(f int32) (kind byte, i int32) {
	switch {
	case f < g.nW():
		return 'w', f
	case f < g.nW()+g.nR():
		return 'r', f - g.nW()
	}
	return 'l', f - g.nW() - g.nR()
}

func (g *Graph) factWay(p float64, facts []int32) way {
	w := way{p: p}
	for _, f := range facts {
		a := g.factAction(f)
		w.actions = append(w.actions, a.Key)
		if k, i := g.factKind(f); k == 'w' {
			w.exposures = append(w.exposures, g.x.in.Weaknesses[i].Exposure.ID)
		}
	}
	return w
}

// wayValidated reports whether every weakness of a way has strong
// evidence, counting the evidence seen on the way's source asset src
// (Weakness.EvidenceOn).
func (g *Graph) wayValidated(facts []int32, src string) bool {
	for _, f := range facts {
		k, i := g.factKind(f)
		if k != 'w' {
			continue
		}
		w := &g.x.in.Weaknesses[i]
		ok := w.KEV
		for _, e := range w.Evidence {
			ok = ok || isStrongEvidence(e)
		}
		for _, e := range w.EvidenceOn[src] {
			ok = ok || isStrongEvidence(e)
		}
		if !ok {
			return false
		}
	}
	return true
}

func (g *Graph) evidence(facts []int32, src string) []string {
	out := []string{}
	for _, f := range facts {
		k, i := g.factKind(f)
		switch k {
		case 'w':
			w := &g.x.in.Weaknesses[i]
			for _, e := range w.Evidence {
				out = append(out, string(e))
			}
			for _, e := range w.EvidenceOn[src] {
				if !slices.Contains(out, string(e)) {
					out = append(out, string(e))
				}
			}
			if w.KEV && !slices.Contains(out, "kev") {
				out = append(out, "kev")
			}
			if w.EPSS > 0 {
				out = append(out, "epss="+strconv.FormatFloat(w.EPSS, 'g', 4, 64))
			}
			out = append(out, "exposure:"+w.Exposure.ID)
		case 'r':
			out = append(out, "relation:"+relString(&g.x.in.Relations[i]))
		case 'l':
			lf := g.labels[i]
			out = append(out, "label:"+lf.label+"="+g.x.assets[lf.asset].labels[lf.label])
		}
	}
	return out
}

func relString(r *model.Relation) string {
	t := string(r.Type)
	if r.Action != "" {
		t += "(" + r.Action + ")"
	}
	return t + " " + r.From + " -> " + r.To
}

// factAction returns the remediation action that removes fact f.
func (g *Graph) factAction(f int32) Action {
	x := g.x
	k, i := g.factKind(f)
	switch k {
	case 'w':
		w := &x.in.Weaknesses[i]
		key, kind, title, effort := DefaultAction(w)
		if w.Action != "" {
			key, kind = w.Action, ActFix
			title = w.ActionTitle
			if title == "" {
				title = w.Action
			}
		}
		if w.Effort > 0 {
			effort = w.Effort
		}
		return Action{Key: key, Kind: kind, Title: title, Effort: effort, Owner: x.assets[x.weakAt[i]].owner}
	case 'r':
		r := &x.in.Relations[i]
		owner := x.assets[x.relFrom[i]].owner
		fromNet := x.relFrom[i] == x.internet
		if fromNet {
			owner = x.assets[x.relTo[i]].owner
		}
		title := "remove " + relString(r)
		switch {
		case fromNet:
			title = "close the internet exposure of " + r.To
		case r.Type == "can":
			title = "drop the permission " + r.Action + " of " + r.From + " on " + r.To
		case r.Type == "connects-to":
			title = "add a network policy or rule that stops " + r.From + " reaching " + r.To
		}
		effort := relationEffort(r.Type, fromNet)
		if fromNet && labelTrue(x.assets[x.relTo[i]].labels, model.LabelPublicByDesign) {
			// The scope says this entry point is public by design: no
			// fix closes it.
			effort = structural
		}
		return Action{Key: "remove|" + string(r.Type) + "|" + r.Action + "|" + r.From + "|" + r.To, Kind: ActRemove,
			Title: title, Effort: effort, Owner: owner, Relations: []string{relString(r)}}
	}
	lf := g.labels[i]
	a := &x.assets[lf.asset]
	title := "drop " + lf.label + " on " + a.key
	switch {
	case lf.label == LabelIMDSv1:
		title = "require IMDSv2 on " + a.key
	case lf.label == LabelPublic:
		title = "make " + a.key + " private"
	case lf.label == LabelTrustAnyone:
		title = "name the principals in the trust policy of " + a.key + " instead of anyone"
	case strings.HasPrefix(lf.label, escapePrefix):
		title = "remove the " + strings.TrimPrefix(lf.label, escapePrefix) + " setting of " + a.key
	}
	effort := 1.0
	if lf.label == LabelPublic && labelTrue(a.labels, model.LabelPublicByDesign) {
		effort = structural // public by design (see the relation case)
	}
	return Action{Key: "harden|" + a.key + "|" + lf.label, Kind: ActHarden, Title: title, Effort: effort, Owner: a.owner}
}

// collectActions fills cr.actions with every action its paths and cut
// name; a weakness action lists every exposure of the component that it
// removes, on a path or not (one upgrade fixes all the CVEs of a
// package on an image).
func (g *Graph) collectActions(cr *compResult, weaks []int32) {
	x := g.x
	need := map[string]bool{}
	for _, p := range cr.paths {
		for _, w := range p.entryWays {
			for _, a := range w.actions {
				need[a] = true
			}
		}
		for _, s := range p.Steps {
			for _, w := range s.ways {
				for _, a := range w.actions {
					need[a] = true
				}
			}
		}
	}
	for _, c := range cr.chokes {
		cr.actions[c.Action.Key] = &c.Action
		need[c.Action.Key] = true
	}
	if len(need) == 0 {
		return
	}
	seenRel := map[string]bool{}
	addFact := func(f int32) {
		if k, i := g.factKind(f); k == 'w' {
			// A weakness's key alone says whether its action is in the
			// result and whether it is already collected; the title and
			// owner are built once an action, not once a weakness.
			key := actionKey(&x.in.Weaknesses[i])
			if !need[key] {
				return
			}
			if cur, ok := cr.actions[key]; ok {
				cur.Exposures = append(cur.Exposures, x.in.Weaknesses[i].Exposure.ID)
				return
			}
		}
		a := g.factAction(f)
		if !need[a.Key] {
			return
		}
		cur, ok := cr.actions[a.Key]
		if !ok {
			cp := a
			cp.Exposures, cp.Relations = nil, nil
			cur = &cp
			cr.actions[a.Key] = cur
		}
		if k, i := g.factKind(f); k == 'w' {
			cur.Exposures = append(cur.Exposures, x.in.Weaknesses[i].Exposure.ID)
		} else if len(a.Relations) > 0 && !seenRel[a.Key+a.Relations[0]] {
			seenRel[a.Key+a.Relations[0]] = true
			cur.Relations = append(cur.Relations, a.Relations...)
		}
	}
	for _, f := range weaks {
		addFact(f)
	}
	for _, f := range g.facts {
		if k, _ := g.factKind(f); k != 'w' {
			addFact(f)
		}
	}
	for _, e := range g.entries {
		for _, f := range e.facts {
			if k, _ := g.factKind(f); k != 'w' {
				addFact(f)
			}
		}
	}
	for _, a := range cr.actions {
		slices.Sort(a.Exposures)
		a.Exposures = slices.Compact(a.Exposures)
		slices.Sort(a.Relations)
	}
	for i := range cr.chokes {
		if a, ok := cr.actions[cr.chokes[i].Action.Key]; ok {
			cr.chokes[i].Action = *a
		}
	}
}
