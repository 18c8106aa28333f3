package k8s_test

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/estate/k8s"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

// clusterConfig sizes a generated live cluster: namespaces of apps, each
// app a set of pods (as kubectl lists them: same labels, one node each).
type clusterConfig struct {
	Nodes, Namespaces, Apps, Replicas int
}

// bigCluster is 5k nodes and 100k pods: 500 namespaces of 10 apps of 20
// pods.
var bigCluster = clusterConfig{Nodes: 5000, Namespaces: 500, Apps: 10, Replicas: 20}

// generateCluster writes a kubectl JSON List: per namespace, the pods of
// each app on nodes round robin, a service account and a secret per app
// (mounted by its pods), a LoadBalancer to app 0, a Role letting app 0's
// account read secrets and exec into pods, bound to it, and network
// policies: default deny, app 0 open to all, the others open to app 0 on
// port 8080. A ClusterRoleBinding gives a group view.
func generateCluster(c clusterConfig) []byte {
	var b bytes.Buffer
	b.WriteString(`{"apiVersion": "v1", "kind": "List", "items": [`)
	first := true
	item := func(format string, args ...any) {
		if !first {
			b.WriteString(",\n")
		}
		first = false
		fmt.Fprintf(&b, format, args...)
	}
	pod := 0
	for n := range c.Namespaces {
		ns := fmt.Sprintf("ns-%d", n)
		for a := range c.Apps {
			app := fmt.Sprintf("app-%d", a)
			item(`{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": %q, "namespace": %q}}`, app, ns)
			item(`{"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "%s-creds", "namespace": %q}}`, app, ns)
			for r := range c.Replicas {
				item(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "%s-%d", "namespace": %q, "labels": {"app": %q, "pod-template-hash": "5d9c"}},
"spec": {"serviceAccountName": %q, "nodeName": "node-%d", "containers": [{"name": "main", "image": "registry.example.com/%s/%s:1", "ports": [{"containerPort": 8080}],
"volumeMounts": [{"name": "creds", "mountPath": "/creds", "readOnly": true}]}], "volumes": [{"name": "creds", "secret": {"secretName": "%s-creds"}}]}}`,
					app, r, ns, app, app, pod%c.Nodes, ns, app, app)
				pod++
			}
		}
		item(`{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "public", "namespace": %q}, "spec": {"type": "LoadBalancer", "selector": {"app": "app-0"}, "ports": [{"port": 443, "targetPort": 8080}]}}`, ns)
		item(`{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "ops", "namespace": %q}, "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}, {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]}`, ns)
		item(`{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "ops", "namespace": %q}, "subjects": [{"kind": "ServiceAccount", "name": "app-0", "namespace": %q}], "roleRef": {"kind": "Role", "name": "ops"}}`, ns, ns)
		item(`{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny", "namespace": %q}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}`, ns)
		item(`{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "front", "namespace": %q}, "spec": {"podSelector": {"matchLabels": {"app": "app-0"}}, "ingress": [{}]}}`, ns)
		item(`{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "back", "namespace": %q}, "spec": {"podSelector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["app-0"]}]}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "app-0"}}}], "ports": [{"port": 8080}]}]}}`, ns)
	}
	item(`{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "viewers"}, "subjects": [{"kind": "Group", "name": "viewers"}], "roleRef": {"kind": "ClusterRole", "name": "view"}}`)
	b.WriteString("]}\n")
	return b.Bytes()
}

// BenchmarkCluster100k parses, joins and analyses the generated cluster:
// a remote code execution in app 0's image of every namespace, the
// internet as entry, every secret a crown jewel.
func BenchmarkCluster100k(b *testing.B) { benchCluster(b, bigCluster) }

// BenchmarkCluster10k is a tenth of BenchmarkCluster100k.
func BenchmarkCluster10k(b *testing.B) {
	benchCluster(b, clusterConfig{Nodes: 500, Namespaces: 50, Apps: 10, Replicas: 20})
}

// cpuTime returns the process's user and system CPU time: on a shared
// machine it says more than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU seconds per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric((cpuTime()-start).Seconds()/float64(b.N), "cpu-s/op")
}

func benchCluster(b *testing.B, c clusterConfig) {
	data := generateCluster(c)
	b.ReportMetric(float64(len(data))/(1<<20), "input-MiB")
	var r *ingesttest.Recorder
	b.Run("parse", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			var err error
			r, err = ingesttest.ParseBytes(k8s.Format, "cluster.json", data, ingest.Options{Target: "big"})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(r.Assets)), "assets")
		b.ReportMetric(float64(len(r.Relations)), "relations")
	})
	var es *estate.Estate
	b.Run("join", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			es = estate.Build(r.Assets, r.Relations, nil)
		}
		b.ReportMetric(float64(len(es.Relations)), "relations")
	})
	in := &graph.Input{Assets: es.Sorted(), Relations: es.Relations}
	for _, k := range es.Keys {
		switch {
		case es.Assets[k].Kind == model.KindSecret:
			in.Jewels = append(in.Jewels, graph.Jewel{Asset: k, Value: 5})
		case es.Assets[k].Kind == model.KindImage && bytes.HasSuffix([]byte(k), []byte("/app-0:1")):
			in.Weaknesses = append(in.Weaknesses, graph.Weakness{Exposure: model.Exposure{ID: "rce " + k, Asset: k, Kind: model.FindingVulnerability, RuleID: "rce"},
				Effect: effect.Result{Effect: effect.Exec, Confidence: effect.High}})
		}
	}
	b.Run("analyze", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		var res *graph.Result
		for b.Loop() {
			var err error
			res, err = graph.Analyze(in, graph.Options{})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(res.Paths)), "paths")
	})
}

// TestGeneratedCluster checks the generator on a small cluster: the
// policies let app 0 reach the others, the others not app 0's peers, and
// an internet path reaches another app's secret through app 0.
func TestGeneratedCluster(t *testing.T) {
	t.Parallel()
	data := generateCluster(clusterConfig{Nodes: 3, Namespaces: 2, Apps: 3, Replicas: 2})
	r, err := ingesttest.ParseBytes(k8s.Format, "cluster.json", data, ingest.Options{Target: "big"})
	if err != nil {
		t.Fatal(err)
	}
	es := estate.Build(r.Assets, r.Relations, nil)
	in := &graph.Input{Assets: es.Sorted(), Relations: es.Relations, Jewels: []graph.Jewel{{Asset: "k8s:big/ns-1/Secret/app-2-creds", Value: 5}},
		Weaknesses: []graph.Weakness{{Exposure: model.Exposure{ID: "rce", Asset: "image:registry.example.com/ns-1/app-0:1", Kind: model.FindingVulnerability, RuleID: "rce"},
			Effect: effect.Result{Effect: effect.Exec, Confidence: effect.High}}}}
	res, err := graph.Analyze(in, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Paths) == 0 {
		t.Fatal("Analyze() = no path to app-2's secret, want one through app 0")
	}
	t.Logf("%s", summary(res.Paths[0]))
}
