// Package estate correlates what the store holds into one graph of the
// estate: other names of an asset (an image's tag and its digest) are
// merged into one, the scope file's owners, services, criticality and
// crown jewels are applied, and internet exposure is computed from the
// relations. The attack-path analysis and the asset listings read it.
package estate

import (
	"maps"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/estate/k8s"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/model"
)

// InternetKey is the key of the asset that stands for the internet
// (model.InternetKey).
const InternetKey = model.InternetKey

// Estate is the correlated estate.
type Estate struct {
	// Assets maps canonical keys to assets, annotated.
	Assets map[string]*model.Asset
	// Keys lists the canonical keys in order.
	Keys []string
	// Relations are the relations between canonical keys, without
	// aliases and without repeats (the first source of an edge is kept;
	// EdgeSources lists them all).
	Relations []model.Relation
	// Scope is the scope applied (Default when none was given).
	Scope *scope.Scope

	// sources maps an edge to every input that reported it: keyed by its
	// fields, not by their concatenation (a string made per relation, a
	// tenth of loading an estate of 300k relations).
	sources  map[edge][]string
	alias    map[string]string
	incoming map[string][]int // relation indexes by To, built on first use
}

// Build correlates assets and relations under sc (nil means the default
// scope: the internet as entry point, no crown jewels). The relations
// between Kubernetes objects are joined over every input of each cluster
// first (see joinKubernetes). It runs in time linear in the number of
// assets and relations, plus the join's.
func Build(assets []model.Asset, rels []model.Relation, sc *scope.Scope) *Estate {
	if sc == nil {
		sc = scope.Default()
	}
	assets, rels = joinKubernetes(assets, rels)
	// Sized for the input: growing them was a tenth of loading an estate.
	e := &Estate{Assets: make(map[string]*model.Asset, len(assets)), Keys: make([]string, 0, len(assets)),
		Relations: make([]model.Relation, 0, len(rels)), sources: make(map[edge][]string, len(rels)), Scope: sc, alias: map[string]string{}}
	// Aliases first: union of alias-of edges, the target being canonical.
	for _, r := range rels {
		if r.Type == model.RelAliasOf && r.From != r.To {
			e.alias[r.From] = r.To
		}
	}
	for _, a := range assets {
		key := e.Canonical(a.Key)
		if cur, ok := e.Assets[key]; ok {
			mergeAsset(cur, a)
			if a.Key != key && !slices.Contains(cur.Aliases, a.Key) {
				cur.Aliases = append(cur.Aliases, a.Key)
			}
			continue
		}
		a := a
		if a.Key != key {
			// The alias arrived before its canonical asset.
			a.Aliases = append(a.Aliases, a.Key)
			a.Key = key
			a.Kind = model.KindOfKey(key)
		}
		e.Assets[key] = &a
		e.Keys = append(e.Keys, key)
	}
	for _, r := range rels {
		if r.Type == model.RelAliasOf {
			continue
		}
		r.From, r.To = e.Canonical(r.From), e.Canonical(r.To)
		if r.From == r.To {
			continue
		}
		id := edgeOf(r)
		if srcs, seen := e.sources[id]; seen {
			if !slices.Contains(srcs, r.Source) {
				e.sources[id] = append(srcs, r.Source)
			}
			continue
		}
		e.sources[id] = []string{r.Source}
		e.Relations = append(e.Relations, r)
		for _, k := range []string{r.From, r.To} {
			if _, ok := e.Assets[k]; !ok {
				e.Assets[k] = &model.Asset{Key: k, Kind: model.KindOfKey(k), Name: k}
				e.Keys = append(e.Keys, k)
			}
		}
	}
	slices.Sort(e.Keys)
	e.annotate()
	return e
}

// joinKubernetes replaces the relations the Kubernetes parser computed
// per input with those of every input of each cluster at once (k8s.Join),
// drops the facts label the join reads from the assets, and replaces the
// labels it derives (model.LabelIngressIsolated).
func joinKubernetes(assets []model.Asset, rels []model.Relation) ([]model.Asset, []model.Relation) {
	extra, joined, clusters := k8s.Join(assets)
	if len(clusters) == 0 {
		return assets, rels
	}
	out := make([]model.Asset, 0, len(assets)+len(extra))
	for _, a := range assets {
		_, facts := a.Labels[model.LabelK8sObject]
		_, derived := a.Labels[model.LabelIngressIsolated]
		if facts || derived {
			// The join decides the derived label anew: a stored one may
			// come from an input whose policies another input changed.
			a.Labels = maps.Clone(a.Labels)
			delete(a.Labels, model.LabelK8sObject)
			delete(a.Labels, model.LabelIngressIsolated)
		}
		out = append(out, a)
	}
	out = append(out, extra...)
	kept := make([]model.Relation, 0, len(rels)+len(joined))
	for _, r := range rels {
		if !k8s.Supersedes(r, clusters) {
			kept = append(kept, r)
		}
	}
	return out, append(append(kept, joined...), roleAliases(assets, joined)...)
}

