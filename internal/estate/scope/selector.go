package scope

import (
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// Selector picks assets. Every field that is set must match (an empty
// field matches anything); a list of selectors matches an asset when one
// of them does. Patterns are globs in which "*" matches any run of
// characters, slashes included, and "?" one character; matching is
// case-sensitive. An empty selector matches nothing.
type Selector struct {
	// Kind is an asset kind (workload, image, repository...).
	Kind string `yaml:"kind"`
	// Key is a glob on the asset's canonical key.
	Key string `yaml:"key"`
	// Name is a glob on the asset's display name.
	Name string `yaml:"name"`
	// Labels must all be present on the asset, each value matching its
	// glob.
	Labels map[string]string `yaml:"labels"`
	// Namespace is a glob on the asset's "namespace" label (Kubernetes).
	Namespace string `yaml:"namespace"`
	// Repository is a source repository URL or key; it matches the
	// repository asset itself and every asset whose
	// org.opencontainers.image.source label names that repository.
	Repository string `yaml:"repository"`
	// ARN is a glob on assets keyed by an ARN ("arn:aws:s3:::prod-*").
	ARN string `yaml:"arn"`
}

// ImageSourceLabel is the OCI image label that names an image's source
// repository.
const ImageSourceLabel = "org.opencontainers.image.source"

func (sel Selector) empty() bool {
	return sel.Kind == "" && sel.Key == "" && sel.Name == "" && len(sel.Labels) == 0 &&
		sel.Namespace == "" && sel.Repository == "" && sel.ARN == ""
}

// Match reports whether the selector matches a. A nil asset matches
// nothing.
func (sel Selector) Match(a *model.Asset) bool {
	if a == nil || sel.empty() {
		return false
	}
	if sel.Kind != "" && string(a.Kind) != sel.Kind {
		return false
	}
	if sel.Key != "" && !Glob(sel.Key, a.Key) {
		return false
	}
	if sel.Name != "" && !Glob(sel.Name, a.Name) {
		return false
	}
	for k, v := range sel.Labels {
		got, ok := a.Labels[k]
		if !ok || !Glob(v, got) {
			return false
		}
	}
	if sel.Namespace != "" {
		ns, ok := a.Labels["namespace"]
		if !ok || !Glob(sel.Namespace, ns) {
			return false
		}
	}
	if sel.Repository != "" {
		want := model.RepoKey(strings.TrimPrefix(sel.Repository, "repo:"))
		src, ok := a.Labels[ImageSourceLabel]
		if a.Key != want && (!ok || model.RepoKey(src) != want) {
			return false
		}
	}
	if sel.ARN != "" && (!strings.HasPrefix(a.Key, "arn:") || !Glob(sel.ARN, a.Key)) {
		return false
	}
	return true
}

// matchAny reports whether one of sels matches a.
func matchAny(sels []Selector, a *model.Asset) bool {
	for _, s := range sels {
		if s.Match(a) {
			return true
		}
	}
	return false
}

// Glob reports whether s matches pattern, in which "*" matches any run of
// characters (slashes included) and "?" any one character. It runs in
// O(len(pattern)·len(s)) time at worst, with no backtracking blow-up.
func Glob(pattern, s string) bool {
	p, n := []rune(pattern), []rune(s)
	pi, ni := 0, 0
	star, mark := -1, 0
	for ni < len(n) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == n[ni]):
			pi++
			ni++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ni
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ni = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// Annotation is what a scope says about one asset.
type Annotation struct {
	// Owner is the team of the first matching ownership rule, else the
	// owner of the asset's service.
	Owner string
	// Service is the first business service whose selectors match.
	Service string
	// Criticality is that service's criticality.
	Criticality string
	// Environment is the first matching environment's name.
	Environment string
	// CrownJewel is the most valuable crown jewel matching the asset (the
	// first of equals), or nil when the asset is none.
	CrownJewel *CrownJewel
	// Public reports whether the scope declares the asset meant to be
	// reachable from the internet (Scope.Public).
	Public bool
}

// Apply returns what the scope says about a: owner, service, criticality,
// environment and crown jewel. A nil scope or asset gives the zero
// Annotation.
func (s *Scope) Apply(a *model.Asset) Annotation {
	var an Annotation
	if s == nil || a == nil {
		return an
	}
	for _, sv := range s.Services {
		if matchAny(sv.Match, a) {
			an.Service, an.Criticality, an.Owner = sv.Name, sv.Criticality, sv.Owner
			break
		}
	}
	for _, r := range s.Ownership {
		if matchAny(r.Match, a) {
			an.Owner = r.Team
			break
		}
	}
	for _, e := range s.Environments {
		if matchAny(e.Match, a) {
			an.Environment = e.Name
			break
		}
	}
	an.Public = matchAny(s.Public, a)
	for i := range s.CrownJewels {
		cj := &s.CrownJewels[i]
		if matchAny(cj.Match, a) && (an.CrownJewel == nil || cj.Value > an.CrownJewel.Value) {
			an.CrownJewel = cj
		}
	}
	return an
}
