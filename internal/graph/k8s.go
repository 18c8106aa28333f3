package graph

import (
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
)

// The Kubernetes part of the graph: what a node, a namespace and an RBAC
// permission give, after KubeHound's attack catalogue. The estate (package
// estate/k8s) states the facts: every pod runs-on its node (the one a
// live pod names, else "any"), a pod mounts its node where a hostPath
// lets it read the node's credentials, escape.* labels where a setting
// lets its code run on the node, permissions as can relations on a
// namespace, the cluster or a named object.

// pCoLocated is the probability that a pod known from manifests, which
// do not say where it is scheduled, runs on the node an attacker took
// over: it depends on the cluster's size and the scheduler, which the
// estate does not show; one half says "perhaps" without pretending to
// know more. Live pods name their node and are certain.
const pCoLocated = 0.5

// k8sScopes indexes, by the local id of each namespace and cluster asset,
// what is inside: secrets, service accounts and workloads (a workload's
// kind kept for permissions on one workload resource); and by cluster,
// its nodes, namespaces and users and groups.
type k8sScopes struct {
	workloads  map[int32][]int32
	kinds      map[int32]string // workload → Kubernetes kind
	nodes      map[int32][]int32
	namespaces map[int32][]int32
	principals map[int32][]int32 // users and groups
}

// scopes indexes the Kubernetes objects of the set by the namespace and
// the cluster they are in, for permissions granted on a namespace or
// cluster: O(A) for A assets.
func (b *builder) scopes() {
	g, x := b.g, b.g.x
	local := func(key string) int32 {
		id, ok := x.ids[key]
		if !ok {
			return -1
		}
		return g.localOf(id)
	}
	for l, a := range g.assets {
		key := x.assets[a].key
		if !strings.HasPrefix(key, "k8s:") {
			continue
		}
		cluster, ns, kind, _, ok := model.ParseK8sKey(key)
		if !ok {
			continue
		}
		if b.scopeSecrets == nil {
			b.scopeSecrets, b.scopeSAs = map[int32][]int32{}, map[int32][]int32{}
			b.k8s = &k8sScopes{workloads: map[int32][]int32{}, kinds: map[int32]string{}, nodes: map[int32][]int32{},
				namespaces: map[int32][]int32{}, principals: map[int32][]int32{}}
		}
		c := local(model.K8sClusterKey(cluster))
		if ns == "" {
			if c < 0 {
				continue
			}
			switch kind {
			case "Node":
				b.k8s.nodes[c] = append(b.k8s.nodes[c], int32(l))
			case "Namespace":
				b.k8s.namespaces[c] = append(b.k8s.namespaces[c], int32(l))
			case "User", "Group":
				b.k8s.principals[c] = append(b.k8s.principals[c], int32(l))
			}
			continue
		}
		for _, s := range []int32{local(model.K8sNamespaceKey(cluster, ns)), c} {
			if s < 0 {
				continue
			}
			switch {
			case kind == "Secret":
				b.scopeSecrets[s] = append(b.scopeSecrets[s], int32(l))
			case kind == "ServiceAccount":
				b.scopeSAs[s] = append(b.scopeSAs[s], int32(l))
			case x.assets[a].kind == model.KindWorkload:
				b.k8s.workloads[s] = append(b.k8s.workloads[s], int32(l))
				b.k8s.kinds[int32(l)] = kind
			}
		}
	}
}

