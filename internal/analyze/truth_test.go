package analyze_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/estate/terraform"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/intel/kev"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// input is one file (or Terraform folder) of testdata, ingested as
// `ctem ingest --target TARGET FILE` would.
type input struct{ path, target string }

// hop is one step of a path: its rule and its two states.
type hop struct{ Rule, From, To string }

func hops(p graph.Path) []hop {
	var out []hop
	for _, s := range p.Steps {
		out = append(out, hop{s.Rule, s.From, s.To})
	}
	return out
}

// truths are the ground-truth estates: each built from real inputs
// (Kubernetes manifests, Terraform, an inventory for what neither says,
// real scanner reports), with the path an attacker takes to the jewel and
// a negative twin, the same estate without the fact that enables it.
var truths = []struct {
	name   string
	scope  string
	inputs []input
	// twin replaces inputs in the negative twin: the same estate
	// without the enabling relation or setting.
	twin  []input
	jewel string
	want  []hop
	// twinPaths are the paths to the jewel the twin still has, none
	// when nil: an estate may hold other ways in that the enabling fact
	// does not govern.
	twinPaths [][]hop
}{
	{
		name: "rce-service-account-secret-db",
		scope: `version: 1
crown_jewels:
  - {name: orders-db, value: 10, match: [{key: "k8s:prod/shop/StatefulSet/orders-db"}]}
entry_points: [internet]
`,
		inputs: []input{{"rce/shop.yaml", "prod"}, {"rce/inventory.yaml", ""}, {"reports/spring4shell-jre11.trivy.json", ""}},
		twin:   []input{{"rce/twin.yaml", "prod"}, {"rce/inventory.yaml", ""}, {"reports/spring4shell-jre11.trivy.json", ""}},
		jewel:  "k8s:prod/shop/StatefulSet/orders-db",
		want: []hop{
			{"routing", "network:k8s:prod/shop/Service/api-public", "network:k8s:prod/shop/Deployment/api"},
			{"remote-code-execution", "network:k8s:prod/shop/Deployment/api", "exec:k8s:prod/shop/Deployment/api"},
			{"workload-identity", "exec:k8s:prod/shop/Deployment/api", "identity:k8s:prod/shop/ServiceAccount/api"},
			{"permission", "identity:k8s:prod/shop/ServiceAccount/api", "read:k8s:prod/shop/Secret/db-credentials"},
			{"leaked-credential", "read:k8s:prod/shop/Secret/db-credentials", "identity:db:orders/app"},
			{"permission", "identity:db:orders/app", "write:k8s:prod/shop/StatefulSet/orders-db"},
		},
	},
	{
		name: "privileged-pod-escape-node-role-bucket",
		scope: `version: 1
crown_jewels:
  - {name: finance, value: 9, match: [{key: "tf:aws_s3_bucket.finance"}]}
`,
		inputs: []input{{"escape/pod.yaml", "prod"}, {"escape/main.tf", "acme"}, {"escape/inventory.yaml", ""}, {"reports/spring4shell-jre11.trivy.json", ""}},
		twin:   []input{{"escape/twin.yaml", "prod"}, {"escape/main.tf", "acme"}, {"escape/inventory.yaml", ""}, {"reports/spring4shell-jre11.trivy.json", ""}},
		jewel:  "tf:aws_s3_bucket.finance",
		want: []hop{
			{"routing", "network:k8s:prod/ops/Service/reports-public", "network:k8s:prod/ops/Deployment/reports"},
			{"remote-code-execution", "network:k8s:prod/ops/Deployment/reports", "exec:k8s:prod/ops/Deployment/reports"},
			{"escape", "exec:k8s:prod/ops/Deployment/reports", "exec:k8s:prod//Node/any"},
			{"workload-identity", "exec:k8s:prod//Node/any", "identity:tf:aws_iam_role.node"},
			{"permission", "identity:tf:aws_iam_role.node", "read:tf:aws_s3_bucket.finance"},
		},
	},
	{
		name: "sql-injection-database",
		scope: `version: 1
crown_jewels:
  - {name: orders-db, value: 10, match: [{key: "k8s:prod/orders/StatefulSet/orders-db"}]}
`,
		inputs: []input{{"sqli/shop.yaml", "prod"}, {"sqli/inventory.yaml", ""}, {"reports/orders-api.semgrep.json", "github.com/example-shop/orders-api"}},
		twin:   []input{{"sqli/twin.yaml", "prod"}, {"sqli/inventory.yaml", ""}, {"reports/orders-api.semgrep.json", "github.com/example-shop/orders-api"}},
		jewel:  "k8s:prod/orders/StatefulSet/orders-db",
		want: []hop{
			{"routing", "network:k8s:prod/orders/Service/orders-api-public", "network:k8s:prod/orders/Deployment/orders-api"},
			{"injection-into-data-store", "network:k8s:prod/orders/Deployment/orders-api", "write:k8s:prod/orders/StatefulSet/orders-db"},
		},
	},
	{
		name: "public-bucket",
		scope: `version: 1
crown_jewels:
  - {name: exports, value: 8, match: [{key: "tf:aws_s3_bucket.exports"}]}
`,
		inputs: []input{{"public-bucket/estate", "acme"}},
		twin:   []input{{"public-bucket/twin", "acme"}},
		jewel:  "tf:aws_s3_bucket.exports",
		want: []hop{
			{"open-data-store", "network:tf:aws_s3_bucket.exports", "read:tf:aws_s3_bucket.exports"},
		},
	},
	{
		name: "passrole-runinstances-admin-role",
		scope: `version: 1
crown_jewels:
  - {name: admin, value: 10, match: [{key: "tf:aws_iam_role.admin"}]}
entry_points:
  - {identity: "tf:aws_iam_user.deployer"}
`,
		inputs: []input{{"passrole/main.tf", "acme"}},
		twin:   []input{{"passrole/twin.tf", "acme"}},
		jewel:  "tf:aws_iam_role.admin",
		want: []hop{
			{"aws-passrole-service", "identity:tf:aws_iam_user.deployer", "identity:tf:aws_iam_role.admin"},
		},
	},
	{
		name: "trust-policy-assume-role-bucket",
		scope: `version: 1
crown_jewels:
  - {name: payroll, value: 9, match: [{key: "tf:aws_s3_bucket.payroll"}]}
entry_points:
  - {identity: "tf:aws_iam_user.intern"}
`,
		inputs: []input{{"trust/main.tf", "acme"}},
		twin:   []input{{"trust/twin.tf", "acme"}},
		jewel:  "tf:aws_s3_bucket.payroll",
		want: []hop{
			{"aws-assume-role", "identity:tf:aws_iam_user.intern", "identity:tf:aws_iam_role.payroll"},
			{"permission", "identity:tf:aws_iam_role.payroll", "read:tf:aws_s3_bucket.payroll"},
		},
	},
	{
		// Two inputs of one account joined on ARNs: the account's IAM
		// (authorization details) says user dev may assume role api, and
		// the Terraform state what role api may read.
		name: "authorization-details-joined-with-terraform-state",
		scope: `version: 1
crown_jewels:
  - {name: orders, value: 9, match: [{key: "arn:aws:dynamodb:eu-west-1:111122223333:table/orders"}]}
entry_points:
  - {identity: "arn:aws:iam::111122223333:user/dev"}
`,
		inputs: []input{{"join/authz.json", ""}, {"join/state.json", "acme"}},
		twin:   []input{{"join/twin-authz.json", ""}, {"join/state.json", "acme"}},
		jewel:  "arn:aws:dynamodb:eu-west-1:111122223333:table/orders",
		want: []hop{
			{"aws-assume-role", "identity:arn:aws:iam::111122223333:user/dev", "identity:arn:aws:iam::111122223333:role/api"},
			{"permission", "identity:arn:aws:iam::111122223333:role/api", "read:arn:aws:dynamodb:eu-west-1:111122223333:table/orders"},
		},
	},
	{
		// A wildcard pattern of an account's IAM joined with the table the
		// Terraform state describes.
		name: "authorization-details-pattern-joined-with-terraform-state",
		scope: `version: 1
crown_jewels:
  - {name: orders, value: 9, match: [{key: "arn:aws:dynamodb:eu-west-1:111122223333:table/orders"}]}
entry_points:
  - {identity: "arn:aws:iam::111122223333:user/analyst"}
`,
		inputs: []input{{"join/pattern-authz.json", ""}, {"join/state.json", "acme"}},
		twin:   []input{{"join/pattern-twin-authz.json", ""}, {"join/state.json", "acme"}},
		jewel:  "arn:aws:dynamodb:eu-west-1:111122223333:table/orders",
		want: []hop{
			{"permission", "identity:arn:aws:iam::111122223333:user/analyst", "read:aws:arn-pattern/dynamodb/table/arn:aws:dynamodb:*:111122223333:table/ord*"},
			{"aws-every-resource-of-a-type", "read:aws:arn-pattern/dynamodb/table/arn:aws:dynamodb:*:111122223333:table/ord*", "read:arn:aws:dynamodb:eu-west-1:111122223333:table/orders"},
		},
	},
	{
		name: "ssrf-imdsv1-instance-role-bucket",
		scope: `version: 1
crown_jewels:
  - {name: customer-data, value: 9, match: [{key: "tf:aws_s3_bucket.customer_data"}]}
`,
		inputs: []input{{"ssrf/main.tf", "acme"}, {"ssrf/inventory.yaml", ""}, {"reports/juice-shop.sarif.gz", "github.com/juice-shop/juice-shop"}},
		twin:   []input{{"ssrf/twin.tf", "acme"}, {"ssrf/inventory.yaml", ""}, {"reports/juice-shop.sarif.gz", "github.com/juice-shop/juice-shop"}},
		jewel:  "tf:aws_s3_bucket.customer_data",
		want: []hop{
			{"server-side-request-forgery", "network:tf:aws_instance.web", "identity:tf:aws_iam_role.web"},
			{"permission", "identity:tf:aws_iam_role.web", "read:tf:aws_s3_bucket.customer_data"},
		},
		// The Juice Shop report also has code injection (eval, YAML
		// deserialization: effect exec), and code running on the instance
		// reaches its role whatever the metadata options: IMDSv2 stops
		// the SSRF path only.
		twinPaths: [][]hop{{
			{"remote-code-execution", "network:tf:aws_instance.web", "exec:tf:aws_instance.web"},
			{"workload-identity", "exec:tf:aws_instance.web", "identity:tf:aws_iam_role.web"},
			{"permission", "identity:tf:aws_iam_role.web", "read:tf:aws_s3_bucket.customer_data"},
		}},
	},
	{
		name: "leaked-ci-token-supply-chain",
		scope: `version: 1
crown_jewels:
  - {name: payment-keys, value: 8, match: [{key: "k8s:prod/shop/Secret/payment-keys"}]}
`,
		inputs: []input{{"ci-token/shop.yaml", "prod"}, {"ci-token/inventory.yaml", ""}, {"reports/docs.gitleaks.json", "github.com/example-shop/docs"}},
		twin:   []input{{"ci-token/shop.yaml", "prod"}, {"ci-token/twin-inventory.yaml", ""}, {"reports/docs.gitleaks.json", "github.com/example-shop/docs"}},
		jewel:  "k8s:prod/shop/Secret/payment-keys",
		want: []hop{
			{"open-data-store", "network:repo:github.com/example-shop/docs", "read:repo:github.com/example-shop/docs"},
			{"leaked-credential", "read:repo:github.com/example-shop/docs", "identity:ci:github.com/example-shop/ci-bot"},
			{"permission", "identity:ci:github.com/example-shop/ci-bot", "write:repo:github.com/example-shop/storefront"},
			{"supply-chain", "write:repo:github.com/example-shop/storefront", "exec:k8s:prod/shop/Deployment/storefront"},
			{"secrets-in-reach", "exec:k8s:prod/shop/Deployment/storefront", "read:k8s:prod/shop/Secret/payment-keys"},
		},
	},
	{
		name: "irsa-service-account-role-bucket",
		scope: `version: 1
crown_jewels:
  - {name: reports, value: 7, match: [{key: "tf:aws_s3_bucket.reports"}]}
`,
		inputs: []input{{"irsa/app.yaml", "eks"}, {"irsa/main.tf", "acme"}, {"reports/spring4shell-jre11.trivy.json", ""}},
		twin:   []input{{"irsa/twin.yaml", "eks"}, {"irsa/main.tf", "acme"}, {"reports/spring4shell-jre11.trivy.json", ""}},
		jewel:  "tf:aws_s3_bucket.reports",
		want: []hop{
			{"routing", "network:k8s:eks/default/Service/nginx-public", "network:k8s:eks/default/Deployment/nginx"},
			{"remote-code-execution", "network:k8s:eks/default/Deployment/nginx", "exec:k8s:eks/default/Deployment/nginx"},
			{"workload-identity", "exec:k8s:eks/default/Deployment/nginx", "identity:k8s:eks/default/ServiceAccount/nginx"},
			{"cloud-identity", "identity:k8s:eks/default/ServiceAccount/nginx", "identity:tf:aws_iam_role.s3_reader"},
			{"permission", "identity:tf:aws_iam_role.s3_reader", "read:tf:aws_s3_bucket.reports"},
		},
	},
}

