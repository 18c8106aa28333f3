package policy

import (
	"context"
	"fmt"
	"strings"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/intel/kev"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// PathVars returns a path's variables: path, and asset (its crown
// jewel's).
func PathVars(p graph.Path, es *estate.Estate) map[string]any {
	rules, xs := []any{}, []any{}
	for _, s := range p.Steps {
		rules = append(rules, s.Rule)
		for _, id := range s.ExposureIDs {
			xs = append(xs, id)
		}
	}
	value := int64(0)
	if as, ok := es.Assets[p.Jewel]; ok && as.CrownJewel != nil {
		value = int64(*as.CrownJewel)
	}
	capability, _, _ := strings.Cut(p.Target, ":")
	return map[string]any{
		"path": map[string]any{
			"id": p.ID, "entry": p.Entry, "jewel": p.Jewel, "risk": p.Risk, "likelihood": p.Likelihood,
			"validated": p.Validated, "length": int64(len(p.Steps)), "rules": rules, "exposures": xs,
			"target": map[string]any{"key": p.Jewel, "value": value, "capability": capability},
		},
		"asset": AssetVars(p.Jewel, es),
	}
}

// ExposureVars returns an exposure's variables: exposure, and asset (the
// exposure's). cat may be nil (no KEV).
func ExposureVars(x model.Exposure, es *estate.Estate, cat *kev.Catalog) map[string]any {
	isKEV := false
	ids := []any{}
	for _, id := range x.VulnIDs {
		ids = append(ids, id)
		if cat != nil && !isKEV {
			_, isKEV = cat.Lookup(id)
		}
	}
	tools := []any{}
	for _, t := range x.Tools {
		tools = append(tools, t)
	}
	return map[string]any{
		"exposure": map[string]any{
			"id": x.ID, "vuln_id": app.WeaknessName(x), "vuln_ids": ids, "rule_id": x.RuleID, "severity": string(x.Severity),
			"kev": isKEV, "status": string(x.Status), "kind": string(x.Kind), "title": x.Title, "package": x.Package.Name,
			"version": x.Package.Version, "fixed_version": x.Package.FixedVersion, "tools": tools, "first_seen": x.FirstSeen,
		},
		"asset": AssetVars(x.Asset, es),
	}
}

// AssetVars returns the asset variable of the asset named key.
func AssetVars(key string, es *estate.Estate) map[string]any {
	c := es.Context(key)
	out := map[string]any{"key": c.Asset, "kind": "", "name": "", "owner": c.Owner, "service": c.Service, "criticality": c.Criticality,
		"environment": "", "internet_exposed": c.InternetExposed, "crown_jewel": int64(c.CrownJewel), "labels": map[string]any{}}
	if as, ok := es.Assets[c.Asset]; ok {
		out["kind"], out["name"], out["environment"] = string(as.Kind), as.Name, as.Environment
		labels := map[string]any{}
		for k, v := range as.Labels {
			labels[k] = v
		}
		out["labels"] = labels
	}
	return out
}

// Report is the result of evaluating the policies on the current data.
type Report struct {
	Policies int     `json:"policies"`
	Paths    int     `json:"paths"`
	Exposure int     `json:"exposures"`
	Matches  []Match `json:"matches"`
	// Errors are run-time errors of expressions, by policy and subject.
	Errors []string `json:"errors,omitempty"`
}

// maxErrors bounds the run-time errors a Report keeps.
const maxErrors = 100

// Test compiles the scope's policies and evaluates them on the current
// data: every open attack path and every open exposure. A policy that
// does not compile is a BadInputError naming its position in the scope
// file.
func Test(ctx context.Context, a *app.App) (*Report, error) {
	sc, err := a.ScopeInForce(ctx)
	if err != nil {
		return nil, err
	}
	set, err := Compile(sc)
	if err != nil {
		return nil, &app.BadInputError{Err: err}
	}
	r := &Report{Policies: len(set.Policies), Matches: []Match{}}
	if len(set.Policies) == 0 {
		return r, nil
	}
	es, err := a.Estate(ctx)
	if err != nil {
		return nil, err
	}
	var cat *kev.Catalog
	if a.Intel != nil {
		in, err := a.Intel()
		if err != nil {
			return nil, err
		}
		cat = in.KEV
	}
	note := func(err error) {
		if err == nil {
			return
		}
		for _, e := range unjoin(err) {
			if len(r.Errors) < maxErrors {
				r.Errors = append(r.Errors, e.Error())
			}
		}
	}
	if set.Has("path", "fail", "warn", "ticket", "notify") {
		pl, err := a.Paths(ctx, app.PathQuery{})
		if err != nil {
			return nil, err
		}
		for _, p := range pl.Paths {
			r.Paths++
			ms, err := set.Eval("path", p.ID, PathVars(p, es))
			note(err)
			r.Matches = append(r.Matches, ms...)
		}
	}
	if set.Has("exposure", "fail", "warn", "ticket", "notify") {
		for x, err := range a.Store.Exposures(ctx, store.Filter{Statuses: []model.Status{model.StatusOpen}, Sort: store.SortID}) {
			if err != nil {
				return nil, err
			}
			r.Exposure++
			ms, err := set.Eval("exposure", x.ID, ExposureVars(x, es, cat))
			note(err)
			r.Matches = append(r.Matches, ms...)
		}
	}
	return r, nil
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Failed returns the matches of fail policies.
func (r *Report) Failed() []Match { return r.WithAction("fail") }

// WithAction returns the matches of the policies whose action is action
// (fail, warn, ticket, notify).
func (r *Report) WithAction(action string) []Match {
	var out []Match
	for _, m := range r.Matches {
		if m.Action == action {
			out = append(out, m)
		}
	}
	return out
}

// String writes a match in one line.
func (m Match) String() string {
	return fmt.Sprintf("%s (%s) on %s %s: %s", m.Policy, m.Action, m.On, m.Subject, strings.Join(m.Because, ", "))
}
