package graph

import (
	"math"
	"slices"
)

// ChokePoint is one remediation action of the minimum cut: taking it
// removes the listed steps, and the actions of the cut together separate
// every entry state from every crown-jewel state.
type ChokePoint struct {
	Action Action `json:"action"`
	// Steps are the cut edges it removes, "from -> to"; an entry's edge
	// reads "entry -> network:KEY".
	Steps []string `json:"steps"`
}

// cutSet gathers the states that lie on some entry-to-jewel path of at
// most MaxSteps steps, over every jewel of a component.
type cutSet struct {
	g      *Graph
	mark   []bool
	target []bool
	states []int32
}

func newCutSet(g *Graph) *cutSet {
	return &cutSet{g: g, mark: make([]bool, g.NumStates()), target: make([]bool, g.NumStates())}
}

// add records the states of the jewel s has just set targets for.
func (c *cutSet) add(s *search) {
	for _, v := range s.queue {
		if !c.mark[v] {
			c.mark[v] = true
			c.states = append(c.states, v)
		}
		if s.target[v] == s.tStamp {
			c.target[v] = true
		}
	}
}

const inf = int64(math.MaxInt64 / 4)

// dinic is a flow network in edge-list form: arc i goes to to[i] with
// residual capacity capa[i]; arc i^1 is its reverse.
type dinic struct {
	head, next, to []int32
	capa           []int64
	level, it      []int32
}

func newDinic(n int) *dinic {
	d := &dinic{head: make([]int32, n), level: make([]int32, n), it: make([]int32, n)}
	for i := range d.head {
		d.head[i] = -1
	}
	return d
}

func (d *dinic) arc(u, v int32, c int64) int32 {
	d.to = append(d.to, v, u)
	d.capa = append(d.capa, c, 0)
	d.next = append(d.next, d.head[u], d.head[v])
	i := int32(len(d.to) - 2)
	d.head[u], d.head[v] = i, i+1
	return i
}

func (d *dinic) bfs(s, t int32) bool {
	for i := range d.level {
		d.level[i] = -1
	}
	d.level[s] = 0
	q := []int32{s}
	for h := 0; h < len(q); h++ {
		u := q[h]
		for a := d.head[u]; a >= 0; a = d.next[a] {
			if v := d.to[a]; d.capa[a] > 0 && d.level[v] < 0 {
				d.level[v] = d.level[u] + 1
				q = append(q, v)
			}
		}
	}
	return d.level[t] >= 0
}

func (d *dinic) dfs(u, t int32, f int64) int64 {
	if u == t {
		return f
	}
	for ; d.it[u] >= 0; d.it[u] = d.next[d.it[u]] {
		a := d.it[u]
		v := d.to[a]
		if d.capa[a] <= 0 || d.level[v] != d.level[u]+1 {
			continue
		}
		if got := d.dfs(v, t, min(f, d.capa[a])); got > 0 {
			d.capa[a] -= got
			d.capa[a^1] += got
			return got
		}
	}
	return 0
}

// maxflow runs Dinic's algorithm: blocking flows on BFS level graphs,
// O(V²E) in general and far less on these shallow graphs. It stops once
// the flow reaches inf (no finite cut).
func (d *dinic) maxflow(s, t int32) int64 {
	var flow int64
	for flow < inf && d.bfs(s, t) {
		copy(d.it, d.head)
		for {
			f := d.dfs(s, t, inf)
			if f == 0 {
				break
			}
			flow += f
			if flow >= inf {
				return flow
			}
		}
	}
	return flow
}

// solve computes a minimum cut between the entry states and the jewel
// states over the gathered states, each edge weighing the effort of the
// cheapest way to remove it: the sum, over its ways, of the least effort
// of one of the way's facts (every way must be broken). Edges that no
// action removes weigh +∞. One action that removes several cut edges is
// counted once per edge by the flow, so the cut is minimal for that
// weighting, an upper bound of the true least-effort set of actions
// (which is a hypergraph cut, NP-hard in general). It returns nil when
// no finite cut exists.
func (c *cutSet) solve() []ChokePoint {
	g := c.g
	if len(c.states) == 0 {
		return nil
	}
	slices.Sort(c.states)
	id := make(map[int32]int32, len(c.states))
	for i, v := range c.states {
		id[v] = int32(i)
	}
	m := int32(len(c.states))
	src, snk := m, m+1
	d := newDinic(int(m) + 2)
	efforts := map[int32]Action{}
	action := func(f int32) Action {
		a, ok := efforts[f]
		if !ok {
			a = g.factAction(f)
			efforts[f] = a
		}
		return a
	}
	units := func(e float64) int64 {
		if e >= structural {
			return inf
		}
		return int64(math.Round(e * effortUnits))
	}
	type arcRef struct {
		arc  int32
		edge int32 // -1 for an entry arc
		st   int32
	}
	var refs []arcRef
	for _, u := range c.states {
		if ei, ok := g.isEntry[u]; ok {
			en := g.entries[ei]
			cp := int64(0)
			if en.free {
				cp = inf
			}
			for _, f := range en.facts {
				cp = min(inf, cp+units(action(f).Effort))
			}
			refs = append(refs, arcRef{d.arc(src, id[u], cp), -1, u})
		}
		if c.target[u] {
			d.arc(id[u], snk, inf)
			continue
		}
		for e := g.off[u]; e < g.off[u+1]; e++ {
			v := g.to[e]
			if !c.mark[v] {
				continue
			}
			cp := int64(0)
			for w := g.wayOff[e]; w < g.wayOff[e+1]; w++ {
				best := inf
				for _, f := range g.facts[g.factOff[w]:g.factOff[w+1]] {
					best = min(best, units(action(f).Effort))
				}
				cp = min(inf, cp+best)
			}
			refs = append(refs, arcRef{d.arc(id[u], id[v], cp), e, u})
		}
	}
	if d.maxflow(src, snk) >= inf {
		return nil
	}
	d.bfs(src, snk) // level >= 0 marks the source side of the residual graph
	byKey := map[string]*ChokePoint{}
	var order []string
	note := func(f int32, step string) {
		a := action(f)
		cp, ok := byKey[a.Key]
		if !ok {
			cp = &ChokePoint{Action: a}
			byKey[a.Key] = cp
			order = append(order, a.Key)
		}
		if !slices.Contains(cp.Steps, step) {
			cp.Steps = append(cp.Steps, step)
		}
	}
	for _, r := range refs {
		u, v := d.to[r.arc^1], d.to[r.arc]
		if d.level[u] < 0 || d.level[v] >= 0 {
			continue
		}
		if r.edge < 0 {
			for _, f := range g.entries[g.isEntry[r.st]].facts {
				note(f, "entry -> "+g.State(r.st).String())
			}
			continue
		}
		e := r.edge
		step := g.State(r.st).String() + " -> " + g.State(g.to[e]).String()
		for w := g.wayOff[e]; w < g.wayOff[e+1]; w++ {
			bestF, best := int32(-1), inf+1
			for _, f := range g.facts[g.factOff[w]:g.factOff[w+1]] {
				if u := units(action(f).Effort); u < best || bestF >= 0 && u == best && action(f).Key < action(bestF).Key {
					bestF, best = f, u
				}
			}
			if bestF >= 0 {
				note(bestF, step)
			}
		}
	}
	slices.Sort(order)
	out := make([]ChokePoint, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out
}
