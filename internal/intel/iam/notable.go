package iam

import "strings"

// notable are the actions the privilege-escalation techniques of Rhino
// Security Labs' list and PMapper's edge checks use, lower-case. Evaluate
// reports each one the principal holds by name, since a representative
// of its access level would hide it.
var notable = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range [][]string{accountActions, resourceActions} {
		for _, a := range l {
			m[strings.ToLower(a)] = true
		}
	}
	return m
}()

// accountActions are the notable actions that act on no existing
// resource of the estate: they create one (a function, an instance, a
// stack) or act on the account. Evaluate reports them on the account.
var accountActions = []string{
	"ec2:RunInstances", "ec2:RequestSpotInstances", "ec2:CreateLaunchTemplate",
	"lambda:CreateFunction", "lambda:InvokeFunction", "lambda:CreateEventSourceMapping", "lambda:AddPermission", "lambda:CreateFunctionUrlConfig",
	"cloudformation:CreateStack", "cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet",
	"glue:CreateDevEndpoint", "glue:CreateJob", "glue:StartJobRun", "glue:CreateSession",
	"codebuild:CreateProject", "codebuild:StartBuild", "codebuild:StartBuildBatch",
	"sagemaker:CreateNotebookInstance", "sagemaker:CreatePresignedNotebookInstanceUrl", "sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob",
	"datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition", "datapipeline:ActivatePipeline",
	"autoscaling:CreateAutoScalingGroup", "autoscaling:CreateLaunchConfiguration",
	"ecs:RegisterTaskDefinition", "ecs:RunTask", "ecs:StartTask", "ecs:CreateService", "ecs:CreateCluster",
	"iam:CreateInstanceProfile", "iam:CreateAccessKey", "iam:CreateLoginProfile",
	"rds:RestoreDBInstanceFromDBSnapshot", "rds:RestoreDBClusterFromSnapshot",
}

// resourceActions are the notable actions on existing resources.
var resourceActions = []string{
	"sts:AssumeRole", "iam:PassRole",
	"iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:UpdateAssumeRolePolicy", "iam:AddUserToGroup",
	"iam:AttachUserPolicy", "iam:AttachGroupPolicy", "iam:AttachRolePolicy",
	"iam:PutUserPolicy", "iam:PutGroupPolicy", "iam:PutRolePolicy",
	"iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:AddRoleToInstanceProfile",
	"iam:DeleteUserPermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
	"lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:InvokeFunction",
	"ssm:SendCommand", "ssm:StartSession", "ec2-instance-connect:SendSSHPublicKey", "ec2:ModifyInstanceAttribute",
	"ec2:AssociateIamInstanceProfile", "ec2:ReplaceIamInstanceProfileAssociation",
	"cloudformation:UpdateStack", "cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet",
	"glue:UpdateDevEndpoint", "glue:UpdateJob", "glue:StartJobRun",
	"codebuild:StartBuild", "codebuild:StartBuildBatch", "codebuild:UpdateProject",
	"sagemaker:CreatePresignedNotebookInstanceUrl",
	"autoscaling:UpdateAutoScalingGroup",
	"ecs:RunTask", "ecs:StartTask", "ecs:UpdateService", "ecs:ExecuteCommand",
	"rds:ModifyDBInstance", "rds:ModifyDBCluster", "rds:CreateDBSnapshot", "rds:CreateDBClusterSnapshot", "rds:ModifyDBSnapshotAttribute",
}

// Notable reports whether an action ("iam:PassRole", any case) is one a
// privilege-escalation technique uses.
func Notable(action string) bool { return notable[strings.ToLower(action)] }

// AccountActions returns the notable actions Evaluate reports on the
// account (Grant.Res -1).
func AccountActions() []string { return append([]string(nil), accountActions...) }

// dataReads are the read actions that return a resource's data rather
// than its configuration: an object, an item, a secret's value, a
// parameter, a function's code and environment (which holds what its
// variables hold), a project's plaintext environment. Other List and Read
// actions read metadata and give no capability on the resource.
var dataReads = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range []string{
		"s3:GetObject", "s3:GetObjectVersion",
		"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:PartiQLSelect", "dynamodb:GetRecords", "dynamodb:ExportTableToPointInTime",
		"secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue",
		"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory",
		"kms:Decrypt", "rds-data:ExecuteStatement", "rds-data:BatchExecuteStatement", "rds-db:connect",
		"lambda:GetFunction", "lambda:GetFunctionConfiguration", "codebuild:BatchGetProjects",
		"ec2:GetPasswordData", "ecs:DescribeTaskDefinition", "glue:GetConnection", "sqs:ReceiveMessage",
		"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "logs:GetLogEvents", "logs:FilterLogEvents",
	} {
		m[strings.ToLower(a)] = true
	}
	return m
}()

// DataRead reports whether a List or Read action ("s3:GetObject", any
// case) returns the data of the resource it acts on.
func DataRead(action string) bool { return dataReads[strings.ToLower(action)] }

// changePrefixes begin the Write actions that change or destroy what a
// resource holds: its data or the settings that guard it.
var changePrefixes = []string{"put", "delete", "update", "batchwrite", "write", "upload", "send", "modify", "replace", "restore", "import"}

// Changes reports whether a Write action ("s3:PutObject", any case)
// changes or destroys what its resource holds, rather than creating
// something beside it (a snapshot, a tag, a session).
func Changes(action string) bool {
	_, a, _ := strings.Cut(strings.ToLower(action), ":")
	for _, p := range changePrefixes {
		if strings.HasPrefix(a, p) {
			return true
		}
	}
	return false
}
