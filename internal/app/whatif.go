package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
)

// BlastJewel is one crown jewel a compromised asset reaches: its value,
// the risk from the compromised asset (v × (1 − Π(1 − Lᵢ)) over the
// likelihoods of the paths found to it) and how many paths reach it.
// Direct is true when the compromised asset is the jewel itself: its
// risk is then its whole value.
type BlastJewel struct {
	Jewel  string  `json:"jewel"`
	Name   string  `json:"name,omitempty"`
	Value  int     `json:"value"`
	Risk   float64 `json:"risk"`
	Paths  int     `json:"paths"`
	Direct bool    `json:"direct,omitempty"`
}

// BlastRadius is what an attacker holding one asset reaches: the crown
// jewels, by which paths, at what risk.
type BlastRadius struct {
	// Asset is the canonical key of the asset assumed compromised and
	// Kind its kind; Entries are the states the attacker starts from
	// ("exec:KEY", "identity:KEY").
	Asset   string          `json:"asset"`
	Kind    model.AssetKind `json:"kind"`
	Entries []string        `json:"entries"`
	// Risk is the sum of the jewels' risks.
	Risk   float64      `json:"risk"`
	Jewels []BlastJewel `json:"jewels"`
	// Paths are the K most likely paths to each jewel, riskiest first.
	Paths []graph.Path `json:"paths"`
	// Names names the first exposure of each step (see PathList).
	Names map[string]string `json:"-"`
}

// BlastRadius assumes the asset named asset (its key or any other name
// of it) compromised, and runs the analysis in memory from that asset
// alone, instead of the scope's entry points: an identity or account
// gives its credentials, a cluster its control plane, a secret, data
// store, file, resource, repository, image or package read and write of
// it, anything else code execution on it. Nothing is recorded. An
// unknown asset is a BadInputError.
func (a *App) BlastRadius(ctx context.Context, asset string, opt graph.Options) (*BlastRadius, error) {
	opt, err := normOptions(opt)
	if err != nil {
		return nil, err
	}
	p, err := a.prepare(ctx, nil, false)
	if err != nil {
		return nil, err
	}
	es := p.run.Estate
	key := es.Canonical(asset)
	as, ok := es.Assets[key]
	if !ok || asset == "" {
		return nil, badInput(fmt.Errorf("blast radius: no asset %q in the estate (see 'ctem assets')", asset))
	}
	in := *p.run.Input
	in.Entries = []graph.Entry{{Kind: graph.EntryCompromised, Asset: key}}
	res, err := graph.AnalyzeContext(ctx, &in, opt)
	if err != nil {
		return nil, fmt.Errorf("blast radius: %w", err)
	}
	br := &BlastRadius{Asset: key, Kind: as.Kind, Paths: res.Paths, Jewels: []BlastJewel{}, Names: map[string]string{}}
	if br.Paths == nil {
		br.Paths = []graph.Path{}
	}
	for _, c := range graph.CompromisedCaps(as.Kind) {
		br.Entries = append(br.Entries, graph.State{Cap: c, Asset: key}.String())
	}
	count := map[string]int{}
	for _, path := range res.Paths {
		count[path.Jewel]++
		maps.Copy(br.Names, stepNames(path, p.run.Exposures))
	}
	names := map[string]string{}
	for _, j := range in.Jewels {
		names[j.Asset] = j.Name
	}
	for _, jr := range jewelRisks(in.Jewels, res.Paths) {
		bj := BlastJewel{Jewel: jr.Jewel, Name: names[jr.Jewel], Value: jr.Value, Risk: jr.Risk, Paths: count[jr.Jewel]}
		if jr.Jewel == key {
			bj.Direct, bj.Risk = true, float64(jr.Value)
		}
		if bj.Risk > 0 {
			br.Jewels = append(br.Jewels, bj)
			br.Risk += bj.Risk
		}
	}
	slices.SortFunc(br.Jewels, func(x, y BlastJewel) int {
		if c := cmp.Compare(y.Risk, x.Risk); c != 0 {
			return c
		}
		return strings.Compare(x.Jewel, y.Jewel)
	})
	return br, nil
}

