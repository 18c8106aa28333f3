package awsiam_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/estate/awsiam"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/model"
)

func TestDetect(t *testing.T) {
	t.Parallel()
	ingesttest.CheckDetect(t, inputs.All(), awsiam.Format,
		[]string{"testdata/authz-v2.json", "testdata/managed-policy-mismatch.json", "testdata/iam-vulnerable.json.gz"},
		"../terraform/testdata/*.json", "../inventory/testdata/*.json", "../../ingest/prowler/testdata/*", "../../ingest/asff/testdata/*")
}

func edge(r model.Relation) string {
	s := r.From + " -" + string(r.Type) + "-> " + r.To
	if r.Action != "" {
		s += " [" + r.Action + "]"
	}
	return s
}

func TestParse(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, awsiam.Format, "testdata/authz-v2.json", ingest.Options{})
	if len(r.Scans) != 1 || r.Scans[0].Tool != "aws-iam" || r.Scans[0].Target != "012345678901" {
		t.Errorf("scans = %+v, want one aws-iam scan of 012345678901", r.Scans)
	}
	var edges []string
	for _, rel := range r.Relations {
		edges = append(edges, edge(rel))
	}
	const acct = "aws:account/012345678901"
	for _, want := range []string{
		"arn:aws:iam::012345678901:user/BlakeBortles -member-of-> arn:aws:iam::012345678901:group/GOAT",
		"arn:aws:iam::012345678901:group/GOAT -can-> " + acct + " [*]",        // AdministratorAccess, from the managed policy data
		"arn:aws:iam::012345678901:user/BlakeBortles -can-> " + acct + " [*]", // through the group
		acct + " -contains-> arn:aws:iam::012345678901:role/GOAT",
		acct + " -contains-> arn:aws:iam::012345678901:policy/NotYourPolicy",
	} {
		if !slices.Contains(edges, want) {
			t.Errorf("Parse(authz-v2.json) lacks %s", want)
		}
	}
	labels := map[string]map[string]string{}
	for _, a := range r.Assets {
		labels[a.Key] = a.Labels
	}
	if got := labels["arn:aws:iam::012345678901:role/GOAT"]["iam.trusted_services"]; got != "ssm.amazonaws.com" {
		t.Errorf("role GOAT iam.trusted_services = %q, want ssm.amazonaws.com", got)
	}
	if got := labels["arn:aws:iam::012345678901:group/GOAT"]["iam.managed_policies"]; got != "arn:aws:iam::aws:policy/AdministratorAccess" {
		t.Errorf("group GOAT iam.managed_policies = %q, want AdministratorAccess", got)
	}
}

