package analyze_test

import (
	"slices"
	"testing"

	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/intel/score"
)

// TestAccessKeyIDsGrantTheirUser checks, through the store, that an AWS
// access key id found in a Gitleaks report (aws-access-token) or in a
// Kubernetes Secret grants the IAM user whose aws_iam_access_key in
// Terraform state has that id, and that the twin, whose state's key has
// another id, gives no path.
func TestAccessKeyIDsGrantTheirUser(t *testing.T) {
	t.Parallel()
	const user = "identity:arn:aws:iam::111122223333:user/ci"
	tests := []struct {
		name, scope string
		inputs      []input
		from        string // the state the leaked-credential step leaves
		state, twin string
		user        string
	}{
		{"TruffleHog verified AWS key naming its user's ARN", `version: 1
crown_jewels:
  - {name: crown, value: 9, match: [{key: "arn:aws:s3:::acme-crown-jewels"}]}
entry_points: [internet]
`, []input{{"accesskey/test_keys.trufflehog.json", "github.com/trufflesecurity/test_keys"}, {"accesskey/test-keys-inventory.yaml", ""}}, "read:repo:github.com/trufflesecurity/test_keys",
			"accesskey/arn/state.json", "accesskey/arn-twin/state.json", "identity:arn:aws:iam::595918472158:user/canarytokens.com@@mirux23ppyky6hx3l6vclmhnj"},
		{"gitleaks aws-access-token in a public repository", `version: 1
crown_jewels:
  - {name: crown, value: 9, match: [{key: "arn:aws:s3:::acme-crown-jewels"}]}
entry_points: [internet]
`, []input{{"accesskey/inventory.yaml", ""}, {"accesskey/app.gitleaks.json", "github.com/acme/app"}}, "read:repo:github.com/acme/app", "", "", ""},
		{"Kubernetes Secret holding the key id", `version: 1
crown_jewels:
  - {name: crown, value: 9, match: [{key: "arn:aws:s3:::acme-crown-jewels"}]}
entry_points: [{identity: "k8s:prod//User/dev"}]
`, []input{{"accesskey/secret.yaml", "prod"}}, "read:k8s:prod/ci/Secret/ci-aws", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			paths := func(state string) []graph.Path {
				run := analyzeEstate(t, tt.scope, append([]input{{state, "acme"}}, tt.inputs...), score.Intel{})
				return run.Result.Paths
			}
			state, twin, user := "accesskey/key/state.json", "accesskey/twin/state.json", user
			if tt.state != "" {
				state, twin, user = tt.state, tt.twin, tt.user
			}
			var found string
			for _, p := range paths(state) {
				if slices.ContainsFunc(p.Steps, func(s graph.Step) bool {
					return s.Rule == "leaked-credential" && s.From == tt.from && s.To == user
				}) {
					found = analyze.Summary(p)
				}
			}
			if found == "" {
				t.Errorf("no path with leaked-credential %s -> %s, want one", tt.from, user)
			}
			for _, p := range paths(twin) {
				t.Errorf("twin (the state's key or user is another): path %s, want none", analyze.Summary(p))
			}
		})
	}
}

// TestSSHKeyFindingGrantsItsHost checks, through the store, that an SSH
// private key Gitleaks finds in a public repository gives a shell on the
// instance whose key pair holds its public half (matched by fingerprint),
// and through the instance's role the crown jewel; the twin, whose key
// pair holds another key, gives no path.
func TestSSHKeyFindingGrantsItsHost(t *testing.T) {
	t.Parallel()
	scope := `version: 1
crown_jewels:
  - {name: crown, value: 9, match: [{key: "tf:aws_s3_bucket.crown"}]}
entry_points: [internet]
`
	paths := func(tf string) []graph.Path {
		return analyzeEstate(t, scope, []input{{tf, "acme"}, {"sshkey/inventory.yaml", ""}, {"sshkey/ops.gitleaks.json", "github.com/acme/ops"}}, score.Intel{}).Result.Paths
	}
	found := ""
	for _, p := range paths("sshkey/tf") {
		if slices.ContainsFunc(p.Steps, func(s graph.Step) bool {
			return s.Rule == "leaked-credential" && s.From == "read:repo:github.com/acme/ops" && s.To == "exec:tf:aws_instance.bastion"
		}) {
			found = analyze.Summary(p)
		}
	}
	if found == "" {
		t.Errorf("no path with leaked-credential read:repo:github.com/acme/ops -> exec:tf:aws_instance.bastion, want one")
	}
	for _, p := range paths("sshkey/twin") {
		t.Errorf("twin (the key pair holds another key): path %s, want none", analyze.Summary(p))
	}
}

