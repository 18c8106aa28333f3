package terraform_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/estate/k8s"
	"github.com/ctem-dev/ctem/internal/estate/terraform"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/model"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// lines renders what a recorder holds, one sorted line per asset and
// relation, labels sorted: the golden form.
func lines(r *ingesttest.Recorder) []string {
	var out []string
	for _, a := range r.Assets {
		keys := make([]string, 0, len(a.Labels))
		for k := range a.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var ls []string
		for _, k := range keys {
			ls = append(ls, k+"="+a.Labels[k])
		}
		out = append(out, fmt.Sprintf("asset %s %s %q {%s}", a.Key, a.Kind, a.Name, strings.Join(ls, " ")))
	}
	for _, rel := range r.Relations {
		out = append(out, edge(rel))
	}
	sort.Strings(out)
	return out
}

func edge(rel model.Relation) string {
	s := rel.From + " -" + string(rel.Type) + "-> " + rel.To
	if rel.Action != "" {
		s += " [" + rel.Action + "]"
	}
	return s
}

func parseDir(t testing.TB, dir string) *ingesttest.Recorder {
	t.Helper()
	r := &ingesttest.Recorder{}
	if err := terraform.ParseDir(context.Background(), dir, ingest.Options{Target: "shop"}, r); err != nil {
		t.Fatalf("ParseDir(%s): %v", dir, err)
	}
	return r
}

func TestGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, golden string
		parse        func(t *testing.T) *ingesttest.Recorder
	}{
		{"dir", "estate.golden", func(t *testing.T) *ingesttest.Recorder { return parseDir(t, "testdata/estate") }},
		{"network.tf", "network.golden", func(t *testing.T) *ingesttest.Recorder {
			return ingesttest.Parse(t, terraform.FormatHCL, "testdata/estate/network.tf", ingest.Options{Target: "shop"})
		}},
		{"unresolved.tf", "unresolved.golden", func(t *testing.T) *ingesttest.Recorder {
			return ingesttest.Parse(t, terraform.FormatHCL, "testdata/unresolved.tf", ingest.Options{Target: "shop"})
		}},
		{"plan.json", "plan.golden", func(t *testing.T) *ingesttest.Recorder {
			return ingesttest.Parse(t, terraform.FormatPlan, "testdata/plan.json", ingest.Options{Target: "shop"})
		}},
		{"state.json", "state.golden", func(t *testing.T) *ingesttest.Recorder {
			return ingesttest.Parse(t, terraform.FormatPlan, "testdata/state.json", ingest.Options{Target: "shop"})
		}},
		{"terraform.tfstate", "tfstate.golden", func(t *testing.T) *ingesttest.Recorder {
			return ingesttest.Parse(t, terraform.FormatPlan, "testdata/terraform.tfstate", ingest.Options{Target: "shop"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.parse(t)
			if len(r.Scans) != 1 || r.Scans[0].Tool != "terraform" || r.Scans[0].Target != "shop" || r.Scans[0].Asset != "tf:workspace/shop" {
				t.Errorf("scans = %+v, want one terraform scan of shop", r.Scans)
			}
			if len(r.Findings) != 0 {
				t.Errorf("findings = %d, want 0", len(r.Findings))
			}
			got := strings.Join(lines(r), "\n") + "\n"
			path := filepath.Join("testdata", "golden", tt.golden)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(strings.Split(got, "\n"), strings.Split(string(want), "\n")); diff != "" {
				t.Errorf("%s: assets and relations differ from %s (-got +want):\n%s", tt.name, path, diff)
			}
		})
	}
}

// TestSemantics pins the rules the golden files hold, so that a careless
// -update cannot lose them.
func TestSemantics(t *testing.T) {
	t.Parallel()
	r := parseDir(t, "testdata/estate")
	assets := map[string]model.Asset{}
	for _, a := range r.Assets {
		if a.Source != "terraform:estate" {
			t.Errorf("asset %s source %q, want terraform:estate", a.Key, a.Source)
		}
		assets[a.Key] = a
	}
	var edges []string
	for _, rel := range r.Relations {
		edges = append(edges, edge(rel))
	}
	wantEdges := []string{
		// security groups open to 0.0.0.0/0 and ::/0
		"internet -exposes-> tf:aws_instance.web [tcp/443]",
		"internet -exposes-> tf:aws_instance.web [tcp/22]",
		"internet -exposes-> tf:aws_db_instance.orders [tcp/5432]",
		"internet -exposes-> tf:aws_lb.front [tcp/443]",
		"internet -exposes-> tf:aws_lambda_function.api [tcp/443]",
		"tf:aws_lb.front -routes-to-> tf:aws_lb_target_group.web",
		"tf:aws_lb_target_group.web -routes-to-> tf:aws_instance.web [tcp/443]",      // the group's port
		"tf:aws_lb_target_group.web -routes-to-> tf:aws_ecs_service.shop [tcp/8080]", // the container port
		// identities of compute
		"tf:aws_instance.web -uses-identity-> tf:aws_iam_role.web",
		"tf:aws_lambda_function.api -uses-identity-> tf:aws_iam_role.lambda",
		"tf:aws_ecs_service.shop -uses-identity-> tf:aws_iam_role.task",
		"tf:aws_codebuild_project.build -uses-identity-> tf:aws_iam_role.ci",
		"tf:aws_ecs_service.shop -runs-> image:ghcr.io/acme/shop:1.4.2",
		"tf:aws_ecs_service.shop -reads-env-> tf:aws_secretsmanager_secret.db",
		"tf:aws_codebuild_project.build -built-from-> repo:github.com/acme/shop",
		// a bucket's ARN names it, so that cloud findings on it land here
		"arn:aws:s3:::customer-data -alias-of-> tf:aws_s3_bucket.customer_data",
		// public buckets
		"internet -exposes-> tf:aws_s3_bucket.customer_data",
		"internet -can-> tf:aws_s3_bucket.customer_data [s3:GetObject]",
		"internet -can-> tf:aws_s3_bucket.assets [s3:PutObject]",
		// trust policies: the role trusts the principals it names
		"tf:aws_iam_role.lambda -trusts-> arn:aws:iam::111122223333:root [sts:AssumeRole]",
		"tf:aws_iam_role.lambda -trusts-> tf:aws_iam_user.deployer [sts:AssumeRole]",
		"tf:aws_iam_role.ci -trusts-> arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com [sts:AssumeRoleWithWebIdentity]",
		// identity policies, wildcards resolved to the estate's resources
		"tf:aws_iam_user.alice -can-> tf:aws_iam_role.web [sts:AssumeRole]",
		"tf:aws_iam_role.lambda -can-> tf:aws_s3_bucket.customer_data [s3:GetObject]",
		"tf:aws_iam_role.lambda -can-> tf:aws_iam_role.web [iam:PassRole]", // PassRole on "*"
		"tf:aws_iam_role.lambda -attached-> tf:aws_iam_policy.lambda_data",
		"tf:aws_iam_role.web -can-> tf:aws_s3_bucket.customer_data [s3:*]", // NotAction iam:* on "*"
		"tf:aws_iam_role.web -can-> tf:aws_instance.worker [ssm:*]",
		"tf:aws_iam_group.admins -can-> aws:account/* [*]",  // AdministratorAccess
		"tf:aws_iam_user.deployer -can-> aws:account/* [*]", // through the admins group
		"aws:account/* -contains-> tf:aws_s3_bucket.customer_data",
		"tf:aws_iam_group.developers -can-> tf:aws_s3_bucket.customer_data [s3:GetObject]", // s3:Get*
		"tf:aws_iam_group.developers -can-> tf:aws_secretsmanager_secret.db [secretsmanager:GetSecretValue]",
		"tf:aws_iam_group.developers -can-> arn:aws:dynamodb:eu-west-1:111122223333:table/orders [dynamodb:*]",
		"tf:aws_iam_role.ci -can-> aws:account/* [ec2:RunInstances]",        // PowerUserAccess, from the managed policy data
		"tf:aws_iam_role.ci -can-> tf:aws_s3_bucket.logs [s3:*]",            // PowerUserAccess
		"tf:aws_iam_user.alice -can-> tf:aws_s3_bucket.logs [s3:GetObject]", // ReadOnlyAccess
		"tf:aws_iam_user.alice -member-of-> tf:aws_iam_group.developers",
		"tf:aws_iam_user.deployer -member-of-> tf:aws_iam_group.admins",
	}
	for _, w := range wantEdges {
		if !slices.Contains(edges, w) {
			t.Errorf("ParseDir(testdata/estate) lacks %s", w)
		}
	}
	for _, no := range []string{
		"internet -exposes-> tf:aws_instance.worker [tcp/443]",                           // no public IP
		"internet -exposes-> tf:aws_lb.internal",                                         // internal
		"internet -exposes-> tf:aws_rds_cluster.reports [tcp/5432]",                      // not publicly accessible
		"internet -exposes-> tf:aws_s3_bucket.logs",                                      // public access block
		"tf:aws_iam_role.lambda -can-> tf:aws_s3_bucket.customer_data [s3:DeleteObject]", // denied
		"internet -exposes-> tf:aws_ecs_service.shop [tcp/443]",                          // no public IP
		"tf:aws_iam_user.deployer -can-> tf:aws_iam_role.lambda [sts:AssumeRole]",        // a trust is no permission
		"tf:aws_iam_role.web -can-> tf:aws_iam_role.web [iam:PassRole]",                  // NotAction iam:*
		"tf:aws_iam_role.ci -can-> tf:aws_iam_role.web [iam:PassRole]",                   // PowerUserAccess has no iam:PassRole
		"tf:aws_iam_user.alice -can-> tf:aws_s3_bucket.logs [s3:PutObject]",              // ReadOnlyAccess
	} {
		if slices.Contains(edges, no) {
			t.Errorf("ParseDir(testdata/estate) has %s, want none", no)
		}
	}
	labels := []struct{ key, label, want string }{
		{"tf:aws_instance.web", "imds.v1", "true"},
		{"tf:aws_instance.web", "public_ip", "true"},
		{"tf:aws_instance.web", "tag.Name", "shop-eu-west-1-web"},
		{"tf:aws_instance.web", "tf.address", "aws_instance.web"},
		{"tf:aws_instance.worker", "imds.v1", "false"},
		{"tf:aws_s3_bucket.customer_data", "public", "true"},
		{"tf:aws_s3_bucket.logs", "public", "false"},
		{"tf:aws_s3_bucket.assets", "public", "true"},
		{"tf:aws_db_instance.orders", "public", "true"},
		{"tf:aws_lb.front", "internet_facing", "true"},
		{"tf:aws_lb.internal", "internet_facing", "false"},
		{"tf:aws_codebuild_project.build", "plaintext_secret_env", "NPM_TOKEN"},
		{"tf:aws_ecs_task_definition.shop", "plaintext_secret_env", "API_TOKEN"},
		{"tf:aws_lambda_function.api", "plaintext_secret_env", "DB_PASSWORD"},
		{"tf:aws_iam_role.ci", "iam.managed_policies", "arn:aws:iam::aws:policy/PowerUserAccess"},
		{"tf:aws_iam_role.web", "iam.trusted_services", "ec2.amazonaws.com"},
	}
	for _, l := range labels {
		if got := assets[l.key].Labels[l.label]; got != l.want {
			t.Errorf("asset %s label %s = %q, want %q", l.key, l.label, got, l.want)
		}
	}
	kinds := map[string]model.AssetKind{
		"tf:aws_instance.web": model.KindHost, "tf:aws_lb.front": model.KindLoadBalancer,
		"tf:aws_s3_bucket.logs": model.KindDatastore, "tf:aws_iam_role.web": model.KindIdentity,
		"tf:aws_lambda_function.api": model.KindFunction, "tf:aws_secretsmanager_secret.db": model.KindSecret,
		"tf:aws_ecs_service.shop": model.KindWorkload, "internet": model.KindNetwork, "aws:account/*": model.KindAccount,
		"tf:aws_security_group.web": model.KindNetwork, "repo:github.com/acme/shop": model.KindRepository,
	}
	for k, want := range kinds {
		if got := assets[k].Kind; got != want {
			t.Errorf("asset %s kind = %q, want %q", k, got, want)
		}
	}
}

// TestPlanKeys checks that ARNs win where a state knows them and that
// resources from every module of a plan are read.
func TestPlanKeys(t *testing.T) {
	t.Parallel()
	state := ingesttest.Parse(t, terraform.FormatPlan, "testdata/state.json", ingest.Options{})
	var raw struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string         `json:"address"`
					Values  map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	data, err := os.ReadFile("testdata/state.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	byAddr := map[string]model.Asset{}
	for _, a := range state.Assets {
		if addr := a.Labels["tf.address"]; addr != "" {
			byAddr[addr] = a
		}
	}
	n := 0
	for _, r := range raw.Values.RootModule.Resources {
		arn, _ := r.Values["arn"].(string)
		a, ok := byAddr[r.Address]
		if !ok {
			continue
		}
		n++
		if arn != "" && (a.Key != arn || a.Labels["aws.arn"] != arn) {
			t.Errorf("asset of %s: key %q, aws.arn %q, want %q", r.Address, a.Key, a.Labels["aws.arn"], arn)
		}
	}
	if n != 6 {
		t.Errorf("state.json: %d assets with addresses, want 6", n)
	}
	if state.Scans[0].Target != "default" {
		t.Errorf("target = %q, want default", state.Scans[0].Target)
	}

	plan := ingesttest.Parse(t, terraform.FormatPlan, "testdata/plan.json", ingest.Options{})
	var keys []string
	for _, a := range plan.Assets {
		if a.Labels["tf.address"] != "" {
			keys = append(keys, a.Key)
		}
	}
	sort.Strings(keys)
	want := []string{"tf:aws_db_instance.orders", "tf:aws_instance.web[0]", "tf:aws_s3_bucket.customer_data", "tf:aws_security_group.web", "tf:module.app.aws_iam_role.app"}
	if diff := cmp.Diff(keys, want); diff != "" {
		t.Errorf("plan.json resource assets (-got +want):\n%s", diff)
	}
}

// TestNoSecretValues checks that no value of a secret-looking variable or
// secret version reaches a record.
func TestNoSecretValues(t *testing.T) {
	t.Parallel()
	recs := []*ingesttest.Recorder{
		parseDir(t, "testdata/estate"),
		ingesttest.Parse(t, terraform.FormatPlan, "testdata/state.json", ingest.Options{}),
	}
	out, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"not-a-real-password", "hunter2-not-real", "npm-plaintext-token", "plain-token-value", "sk_test_not_real"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("records hold the secret value %q", secret)
		}
	}
}

func testFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir("testdata", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "fuzz" || d.Name() == "golden") {
			return filepath.SkipDir
		}
		// .tfvars files are read by ParseDir with their folder only.
		if !d.IsDir() && !strings.HasSuffix(path, ".tsv") && !strings.HasSuffix(path, ".tfvars") && !strings.HasSuffix(path, ".tfvars.json") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := append(formats.All(), k8s.Format, terraform.FormatPlan, terraform.FormatHCL)
	for _, path := range testFiles(t) {
		want := terraform.FormatHCL.Name
		if (strings.HasSuffix(path, ".json") && !strings.HasSuffix(path, ".tf.json")) || strings.HasSuffix(path, ".tfstate") {
			want = terraform.FormatPlan.Name
		}
		src, err := ingest.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		f, err := reg.Detect(src.Sniff())
		src.Close()
		if err != nil || f.Name != want {
			t.Errorf("Detect(%s) = %q, %v; want %s", path, f.Name, err, want)
		}
	}
	var others []string
	for _, dir := range []string{"../../ingest/trivy/testdata", "../../ingest/sarif/testdata", "../k8s/testdata"} {
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasSuffix(path, ".tsv") {
				others = append(others, path)
			}
			return nil
		})
	}
	if len(others) < 10 {
		t.Fatalf("found %d files of other formats, want at least 10", len(others))
	}
	for _, path := range others {
		src, err := ingest.Open(path, nil)
		if err != nil {
			continue
		}
		s := src.Sniff()
		src.Close()
		for _, f := range []ingest.Format{terraform.FormatPlan, terraform.FormatHCL} {
			if f.Detect(s) {
				t.Errorf("%s.Detect(%s) = true, want false", f.Name, path)
			}
		}
	}
	// HCL that YAML sniffing might claim.
	for _, head := range []string{
		"# note: see docs\nresource \"aws_s3_bucket\" \"b\" {\n  bucket = \"x\"\n}\n",
		"provider \"aws\" {\n  region = \"eu-west-1\"\n}\n",
		"module \"vpc\" {\n  source = \"x\"\n}\n",
		"{\"resource\": {\"aws_s3_bucket\": {}}}", // JSON syntax (.tf.json)
		"{\"provider\": {\"aws\": {\"region\": \"eu-west-1\"}}}",
	} {
		if !terraform.FormatHCL.Detect(ingest.SniffBytes([]byte(head))) {
			t.Errorf("FormatHCL.Detect(%q) = false, want true", head)
		}
	}
	for _, head := range []string{
		"resource: aws_s3_bucket\n",
		"{\"resource\": {\"google_storage_bucket\": {\"b\": {}}}}",
		"resource \"google_storage_bucket\" \"b\" {\n}\n",
	} {
		if terraform.FormatHCL.Detect(ingest.SniffBytes([]byte(head))) {
			t.Errorf("FormatHCL.Detect(%q) = true, want false", head)
		}
	}
}

