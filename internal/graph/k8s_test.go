package graph

import (
	"testing"

	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

// TestK8sRules checks each Kubernetes rule on a minimal estate and its
// negative twin, the same estate without the enabling fact (negFrom,
// when set, is the twin's source state).
func TestK8sRules(t *testing.T) {
	t.Parallel()
	const (
		ns    = "k8s:c//Namespace/ns"
		other = "k8s:c//Namespace/other"
		cl    = "k8s:c//Cluster/c"
		sa    = "k8s:c/ns/ServiceAccount/app"
		sec   = "k8s:c/ns/Secret/s"
		wl    = "k8s:c/ns/Deployment/web"
		node  = "k8s:c//Node/any"
		alice = "k8s:c//User/alice"
		dev   = "k8s:c//User/dev"
		cm    = "k8s:c/ns/ConfigMap/x"
		hub   = "k8s:c//PodGroup/cluster-network"
		db    = "k8s:c/ns/StatefulSet/db"
	)
	base := []model.Asset{asset(ns, model.KindResource), asset(other, model.KindResource), asset(cl, model.KindCluster),
		asset(sa, model.KindIdentity), asset(sec, model.KindSecret), asset(wl, model.KindWorkload), asset(node, model.KindNode),
		asset(alice, model.KindIdentity), asset(dev, model.KindIdentity), asset(cm, model.KindResource)}
	with := func(extra ...model.Asset) []model.Asset { return append(append([]model.Asset{}, extra...), base...) }
	runsOn := rel(wl, model.RelRunsOn, node)
	can := func(to, action string) model.Relation { return rel(dev, model.RelCan, to, action) }
	in := func(rels ...model.Relation) Input {
		return Input{Assets: base, Relations: append([]model.Relation{runsOn}, rels...)}
	}
	tests := []struct {
		rule     string
		pos, neg Input
		from, to State
		negFrom  *State
	}{
		{"node-takeover", in(), Input{Assets: base, Relations: []model.Relation{rel(wl, model.RelConnectsTo, node)}}, st(Exec, node), st(Exec, wl), nil},
		{"host-read", in(rel(wl, model.RelUsesIdentit, sa)), in(), st(Read, node), st(Identity, sa), nil},
		{"host-read", in(rel(wl, model.RelMounts, sec)), Input{Assets: base, Relations: []model.Relation{rel(wl, model.RelMounts, sec)}}, st(Read, node), st(Read, sec), nil},
		{"host-network",
			Input{Assets: with(asset(wl, model.KindWorkload, model.LabelHostNetwork, "true")), Relations: []model.Relation{runsOn, rel(node, model.RelUsesIdentit, "role:node")}},
			Input{Assets: base, Relations: []model.Relation{runsOn, rel(node, model.RelUsesIdentit, "role:node")}},
			st(Exec, wl), st(Identity, "role:node"), nil},
		{"namespace-admin", in(), in(), st(Admin, ns), st(Read, sec), &State{Admin, cm}},
		{"namespace-admin", in(), in(), st(Admin, cl), st(Exec, wl), &State{Admin, other}},
		{"pod-exec", in(can(ns, "create pods/exec")), in(can(ns, "get pods")), st(Identity, dev), st(Exec, wl), nil},
		{"pod-exec", in(can(ns, "patch deployments")), in(can(ns, "patch daemonsets")), st(Identity, dev), st(Exec, wl), nil},
		{"pod-create", in(can(ns, "create pods")), in(can(ns, "get pods")), st(Identity, dev), st(Identity, sa), nil},
		{"pod-create", in(can(ns, "create deployments")),
			Input{Assets: with(asset(ns, model.KindResource, "pod-security.kubernetes.io/enforce", "baseline")), Relations: []model.Relation{runsOn, can(ns, "create deployments")}},
			st(Identity, dev), st(Exec, node), nil},
		{"impersonation", in(can(cl, "impersonate")), in(can(ns, "impersonate")), st(Identity, dev), st(Identity, alice), nil},
		{"role-bind", in(can(ns, "bind"), can(ns, "create rolebindings")), in(can(ns, "bind")), st(Identity, dev), st(Admin, ns), nil},
		{"node-proxy", in(can(cl, "get nodes/proxy")), in(can(cl, "get nodes")), st(Identity, dev), st(Exec, node), nil},
		{"injection-into-data-store", // through the cluster network to the pods it routes to
			Input{Assets: with(asset(hub, model.KindNetwork)), Relations: []model.Relation{rel(wl, model.RelConnectsTo, hub), rel(hub, model.RelRoutesTo, db)}, Weaknesses: []Weakness{weak("sqli", wl, model.FindingCode, effect.Write)}},
			Input{Assets: with(asset(hub, model.KindNetwork)), Relations: []model.Relation{rel(wl, model.RelConnectsTo, hub), rel(hub, model.RelRoutesTo, wl)}, Weaknesses: []Weakness{weak("sqli", wl, model.FindingCode, effect.Write)}},
			st(Network, wl), st(Write, db), nil},
		{"cloud-identity", in(rel(sa, model.RelUsesIdentit, "arn:aws:iam::1:role/r")), in(rel(sa, model.RelMemberOf, "arn:aws:iam::1:role/r")), st(Identity, sa), st(Identity, "arn:aws:iam::1:role/r"), nil},
		{"token-request", in(can(ns, "create serviceaccounts/token")), in(can(ns, "get serviceaccounts")), st(Identity, dev), st(Identity, sa), nil},
	}
	for _, tt := range tests {
		t.Run(tt.rule+"/"+tt.to.String(), func(t *testing.T) {
			t.Parallel()
			if !hasEdge(Build(&tt.pos), tt.from, tt.to, tt.rule) {
				t.Errorf("Build() edge %s -[%s]-> %s = missing, want present", tt.from, tt.rule, tt.to)
			}
			from := tt.from
			if tt.negFrom != nil {
				from = *tt.negFrom
			}
			if hasEdge(Build(&tt.neg), from, tt.to, tt.rule) {
				t.Errorf("Build() without the enabling fact: edge %s -[%s]-> %s = present, want missing", from, tt.rule, tt.to)
			}
		})
	}
}

// TestNodeTakeoverCoLocation checks the probability of node-takeover:
// certain on a named node and for a DaemonSet, one half from the node
// "any" of manifests for other workloads.
func TestNodeTakeoverCoLocation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		node, wl string
		want     float64
	}{
		{"k8s:c//Node/ip-10-0-0-1", "k8s:c/ns/Pod/web-1", 1},
		{"k8s:c//Node/any", "k8s:c/ns/DaemonSet/agent", 1},
		{"k8s:c//Node/any", "k8s:c/ns/Deployment/web", pCoLocated},
	}
	for _, tt := range tests {
		g := Build(&Input{Assets: []model.Asset{asset(tt.node, model.KindNode), asset(tt.wl, model.KindWorkload)},
			Relations: []model.Relation{rel(tt.wl, model.RelRunsOn, tt.node)}})
		got := -1.0
		g.Out(g.StateID(st(Exec, tt.node)), func(to int32, rule string, p float64) {
			if rule == "node-takeover" && g.State(to) == st(Exec, tt.wl) {
				got = p
			}
		})
		if got != tt.want {
			t.Errorf("node-takeover %s -> %s probability = %v, want %v", tt.node, tt.wl, got, tt.want)
		}
	}
}