func TestGroundTruthFromInputs(t *testing.T) {
	t.Parallel()
	intel := score.Intel{KEV: kevSnapshot(t)}
	for _, tt := range truths {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			run := analyzeEstate(t, tt.scope, tt.inputs, intel)
			p, ok := findPath(run.Result, tt.want)
			if !ok {
				t.Fatalf("Analyze() paths to %s:\n%s\nwant among them:\n%s", tt.jewel, summaries(run.Result, tt.jewel), fmtHops(tt.want))
			}
			if p.Jewel != tt.jewel {
				t.Errorf("Analyze() path %s jewel = %s, want %s", p.ID, p.Jewel, tt.jewel)
			}
			if len(run.Result.Plan.Items) == 0 {
				t.Fatalf("Analyze() plan = empty, want an action that cuts %s", p.ID)
			}
			first := run.Result.Plan.Items[0].Action
			t.Logf("path %s; plan[0] = %s", analyze.Summary(p), first.Title)
			res, err := graph.Analyze(apply(run.Input, first), graph.Options{})
			if err != nil {
				t.Fatalf("graph.Analyze() after %s: %v", first.Key, err)
			}
			if _, still := findPath(res, tt.want); still {
				t.Errorf("after the plan's first action %q, path %s = still there, want cut", first.Title, p.ID)
			}
		})
		t.Run(tt.name+"/twin", func(t *testing.T) {
			t.Parallel()
			run := analyzeEstate(t, tt.scope, tt.twin, intel)
			var got [][]hop
			for _, p := range run.Result.Paths {
				if p.Jewel == tt.jewel {
					got = append(got, hops(p))
				}
			}
			if diff := cmp.Diff(got, tt.twinPaths); diff != "" {
				t.Errorf("Analyze() of the twin: paths to %s (-got +want):\n%s", tt.jewel, diff)
			}
		})
	}
}

