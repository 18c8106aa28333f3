package model

import "strings"

// The contracts between the estate packages that describe an estate and
// the graph that analyses it: well-known keys, relation types and labels,
// defined once here so that neither side repeats the other's strings.

// InternetKey is the asset that stands for the internet (and, in an IAM
// policy, for anyone): its exposes and connects-to relations name the
// internet entry states.
const InternetKey = "internet"

// RelTrusts, RelGrants and RelAttached, the relation types of identity
// and trust, are declared with the core relation types in model.go.

// Labels with a meaning for the attack-path rules. A label whose value is
// "true" (any case) states the fact; any other value, or none, does not.
const (
	// LabelIMDSv1 on a host or instance says its metadata service
	// answers IMDSv1 requests (no session token), so an SSRF on it
	// yields its instance role.
	LabelIMDSv1 = "imds.v1"
	// LabelPublic marks an unauthenticated, internet-facing asset: a
	// public bucket, registry or data store.
	LabelPublic = "public"
	// LabelPublicByDesign marks an asset the scope declares meant to be
	// reachable from the internet (a storefront, with the scope's public
	// selectors): its internet exposure is an entry point by design, and
	// the fix plan never proposes closing it.
	LabelPublicByDesign = "ctem.public-by-design"
	// LabelNamespace names the Kubernetes namespace of an object.
	LabelNamespace = "namespace"
	// LabelEscapePrefix starts the labels that say a workload's code
	// can take over the node it runs on; see the LabelEscape names.
	LabelEscapePrefix = "escape."
)

// Labels that name AWS access keys, so that the places that hold a key
// meet the IAM user it belongs to. An access key id is an identifier, not
// the secret: it is kept; the secret access key never is.
const (
	// LabelAWSAccessKeyID on an access key's asset (Terraform state's
	// aws_iam_access_key) is its id, "AKIA…".
	LabelAWSAccessKeyID = "aws.access_key_id"
	// LabelAWSAccessKeyIDs on a place (a Kubernetes Secret) lists the
	// access key ids its values hold, comma-separated.
	LabelAWSAccessKeyIDs = "aws.access_key_ids"
)

// SSH keys meet the hosts they log in to by their public key's
// fingerprint (ingest.SSHFingerprint), which names a key without giving
// it away; database connection strings meet their databases by host.
const (
	// LabelSSHKeys on a host lists, comma-separated, the fingerprints of
	// the SSH keys it accepts (the public key of the key pair it was
	// launched with).
	LabelSSHKeys = "ssh.key_fingerprints"
	// SSHKeyLine begins the line of a secret finding's description that
	// gives the fingerprint of the SSH private key found.
	SSHKeyLine = "ssh key: "
	// LabelDBHosts on a database lists, comma-separated, the host names
	// it is reached by (an RDS instance's address).
	LabelDBHosts = "db.hosts"
	// DBHostLine begins the line of a secret finding's description that
	// gives the host of the database connection string found (with a
	// password; ingest.DatabaseHost).
	DBHostLine = "db host: "
	// SATokenLine begins the line of a secret finding's description that
	// names, as NAMESPACE/NAME, the Kubernetes service account whose
	// token was found (ingest.ServiceAccountOfToken).
	SATokenLine = "service account: "
)

// AWSAccessKeyIDs returns the AWS access key ids (AKIA or ASIA and 16
// upper-case letters and digits) that s holds, at most 16, in order.
func AWSAccessKeyIDs(s string) []string {
	var out []string
	for i := 0; i+20 <= len(s) && len(out) < 16; i++ {
		if (s[i] != 'A') || (s[i:i+4] != "AKIA" && s[i:i+4] != "ASIA") || i > 0 && isKeyChar(s[i-1]) {
			continue
		}
		ok := true
		for j := i + 4; j < i+20; j++ {
			ok = ok && isKeyChar(s[j])
		}
		if !ok || i+20 < len(s) && isKeyChar(s[i+20]) {
			continue
		}
		id := s[i : i+20]
		if !contains(out, id) {
			out = append(out, id)
		}
		i += 19
	}
	return out
}

