package k8s_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/estate/k8s"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// splitDocs writes every document of the files into a file of its own
// under dir, as `kubectl get -o yaml` of one object prints it, and
// returns their paths.
func splitDocs(t testing.TB, dir string, files ...string) []string {
	t.Helper()
	var out []string
	for _, f := range files {
		for i, d := range docs(t, f) {
			b, err := yaml.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, fmt.Sprintf("%s-%03d.yaml", filepath.Base(f), i))
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
	}
	return out
}

// asList writes the documents of the files as one kubectl JSON List.
func asList(t testing.TB, path string, files ...string) {
	t.Helper()
	var items []any
	for _, f := range files {
		for _, d := range docs(t, f) {
			items = append(items, jsonable(d))
		}
	}
	b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// jsonable turns YAML's map[string]any trees into what encoding/json
// takes (it already is; this keeps integers integers).
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = jsonable(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = jsonable(x)
		}
		return out
	}
	return v
}

// concat writes the files one after the other as one YAML stream.
func concat(t testing.TB, path string, files ...string) {
	t.Helper()
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("\n---\n")
		b.Write(data)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// loadEstate correlates what st holds, as the CLI does.
func loadEstate(t testing.TB, st store.Store) *estate.Estate {
	t.Helper()
	ctx := context.Background()
	var assets []model.Asset
	for a, err := range st.Assets(ctx, store.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		assets = append(assets, a)
	}
	var rels []model.Relation
	for r, err := range st.Relations(ctx, store.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		rels = append(rels, r)
	}
	return estate.Build(assets, rels, nil)
}

// shape is an estate without provenance: its assets with kinds and
// labels, and its relations, sorted.
type shape struct {
	Assets    []string
	Relations []string
}

func shapeOf(es *estate.Estate) shape {
	var s shape
	for _, k := range es.Keys {
		a := es.Assets[k]
		s.Assets = append(s.Assets, fmt.Sprintf("%s %s %v", k, a.Kind, a.Labels))
	}
	for _, r := range es.Relations {
		s.Relations = append(s.Relations, fmt.Sprintf("%s -%s[%s]-> %s", r.From, r.Type, r.Action, r.To))
	}
	slices.Sort(s.Relations)
	return s
}

// TestOneGraphFromManyInputs ingests one estate (Online Boutique, its
// network policies, and the hand-written estate's RBAC, secrets and
// namespaces) as one stream, as one object per file in one ingest per
// file, and as a kubectl JSON List, and checks that the correlated
// estates, and the paths found in them, are identical.
func TestOneGraphFromManyInputs(t *testing.T) {
	t.Parallel()
	files := append(append([]string{manifests}, policyFiles(t)...), "testdata/estate.yaml")
	dir := t.TempDir()
	stream := filepath.Join(dir, "stream.yaml")
	concat(t, stream, files...)
	list := filepath.Join(dir, "list.json")
	asList(t, list, files...)
	split := splitDocs(t, t.TempDir(), files...)
	if len(split) < 40 {
		t.Fatalf("split into %d files, want one per object", len(split))
	}
	opts := ingest.Options{Target: "c"}
	ingestEach := func(paths ...string) *estate.Estate {
		st := ingesttest.OpenStore(t)
		for _, p := range paths {
			if _, err := ingesttest.Ingest(st, k8s.Format, opts, p); err != nil {
				t.Fatalf("Ingest(%s) error = %v", p, err)
			}
		}
		return loadEstate(t, st)
	}
	one := ingestEach(stream)
	want := shapeOf(one)
	for _, tt := range []struct {
		name string
		es   *estate.Estate
	}{
		{"one object per file", ingestEach(split...)},
		{"kubectl List", ingestEach(list)},
		{"stream twice", ingestEach(stream, stream)},
		{"policies first", ingestEach(append(slices.Clone(split[len(split)/2:]), split[:len(split)/2]...)...)},
	} {
		if diff := cmp.Diff(shapeOf(tt.es), want); diff != "" {
			t.Errorf("estate of %s differs from one stream (-got +want):\n%s", tt.name, diff)
		}
		if got, want := paths(t, tt.es), paths(t, one); !cmp.Equal(got, want) || len(want) == 0 {
			t.Errorf("paths of %s = %d, of one stream %d; want equal and some:\n%s", tt.name, len(got), len(want), cmp.Diff(got, want))
		}
	}

	// The policies of a separate file cut what they forbid: adservice
	// cannot reach cartservice although no file holds both.
	ad, cart := model.K8sKey("c", "default", "Deployment", "adservice"), model.K8sKey("c", "default", "Deployment", "cartservice")
	front := model.K8sKey("c", "default", "Deployment", "frontend")
	has := func(from, to string) bool {
		return slices.Contains(want.Relations, from+" -connects-to[]-> "+to)
	}
	if has(ad, cart) || !has(front, cart) {
		t.Errorf("connects-to adservice→cartservice = %v, frontend→cartservice = %v; want false, true", has(ad, cart), has(front, cart))
	}
	// The default namespace has no Namespace object and exists.
	if _, ok := one.Assets[model.K8sNamespaceKey("c", "default")]; !ok {
		t.Error("no asset for namespace default, which no Namespace object defines")
	}
	// The facts label is the join's, not the estate's.
	for _, k := range one.Keys {
		if _, ok := one.Assets[k].Labels[model.LabelK8sObject]; ok {
			t.Fatalf("asset %s keeps the %s label", k, model.LabelK8sObject)
		}
	}
}

// paths analyses es with the internal network as entry and every secret
// as a crown jewel and returns the path summaries.
func paths(t testing.TB, es *estate.Estate) []string {
	t.Helper()
	in := &graph.Input{Assets: es.Sorted(), Relations: es.Relations, Entries: []graph.Entry{{Kind: graph.EntryInternalNetwork}, {Kind: graph.EntryInternet}}}
	for _, k := range es.Keys {
		if es.Assets[k].Kind == model.KindSecret || es.Assets[k].Kind == model.KindNode {
			in.Jewels = append(in.Jewels, graph.Jewel{Asset: k, Value: 5})
		}
	}
	// A remote code execution in every image, so that paths go beyond
	// the first hop.
	for _, k := range es.Keys {
		if es.Assets[k].Kind == model.KindImage {
			in.Weaknesses = append(in.Weaknesses, graph.Weakness{Exposure: model.Exposure{ID: "rce " + k, Asset: k, Kind: model.FindingVulnerability, RuleID: "rce"}, Effect: effectExec})
		}
	}
	res, err := graph.Analyze(in, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range res.Paths {
		s := p.Entry
		for _, st := range p.Steps {
			s += " -[" + st.Rule + "]-> " + st.To
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

var effectExec = effect.Result{Effect: effect.Exec, Confidence: effect.High}

// TestPodGroups checks that pods no policy restricts reach each other
// through the cluster network, that the pods of one ReplicaSet (same
// labels and ports) a policy restricts are reached through one pod
// group, and that the policy still decides who reaches it: the client
// reaches every web pod in two steps, the web pods (which the policy
// does not admit) reach none of them.
func TestPodGroups(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for _, n := range []string{"web-a", "web-b", "web-c"} {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: shop, labels: {app: web}}\nspec: {containers: [{name: web, image: web:1, ports: [{containerPort: 80}]}]}\n", n)
	}
	b.WriteString("---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: shop, labels: {app: client}}\nspec: {containers: [{name: c, image: client:1}]}\n")
	policy := "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: 80}]}]\n"
	k := func(name string) string { return model.K8sKey("c", "shop", "Pod", name) }
	for _, tt := range []struct {
		name     string
		yaml     string
		webToWeb bool
		groups   int // the cluster network, and web's group where a policy decides
	}{
		{"no policy", b.String(), true, 1},
		{"client only", b.String() + policy, false, 2},
	} {
		r, err := ingesttest.ParseBytes(k8s.Format, "pods.yaml", []byte(tt.yaml), ingest.Options{Target: "c"})
		if err != nil {
			t.Fatal(err)
		}
		es := estate.Build(r.Assets, r.Relations, nil)
		g := graph.Build(&graph.Input{Assets: es.Sorted(), Relations: es.Relations})
		reach := func(from, to string) bool {
			seen := map[int32]bool{}
			queue := []int32{g.StateID(graph.State{Cap: graph.Exec, Asset: from})}
			for len(queue) > 0 && len(seen) < 100 {
				s := queue[0]
				queue = queue[1:]
				if s < 0 || seen[s] {
					continue
				}
				seen[s] = true
				g.Out(s, func(t int32, rule string, _ float64) {
					if rule == "lateral-movement" || rule == "routing" {
						queue = append(queue, t)
					}
				})
			}
			return seen[g.StateID(graph.State{Cap: graph.Network, Asset: to})]
		}
		for _, w := range []string{"web-a", "web-b", "web-c"} {
			if !reach(k("client"), k(w)) {
				t.Errorf("%s: client reaches %s = false, want true", tt.name, w)
			}
		}
		if got := reach(k("web-a"), k("web-b")); got != tt.webToWeb {
			t.Errorf("%s: web-a reaches web-b = %v, want %v", tt.name, got, tt.webToWeb)
		}
		groups := 0
		for _, key := range es.Keys {
			if strings.Contains(key, "/PodGroup/") {
				groups++
			}
		}
		if groups != tt.groups {
			t.Errorf("%s: pod groups = %d, want %d", tt.name, groups, tt.groups)
		}
		var direct int
		for _, rel := range es.Relations {
			if rel.Type == model.RelConnectsTo && strings.HasSuffix(rel.To, "/Pod/web-a") {
				direct++
			}
		}
		if direct != 0 {
			t.Errorf("%s: %d direct edges to web-a, want all through the group", tt.name, direct)
		}
	}
}

// TestPolicyIngestTouchesWorkloads checks that re-analysis after an
// ingest of network policies alone covers the workloads they govern: the
// policy's component holds them (namespaces contain their objects).
func TestPolicyIngestTouchesWorkloads(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	opts := ingest.Options{Target: "c"}
	if _, err := ingesttest.Ingest(st, k8s.Format, opts, manifests); err != nil {
		t.Fatal(err)
	}
	deny := "testdata/network-policies/network-policy-deny-all.yaml"
	if _, err := ingesttest.Ingest(st, k8s.Format, opts, deny); err != nil {
		t.Fatal(err)
	}
	es := loadEstate(t, st)
	changed := []string{model.K8sKey("c", "default", "NetworkPolicy", str(dig(docs(t, deny)[0], "metadata", "name")))}
	run, kept, _, err := analyze.PrepareAffected(context.Background(), st, es, score.Intel{}, changed)
	if err != nil {
		t.Fatal(err)
	}
	front := model.K8sKey("c", "default", "Deployment", "frontend")
	if kept != 1 || !slices.ContainsFunc(run.Input.Assets, func(a model.Asset) bool { return a.Key == front }) {
		t.Errorf("PrepareAffected(%v) kept %d components, frontend in them = false; want 1 with the frontend", changed, kept)
	}
}

// FuzzJoin checks that Join survives any facts label (an inventory could
// set one on any asset): it never panics and relates only assets of the
// cluster named.
func FuzzJoin(f *testing.F) {
	r, err := ingesttest.TryParse(k8s.Format, "testdata/estate.yaml", ingest.Options{Target: "c"})
	if err != nil {
		f.Fatal(err)
	}
	for _, a := range r.Assets {
		if v, ok := a.Labels[model.LabelK8sObject]; ok {
			f.Add(a.Key, v)
		}
	}
	f.Add("k8s:c/ns/Pod/p", `{"w":{"l":{"a":"b"},"p":[{"p":-1}],"n":"../x"}}`)
	f.Fuzz(func(t *testing.T, key, facts string) {
		assets := append(slices.Clone(r.Assets), model.Asset{Key: key, Labels: map[string]string{model.LabelK8sObject: facts}})
		_, rels, clusters := k8s.Join(assets)
		for _, rel := range rels {
			if rel.From == "" || rel.To == "" || rel.Type == "" {
				t.Fatalf("Join() relation %+v has an empty end or type", rel)
			}
		}
		if len(clusters) == 0 {
			t.Fatalf("Join() clusters = none, want c at least")
		}
	})
}

// TestKubeHoundLiveFiles ingests KubeHound's test cluster as kubectl
// wrote it, one resource type per file, each its own ingest: the
// RoleBinding of one file meets the Role of another, the pod runs on the
// node it names and holds its account's token (the projected
// kube-api-access volume).
func TestKubeHoundLiveFiles(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	files, err := filepath.Glob("testdata/kubehound/*.json")
	if err != nil || len(files) != 4 {
		t.Fatalf("testdata/kubehound: %v, %d files, want 4", err, len(files))
	}
	for _, f := range files {
		if _, err := ingesttest.Ingest(st, k8s.Format, ingest.Options{Target: "kh"}, f); err != nil {
			t.Fatalf("Ingest(%s) error = %v", f, err)
		}
	}
	s := shapeOf(loadEstate(t, st))
	sa := model.K8sKey("kh", "test-app", "ServiceAccount", "app-monitors")
	pod := model.K8sKey("kh", "test-app", "Pod", "app-monitors-client-78cb6d7899-j2rjp")
	for _, want := range []string{
		sa + " -can[get pods]-> " + model.K8sNamespaceKey("kh", "test-app"),
		sa + " -can[list statefulsets]-> " + model.K8sNamespaceKey("kh", "test-app"),
		pod + " -runs-on[]-> " + model.K8sNodeKey("kh", "test-node.ec2.internal"),
		pod + " -uses-identity[]-> " + sa,
	} {
		if !slices.Contains(s.Relations, want) {
			t.Errorf("estate relation %s = missing, want present; have:\n%s", want, strings.Join(s.Relations, "\n"))
		}
	}
}

// TestLiveControllers checks a live listing with a Deployment, its
// ReplicaSet and their pods (ownerReferences): the pods are what runs
// (the service routes to them, they run on their nodes), the controllers
// deploy them, and patching deployments gives exec in the pods.
func TestLiveControllers(t *testing.T) {
	t.Parallel()
	const live = `{"apiVersion": "v1", "kind": "List", "items": [
{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "a"},
 "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "w", "image": "web:1"}]}}}},
{"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-5d9c", "namespace": "a", "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": true}]},
 "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "w", "image": "web:1"}]}}}},
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-5d9c-a", "namespace": "a", "labels": {"app": "web"}, "ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d9c", "controller": true}]},
 "spec": {"nodeName": "n1", "containers": [{"name": "w", "image": "web:1"}]}},
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-5d9c-b", "namespace": "a", "labels": {"app": "web"}, "ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d9c", "controller": true}]},
 "spec": {"nodeName": "n2", "containers": [{"name": "w", "image": "web:1"}]}},
{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "a"}, "spec": {"selector": {"app": "web"}}},
{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "patcher", "namespace": "a"}, "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]}]},
{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "patcher", "namespace": "a"}, "subjects": [{"kind": "User", "name": "dev"}], "roleRef": {"kind": "Role", "name": "patcher"}}
]}`
	r, err := ingesttest.ParseBytes(k8s.Format, "live.json", []byte(live), ingest.Options{Target: "c"})
	if err != nil {
		t.Fatal(err)
	}
	es := estate.Build(r.Assets, r.Relations, nil)
	s := shapeOf(es)
	k := func(kind, name string) string { return model.K8sKey("c", "a", kind, name) }
	dep, rs, pa, pb := k("Deployment", "web"), k("ReplicaSet", "web-5d9c"), k("Pod", "web-5d9c-a"), k("Pod", "web-5d9c-b")
	for _, c := range []struct {
		rel  string
		want bool
	}{
		{dep + " -deploys[]-> " + rs, true},
		{rs + " -deploys[]-> " + pa, true},
		{k("Service", "web") + " -routes-to[]-> " + pa, true},
		{k("Service", "web") + " -routes-to[]-> " + dep, false},
		{k("Service", "web") + " -routes-to[]-> " + rs, false},
		{pb + " -runs-on[]-> " + model.K8sNodeKey("c", "n2"), true},
		{dep + " -runs-on[]-> " + model.K8sNodeKey("c", "any"), false},
	} {
		if got := slices.Contains(s.Relations, c.rel); got != c.want {
			t.Errorf("relation %s = %v, want %v", c.rel, got, c.want)
		}
	}
	in := &graph.Input{Assets: es.Sorted(), Relations: es.Relations, Entries: []graph.Entry{{Kind: graph.EntryIdentity, Identity: "k8s:c//User/dev"}},
		Jewels: []graph.Jewel{{Asset: pb, Value: 5}}}
	res, err := graph.Analyze(in, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Paths) == 0 || res.Paths[0].Steps[0].Rule != "pod-exec" {
		t.Errorf("Analyze() from dev to %s = %d paths, want one by pod-exec", pb, len(res.Paths))
	}
}