// TestFixedReportClosesPath takes the fix plan's first action of the
// first estate through the store: a rescan of the image after the
// upgrade (a Trivy report of the same image without the vulnerable
// package's CVEs) marks the findings fixed, and the path is gone.
func TestFixedReportClosesPath(t *testing.T) {
	t.Parallel()
	tt := truths[0]
	intel := score.Intel{KEV: kevSnapshot(t)}
	st := ingesttest.OpenStore(t)
	for _, in := range tt.inputs {
		ingestFile(t, st, filepath.Join("testdata", in.path), in.target)
	}
	run := analyzeStore(t, st, tt.scope, intel)
	p, ok := findPath(run.Result, tt.want)
	if !ok {
		t.Fatalf("Analyze() = no path %s", fmtHops(tt.want))
	}
	first := run.Result.Plan.Items[0]
	if first.Kind != graph.ActUpgrade || !strings.Contains(first.Title, "spring-beans") {
		t.Fatalf("plan[0] = %q, want the upgrade of spring-beans", first.Title)
	}
	ingestFile(t, st, filepath.Join("testdata", "rce", "fixed.trivy.json"), "")
	after := analyzeStore(t, st, tt.scope, intel)
	if _, still := findPath(after.Result, tt.want); still {
		t.Errorf("after the rescan, path %s = still there, want closed", p.ID)
	}
	for _, q := range after.Result.Paths {
		if q.Jewel == tt.jewel {
			t.Errorf("after the rescan, path to %s = %s, want none", tt.jewel, analyze.Summary(q))
		}
	}
}

