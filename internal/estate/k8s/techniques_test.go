package k8s_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/estate/k8s"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

// The minimal estates of the techniques: a web pod whose image has a
// remote code execution (entry: the internal network), a db pod on the
// same node that mounts the db-creds secret, and the node's cloud role.
const (
	webPod = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec:
  serviceAccountName: web
  containers: [{name: web, image: "web:1"%s}]
%s`
	dbPod = `
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
spec:
  serviceAccountName: db
  containers: [{name: db, image: "db:1", volumeMounts: [{name: creds, mountPath: /creds}]}]
  volumes: [{name: creds, secret: {secretName: db-creds}}]
---
apiVersion: v1
kind: Secret
metadata: {name: db-creds, namespace: prod}
type: Opaque
`
	devRole = `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: %s
metadata: {name: dev, namespace: prod}
rules: [{apiGroups: ["*"], resources: [%s], verbs: [%s]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: %sBinding
metadata: {name: dev, namespace: prod}
subjects: [{kind: User, name: dev}]
roleRef: {kind: %s, name: dev}
`
	secretReader = `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secret-reader}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: %[1]s-reads-secrets}
subjects: [{kind: ServiceAccount, name: %[1]s, namespace: %[2]s}]
roleRef: {kind: ClusterRole, name: secret-reader}
`
)

const (
	secretJewel = "k8s:c/prod/Secret/db-creds"
	roleJewel   = "arn:aws:iam::111122223333:role/node"
	nodeAny     = "k8s:c//Node/any"
)

// web returns the web pod with extra container fields and pod spec
// lines (indented by two spaces).
func web(container, spec string) string { return sprintf(webPod, container, spec) }

func devCan(kind, resources, verbs string) string {
	return sprintf(devRole, kind, resources, verbs, kind, kind)
}

// techniques are KubeHound's attacks (and the settings that stop them),
// each a minimal estate with the rule its path must take and a negative
// twin without the enabling setting, which has no path to the jewel.
// docs/kubernetes-techniques.md lists them.
var techniques = []struct {
	id, rule    string
	yaml, twin  string
	rce         bool   // a remote code execution in web's image, entry the internal network
	stolen      string // else: the identity assumed stolen
	jewel       string
	noTwinPaths bool
}{
	{"CE_PRIV_MOUNT", "escape", web(", securityContext: {privileged: true}", "") + dbPod, web("", "") + dbPod, true, "", roleJewel, false},
	{"CE_NSENTER", "escape", web(", securityContext: {privileged: true}", "  hostPID: true") + dbPod, web("", "  hostPID: true") + dbPod, true, "", roleJewel, false},
	{"CE_SYS_PTRACE", "escape", web(", securityContext: {capabilities: {add: [SYS_PTRACE]}}", "  hostPID: true") + dbPod, web(", securityContext: {capabilities: {add: [SYS_PTRACE]}}", "") + dbPod, true, "", roleJewel, false},
	{"CE_MODULE_LOAD", "escape", web(", securityContext: {capabilities: {add: [SYS_MODULE]}}", "") + dbPod, web(", securityContext: {capabilities: {add: [NET_ADMIN]}}", "") + dbPod, true, "", roleJewel, false},
	{"CE_UMH_CORE_PATTERN", "escape", web(", volumeMounts: [{name: p, mountPath: /host/proc}]", "  volumes: [{name: p, hostPath: {path: /proc/sys/kernel}}]") + dbPod,
		web(", volumeMounts: [{name: p, mountPath: /host/proc, readOnly: true}]", "  volumes: [{name: p, hostPath: {path: /proc/sys/kernel}}]") + dbPod, true, "", roleJewel, false},
	{"EXPLOIT_HOST_WRITE", "escape", web(", volumeMounts: [{name: h, mountPath: /host}]", "  volumes: [{name: h, hostPath: {path: /}}]") + dbPod,
		web(", volumeMounts: [{name: h, mountPath: /data}]", "  volumes: [{name: h, hostPath: {path: /srv/data}}]") + dbPod, true, "", roleJewel, false},
	{"EXPLOIT_CONTAINERD_SOCK", "escape", web(", volumeMounts: [{name: s, mountPath: /run/containerd/containerd.sock, readOnly: true}]", "  volumes: [{name: s, hostPath: {path: /run/containerd/containerd.sock}}]") + dbPod,
		web(", volumeMounts: [{name: s, mountPath: /cache, readOnly: true}]", "  volumes: [{name: s, hostPath: {path: /var/cache/app}}]") + dbPod, true, "", roleJewel, false},
	{"EXPLOIT_HOST_READ", "host-read", web(", volumeMounts: [{name: k, mountPath: /kubelet, readOnly: true}]", "  volumes: [{name: k, hostPath: {path: /var/lib/kubelet}}]") + dbPod,
		web(", volumeMounts: [{name: k, mountPath: /logs, readOnly: true}]", "  volumes: [{name: k, hostPath: {path: /var/log}}]") + dbPod, true, "", secretJewel, false},
	{"EXPLOIT_HOST_TRAVERSE", "host-read", web(", volumeMounts: [{name: k, mountPath: /kubelet, readOnly: true}]", "  volumes: [{name: k, hostPath: {path: /var/lib/kubelet/pods}}]") + dbPod + sprintf(secretReader, "db", "prod"),
		web("", "  volumes: [{name: k, hostPath: {path: /var/lib/kubelet/pods}}]") + dbPod + sprintf(secretReader, "db", "prod"), true, "", secretJewel, false},
	{"CE_VAR_LOG_SYMLINK", "host-read", web(", volumeMounts: [{name: l, mountPath: /var/log/host}]", "  volumes: [{name: l, hostPath: {path: /var/log}}]") + dbPod,
		web(", volumeMounts: [{name: l, mountPath: /var/log/host, readOnly: true}]", "  volumes: [{name: l, hostPath: {path: /var/log}}]") + dbPod, true, "", secretJewel, false},
	{"hostNetwork (metadata service)", "host-network", web("", "  hostNetwork: true") + dbPod, web("", "  hostIPC: true") + dbPod, true, "", roleJewel, false},
	{"POD_EXEC", "pod-exec", web("", "") + dbPod + devCan("Role", "pods/exec", "create"), web("", "") + dbPod + devCan("Role", "pods", "get, list"), false, "k8s:c//User/dev", secretJewel, false},
	{"POD_ATTACH", "pod-exec", web("", "") + dbPod + devCan("Role", "pods/attach", "create"), web("", "") + dbPod + devCan("Role", "pods/log", "get"), false, "k8s:c//User/dev", secretJewel, false},
	{"POD_PATCH", "pod-exec", web("", "") + dbPod + devCan("Role", "pods", "patch"), web("", "") + dbPod + devCan("Role", "deployments", "patch"), false, "k8s:c//User/dev", secretJewel, false},
	{"POD_CREATE", "pod-create", web("", "") + dbPod + devCan("Role", "pods", "create"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: prod, labels: {pod-security.kubernetes.io/enforce: baseline}}\n---\n" + web("", "") + dbPod + devCan("Role", "pods", "create"), false, "k8s:c//User/dev", roleJewel, false},
	{"ROLE_BIND", "role-bind", web("", "") + dbPod + devCan("Role", "roles, rolebindings", "bind, create"), web("", "") + dbPod + devCan("Role", "roles", "bind"), false, "k8s:c//User/dev", secretJewel, false},
	{"IDENTITY_IMPERSONATE", "impersonation", web("", "") + dbPod + devCan("ClusterRole", "serviceaccounts, users, groups", "impersonate") + sprintf(secretReader, "web", "prod"),
		web("", "") + dbPod + devCan("ClusterRole", "serviceaccounts, users, groups", "get") + sprintf(secretReader, "web", "prod"), false, "k8s:c//User/dev", secretJewel, false},
	{"TOKEN_LIST", "leaked-credential", web("", "") + dbPod + sprintf(secretReader, "web", "prod") + "\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: admin-token, namespace: kube-system, annotations: {kubernetes.io/service-account.name: admin}}\ntype: kubernetes.io/service-account-token\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: admin}\nsubjects: [{kind: ServiceAccount, name: admin, namespace: kube-system}]\nroleRef: {kind: ClusterRole, name: cluster-admin}\n" + devCan("ClusterRole", "secrets", "list"),
		web("", "") + dbPod + "\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: admin-token, namespace: kube-system}\ntype: Opaque\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: admin}\nsubjects: [{kind: ServiceAccount, name: admin, namespace: kube-system}]\nroleRef: {kind: ClusterRole, name: cluster-admin}\n" + devCan("ClusterRole", "pods", "list"), false, "k8s:c//User/dev", roleJewel, false},
	{"nodes/proxy", "node-proxy", web("", "") + dbPod + devCan("ClusterRole", "nodes/proxy", "get"), web("", "") + dbPod + devCan("ClusterRole", "nodes", "get"), false, "k8s:c//User/dev", roleJewel, false},
	{"serviceaccounts/token", "token-request", web("", "") + dbPod + devCan("Role", "serviceaccounts/token", "create") + sprintf(secretReader, "db", "prod"), web("", "") + dbPod + devCan("Role", "serviceaccounts", "get") + sprintf(secretReader, "db", "prod"), false, "k8s:c//User/dev", secretJewel, false},
	{"admin of a namespace", "namespace-admin", web("", "") + dbPod + "\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: dev-admin, namespace: prod}\nsubjects: [{kind: User, name: dev}]\nroleRef: {kind: ClusterRole, name: cluster-admin}\n",
		web("", "") + dbPod + "\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: dev-view, namespace: prod}\nsubjects: [{kind: User, name: dev}]\nroleRef: {kind: ClusterRole, name: view}\n", false, "k8s:c//User/dev", secretJewel, false},
	{"automountServiceAccountToken (pod)", "workload-identity", web("", "") + dbPod + sprintf(secretReader, "web", "prod"), web("", "  automountServiceAccountToken: false") + dbPod + sprintf(secretReader, "web", "prod"), true, "", secretJewel, false},
	{"automountServiceAccountToken (service account)", "workload-identity", web("", "") + dbPod + sprintf(secretReader, "web", "prod"), web("", "") + dbPod + sprintf(secretReader, "web", "prod") + "\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: prod}\nautomountServiceAccountToken: false\n", true, "", secretJewel, false},
	{"IRSA (eks.amazonaws.com/role-arn)", "cloud-identity", web("", "") + dbPod + irsa("eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/s3-reader"), web("", "") + dbPod + irsa("eks.amazonaws.com/audience: sts.amazonaws.com"), true, "", "arn:aws:iam::111122223333:role/s3-reader", false},
	{"GKE workload identity", "cloud-identity", web("", "") + dbPod + irsa("iam.gke.io/gcp-service-account: reader@proj.iam.gserviceaccount.com"), web("", "") + dbPod + irsa("iam.gke.io/other: x"), true, "", k8s.GCPServiceAccountPrefix + "reader@proj.iam.gserviceaccount.com", false},
	{"aws-auth mapRoles system:masters", "membership", web("", "") + dbPod + awsAuth("system:masters"), web("", "") + dbPod + awsAuth("viewers"), false, "arn:aws:iam::111122223333:role/ci", secretJewel, false},
	{"NetworkPolicy default deny", "remote-code-execution", web("", "") + dbPod + sprintf(secretReader, "web", "prod"), web("", "") + dbPod + sprintf(secretReader, "web", "prod") + "\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: prod}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n", true, "", secretJewel, false},
}

// irsa is the web pod's service account with one annotation.
func irsa(annotation string) string {
	return "\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: prod, annotations: {" + annotation + "}}\n"
}

// awsAuth is an aws-auth ConfigMap mapping the ci role to group.
func awsAuth(group string) string {
	return "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\ndata:\n  mapRoles: |\n    - rolearn: arn:aws:iam::111122223333:role/ci\n      username: ci\n      groups: [" + group + "]\n"
}

func sprintf(format string, args ...any) string { return fmtSprintf(format, args...) }

// analyseManifests parses one YAML stream as cluster c, correlates it,
// joins the node to its cloud role, and analyses it.
func analyseManifests(t *testing.T, yaml string, rce bool, stolen, jewel string) *graph.Result {
	t.Helper()
	r, err := ingesttest.ParseBytes(k8s.Format, "estate.yaml", []byte(yaml), ingest.Options{Target: "c"})
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	rels := append(r.Relations, model.Relation{From: nodeAny, To: roleJewel, Type: model.RelUsesIdentit, Source: "inventory"})
	es := estate.Build(r.Assets, rels, nil)
	in := &graph.Input{Assets: es.Sorted(), Relations: es.Relations, Jewels: []graph.Jewel{{Asset: jewel, Value: 10}}}
	if rce {
		in.Entries = []graph.Entry{{Kind: graph.EntryInternalNetwork}}
		in.Weaknesses = []graph.Weakness{{Exposure: model.Exposure{ID: "rce", Asset: "image:docker.io/library/web:1", Kind: model.FindingVulnerability, RuleID: "CVE-0000-0001"},
			Effect: effect.Result{Effect: effect.Exec, Confidence: effect.High}}}
	} else {
		in.Entries = []graph.Entry{{Kind: graph.EntryIdentity, Identity: stolen}}
	}
	res, err := graph.Analyze(in, graph.Options{K: 10})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func summary(p graph.Path) string {
	var b strings.Builder
	b.WriteString(p.Entry)
	for _, s := range p.Steps {
		b.WriteString(" -[" + s.Rule + "]-> " + s.To)
	}
	return b.String()
}

// TestTechniques checks each technique's estate has a path to its jewel
// through the technique's rule, and its twin none.
func TestTechniques(t *testing.T) {
	t.Parallel()
	for _, tt := range techniques {
		t.Run(tt.id, func(t *testing.T) {
			t.Parallel()
			res := analyseManifests(t, tt.yaml, tt.rce, tt.stolen, tt.jewel)
			var all []string
			found := false
			for _, p := range res.Paths {
				all = append(all, summary(p))
				for _, s := range p.Steps {
					if s.Rule == tt.rule {
						found = true
					}
				}
			}
			if len(all) > 0 {
				t.Logf("%s", all[0])
			}
			if !found {
				t.Errorf("Analyze() paths to %s = %q, want one through %s", tt.jewel, all, tt.rule)
			}
			twin := analyseManifests(t, tt.twin, tt.rce, tt.stolen, tt.jewel)
			for _, p := range twin.Paths {
				t.Errorf("Analyze() of the twin: path %s, want none", summary(p))
			}
		})
	}
}

var fmtSprintf = fmt.Sprintf

// TestOnlineBoutiquePoliciesBlockPaths analyses Online Boutique with a
// remote code execution in every image, from the internal network, to
// the cart's Redis, with and without its network policies: without them
// every pod is an entry and Redis is reached directly; with them only the
// pods the policies open to everyone (the frontend and the load
// generator) and the frontend's services are entries, every lateral step is one a policy admits, and
// the paths that went around them are gone.
func TestOnlineBoutiquePoliciesBlockPaths(t *testing.T) {
	t.Parallel()
	const redis = "k8s:boutique/default/Deployment/redis-cart"
	analyse := func(path string) (*graph.Result, *estate.Estate) {
		r := ingesttest.Parse(t, k8s.Format, path, ingest.Options{Target: "boutique"})
		es := estate.Build(r.Assets, r.Relations, nil)
		in := &graph.Input{Assets: es.Sorted(), Relations: es.Relations, Entries: []graph.Entry{{Kind: graph.EntryInternalNetwork}},
			Jewels: []graph.Jewel{{Asset: redis, Value: 10}}}
		for _, k := range es.Keys {
			if es.Assets[k].Kind == model.KindImage {
				in.Weaknesses = append(in.Weaknesses, graph.Weakness{Exposure: model.Exposure{ID: "rce " + k, Asset: k, Kind: model.FindingVulnerability, RuleID: "rce"},
					Effect: effect.Result{Effect: effect.Exec, Confidence: effect.High}})
			}
		}
		res, err := graph.Analyze(in, graph.Options{K: 20})
		if err != nil {
			t.Fatal(err)
		}
		return res, es
	}
	open, _ := analyse(manifests)
	closed, es := analyse(withPolicies(t))
	direct := func(res *graph.Result) bool {
		for _, p := range res.Paths {
			if p.Entry == "network:"+redis {
				return true
			}
		}
		return false
	}
	if !direct(open) {
		t.Errorf("without policies: no path enters at Redis; want one")
	}
	if direct(closed) || len(closed.Paths) == 0 {
		t.Errorf("with policies: %d paths, direct to Redis %v; want some, none direct", len(closed.Paths), direct(closed))
	}
	allowed := map[string]bool{}
	for _, r := range es.Relations {
		if r.Type == model.RelConnectsTo {
			allowed[r.From+" "+r.To] = true
		}
	}
	for _, p := range closed.Paths {
		name := p.Entry[strings.LastIndex(p.Entry, "/")+1:]
		if name != "frontend" && name != "frontend-external" && name != "loadgenerator" {
			t.Errorf("with policies: path %s enters at %s, which the policies isolate", summary(p), name)
		}
		for _, s := range p.Steps {
			if s.Rule == "lateral-movement" && !allowed[strings.TrimPrefix(s.From, "exec:")+" "+strings.TrimPrefix(s.To, "network:")] {
				t.Errorf("with policies: path %s takes a step %s -> %s no policy admits", summary(p), s.From, s.To)
			}
		}
	}
	t.Logf("paths to redis-cart: %d without policies, %d with; e.g. %s", len(open.Paths), len(closed.Paths), summary(closed.Paths[0]))
}

// TestEgressAcrossNamespaces checks that a pod whose egress policies
// admit another namespace (by namespaceSelector) reaches the pods there
// that no ingress policy restricts: the user dev execs into web (prod),
// whose egress admits namespace data, moves to db (data), exploits a
// remote code execution in db's image and reads the secret db mounts.
// The twin's egress admits namespace other only.
func TestEgressAcrossNamespaces(t *testing.T) {
	t.Parallel()
	estateOf := func(ns string) string {
		return `apiVersion: v1
kind: Namespace
metadata: {name: data, labels: {team: data}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec:
  containers: [{name: web, image: "web:1"}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {team: ` + ns + `}}}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: data, labels: {app: db}}