// visitK8s generates the ways of the Kubernetes rules whose source state
// is on asset a: a node's (node-takeover, host-read), a workload's
// (host-network) and a namespace's or cluster's (namespace-admin).
func (b *builder) visitK8s(a int32) {
	g, x := b.g, b.g.x
	rec := &x.assets[g.assets[a]]
	rels := x.in.Relations
	to := func(r int32) int32 { return g.localOf(x.relTo[r]) }
	switch rec.kind {
	case model.KindNode:
		anyNode := strings.HasSuffix(rec.key, "/Node/any")
		for _, r := range b.in(a) {
			if rels[r].Type != model.RelRunsOn {
				continue
			}
			w := g.localOf(x.relFrom[r])
			// The node "any" stands for every node of a cluster known
			// from manifests: a DaemonSet's pods are on each, another
			// pod on the one taken over only perhaps.
			co := 1.0
			if _, _, kind, _, _ := model.ParseK8sKey(x.assets[g.assets[w]].key); anyNode && kind != "DaemonSet" {
				co = pCoLocated
			}
			// Root on a node runs code in every container on it.
			b.way(a, Exec, ruleNodeTakeover, w, Exec, pCertain*co, -1, -1)
			// Its files hold their tokens and mounted secrets.
			for _, r2 := range b.out(w) {
				switch rels[r2].Type {
				case model.RelUsesIdentit:
					b.way(a, Read, ruleHostRead, to(r2), Identity, pNearCertain*co, b.relFact(r2), -1)
				case model.RelMounts:
					if t := to(r2); t != a && x.assets[g.assets[t]].kind == model.KindSecret {
						b.way(a, Read, ruleHostRead, t, Read, pNearCertain*co, b.relFact(r2), -1)
					}
				}
			}
		}
	case model.KindIdentity:
		// IRSA and the other workload identities: the service account's
		// token buys the cloud identity's credentials.
		if !strings.HasPrefix(rec.key, "k8s:") {
			break
		}
		for _, r := range b.out(a) {
			if rels[r].Type == model.RelUsesIdentit {
				b.way(a, Identity, ruleCloudIdentity, to(r), Identity, pNearCertain, b.relFact(r), -1)
			}
		}
	case model.KindWorkload:
		if !labelTrue(rec.labels, model.LabelHostNetwork) {
			break
		}
		for _, r := range b.out(a) {
			if rels[r].Type != model.RelRunsOn {
				continue
			}
			n := to(r)
			f := b.labelFact(a, model.LabelHostNetwork)
			b.way(a, Exec, ruleHostNetwork, n, Network, pCertain, f, -1)
			for _, r2 := range b.out(n) {
				if rels[r2].Type == model.RelUsesIdentit {
					b.way(a, Exec, ruleHostNetwork, to(r2), Identity, pIMDS, f, b.relFact(r2))
				}
			}
		}
	}
	if b.k8s == nil {
		return
	}
	// Admin of a namespace or the cluster: its secrets, service accounts
	// and workloads.
	for _, s := range b.scopeSecrets[a] {
		b.way(a, Admin, ruleNamespaceAdmin, s, Read, pCertain, -1, -1)
	}
	for _, s := range b.scopeSAs[a] {
		b.way(a, Admin, ruleNamespaceAdmin, s, Identity, pCertain, -1, -1)
	}
	for _, w := range b.k8s.workloads[a] {
		b.way(a, Admin, ruleNamespaceAdmin, w, Exec, pCertain, -1, -1)
	}
}

// connectTargets returns the assets a connects-to relation r reaches:
// its target, or, for a Kubernetes pod group (the cluster network, the
// pods of one ReplicaSet), the members it routes to.
func (b *builder) connectTargets(r int32) []int32 {
	g, x := b.g, b.g.x
	t := g.localOf(x.relTo[r])
	tk := &x.assets[g.assets[t]]
	if tk.kind != model.KindNetwork || !strings.Contains(tk.key, "/PodGroup/") {
		b.targets = append(b.targets[:0], t)
		return b.targets
	}
	b.targets = b.targets[:0]
	for _, r2 := range b.out(t) {
		if x.in.Relations[r2].Type == model.RelRoutesTo {
			b.targets = append(b.targets, g.localOf(x.relTo[r2]))
		}
	}
	return b.targets
}

// podSecurityForbidsPrivileged reports whether a namespace's Pod
// Security Admission labels reject privileged pods: enforce baseline or
// restricted.
func podSecurityForbidsPrivileged(labels map[string]string) bool {
	switch strings.ToLower(labels["pod-security.kubernetes.io/enforce"]) {
	case "baseline", "restricted":
		return true
	}
	return false
}

// workloadResources maps a workload resource to the kinds whose pods a
// patch or update of it controls; pods control every pod-bearing kind.
var workloadResources = map[string][]string{
	"deployments": {"Deployment"}, "daemonsets": {"DaemonSet"}, "statefulsets": {"StatefulSet"},
	"replicasets": {"ReplicaSet"}, "jobs": {"Job"}, "cronjobs": {"CronJob"},
	"replicationcontrollers": {"ReplicationController"},
}

