package validate_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/validate"
)

// nucleiHit is the real Nuclei JSON line of testdata/nuclei-cve.json
// aimed at host with the template of Spring4Shell, the demo API's RCE.
func nucleiHit(t *testing.T, host string) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/nuclei-cve.json")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	d["template-id"], d["template"] = "CVE-2022-22965", "http/cves/2022/CVE-2022-22965.yaml"
	d["type"], d["host"], d["matched-at"] = "http", "https://"+host, "https://"+host+"/api/orders"
	info := d["info"].(map[string]any)
	info["name"] = "Spring4Shell - Remote Code Execution"
	info["classification"].(map[string]any)["cve-id"] = []any{"cve-2022-22965"}
	info["classification"].(map[string]any)["cwe-id"] = []any{"cwe-94"}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestConfirmDAST: a Nuclei hit at the address of the demo's
// internet-facing service, the scope's target for it, confirms the
// Spring4Shell step on the workload behind it (asserted by the step's
// asset key), which validates the paths; the same hit at an address no
// target names confirms nothing.
func TestConfirmDAST(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		host string
		want bool
	}{{"shop.example.com", true}, {"elsewhere.example.com", false}} {
		t.Run(c.host, func(t *testing.T) {
			t.Parallel()
			a := demo(t)
			entry := strings.TrimPrefix(paths(t, a)[0].Entry, "network:")
			if _, err := a.Ingest(t.Context(), app.IngestRequest{Inputs: []app.Input{{Name: "nuclei.jsonl", R: bytes.NewReader(nucleiHit(t, c.host))}}}); err != nil {
				t.Fatal(err)
			}
			ts := []validate.Target{{Asset: entry, Address: "shop.example.com:443", TLS: true, HTTP: true}}
			out, err := validate.ConfirmDAST(t.Context(), a, ts)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(out.Confirmed) > 0; got != c.want {
				t.Fatalf("ConfirmDAST(hit at %s) confirmed %v, want %v", c.host, out.Confirmed, c.want)
			}
			confirmed := 0
			for _, p := range through(paths(t, a), entry) {
				for _, s := range p.Steps {
					if !slices.Contains(s.Evidence, string(model.EvidenceDASTConfirmed)) {
						continue
					}
					confirmed++
					if s.Asset != "k8s:prod/shop/Deployment/shop-api" || s.Rule != "remote-code-execution" {
						t.Errorf("path %s: DAST evidence on step %s on %s, want the remote-code-execution on k8s:prod/shop/Deployment/shop-api", p.ID, s.Rule, s.Asset)
					}
				}
				if c.want && !p.Validated && slices.ContainsFunc(p.Steps, func(s graph.Step) bool { return s.Rule == "remote-code-execution" }) {
					t.Errorf("path %s through the confirmed RCE is not validated", p.ID)
				}
			}
			if (confirmed > 0) != c.want {
				t.Errorf("ConfirmDAST(hit at %s): %d steps confirmed, want some: %v", c.host, confirmed, c.want)
			}
		})
	}
}

// demoIngress returns the demo with testdata/shop-ingress.yaml added: an
// Ingress for shop.example.com routing /api to the API's service and the
// rest to the storefront (the edge proxy), analysed.
func demoIngress(t *testing.T) *app.App {
	t.Helper()
	a := demo(t)
	f, err := os.Open("testdata/shop-ingress.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := a.Ingest(t.Context(), app.IngestRequest{Inputs: []app.Input{{Name: "shop-ingress.yaml", R: f, Target: "prod"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Analyze(t.Context(), graph.Options{}); err != nil {
		t.Fatal(err)
	}
	return a
}