// WhatIfQuery is a change to try: remediation actions taken (by the keys
// the fix plan and choke points list), relations removed and relations
// added.
type WhatIfQuery struct {
	Fixes []string
	// Remove lists relations to take away, by From, Type and To (any
	// name of the assets); a non-empty Action narrows to that action.
	Remove []model.Relation
	// Add lists relations to add, between assets of the estate (any
	// name of them), after the removals.
	Add     []model.Relation
	Options graph.Options
	// Keep, when not nil, limits the outcome to the paths for which it
	// returns true (a team's view): the risk and path counts of both
	// sides are those of the kept paths, and only kept paths are listed
	// as closed or opened.
	Keep func(graph.Path) bool
}

// WhatIfSide is the risk and the paths on one side of a what-if.
type WhatIfSide struct {
	Risk   float64            `json:"risk"`
	Paths  int                `json:"paths"`
	Jewels map[string]float64 `json:"jewels"`
}

// WhatIf is the outcome of a what-if: risk and paths before and after
// the change, the paths it closed and opened, and what it changed in the
// analysis input.
type WhatIf struct {
	Before      WhatIfSide `json:"before"`
	After       WhatIfSide `json:"after"`
	RiskRemoved float64    `json:"risk_removed"`
	// Changed describes each change applied and how many facts of the
	// input (weaknesses, relations, labels) it removed.
	Changed []string     `json:"changed"`
	Closed  []graph.Path `json:"closed"`
	Opened  []graph.Path `json:"opened"`
	// Names names the first exposure of each step of the listed paths.
	Names map[string]string `json:"-"`
}

// ParseRelation reads a relation given as "FROM,TYPE,TO", where TYPE may
// carry an action as "can(s3:GetObject)". It returns a BadInputError
// when the text is not of that form.
func ParseRelation(s string) (model.Relation, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return model.Relation{}, badInput(fmt.Errorf("relation %q: want FROM,TYPE,TO", s))
	}
	r := model.Relation{From: strings.TrimSpace(parts[0]), To: strings.TrimSpace(parts[2])}
	t := strings.TrimSpace(parts[1])
	if i := strings.IndexByte(t, '('); i > 0 && strings.HasSuffix(t, ")") {
		r.Action = t[i+1 : len(t)-1]
		t = t[:i]
	}
	r.Type = model.RelationType(t)
	return r, nil
}

// WhatIf runs the analysis twice in memory, on the input as the store
// holds it and with the query's changes applied, and compares them.
// Nothing is recorded and stored data is not changed. An action key or
// a relation that matches nothing in the input is a BadInputError, so
// that a typo does not read as "no risk removed".
func (a *App) WhatIf(ctx context.Context, q WhatIfQuery) (*WhatIf, error) {
	if len(q.Fixes) == 0 && len(q.Remove) == 0 && len(q.Add) == 0 {
		return nil, badInput(errors.New("what-if: name an action to take (--fix) or a relation to remove (--remove-relation) or add (--add-relation)"))
	}
	opt, err := normOptions(q.Options)
	if err != nil {
		return nil, err
	}
	p, err := a.prepare(ctx, nil, false)
	if err != nil {
		return nil, err
	}
	es := p.run.Estate
	before, err := graph.AnalyzeContext(ctx, p.run.Input, opt)
	if err != nil {
		return nil, fmt.Errorf("what-if: %w", err)
	}
	in := *p.run.Input
	w := &WhatIf{Closed: []graph.Path{}, Opened: []graph.Path{}, Changed: []string{}, Names: map[string]string{}}
	for _, key := range q.Fixes {
		n := applyAction(&in, key)
		if n == 0 {
			return nil, badInput(fmt.Errorf("what-if: action %q removes nothing in the estate (see 'ctem fixplan -o json' for action keys)", key))
		}
		w.Changed = append(w.Changed, fmt.Sprintf("fix %s: %d facts removed", key, n))
	}
	for _, r := range q.Remove {
		r.From, r.To = es.Canonical(r.From), es.Canonical(r.To)
		n := removeRelation(&in, r, false)
		if n == 0 {
			return nil, badInput(fmt.Errorf("what-if: no relation %s %s %s in the estate", r.From, relType(r), r.To))
		}
		w.Changed = append(w.Changed, fmt.Sprintf("remove %s %s %s: %d relations removed", r.From, relType(r), r.To, n))
	}
	for _, r := range q.Add {
		r.From, r.To = es.Canonical(r.From), es.Canonical(r.To)
		for _, k := range []string{r.From, r.To} {
			if _, ok := es.Assets[k]; !ok && k != graph.InternetKey {
				return nil, badInput(fmt.Errorf("what-if: add %s %s %s: no asset %q in the estate", r.From, relType(r), r.To, k))
			}
		}
		r.Source = "whatif"
		in.Relations = append(slices.Clip(in.Relations), r)
		w.Changed = append(w.Changed, fmt.Sprintf("add %s %s %s", r.From, relType(r), r.To))
	}
	after, err := graph.AnalyzeContext(ctx, &in, opt)
	if err != nil {
		return nil, fmt.Errorf("what-if: %w", err)
	}
	w.Before = side(p.run.Input.Jewels, before, q.Keep)
	w.After = side(in.Jewels, after, q.Keep)
	w.RiskRemoved = w.Before.Risk - w.After.Risk
	was, is := map[string]bool{}, map[string]bool{}
	for _, path := range before.Paths {
		was[path.ID] = true
	}
	for _, path := range after.Paths {
		is[path.ID] = true
		if !was[path.ID] && (q.Keep == nil || q.Keep(path)) {
			w.Opened = append(w.Opened, path)
			maps.Copy(w.Names, stepNames(path, p.run.Exposures))
		}
	}
	for _, path := range before.Paths {
		if !is[path.ID] && (q.Keep == nil || q.Keep(path)) {
			w.Closed = append(w.Closed, path)
			maps.Copy(w.Names, stepNames(path, p.run.Exposures))
		}
	}
	return w, nil
}

