// Package analyze runs the attack-path analysis over what the store holds:
// it builds package graph's input from the correlated estate (package
// estate), the open exposures with their effects, evidence and threat
// intelligence, runs the analysis, and records the paths that opened and
// closed since the last run.
package analyze

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/intel/cvss"
	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// Run is one analysis: its input, its result, and the exposures it
// considered by id.
type Run struct {
	Estate *estate.Estate
	Input  *graph.Input
	Result *graph.Result
	// Exposures are the exposures of Input's weaknesses by id, each
	// pointing at its weakness's Exposure (one copy of a million
	// exposures, not two). They hold what the analysis and its listings
	// read: id, kind, rule, vulnerability ids, asset, package, location
	// path and status; not the title, CWEs, finding ids, tools or CVSS
	// vectors, which went into the weakness's effect and evidence. A full
	// run over an SQL store (sqlstore.DB.ReadAnalysisExposures) leaves the
	// severity, the line, URL and component and the times zero too: no
	// step reads them, and a listing reads them from the store.
	Exposures map[string]*model.Exposure
	// Partial is true when Input covers some components only.
	Partial bool
}

// analysisReader is a store that reads the open exposures in one
// streaming pass (sqlstore.DB.AnalysisExposures): what Exposures gives
// with ByID and the open status, without history.
type analysisReader interface {
	AnalysisExposures(ctx context.Context, assets []string, from, to string) iter.Seq2[model.Exposure, error]
}

// tableReader is a store that reads every open exposure in one bulk
// read into the caller's records (sqlstore.DB.ReadAnalysisExposures).
type tableReader interface {
	ReadAnalysisExposures(ctx context.Context, sink store.ExposureSink) error
}

// evidenceReader is a store that reads the facts about given findings,
// and vulnerability ids on given asset keys (sqlstore.DB.EvidenceAbout).
type evidenceReader interface {
	EvidenceAbout(ctx context.Context, findingIDs, vulnIDs, assets []string) iter.Seq2[model.Evidence, error]
}

// Build reads the store and makes the graph input: every asset and
// relation of the estate, every open or accepted exposure (an accepted
// risk is still a step an attacker can take: it stays on its paths, and
// leaves only the priority list) with its effect (from its
// CWEs, CVSS vectors and rule), its evidence kinds, EPSS and KEV, and the
// scope's entry points and crown jewels. With assets, only the exposures
// on those asset keys are read (see PrepareAffected).
func Build(ctx context.Context, st store.Store, es *estate.Estate, in score.Intel, assets ...string) (*graph.Input, map[string]*model.Exposure, error) {
	return build(ctx, st, es, es.Sorted(), in, assets)
}

// build is Build with the estate's assets in key order (es.Sorted()).
func build(ctx context.Context, st store.Store, es *estate.Estate, sorted []model.Asset, in score.Intel, assets []string) (*graph.Input, map[string]*model.Exposure, error) {
	gi := &graph.Input{Assets: sorted, Relations: trustRelations(es.Relations)}
	if join := awsPatterns(gi.Assets); len(join) > 0 {
		gi.Relations = append(gi.Relations[:len(gi.Relations):len(gi.Relations)], join...)
	}
	var err error
	if gi.Weaknesses, err = weaknesses(ctx, st, es, in, assets); err != nil {
		return nil, nil, err
	}
	gi.Weaknesses = slices.Clip(gi.Weaknesses)
	xs := make(map[string]*model.Exposure, len(gi.Weaknesses))
	for i := range gi.Weaknesses {
		xs[gi.Weaknesses[i].Exposure.ID] = &gi.Weaknesses[i].Exposure
	}
	if err := accessKeys(ctx, st, gi); err != nil {
		return nil, nil, fmt.Errorf("join access keys: %w", err)
	}
	leakedGrants(gi)
	gi.Entries = []graph.Entry{}
	for _, e := range es.Scope.Entries() {
		switch {
		case e.Identity != "":
			gi.Entries = append(gi.Entries, graph.Entry{Kind: graph.EntryIdentity, Identity: es.Canonical(e.Identity)})
		case e.Network == scope.EntryInternalNetwork:
			gi.Entries = append(gi.Entries, graph.Entry{Kind: graph.EntryInternalNetwork})
		default:
			gi.Entries = append(gi.Entries, graph.Entry{Kind: graph.EntryInternet})
		}
	}
	for _, k := range es.Keys {
		a := es.Assets[k]
		if a.CrownJewel != nil {
			gi.Jewels = append(gi.Jewels, graph.Jewel{Asset: k, Value: *a.CrownJewel, Name: a.Name})
		}
	}
	return gi, xs, nil
}

