package k8s

import (
	"slices"

	"github.com/ctem-dev/ctem/internal/model"
)

// builtinRoles approximate the default ClusterRoles that manifests bind
// without defining. admin and edit are reduced to the permissions that
// matter for attack paths.
var builtinRoles = map[string][]policyRule{
	"cluster-admin": {{Verbs: []string{"*"}, Resources: []string{"*"}}},
	"admin": {
		{Verbs: []string{"*"}, Resources: []string{"pods", "pods/exec", "secrets", "configmaps", "serviceaccounts", "deployments", "services"}},
		{Verbs: []string{"create"}, Resources: []string{"rolebindings", "roles"}},
		{Verbs: []string{"impersonate"}, Resources: []string{"serviceaccounts"}},
	},
	"edit": {
		{Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}, Resources: []string{"pods", "pods/exec", "secrets", "configmaps", "deployments", "services"}},
		{Verbs: []string{"impersonate"}, Resources: []string{"serviceaccounts"}},
	},
	"view": {{Verbs: []string{"get", "list", "watch"}, Resources: []string{"pods", "services", "configmaps", "deployments"}}},
}

// BuiltinRoleActions returns the actions of the can relations that a
// binding to the default ClusterRole name (cluster-admin, admin, edit,
// view) gives, as Parse writes them; nil for another name. EKS access
// policies stand for these roles.
func BuiltinRoleActions(name string) []string {
	var out []string
	for _, r := range builtinRoles[name] {
		for _, verb := range r.Verbs {
			for _, res := range r.Resources {
				if a := action(verb, res); !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// escalationVerbs grant escalation whatever the resource, so their action
// is the verb alone.
var escalationVerbs = []string{"bind", "escalate", "impersonate"}

// action names one permission: "get secrets", "create pods/exec", "bind",
// "escalate", "impersonate", or "*" for every verb on every resource.
func action(verb, resource string) string {
	switch {
	case slices.Contains(escalationVerbs, verb):
		return verb
	case verb == "*" && resource == "*":
		return "*"
	}
	return verb + " " + resource
}

// rbacRelations emits identity —can(action)→ target for each subject of
// each binding and each verb and resource of the bound role's rules. The
// target is the binding's namespace, the cluster for a ClusterRoleBinding,
// or the secrets a rule names in resourceNames.
func (p *parser) rbacRelations() error {
	for _, b := range p.bindings {
		rules, ok := p.roles[roleID(b.Ref.Kind, b.ns, b.Ref.Name)]
		if !ok && b.Ref.Kind == "ClusterRole" {
			rules, ok = builtinRoles[b.Ref.Name]
		}
		if !ok {
			continue // the role is not in this input
		}
		target := p.clusterKey
		if b.ns != "" {
			target = NamespaceKey(p.cluster, b.ns)
			if err := p.asset(model.Asset{Key: target, Kind: model.KindResource, Name: b.ns}, b.src); err != nil {
				return err
			}
		}
		for _, s := range b.Subjects {
			id, err := p.subject(b, s)
			if err != nil {
				return err
			}
			if id == "" {
				continue
			}
			for _, r := range rules {
				for _, verb := range r.Verbs {
					for _, res := range r.Resources {
						targets := []string{target}
						if res == "secrets" && len(r.ResourceNames) > 0 {
							targets = p.namedSecrets(b.ns, r.ResourceNames)
						}
						for _, t := range targets {
							if err := p.rel(b.src, id, t, model.RelCan, action(verb, res)); err != nil {
								return err
							}
						}
					}
				}
			}
		}
	}
	return nil
}

// subject returns the identity key of a binding subject, emitting users
// and groups (which no manifest defines) as identity assets.
func (p *parser) subject(b *binding, s subject) (string, error) {
	switch s.Kind {
	case "ServiceAccount":
		ns := s.Namespace
		if ns == "" {
			ns = b.ns
		}
		if ns == "" {
			ns = "default"
		}
		return p.key(ns, "ServiceAccount", s.Name), nil
	case "User", "Group":
		key := p.key("", s.Kind, s.Name)
		return key, p.asset(model.Asset{Key: key, Kind: model.KindIdentity, Name: s.Name}, b.src)
	}
	return "", nil
}

// namedSecrets returns the keys of secrets a rule names: in the binding's
// namespace, or for a ClusterRoleBinding in every namespace where this
// input defines one by that name (the cluster when none).
func (p *parser) namedSecrets(ns string, names []string) []string {
	var out []string
	for _, n := range names {
		if ns != "" {
			out = append(out, p.key(ns, "Secret", n))
			continue
		}
		found := false
		for _, s := range p.secrets {
			if s.name == n {
				out = append(out, p.key(s.ns, "Secret", n))
				found = true
			}
		}
		if !found {
			out = append(out, p.clusterKey)
		}
	}
	return out
}