// TestConnectionStringFindingGrantsItsDatabase checks, through the
// store, that a database connection string with a password that
// TruffleHog finds in a public repository gives the data of the RDS
// instance the Terraform state places at its host; the twin, whose
// instance is at another host, gives no path.
func TestConnectionStringFindingGrantsItsDatabase(t *testing.T) {
	t.Parallel()
	const db = "arn:aws:rds:eu-west-1:111122223333:db:orders"
	scope := `version: 1
crown_jewels:
  - {name: orders, value: 9, match: [{key: "` + db + `"}]}
entry_points: [internet]
`
	paths := func(state string) []graph.Path {
		return analyzeEstate(t, scope, []input{{state, "acme"}, {"dburl/inventory.yaml", ""}, {"dburl/api.trufflehog.json", ""}}, score.Intel{}).Result.Paths
	}
	found := ""
	for _, p := range paths("dburl/state/state.json") {
		if slices.ContainsFunc(p.Steps, func(s graph.Step) bool {
			return s.Rule == "leaked-credential" && s.From == "read:repo:github.com/acme/api" && s.To == "read:"+db
		}) {
			found = analyze.Summary(p)
		}
	}
	if found == "" {
		t.Errorf("no path with leaked-credential read:repo:github.com/acme/api -> read:%s, want one", db)
	}
	for _, p := range paths("dburl/twin/state.json") {
		t.Errorf("twin (the database is at another host): path %s, want none", analyze.Summary(p))
	}
}

// TestServiceAccountTokenFindingGrantsItsAccount checks, through the
// store, that a Kubernetes service-account token Gitleaks finds in a
// public repository (a JWT whose claims name ci/deployer) gives that
// account's identity and through its role binding the shop's secret; the
// twin, the token of an account the cluster lacks, gives no path.
func TestServiceAccountTokenFindingGrantsItsAccount(t *testing.T) {
	t.Parallel()
	scope := `version: 1
crown_jewels:
  - {name: payment-keys, value: 9, match: [{key: "k8s:prod/shop/Secret/payment-keys"}]}
entry_points: [internet]
`
	paths := func(report string) []graph.Path {
		return analyzeEstate(t, scope, []input{{"satoken/cluster.yaml", "prod"}, {"satoken/inventory.yaml", ""}, {report, "github.com/acme/ops"}}, score.Intel{}).Result.Paths
	}
	found := ""
	for _, p := range paths("satoken/ops.gitleaks.json") {
		if slices.ContainsFunc(p.Steps, func(s graph.Step) bool {
			return s.Rule == "leaked-credential" && s.From == "read:repo:github.com/acme/ops" && s.To == "identity:k8s:prod/ci/ServiceAccount/deployer"
		}) {
			found = analyze.Summary(p)
		}
	}
	if found == "" {
		t.Errorf("no path with leaked-credential read:repo:github.com/acme/ops -> identity:k8s:prod/ci/ServiceAccount/deployer, want one")
	}
	for _, p := range paths("satoken/twin.gitleaks.json") {
		t.Errorf("twin (the token of an account the cluster lacks): path %s, want none", analyze.Summary(p))
	}
}