func TestMalformedHCL(t *testing.T) {
	t.Parallel()
	r, err := ingesttest.TryParse(terraform.FormatHCL, "testdata/malformed.tf.txt", ingest.Options{})
	ie, ok := errors.AsType[*ingest.InputError](err)
	if !ok {
		t.Fatalf("Parse(malformed.tf.txt) error = %v, want an *ingest.InputError", err)
	}
	if ie.File != "testdata/malformed.tf.txt" || ie.Line != 9 || ie.Col < 1 {
		t.Errorf("error at %s:%d:%d, want testdata/malformed.tf.txt:9", ie.File, ie.Line, ie.Col)
	}
	if len(r.Scans)+len(r.Assets)+len(r.Relations) != 0 {
		t.Errorf("Parse(malformed.tf.txt) emitted %d scans, %d assets, %d relations; want none", len(r.Scans), len(r.Assets), len(r.Relations))
	}

	// A folder with one bad file emits nothing and names the file.
	dir := t.TempDir()
	for name, body := range map[string]string{
		"a.tf": "resource \"aws_s3_bucket\" \"a\" {\n  bucket = \"a\"\n}\n",
		"b.tf": "resource \"aws_s3_bucket\" \"b\" {\n  bucket = = \"b\"\n}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rec := &ingesttest.Recorder{}
	err = terraform.ParseDir(context.Background(), dir, ingest.Options{}, rec)
	ie, ok = errors.AsType[*ingest.InputError](err)
	if !ok || ie.File != filepath.Join(dir, "b.tf") || ie.Line != 2 || ie.Col != 12 {
		t.Errorf("ParseDir(bad folder) = %v, want an input error at b.tf:2:12", err)
	}
	if len(rec.Scans)+len(rec.Assets) != 0 {
		t.Errorf("ParseDir(bad folder) emitted %d scans, %d assets; want none", len(rec.Scans), len(rec.Assets))
	}
	if err := terraform.ParseDir(context.Background(), filepath.Join(dir, "missing"), ingest.Options{}, rec); err == nil {
		t.Error("ParseDir(missing folder) = nil, want an error")
	}
}

func TestUnresolved(t *testing.T) {
	t.Parallel()
	var warnings []string
	r := ingesttest.Parse(t, terraform.FormatHCL, "testdata/unresolved.tf", ingest.Options{Warnf: func(f string, a ...any) {
		warnings = append(warnings, fmt.Sprintf(f, a...))
	}})
	got := map[string]string{}
	for _, a := range r.Assets {
		got[a.Key] = a.Name
	}
	want := map[string]string{
		"tf:workspace/default":     "default",
		"tf:aws_s3_bucket.dynamic": "dynamic",
		// count = 3: three instances keyed as Terraform keys them, each
		// named by its count.index
		"tf:aws_instance.app[0]": "app-0",
		"tf:aws_instance.app[1]": "app-1",
		"tf:aws_instance.app[2]": "app-2",
		"tf:aws_iam_role.app":    "app",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("assets of unresolved.tf (-got +want):\n%s", diff)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `module "network"`) {
		t.Errorf("warnings = %q, want one about module network", warnings)
	}
}

func TestMalformedJSON(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"testdata/plan.json", "testdata/state.json", "testdata/terraform.tfstate"} {
		ingesttest.CheckMalformed(t, terraform.FormatPlan, f)
	}
	for _, bad := range []string{`{"format_version": "1.0"}`, `{"terraform_version": "1", "values": {"root_module": {"resources": [1]}}}`, `[]`} {
		_, err := ingesttest.ParseBytes(terraform.FormatPlan, "bad.json", []byte(bad), ingest.Options{})
		if _, ok := errors.AsType[*ingest.InputError](err); !ok {
			t.Errorf("Parse(%s) error = %v, want an *ingest.InputError", bad, err)
		}
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	for range 2 {
		if _, err := ingesttest.Ingest(st, terraform.FormatPlan, ingest.Options{Target: "prod"}, "testdata/state.json", "testdata/plan.json"); err != nil {
			t.Fatal(err)
		}
		if _, err := ingesttest.Ingest(st, terraform.FormatHCL, ingest.Options{Target: "prod"}, "testdata/estate/network.tf"); err != nil {
			t.Fatal(err)
		}
	}
	c := ingesttest.Count(t, st)
	if c.Findings != 0 {
		t.Errorf("store counts %+v, want no findings", c)
	}
	t.Logf("store counts %+v", c)
}

func FuzzPlan(f *testing.F) {
	ingesttest.Fuzz(f, terraform.FormatPlan, "testdata/plan.json", "testdata/state.json", "testdata/terraform.tfstate")
}

func FuzzHCL(f *testing.F) {
	ingesttest.Fuzz(f, terraform.FormatHCL, "testdata/estate/network.tf", "testdata/estate/iam.tf", "testdata/estate/data.tf", "testdata/estate/compute.tf", "testdata/unresolved.tf", "testdata/syntax/json/main.tf.json")
}

// TestCredentials checks that references to credentials in places become
// grants relations to what they unlock, and that a place without one gets
// none.
func TestCredentials(t *testing.T) {
	t.Parallel()
	r := parseDir(t, "testdata/credentials")
	var got []string
	for _, rel := range r.Relations {
		if rel.Type == model.RelGrants {
			got = append(got, edge(rel))
		}
	}
	slices.Sort(got)
	want := []string{
		"tf:aws_codebuild_project.release -grants-> tf:aws_iam_user.deploy",
		"tf:aws_ecs_service.api -grants-> tf:aws_db_instance.orders",
		"tf:aws_ecs_task_definition.api -grants-> tf:aws_db_instance.orders",
		"tf:aws_iam_access_key.deploy -grants-> tf:aws_iam_user.deploy",
		"tf:aws_s3_bucket.ops -grants-> tf:aws_instance.bastion [ssh private key]",
		"tf:aws_s3_bucket.ops -grants-> tf:aws_instance.worker [ssh private key]",
		"tf:aws_secretsmanager_secret.db -grants-> tf:aws_db_instance.orders",
		"tf:aws_ssm_parameter.deployer_key -grants-> tf:aws_instance.bastion [ssh private key]",
		"tf:aws_ssm_parameter.deployer_key -grants-> tf:aws_instance.worker [ssh private key]",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("ParseDir(testdata/credentials) grants (-got +want):\n%s", diff)
	}
}

// TestCountForEachTfvars checks terraform.tfvars and *.auto.tfvars over
// variable defaults, resources left out by a count of 0 or an empty
// for_each, and references through instance keys and try().
func TestCountForEachTfvars(t *testing.T) {
	t.Parallel()
	r := parseDir(t, "testdata/counted")
	var keys, edges []string
	for _, a := range r.Assets {
		keys = append(keys, a.Key)
	}
	for _, rel := range r.Relations {
		edges = append(edges, edge(rel))
	}
	for _, want := range []string{"tf:aws_iam_role.this", `tf:aws_s3_bucket.this["data"]`} {
		if !slices.Contains(keys, want) {
			t.Errorf("ParseDir(testdata/counted) lacks %s (count and for_each from tfvars)", want)
		}
	}
	for _, a := range r.Assets {
		if a.Key == `tf:aws_s3_bucket.this["data"]` && a.Name != "acme-data" {
			t.Errorf("asset %s name = %q, want acme-data (each.key known)", a.Key, a.Name)
		}
	}
	if slices.Contains(keys, "tf:aws_iam_role.skipped") {
		t.Errorf("ParseDir(testdata/counted) has tf:aws_iam_role.skipped, want none (count = 0)")
	}
	for _, want := range []string{
		`tf:aws_iam_role.this -can-> tf:aws_s3_bucket.this["data"] [s3:GetObject]`,
		"tf:aws_iam_role.reader -can-> tf:aws_s3_bucket.logs [s3:GetObject]",               // a dynamic statement
		"tf:aws_iam_role.reader -trusts-> arn:aws:iam::111122223333:root [sts:AssumeRole]", // the partition's data source
	} {
		if !slices.Contains(edges, want) {
			t.Errorf("ParseDir(testdata/counted) lacks %s; edges %v", want, edges)
		}
	}
	// AdministratorAccess within a boundary of s3:* on "*": the buckets,
	// not the account.
	if want := "tf:aws_iam_role.bounded -can-> tf:aws_s3_bucket.logs [s3:*]"; !slices.Contains(edges, want) {
		t.Errorf("ParseDir(testdata/counted) lacks %s", want)
	}
	if no := "tf:aws_iam_role.bounded -can-> aws:account/* [*]"; slices.Contains(edges, no) {
		t.Errorf("ParseDir(testdata/counted) has %s, want the boundary applied", no)
	}
	for _, e := range edges {
		if strings.ContainsRune(e, 0) {
			t.Errorf("ParseDir(testdata/counted) has %q, want no reference left in a key", e)
		}
	}
}

// TestModules checks that a local module call is expanded with its
// arguments and outputs, that one with a count of 0 is not, and that a
// registry module is warned about and left out.
func TestModules(t *testing.T) {
	t.Parallel()
	r := &ingesttest.Recorder{}
	var warnings []string
	opts := ingest.Options{Target: "shop", Warnf: func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) }}
	if err := terraform.ParseDir(context.Background(), "testdata/modules/app", opts, r); err != nil {
		t.Fatal(err)
	}
	var keys, edges []string
	for _, a := range r.Assets {
		keys = append(keys, a.Key)
	}
	for _, rel := range r.Relations {
		edges = append(edges, edge(rel))
	}
	for _, want := range []string{
		"tf:module.deploy_role.aws_iam_role.this -trusts-> tf:aws_iam_user.ci [sts:AssumeRole]", // an argument referencing the caller's resource
		"tf:aws_iam_user.ci -can-> tf:module.deploy_role.aws_iam_role.this [sts:AssumeRole]",    // an output
		"tf:module.deploy_role.aws_iam_role.this -can-> aws:account/* [*]",                      // the module's attachment
	} {
		if !slices.Contains(edges, want) {
			t.Errorf("ParseDir(testdata/modules/app) lacks %s", want)
		}
	}
	if slices.Contains(keys, "tf:module.off.aws_iam_role.this") {
		t.Errorf("ParseDir(testdata/modules/app) has module.off, want none (count = 0)")
	}
	if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, `module "vpc"`) }) {
		t.Errorf("warnings = %q, want one about the registry module vpc", warnings)
	}
}

