package terraform

import (
	"strings"

	"github.com/ctem-dev/ctem/internal/estate/k8s"
	"github.com/ctem-dev/ctem/internal/model"
)

// EKS access policies and the Kubernetes permissions they stand for
// (https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html):
// AmazonEKSClusterAdminPolicy is cluster-admin; AmazonEKSAdminPolicy,
// AmazonEKSEditPolicy and AmazonEKSViewPolicy are the admin, edit and view
// ClusterRoles.
var eksAccessPolicies = map[string]string{
	"AmazonEKSClusterAdminPolicy": "cluster-admin",
	"AmazonEKSAdminPolicy":        "admin",
	"AmazonEKSEditPolicy":         "edit",
	"AmazonEKSViewPolicy":         "view",
}

// eks joins EKS clusters that Terraform describes to the Kubernetes
// cluster of the same name (the estate's Kubernetes inputs ingested with
// --target set to the EKS cluster's name):
//   - aws_eks_pod_identity_association: the service account
//     k8s:NAME/NAMESPACE/ServiceAccount/SA —uses-identity→ the IAM role
//     (EKS Pod Identity), as IRSA's annotation does;
//   - aws_eks_access_entry: the IAM principal —member-of→ the Kubernetes
//     groups it names (and its user name), as aws-auth's mapRoles does;
//   - aws_eks_access_policy_association: the IAM principal —can→ the
//     cluster (access scope "cluster") or the namespaces it lists, with
//     the actions of the ClusterRole the access policy stands for;
//   - the cluster resource is an alias of the Kubernetes cluster's asset.
//
// A cluster name that does not resolve (a module output, a variable
// without a value) leaves the resource out, with a warning.
func (b *builder) eks() {
	// clusterOf resolves cluster_name: a literal, or a reference to an
	// aws_eks_cluster whose name is known.
	clusterOf := func(r *resource) string {
		v := str(r.v["cluster_name"])
		if !strings.Contains(v, refMark) {
			return strings.TrimSpace(v)
		}
		for _, c := range b.lookup(v, "aws_eks_cluster") {
			if n := str(c.v["name"]); n != "" && !strings.Contains(n, refMark) {
				return n
			}
		}
		return ""
	}
	known := func(r *resource) (string, bool) {
		c := clusterOf(r)
		if c == "" {
			b.opts.Warn("terraform: %s: cluster_name unknown, not joined to a Kubernetes cluster", r.addr)
			return "", false
		}
		return c, true
	}
	clusterAsset := func(c string) string {
		k := model.K8sClusterKey(c)
		b.asset(k, model.KindCluster, c)
		return k
	}
	for _, r := range b.of("aws_eks_cluster") {
		if n := str(r.v["name"]); n != "" && !strings.Contains(n, refMark) {
			b.rel(r.key, clusterAsset(n), model.RelAliasOf, "")
		}
	}
	principals := func(r *resource) []string {
		v := str(r.v["principal_arn"])
		keys := b.keysOf(v, "aws_iam_role", "aws_iam_user")
		if len(keys) == 0 && strings.HasPrefix(v, "arn:") && !strings.Contains(v, refMark) {
			keys = []string{v}
		}
		return keys
	}
	for _, r := range b.of("aws_eks_pod_identity_association") {
		c, ok := known(r)
		ns, sa := str(r.v["namespace"]), str(r.v["service_account"])
		if !ok || ns == "" || sa == "" || strings.Contains(ns+sa, refMark) {
			continue
		}
		clusterAsset(c)
		key := model.K8sKey(c, ns, "ServiceAccount", sa)
		b.asset(key, model.KindIdentity, sa)
		roles := b.keysOf(str(r.v["role_arn"]), "aws_iam_role")
		if v := str(r.v["role_arn"]); len(roles) == 0 && strings.HasPrefix(v, "arn:") && !strings.Contains(v, refMark) {
			roles = []string{v}
		}
		for _, role := range roles {
			b.rel(key, role, model.RelUsesIdentit, "")
		}
	}
	for _, r := range b.of("aws_eks_access_entry") {
		c, ok := known(r)
		if !ok {
			continue
		}
		clusterAsset(c)
		var to []string
		if u := str(r.v["user_name"]); u != "" && !strings.Contains(u, refMark) && !strings.Contains(u, "{{") {
			to = append(to, model.K8sKey(c, "", "User", u))
		}
		masters := false
		for _, g := range strs(r.v["kubernetes_groups"]) {
			if g == "" || strings.Contains(g, refMark) {
				continue
			}
			to = append(to, model.K8sKey(c, "", "Group", g))
			masters = masters || g == "system:masters"
		}
		for _, p := range principals(r) {
			for _, k := range to {
				_, _, _, name, _ := model.ParseK8sKey(k)
				b.asset(k, model.KindIdentity, name)
				b.rel(p, k, model.RelMemberOf, "")
			}
		}
		if masters {
			b.rel(model.K8sKey(c, "", "Group", "system:masters"), model.K8sClusterKey(c), model.RelCan, "*")
		}
	}
	for _, r := range b.of("aws_eks_access_policy_association") {
		c, ok := known(r)
		if !ok {
			continue
		}
		pol := str(r.v["policy_arn"])
		role := eksAccessPolicies[pol[strings.LastIndexByte(pol, '/')+1:]]
		if role == "" {
			continue
		}
		targets := []string{clusterAsset(c)}
		for _, s := range blocks(r.v, "access_scope") {
			if strings.EqualFold(str(s["type"]), "namespace") {
				targets = nil
				for _, ns := range strs(s["namespaces"]) {
					if ns == "" || strings.Contains(ns, refMark) || strings.Contains(ns, "*") {
						continue
					}
					k := model.K8sNamespaceKey(c, ns)
					b.asset(k, model.KindResource, ns)
					targets = append(targets, k)
				}
			}
		}
		for _, p := range principals(r) {
			for _, t := range targets {
				for _, a := range k8s.BuiltinRoleActions(role) {
					b.rel(p, t, model.RelCan, a)
				}
			}
		}
	}
}
