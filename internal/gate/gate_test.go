package gate_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/gate"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/intel/feeds"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

func open(ctx context.Context, path string) (app.Store, error) { return sqlite.Open(ctx, path) }

var loadIntel = sync.OnceValues(func() (app.Intel, error) {
	in, err := feeds.Load(feeds.DefaultConfig(""))
	if err != nil {
		return app.Intel{}, err
	}
	return app.Intel{Intel: score.Intel{KEV: in.KEV, EPSS: in.EPSS}}, nil
})

func newApp(st app.Store) *app.App {
	scope, _ := examples.Files.ReadFile(examples.Scope)
	scope = append(scope, policies...)
	return &app.App{Store: st, Formats: inputs.All(), Intel: loadIntel, Scope: &app.ScopeFile{Name: "ctem.yaml", Data: scope}}
}

// policies are the scope's policies in the gate tests: a container
// escape on a path fails, a new critical exposure warns.
const policies = `policies:
  - name: no-escape
    on: path
    action: fail
    expr: "'escape' in path.rules"
  - name: new-critical
    on: exposure
    action: warn
    expr: exposure.severity == 'critical'
`

// baseDB ingests the example estate and its reports into a database, as
// the main branch's CI would.
func baseDB(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "base.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var req app.IngestRequest
	for _, name := range examples.Inputs {
		data, err := examples.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		req.Inputs = append(req.Inputs, app.Input{Name: name, R: bytes.NewReader(data), Target: examples.Targets[name]})
	}
	req.NoAnalyze = true
	if _, err := newApp(st).Ingest(ctx, req); err != nil {
		t.Fatalf("ingest the examples: %v", err)
	}
	return path
}

// change writes an example input changed by edit under dir, with the
// example's name, and returns it as an input with the example's target.
func change(t testing.TB, dir, name string, edit func(string) string) app.Input {
	t.Helper()
	data, err := examples.Files.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	out := edit(string(data))
	if out == string(data) {
		t.Fatalf("the edit of %s changed nothing", name)
	}
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return app.Input{Name: path, Target: examples.Targets[name]}
}

func replace(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}

// hostPath mounts the node's root file system into shop-api, which runs
// the image with a remote code execution.
var hostPath = replace(`            - {name: payment-keys, mountPath: /etc/payment, readOnly: true}
      volumes:
`, `            - {name: payment-keys, mountPath: /etc/payment, readOnly: true}
            - {name: host, mountPath: /host}
      volumes:
        - name: host
          hostPath: {path: /}
`)

// wildcard gives the shop-api role every action on every resource.
var wildcard = replace(`      Action   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
      Resource = [aws_s3_bucket.customer_exports.arn, "${aws_s3_bucket.customer_exports.arn}/*"]`, `      Action   = "*"
      Resource = "*"`)

// kevOnEdge reports the Spring4Shell image's findings on the edge
// proxy's image, which the internet reaches.
func kevOnEdge(s string) string {
	return strings.ReplaceAll(s, `"ghcr.io/aquasecurity/trivy-test-images:spring4shell-jre11"`, `"ghcr.io/aquasecurity/trivy-test-images:alpine-310"`)
}

// upgraded drops every vulnerability from the Spring4Shell image's
// report: the rescan of a fixed image.
func upgraded(s string) string {
	var doc map[string]any
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		panic(err)
	}
	for _, r := range doc["Results"].([]any) {
		delete(r.(map[string]any), "Vulnerabilities")
	}
	out, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return string(out)
}