// TestECS checks the escape labels of ECS tasks and services and that a
// service of the EC2 launch type runs on its cluster's instances only.
func TestECS(t *testing.T) {
	t.Parallel()
	r := parseDir(t, "testdata/ecs")
	labels := map[string]map[string]string{}
	for _, a := range r.Assets {
		labels[a.Key] = a.Labels
	}
	for _, k := range []string{"tf:aws_ecs_task_definition.agent", "tf:aws_ecs_service.agent"} {
		for _, l := range []string{terraform.LabelEscapeHostPath, terraform.LabelEscapeHostNetwork} {
			if labels[k][l] != "true" {
				t.Errorf("asset %s label %s = %q, want true", k, l, labels[k][l])
			}
		}
	}
	if l := labels["tf:aws_ecs_service.web"]; l[terraform.LabelEscapeHostPath] != "" || l[terraform.LabelEscapePrivileged] != "" {
		t.Errorf("asset tf:aws_ecs_service.web labels = %v, want no escape", l)
	}
	var runsOn []string
	for _, rel := range r.Relations {
		if rel.Type == model.RelRunsOn {
			runsOn = append(runsOn, edge(rel))
		}
	}
	if want := []string{"tf:aws_ecs_service.agent -runs-on-> tf:aws_instance.ecs"}; !cmp.Equal(runsOn, want) {
		t.Errorf("runs-on = %v, want %v", runsOn, want)
	}
}