// TestIAMVulnerable analyses a real account deployed with iam-vulnerable
// (Bishop Fox's escalation users), as Cloudsplaining's example holds it:
// each user whose keys are stolen, and whether it becomes administrator
// of the account, by which rule first. The expectations follow the users'
// names: privescN users escalate by method N; fpN users are designed as
// false positives of simpler tools (a Deny, a resource or condition that
// makes the method harmless) and must not; fnN users are designed as false
// negatives (the method hidden behind NotAction, a wildcard resource or a
// condition that still holds) and must.
func TestIAMVulnerable(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, awsiam.Format, "testdata/iam-vulnerable.json.gz", ingest.Options{})
	const acct = "aws:account/200611803367"
	// needsCompute: the method acts on an instance, function, stack,
	// notebook or dev endpoint, which IAM authorization details do not
	// describe; with the Terraform or an inventory of those resources the
	// path appears (see docs/aws-techniques.md).
	const needsCompute = ""
	want := map[string]string{
		"fn1-privesc3-partial-user":                                  "aws-passrole-service",
		"fn2-exploitableResourceConstraint-user":                     "aws-policy-rewrite",
		"fn3-exploitableConditionConstraint-user":                    "aws-policy-rewrite",
		"fn4-exploitableNotAction-user":                              "aws-policy-rewrite",
		"fp1-allow-and-deny-user":                                    "",
		"fp2-allow-and-deny-multiple-policies-user":                  "",
		"fp3-deny-iam-user":                                          "",
		"fp4-nonExploitableResourceConstraint-user":                  "",
		"fp5-nonExploitableConditionConstraint-user":                 "", // a DateLessThan in 2020
		"privesc-AssumeRole-start-user":                              "", // its chain starts from an SSO session, not the user
		"privesc-CloudFormationUpdateStack-user":                     needsCompute,
		"privesc-codeBuildCreateProjectPassRole-user":                "aws-passrole-service",
		"privesc-ec2InstanceConnect-user":                            needsCompute,
		"privesc-sageMakerCreateNotebookPassRole-user":               "aws-passrole-service",
		"privesc-sageMakerCreatePresignedNotebookURL-user":           needsCompute,
		"privesc-sageMakerCreateProcessingJobPassRole-user":          "aws-passrole-service",
		"privesc-sageMakerCreateTrainingJobPassRole-user":            "aws-passrole-service",
		"privesc-sre-user":                                           "aws-policy-rewrite",
		"privesc-ssmSendCommand-user":                                needsCompute,
		"privesc-ssmStartSession-user":                               needsCompute,
		"privesc1-CreateNewPolicyVersion-user":                       "aws-policy-rewrite",
		"privesc2-SetExistingDefaultPolicyVersion-user":              "", // its policy has one version only
		"privesc3-CreateEC2WithExistingInstanceProfile-user":         "aws-passrole-service",
		"privesc4-CreateAccessKey-user":                              "aws-user-credentials",
		"privesc5-CreateLoginProfile-user":                           "aws-user-credentials",
		"privesc6-UpdateLoginProfile-user":                           "aws-user-credentials",
		"privesc7-AttachUserPolicy-user":                             "aws-policy-rewrite",
		"privesc8-AttachGroupPolicy-user":                            "aws-policy-rewrite",
		"privesc9-AttachRolePolicy-user":                             "", // no role trusts it and it may assume none
		"privesc10-PutUserPolicy-user":                               "aws-policy-rewrite",
		"privesc11-PutGroupPolicy-user":                              "aws-policy-rewrite",
		"privesc12-PutRolePolicy-user":                               "", // as privesc9
		"privesc13-AddUserToGroup-user":                              "aws-add-user-to-group",
		"privesc14-UpdatingAssumeRolePolicy-user":                    "aws-trust-rewrite",
		"privesc15-PassExistingRoleToNewLambdaThenInvoke-user":       "aws-passrole-service",
		"privesc16-PassRoleToNewLambdaThenTriggerWithNewDynamo-user": "aws-passrole-service",
		"privesc17-EditExistingLambdaFunctionWithRole-user":          needsCompute,
		"privesc18-PassExistingRoleToNewGlueDevEndpoint-user":        "aws-passrole-service",
		"privesc19-UpdateExistingGlueDevEndpoint-user":               needsCompute,
		"privesc20-PassExistingRoleToCloudFormation-user":            "aws-passrole-service",
		"privesc21-PassExistingRoleToNewDataPipeline-user":           "aws-passrole-service",
	}
	got := map[string]string{}
	for _, a := range r.Assets {
		if _, ok := want[a.Name]; !ok || a.Labels["aws.type"] != "aws_iam_user" {
			continue
		}
		in := &graph.Input{Assets: r.Assets, Relations: r.Relations,
			Entries: []graph.Entry{{Kind: graph.EntryIdentity, Identity: a.Key}}, Jewels: []graph.Jewel{{Asset: acct, Value: 10}}}
		res, err := graph.Analyze(in, graph.Options{K: 1})
		if err != nil {
			t.Fatalf("Analyze(%s) error = %v", a.Name, err)
		}
		got[a.Name] = ""
		if len(res.Paths) > 0 {
			got[a.Name] = res.Paths[0].Steps[0].Rule
		}
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("escalation to administrator by user, first rule (-got +want):\n%s", diff)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{"UserDetailList": [{"UserName": "a", "Arn": "arn:aws:iam::1:user/a"}`,
		`{"UserDetailList": {"UserName": "a"}}`,
		`{"RoleDetailList": [{"RoleName": 3}]}`,
		``,
		`[]`,
	} {
		r, err := ingesttest.ParseBytes(awsiam.Format, "authz.json", []byte(in), ingest.Options{})
		var ie *ingest.InputError
		if !errors.As(err, &ie) || ie.File != "authz.json" {
			t.Errorf("Parse(%q) error = %v, want an InputError naming authz.json", in, err)
		}
		if r != nil && (len(r.Assets) > 0 || len(r.Relations) > 0) {
			t.Errorf("Parse(%q) emitted %d assets, want none", in, len(r.Assets))
		}
	}
	if _, err := ingesttest.ParseBytes(awsiam.Format, "authz.json", []byte(strings.Repeat(" ", 3)+`{"Policies": []}`), ingest.Options{}); err != nil {
		t.Errorf("Parse(empty lists) error = %v, want nil", err)
	}
}

func FuzzAuthorizationDetails(f *testing.F) {
	ingesttest.Fuzz(f, awsiam.Format, "testdata/authz-v2.json", "testdata/managed-policy-mismatch.json")
}

// TestSetDefaultPolicyVersion checks Rhino Security Labs' method 2, which
// Terraform cannot describe: a user may set the default version of a
// policy attached to it, and the policy has another version to set.
func TestSetDefaultPolicyVersion(t *testing.T) {
	t.Parallel()
	doc := func(versions string) string {
		return `{"UserDetailList": [{"UserName": "u", "Arn": "arn:aws:iam::111122223333:user/u", "GroupList": [],
  "AttachedManagedPolicies": [{"PolicyName": "p", "PolicyArn": "arn:aws:iam::111122223333:policy/p"}]}],
 "Policies": [{"PolicyName": "p", "Arn": "arn:aws:iam::111122223333:policy/p", "PolicyVersionList": [` + versions + `]}]}`
	}
	v1 := `{"VersionId": "v1", "IsDefaultVersion": true, "Document": {"Statement": [{"Effect": "Allow", "Action": "iam:SetDefaultPolicyVersion", "Resource": "*"}]}}`
	v2 := `{"VersionId": "v2", "IsDefaultVersion": false, "Document": "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D"}`
	for _, tt := range []struct {
		name, doc string
		want      bool
	}{
		{"two versions", doc(v1 + "," + v2), true},
		{"one version", doc(v1), false},
	} {
		r, err := ingesttest.ParseBytes(awsiam.Format, "authz.json", []byte(tt.doc), ingest.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		in := &graph.Input{Assets: r.Assets, Relations: r.Relations,
			Entries: []graph.Entry{{Kind: graph.EntryIdentity, Identity: "arn:aws:iam::111122223333:user/u"}},
			Jewels:  []graph.Jewel{{Asset: awsiam.AccountKey("111122223333"), Value: 10}}}
		res, err := graph.Analyze(in, graph.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := len(res.Paths) > 0 && res.Paths[0].Steps[0].Rule == "aws-policy-rewrite"
		if got != tt.want {
			t.Errorf("%s: a path by aws-policy-rewrite = %v, want %v", tt.name, got, tt.want)
		}
	}
}
