package validate_test

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/validate"
	"github.com/ctem-dev/ctem/internal/validate/observe"
)

// shellAlert is the first real Falco alert as Falco writes it for a
// shell in a container of the demo's API image in namespace ns.
func shellAlert(t *testing.T, ns string) []byte {
	t.Helper()
	return falcoAlert(t, ns, "Terminal shell in container", "Notice", "container", "shell", "mitre_execution", "T1059")
}

// falcoAlert is the first real Falco alert rewritten as Falco writes
// rule (its priority and tags as falcosecurity/rules' falco_rules.yaml
// gives them) for the demo's API container in namespace ns.
func falcoAlert(t *testing.T, ns, rule, priority string, tags ...string) []byte {
	t.Helper()
	raw, err := os.ReadFile("observe/testdata/falco-cat-write.json")
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := bytes.Cut(raw, []byte("\n"))
	var d map[string]any
	if err := json.Unmarshal(first, &d); err != nil {
		t.Fatal(err)
	}
	d["rule"], d["priority"] = rule, priority
	var ts []any
	for _, tg := range tags {
		ts = append(ts, tg)
	}
	d["tags"] = ts
	of := d["output_fields"].(map[string]any)
	of["container.image.repository"], of["container.image.tag"] = "ghcr.io/aquasecurity/trivy-test-images", "spring4shell-jre11"
	of["k8s.ns.name"], of["k8s.pod.name"], of["proc.cmdline"] = ns, "shop-api-6d9f7c-abcde", "bash"
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestRecordFalco: a shell alert in the API's container validates every
// path through the API's remote code execution; the same alert in
// another namespace, or the real alert outside containers, does not.
func TestRecordFalco(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("observe/testdata/falco-cat-write.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		input []byte
		want  bool
	}{
		{"shell in shop", shellAlert(t, "shop"), true},
		{"write below etc in shop", falcoAlert(t, "shop", "Write below etc", "Error", "maturity_stable", "host", "container", "filesystem", "mitre_persistence", "T1037.004"), true},
		{"shell elsewhere", shellAlert(t, "staging"), false},
		{"no container", raw, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := demo(t)
			al, err := observe.ParseFalco("falco.json", bytes.NewReader(c.input))
			if err != nil {
				t.Fatal(err)
			}
			out, err := validate.RecordFalco(t.Context(), a, al)
			if err != nil {
				t.Fatal(err)
			}
			through := 0
			for _, p := range paths(t, a) {
				rce := slices.ContainsFunc(p.Steps, func(s graph.Step) bool {
					return s.Asset == "k8s:prod/shop/Deployment/shop-api" && s.Capability == "exec"
				})
				if !rce {
					continue
				}
				through++
				evidenced := slices.ContainsFunc(p.Steps, func(s graph.Step) bool {
					return slices.Contains(s.Evidence, string(model.EvidenceRuntimeExec))
				})
				if evidenced != c.want || p.Validated != c.want {
					t.Errorf("path %s: runtime-exec evidence %v, validated %v; want %v", p.ID, evidenced, p.Validated, c.want)
				}
			}
			if through == 0 {
				t.Fatal("no path through code execution on the API")
			}
			if (len(out.Confirmed) > 0) != c.want {
				t.Errorf("RecordFalco() confirmed %v, want some: %v", out.Confirmed, c.want)
			}
		})
	}
}

// TestRecordFalcoConfigurationSteps: a sensitive file read and a contact
// with the API server in the API's container show the steps from code
// execution there to its mounted secret and to its service account;
// those steps rest on configuration, not exposures, so they are listed as
// observed and no evidence is recorded, and the paths through the RCE
// are not validated by them.
func TestRecordFalcoConfigurationSteps(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rule, priority string
		tags           []string
		capability     string
	}{
		{"Read sensitive file untrusted", "Warning", []string{"T1555", "container", "filesystem", "host", "maturity_stable", "mitre_credential_access"}, "read"},
		{"Contact K8S API Server From Container", "Notice", []string{"T1565", "container", "k8s", "maturity_stable", "mitre_discovery", "network"}, "identity"},
	} {
		t.Run(c.rule, func(t *testing.T) {
			t.Parallel()
			a := demo(t)
			al, err := observe.ParseFalco("falco.json", bytes.NewReader(falcoAlert(t, "shop", c.rule, c.priority, c.tags...)))
			if err != nil {
				t.Fatal(err)
			}
			out, err := validate.RecordFalco(t.Context(), a, al)
			if err != nil {
				t.Fatal(err)
			}
			if out.Recorded != 0 || out.Ignored != 0 {
				t.Errorf("RecordFalco(%s) recorded %d, ignored %d; want 0 and 0", c.rule, out.Recorded, out.Ignored)
			}
			want := false
			for _, p := range paths(t, a) {
				for _, s := range p.Steps {
					if s.From == "exec:k8s:prod/shop/Deployment/shop-api" && s.Capability == c.capability {
						want = true
						if !slices.ContainsFunc(out.Observed, func(o validate.FalcoObserved) bool {
							return o.From == s.From && o.Asset == s.Asset && o.Alert == c.rule
						}) {
							t.Errorf("RecordFalco(%s).Observed = %+v, want the step %s to %s", c.rule, out.Observed, s.Rule, s.Asset)
						}
					}
				}
			}
			if !want {
				t.Fatalf("no step from code execution on the API to %s: the test shows nothing", c.capability)
			}
		})
	}
}

// TestRecordFalcoPerWorkload: with a second workload running the API's
// image (a canary the API's service also routes to), a shell alert in a
// pod of shop-api validates the paths through shop-api's code execution
// only: the evidence names the workload, not the image, and the
// canary's paths are not validated by it.
func TestRecordFalcoPerWorkload(t *testing.T) {
	t.Parallel()
	a := demo(t)
	const canary = `apiVersion: apps/v1
kind: Deployment
metadata: {name: shop-api-canary, namespace: shop}
spec:
  selector: {matchLabels: {app: shop-api, track: canary}}
  template:
    metadata: {labels: {app: shop-api, track: canary, tier: backend}}
    spec:
      containers:
        - name: api
          image: ghcr.io/aquasecurity/trivy-test-images:spring4shell-jre11
`
	if _, err := a.Ingest(t.Context(), app.IngestRequest{Inputs: []app.Input{{Name: "canary.yaml", R: strings.NewReader(canary), Target: "prod"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Analyze(t.Context(), graph.Options{}); err != nil {
		t.Fatal(err)
	}
	al, err := observe.ParseFalco("falco.json", bytes.NewReader(shellAlert(t, "shop")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := validate.RecordFalco(t.Context(), a, al); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, p := range paths(t, a) {
		for _, s := range p.Steps {
			if s.Capability != "exec" || len(s.ExposureIDs) == 0 {
				continue
			}
			seen[s.Asset]++
			want := s.Asset == "k8s:prod/shop/Deployment/shop-api"
			if got := slices.Contains(s.Evidence, string(model.EvidenceRuntimeExec)); got != want {
				t.Errorf("path %s: step %s on %s has runtime-exec %v, want %v", p.ID, s.Rule, s.Asset, got, want)
			}
			if !want && p.Validated {
				t.Errorf("path %s through the canary's code execution is validated by an alert in shop-api", p.ID)
			}
		}
	}
	if seen["k8s:prod/shop/Deployment/shop-api"] == 0 || seen["k8s:prod/shop/Deployment/shop-api-canary"] == 0 {
		t.Fatalf("paths through code execution: %v; want some on shop-api and on the canary", seen)
	}
}