// TestJSONSyntax checks that a configuration in JSON syntax (.tf.json,
// terraform.tfvars.json) gives the assets and relations of the same
// configuration in native syntax: references, jsonencode, a dynamic
// block, a local, a variable set by tfvars and a template.
func TestJSONSyntax(t *testing.T) {
	t.Parallel()
	native := lines(parseDir(t, "testdata/syntax/native"))
	json := lines(parseDir(t, "testdata/syntax/json"))
	if diff := cmp.Diff(json, native); diff != "" {
		t.Errorf("ParseDir(syntax/json) differs from ParseDir(syntax/native) (-json +native):\n%s", diff)
	}
	for _, want := range []string{
		"tf:aws_iam_role.reader -can-> tf:aws_s3_bucket.data [s3:GetObject]",
		"internet -exposes-> tf:aws_instance.web [tcp/443]",
	} {
		if !slices.Contains(native, want) {
			t.Errorf("ParseDir(syntax/native) lacks %s", want)
		}
	}
	// One file, read through format detection, as ctem ingest reads it.
	one := lines(ingesttest.Parse(t, terraform.FormatHCL, "testdata/syntax/json/main.tf.json", ingest.Options{Target: "shop"}))
	if !slices.Contains(one, "tf:aws_iam_role.reader -can-> tf:aws_s3_bucket.data [s3:GetObject]") {
		t.Errorf("FormatHCL.Parse(main.tf.json) lacks the role's grant: %v", one)
	}
}

// TestCount checks that a known small count makes one instance per index
// with count.index known, that references to one instance stand for the
// resource, and that an unknown count, or a count of 1, stands for one
// instance at the resource's address.
func TestCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		count string
		want  []string
	}{
		{"2", []string{"tf:aws_iam_user.dev[0] dev-0", "tf:aws_iam_user.dev[1] dev-1"}},
		{"1", []string{"tf:aws_iam_user.dev dev-0"}},
		{"var.n", []string{"tf:aws_iam_user.dev dev-${count.index}"}},
	}
	for _, tt := range tests {
		src := `variable "n" {}
resource "aws_iam_user" "dev" {
  count = ` + tt.count + `
  name  = "dev-${count.index}"
}
resource "aws_iam_group" "g" {
  name = "g"
}
resource "aws_iam_group_membership" "g" {
  name  = "g"
  group = aws_iam_group.g.name
  users = [aws_iam_user.dev[0].name]
}
`
		r, err := ingesttest.ParseBytes(terraform.FormatHCL, "count.tf", []byte(src), ingest.Options{})
		if err != nil {
			t.Fatalf("Parse(count = %s) error = %v", tt.count, err)
		}
		var got []string
		members := 0
		for _, a := range r.Assets {
			if a.Labels["aws.type"] == "aws_iam_user" {
				got = append(got, a.Key+" "+a.Name)
			}
		}
		for _, rel := range r.Relations {
			if rel.Type == model.RelMemberOf {
				members++
			}
		}
		if tt.count == "var.n" {
			// An unknown name: the resource's own name stands for it.
			if len(got) != 1 || !strings.HasPrefix(got[0], "tf:aws_iam_user.dev ") {
				t.Errorf("Parse(count = %s) users = %v, want one at the resource's address", tt.count, got)
			}
		} else if diff := cmp.Diff(got, tt.want); diff != "" {
			t.Errorf("Parse(count = %s) users (-got +want):\n%s", tt.count, diff)
		}
		if members != len(got) {
			t.Errorf("Parse(count = %s) member-of relations = %d, want %d (a reference to one instance stands for the resource)", tt.count, members, len(got))
		}
	}
}

