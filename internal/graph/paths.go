package graph

import (
	"container/heap"
	"slices"
)

// rawPath is a path in one Graph: its entry state and its edges.
type rawPath struct {
	entry int32
	edges []int32
	cost  float64
}

// nodes returns the states of p, entry first.
func (p *rawPath) nodes(g *Graph) []int32 {
	out := make([]int32, 0, len(p.edges)+1)
	out = append(out, p.entry)
	for _, e := range p.edges {
		out = append(out, g.to[e])
	}
	return out
}

// search holds the scratch arrays of path searches on one Graph. Arrays
// are stamped rather than cleared, so one Dijkstra costs O((V' + E') log
// V') for the V' states and E' edges it visits, not O(V).
type search struct {
	g        *Graph
	maxSteps int

	dF     []int16 // hops from the nearest entry, -1 beyond maxSteps
	dT     []int16 // hops to the current jewel's targets
	dTs    []uint32
	tStamp uint32

	target []uint32 // == tStamp: a target state of the current jewel

	dist    []float64
	hops    []int16
	prev    []int32
	seen    []uint32
	done    []uint32
	stamp   uint32
	banN    []uint32
	banE    []uint32
	banEnt  []uint32
	banStmp uint32
	pq      distHeap
	queue   []int32
}

func newSearch(g *Graph, maxSteps int) *search {
	n := g.NumStates()
	s := &search{g: g, maxSteps: maxSteps,
		dF: make([]int16, n), dT: make([]int16, n), dTs: make([]uint32, n), target: make([]uint32, n),
		dist: make([]float64, n), hops: make([]int16, n), prev: make([]int32, n),
		seen: make([]uint32, n), done: make([]uint32, n), banN: make([]uint32, n),
		banE: make([]uint32, g.NumEdges()), banEnt: make([]uint32, len(g.entries)),
	}
	s.forward()
	return s
}

// forward sets dF by breadth-first search from every entry state, up to
// maxSteps hops: O(V + E).
func (s *search) forward() {
	g := s.g
	for i := range s.dF {
		s.dF[i] = -1
	}
	q := s.queue[:0]
	for _, e := range g.entries {
		s.dF[e.state] = 0
		q = append(q, e.state)
	}
	for h := 0; h < len(q); h++ {
		u := q[h]
		if int(s.dF[u]) >= s.maxSteps {
			continue
		}
		for e := g.off[u]; e < g.off[u+1]; e++ {
			if v := g.to[e]; s.dF[v] < 0 {
				s.dF[v] = s.dF[u] + 1
				q = append(q, v)
			}
		}
	}
	s.queue = q
}

// setTargets marks the target states of one jewel and sets dT by a
// backward breadth-first search over states the entries reach, up to
// maxSteps hops. It reports whether some entry reaches a target.
func (s *search) setTargets(targets []int32) bool {
	g := s.g
	s.tStamp++
	q := s.queue[:0]
	for _, t := range targets {
		s.target[t] = s.tStamp
		if s.dF[t] >= 0 && s.dTs[t] != s.tStamp {
			s.dTs[t] = s.tStamp
			s.dT[t] = 0
			q = append(q, t)
		}
	}
	reached := false
	for h := 0; h < len(q); h++ {
		v := q[h]
		if s.dF[v] == 0 && s.dT[v] > 0 {
			reached = true
		}
		for i := g.roff[v]; i < g.roff[v+1]; i++ {
			u := g.from(g.rin[i])
			if s.dF[u] < 0 || s.dTs[u] == s.tStamp || s.target[u] == s.tStamp {
				continue
			}
			if int(s.dF[u])+int(s.dT[v])+1 > s.maxSteps {
				continue
			}
			s.dTs[u] = s.tStamp
			s.dT[u] = s.dT[v] + 1
			q = append(q, u)
		}
	}
	s.queue = q
	return reached
}

// allowed reports whether state v can lie on a path of at most maxSteps
// from an entry to the current targets.
func (s *search) allowed(v int32) bool {
	return s.dTs[v] == s.tStamp && s.dF[v] >= 0
}

// from returns the source state of edge e by binary search over off:
// O(log V).
func (g *Graph) from(e int32) int32 {
	i, _ := slices.BinarySearchFunc(g.off, e+1, func(a, b int32) int {
		if a < b {
			return -1
		}
		return 1
	})
	return int32(i - 1)
}

type distItem struct {
	d float64
	v int32
}

type distHeap []distItem