// side sums one side of a what-if: all of res, or with keep its kept
// paths only (their jewels' risks, as jewelRisks combines them).
func side(jewels []graph.Jewel, res *graph.Result, keep func(graph.Path) bool) WhatIfSide {
	paths := res.Paths
	if keep != nil {
		paths = slices.DeleteFunc(slices.Clone(paths), func(p graph.Path) bool { return !keep(p) })
	}
	s := WhatIfSide{Risk: res.Risk, Paths: len(paths), Jewels: map[string]float64{}}
	if keep != nil {
		s.Risk = 0
	}
	for _, jr := range jewelRisks(jewels, paths) {
		if keep != nil && jr.Risk == 0 {
			continue
		}
		s.Jewels[jr.Jewel] = jr.Risk
		if keep != nil {
			s.Risk += jr.Risk
		}
	}
	return s
}

func relType(r model.Relation) string {
	if r.Action != "" {
		return string(r.Type) + "(" + r.Action + ")"
	}
	return string(r.Type)
}

// applyAction takes the remediation action key out of in, copying what
// it changes (in's slices and maps are shared with the stored run): the
// weaknesses it fixes (their action, or graph.DefaultAction's), the
// relation of a "remove|TYPE|ACTION|FROM|TO" key, the label of a
// "harden|ASSET|LABEL" key. It returns how many facts it removed.
func applyAction(in *graph.Input, key string) int {
	n := 0
	var ws []graph.Weakness
	for i := range in.Weaknesses {
		w := &in.Weaknesses[i]
		k := w.Action
		if k == "" {
			k, _, _, _ = graph.DefaultAction(w)
		}
		if k == key {
			n++
			continue
		}
		ws = append(ws, *w)
	}
	if n > 0 {
		in.Weaknesses = ws
	}
	parts := strings.Split(key, "|")
	switch {
	case len(parts) == 5 && parts[0] == "remove":
		n += removeRelation(in, model.Relation{Type: model.RelationType(parts[1]), Action: parts[2], From: parts[3], To: parts[4]}, true)
	case len(parts) == 3 && parts[0] == "harden":
		for i, as := range in.Assets {
			if as.Key != parts[1] {
				continue
			}
			if _, ok := as.Labels[parts[2]]; !ok {
				continue
			}
			assets := slices.Clone(in.Assets)
			labels := maps.Clone(as.Labels)
			delete(labels, parts[2])
			assets[i].Labels = labels
			in.Assets = assets
			n++
			break
		}
	}
	return n
}

// removeRelation takes out of in the relations from r.From to r.To of
// r.Type and r.Action (with exact false, an empty r.Action matches any
// action), and returns how many.
func removeRelation(in *graph.Input, r model.Relation, exact bool) int {
	var rels []model.Relation
	n := 0
	for _, x := range in.Relations {
		if x.From == r.From && x.To == r.To && x.Type == r.Type && (x.Action == r.Action || (!exact && r.Action == "")) {
			n++
			continue
		}
		rels = append(rels, x)
	}
	if n > 0 {
		in.Relations = rels
	}
	return n
}