// TestKubernetesSecretCredentials checks that a Kubernetes Secret that
// Terraform writes with a database's password or an access key grants
// the database or the key's user, in the EKS cluster of the
// configuration, and that a Secret of other values grants nothing.
func TestKubernetesSecretCredentials(t *testing.T) {
	t.Parallel()
	src := func(value string) string {
		return `
resource "aws_eks_cluster" "main" {
  name     = "prod"
  role_arn = "arn:aws:iam::111122223333:role/eks"
}
resource "random_password" "db" {
  length = 24
}
resource "aws_db_instance" "orders" {
  identifier = "orders"
  password   = random_password.db.result
}
resource "aws_iam_user" "ci" {
  name = "ci"
}
resource "aws_iam_access_key" "ci" {
  user = aws_iam_user.ci.name
}
resource "kubernetes_secret_v1" "app" {
  metadata {
    name      = "app"
    namespace = "shop"
  }
  data = {
    DB_PASSWORD = ` + value + `
  }
}
`
	}
	tests := []struct {
		value string
		want  []string
	}{
		{"random_password.db.result", []string{"k8s:prod/shop/Secret/app -grants-> tf:aws_db_instance.orders"}},
		{"aws_iam_access_key.ci.secret", []string{"k8s:prod/shop/Secret/app -grants-> tf:aws_iam_user.ci"}},
		{`"not-a-reference"`, nil},
	}
	for _, tt := range tests {
		r, err := ingesttest.ParseBytes(terraform.FormatHCL, "main.tf", []byte(src(tt.value)), ingest.Options{})
		if err != nil {
			t.Fatalf("Parse(%s) error = %v", tt.value, err)
		}
		var got []string
		for _, rel := range r.Relations {
			if rel.Type == model.RelGrants && strings.HasPrefix(rel.From, "k8s:") {
				got = append(got, edge(rel))
			}
		}
		if diff := cmp.Diff(got, tt.want); diff != "" {
			t.Errorf("Parse(data = %s) grants of the Secret (-got +want):\n%s", tt.value, diff)
		}
	}
}

// parseFile reads one .tf file as ctem ingest FILE does: from disk, with
// its path known to the parser.
func parseFile(t testing.TB, path string, opts ingest.Options) *ingesttest.Recorder {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := ingest.NewSource(path, f)
	if err != nil {
		t.Fatal(err)
	}
	r := &ingesttest.Recorder{}
	if err := terraform.FormatHCL.Parse(context.Background(), &ingest.Input{Name: path, Path: path, R: src.Reader(), Options: opts}, r); err != nil {
		t.Fatalf("FormatHCL.Parse(%s) = %v", path, err)
	}
	return r
}

// TestModulesOfOneFile checks that one file read from disk has its local
// modules expanded relative to its folder, that the same bytes read from
// a stream (an upload) do not, and that a module beyond the repository
// holding the file is not read.
func TestModulesOfOneFile(t *testing.T) {
	t.Parallel()
	var warnings []string
	opts := ingest.Options{Target: "shop", Warnf: func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) }}
	edgesOf := func(r *ingesttest.Recorder) []string {
		var out []string
		for _, rel := range r.Relations {
			out = append(out, edge(rel))
		}
		return out
	}
	want := "tf:module.deploy_role.aws_iam_role.this -trusts-> tf:aws_iam_user.ci [sts:AssumeRole]"
	if got := edgesOf(parseFile(t, "testdata/modules/app/main.tf", opts)); !slices.Contains(got, want) {
		t.Errorf("FormatHCL.Parse(modules/app/main.tf from disk) lacks %s; got %q", want, got)
	}
	streamed := ingesttest.Parse(t, terraform.FormatHCL, "testdata/modules/app/main.tf", opts)
	if got := edgesOf(streamed); slices.Contains(got, want) {
		t.Errorf("FormatHCL.Parse(modules/app/main.tf as a stream) has %s, want no module read", want)
	}

	// A repository whose root module calls a module outside it.
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	for _, d := range []string{filepath.Join(repo, ".git"), filepath.Join(repo, "live"), filepath.Join(repo, "modules", "role"), filepath.Join(dir, "outside")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	role := "variable \"name\" {}\nresource \"aws_iam_role\" \"this\" {\n  name = var.name\n}\n"
	for _, p := range []string{filepath.Join(repo, "modules", "role", "main.tf"), filepath.Join(dir, "outside", "main.tf")} {
		if err := os.WriteFile(p, []byte(role), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := "module \"inside\" {\n  source = \"../modules/role\"\n  name = \"in\"\n}\nmodule \"outside\" {\n  source = \"../../outside\"\n  name = \"out\"\n}\n"
	if err := os.WriteFile(filepath.Join(repo, "live", "main.tf"), []byte(root), 0o644); err != nil {
		t.Fatal(err)
	}
	warnings = nil
	var keys []string
	for _, a := range parseFile(t, filepath.Join(repo, "live", "main.tf"), opts).Assets {
		keys = append(keys, a.Key)
	}
	if !slices.Contains(keys, "tf:module.inside.aws_iam_role.this") {
		t.Errorf("assets of live/main.tf = %q, want the module inside the repository", keys)
	}
	if slices.Contains(keys, "tf:module.outside.aws_iam_role.this") {
		t.Errorf("assets of live/main.tf = %q, want none from outside the repository", keys)
	}
	if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, `module "outside"`) }) {
		t.Errorf("warnings = %q, want one about module outside", warnings)
	}
}

