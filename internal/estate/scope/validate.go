package scope

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// assetKinds are the kinds a selector may name.
var assetKinds = []model.AssetKind{
	model.KindRepository, model.KindImage, model.KindPackage, model.KindWorkload, model.KindHost,
	model.KindFunction, model.KindLoadBalancer, model.KindEndpoint, model.KindIdentity, model.KindSecret,
	model.KindDatastore, model.KindNetwork, model.KindCluster, model.KindAccount, model.KindNode,
	model.KindFile, model.KindResource,
}

// Validate checks the values of a decoded scope: known criticalities,
// data classes and entry points, crown-jewel values from 1 to 10,
// non-empty names and teams, selectors that select something, unique
// service and environment names. Each error is an *Error with the line
// and column of the offending value when the scope came from a file.
// A valid scope returns nil.
func (s *Scope) Validate() []error {
	var errs []error
	bad := func(path []any, format string, args ...any) {
		errs = append(errs, s.errorAt(path, format, args...))
	}
	if s.Version != 0 && s.Version != 1 {
		bad([]any{"version"}, "version %d is not supported (want 1)", s.Version)
	}
	names := map[string]bool{}
	for i, sv := range s.Services {
		p := []any{"services", i}
		if strings.TrimSpace(sv.Name) == "" {
			bad(p, "a service needs a name")
		} else if names[sv.Name] {
			bad(append(p, "name"), "service %q is defined twice", sv.Name)
		}
		names[sv.Name] = true
		if sv.Criticality != "" && !slices.Contains(Criticalities, sv.Criticality) {
			bad(append(p, "criticality"), "criticality %q is not one of %s", sv.Criticality, strings.Join(Criticalities, ", "))
		}
		errs = append(errs, s.validateSelectors(append(p, "match"), sv.Match)...)
	}
	for i, cj := range s.CrownJewels {
		p := []any{"crown_jewels", i}
		if cj.Value < 1 || cj.Value > 10 {
			bad(append(p, "value"), "value %d is not from 1 to 10", cj.Value)
		}
		for j, d := range cj.Data {
			if !slices.Contains(DataClasses, d) {
				bad(append(p, "data", j), "data class %q is not one of %s", d, strings.Join(DataClasses, ", "))
			}
		}
		errs = append(errs, s.validateSelectors(append(p, "match"), cj.Match)...)
	}
	for i, e := range s.EntryPoints {
		p := []any{"entry_points", i}
		switch {
		case e.Identity != "" && e.Network != "":
			bad(p, "an entry point is a network or an identity, not both")
		case e.Identity == "" && e.Network == "":
			bad(p, "an entry point is internet, internal-network or {identity: KEY}")
		case e.Network != "" && e.Network != EntryInternet && e.Network != EntryInternalNetwork:
			bad(p, "entry point %q is not internet, internal-network or {identity: KEY}", e.Network)
		case e.Identity != "" && strings.TrimSpace(e.Identity) != e.Identity:
			bad(append(p, "identity"), "identity key %q has surrounding space", e.Identity)
		}
	}
	for i, r := range s.Ownership {
		p := []any{"ownership", i}
		if strings.TrimSpace(r.Team) == "" {
			bad(p, "an ownership rule needs a team")
		}
		errs = append(errs, s.validateSelectors(append(p, "match"), r.Match)...)
	}
	envs := map[string]bool{}
	for i, e := range s.Environments {
		p := []any{"environments", i}
		if strings.TrimSpace(e.Name) == "" {
			bad(p, "an environment needs a name")
		} else if envs[e.Name] {
			bad(append(p, "name"), "environment %q is defined twice", e.Name)
		}
		envs[e.Name] = true
		errs = append(errs, s.validateSelectors(append(p, "match"), e.Match)...)
	}
	for _, pr := range []struct {
		name string
		d    Duration
	}{{"critical", s.SLA.Critical}, {"high", s.SLA.High}, {"medium", s.SLA.Medium}, {"low", s.SLA.Low},
		{"kev", s.SLA.KEV}, {"kev_internet", s.SLA.KEVInternet}, {"internet", s.SLA.Internet}, {"crown_jewel", s.SLA.CrownJewel}} {
		if pr.d < 0 {
			bad([]any{"sla", pr.name}, "a negative SLA")
		}
	}
	if v := s.SLA.CrownJewelMinValue; v < 0 || v > 10 {
		bad([]any{"sla", "crown_jewel_min_value"}, "value %d is not from 0 to 10", v)
	}
	if s.Acceptance.Max < 0 {
		bad([]any{"acceptance", "max"}, "a negative maximum")
	}
	for i, r := range s.Tickets.Routes {
		if strings.TrimSpace(r.Project) == "" {
			bad([]any{"tickets", "routes", i}, "a ticket route needs a project")
		}
	}
	policies := map[string]bool{}
	for i, p := range s.Policies {
		at := []any{"policies", i}
		if strings.TrimSpace(p.Name) == "" {
			bad(at, "a policy needs a name")
		} else if policies[p.Name] {
			bad(append(at, "name"), "policy %q is defined twice", p.Name)
		}
		policies[p.Name] = true
		if p.On != "path" && p.On != "exposure" {
			bad(append(at, "on"), "on %q is not path or exposure", p.On)
		}
		if strings.TrimSpace(p.Expr) == "" {
			bad(at, "a policy needs an expr")
		}
		if !slices.Contains(PolicyActions, p.Action) {
			bad(append(at, "action"), "action %q is not one of %s", p.Action, strings.Join(PolicyActions, ", "))
		}
	}
	return errs
}

// validateSelectors checks a list of selectors at path: at least one, and
// none empty (an empty selector would match every asset; write key: "*"
// for that).
func (s *Scope) validateSelectors(path []any, sels []Selector) []error {
	if len(sels) == 0 {
		return []error{s.errorAt(path, "at least one selector is needed")}
	}
	var errs []error
	for i, sel := range sels {
		p := append(slices.Clone(path), i)
		if sel.empty() {
			errs = append(errs, s.errorAt(p, `an empty selector matches nothing; write key: "*" to match every asset`))
		}
		if sel.Kind != "" && !slices.Contains(assetKinds, model.AssetKind(sel.Kind)) {
			errs = append(errs, s.errorAt(append(p, "kind"), "kind %q is not an asset kind (%s)", sel.Kind, kindList()))
		}
		if sel.ARN != "" && !strings.HasPrefix(sel.ARN, "arn:") {
			errs = append(errs, s.errorAt(append(p, "arn"), "ARN pattern %q does not start with arn:", sel.ARN))
		}
	}
	return errs
}

func kindList() string {
	var b strings.Builder
	for i, k := range assetKinds {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, k)
	}
	return b.String()
}
