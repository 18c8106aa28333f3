package k8s_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/ctem-dev/ctem/internal/estate/k8s"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/model"
)

const manifests = "testdata/kubernetes-manifests.yaml"

// policyFiles are the Online Boutique network policies.
func policyFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/network-policies/*.yaml")
	if err != nil || len(files) != 13 {
		t.Fatalf("network policies: %v, %d files, want 13", err, len(files))
	}
	return files
}

// withPolicies writes the manifests followed by every network policy into
// one stream, as `kustomize build` with the network-policies component
// prints them.
func withPolicies(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, f := range append([]string{manifests}, policyFiles(t)...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("\n---\n")
		b.Write(data)
	}
	p := filepath.Join(t.TempDir(), "boutique-with-policies.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// docs decodes the YAML documents of a file independently of the parser.
func docs(t testing.TB, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	dec := yaml.NewDecoder(f)
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			out = append(out, d)
		}
	}
}

// dig walks nested maps and lists ("spec", "template", 0, ...).
func dig(v any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[p]
		case int:
			l, _ := v.([]any)
			if p >= len(l) {
				return nil
			}
			v = l[p]
		}
	}
	return v
}

func str(v any) string { s, _ := v.(string); return s }

// edges returns the relations of one type as "from -> to" (with the action
// when set), sorted.
func edges(r *ingesttest.Recorder, typ model.RelationType) []string {
	var out []string
	for _, rel := range r.Relations {
		if rel.Type == typ {
			e := rel.From + " -> " + rel.To
			if rel.Action != "" {
				e += " [" + rel.Action + "]"
			}
			out = append(out, e)
		}
	}
	sort.Strings(out)
	return out
}

func assetsByKey(r *ingesttest.Recorder) map[string]model.Asset {
	m := map[string]model.Asset{}
	for _, a := range r.Assets {
		m[a.Key] = a
	}
	return m
}

func key(kind, name string) string { return model.K8sKey("boutique", "default", kind, name) }

// hubKey is the cluster network of a cluster.
func hubKey(cluster string) string {
	return model.K8sKey(cluster, "", "PodGroup", k8s.ClusterNetworkName)
}

func TestOnlineBoutique(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, k8s.Format, manifests, ingest.Options{Target: "boutique"})
	if len(r.Scans) != 1 || r.Scans[0].Tool != "kubernetes" || r.Scans[0].Target != "boutique" || r.Scans[0].Asset != "k8s:boutique//Cluster/boutique" {
		t.Fatalf("scans = %+v, want one kubernetes scan of boutique", r.Scans)
	}
	if len(r.Findings) != 0 {
		t.Errorf("findings = %d, want 0", len(r.Findings))
	}
	for _, a := range r.Assets {
		if a.Source != "k8s:kubernetes-manifests.yaml" {
			t.Fatalf("asset %s source %q, want k8s:kubernetes-manifests.yaml", a.Key, a.Source)
		}
	}
	assets := assetsByKey(r)

	// Expectations from an independent reading of the file.
	var deployments, wantRuns, wantIdentity, wantRoutes, wantExposed []string
	podLabels := map[string]map[string]any{}
	var services []map[string]any
	for _, d := range docs(t, manifests) {
		name := str(dig(d, "metadata", "name"))
		switch d["kind"] {
		case "Deployment":
			deployments = append(deployments, name)
			podLabels[name], _ = dig(d, "spec", "template", "metadata", "labels").(map[string]any)
			for _, list := range []string{"initContainers", "containers"} {
				for i := 0; dig(d, "spec", "template", "spec", list, i) != nil; i++ {
					img := str(dig(d, "spec", "template", "spec", list, i, "image"))
					wantRuns = append(wantRuns, key("Deployment", name)+" -> "+model.ImageKey(img))
				}
			}
			sa := str(dig(d, "spec", "template", "spec", "serviceAccountName"))
			if sa == "" {
				sa = "default"
			}
			wantIdentity = append(wantIdentity, key("Deployment", name)+" -> "+key("ServiceAccount", sa))
		case "Service":
			services = append(services, d)
			if t := str(dig(d, "spec", "type")); t == "LoadBalancer" || t == "NodePort" {
				wantExposed = append(wantExposed, "internet -> "+key("Service", name))
			}
		}
	}
	for _, s := range services {
		sel, _ := dig(s, "spec", "selector").(map[string]any)
		for _, dep := range deployments {
			match := len(sel) > 0
			for k, v := range sel {
				if podLabels[dep][k] != v {
					match = false
				}
			}
			if match {
				wantRoutes = append(wantRoutes, key("Service", str(dig(s, "metadata", "name")))+" -> "+key("Deployment", dep))
			}
		}
	}
	for _, d := range deployments {
		wantRoutes = append(wantRoutes, hubKey("boutique")+" -> "+key("Deployment", d))
	}
	for _, l := range [][]string{wantRuns, wantIdentity, wantRoutes, wantExposed} {
		sort.Strings(l)
	}
	if len(deployments) != 12 || len(services) != 12 {
		t.Fatalf("independent reading: %d deployments, %d services; want 12 and 12", len(deployments), len(services))
	}

	var workloads, images int
	for _, a := range r.Assets {
		switch a.Kind {
		case model.KindWorkload:
			workloads++
			if a.Labels["namespace"] != "default" || a.Labels["app"] != a.Name {
				t.Errorf("workload %s labels = %v, want app=%s and namespace=default", a.Key, a.Labels, a.Name)
			}
			for l := range a.Labels {
				if strings.HasPrefix(l, "escape.") {
					t.Errorf("workload %s has escape label %s; Online Boutique runs unprivileged", a.Key, l)
				}
			}
		case model.KindImage:
			images++
		}
	}
	if workloads != len(deployments) {
		t.Errorf("workload assets = %d, want %d", workloads, len(deployments))
	}
	if images != len(wantRuns) {
		t.Errorf("image assets = %d, want %d (one per distinct container image)", images, len(wantRuns))
	}
	for _, c := range []struct {
		typ  model.RelationType
		want []string
	}{
		{model.RelRuns, wantRuns},
		{model.RelUsesIdentit, wantIdentity},
		{model.RelRoutesTo, wantRoutes},
		{model.RelExposes, wantExposed},
	} {
		if diff := cmp.Diff(edges(r, c.typ), c.want); diff != "" {
			t.Errorf("%s relations (-got +want):\n%s", c.typ, diff)
		}
	}
	// Spot checks of the mapping itself.
	if diff := cmp.Diff(wantExposed, []string{"internet -> k8s:boutique/default/Service/frontend-external"}); diff != "" {
		t.Errorf("internet-facing services (-got +want):\n%s", diff)
	}
	if a := assets["k8s:boutique/default/Service/frontend-external"]; a.Kind != model.KindLoadBalancer || a.Labels["service.type"] != "LoadBalancer" {
		t.Errorf("frontend-external = %+v, want a LoadBalancer asset", a)
	}
	if a := assets["k8s:boutique/default/Service/cartservice"]; a.Kind != model.KindEndpoint {
		t.Errorf("cartservice service kind = %s, want endpoint", a.Kind)
	}
	if a := assets["internet"]; a.Kind != model.KindNetwork {
		t.Errorf("internet asset = %+v, want kind network", a)
	}
	if !slices.Contains(edges(r, model.RelRuns), key("Deployment", "redis-cart")+" -> image:docker.io/library/redis:alpine") {
		t.Error("redis-cart does not run image:docker.io/library/redis:alpine")
	}
	if !slices.Contains(edges(r, model.RelRoutesTo), key("Service", "frontend-external")+" -> "+key("Deployment", "frontend")) {
		t.Error("frontend-external does not route to the frontend deployment")
	}
	// Without network policies every pod reaches every pod through the
	// cluster network.
	var wantNet []string
	for _, d := range deployments {
		wantNet = append(wantNet, key("Deployment", d)+" -> "+hubKey("boutique"))
	}
	sort.Strings(wantNet)
	if diff := cmp.Diff(edges(r, model.RelConnectsTo), wantNet); diff != "" {
		t.Errorf("connects-to without policies (-got +want):\n%s", diff)
	}
}

// TestOnlineBoutiqueNetworkPolicies checks the edges the deny-all and
// per-service policies leave, against an independent reading of the
// policy files.
func TestOnlineBoutiqueNetworkPolicies(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, k8s.Format, withPolicies(t), ingest.Options{Target: "boutique"})
	var apps []string
	for _, d := range docs(t, manifests) {
		if d["kind"] == "Deployment" {
			apps = append(apps, str(dig(d, "metadata", "name")))
		}
	}
	// The Online Boutique policies select pods by app label, allow all
	// egress, and list the apps each may hear from; a rule without from
	// admits everyone. deny-all leaves pods no other policy opens closed.
	allowed := map[string][]string{}
	for _, f := range policyFiles(t) {
		for _, d := range docs(t, f) {
			dst := str(dig(d, "spec", "podSelector", "matchLabels", "app"))
			if dst == "" {
				continue // deny-all
			}
			for i := 0; dig(d, "spec", "ingress", i) != nil; i++ {
				from, _ := dig(d, "spec", "ingress", i, "from").([]any)
				if len(from) == 0 {
					allowed[dst] = apps
					continue
				}
				for j := range from {
					allowed[dst] = append(allowed[dst], str(dig(from, j, "podSelector", "matchLabels", "app")))
				}
			}
		}
	}
	var want []string
	for _, dst := range apps {
		for _, src := range apps {
			if src != dst && slices.Contains(allowed[dst], src) {
				want = append(want, key("Deployment", src)+" -> "+key("Deployment", dst))
			}
		}
	}
	sort.Strings(want)
	got := edges(r, model.RelConnectsTo)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("connects-to with policies (-got +want):\n%s", diff)
	}
	for _, c := range []struct {
		from, to string
		want     bool
	}{
		{"frontend", "cartservice", true},
		{"checkoutservice", "cartservice", true},
		{"adservice", "cartservice", false},
		{"cartservice", "redis-cart", true},
		{"frontend", "redis-cart", false},
		{"loadgenerator", "frontend", true},
		{"adservice", "frontend", true},
		{"frontend", "loadgenerator", false},
		{"checkoutservice", "paymentservice", true},
		{"frontend", "paymentservice", false},
	} {
		e := key("Deployment", c.from) + " -> " + key("Deployment", c.to)
		if slices.Contains(got, e) != c.want {
			t.Errorf("%s connects to %s = %v, want %v", c.from, c.to, !c.want, c.want)
		}
	}
	// The policies cut edges but nothing else: without them every pod
	// reaches every other through the cluster network.
	plain := ingesttest.Parse(t, k8s.Format, manifests, ingest.Options{Target: "boutique"})
	if n := len(apps); len(got) >= n*(n-1) {
		t.Errorf("policies left %d edges of %d", len(got), n*(n-1))
	}
	for _, typ := range []model.RelationType{model.RelRuns, model.RelExposes, model.RelUsesIdentit} {
		if diff := cmp.Diff(edges(r, typ), edges(plain, typ)); diff != "" {
			t.Errorf("%s changed with policies (-with +without):\n%s", typ, diff)
		}
	}
	// A Service reaches its pods only where their policy admits traffic
	// from anyone (a rule without from): the frontend's two services.
	var wantRoutes []string
	for _, e := range edges(plain, model.RelRoutesTo) {
		dst := e[strings.LastIndex(e, "/")+1:]
		if len(allowed[dst]) == len(apps) && !strings.HasPrefix(e, hubKey("boutique")) {
			wantRoutes = append(wantRoutes, e)
		}
	}
	if diff := cmp.Diff(edges(r, model.RelRoutesTo), wantRoutes); diff != "" || len(wantRoutes) != 2 {
		t.Errorf("routes-to with policies (-got +want):\n%s", diff)
	}
	// Every pod but the frontend admits listed pods only: isolated from
	// the internal network.
	for _, a := range r.Assets {
		if a.Kind != model.KindWorkload {
			continue
		}
		want := len(allowed[a.Name]) != len(apps)
		if got := a.Labels[model.LabelIngressIsolated] == "true"; got != want {
			t.Errorf("%s %s = %v, want %v", a.Name, model.LabelIngressIsolated, got, want)
		}
	}
}

func TestHandWrittenEstate(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, k8s.Format, "testdata/estate.yaml", ingest.Options{})
	if len(r.Scans) != 1 || r.Scans[0].Target != "default" {
		t.Fatalf("scans = %+v, want one of cluster default", r.Scans)
	}
	k := func(ns, kind, name string) string { return model.K8sKey("default", ns, kind, name) }
	api, agent, backup, debug := k("shop", "Deployment", "api"), k("ops", "DaemonSet", "node-agent"), k("ops", "CronJob", "backup"), k("ops", "Pod", "safe-debug")
	node := "k8s:default//Node/any"
	cluster := "k8s:default//Cluster/default"
	want := map[model.RelationType][]string{
		model.RelRuns: {
			api + " -> image:ghcr.io/example/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			api + " -> image:ghcr.io/example/migrate:1.2",
			backup + " -> image:docker.io/library/postgres:16",
			agent + " -> image:docker.io/library/agent:2",
			debug + " -> image:docker.io/library/busybox:latest",
		},
		model.RelUsesIdentit: {
			api + " -> " + k("shop", "ServiceAccount", "api"),
			backup + " -> " + k("ops", "ServiceAccount", "default"),
			agent + " -> " + k("ops", "ServiceAccount", "default"),
			debug + " -> " + k("ops", "ServiceAccount", "default"),
		},
		model.RelMounts: {
			api + " -> " + k("shop", "Secret", "tls-cert"),
		},
		model.RelReadsEnv: {
			api + " -> " + k("shop", "ConfigMap", "api-config"),
			api + " -> " + k("shop", "Secret", "api-env"),
			api + " -> " + k("shop", "Secret", "db-password"),
		},
		model.RelRunsOn: {
			api + " -> " + node,
			backup + " -> " + node,
			agent + " -> " + node,
			debug + " -> " + node,
		},
		model.RelExposes: {
			"internet -> " + k("shop", "Ingress", "web"),
			"internet -> " + k("shop", "Service", "debug"),
		},
		model.RelRoutesTo: {
			k("shop", "Ingress", "web") + " -> " + k("shop", "Service", "admin"),
			k("shop", "Ingress", "web") + " -> " + k("shop", "Service", "api"),
			k("shop", "Service", "api") + " -> " + api,
			k("shop", "Service", "debug") + " -> " + api,
			hubKey("default") + " -> " + backup,
			hubKey("default") + " -> " + agent,
			hubKey("default") + " -> " + debug,
		},
		model.RelCan: {
			k("", "Group", "developers") + " -> " + cluster + " [bind]",
			k("", "Group", "developers") + " -> " + cluster + " [escalate]",
			k("", "Group", "developers") + " -> " + cluster + " [impersonate]",
			k("", "User", "ci@example.com") + " -> " + cluster + " [*]",
			k("ops", "ServiceAccount", "default") + " -> " + cluster + " [bind]",
			k("ops", "ServiceAccount", "default") + " -> " + cluster + " [escalate]",
			k("ops", "ServiceAccount", "default") + " -> " + cluster + " [impersonate]",
			k("shop", "ServiceAccount", "api") + " -> " + k("", "Namespace", "shop") + " [create pods/exec]",
			k("shop", "ServiceAccount", "api") + " -> " + k("", "Namespace", "shop") + " [create pods]",
			k("shop", "ServiceAccount", "api") + " -> " + k("shop", "Secret", "db-password") + " [get secrets]",
		},
		// ops has no policies: its pods, and api's egress, go through the
		// cluster network; api admits backup and debug by a policy.
		model.RelConnectsTo: {
			backup + " -> " + api,
			debug + " -> " + api,
			backup + " -> " + hubKey("default"),
			agent + " -> " + hubKey("default"),
			debug + " -> " + hubKey("default"),
			api + " -> " + hubKey("default"),
			"internet -> " + api,
		},
	}
	for typ, w := range want {
		sort.Strings(w)
		if diff := cmp.Diff(edges(r, typ), w); diff != "" {
			t.Errorf("%s relations (-got +want):\n%s", typ, diff)
		}
	}
	contains := edges(r, model.RelContains)
	for _, e := range []string{
		cluster + " -> " + k("", "Namespace", "ops"),
		k("", "Namespace", "shop") + " -> " + k("shop", "NetworkPolicy", "api-ingress"),
		k("", "Namespace", "shop") + " -> " + api,
		cluster + " -> " + k("", "ClusterRoleBinding", "ci-admin"),
	} {
		if !slices.Contains(contains, e) {
			t.Errorf("contains %s = missing, want present", e)
		}
	}
	if len(r.Relations)-len(contains) != func() (n int) {
		for _, w := range want {
			n += len(w)
		}
		return n
	}() {
		t.Errorf("relations = %d, more types than expected: %v", len(r.Relations), r.Relations)
	}
	assets := assetsByKey(r)
	labels := func(key string) map[string]string {
		l := maps.Clone(assets[key].Labels)
		delete(l, model.LabelK8sObject)
		return l
	}
	if diff := cmp.Diff(labels(agent), map[string]string{
		"app": "node-agent", "namespace": "ops",
		k8s.LabelPrivileged: "true", k8s.LabelHostNetwork: "true", k8s.LabelHostPID: "true", k8s.LabelHostPath: "true",
	}); diff != "" {
		t.Errorf("node-agent labels (-got +want):\n%s", diff)
	}
	if got := labels(backup)[k8s.LabelSysAdmin]; got != "true" {
		t.Errorf("backup %s = %q, want true", k8s.LabelSysAdmin, got)
	}
	if _, ok := labels(debug)[k8s.LabelSysAdmin]; ok {
		t.Error("safe-debug (allowPrivilegeEscalation: false) has the SYS_ADMIN escape label")
	}
	for key, kind := range map[string]model.AssetKind{
		k("shop", "ConfigMap", "api-config"): model.KindResource,
		k("shop", "Secret", "db-password"):   model.KindSecret,
		k("shop", "ServiceAccount", "api"):   model.KindIdentity,
		k("shop", "Service", "debug"):        model.KindLoadBalancer,
		k("shop", "Ingress", "web"):          model.KindLoadBalancer,
		k("", "User", "ci@example.com"):      model.KindIdentity,
		node:                                 model.KindNode,
		cluster:                              model.KindCluster,
	} {
		if got := assets[key].Kind; got != kind {
			t.Errorf("asset %s kind = %q, want %q", key, got, kind)
		}
	}
	if got := labels(k("shop", "Secret", "tls-cert"))["secret.type"]; got != "kubernetes.io/tls" {
		t.Errorf("tls-cert secret.type = %q", got)
	}
	if _, ok := assets[k("shop", "ConfigMap", "unused-config")]; ok {
		t.Error("an unreferenced ConfigMap became an asset")
	}
	checkNoSecretValues(t, r, "c3VwZXItc2VjcmV0LXZhbHVl", "super-secret-value")
}

func checkNoSecretValues(t *testing.T, r *ingesttest.Recorder, values ...string) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if strings.Contains(string(b), v) {
			t.Errorf("secret data %q appears in the records", v)
		}
	}
}

func TestKubectlJSON(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, k8s.Format, "testdata/list.json", ingest.Options{Target: "prod-eu"})
	k := func(kind, name string) string { return model.K8sKey("prod-eu", "prod", kind, name) }
	web, worker := k("Pod", "web-5d9c-abcde"), k("Deployment", "worker")
	want := []string{
		"internet -> " + k("Service", "web"),
		k("Service", "web") + " -> " + web,
		web + " -> " + k("Secret", "web-token"),
		web + " -> " + k("ServiceAccount", "web"),
		web + " -> image:docker.io/library/nginx:1.25",
		web + " -> k8s:prod-eu//Node/any",
		worker + " -> k8s:prod-eu//Node/any",
		web + " -> " + hubKey("prod-eu"),
		worker + " -> " + k("ServiceAccount", "default"),
		worker + " -> image:registry.example.com/worker:3",
		worker + " -> " + hubKey("prod-eu"),
		hubKey("prod-eu") + " -> " + web,
		hubKey("prod-eu") + " -> " + worker,
	}
	var got []string
	for _, rel := range r.Relations {
		if rel.Type != model.RelContains {
			got = append(got, rel.From+" -> "+rel.To)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("relations (-got +want):\n%s", diff)
	}
	if got := assetsByKey(r)[web].Labels; got[k8s.LabelPrivileged] != "true" || got["pod-template-hash"] != "5d9c" {
		t.Errorf("web pod labels = %v", got)
	}
	// Counted independently: the List's items are all mapped.
	var list struct {
		Items []struct{ Kind string } `json:"items"`
	}
	data, _ := os.ReadFile("testdata/list.json")
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	var objects int
	for _, a := range r.Assets {
		if strings.HasPrefix(a.Key, "k8s:prod-eu/prod/") && !strings.Contains(a.Key, "/ServiceAccount/") {
			objects++
		}
	}
	if objects != len(list.Items) {
		t.Errorf("object assets = %d, want %d items", objects, len(list.Items))
	}
	checkNoSecretValues(t, r, "dG9wLXNlY3JldA==", "top-secret")

	// A live pod runs on the node it names; a Node object is that node.
	live := "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [" +
		"{\"apiVersion\": \"v1\", \"kind\": \"Node\", \"metadata\": {\"name\": \"node-1\", \"labels\": {\"env\": \"production\"}}}," +
		"{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"p\", \"namespace\": \"a\"}, \"spec\": {\"nodeName\": \"node-1\", \"containers\": [{\"name\": \"c\", \"image\": \"x:1\"}]}}]}"
	lr, err := ingesttest.ParseBytes(k8s.Format, "live.json", []byte(live), ingest.Options{Target: "kh"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(edges(lr, model.RelRunsOn), []string{"k8s:kh/a/Pod/p -> k8s:kh//Node/node-1"}); diff != "" {
		t.Errorf("live pod runs-on (-got +want):\n%s", diff)
	}
	if n := assetsByKey(lr)["k8s:kh//Node/node-1"]; n.Kind != model.KindNode || n.Labels["env"] != "production" {
		t.Errorf("node asset = %+v, want a node labelled env=production", n)
	}

	single := ingesttest.Parse(t, k8s.Format, "testdata/pod.json", ingest.Options{})
	if diff := cmp.Diff(edges(single, model.RelRunsOn), []string{"k8s:default/kube-system/Pod/lonely -> k8s:default//Node/any"}); diff != "" {
		t.Errorf("single pod runs-on (-got +want):\n%s", diff)
	}
}

func testdataFiles(t testing.TB) []string {
	t.Helper()
	files := append(policyFiles(t), manifests, "testdata/estate.yaml", "testdata/list.json", "testdata/pod.json", "testdata/endpoints.yaml")
	live, err := filepath.Glob("testdata/kubehound/*.json")
	if err != nil {
		t.Fatal(err)
	}
	return append(files, live...)
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := append(formats.All(), k8s.Format)
	for _, f := range testdataFiles(t) {
		src, err := ingest.Open(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := reg.Detect(src.Sniff())
		src.Close()
		if err != nil || got.Name != "kubernetes" {
			t.Errorf("Detect(%s) = %q, %v; want kubernetes", f, got.Name, err)
		}
	}
	var others []string
	for _, dir := range []string{"../../ingest/trivy/testdata", "../../ingest/sarif/testdata"} {
		m, _ := filepath.Glob(dir + "/*")
		others = append(others, m...)
	}
	if len(others) == 0 {
		t.Fatal("no trivy or sarif testdata found")
	}
	for _, f := range others {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if k8s.Detect(ingest.SniffBytes(data[:min(len(data), 64<<10)])) {
			t.Errorf("Detect(%s) = true, want false", f)
		}
	}
	for _, in := range []string{
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n",
		"apiVersion: v2\nname: chart\nversion: 1.0.0\n",
		"name: CI\non: push\njobs: {}\n",
		"services:\n  web:\n    image: nginx\n",
		"spec:\n  apiVersion: v1\n  kind: Pod\n",
		`{"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport", "results": []}`,
		`{"kind": "Pod"}`,
		`[{"apiVersion": "v1", "kind": "Pod"}]`,
	} {
		if k8s.Detect(ingest.SniffBytes([]byte(in))) {
			t.Errorf("Detect(%q) = true, want false", in)
		}
	}
	for _, in := range []string{
		"# Source: chart/templates/sa.yaml\n---\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\n",
		"kind: Service\napiVersion: v1\n",
		`{"apiVersion": "v1", "items": [{"apiVersion": "v1", "kind": "Pod"}]}`,
		"{\n  \"apiVersion\": \"v1\",\n  \"items\": [\n  ]\n}\n", // kubectl get endpointslices -o json, none
	} {
		if !k8s.Detect(ingest.SniffBytes([]byte(in))) {
			t.Errorf("Detect(%q) = false, want true", in)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, k8s.Format, "testdata/list.json")
	tests := []struct {
		name, in string
		line     int // 0: no line expected
		msg      string
	}{
		{"bad indentation", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   namespace: y\n", 5, "invalid YAML"},
		{"tab", "apiVersion: v1\nkind: Pod\nmetadata:\n\tname: x\n", 4, "invalid YAML"},
		{"unclosed quote", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"x\n", 4, "invalid YAML"},
		{"list document", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n- a\n- b\n", 5, "mapping"},
		{"no kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nmetadata: {name: b}\n", 5, "apiVersion and kind"},
		{"no name", "apiVersion: v1\nkind: Secret\nmetadata: {}\n", 1, "metadata.name"},
		{"wrong type", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  template:\n    spec:\n      hostNetwork: [yes]\n", 7, "cannot unmarshal"},
		{"json syntax", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, }`, 0, "invalid JSON"},
		{"json wrong type", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "spec": {"containers": {}}}`, 0, "JSON"},
		{"json items on a Pod", `{"apiVersion": "v1", "kind": "Pod", "items": []}`, 0, "no List"},
		{"aws-auth mapRoles", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\ndata:\n  mapRoles: \"- rolearn: [\"\n", 1, "aws-auth mapRoles"},
		{"aws-auth without rolearn", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\ndata:\n  mapRoles: \"- username: x\"\n", 1, "without rolearn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ingesttest.ParseBytes(k8s.Format, "bad.yaml", []byte(tt.in), ingest.Options{})
			ie, ok := errors.AsType[*ingest.InputError](err)
			if !ok {
				t.Fatalf("Parse(%q) = %v, want an *ingest.InputError", tt.in, err)
			}
			if ie.File != "bad.yaml" || ie.Line != tt.line || !strings.Contains(ie.Error(), tt.msg) {
				t.Errorf("Parse(%q) = %q (line %d), want bad.yaml line %d with %q", tt.in, ie, ie.Line, tt.line, tt.msg)
			}
			if tt.line > 1 && ie.Offset <= 0 {
				t.Errorf("Parse(%q) offset = %d, want the start of line %d", tt.in, ie.Offset, tt.line)
			}
		})
	}
	// A malformed input stores nothing.
	st := ingesttest.OpenStore(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	data, _ := os.ReadFile("testdata/estate.yaml")
	if err := os.WriteFile(bad, append(data, "\n---\nkind: [\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ingesttest.Ingest(st, k8s.Format, ingest.Options{}, bad); err == nil {
		t.Fatal("Ingest(bad) = nil error")
	}
	if c := ingesttest.Count(t, st); c.Assets != 0 || c.Relations != 0 || c.Scans != 0 {
		t.Errorf("counts after a failed ingest = %+v, want nothing", c)
	}
}

func TestEmptyInputs(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "---\n", "# Source: x\n---\n---\n", "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": []}"} {
		r, err := ingesttest.ParseBytes(k8s.Format, "empty", []byte(in), ingest.Options{})
		if err != nil {
			t.Errorf("Parse(%q) = %v", in, err)
			continue
		}
		if len(r.Scans) != 1 || len(r.Relations) != 0 || len(r.Assets) != 1 {
			t.Errorf("Parse(%q) = %d scans, %d assets, %d relations; want 1, 1 (the cluster), 0", in, len(r.Scans), len(r.Assets), len(r.Relations))
		}
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	p := withPolicies(t)
	if _, err := ingesttest.Ingest(st, k8s.Format, ingest.Options{Target: "boutique"}, p); err != nil {
		t.Fatal(err)
	}
	r := ingesttest.Parse(t, k8s.Format, p, ingest.Options{Target: "boutique"})
	keys := map[string]bool{}
	for _, rel := range r.Relations {
		keys[rel.From], keys[rel.To] = true, true
	}
	for _, a := range r.Assets {
		keys[a.Key] = true
	}
	first := ingesttest.Count(t, st)
	want := fmt.Sprint(len(keys), len(r.Relations), 0, 1)
	if got := fmt.Sprint(first.Assets, first.Relations, first.Findings, first.Scans); got != want {
		t.Errorf("store counts (assets relations findings scans) = %s, want %s", got, want)
	}
	if _, err := ingesttest.Ingest(st, k8s.Format, ingest.Options{Target: "boutique"}, p); err != nil {
		t.Fatal(err)
	}
	second := ingesttest.Count(t, st)
	if second.Assets != first.Assets || second.Relations != first.Relations || second.Findings != 0 {
		t.Errorf("counts after a second ingest = %+v, want %+v", second, first)
	}
}

func FuzzParse(f *testing.F) {
	ingesttest.Fuzz(f, k8s.Format, testdataFiles(f)...)
}