func (h distHeap) Len() int { return len(h) }
func (h distHeap) Less(i, j int) bool {
	if h[i].d != h[j].d {
		return h[i].d < h[j].d
	}
	return h[i].v < h[j].v
}
func (h distHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *distHeap) Push(x any)   { *h = append(*h, x.(distItem)) }
func (h *distHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// dijkstra finds the shortest path (by -log p) from sources to a target
// state of the current jewel with a binary heap: O((V'+E') log V').
// Banned states and edges (stamp banStmp) are skipped; a relaxation that
// cannot reach a target within maxSteps hops (hop0 already spent) is
// pruned, which makes the hop limit a heuristic filter rather than an
// exact constraint. Target states are terminal. It returns the target
// and true, with prev holding the path.
func (s *search) dijkstra(sources []int32, hop0 int) (int32, bool) {
	g := s.g
	s.stamp++
	s.pq = s.pq[:0]
	for _, v := range sources {
		s.seen[v] = s.stamp
		s.dist[v] = 0
		s.hops[v] = int16(hop0)
		s.prev[v] = -1
		s.pq = append(s.pq, distItem{0, v})
	}
	heap.Init(&s.pq)
	for s.pq.Len() > 0 {
		it := heap.Pop(&s.pq).(distItem)
		u := it.v
		if s.done[u] == s.stamp || it.d > s.dist[u] {
			continue
		}
		s.done[u] = s.stamp
		if s.target[u] == s.tStamp {
			if s.prev[u] >= 0 {
				return u, true
			}
			continue
		}
		for e := g.off[u]; e < g.off[u+1]; e++ {
			v := g.to[e]
			if !s.allowed(v) || s.banN[v] == s.banStmp || s.banE[e] == s.banStmp || s.done[v] == s.stamp {
				continue
			}
			if int(s.hops[u])+1+int(s.dT[v]) > s.maxSteps {
				continue
			}
			d := it.d + g.weight(e)
			if s.seen[v] != s.stamp || d < s.dist[v] {
				s.seen[v] = s.stamp
				s.dist[v] = d
				s.hops[v] = s.hops[u] + 1
				s.prev[v] = e
				heap.Push(&s.pq, distItem{d, v})
			}
		}
	}
	return -1, false
}

// trace returns the edges from the dijkstra source to t.
func (s *search) trace(t int32) (start int32, edges []int32) {
	for s.prev[t] >= 0 {
		e := s.prev[t]
		edges = append(edges, e)
		t = s.g.from(e)
	}
	slices.Reverse(edges)
	return t, edges
}

func (s *search) cost(edges []int32) float64 {
	c := 0.0
	for _, e := range edges {
		c += s.g.weight(e)
	}
	return c
}

// yen returns the k most likely simple paths from any entry to the
// current targets, by Yen's algorithm over a virtual source joined to
// every allowed entry: after the best path, each next path is the best
// of the candidates obtained by leaving the previous path at each of its
// states (the spur) while the edges that earlier paths take from the
// same root are banned, along with the root's states. It runs O(k·L)
// Dijkstra searches for paths of at most L steps.
func (s *search) yen(k int) []rawPath {
	g := s.g
	var all []int32
	for _, e := range g.entries {
		if s.allowed(e.state) {
			all = append(all, e.state)
		}
	}
	if len(all) == 0 {
		return nil
	}
	s.banStmp++
	t, ok := s.dijkstra(all, 0)
	if !ok {
		return nil
	}
	start, edges := s.trace(t)
	A := []rawPath{{start, edges, s.cost(edges)}}
	var B []rawPath
	seen := map[string]bool{pathKey(start, edges): true}
	for len(A) < k {
		last := A[len(A)-1]
		nodes := last.nodes(g)
		for i := -1; i < len(last.edges); i++ {
			s.banStmp++
			var cand rawPath
			if i < 0 {
				for _, p := range A {
					s.banEnt[g.isEntry[p.entry]] = s.banStmp
				}
				var src []int32
				for _, v := range all {
					if s.banEnt[g.isEntry[v]] != s.banStmp {
						src = append(src, v)
					}
				}
				if len(src) == 0 {
					continue
				}
				t, ok := s.dijkstra(src, 0)
				if !ok {
					continue
				}
				st, sp := s.trace(t)
				cand = rawPath{st, sp, 0}
			} else {
				root := last.edges[:i]
				for _, p := range A {
					if p.entry == last.entry && len(p.edges) > i && slices.Equal(p.edges[:i], root) {
						s.banE[p.edges[i]] = s.banStmp
					}
				}
				for _, v := range nodes[:i] {
					s.banN[v] = s.banStmp
				}
				t, ok := s.dijkstra([]int32{nodes[i]}, i)
				if !ok {
					continue
				}
				_, sp := s.trace(t)
				cand = rawPath{last.entry, append(slices.Clone(root), sp...), 0}
			}
			if len(cand.edges) > s.maxSteps {
				continue
			}
			key := pathKey(cand.entry, cand.edges)
			if seen[key] {
				continue
			}
			seen[key] = true
			cand.cost = s.cost(cand.edges)
			B = append(B, cand)
		}
		if len(B) == 0 {
			break
		}
		bi := 0
		for i := range B {
			if B[i].cost < B[bi].cost || B[i].cost == B[bi].cost && lessPath(B[i], B[bi]) {
				bi = i
			}
		}
		A = append(A, B[bi])
		B = slices.Delete(B, bi, bi+1)
	}
	return A
}

func lessPath(a, b rawPath) bool {
	if a.entry != b.entry {
		return a.entry < b.entry
	}
	return slices.Compare(a.edges, b.edges) < 0
}

func pathKey(entry int32, edges []int32) string {
	b := make([]byte, 0, 4*(len(edges)+1))
	for _, v := range append([]int32{entry}, edges...) {
		b = append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	}
	return string(b)
}