func kevSnapshot(t testing.TB) *kev.Catalog {
	t.Helper()
	c, err := kev.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// analyzeEstate ingests the inputs into a new SQLite store, each with the
// format detection finds (a folder as Terraform source), correlates the
// estate under the scope and analyses it.
func analyzeEstate(t testing.TB, scopeYAML string, ins []input, intel score.Intel) *analyze.Run {
	t.Helper()
	st := ingesttest.OpenStore(t)
	for _, in := range ins {
		ingestFile(t, st, filepath.Join("testdata", in.path), in.target)
	}
	return analyzeStore(t, st, scopeYAML, intel)
}

// analyzeStore correlates what st holds under the scope and analyses it,
// as `ctem analyze` does.
func analyzeStore(t testing.TB, st store.Store, scopeYAML string, intel score.Intel) *analyze.Run {
	t.Helper()
	ctx := context.Background()
	sc, err := scope.Parse("ctem.yaml", strings.NewReader(scopeYAML))
	if err != nil {
		t.Fatalf("scope.Parse() error = %v", err)
	}
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
	run, err := analyze.Analyze(ctx, st, estate.Build(assets, rels, sc), intel, graph.Options{})
	if err != nil {
		t.Fatalf("Analyze() error = %v", err)
	}
	return run
}

func ingestFile(t testing.TB, st store.Store, path, target string) {
	t.Helper()
	opts := ingest.Options{Target: target}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		ctx := context.Background()
		key, err := st.SecretKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		opts.SecretKey = key
		tx, err := st.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := terraform.ParseDir(ctx, path, opts, tx); err != nil {
			t.Fatalf("terraform.ParseDir(%s) error = %v", path, err)
		}
		if _, err := tx.EndInput(ctx, path, ""); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		return
	}
	src, err := ingest.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := inputs.All().Detect(src.Sniff())
	src.Close()
	if err != nil {
		t.Fatalf("Detect(%s) error = %v", path, err)
	}
	if _, err := ingesttest.Ingest(st, f, opts, path); err != nil {
		t.Fatalf("ingest %s as %s: %v", path, f.Name, err)
	}
}

