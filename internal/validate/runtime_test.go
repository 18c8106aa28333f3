package validate_test

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/validate"
)

var podFiles = []string{"testdata/k9s-po.json", "testdata/kubectl-neat-list1-raw.json", "testdata/kubehound-pods.json"}

// TestParsePods: the running containers of real kubectl output, as a
// generic decode of the same files counts them.
func TestParsePods(t *testing.T) {
	t.Parallel()
	for _, f := range podFiles {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := validate.ParsePods(f, bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("ParsePods(%s): %v", f, err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		items := []any{doc}
		if its, ok := doc["items"].([]any); ok {
			items = its
		}
		var want []string
		for _, it := range items {
			p := it.(map[string]any)
			st, _ := p["status"].(map[string]any)
			cs, _ := st["containerStatuses"].([]any)
			for _, c := range cs {
				c := c.(map[string]any)
				if state, _ := c["state"].(map[string]any); state["running"] != nil {
					want = append(want, c["image"].(string))
				}
			}
		}
		var images []string
		for _, r := range got {
			images = append(images, r.Image)
		}
		if !slices.Equal(images, want) {
			t.Errorf("ParsePods(%s) images = %q, want %q", f, images, want)
		}
	}
}

// TestParsePodsErrors: bad input names the input and where.
func TestParsePodsErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{`{"kind": "Pod", "metadata": {`, "pods.json: offset"},
		{`{"kind": "Deployment"}`, `kind "Deployment"`},
		{`{"kind": "List", "items": [{"kind": "Pod", "status": 3}]}`, "items[0]"},
		{`{"kind": "Pod"} {"kind": "Pod"}`, "more than one JSON document"},
	} {
		_, err := validate.ParsePods("pods.json", strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "pods.json") {
			t.Errorf("ParsePods(%q) = %v, want an error naming pods.json and %q", c.in, err, c.want)
		}
	}
}

// TestImageKeys: a container's keys are its reference's and the digest's.
func TestImageKeys(t *testing.T) {
	t.Parallel()
	r := validate.Running{Image: "nginx:alpine", ImageID: "docker-pullable://nginx@sha256:482ead44b2203fa32b3390abdaf97cbdc8ad15c07fb03a3e68d7c35a19ad7595"}
	want := []string{model.ImageKey("nginx:alpine"), model.ImageKey("nginx@sha256:482ead44b2203fa32b3390abdaf97cbdc8ad15c07fb03a3e68d7c35a19ad7595")}
	if got := r.ImageKeys(); !slices.Equal(got, want) {
		t.Errorf("ImageKeys() = %q, want %q", got, want)
	}
}

func FuzzParsePods(f *testing.F) {
	for _, p := range podFiles {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := validate.ParsePods("fuzz.json", bytes.NewReader(b))
		if err != nil && rs != nil {
			t.Errorf("ParsePods = %d containers and error %v", len(rs), err)
		}
		for _, r := range rs {
			_ = r.ImageKeys()
		}
	})
}

// runningEdgeProxy is the real k9s pod listing made to run the demo's
// edge-proxy image in namespace shop, and nothing else.
func runningEdgeProxy(t *testing.T) []validate.Running {
	t.Helper()
	raw, err := os.ReadFile("testdata/k9s-po.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["metadata"].(map[string]any)["namespace"] = "shop"
	c := doc["status"].(map[string]any)["containerStatuses"].([]any)[0].(map[string]any)
	c["image"] = "ghcr.io/aquasecurity/trivy-test-images:alpine-310"
	c["imageID"] = "docker-pullable://ghcr.io/aquasecurity/trivy-test-images@sha256:482ead44b2203fa32b3390abdaf97cbdc8ad15c07fb03a3e68d7c35a19ad7595"
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := validate.ParsePods("pods.json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestRecordRunning: in the demo, a cluster that runs the edge proxy's
// image but not the API's marks the API image's exposures not running
// (the namespace is listed, the Deployment names the image), which lowers
// every path through the API's remote code execution and says why; the
// edge proxy's exposures are marked running.
func TestRecordRunning(t *testing.T) {
	t.Parallel()
	a := demo(t)
	before := map[string]float64{}
	for _, p := range paths(t, a) {
		before[p.ID] = p.Likelihood
	}
	out, err := validate.RecordRunning(t.Context(), a, runningEdgeProxy(t))
	if err != nil {
		t.Fatal(err)
	}
	apiImage := model.ImageKey("ghcr.io/aquasecurity/trivy-test-images:spring4shell-jre11")
	edgeImage := model.ImageKey("ghcr.io/aquasecurity/trivy-test-images:alpine-310")
	check := func(ids []string, asset, what string) {
		t.Helper()
		if len(ids) == 0 {
			t.Errorf("RecordRunning: no exposure %s", what)
		}
		for _, id := range ids {
			x, err := a.Store.Exposure(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if x.Asset != asset {
				t.Errorf("RecordRunning: exposure %s on %s is %s, want only those on %s", id, x.Asset, what, asset)
			}
		}
	}
	check(out.Running, edgeImage, "running")
	check(out.NotRunning, apiImage, "not running")
	if out.Reanalysis == nil {
		t.Fatal("RecordRunning: no re-analysis")
	}
	lowered := 0
	for _, p := range paths(t, a) {
		for _, s := range p.Steps {
			if slices.Contains(s.Evidence, string(model.EvidenceImageNotRunning)) {
				if was, ok := before[p.ID]; !ok || p.Likelihood >= was {
					t.Errorf("path %s through an image not running: likelihood %.4f, was %.4f (known %v); want lower", p.ID, p.Likelihood, was, ok)
				}
				lowered++
				break
			}
		}
	}
	if lowered == 0 {
		t.Error("RecordRunning: no path names image-not-running evidence")
	}
	// A listing that runs the API image too takes the mark back.
	rs := append(runningEdgeProxy(t), validate.Running{Namespace: "shop", Pod: "shop-api-1", Container: "api", Image: "ghcr.io/aquasecurity/trivy-test-images:spring4shell-jre11"})
	out, err = validate.RecordRunning(t.Context(), a, rs)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.NotRunning) != 0 || out.Removed == 0 {
		t.Errorf("RecordRunning(both running) = %d not running, %d facts removed; want none and the old ones replaced", len(out.NotRunning), out.Removed)
	}
	for _, p := range paths(t, a) {
		if was := before[p.ID]; p.Likelihood != was {
			t.Errorf("after both run, path %s likelihood %.4f, want %.4f as before", p.ID, p.Likelihood, was)
		}
	}
}
