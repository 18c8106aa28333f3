package validate_test

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/validate"
	"github.com/ctem-dev/ctem/internal/validate/observe"
)

// runningEdgeProxy is the real k9s pod listing made to run the demo's
// edge-proxy image in namespace shop, and nothing else.
func runningEdgeProxy(t *testing.T) []observe.Running {
	t.Helper()
	raw, err := os.ReadFile("observe/testdata/k9s-po.json")
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
	rs, err := observe.ParsePods("pods.json", bytes.NewReader(b))
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
	rs := append(runningEdgeProxy(t), observe.Running{Namespace: "shop", Pod: "shop-api-1", Container: "api", Image: "ghcr.io/aquasecurity/trivy-test-images:spring4shell-jre11"})
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