// TestAccountFromConfiguration checks where HCL learns the account its
// IAM resources live in, which makes their keys the ARNs authorization
// details give them: the provider's allowed_account_ids or assume_role,
// or an account_id variable or local; and that two providers of two
// accounts, or nothing, leave the keys as addresses.
func TestAccountFromConfiguration(t *testing.T) {
	t.Parallel()
	role := "resource \"aws_iam_role\" \"deploy\" {\n  name = \"deploy\"\n}\n"
	tests := []struct {
		name, src, want string
	}{
		{"allowed_account_ids", "provider \"aws\" {\n  allowed_account_ids = [\"111122223333\"]\n}\n", "arn:aws:iam::111122223333:role/deploy"},
		{"assume_role", "provider \"aws\" {\n  assume_role {\n    role_arn = \"arn:aws:iam::444455556666:role/terraform\"\n  }\n}\n", "arn:aws:iam::444455556666:role/deploy"},
		{"variable", "variable \"account_id\" {\n  default = \"111122223333\"\n}\n", "arn:aws:iam::111122223333:role/deploy"},
		{"local", "locals {\n  aws_account_id = \"111122223333\"\n}\n", "arn:aws:iam::111122223333:role/deploy"},
		{"two accounts", "provider \"aws\" {\n  allowed_account_ids = [\"111122223333\"]\n}\nprovider \"aws\" {\n  alias = \"other\"\n  allowed_account_ids = [\"444455556666\"]\n}\n", "tf:aws_iam_role.deploy"},
		{"a variable without value", "variable \"account_id\" {}\n", "tf:aws_iam_role.deploy"},
		{"nothing", "", "tf:aws_iam_role.deploy"},
	}
	// A function needs the region as well.
	fn := "resource \"aws_lambda_function\" \"sync\" {\n  function_name = \"sync\"\n}\n"
	for _, tt := range []struct{ name, src, want string }{
		{"account and region", "provider \"aws\" {\n  region = \"eu-west-1\"\n  allowed_account_ids = [\"111122223333\"]\n}\n", "arn:aws:lambda:eu-west-1:111122223333:function:sync"},
		{"account without region", "provider \"aws\" {\n  allowed_account_ids = [\"111122223333\"]\n}\n", "tf:aws_lambda_function.sync"},
		{"two regions", "provider \"aws\" {\n  region = \"eu-west-1\"\n  allowed_account_ids = [\"111122223333\"]\n}\nprovider \"aws\" {\n  alias = \"us\"\n  region = \"us-east-1\"\n}\n", "tf:aws_lambda_function.sync"},
	} {
		r, err := ingesttest.ParseBytes(terraform.FormatHCL, "main.tf", []byte(tt.src+fn), ingest.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got []string
		for _, a := range r.Assets {
			if a.Labels[terraform.LabelType] == "aws_lambda_function" {
				got = append(got, a.Key)
			}
		}
		if !slices.Equal(got, []string{tt.want}) {
			t.Errorf("%s: function keys = %v, want [%s]", tt.name, got, tt.want)
		}
	}
	for _, tt := range tests {
		r, err := ingesttest.ParseBytes(terraform.FormatHCL, "main.tf", []byte(tt.src+role), ingest.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got []string
		for _, a := range r.Assets {
			if a.Labels[terraform.LabelType] == "aws_iam_role" {
				got = append(got, a.Key)
			}
		}
		if !slices.Equal(got, []string{tt.want}) {
			t.Errorf("%s: role keys = %v, want [%s]", tt.name, got, tt.want)
		}
	}
}

// TestAccountFromCallerIdentity checks that a plan's
// data.aws_caller_identity names the account asset, and that a plan
// without it keeps aws:account/*.
func TestAccountFromCallerIdentity(t *testing.T) {
	t.Parallel()
	plan := func(data string) string {
		return `{"format_version":"1.2","terraform_version":"1.9.0","planned_values":{"root_module":{"resources":[` + data +
			`{"address":"aws_iam_role.app","mode":"managed","type":"aws_iam_role","name":"app","values":{"name":"app","assume_role_policy":"{}"}},` +
			`{"address":"aws_iam_role_policy.app","mode":"managed","type":"aws_iam_role_policy","name":"app","values":{"role":"app","policy":"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}}]}}}`
	}
	for _, tt := range []struct{ data, want string }{
		{`{"address":"data.aws_caller_identity.current","mode":"data","type":"aws_caller_identity","name":"current","values":{"account_id":"111122223333"}},`, "aws:account/111122223333"},
		{"", terraform.AnyResourceKey},
	} {
		r, err := ingesttest.ParseBytes(terraform.FormatPlan, "plan.json", []byte(plan(tt.data)), ingest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var accounts []string
		for _, a := range r.Assets {
			if a.Kind == model.KindAccount {
				accounts = append(accounts, a.Key)
			}
		}
		if !slices.Equal(accounts, []string{tt.want}) {
			t.Errorf("account assets = %v, want [%s]", accounts, tt.want)
		}
	}
}