spec:
  containers: [{name: db, image: "db:1", volumeMounts: [{name: creds, mountPath: /creds}]}]
  volumes: [{name: creds, secret: {secretName: db-creds}}]
---
apiVersion: v1
kind: Secret
metadata: {name: db-creds, namespace: data}
type: Opaque
` + devCan("Role", "pods/exec", "create")
	}
	const jewel = "k8s:c/data/Secret/db-creds"
	analyse := func(yaml string) *graph.Result {
		r, err := ingesttest.ParseBytes(k8s.Format, "estate.yaml", []byte(yaml), ingest.Options{Target: "c"})
		if err != nil {
			t.Fatalf("Parse() error = %v", err)
		}
		es := estate.Build(r.Assets, r.Relations, nil)
		in := &graph.Input{Assets: es.Sorted(), Relations: es.Relations, Jewels: []graph.Jewel{{Asset: jewel, Value: 10}},
			Entries: []graph.Entry{{Kind: graph.EntryIdentity, Identity: "k8s:c//User/dev"}},
			Weaknesses: []graph.Weakness{{Exposure: model.Exposure{ID: "rce", Asset: "image:docker.io/library/db:1", Kind: model.FindingVulnerability, RuleID: "CVE-0000-0003"},
				Effect: effect.Result{Effect: effect.Exec, Confidence: effect.High}}}}
		res, err := graph.Analyze(in, graph.Options{K: 5})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	var got []string
	for _, p := range analyse(estateOf("data")).Paths {
		got = append(got, summary(p))
	}
	want := "exec:k8s:c/prod/Pod/web -[lateral-movement]-> network:k8s:c/data/Pod/db"
	if len(got) == 0 || !strings.Contains(got[0], want) {
		t.Errorf("Analyze(egress to namespace data) paths = %q, want one through %s", got, want)
	}
	for _, p := range analyse(estateOf("other")).Paths {
		t.Errorf("Analyze(egress to namespace other) path %s, want none", summary(p))
	}
}
