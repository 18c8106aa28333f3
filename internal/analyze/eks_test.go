package analyze_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/estate/k8s"
	"github.com/ctem-dev/ctem/internal/estate/terraform"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

// The cluster of the EKS estates: Terraform's aws_eks_cluster "prod" and
// the manifests ingested with --target prod.
const eksCluster = `
resource "aws_eks_cluster" "main" {
  name     = "prod"
  role_arn = "arn:aws:iam::111122223333:role/eks"
}
`

// eksManifests is a web pod with its service account and a secret in
// namespace app.
const eksManifests = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: app, labels: {app: web}}
spec:
  serviceAccountName: web
  containers: [{name: web, image: "web:1"}]
---
apiVersion: v1
kind: Secret
metadata: {name: db-creds, namespace: app}
type: Opaque
`

const eksSecret = "k8s:prod/app/Secret/db-creds"

// podIdentity associates service account sa of namespace app with the
// reader role, which reads every bucket.
func podIdentity(sa string) string {
	return attackerUser + eksCluster + `
resource "aws_iam_role" "reader" {
  name = "reader"
  assume_role_policy = jsonencode({ Statement = [{ Effect = "Allow", Action = ["sts:AssumeRole", "sts:TagSession"], Principal = { Service = "pods.eks.amazonaws.com" } }] })
}
resource "aws_iam_role_policy_attachment" "reader" {
  role       = aws_iam_role.reader.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
}
resource "aws_eks_pod_identity_association" "web" {
  cluster_name    = aws_eks_cluster.main.name
  namespace       = "app"
  service_account = "` + sa + `"
  role_arn        = aws_iam_role.reader.arn
}
`
}

// accessEntry gives the ops role (which the attacker may assume) an
// access entry with groups, and the access policy on scope (HCL).
func accessEntry(groups, policy, scope string) string {
	s := attackerUser + eksCluster + adminRole("ops", `AWS = aws_iam_user.attacker.arn`) + `
resource "aws_eks_access_entry" "ops" {
  cluster_name      = aws_eks_cluster.main.name
  principal_arn     = aws_iam_role.ops.arn
  kubernetes_groups = [` + groups + `]
}
`
	if policy != "" {
		s += `
resource "aws_eks_access_policy_association" "ops" {
  cluster_name  = aws_eks_cluster.main.name
  policy_arn    = "arn:aws:eks::aws:cluster-access-policy/` + policy + `"
  principal_arn = aws_iam_role.ops.arn
  access_scope {
    ` + scope + `
  }
}
`
	}
	return s
}

// opsBinding binds the Kubernetes group ops to cluster-admin.
const opsBinding = `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ops-admin}
subjects: [{kind: Group, name: ops}]
roleRef: {kind: ClusterRole, name: cluster-admin}
`

// analyseEKS reads the Terraform estate and the manifests (cluster
// "prod") into one estate and analyses it, from the internal network with
// a remote code execution in web:1 when rce, else from the attacker's
// identity.
func analyseEKS(t *testing.T, tf, manifests string, rce bool, jewel string) *graph.Result {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(tf), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &ingesttest.Recorder{}
	if err := terraform.ParseDir(context.Background(), dir, ingest.Options{Target: "acme"}, r); err != nil {
		t.Fatalf("ParseDir() error = %v\n%s", err, tf)
	}
	kr, err := ingesttest.ParseBytes(k8s.Format, "estate.yaml", []byte(manifests), ingest.Options{Target: "prod"})
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	es := estate.Build(append(r.Assets, kr.Assets...), append(r.Relations, kr.Relations...), nil)
	in := &graph.Input{Assets: es.Sorted(), Relations: es.Relations, Jewels: []graph.Jewel{{Asset: jewel, Value: 10}}}
	if rce {
		in.Entries = []graph.Entry{{Kind: graph.EntryInternalNetwork}}
		in.Weaknesses = []graph.Weakness{{Exposure: model.Exposure{ID: "rce", Asset: "image:docker.io/library/web:1", Kind: model.FindingVulnerability, RuleID: "CVE-0000-0001"},
			Effect: effect.Result{Effect: effect.Exec, Confidence: effect.High}}}
	} else {
		in.Entries = []graph.Entry{{Kind: graph.EntryIdentity, Identity: "tf:aws_iam_user.attacker"}}
	}
	res, err := graph.Analyze(in, graph.Options{K: 10})
	if err != nil {
		t.Fatalf("Analyze() error = %v", err)
	}
	return res
}

// TestEKSJoins checks that EKS Pod Identity joins a service account to its
// IAM role (cluster to cloud) and EKS access entries join an IAM principal
// to Kubernetes groups and access policies (cloud to cluster), each with a
// twin that gives no path.
func TestEKSJoins(t *testing.T) {
	t.Parallel()
	clusterScope := `type = "cluster"`
	tests := []struct {
		name           string
		pos, neg       string
		manifests      string
		rce            bool
		jewel, rule    string
		wantPosPathHas string
	}{
		{name: "pod identity", pos: podIdentity("web"), neg: podIdentity("other"), manifests: eksManifests, rce: true,
			jewel: crown, rule: "cloud-identity", wantPosPathHas: "identity:tf:aws_iam_role.reader"},
		{name: "access policy AmazonEKSClusterAdminPolicy", pos: accessEntry("", "AmazonEKSClusterAdminPolicy", clusterScope),
			neg: accessEntry("", "AmazonEKSViewPolicy", clusterScope), manifests: eksManifests,
			jewel: eksSecret, rule: "namespace-admin", wantPosPathHas: "admin:k8s:prod//Cluster/prod"},
		{name: "access policy scoped to the namespace", pos: accessEntry("", "AmazonEKSAdminPolicy", `type = "namespace"
    namespaces = ["app"]`), neg: accessEntry("", "AmazonEKSAdminPolicy", `type = "namespace"
    namespaces = ["other"]`), manifests: eksManifests,
			jewel: eksSecret, rule: "permission", wantPosPathHas: "read:k8s:prod/app/Secret/db-creds"},
		{name: "access entry groups", pos: accessEntry(`"ops"`, "", ""), neg: accessEntry(`"viewers"`, "", ""), manifests: eksManifests + opsBinding,
			jewel: eksSecret, rule: "membership", wantPosPathHas: "identity:k8s:prod//Group/ops"},
		{name: "access entry system:masters", pos: accessEntry(`"system:masters"`, "", ""), neg: accessEntry(`"system:viewers"`, "", ""), manifests: eksManifests,
			jewel: eksSecret, rule: "membership", wantPosPathHas: "identity:k8s:prod//Group/system:masters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var found string
			for _, p := range analyseEKS(t, tt.pos, tt.manifests, tt.rce, tt.jewel).Paths {
				if slices.ContainsFunc(p.Steps, func(s graph.Step) bool { return s.Rule == tt.rule }) {
					found = analyze.Summary(p)
					break
				}
			}
			if found == "" {
				t.Fatalf("paths to %s through %s: none, want one", tt.jewel, tt.rule)
			}
			if !containsState(found, tt.wantPosPathHas) {
				t.Errorf("path %s does not pass %s", found, tt.wantPosPathHas)
			}
			t.Logf("%s", found)
			if ps := analyseEKS(t, tt.neg, tt.manifests, tt.rce, tt.jewel).Paths; len(ps) > 0 {
				t.Errorf("twin: paths %v, want none", analyze.Summary(ps[0]))
			}
		})
	}
}

func containsState(summary, state string) bool {
	for i := 0; i+len(state) <= len(summary); i++ {
		if summary[i:i+len(state)] == state {
			return true
		}
	}
	return false
}
