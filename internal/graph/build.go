package graph

import (
	"math"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

// Graph is the compact exposure graph of an estate or of one connected
// component. State s = local asset id × 6 + capability. Edges are in
// compressed sparse row form: the edges leaving s are off[s]..off[s+1]-1,
// each with its target, probability and rule. An edge merges every way to
// take the same step by the same rule (the CVEs of one image that each
// give exec, say); a way is an AND of facts (weaknesses, relations,
// labels) with its own probability, and the edge's probability is the
// best of its ways: the attacker picks the easiest.
//
// Memory is about 4 bytes per state and 4+4+1+4 bytes per edge, 4+4 per
// way and 4 per fact, plus a reverse index of 4 bytes per state and per
// edge.
type Graph struct {
	x      *index
	assets []int32 // local → global asset id
	loc    []int32 // global → local, nil when local = global

	off  []int32
	to   []int32
	p    []float32
	rule []uint8

	wayOff  []int32 // per edge, into wayP and factOff
	wayP    []float32
	factOff []int32 // per way, into facts
	facts   []int32

	labels  []labelFact
	entries []entryRec
	isEntry map[int32]int32 // state → index in entries

	roff []int32 // reverse CSR: edges entering s are rin[roff[s]:roff[s+1]]
	rin  []int32
}

// labelFact is a fact that an asset's label states: escape.privileged,
// imds.v1, public. Its action changes the setting.
type labelFact struct {
	asset int32 // global
	label string
}

// entryRec is one entry state and the facts that make it one (each fact
// alone suffices); free entries (internal network, stolen identities)
// have no fact an action can remove.
type entryRec struct {
	state int32
	facts []int32
	free  bool
}

// Build builds the exposure graph of the whole Input as one Graph, in
// O(A + R + W + E log d) time for A assets, R relations, W weaknesses and
// E edges of out-degree at most d. Analyze builds one Graph per connected
// component instead; Build is for inspection and for measuring memory.
func Build(in *Input) *Graph {
	in = refinePorts(in)
	x := newIndex(in, Options{}.norm())
	all := make([]int32, 0, len(x.assets))
	for i := range x.assets {
		if int32(i) != x.internet {
			all = append(all, int32(i))
		}
	}
	loc := make([]int32, len(x.assets))
	for i, a := range all {
		loc[a] = int32(i)
	}
	rels := make([]int32, len(in.Relations))
	for i := range rels {
		rels[i] = int32(i)
	}
	weaks := make([]int32, len(in.Weaknesses))
	for i := range weaks {
		weaks[i] = int32(i)
	}
	return build(x, all, loc, rels, weaks)
}

// NumStates returns the number of states, 6 per asset.
func (g *Graph) NumStates() int { return len(g.off) - 1 }

// NumEdges returns the number of edges (merged steps).
func (g *Graph) NumEdges() int { return len(g.to) }

// NumWays returns the number of ways, the distinct fact sets behind edges.
func (g *Graph) NumWays() int { return len(g.wayP) }

// State returns the state of id s.
func (g *Graph) State(s int32) State {
	return State{Capability(s % numCaps), g.x.assets[g.assets[s/numCaps]].key}
}

// Out calls fn for each edge leaving s with its target, rule name and
// probability.
func (g *Graph) Out(s int32, fn func(to int32, rule string, p float64)) {
	for e := g.off[s]; e < g.off[s+1]; e++ {
		fn(g.to[e], Rules[g.rule[e]].Name, float64(g.p[e]))
	}
}

// StateID returns the id of a state, or -1 when its asset is not in g.
func (g *Graph) StateID(s State) int32 {
	a, ok := g.x.ids[s.Asset]
	if !ok || a == g.x.internet {
		return -1
	}
	l := g.localOf(a)
	if l < 0 {
		return -1
	}
	return l*numCaps + int32(s.Cap)
}

func (g *Graph) localOf(a int32) int32 {
	if g.loc == nil {
		return a
	}
	l := g.loc[a]
	if int(l) >= len(g.assets) || g.assets[l] != a {
		return -1
	}
	return l
}

func (g *Graph) nW() int32 { return int32(len(g.x.in.Weaknesses)) }
func (g *Graph) nR() int32 { return int32(len(g.x.in.Relations)) }

// tmpWay is one way to take a step, before merging.
type tmpWay struct {
	fromCap uint8
	rule    uint8
	to      int32
	p       float32
	f1, f2  int32 // facts, -1 for none
}

// builder holds the per-set adjacency used while generating steps.
type builder struct {
	g                      *Graph
	outOff, outRel         []int32
	inOff, inRel           []int32
	wOff, wList            []int32
	scopeSecrets, scopeSAs map[int32][]int32
	k8s                    *k8sScopes
	targets                []int32 // connectTargets' result
	tmp                    []tmpWay
	eff                    []int32
	labelStart             int
	awsActs                awsActions
	sshOpen                map[int32]bool // assets the internet reaches on tcp/22
}

func csr(n int, items []int32, key func(int32) int32) (off, list []int32) {
	off = make([]int32, n+1)
	for _, it := range items {
		off[key(it)+1]++
	}
	for i := range n {
		off[i+1] += off[i]
	}
	list = make([]int32, len(items))
	pos := slices.Clone(off[:n])
	for _, it := range items {
		k := key(it)
		list[pos[k]] = it
		pos[k]++
	}
	return off, list
}

// build generates every way of every rule for the assets of one set and
// merges them into the CSR graph. Each asset's ways are generated while
// visiting it (every rule's source state lies on the asset visited), then
// sorted and merged, so the edges come out in state order.
func build(x *index, assets, loc, rels, weaks []int32) *Graph {
	g := &Graph{x: x, assets: assets, loc: loc, isEntry: map[int32]int32{}}
	n := len(assets)
	b := &builder{g: g}
	var inner, fromNet []int32
	for _, r := range rels {
		if x.relFrom[r] == x.internet {
			fromNet = append(fromNet, r)
			if rel := &x.in.Relations[r]; rel.Type == model.RelExposes && portAdmits(rel.Action, "tcp", 22) {
				if b.sshOpen == nil {
					b.sshOpen = map[int32]bool{}
				}
				b.sshOpen[g.localOf(x.relTo[r])] = true
			}
		} else if x.relTo[r] != x.internet {
			inner = append(inner, r)
		}
	}
	b.outOff, b.outRel = csr(n, inner, func(r int32) int32 { return g.localOf(x.relFrom[r]) })
	b.inOff, b.inRel = csr(n, inner, func(r int32) int32 { return g.localOf(x.relTo[r]) })
	b.wOff, b.wList = csr(n, weaks, func(w int32) int32 { return g.localOf(x.weakAt[w]) })
	b.scopes()

	g.off = make([]int32, n*numCaps+1)
	est := len(inner)*2 + len(weaks)
	g.to = make([]int32, 0, est)
	g.p = make([]float32, 0, est)
	g.rule = make([]uint8, 0, est)
	g.wayOff = make([]int32, 0, est+1)
	g.wayP = make([]float32, 0, est)
	g.factOff = make([]int32, 0, est+1)
	g.facts = make([]int32, 0, est)
	for a := range n {
		b.tmp = b.tmp[:0]
		b.labelStart = len(g.labels)
		b.visit(int32(a))
		b.merge(int32(a))
	}
	g.off[n*numCaps] = int32(len(g.to))
	g.wayOff = append(g.wayOff, int32(len(g.wayP)))
	g.factOff = append(g.factOff, int32(len(g.facts)))
	g.entriesFrom(fromNet, weaks)
	g.roff, g.rin = csr(n*numCaps, g.edgeIDs(), func(e int32) int32 { return g.to[e] })
	return g
}

func (g *Graph) edgeIDs() []int32 {
	ids := make([]int32, len(g.to))
	for i := range ids {
		ids[i] = int32(i)
	}
	return ids
}

func (b *builder) way(a int32, from Capability, rule uint8, toAsset int32, to Capability, p float64, f1, f2 int32) {
	if p <= 0 || toAsset < 0 {
		return
	}
	if toAsset == a && from == to {
		return
	}
	b.tmp = append(b.tmp, tmpWay{fromCap: uint8(from), rule: rule, to: toAsset*numCaps + int32(to), p: float32(p), f1: f1, f2: f2})
}

func (b *builder) relFact(r int32) int32 { return b.g.nW() + r }

func (b *builder) labelFact(a int32, label string) int32 {
	g := b.g
	ga := g.assets[a]
	for i := b.labelStart; i < len(g.labels); i++ {
		if g.labels[i].asset == ga && g.labels[i].label == label {
			return g.nW() + g.nR() + int32(i)
		}
	}
	g.labels = append(g.labels, labelFact{ga, label})
	return g.nW() + g.nR() + int32(len(g.labels)-1)
}

func (b *builder) out(a int32) []int32 { return b.outRel[b.outOff[a]:b.outOff[a+1]] }
func (b *builder) in(a int32) []int32  { return b.inRel[b.inOff[a]:b.inOff[a+1]] }
func (b *builder) weak(a int32) []int32 {
	return b.wList[b.wOff[a]:b.wOff[a+1]]
}

// effective returns the weaknesses that act on asset a: its own, those of
// the images it runs and those of the repositories those images are
// built from (a SQL injection in the code is in the service), and, for a
// function, those of the repository it is built from directly (a
// zip-deployed Lambda, linked to its repository by an inventory).
func (b *builder) effective(a int32) []int32 {
	x := b.g.x
	b.eff = append(b.eff[:0], b.weak(a)...)
	fn := x.assets[b.g.assets[a]].kind == model.KindFunction
	for _, r := range b.out(a) {
		if fn && x.in.Relations[r].Type == model.RelBuiltFrom {
			b.eff = append(b.eff, b.weak(b.g.localOf(x.relTo[r]))...)
			continue
		}
		if x.in.Relations[r].Type != model.RelRuns {
			continue
		}
		img := b.g.localOf(x.relTo[r])
		b.eff = append(b.eff, b.weak(img)...)
		for _, r2 := range b.out(img) {
			if x.in.Relations[r2].Type == model.RelBuiltFrom {
				b.eff = append(b.eff, b.weak(b.g.localOf(x.relTo[r2]))...)
			}
		}
	}
	return b.eff
}

func labelTrue(labels map[string]string, k string) bool {
	return strings.EqualFold(labels[k], "true")
}

// visit generates the ways of every rule whose source state is on a.
func (b *builder) visit(a int32) {
	g, x := b.g, b.g.x
	ga := g.assets[a]
	rec := &x.assets[ga]
	rels := x.in.Relations
	to := func(r int32) int32 { return g.localOf(x.relTo[r]) }
	artifact := rec.kind == model.KindImage || rec.kind == model.KindRepository || rec.kind == model.KindPackage

	// Weakness rules.
	for _, w := range b.effective(a) {
		wk := &x.in.Weaknesses[w]
		p := float64(x.weakP[w])
		if on := wk.EvidenceOn[rec.key]; len(on) > 0 {
			// Evidence seen on this asset only (one of the workloads
			// that run the image) raises this asset's ways only.
			scoped := *wk
			scoped.Evidence = append(slices.Clone(wk.Evidence), on...)
			p = weaknessProbability(&scoped)
		}
		e := wk.Effect.Effect
		own := x.weakAt[w] == ga
		if artifact && e != effect.Credential && !own {
			continue
		}
		switch e {
		case effect.Exec:
			if !artifact {
				b.way(a, Network, ruleRCE, a, Exec, p, w, -1)
				// A port's service runs on its host (see refinePorts).
				for _, r := range b.out(a) {
					if rels[r].Type == relPortOf {
						b.way(a, Network, ruleRCE, to(r), Exec, p, w, -1)
					}
				}
			}
		case effect.Write, effect.Read:
			for _, r := range b.out(a) {
				if rels[r].Type == model.RelConnectsTo {
					for _, t := range b.connectTargets(r) {
						b.way(a, Network, ruleInjection, t, Read, p, w, -1)
						if e == effect.Write {
							b.way(a, Network, ruleInjection, t, Write, p, w, -1)
						}
					}
				}
			}
			if rec.kind == model.KindDatastore {
				b.way(a, Network, ruleOpenDataStore, a, Read, p, w, -1)
				if e == effect.Write {
					b.way(a, Network, ruleOpenDataStore, a, Write, p, w, -1)
				}
			}
		case effect.SSRF:
			for _, r := range b.out(a) {
				switch rels[r].Type {
				case model.RelConnectsTo, model.RelRoutesTo:
					b.way(a, Network, ruleSSRF, to(r), Network, p, w, -1)
				case model.RelUsesIdentit:
					if labelTrue(rec.labels, LabelIMDSv1) {
						b.way(a, Network, ruleSSRF, to(r), Identity, p*pIMDS, w, b.labelFact(a, LabelIMDSv1))
					} else if rels[r].Action == ActionIMDSv1 {
						b.way(a, Network, ruleSSRF, to(r), Identity, p*pIMDS, w, b.relFact(r))
					}
				}
			}
		case effect.FileRead:
			for _, r := range b.out(a) {
				if rels[r].Type == model.RelMounts {
					b.way(a, Network, ruleFileRead, to(r), Read, p, w, -1)
				}
			}
		case effect.Escape:
			for _, r := range b.out(a) {
				if rels[r].Type == model.RelRunsOn {
					b.way(a, Exec, ruleEscape, to(r), Exec, p, w, -1)
				}
			}
		case effect.PrivEsc:
			b.way(a, Exec, ruleLocalPrivEsc, a, Admin, p, w, -1)
		case effect.AuthBypass:
			b.way(a, Network, ruleAuthBypass, a, Admin, p, w, -1)
			for _, r := range b.out(a) {
				if rels[r].Type == relPortOf {
					b.way(a, Network, ruleAuthBypass, to(r), Admin, p, w, -1)
				}
			}
		case effect.Credential:
			if !own {
				continue
			}
			for _, gk := range wk.Grants {
				if id, ok := x.ids[gk]; ok {
					if l := g.localOf(id); l >= 0 {
						if b.kindOf(l) == model.KindHost {
							// A host's login key: a shell on it.
							q := p
							if !b.sshOpen[l] {
								q *= pNoLoginPath
							}
							b.way(a, Read, ruleLeakedCredential, l, Exec, q, w, -1)
							b.way(a, Admin, ruleLeakedCredential, l, Exec, q, w, -1)
							continue
						}
						if b.kindOf(l) == model.KindDatastore {
							// A database password: its data, not an
							// identity of the database.
							for _, from := range []Capability{Read, Admin} {
								b.way(a, from, ruleLeakedCredential, l, Read, p, w, -1)
								b.way(a, from, ruleLeakedCredential, l, Write, p, w, -1)
							}
							continue
						}
						b.way(a, Read, ruleLeakedCredential, l, Identity, p, w, -1)
						b.way(a, Admin, ruleLeakedCredential, l, Identity, p, w, -1)
					}
				}
			}
		case effect.Exposure:
			b.way(a, Network, ruleOpenDataStore, a, Read, p, w, -1)
		}
	}
	if labelTrue(rec.labels, LabelPublic) {
		b.way(a, Network, ruleOpenDataStore, a, Read, pNearCertain, b.labelFact(a, LabelPublic), -1)
	}

	// Relation rules, out of a.
	for _, r := range b.out(a) {
		rel := &rels[r]
		t := to(r)
		switch rel.Type {
		case model.RelRoutesTo, model.RelExposes:
			b.way(a, Network, ruleRouting, t, Network, pCertain, -1, -1)
			if rel.Type == model.RelRoutesTo {
				b.way(a, Exec, ruleLateral, t, Network, pCertain, -1, -1)
			}
		case model.RelConnectsTo:
			b.way(a, Exec, ruleLateral, t, Network, pCertain, b.relFact(r), -1)
		case model.RelUsesIdentit:
			b.way(a, Exec, ruleWorkloadIdentity, t, Identity, pCertain, b.relFact(r), -1)
		case model.RelMounts, model.RelReadsEnv:
			b.way(a, Exec, ruleSecretsInReach, t, Read, pCertain, b.relFact(r), -1)
		case model.RelRunsOn:
			keys := make([]string, 0, 2)
			for k := range rec.labels {
				if strings.HasPrefix(k, escapePrefix) && labelTrue(rec.labels, k) && !notEscapes[k] {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				b.way(a, Exec, ruleEscape, t, Exec, pNearCertain, b.labelFact(a, k), -1)
			}
		case model.RelMemberOf:
			b.way(a, Identity, ruleMembership, t, Identity, pCertain, b.relFact(r), -1)
		case model.RelDeploys:
			b.way(a, Write, ruleSupplyChain, t, Exec, pSupplyChain, -1, -1)
			b.way(a, Admin, ruleSupplyChain, t, Exec, pSupplyChain, -1, -1)
		case RelGrants:
			b.grants(a, r, t)
		case model.RelCan:
			b.can(a, r, t)
		}
	}
	b.awsVisit(a)

	b.visitK8s(a)

	// Relation rules, into a.
	for _, r := range b.in(a) {
		rel := &rels[r]
		from := g.localOf(x.relFrom[r])
		switch rel.Type {
		case model.RelRuns:
			b.way(a, Write, ruleSupplyChain, from, Exec, pSupplyChain, -1, -1)
			b.way(a, Admin, ruleSupplyChain, from, Exec, pSupplyChain, -1, -1)
		case model.RelBuiltFrom:
			if k := x.assets[g.assets[from]].kind; k == model.KindFunction || k == model.KindWorkload {
				// Code built from a directly: a zip-deployed function,
				// a build project.
				b.way(a, Write, ruleSupplyChain, from, Exec, pSupplyChain, -1, -1)
				b.way(a, Admin, ruleSupplyChain, from, Exec, pSupplyChain, -1, -1)
			}
			for _, r2 := range b.in(from) {
				if rels[r2].Type == model.RelRuns {
					w := g.localOf(x.relFrom[r2])
					b.way(a, Write, ruleSupplyChain, w, Exec, pSupplyChain, -1, -1)
					b.way(a, Admin, ruleSupplyChain, w, Exec, pSupplyChain, -1, -1)
				}
			}
		}
	}
}

// can applies the permission and privilege-escalation rules to one
// relation a —can(action)→ t. The stronger principal of an escalation is
// found from the relations: the role a may pass (iam:PassRole target)
// together with a launch permission; the principal whose keys, login,
// trust or policies a may rewrite (the action's target). Kubernetes
// actions go on to canK8s (k8s.go).
func (b *builder) can(a, r, t int32) {
	g, x := b.g, b.g.x
	action := x.in.Relations[r].Action
	f := b.relFact(r)
	// AWS grants on the account name actions on no existing resource
	// (the escalations read them); only "*" administers the account.
	// Capabilities mean something on data and compute, not on principals:
	// what IAM actions on a principal give is a takeover rule's business.
	tk := x.assets[g.assets[t]].kind
	toAccount := (tk == model.KindAccount || tk == model.KindIdentity) && strings.Contains(action, ":") && action != "*"
	if c, ok := permissionCap(action); ok && !toAccount {
		p := pCertain
		if _, cond := splitCond(action); cond != "" {
			p = pConditional
		}
		b.way(a, Identity, rulePermission, t, c, p, f, -1)
		if res := k8sResource(action); res == "secrets" || res == "*" {
			for _, s := range b.scopeSecrets[t] {
				b.way(a, Identity, rulePermission, s, c, pCertain, f, -1)
			}
		}
	}
	la := strings.ToLower(strings.TrimSpace(action))
	if !strings.Contains(la, ":") {
		b.canK8s(a, r, t, la)
	}
}

// merge sorts the ways of asset a by (source capability, target, rule)
// and appends one edge per group. O(w log w) for w ways of the asset.
func (b *builder) merge(a int32) {
	g := b.g
	slices.SortFunc(b.tmp, func(p, q tmpWay) int {
		switch {
		case p.fromCap != q.fromCap:
			return int(p.fromCap) - int(q.fromCap)
		case p.to != q.to:
			return int(p.to - q.to)
		case p.rule != q.rule:
			return int(p.rule) - int(q.rule)
		case p.f1 != q.f1:
			return int(p.f1 - q.f1)
		}
		return int(p.f2 - q.f2)
	})
	i := 0
	for c := range numCaps {
		g.off[int(a)*numCaps+c] = int32(len(g.to))
		for i < len(b.tmp) && int(b.tmp[i].fromCap) == c {
			j := i
			best := float32(0)
			g.wayOff = append(g.wayOff, int32(len(g.wayP)))
			for ; j < len(b.tmp) && b.tmp[j].fromCap == b.tmp[i].fromCap && b.tmp[j].to == b.tmp[i].to && b.tmp[j].rule == b.tmp[i].rule; j++ {
				w := b.tmp[j]
				if j > i && w.f1 == b.tmp[j-1].f1 && w.f2 == b.tmp[j-1].f2 {
					continue // the same way twice (an image run by two containers)
				}
				best = max(best, w.p)
				g.wayP = append(g.wayP, w.p)
				g.factOff = append(g.factOff, int32(len(g.facts)))
				if w.f1 >= 0 {
					g.facts = append(g.facts, w.f1)
				}
				if w.f2 >= 0 {
					g.facts = append(g.facts, w.f2)
				}
			}
			g.to = append(g.to, b.tmp[i].to)
			g.p = append(g.p, best)
			g.rule = append(g.rule, b.tmp[i].rule)
			i = j
		}
	}
}

// internalKinds are the assets the internal network reaches.
var internalKinds = map[model.AssetKind]bool{
	model.KindWorkload: true, model.KindHost: true, model.KindFunction: true, model.KindNode: true,
	model.KindEndpoint: true, model.KindLoadBalancer: true, model.KindDatastore: true,
}

// entriesFrom resolves the entries of the set: see Entry.
func (g *Graph) entriesFrom(fromNet, weaks []int32) {
	x := g.x
	add := func(s int32, fact int32, free bool) {
		i, ok := g.isEntry[s]
		if !ok {
			i = int32(len(g.entries))
			g.isEntry[s] = i
			g.entries = append(g.entries, entryRec{state: s})
		}
		e := &g.entries[i]
		e.free = e.free || free
		if fact >= 0 && !slices.Contains(e.facts, fact) {
			e.facts = append(e.facts, fact)
		}
	}
	for _, en := range x.entries {
		switch en.Kind {
		case EntryInternet:
			for _, r := range fromNet {
				switch x.in.Relations[r].Type {
				case model.RelExposes, model.RelConnectsTo:
					if l := g.localOf(x.relTo[r]); l >= 0 {
						add(l*numCaps+int32(Network), g.nW()+r, false)
					}
				}
			}
			for l, a := range g.assets {
				if labelTrue(x.assets[a].labels, LabelPublic) {
					g.labels = append(g.labels, labelFact{a, LabelPublic})
					add(int32(l)*numCaps+int32(Network), g.nW()+g.nR()+int32(len(g.labels)-1), false)
				}
				// A role anyone may assume: any AWS account on the
				// internet holds it.
				if labelTrue(x.assets[a].labels, LabelTrustAnyone) {
					g.labels = append(g.labels, labelFact{a, LabelTrustAnyone})
					add(int32(l)*numCaps+int32(Identity), g.nW()+g.nR()+int32(len(g.labels)-1), false)
				}
			}
			for _, w := range weaks {
				if x.in.Weaknesses[w].Effect.Effect == effect.Exposure {
					add(g.localOf(x.weakAt[w])*numCaps+int32(Network), w, false)
				}
			}
		case EntryInternalNetwork:
			for l, a := range g.assets {
				if internalKinds[x.assets[a].kind] && !labelTrue(x.assets[a].labels, model.LabelIngressIsolated) {
					add(int32(l)*numCaps+int32(Network), -1, true)
				}
			}
		case EntryCompromised:
			g.compromisedEntries(en, add)
		case EntryIdentity:
			if id, ok := x.ids[en.Identity]; ok {
				if l := g.localOf(id); l >= 0 {
					add(l*numCaps+int32(Identity), -1, true)
				}
			}
		}
	}
	slices.SortFunc(g.entries, func(a, b entryRec) int { return int(a.state - b.state) })
	for i, e := range g.entries {
		g.isEntry[e.state] = int32(i)
	}
}

// weight is the edge's length for shortest paths: -log p.
func (g *Graph) weight(e int32) float64 { return -math.Log(float64(g.p[e])) }
