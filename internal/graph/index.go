package graph

import (
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// assetRec is what the analysis needs of one asset.
type assetRec struct {
	key    string
	kind   model.AssetKind
	labels map[string]string
	owner  string
}

// index resolves an Input's string keys to int32 ids and partitions the
// assets into connected components. Building it is O(A + R + W) map
// operations for A assets, R relations and W weaknesses.
type index struct {
	in       *Input
	ids      map[string]int32
	assets   []assetRec
	internet int32 // -1 when absent
	relFrom  []int32
	relTo    []int32
	weakAt   []int32
	weakP    []float32
	comp     []int32 // asset → component
	local    []int32 // asset → position in its component
	comps    []*compInput
	entries  []Entry
}

// compInput is one connected component: its assets (in global id order,
// so local id = position), relations, weaknesses and jewels, and the
// hash of all of them.
type compInput struct {
	assets []int32
	rels   []int32
	weaks  []int32
	jewels []int32
	hash   uint64
}

func (x *index) id(key string) int32 {
	if i, ok := x.ids[key]; ok {
		return i
	}
	i := int32(len(x.assets))
	x.ids[key] = i
	x.assets = append(x.assets, assetRec{key: key, kind: model.KindOfKey(key)})
	return i
}

// newIndex resolves and partitions in. Components are the weakly
// connected components of the relation graph (plus each credential
// weakness joined to the identities it grants) without the internet asset
// (which would join every exposed service), with each Kubernetes object
// joined to its namespace and each namespace to its cluster where those
// assets exist, since permissions on a namespace reach the secrets and
// service accounts in it.
func newIndex(in *Input, opt Options) *index {
	x := &index{in: in, ids: make(map[string]int32, len(in.Assets)+len(in.Assets)/8), internet: -1}
	x.assets = make([]assetRec, 0, len(in.Assets))
	for i := range in.Assets {
		a := &in.Assets[i]
		if _, dup := x.ids[a.Key]; dup {
			continue
		}
		x.ids[a.Key] = int32(len(x.assets))
		x.assets = append(x.assets, assetRec{key: a.Key, kind: a.Kind, labels: a.Labels, owner: a.Owner})
	}
	x.relFrom = make([]int32, len(in.Relations))
	x.relTo = make([]int32, len(in.Relations))
	for i := range in.Relations {
		r := &in.Relations[i]
		x.relFrom[i] = x.id(r.From)
		x.relTo[i] = x.id(r.To)
	}
	x.weakAt = make([]int32, len(in.Weaknesses))
	x.weakP = make([]float32, len(in.Weaknesses))
	for i := range in.Weaknesses {
		w := &in.Weaknesses[i]
		x.weakAt[i] = x.id(w.Exposure.Asset)
		for _, g := range w.Grants {
			x.id(g)
		}
		x.weakP[i] = float32(weaknessProbability(w))
	}
	for _, j := range in.Jewels {
		x.id(j.Asset)
	}
	x.entries = in.Entries
	if x.entries == nil {
		x.entries = []Entry{{Kind: EntryInternet}}
	}
	for _, e := range x.entries {
		if e.Kind == EntryIdentity {
			x.id(e.Identity)
		}
		if e.Kind == EntryCompromised {
			x.id(e.Asset)
		}
	}
	if i, ok := x.ids[InternetKey]; ok {
		x.internet = i
	}

	// Union-find with path halving and union by size: O(α(A)) per
	// operation.
	n := len(x.assets)
	parent := make([]int32, n)
	size := make([]int32, n)
	for i := range parent {
		parent[i] = int32(i)
		size[i] = 1
	}
	find := func(a int32) int32 {
		for parent[a] != a {
			parent[a] = parent[parent[a]]
			a = parent[a]
		}
		return a
	}
	union := func(a, b int32) {
		a, b = find(a), find(b)
		if a == b {
			return
		}
		if size[a] < size[b] {
			a, b = b, a
		}
		parent[b] = a
		size[a] += size[b]
	}
	for i := range x.relFrom {
		f, t := x.relFrom[i], x.relTo[i]
		if f == x.internet || t == x.internet {
			continue
		}
		union(f, t)
	}
	for i := range in.Weaknesses {
		for _, g := range in.Weaknesses[i].Grants {
			union(x.weakAt[i], x.ids[g])
		}
	}
	for i := range x.assets {
		key := x.assets[i].key
		if !strings.HasPrefix(key, "k8s:") {
			continue
		}
		cluster, ns, kind, name, ok := model.ParseK8sKey(key)
		if !ok {
			continue
		}
		if ns != "" {
			if j, ok := x.ids[model.K8sNamespaceKey(cluster, ns)]; ok {
				union(int32(i), j)
			}
		}
		if kind == "Namespace" || kind == "User" || kind == "Group" {
			_ = name
			if j, ok := x.ids[model.K8sClusterKey(cluster)]; ok {
				union(int32(i), j)
			}
		}
	}
	x.comp = make([]int32, n)
	x.local = make([]int32, n)
	rootComp := make(map[int32]int32)
	for i := range n {
		if int32(i) == x.internet {
			x.comp[i] = -1
			continue
		}
		r := find(int32(i))
		c, ok := rootComp[r]
		if !ok {
			c = int32(len(x.comps))
			rootComp[r] = c
			x.comps = append(x.comps, &compInput{})
		}
		x.comp[i] = c
		x.local[i] = int32(len(x.comps[c].assets))
		x.comps[c].assets = append(x.comps[c].assets, int32(i))
	}
	for i := range x.relFrom {
		f, t := x.relFrom[i], x.relTo[i]
		c := x.comp[f]
		if f == x.internet {
			c = x.comp[t]
		}
		if c >= 0 {
			x.comps[c].rels = append(x.comps[c].rels, int32(i))
		}
	}
	for i, a := range x.weakAt {
		if c := x.comp[a]; c >= 0 {
			x.comps[c].weaks = append(x.comps[c].weaks, int32(i))
		}
	}
	for i, j := range in.Jewels {
		if c := x.comp[x.ids[j.Asset]]; c >= 0 {
			x.comps[c].jewels = append(x.comps[c].jewels, int32(i))
		}
	}
	if !opt.NoReuse {
		x.hashComponents(opt)
	}
	return x
}

// hashSeed seeds component hashes. Hashes are compared only within one
// process (a Result is not persisted with them), so a random seed does.
var hashSeed = maphash.MakeSeed()

// hasher hashes length-prefixed fields with hash/maphash, so that
// ("ab","c") and ("a","bc") differ.
type hasher struct{ h maphash.Hash }

func (h *hasher) str(s string) {
	h.h.WriteByte(byte(len(s)))
	h.h.WriteString(s)
}

func (h *hasher) u64(v uint64) {
	var b [8]byte
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	h.h.Write(b[:])
}

// mix is the splitmix64 finalizer; summing mixed item hashes gives an
// order-independent hash of a multiset.
func mix(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	return z ^ z>>31
}

// hashComponents sets each component's hash: the sum of the mixed hashes
// of its assets, relations, weaknesses and jewels, then mixed with the
// entries and options, which every component depends on. O(input size).
func (x *index) hashComponents(opt Options) {
	h := &hasher{}
	h.h.SetSeed(hashSeed)
	sum := func() uint64 { v := mix(h.h.Sum64()); h.h.Reset(); return v }
	for _, e := range x.entries {
		h.str(string(e.Kind))
		h.str(e.Identity)
		h.str(e.Asset)
	}
	h.u64(uint64(opt.K))
	h.u64(uint64(opt.MaxSteps))
	global := sum()
	var keys []string
	for _, c := range x.comps {
		for _, a := range c.assets {
			r := &x.assets[a]
			h.str(r.key)
			h.str(string(r.kind))
			h.str(r.owner)
			keys = keys[:0]
			for k := range r.labels {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				h.str(k)
				h.str(r.labels[k])
			}
			c.hash += sum()
		}
		for _, i := range c.rels {
			r := &x.in.Relations[i]
			h.str(r.From)
			h.str(r.To)
			h.str(string(r.Type))
			h.str(r.Action)
			c.hash += sum()
		}
		for _, i := range c.weaks {
			w := &x.in.Weaknesses[i]
			e := &w.Exposure
			h.str(e.ID)
			h.str(e.Asset)
			h.str(string(e.Kind))
			h.str(e.RuleID)
			h.str(e.Package.Name)
			h.str(e.Package.Version)
			h.str(e.Package.FixedVersion)
			h.str(e.Location.Path)
			for _, v := range e.VulnIDs {
				h.str(v)
			}
			h.str(string(w.Effect.Effect))
			h.str(string(w.Effect.Confidence))
			for _, ev := range w.Evidence {
				h.str(string(ev))
			}
			for _, k := range slices.Sorted(maps.Keys(w.EvidenceOn)) {
				h.str(k)
				for _, ev := range w.EvidenceOn[k] {
					h.str(string(ev))
				}
			}
			h.u64(math.Float64bits(w.EPSS))
			if w.KEV {
				h.u64(1)
			}
			h.str(w.AttackComplexity)
			for _, g := range w.Grants {
				h.str(g)
			}
			h.str(w.Action)
			h.str(w.ActionTitle)
			h.u64(math.Float64bits(w.Effort))
			c.hash += sum()
		}
		for _, j := range c.jewels {
			jw := x.in.Jewels[j]
			h.str(jw.Asset)
			h.str(jw.Name)
			h.u64(uint64(jw.Value))
			c.hash += sum()
		}
		c.hash = mix(c.hash ^ global)
	}
}