func isKeyChar(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// ActionIMDSv1 qualifies a uses-identity relation whose identity is
// reachable through an IMDSv1 metadata service.
const ActionIMDSv1 = "imds.v1"

// Escape labels on a Kubernetes workload whose pods can execute code on
// their node, each after a KubeHound container-escape technique. Each such
// workload also runs-on the node asset K8sNodeKey(cluster, "any").
const (
	LabelEscapePrivileged = "escape.privileged"     // CE_PRIV_MOUNT: a privileged container
	LabelEscapeHostPath   = "escape.host-path"      // CE_*: a writable hostPath of /, /etc, /root, /var/lib/kubelet, /proc, a runtime socket
	LabelEscapeHostPID    = "escape.host-pid"       // CE_NSENTER: hostPID with a privileged or SYS_PTRACE container
	LabelEscapeSysAdmin   = "escape.cap-sys-admin"  // CE_SYS_ADMIN: CAP_SYS_ADMIN
	LabelEscapeSysModule  = "escape.cap-sys-module" // CE_MODULE_LOAD: CAP_SYS_MODULE
)

// Labels of Kubernetes workloads that are no escape by themselves.
const (
	// LabelHostNetwork: the pods share the node's network namespace, so
	// they reach what the node reaches (its metadata service, its
	// kubelet) but run no code on it.
	LabelHostNetwork = "k8s.host-network"
	// LabelHostIPC: the pods share the node's IPC namespace; it exposes
	// shared memory, not code execution.
	LabelHostIPC = "k8s.host-ipc"
	// LabelIngressIsolated: network policies admit to the workload
	// only the pods they list, so an attacker on the internal network
	// (no pod of the cluster) does not reach it.
	LabelIngressIsolated = "k8s.ingress-isolated"
	// LabelK8sObject holds, as compact JSON, the facts of a Kubernetes
	// object that relations across objects need (selectors, ports, RBAC
	// rules, network policies). The estate's correlation joins them over
	// every input of a cluster and removes the label.
	LabelK8sObject = "k8s.object"
)

// K8sClusterKey is the key of a Kubernetes cluster, the target of
// permissions granted by ClusterRoleBindings.
func K8sClusterKey(cluster string) string { return K8sKey(cluster, "", "Cluster", cluster) }

// K8sNamespaceKey is the key of a namespace, a cluster-scoped object.
func K8sNamespaceKey(cluster, ns string) string { return K8sKey(cluster, "", "Namespace", ns) }

// K8sNodeKey is the key of a node of the cluster. Manifests do not say
// which node a pod runs on, so the node "any" stands for all of them.
func K8sNodeKey(cluster, node string) string { return K8sKey(cluster, "", "Node", node) }

// ParseK8sKey splits k8s:cluster/namespace/Kind/name; the cluster may hold
// slashes (EKS ARNs), so the key is split from the right. ok is false for
// any other key.
func ParseK8sKey(key string) (cluster, ns, kind, name string, ok bool) {
	rest, found := strings.CutPrefix(key, "k8s:")
	if !found {
		return
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return
	}
	name, rest = rest[i+1:], rest[:i]
	if i = strings.LastIndexByte(rest, '/'); i < 0 {
		return
	}
	kind, rest = rest[i+1:], rest[:i]
	if i = strings.LastIndexByte(rest, '/'); i < 0 {
		return
	}
	return rest[:i], rest[i+1:], kind, name, true
}

// Where an entry answers from outside, so that ctem validate can probe
// it and DAST hits meet the workloads behind it.
const (
	// LabelEndpoints on an entry asset lists, comma-separated, where it
	// answers from outside: https://HOST[:PORT] or http://HOST[:PORT] for
	// an HTTP entry, tcp://HOST:PORT, or a bare HOST (a name or an IP
	// address) whose ports are those of its internet exposure (the
	// exposes relations' actions, tcp/N). The estate sets it from Ingress
	// hosts and status, LoadBalancer services' status, AWS load
	// balancers' DNS names, instances' public addresses and Elastic IPs;
	// an inventory may set it on any asset.
	LabelEndpoints = "net.endpoints"
	// LabelHTTPRoutes on an Ingress holds its routing rules as a JSON
	// array of HTTPRoute, in the order the Ingress lists them.
	LabelHTTPRoutes = "http.routes"
)

// HTTPRoute is one rule of an HTTP router (an Ingress): requests for
// Host (any host when empty; "*.example.com" matches one label) whose
// path matches Path go to the Service (its asset key). PathType is
// "Exact", or "Prefix" (path elements; also ImplementationSpecific).
type HTTPRoute struct {
	Host     string `json:"host,omitempty"`
	Path     string `json:"path,omitempty"`
	PathType string `json:"type,omitempty"`
	Service  string `json:"service"`
}
