package analyze_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// correlate ingests the inputs into a fresh store and correlates them,
// as ctem analyze does before the analysis.
func correlate(t *testing.T, ins []input) *estate.Estate {
	t.Helper()
	st := ingesttest.OpenStore(t)
	for _, in := range ins {
		ingestFile(t, st, in.path, in.target)
	}
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

// TestTerraformSourceJoinsAuthorizationDetails checks that a Terraform
// configuration whose provider fixes the account (allowed_account_ids)
// and the authorization details of that account describe each IAM user,
// group, role and policy as one asset, keyed by its ARN, holding what
// both inputs say of it, and one account; that the path from the user to
// the bucket goes through the joined role; and, as the twin, that the
// same configuration without the provider's account keeps its IAM
// resources apart (keyed by address).
func TestTerraformSourceJoinsAuthorizationDetails(t *testing.T) {
	t.Parallel()
	arns := []string{
		"arn:aws:iam::111122223333:user/ci", "arn:aws:iam::111122223333:group/devs",
		"arn:aws:iam::111122223333:role/ops/deploy", "arn:aws:iam::111122223333:policy/deploy",
	}
	pair := []input{{"testdata/pair/tf", "acme"}, {"testdata/pair/authz.json", ""}}
	e := correlate(t, pair)
	for _, k := range arns {
		a := e.Assets[k]
		if a == nil {
			t.Errorf("joined estate lacks %s", k)
			continue
		}
		if a.Labels["tf.address"] == "" || a.Labels["aws.arn"] != k {
			t.Errorf("asset %s labels = %v, want tf.address (Terraform) and aws.arn %s", k, a.Labels, k)
		}
	}
	var accounts []string
	for _, k := range e.Keys {
		if strings.HasPrefix(k, "tf:aws_iam_") {
			t.Errorf("joined estate has %s, want its IAM resources keyed by ARN", k)
		}
		if e.Assets[k].Kind == model.KindAccount && strings.HasPrefix(k, "aws:account/") {
			accounts = append(accounts, k)
		}
	}
	if !slices.Equal(accounts, []string{"aws:account/111122223333"}) {
		t.Errorf("accounts = %v, want [aws:account/111122223333]", accounts)
	}
	run := analyzeEstate(t, `version: 1
crown_jewels:
  - {name: data, value: 9, match: [{key: "tf:aws_s3_bucket.data"}]}
entry_points:
  - {identity: "arn:aws:iam::111122223333:user/ci"}
`, []input{{"pair/tf", "acme"}, {"pair/authz.json", ""}}, score.Intel{})
	found := ""
	for _, p := range run.Result.Paths {
		if slices.ContainsFunc(p.Steps, func(s graph.Step) bool {
			return s.Rule == "aws-assume-role" && s.To == "identity:arn:aws:iam::111122223333:role/ops/deploy"
		}) {
			found = analyze.Summary(p)
		}
	}
	if found == "" {
		t.Errorf("no path from user ci through role ops/deploy to the bucket; got %d paths", len(run.Result.Paths))
	}
	t.Log(found)

	// The twin: the configuration without its provider block.
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/pair/tf/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	i, j := strings.Index(string(src), `provider "aws"`), strings.Index(string(src), `resource "aws_iam_user"`)
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), append(src[:i:i], src[j:]...), 0o644); err != nil {
		t.Fatal(err)
	}
	twin := correlate(t, []input{{dir, "acme"}, {"testdata/pair/authz.json", ""}})
	if twin.Assets["tf:aws_iam_role.deploy"] == nil || twin.Assets["arn:aws:iam::111122223333:role/ops/deploy"] == nil {
		t.Errorf("twin without the account: want the role twice (address and ARN), got keys %v", twin.Keys)
	}
}