// nucleiAt is nucleiHit at a URL.
func nucleiAt(t *testing.T, u string) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(nucleiHit(t, "x"), &d); err != nil {
		t.Fatal(err)
	}
	host, _, _ := strings.Cut(strings.TrimPrefix(u, "https://"), "/")
	d["host"], d["matched-at"] = "https://"+host, u
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestConfirmDASTThroughIngress: with no scope target at all, a Nuclei
// hit at https://shop.example.com/api/orders is tied through the
// Ingress's host and /api rule to the shop-api Service and the workload
// it selects, and confirms the step on k8s:prod/shop/Deployment/shop-api
// (asserted by asset key); the same hit under / reaches the storefront,
// whose workload has no such weakness, and confirms nothing; at a host
// nothing serves, it stays a loose URL and says so.
func TestConfirmDASTThroughIngress(t *testing.T) {
	t.Parallel()
	const ingress = "k8s:prod/shop/Ingress/shop"
	for _, c := range []struct {
		url   string
		want  []string // the step assets confirmed
		loose bool
	}{
		{"https://shop.example.com/api/orders", []string{"k8s:prod/shop/Deployment/shop-api"}, false},
		{"https://shop.example.com/static/app.js", nil, false},
		{"https://elsewhere.example.com/api/orders", nil, true},
	} {
		t.Run(c.url, func(t *testing.T) {
			t.Parallel()
			a := demoIngress(t)
			if len(through(paths(t, a), ingress)) == 0 {
				t.Fatalf("no path from %s: the test shows nothing", ingress)
			}
			if _, err := a.Ingest(t.Context(), app.IngestRequest{Inputs: []app.Input{{Name: "nuclei.jsonl", R: bytes.NewReader(nucleiAt(t, c.url))}}}); err != nil {
				t.Fatal(err)
			}
			out, err := validate.ConfirmDAST(t.Context(), a, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ws := range out.Workloads {
				got = append(got, ws...)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("ConfirmDAST(hit at %s) confirmed on %v, want %v", c.url, got, c.want)
			}
			if loose := len(out.Loose) > 0; loose != c.loose || loose && !strings.Contains(out.Loose[0].Reason, "loose URL") {
				t.Errorf("ConfirmDAST(hit at %s).Loose = %+v, want loose %v", c.url, out.Loose, c.loose)
			}
			var on []string
			for _, p := range through(paths(t, a), ingress) {
				for _, s := range p.Steps {
					if slices.Contains(s.Evidence, string(model.EvidenceDASTConfirmed)) && !slices.Contains(on, s.Asset) {
						on = append(on, s.Asset)
					}
				}
				if c.want != nil && slices.ContainsFunc(p.Steps, func(s graph.Step) bool { return s.Asset == c.want[0] && s.Rule == "remote-code-execution" }) && !p.Validated {
					t.Errorf("path %s through the confirmed RCE on %s is not validated", p.ID, c.want[0])
				}
			}
			slices.Sort(on)
			if !slices.Equal(on, c.want) {
				t.Errorf("after ConfirmDAST(hit at %s), dast-confirmed steps on %v, want %v", c.url, on, c.want)
			}
		})
	}
}

// TestEstateTargets: the Ingress's TLS host and its status address
// become targets with their reasons; an asset the internet does not
// expose gives none.
func TestEstateTargets(t *testing.T) {
	t.Parallel()
	a := demoIngress(t)
	ts, err := validate.EstateTargets(t.Context(), a.Store)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range ts {
		got = append(got, fmt.Sprintf("%s %s tls=%v http=%v", tg.Asset, tg.Address, tg.TLS, tg.HTTP))
		if !strings.Contains(tg.Reason, tg.Asset) || !strings.Contains(tg.Reason, "endpoint") {
			t.Errorf("EstateTargets(): target %s reason %q, want the endpoint and its asset", tg.Address, tg.Reason)
		}
	}
	want := []string{
		"k8s:prod/shop/Ingress/shop 192.0.2.80:443 tls=true http=true",
		"k8s:prod/shop/Ingress/shop 192.0.2.80:80 tls=false http=true",
		"k8s:prod/shop/Ingress/shop shop.example.com:443 tls=true http=true",
	}
	if !slices.Equal(got, want) {
		t.Errorf("EstateTargets() = %q, want %q", got, want)
	}
}