// findPath returns the path of res whose steps are want.
func findPath(res *graph.Result, want []hop) (graph.Path, bool) {
	for _, p := range res.Paths {
		if cmp.Equal(hops(p), want) {
			return p, true
		}
	}
	return graph.Path{}, false
}

func summaries(res *graph.Result, jewel string) string {
	var b strings.Builder
	for _, p := range res.Paths {
		if p.Jewel == jewel {
			b.WriteString("  " + analyze.Summary(p) + "\n")
		}
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}

func fmtHops(hs []hop) string {
	var b strings.Builder
	for _, h := range hs {
		b.WriteString("  " + h.From + " -[" + h.Rule + "]-> " + h.To + "\n")
	}
	return b.String()
}

// apply returns a copy of in with a fix plan action taken: the weaknesses
// it fixes gone (upgrade, fix, rotate), the relation it removes gone
// (remove-relation: key "remove|type|action|from|to") or the setting it
// hardens dropped (harden: key "harden|asset|label").
func apply(in *graph.Input, a graph.Action) *graph.Input {
	out := *in
	switch a.Kind {
	case graph.ActRemove:
		parts := strings.SplitN(a.Key, "|", 5)
		out.Relations = slices.DeleteFunc(slices.Clone(in.Relations), func(r model.Relation) bool {
			return len(parts) == 5 && string(r.Type) == parts[1] && r.Action == parts[2] && r.From == parts[3] && r.To == parts[4]
		})
	case graph.ActHarden:
		parts := strings.SplitN(a.Key, "|", 3)
		out.Assets = slices.Clone(in.Assets)
		for i, as := range out.Assets {
			if len(parts) == 3 && as.Key == parts[1] {
				as.Labels = maps.Clone(as.Labels)
				delete(as.Labels, parts[2])
				out.Assets[i] = as
			}
		}
	default:
		out.Weaknesses = slices.DeleteFunc(slices.Clone(in.Weaknesses), func(w graph.Weakness) bool {
			return slices.Contains(a.Exposures, w.Exposure.ID)
		})
	}
	return &out
}

// TestPrepareAffectedMatchesFull checks the scoped re-analysis an ingest
// runs: for each ground-truth estate, with an unrelated image's real
// Trivy report beside it, a run prepared for the crown jewel's component
// reads no exposure of the unrelated image and finds exactly the paths to
// that jewel a full analysis finds.
func TestPrepareAffectedMatchesFull(t *testing.T) {
	t.Parallel()
	intel := score.Intel{KEV: kevSnapshot(t)}
	for _, tt := range truths {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := ingesttest.OpenStore(t)
			for _, in := range tt.inputs {
				ingestFile(t, st, filepath.Join("testdata", in.path), in.target)
			}
			ingestFile(t, st, filepath.Join("..", "ingest", "trivy", "testdata", "alpine-310.json"), "")
			full := analyzeStore(t, st, tt.scope, intel)
			const other = "image:ghcr.io/aquasecurity/trivy-test-images:alpine-310"
			if !slices.ContainsFunc(full.Input.Weaknesses, func(w graph.Weakness) bool { return w.Exposure.Asset == other }) {
				t.Fatalf("the full analysis has no weakness on %s; the test needs one", other)
			}
			scoped, kept, total, err := analyze.PrepareAffected(ctx, st, full.Estate, intel, []string{tt.jewel})
			if err != nil {
				t.Fatal(err)
			}
			if kept != 1 || total < 2 {
				t.Errorf("PrepareAffected kept %d of %d components, want 1 of several", kept, total)
			}
			for id, x := range scoped.Exposures {
				if x.Asset == other {
					t.Errorf("the scoped run read exposure %s of %s", id, other)
				}
			}
			if err := scoped.Run(graph.Options{}); err != nil {
				t.Fatal(err)
			}
			paths := func(r *analyze.Run) []string {
				var out []string
				for _, p := range r.Result.Paths {
					if p.Jewel == tt.jewel {
						out = append(out, fmt.Sprintf("%s %.6f", p.ID, p.Risk))
					}
				}
				slices.Sort(out)
				return out
			}
			want := paths(full)
			if len(want) == 0 {
				t.Fatalf("the full analysis finds no path to %s", tt.jewel)
			}
			if diff := cmp.Diff(paths(scoped), want); diff != "" {
				t.Errorf("paths to %s, scoped (-) and full (+):\n%s", tt.jewel, diff)
			}
		})
	}
}

// TestCloudFindingsOnTerraformBuckets checks that Security Hub findings on
// buckets, keyed by ARN, land on the buckets Terraform source describes
// (keyed by address): a bucket's ARN is an alias of its asset.
func TestCloudFindingsOnTerraformBuckets(t *testing.T) {
	t.Parallel()
	run := analyzeEstate(t, "version: 1\n", []input{{"join/buckets.tf", "acme"}, {"reports/securityhub-s3.asff.json", ""}}, score.Intel{})
	on := map[string]int{}
	for _, x := range run.Exposures {
		on[x.Asset]++
	}
	// The report's S3 finding names the reports bucket first (the ASFF
	// reader keys a finding by its first resource).
	if on["tf:aws_s3_bucket.reports"] == 0 || on["arn:aws:s3:::zeta-reports-bucket"] != 0 {
		t.Errorf("exposures by asset = %v, want the bucket's on tf:aws_s3_bucket.reports", on)
	}
}