// weaknesses reads the open exposures (on assets when given) in id order
// and makes each a weakness (see weakness). A full read of a store that
// reads by id range runs in two halves at once, one per core.
func weaknesses(ctx context.Context, st store.Store, es *estate.Estate, in score.Intel, assets []string) ([]graph.Weakness, error) {
	ar, ok := st.(analysisReader)
	if !ok {
		facts, err := store.LoadEvidence(ctx, st)
		if err != nil {
			return nil, err
		}
		return weaknessesOf(st.Exposures(ctx, store.Filter{Statuses: []model.Status{model.StatusOpen}, Assets: assets, ByID: true}), es, in, facts)
	}
	if er, ok := st.(evidenceReader); ok && len(assets) > 0 {
		// Some components: their exposures first, then the facts about
		// them only (a full analysis reads every fact at once).
		var read []model.Exposure
		var findings, vulns, keys []string
		for x, err := range ar.AnalysisExposures(ctx, assets, "", "") {
			if err != nil {
				return nil, err
			}
			read = append(read, x)
			findings = append(findings, x.FindingIDs...)
			vulns = append(vulns, x.VulnIDs...)
			keys = append(keys, store.EvidenceKeys(x)...)
			x.Asset = es.Canonical(x.Asset) // as weakness matches it
			keys = append(keys, x.Asset)
		}
		slices.Sort(vulns)
		slices.Sort(keys)
		facts, err := store.IndexEvidence(er.EvidenceAbout(ctx, findings, slices.Compact(vulns), slices.Compact(keys)))
		if err != nil {
			return nil, err
		}
		return weaknessesOf(func(yield func(model.Exposure, error) bool) {
			for _, x := range read {
				if !yield(x, nil) {
					return
				}
			}
		}, es, in, facts)
	}
	facts, err := store.LoadEvidence(ctx, st)
	if err != nil {
		return nil, err
	}
	if len(assets) > 0 {
		return weaknessesOf(ar.AnalysisExposures(ctx, assets, "", ""), es, in, facts)
	}
	if tr, ok := st.(tableReader); ok {
		return readWeaknesses(ctx, tr, es, in, facts)
	}
	// Exposure ids are hexadecimal: "8" splits them in two halves.
	var lo, hi []graph.Weakness
	var loErr, hiErr error
	var wg sync.WaitGroup
	wg.Go(func() { hi, hiErr = weaknessesOf(ar.AnalysisExposures(ctx, nil, "8", ""), es, in, facts) })
	lo, loErr = weaknessesOf(ar.AnalysisExposures(ctx, nil, "", "8"), es, in, facts)
	wg.Wait()
	if err := cmp.Or(loErr, hiErr); err != nil {
		return nil, err
	}
	return append(lo, hi...), nil
}

// weaknessSink keeps the exposures of a bulk read as weaknesses, and
// their id order when the store gives it (store.ExposureOrderer).
type weaknessSink struct {
	ws    []graph.Weakness
	order []int32
}

func (s *weaknessSink) Order(byID []int32) { s.order = byID }

func (s *weaknessSink) Grow(n int) { s.ws = slices.Grow(s.ws, n) }

func (s *weaknessSink) Add(x model.Exposure) int {
	s.ws = append(s.ws, graph.Weakness{Exposure: x})
	return len(s.ws) - 1
}

func (s *weaknessSink) At(i int) *model.Exposure { return &s.ws[i].Exposure }

// readWeaknesses reads every open exposure in one bulk read, makes each a
// weakness (see weakness; two halves at once, one per core) and puts
// them in id order, as the streaming read gives them.
func readWeaknesses(ctx context.Context, tr tableReader, es *estate.Estate, in score.Intel, facts *store.EvidenceIndex) ([]graph.Weakness, error) {
	var sink weaknessSink
	if err := tr.ReadAnalysisExposures(ctx, &sink); err != nil {
		return nil, err
	}
	ws := sink.ws
	half := len(ws) / 2
	var wg sync.WaitGroup
	conv := func(part []graph.Weakness) {
		c := classifier{}
		for i := range part {
			part[i] = weakness(part[i].Exposure, es, in, facts, c)
		}
	}
	wg.Go(func() { conv(ws[half:]) })
	conv(ws[:half])
	wg.Wait()
	if len(sink.order) == len(ws) {
		permute(ws, sink.order)
	} else {
		sortByID(ws)
	}
	return ws, nil
}