// The labels of the Terraform source that name an AWS resource's type
// and ARN.
const (
	labelAWSType = "aws.type"
	labelAWSARN  = "aws.arn"
)

// roleAliases maps the IAM role ARNs that Kubernetes names (IRSA
// annotations, aws-auth) to the Terraform role they are, when the store
// keys that role by its address (the ARN is unknown before apply): the
// role whose aws.arn label is the ARN, else the one role whose name is
// the ARN's last segment. An ambiguous name maps nothing.
func roleAliases(assets []model.Asset, joined []model.Relation) []model.Relation {
	byARN := map[string]string{}
	byName := map[string][]string{}
	have := map[string]bool{}
	for _, a := range assets {
		if !strings.HasPrefix(a.Source, "k8s:") {
			have[a.Key] = true // described by a cloud source, not only named by Kubernetes
		}
		if a.Labels[labelAWSType] != "aws_iam_role" {
			continue
		}
		if arn := a.Labels[labelAWSARN]; arn != "" {
			byARN[arn] = a.Key
		}
		byName[a.Name] = append(byName[a.Name], a.Key)
	}
	var out []model.Relation
	seen := map[string]bool{}
	for _, r := range joined {
		for _, k := range []string{r.From, r.To} {
			if seen[k] || have[k] || !strings.HasPrefix(k, "arn:aws:iam::") || !strings.Contains(k, ":role/") {
				continue
			}
			seen[k] = true
			to := byARN[k]
			if to == "" {
				if ks := byName[k[strings.LastIndexByte(k, '/')+1:]]; len(ks) == 1 {
					to = ks[0]
				}
			}
			if to != "" && to != k {
				out = append(out, model.Relation{From: k, To: to, Type: model.RelAliasOf, Source: r.Source})
			}
		}
	}
	return out
}

// Canonical returns the key an alias stands for, following chains; a key
// that is no alias is returned as it is.
func (e *Estate) Canonical(key string) string {
	for range 8 {
		to, ok := e.alias[key]
		if !ok {
			return key
		}
		key = to
	}
	return key
}

// mergeAsset fills what cur lacks from a.
func mergeAsset(cur *model.Asset, a model.Asset) {
	for k, v := range a.Labels {
		if cur.Labels == nil {
			cur.Labels = map[string]string{}
		}
		if _, ok := cur.Labels[k]; !ok {
			cur.Labels[k] = v
		}
	}
	if cur.Owner == "" {
		cur.Owner = a.Owner
	}
	if cur.Criticality == "" {
		cur.Criticality = a.Criticality
	}
	if cur.Environment == "" {
		cur.Environment = a.Environment
	}
	if a.LastSeen.After(cur.LastSeen) {
		cur.LastSeen = a.LastSeen
	}
}

// annotate applies the scope and computes internet exposure.
func (e *Estate) annotate() {
	for _, k := range e.Keys {
		a := e.Assets[k]
		an := e.Scope.Apply(a)
		if an.Owner != "" {
			a.Owner = an.Owner
		}
		if an.Criticality != "" {
			a.Criticality = an.Criticality
		}
		if an.Environment != "" {
			a.Environment = an.Environment
		}
		a.Service = an.Service
		if an.CrownJewel != nil {
			v := an.CrownJewel.Value
			a.CrownJewel = &v
		}
		if an.Public {
			// A copy: the labels may be shared with the caller's asset.
			labels := maps.Clone(a.Labels)
			if labels == nil {
				labels = map[string]string{}
			}
			labels[model.LabelPublicByDesign] = "true"
			a.Labels = labels
		}
	}
	for k := range e.InternetReach() {
		if a, ok := e.Assets[k]; ok && k != InternetKey {
			a.InternetExposed = true
		}
	}
}

