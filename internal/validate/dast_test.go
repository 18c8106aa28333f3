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