// sortByID puts ws in exposure id order: it sorts their positions, then
// moves each weakness once along the cycles of that permutation, instead
// of swapping weaknesses of some 600 bytes O(n log n) times.
func sortByID(ws []graph.Weakness) { permute(ws, sortedPositions(ws)) }

// permute puts the weakness at position perm[i] at position i, for
// every i; perm is a permutation of the positions of ws, and is used up.
func permute(ws []graph.Weakness, perm []int32) {
	// The weakness at position i goes from position perm[i]; a done
	// position is marked -1.
	for i := range perm {
		if perm[i] < 0 || int(perm[i]) == i {
			perm[i] = -1
			continue
		}
		tmp := ws[i]
		j := i
		for {
			k := int(perm[j])
			perm[j] = -1
			if k == i {
				ws[j] = tmp
				break
			}
			ws[j] = ws[k]
			j = k
		}
	}
}

// sortedPositions returns the positions of ws in exposure id order. The
// ids are sorted beside their positions, not through them (a cache miss
// per comparison), and as numbers when they are all sixteen lowercase
// hexadecimal digits, as the store makes them, whose numeric order is
// their string order: a third of the time of sorting a million strings.
func sortedPositions(ws []graph.Weakness) []int32 {
	perm := make([]int32, len(ws))
	type numAt struct {
		id uint64
		at int32
	}
	nums := make([]numAt, len(ws))
	for i := range ws {
		n, ok := model.HexID16(ws[i].Exposure.ID)
		if !ok {
			nums = nil
			break
		}
		nums[i] = numAt{n, int32(i)}
	}
	if nums != nil {
		slices.SortFunc(nums, func(a, b numAt) int { return cmp.Compare(a.id, b.id) })
		for i, x := range nums {
			perm[i] = x.at
		}
		return perm
	}
	type idAt struct {
		id string
		at int32
	}
	ids := make([]idAt, len(ws))
	for i := range ws {
		ids[i] = idAt{ws[i].Exposure.ID, int32(i)}
	}
	slices.SortFunc(ids, func(a, b idAt) int { return strings.Compare(a.id, b.id) })
	for i, x := range ids {
		perm[i] = x.at
	}
	return perm
}

// weaknessesOf makes a weakness of each exposure of seq.
func weaknessesOf(seq iter.Seq2[model.Exposure, error], es *estate.Estate, in score.Intel, facts *store.EvidenceIndex) ([]graph.Weakness, error) {
	var out []graph.Weakness
	c := classifier{}
	for x, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, weakness(x, es, in, facts, c))
	}
	return out, nil
}

// weakness makes exposure x a weakness: its asset's canonical key, its
// effect (from its CWEs, CVSS vectors, rule and title), attack
// complexity, KEV, EPSS and evidence kinds. It is safe to call from
// several goroutines at once, each with its own classifier.
func weakness(x model.Exposure, es *estate.Estate, in score.Intel, facts *store.EvidenceIndex, c classifier) graph.Weakness {
	x.Asset = es.Canonical(x.Asset)
	vectors := make([]string, 0, len(x.CVSS))
	for _, c := range x.CVSS {
		vectors = append(vectors, c.Vector)
	}
	w := graph.Weakness{Exposure: x}
	w.Effect = c.classify(effect.Input{CWEs: x.CWEs, CVSS: vectors, Kind: x.Kind, Rule: x.RuleID, Title: x.Title})
	if best, _ := cvss.Choose(x.CVSS); best.Vector != "" {
		if v, err := cvss.Parse(best.Vector); err == nil {
			w.AttackComplexity = string(v.AttackComplexity)
		}
	}
	for _, id := range x.VulnIDs {
		if in.KEV != nil && !w.KEV {
			_, w.KEV = in.KEV.Lookup(id)
		}
		if in.EPSS != nil && w.EPSS == 0 {
			if s, ok := in.EPSS.Lookup(id); ok {
				w.EPSS = s.EPSS
			}
		}
	}
	for _, e := range facts.Match(x) {
		if scopedEvidence(e, x) {
			if w.EvidenceOn == nil {
				w.EvidenceOn = map[string][]model.EvidenceKind{}
			}
			w.EvidenceOn[e.Asset] = append(w.EvidenceOn[e.Asset], e.Kind)
			continue
		}
		w.Evidence = append(w.Evidence, e.Kind)
	}
	// The weakness has what it needs of these; a million exposures hold
	// them no longer.
	w.Exposure.CVSS, w.Exposure.Title, w.Exposure.CWEs, w.Exposure.FindingIDs, w.Exposure.Tools = nil, "", nil, nil, nil
	return w
}