// canK8s applies the Kubernetes RBAC rules to one relation a
// —can(action)→ t, where action is lower case "verb resource" or a bare
// verb, and t a namespace, the cluster or one object.
func (b *builder) canK8s(a, r, t int32, la string) {
	g, x := b.g, b.g.x
	f := b.relFact(r)
	verb, res, _ := strings.Cut(la, " ")
	all := la == "*"
	tk := x.assets[g.assets[t]]
	sc := b.k8s
	// POD_EXEC, POD_ATTACH: exec (create, or get over websockets) into
	// the pods of the scope.
	if sc != nil && (all || (verb == "create" || verb == "get" || verb == "*") && (res == "pods/exec" || res == "pods/attach")) {
		for _, w := range sc.workloads[t] {
			b.way(a, Identity, rulePodExec, w, Exec, pNearCertain, f, -1)
		}
	}
	// POD_PATCH: change the image or command of the scope's workloads.
	if sc != nil && !all && (verb == "patch" || verb == "update" || verb == "*") {
		kinds, ok := workloadResources[res]
		if ok || res == "pods" || res == "*" {
			for _, w := range sc.workloads[t] {
				if !ok || slicesContains(kinds, sc.kinds[w]) {
					b.way(a, Identity, rulePodExec, w, Exec, pNearCertain, f, -1)
					b.deployed(w, 3, func(c int32) { b.way(a, Identity, rulePodExec, c, Exec, pNearCertain, f, -1) })
				}
			}
		}
	}
	// POD_CREATE: a pod that mounts any service account of the scope,
	// and a privileged one that owns its node unless Pod Security
	// Admission forbids it.
	if (verb == "create" || verb == "*") && k8sPodCreators[res] || all {
		for _, sa := range b.scopeSAs[t] {
			b.way(a, Identity, rulePodCreate, sa, Identity, pNearCertain, f, -1)
		}
		if sc != nil {
			b.podCreateNode(a, t, f)
		}
	}
	// IDENTITY_IMPERSONATE: the identity named, or every service
	// account, user and group of the scope.
	if verb == "impersonate" || all {
		if tk.kind == model.KindIdentity {
			b.way(a, Identity, ruleImpersonate, t, Identity, pNearCertain, f, -1)
		}
		for _, sa := range b.scopeSAs[t] {
			b.way(a, Identity, ruleImpersonate, sa, Identity, pNearCertain, f, -1)
		}
		if sc != nil {
			for _, p := range sc.principals[t] {
				if p != a {
					b.way(a, Identity, ruleImpersonate, p, Identity, pNearCertain, f, -1)
				}
			}
		}
	}
	// ROLE_BIND: bind (or escalate, then bind what was written) with
	// create on role bindings in the same scope grants any role, so the
	// scope's administration.
	if verb == "bind" || verb == "escalate" {
		if tk.kind != model.KindIdentity {
			if rb := b.createsBindings(a, t); rb >= 0 {
				b.way(a, Identity, ruleRoleBind, t, Admin, pNearCertain, f, b.relFact(rb))
			}
		}
	}
	// nodes/proxy: the kubelet API of every node, which runs commands in
	// its pods.
	if sc != nil && res == "nodes/proxy" && (verb == "get" || verb == "create" || verb == "*") {
		for _, n := range sc.nodes[t] {
			b.way(a, Identity, ruleNodeProxy, n, Exec, pNearCertain, f, -1)
		}
	}
	// TokenRequest: a new token of any service account of the scope.
	if verb == "create" && res == "serviceaccounts/token" {
		for _, sa := range b.scopeSAs[t] {
			b.way(a, Identity, ruleTokenRequest, sa, Identity, pCertain, f, -1)
		}
		if tk.kind == model.KindIdentity {
			b.way(a, Identity, ruleTokenRequest, t, Identity, pCertain, f, -1)
		}
	}
}

// createsBindings returns a relation by which a may create role
// bindings on t (create, or *, on rolebindings, clusterrolebindings or
// every resource), or -1.
func (b *builder) createsBindings(a, t int32) int32 {
	x := b.g.x
	for _, r := range b.out(a) {
		rel := &x.in.Relations[r]
		if rel.Type != model.RelCan || b.g.localOf(x.relTo[r]) != t {
			continue
		}
		verb, res, _ := strings.Cut(strings.ToLower(strings.TrimSpace(rel.Action)), " ")
		if verb == "*" && res == "" || (verb == "create" || verb == "*") && (res == "rolebindings" || res == "clusterrolebindings" || res == "*") {
			return r
		}
	}
	return -1
}

// deployed calls fn for the live objects a controller deploys (a
// Deployment's ReplicaSets, their pods), depth levels down.
func (b *builder) deployed(w int32, depth int, fn func(int32)) {
	if depth == 0 {
		return
	}
	g, x := b.g, b.g.x
	for _, r := range b.out(w) {
		if x.in.Relations[r].Type == model.RelDeploys {
			c := g.localOf(x.relTo[r])
			fn(c)
			b.deployed(c, depth-1, fn)
		}
	}
}

// podCreateNode adds the privileged-pod way to the node(s) of the
// cluster t is in (or is) when a namespace of the scope admits
// privileged pods.
func (b *builder) podCreateNode(a, t int32, f int32) {
	g, x := b.g, b.g.x
	tk := x.assets[g.assets[t]]
	cluster, _, kind, _, ok := model.ParseK8sKey(tk.key)
	if !ok {
		return
	}
	cid, ok := x.ids[model.K8sClusterKey(cluster)]
	if !ok {
		return
	}
	c := g.localOf(cid)
	if c < 0 {
		return
	}
	admits := false
	switch kind {
	case "Namespace":
		admits = !podSecurityForbidsPrivileged(tk.labels)
	case "Cluster":
		nss := b.k8s.namespaces[c]
		admits = len(nss) == 0
		for _, n := range nss {
			if !podSecurityForbidsPrivileged(x.assets[g.assets[n]].labels) {
				admits = true
			}
		}
	}
	if !admits {
		return
	}
	for _, n := range b.k8s.nodes[c] {
		b.way(a, Identity, rulePodCreate, n, Exec, pNearCertain, f, -1)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// notEscapes are escape.* labels of stored estates that the estate no
// longer sets, since they give no code execution on the node by
// themselves: hostNetwork (see the host-network rule) and hostIPC.
var notEscapes = map[string]bool{"escape.host-network": true, "escape.host-ipc": true}
