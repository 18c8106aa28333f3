package k8s

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/go-json-experiment/json"

	"github.com/ctem-dev/ctem/internal/model"
)

// collector is the sink of a join: it keeps what the relations emit.
type collector struct {
	assets []model.Asset
	rels   []model.Relation
}

func (c *collector) BeginScan(model.Scan) error      { return nil }
func (c *collector) Asset(a model.Asset) error       { c.assets = append(c.assets, a); return nil }
func (c *collector) Relation(r model.Relation) error { c.rels = append(c.rels, r); return nil }
func (c *collector) Finding(*model.Finding) error    { return nil }
func (c *collector) Evidence(model.Evidence) error   { return nil }

// Join computes the relations between the Kubernetes objects of every
// input of an estate at once, from the facts each object's asset carries
// (the LabelK8sObject label that Parse sets): services route to the pods
// they select, network policies cut the connections they forbid, role
// bindings grant their roles, whatever file or ingest each object came
// from. It returns the assets the relations name that no object is (the
// internet, images, namespaces, the node, users and groups), the
// relations, and the clusters joined: the relations that Parse stored per
// input for those clusters are superseded (see Supersedes).
//
// Each relation's Source is the source of the object that decides it
// (the service for routes-to, the binding for can, the destination pod
// for connects-to). Assets with facts that do not decode are skipped: the
// facts are ctem's own, written by Parse.
func Join(assets []model.Asset) (extra []model.Asset, rels []model.Relation, clusters []string) {
	type item struct {
		key, src string
		f        *facts
	}
	byCluster := map[string][]item{}
	for i := range assets {
		a := &assets[i]
		raw, ok := a.Labels[model.LabelK8sObject]
		if !ok {
			continue
		}
		cluster, _, _, _, ok := model.ParseK8sKey(a.Key)
		if !ok {
			continue
		}
		f := &facts{}
		if err := json.Unmarshal([]byte(raw), f); err != nil {
			continue
		}
		byCluster[cluster] = append(byCluster[cluster], item{a.Key, a.Source, f})
	}
	if len(byCluster) == 0 {
		return nil, nil, nil
	}
	c := &collector{}
	for _, cluster := range slices.Sorted(maps.Keys(byCluster)) {
		items := byCluster[cluster]
		slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.key, b.key) })
		p := newCluster(cluster, "", c)
		p.joining = true
		for _, it := range items {
			p.record(it.key, it.src, it.f)
		}
		p.source = items[0].src
		_ = p.finish() // the collector returns no error
		clusters = append(clusters, cluster)
	}
	return c.assets, c.rels, clusters
}

// Supersedes reports whether Join's relations for clusters replace r: a
// relation Parse stored (its source is "k8s:" and a file name) with an
// end in one of the clusters.
func Supersedes(r model.Relation, clusters []string) bool {
	if !strings.HasPrefix(r.Source, "k8s:") {
		return false
	}
	for _, k := range []string{r.From, r.To} {
		if c, _, _, _, ok := model.ParseK8sKey(k); ok && slices.Contains(clusters, c) {
			return true
		}
	}
	return false
}