// classifier is effect.Classify with a memory of the results that a
// finding kind, rule and CWEs decide alone (the first three of Classify's
// steps, before the title and the CVSS vectors): a million exposures
// share a few thousand of them, and classifying each again (normalising
// its CWEs, formatting the reason) was a tenth of an analysis.
type classifier map[string]effect.Result

// maxClassified bounds a classifier's memory.
const maxClassified = 1 << 16

func (c classifier) classify(in effect.Input) effect.Result {
	if len(in.Tags) > 0 || in.Kind == model.FindingMisconfig {
		// Tags add CWEs; a misconfiguration's step 4 decides with
		// no title.
		return effect.Classify(in)
	}
	key := string(in.Kind) + "\x00" + in.Rule + "\x00" + strings.Join(in.CWEs, "\x00")
	if r, ok := c[key]; ok {
		return r
	}
	// With no title, tag or vector, steps 4 and 5 find nothing: a result
	// other than unknown is that of the first three steps, which the
	// title and vectors cannot change.
	r := effect.Classify(effect.Input{Kind: in.Kind, Rule: in.Rule, CWEs: in.CWEs})
	if r.Effect == effect.Unknown {
		return effect.Classify(in)
	}
	if len(c) >= maxClassified {
		clear(c)
	}
	c[key] = r
	return r
}

// Prepare builds the input of a run without running it.
func Prepare(ctx context.Context, st store.Store, es *estate.Estate, in score.Intel) (*Run, error) {
	gi, xs, err := Build(ctx, st, es, in)
	if err != nil {
		return nil, err
	}
	return &Run{Estate: es, Input: gi, Exposures: xs}, nil
}

// maxScopedKeys bounds the asset keys PrepareAffected passes to the store:
// beyond it, reading every exposure is cheaper than so long a filter.
const maxScopedKeys = 2000

// PrepareAffected builds the input of a run of the connected components
// holding the changed assets only (see Affected), reading from the store
// only the exposures on those components' assets and their aliases, so
// that re-analysing after an ingest costs what the ingest touched, not
// the whole database.
func PrepareAffected(ctx context.Context, st store.Store, es *estate.Estate, in score.Intel, changed []string) (r *Run, kept, total int, err error) {
	// The assets in key order, made once for the components and the
	// input (a copy of each asset, a tenth of a re-analysis twice over).
	sorted := es.Sorted()
	comp := componentsOf(es, sorted)
	want := map[int32]bool{}
	for _, k := range changed {
		if c, ok := comp.of(es.Canonical(k)); ok {
			want[c] = true
		}
	}
	var keys []string
	for i, k := range comp.keys {
		if !want[comp.comp[i]] {
			continue
		}
		keys = append(keys, k)
		if a, ok := es.Assets[k]; ok {
			keys = append(keys, a.Aliases...)
		}
	}
	if len(keys) == 0 {
		keys = []string{""} // no component: no exposure to read
	}
	if len(keys) > maxScopedKeys {
		keys = nil
	}
	gi, xs, err := build(ctx, st, es, sorted, in, keys)
	if err != nil {
		return nil, 0, 0, err
	}
	r = &Run{Estate: es, Input: gi, Exposures: xs}
	kept, total = r.affected(comp, changed)
	return r, kept, total, nil
}

// Analyze builds the input and runs the analysis.
func Analyze(ctx context.Context, st store.Store, es *estate.Estate, in score.Intel, opt graph.Options) (*Run, error) {
	r, err := Prepare(ctx, st, es, in)
	if err != nil {
		return nil, err
	}
	return r, r.Run(opt)
}