// InternetReach returns the assets that traffic from the internet
// reaches: what the internet exposes or connects to, and, from there,
// what routes-to relations lead to (a load balancer's targets, a service's
// pods). Breadth-first, linear in the relations.
func (e *Estate) InternetReach() map[string]bool {
	out := map[string][]string{}
	for _, r := range e.Relations {
		switch {
		case r.From == InternetKey && (r.Type == model.RelExposes || r.Type == model.RelConnectsTo || r.Type == model.RelRoutesTo):
			out[r.From] = append(out[r.From], r.To)
		case r.From != InternetKey && r.Type == model.RelRoutesTo:
			out[r.From] = append(out[r.From], r.To)
		}
	}
	seen := map[string]bool{InternetKey: true}
	queue := []string{InternetKey}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, n := range out[k] {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	delete(seen, InternetKey)
	return seen
}

// Sorted returns the annotated assets in key order.
func (e *Estate) Sorted() []model.Asset {
	out := make([]model.Asset, 0, len(e.Keys))
	for _, k := range e.Keys {
		out = append(out, *e.Assets[k])
	}
	return out
}

// Neighbours returns the relations from and to key.
func (e *Estate) Neighbours(key string) (out, in []model.Relation) {
	key = e.Canonical(key)
	for _, r := range e.Relations {
		if r.From == key {
			out = append(out, r)
		}
		if r.To == key {
			in = append(in, r)
		}
	}
	return out, in
}

// EdgeSources returns every input that reported r.
func (e *Estate) EdgeSources(r model.Relation) []string {
	return e.sources[edgeOf(r)]
}

// edge is a relation without its source.
type edge struct {
	from, to string
	typ      model.RelationType
	action   string
}

func edgeOf(r model.Relation) edge { return edge{r.From, r.To, r.Type, r.Action} }

// Components returns the number of weakly connected components among the
// assets that take part in relations, for checking that an estate forms
// one graph.
func (e *Estate) Components() int {
	parent := map[string]string{}
	find := func(k string) string {
		for parent[k] != k {
			parent[k] = parent[parent[k]]
			k = parent[k]
		}
		return k
	}
	for _, r := range e.Relations {
		for _, k := range []string{r.From, r.To} {
			if _, ok := parent[k]; !ok {
				parent[k] = k
			}
		}
		a, b := find(r.From), find(r.To)
		if a != b {
			parent[a] = b
		}
	}
	roots := map[string]bool{}
	for k := range parent {
		roots[find(k)] = true
	}
	return len(roots)
}

// Context is what the estate says about the asset a weakness is on, seen
// through what runs it: an image is as exposed and as critical as the
// workloads that run it, a repository as the images built from it.
type Context struct {
	Asset           string
	InternetExposed bool
	// Via is the internet-facing asset through which the asset is
	// reached (itself, or a workload running it).
	Via         string
	Owner       string
	Service     string
	Criticality string
	// CrownJewel is the asset's value as a crown jewel, 0 when none.
	CrownJewel int
	// RunsIn lists the workloads that run the asset (directly or through
	// the images built from it).
	RunsIn []string
}

var critRank = map[string]int{"critical": 4, "high": 3, "medium": 2, "low": 1}

// Context returns the context of the asset with the given key (or alias).
func (e *Estate) Context(key string) Context {
	key = e.Canonical(key)
	c := Context{Asset: key}
	a, ok := e.Assets[key]
	if !ok {
		return c
	}
	c.Owner, c.Service, c.Criticality = a.Owner, a.Service, a.Criticality
	if a.CrownJewel != nil {
		c.CrownJewel = *a.CrownJewel
	}
	if a.InternetExposed {
		c.InternetExposed, c.Via = true, key
	}
	// Walk back: repository <-built-from- image <-runs- workload.
	frontier := []string{key}
	seen := map[string]bool{key: true}
	for depth := 0; depth < 3 && len(frontier) > 0; depth++ {
		var next []string
		for _, k := range frontier {
			for _, i := range e.incomingOf(k) {
				r := e.Relations[i]
				if seen[r.From] {
					continue
				}
				if r.Type != model.RelRuns && r.Type != model.RelBuiltFrom && r.Type != model.RelContains {
					continue
				}
				src := r.From
				seen[src] = true
				next = append(next, src)
				w := e.Assets[src]
				if w == nil {
					continue
				}
				if w.Kind == model.KindWorkload {
					c.RunsIn = append(c.RunsIn, src)
				}
				if w.InternetExposed && !c.InternetExposed {
					c.InternetExposed, c.Via = true, src
				}
				if critRank[w.Criticality] > critRank[c.Criticality] {
					c.Criticality, c.Service = w.Criticality, w.Service
					if c.Owner == "" {
						c.Owner = w.Owner
					}
				}
				if w.CrownJewel != nil && *w.CrownJewel > c.CrownJewel {
					c.CrownJewel = *w.CrownJewel
				}
			}
		}
		frontier = next
	}
	slices.Sort(c.RunsIn)
	return c
}

func (e *Estate) incomingOf(key string) []int {
	if e.incoming == nil {
		e.incoming = make(map[string][]int, len(e.Assets))
		for i, r := range e.Relations {
			e.incoming[r.To] = append(e.incoming[r.To], i)
		}
	}
	return e.incoming[key]
}