func TestGate(t *testing.T) {
	t.Parallel()
	base := baseDB(t)
	before := fileDigest(t, base)
	schema := sarifSchema(t)
	tests := []struct {
		name      string
		file      string
		edit      func(string) string
		wantFail  bool
		wantPaths bool // new paths
		wantKEV   string
		wantClose bool
		// wantPolicy: the fail policy no-escape matches.
		wantPolicy bool
	}{
		{name: "unchanged", file: "k8s/shop.yaml", edit: func(s string) string { return s + "\n" }},
		{name: "hostPath", file: "k8s/shop.yaml", edit: hostPath, wantFail: true, wantPaths: true, wantPolicy: true},
		{name: "wildcard", file: "terraform/main.tf", edit: wildcard, wantFail: true, wantPaths: true},
		{name: "kev on internet", file: "reports/shop-api-image.trivy.json", edit: kevOnEdge, wantFail: true, wantPaths: true, wantKEV: "CVE-2022-22965"},
		{name: "fix only", file: "reports/shop-api-image.trivy.json", edit: upgraded, wantClose: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := change(t, dir, tc.file, tc.edit)
			if tc.file == "terraform/main.tf" {
				in.Name = filepath.Dir(in.Name) // a Terraform configuration is its folder
			}
			r, err := gate.Run(t.Context(), gate.Config{Base: base, Inputs: []app.Input{in}, Open: open, NewApp: newApp, TempDir: dir})
			if err != nil {
				t.Fatalf("Run(%s) error: %v", tc.name, err)
			}
			if r.Failed() != tc.wantFail {
				t.Errorf("Run(%s).Failed() = %v, want %v (reasons %v)", tc.name, r.Failed(), tc.wantFail, r.Reasons())
			}
			if got := len(r.NewPaths) > 0; got != tc.wantPaths {
				t.Errorf("Run(%s) new paths = %d, want some: %v", tc.name, len(r.NewPaths), tc.wantPaths)
			}
			for _, p := range r.NewPaths {
				if p.Jewel == "" {
					t.Errorf("Run(%s) new path %s has no crown jewel", tc.name, p.ID)
				}
			}
			var kevs []string
			for _, k := range r.NewKEV {
				kevs = append(kevs, k.CVE)
				if k.Via == "" {
					t.Errorf("Run(%s) KEV %s on %s: no internet-facing asset named", tc.name, k.CVE, k.Exposure.Asset)
				}
			}
			if got := strings.Join(kevs, ","); !strings.Contains(got, tc.wantKEV) || (tc.wantKEV == "" && got != "") {
				t.Errorf("Run(%s) new KEV = %q, want %q", tc.name, got, tc.wantKEV)
			}
			if got := len(r.Policies) > 0; got != tc.wantPolicy {
				t.Errorf("Run(%s) fail-policy matches = %v, want some: %v", tc.name, r.Policies, tc.wantPolicy)
			}
			for _, m := range r.Policies {
				if m.Policy != "no-escape" || m.On != "path" {
					t.Errorf("Run(%s) fail-policy match %+v, want no-escape on a path", tc.name, m)
				}
			}
			if tc.wantClose && r.ClosedPaths == 0 {
				t.Errorf("Run(%s) closed paths = 0, want some", tc.name)
			}
			if tc.wantPaths && len(r.Fix) == 0 {
				t.Errorf("Run(%s) fix = none, want the plan items that cut the new paths", tc.name)
			}

			var sb bytes.Buffer
			if err := gate.WriteSARIF(&sb, r, "test"); err != nil {
				t.Fatal(err)
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(sb.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(doc); err != nil {
				t.Errorf("WriteSARIF(%s) does not validate against SARIF 2.1.0: %v", tc.name, err)
			}
			var log struct {
				Runs []struct {
					Results []struct {
						RuleID string `json:"ruleId"`
					} `json:"results"`
				} `json:"runs"`
			}
			if err := json.Unmarshal(sb.Bytes(), &log); err != nil {
				t.Fatal(err)
			}
			if got, want := len(log.Runs[0].Results), len(r.NewPaths)+len(r.NewKEV)+len(r.Policies); got != want {
				t.Errorf("WriteSARIF(%s) results = %d, want %d (only what the change introduced)", tc.name, got, want)
			}

			var md bytes.Buffer
			if err := gate.WriteMarkdown(&md, r); err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Count(md.String(), "```mermaid"), len(r.NewPaths); got != want {
				t.Errorf("WriteMarkdown(%s) Mermaid charts = %d, want %d", tc.name, got, want)
			}
			if head := strings.SplitN(md.String(), "\n", 2)[0]; strings.Contains(head, "failed") != tc.wantFail {
				t.Errorf("WriteMarkdown(%s) heading = %q, want failed %v", tc.name, head, tc.wantFail)
			}
		})
	}
	t.Cleanup(func() {
		if got := fileDigest(t, base); got != before {
			t.Errorf("the base database changed: digest %x, want %x", got, before)
		}
	})
}

func TestGateBadInput(t *testing.T) {
	t.Parallel()
	base := baseDB(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"SchemaVersion": 2, "Results": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []gate.Config{
		{Base: filepath.Join(dir, "missing.db"), Inputs: []app.Input{{Name: bad}}},
		{Base: base},
		{Base: base, Inputs: []app.Input{{Name: filepath.Join(dir, "missing.json")}}},
	} {
		cfg.Open, cfg.NewApp, cfg.TempDir = open, newApp, dir
		_, err := gate.Run(t.Context(), cfg)
		if !app.IsBadInput(err) {
			t.Errorf("Run(base %s, inputs %v) = %v, want a bad-input error", filepath.Base(cfg.Base), cfg.Inputs, err)
		}
	}
}

func fileDigest(t testing.TB, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

func sarifSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}