// Record stores the run's paths and returns the paths opened and closed
// since the last recorded run. A run of some components only (see
// Affected) closes only paths to the crown jewels it covered.
func Record(ctx context.Context, st store.Store, r *Run, at time.Time) ([]store.PathEvent, error) {
	var ps []store.StoredPath
	for _, p := range r.Result.Paths {
		steps, err := json.Marshal(p.Steps)
		if err != nil {
			return nil, err
		}
		ps = append(ps, store.StoredPath{ID: p.ID, Entry: p.Entry, Target: p.Target, Jewel: p.Jewel,
			Likelihood: p.Likelihood, Risk: p.Risk, Validated: p.Validated, Steps: string(steps), Summary: Summary(p)})
	}
	var jewels map[string]bool
	if r.Partial {
		jewels = map[string]bool{}
		for _, j := range r.Input.Jewels {
			jewels[j.Asset] = true
		}
	}
	return st.RecordPaths(ctx, at, ps, jewels)
}

// Affected narrows a run to the connected components of the estate that
// hold one of the changed assets, so that re-analysis after an ingest
// touches only what the ingest touched. Components are those of the
// relations between assets, not counting the internet, which links every
// internet-facing component. It returns the number of components kept
// and in all.
func (r *Run) Affected(changed []string) (kept, total int) {
	return r.affected(componentsOf(r.Estate, r.Estate.Sorted()), changed)
}

// affected is Affected with the estate's components.
func (r *Run) affected(comp *compIndex, changed []string) (kept, total int) {
	want := map[int32]bool{}
	for _, k := range changed {
		if c, ok := comp.of(r.Estate.Canonical(k)); ok {
			want[c] = true
		}
	}
	// The keys of the wanted components, in a set of their own: the
	// input's every asset and relation is looked up in it, a few hundred
	// thousand look-ups that in a map of every key each missed the cache.
	inWanted := map[string]bool{}
	for i, k := range comp.keys {
		if want[comp.comp[i]] {
			inWanted[k] = true
		}
	}
	in := func(k string) bool { return inWanted[k] }
	gi := &graph.Input{Entries: r.Input.Entries}
	for _, a := range r.Input.Assets {
		if in(a.Key) || a.Key == estate.InternetKey {
			gi.Assets = append(gi.Assets, a)
		}
	}
	for _, rel := range r.Input.Relations {
		if in(rel.From) || in(rel.To) {
			gi.Relations = append(gi.Relations, rel)
		}
	}
	for _, w := range r.Input.Weaknesses {
		if in(w.Exposure.Asset) {
			gi.Weaknesses = append(gi.Weaknesses, w)
		}
	}
	for _, j := range r.Input.Jewels {
		if in(j.Asset) {
			gi.Jewels = append(gi.Jewels, j)
		}
	}
	r.Input, r.Partial = gi, true
	return len(want), comp.n
}

// components numbers the weakly connected components of the estate's
// relations, the internet left out (union-find, near-linear).
func components(es *estate.Estate) map[string]int {
	cs := componentsOf(es, es.Sorted())
	out := make(map[string]int, len(cs.keys))
	for i, k := range cs.keys {
		out[k] = int(cs.comp[i])
	}
	return out
}

// compIndex is the component of each key: keys[i] is in component
// comp[i], of n; num gives a key's i.
type compIndex struct {
	num  map[string]int32
	keys []string
	comp []int32
	n    int
}

// of returns the component of key k.
func (c *compIndex) of(k string) (int32, bool) {
	i, ok := c.num[k]
	if !ok {
		return 0, false
	}
	return c.comp[i], true
}

// componentsOf is components with the estate's assets in key order, as a
// compIndex: walked as two slices and looked up through the numbering the
// union-find makes anyway, not copied into a second map of every key.
func componentsOf(es *estate.Estate, sorted []model.Asset) *compIndex {
	// Union-find over numbers, each key numbered once: over the keys
	// themselves, every step of a find was a map lookup (a quarter of a
	// re-analysis at 100k assets).
	cs := &compIndex{num: make(map[string]int32, len(es.Keys)), keys: make([]string, 0, len(es.Keys))}
	var parent []int32
	id := func(k string) int32 {
		if i, ok := cs.num[k]; ok {
			return i
		}
		i := int32(len(parent))
		cs.num[k] = i
		cs.keys = append(cs.keys, k)
		parent = append(parent, i)
		return i
	}
	find := func(i int32) int32 {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for _, k := range es.Keys {
		id(k)
	}
	// The relations of the estate, and those joining an account's IAM
	// patterns with other inputs' resources (awsPatterns).
	for _, rel := range append(es.Relations[:len(es.Relations):len(es.Relations)], awsPatterns(sorted)...) {
		if rel.From == estate.InternetKey || rel.To == estate.InternetKey {
			continue
		}
		a, b := find(id(rel.From)), find(id(rel.To))
		if a != b {
			parent[a] = b
		}
	}
	// Dense component numbers, by root.
	dense := make([]int32, len(parent))
	for i := range dense {
		dense[i] = -1
	}
	cs.comp = make([]int32, len(parent))
	for i := range parent {
		root := find(int32(i))
		if dense[root] < 0 {
			dense[root] = int32(cs.n)
			cs.n++
		}
		cs.comp[i] = dense[root]
	}
	return cs
}

// Run runs the analysis of r.Input.
func (r *Run) Run(opt graph.Options) error {
	opt.NoReuse = true // a Run is never reanalysed in memory
	res, err := graph.Analyze(r.Input, opt)
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	r.Result = res
	return nil
}

// Summary writes a path on one line: its states joined by the rules that
// link them.
func Summary(p graph.Path) string {
	var b strings.Builder
	b.WriteString(p.Entry)
	for _, s := range p.Steps {
		b.WriteString(" -[" + s.Rule + "]-> " + s.To)
	}
	return b.String()
}

// trustRelations adds, for every P —can(sts:AssumeRole…)→ R that an
// inventory writes (a person stating that P may assume role R), the
// R —trusts→ P relation the graph's role-assumption rules read.
// Terraform writes trusts itself from trust policies, and its
// can(sts:AssumeRole) relations are identity-policy permissions, which
// without a trust give nothing: they are left as they are.
func trustRelations(rels []model.Relation) []model.Relation {
	out := rels
	for _, r := range rels {
		if r.Type == model.RelCan && strings.HasPrefix(strings.ToLower(r.Action), "sts:assumerole") && !strings.HasPrefix(r.Source, "terraform:") && !strings.HasPrefix(r.Source, "aws-iam:") {
			if out == nil || &out[0] == &rels[0] {
				out = append([]model.Relation(nil), rels...)
			}
			out = append(out, model.Relation{From: r.To, To: r.From, Type: graph.RelTrusts, Action: r.Action, Source: r.Source})
		}
	}
	return out
}

// leakedGrants ties a grants relation S —grants→ I to the secret findings
// on S, when there are any: the finding is then what gives I away, so the
// step is the finding's (Weakness.Grants) and rotating the secret cuts it.
// A grants relation from an asset with no secret finding (a Kubernetes
// Secret that holds a database password by design) stays a relation fact.
func leakedGrants(gi *graph.Input) {
	secrets := map[string][]int{}
	for i, w := range gi.Weaknesses {
		if w.Exposure.Kind == model.FindingSecret || w.Effect.Effect == effect.Credential {
			secrets[w.Exposure.Asset] = append(secrets[w.Exposure.Asset], i)
		}
	}
	if len(secrets) == 0 {
		return
	}
	rels := make([]model.Relation, 0, len(gi.Relations))
	for _, r := range gi.Relations {
		if idx, ok := secrets[r.From]; ok && r.Type == graph.RelGrants {
			for _, i := range idx {
				gi.Weaknesses[i].Grants = append(gi.Weaknesses[i].Grants, r.To)
			}
			continue
		}
		rels = append(rels, r)
	}
	gi.Relations = rels
}

// RunContext runs the analysis of r.Input, stopping with ctx's error when
// ctx is done (checked between components).
func (r *Run) RunContext(ctx context.Context, opt graph.Options) error {
	opt.NoReuse = true // a Run is never reanalysed in memory
	res, err := graph.AnalyzeContext(ctx, r.Input, opt)
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	r.Result = res
	return nil
}

// scopedEvidence reports whether fact e about exposure x holds on one
// asset only: runtime or DAST evidence recorded for x's findings but
// naming another asset (the workload that runs x's image and that the
// alert or the hit was seen on). It counts on that asset's steps only
// (graph.Weakness.EvidenceOn), not on every workload of the image.
func scopedEvidence(e model.Evidence, x model.Exposure) bool {
	switch e.Kind {
	case model.EvidenceRuntimeExec, model.EvidenceDASTConfirmed:
		return e.FindingID != "" && e.Asset != "" && !slices.Contains(store.EvidenceKeys(x), e.Asset)
	}
	return false
}
