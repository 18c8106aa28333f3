// Package terraform reads Terraform — `terraform show -json` plans and
// state, and HCL source — into the assets and relations of the exposure
// graph for the core AWS resources: instances, security groups, load
// balancers, S3 buckets, IAM users, roles, groups and their policies,
// Lambda functions, RDS databases, Secrets Manager secrets, ECS services,
// CodeBuild projects, Glue, SageMaker, CloudFormation, SSM parameters and
// DynamoDB tables. It reports no findings.
//
// # Keys
//
// A resource whose values hold its ARN (state files, and plans for
// resources that already exist) is keyed by that ARN, so that it meets
// what cloud scanners (Prowler, Security Hub) report. Otherwise its key is
// "tf:" followed by its resource address: "tf:aws_s3_bucket.customer_data",
// "tf:module.app.aws_iam_role.task[0]". Such keys are stable across runs
// but do not meet ARN keys of the same resource. In HCL, an IAM user,
// group, role, policy or instance profile of literal name gets its ARN,
// and so its ARN key, when the configuration fixes the account (see
// module.accountID: the aws provider's allowed_account_ids or
// assume_role, or an account_id variable or local): it is then one asset
// with what the account's authorization details say of it. A function,
// database, build project, parameter, table, dev endpoint or notebook of
// literal name gets its ARN likewise when the aws providers also name one
// region (module.region). Every asset is labelled
// with "tf.address", "aws.type", "aws.arn" when known, and "tag.<name>"
// for its tags.
//
// Special keys: InternetKey stands for the internet (and for anyone in a
// bucket policy); the AWS account the configuration describes is
// "aws:account/ID" when its id is known (as package awsiam keys it), else
// AnyResourceKey, the asset an administrator of the account controls; CollectionKey(type) for every resource of a type in
// it; an AWS account root "arn:aws:iam::123456789012:root" for a
// principal of a trust policy that names an account.
//
// # Relations
//
//	internet —exposes→ instance, database, load balancer, function URL
//	   (Action "tcp/443", "tcp/0-65535", "*" from the security group rules
//	   or listeners that open it to 0.0.0.0/0 or ::/0); an instance only
//	   with a public address (associate_public_ip_address, or a subnet
//	   that maps one), never from an unset flag alone
//	internet —exposes→ public bucket, and internet —can→ bucket per action
//	load balancer —routes-to→ target group —routes-to→ instance, function,
//	   ECS service
//	instance, database, load balancer —member-of→ security group
//	instance, function, ECS service and task definition, CodeBuild project,
//	   Glue dev endpoint, SageMaker notebook, CloudFormation stack
//	   —uses-identity→ IAM role (an instance through its instance profile)
//	principal —can→ resource, account or collection: identity policies
//	   evaluated by package intel/iam (see permissions)
//	role —trusts→ principal (Action "sts:AssumeRole…", and " if " with
//	   the conditions) from trust policies; the services a trust policy
//	   names are the label "iam.trusted_services", "*" the label
//	   "iam.trust_anyone"
//	principal —can→ bucket from bucket policies
//	principal —attached→ customer-managed policy
//	user —member-of→ group
//	account —contains→ every resource IAM names; collection —contains→
//	   every resource of its type
//	place —grants→ IAM user or database: a reference to an access key or
//	   a database password in an environment, user data, SSM parameter or
//	   secret value (see credentials)
//	ECS service, task definition, function —runs→ image
//	ECS service, task definition —reads-env→ secret
//	EKS (see eks): Kubernetes service account —uses-identity→ IAM role
//	   (aws_eks_pod_identity_association); IAM principal —member-of→
//	   Kubernetes groups (aws_eks_access_entry) and —can→ the cluster or
//	   namespaces (aws_eks_access_policy_association); the EKS cluster
//	   —alias-of→ the Kubernetes cluster of its name
//	CodeBuild project —built-from→ repository: who can write the
//	   repository runs code in the build, the supply-chain direction the
//	   graph follows (a "deploys" edge would point the other way)
//
// Identity policies are evaluated as AWS evaluates them: action wildcards
// against the AWS action catalogue, Resource patterns and references
// against the ARNs of the estate's resources (their state ARN, or one
// built from their names with unknown account and region), Deny,
// NotAction and NotResource honoured, conditions settled for the
// principal as the caller (iam.Resolve: stolen credentials carry no MFA,
// its ARN and type are known) and those left undecided kept in the
// action ("s3:GetObject if StringEquals aws:ResourceTag/team [\"data\"]").
// AWS managed
// policies come from the data of package intel/iam. A user is evaluated
// with its groups' policies; a group keeps its own grants for whoever
// joins it. Each principal gets at most a few can relations per resource
// (iam.Index.Evaluate), one on a collection when it holds the same on
// every resource of a type, and one "*" on the account when it may do
// everything. Literal ARNs that no resource of the estate has become
// assets of their own, so that cloud findings on them meet the grants.
//
// HCL is evaluated without Terraform: variables take terraform.tfvars,
// *.auto.tfvars or their defaults, locals what resolves, a count of 0 or
// an empty for_each leaves a resource out, a known count up to 16 makes
// one instance per index with count.index known ("aws_instance.web[0]";
// a count of 1 keeps the plain address), a known for_each one instance
// per element, any other count or for_each stands for one instance, and
// references to resources (through instance keys too)
// stand for those resources; what does not resolve (variables without
// values, module outputs, unknown functions) stays unknown and is left
// out, never failing the ingest. Module calls with a local source are
// expanded when a folder is read (ParseDir): the module's resources are
// read under "module.NAME.", its variables set from the call and its
// outputs known to the caller; registry and remote modules are not.
package terraform

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
)

// Tool is the tool name scans carry.
const Tool = "terraform"

// The format names.
const (
	nameJSON = "terraform-json"
	nameHCL  = "terraform-hcl"
)

// Special keys; see the package documentation.
const (
	// InternetKey is the asset that stands for the internet and for
	// anyone: the "*" principal of a policy.
	InternetKey = "internet"
	// AnyResourceKey stands for the AWS account the configuration
	// describes: grants of actions on no existing resource, and "*" for
	// an administrator, go to it, and it contains every resource IAM
	// names.
	AnyResourceKey = "aws:account/*"
)

// FormatPlan is the JSON that `terraform show -json` prints for a saved
// plan or for the state, and the raw terraform.tfstate (version 4).
var FormatPlan = ingest.Format{
	Name:   nameJSON,
	Title:  "Terraform plan and state JSON (terraform show -json, terraform.tfstate)",
	Detect: DetectPlan,
	Parse:  ParsePlan,
}

// FormatHCL is one Terraform configuration file, in native syntax (.tf)
// or JSON syntax (.tf.json). A folder of them is read with ParseDir.
var FormatHCL = ingest.Format{
	Name:   nameHCL,
	Title:  "Terraform HCL configuration (.tf, .tf.json)",
	Detect: DetectHCL,
	Parse:  ParseHCL,
}

// DetectPlan accepts a JSON object with format_version and
// terraform_version (terraform show -json), or with version,
// terraform_version and lineage or serial (a raw state file).
func DetectPlan(s *ingest.Sniff) bool {
	if s.Kind != ingest.SniffJSONObject || !s.Has("terraform_version") {
		return false
	}
	return s.Has("format_version") || (s.Has("version") && s.HasAny("lineage", "serial"))
}

// hclBlockRE matches the top-level blocks that make a file Terraform for
// AWS: a resource or data source of the aws provider, the aws provider
// itself, or a module call.
var hclBlockRE = regexp.MustCompile(`(?m)^\s*(?:(?:resource|data)\s+"aws_[a-z0-9_]+"\s+"[^"]*"|provider\s+"aws"|module\s+"[^"]*")\s*\{`)

// DetectHCL accepts text (which YAML sniffing may take for YAML, since a
// line like `bucket = "x"` can follow a comment holding a colon) whose head
// holds a resource "aws_…", data "aws_…", provider "aws" or module block
// at the start of a line.
func DetectHCL(s *ingest.Sniff) bool {
	if s.Kind == ingest.SniffJSONObject {
		// JSON syntax (.tf.json): a resource or data source of the aws
		// provider, or the aws provider, at the top.
		for p := range s.Paths {
			for _, top := range []string{"resource.aws_", "data.aws_", "provider.aws"} {
				if strings.HasPrefix(p, top) {
					return true
				}
			}
		}
		return false
	}
	if s.Kind != ingest.SniffText && s.Kind != ingest.SniffYAML {
		return false
	}
	return hclBlockRE.Match(s.Head)
}

// maxHCL bounds one HCL file: the HCL parser needs a file whole.
const maxHCL = 32 << 20

// ParseHCL reads one .tf file and emits its AWS resources into sink as one
// scan of the --target (else "default"). HCL cannot be parsed as a stream;
// the file is read whole, up to 32 MiB. When the file was read from disk
// (in.Path), its module calls with a local source are expanded from its
// folder, within the bounds ParseDir keeps; otherwise they are warned
// about and left out.
func ParseHCL(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	src, err := io.ReadAll(io.LimitReader(in.R, maxHCL+1))
	if err != nil {
		return err
	}
	if len(src) > maxHCL {
		return in.Errorf(maxHCL, "HCL file larger than %d bytes", maxHCL)
	}
	m := newModule()
	if t := bytes.TrimSpace(src); len(t) > 0 && t[0] == '{' {
		// JSON syntax, whatever the file's name.
		if src, err = jsonToNative(in.Name, src, false); err != nil {
			return err
		}
	}
	if err := m.addFile(in.Name, src); err != nil {
		return err
	}
	b := newBuilder(in.Options, sink, "terraform:"+filepath.Base(in.Name), nameHCL)
	b.account, b.region = m.accountID(), m.region()
	if in.Path != "" {
		// A file read from disk: its local modules, relative to its
		// folder, as when the folder is read.
		dir := filepath.Dir(in.Path)
		n := 0
		if err := m.expand(ctx, b, dir, moduleLimit(dir), 0, &n); err != nil {
			return err
		}
	} else {
		for _, c := range m.calls {
			in.Warn("terraform: module %q is not expanded: read its folder (ctem ingest DIR)", c.Labels[0])
		}
	}
	if err := m.resources(ctx, b); err != nil {
		return err
	}
	return b.emit(ctx)
}

// ParseDir reads the .tf files of dir (not its subfolders: a folder is one
// Terraform module) in name order, with the variables terraform.tfvars
// and *.auto.tfvars set, and emits their AWS resources into sink
// as one scan of the --target (else the folder's name). Malformed HCL
// gives an *ingest.InputError naming the file, line and column; nothing is
// emitted then.
func ParseDir(ctx context.Context, dir string, opts ingest.Options, sink ingest.Sink) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	f, err := root.Open(".")
	if err != nil {
		return err
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	var names, autoVars, tfvars []string
	for _, e := range entries {
		switch n := e.Name(); {
		case !e.Type().IsRegular():
		case strings.HasSuffix(n, ".tf"), strings.HasSuffix(n, ".tf.json"):
			names = append(names, n)
		case n == "terraform.tfvars", n == "terraform.tfvars.json":
			tfvars = append(tfvars, n)
		case strings.HasSuffix(n, ".auto.tfvars"), strings.HasSuffix(n, ".auto.tfvars.json"):
			autoVars = append(autoVars, n)
		}
	}
	slices.Sort(names)
	slices.Sort(autoVars)
	slices.Sort(tfvars)
	autoVars = append(tfvars, autoVars...)
	m := newModule()
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		src, err := readLimited(root, name)
		if err != nil {
			return err
		}
		if err := m.addSource(filepath.Join(dir, name), src); err != nil {
			return err
		}
	}
	// Variables as Terraform sets them without -var: terraform.tfvars,
	// then *.auto.tfvars in name order, over the defaults.
	for _, name := range autoVars {
		src, err := readLimited(root, name)
		if err != nil {
			return err
		}
		if err := m.setVarsSource(filepath.Join(dir, name), src); err != nil {
			return err
		}
	}
	if opts.Target == "" {
		abs, err := filepath.Abs(dir)
		if err == nil {
			opts.Target = filepath.Base(abs)
		}
	}
	b := newBuilder(opts, sink, "terraform:"+filepath.Base(filepath.Clean(dir)), nameHCL)
	b.account, b.region = m.accountID(), m.region()
	n := 0
	if err := m.expand(ctx, b, dir, moduleLimit(dir), 0, &n); err != nil {
		return err
	}
	if err := m.resources(ctx, b); err != nil {
		return err
	}
	return b.emit(ctx)
}

func readLimited(root *os.Root, name string) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, maxHCL+1))
	if err != nil {
		return nil, err
	}
	if len(src) > maxHCL {
		return nil, &ingest.InputError{File: name, Offset: maxHCL, Err: fmt.Errorf("HCL file larger than %d bytes", maxHCL)}
	}
	return src, nil
}

// WorkspaceKey is the key of the Terraform configuration or state a scan
// reads, named by its target.
func WorkspaceKey(target string) string { return "tf:workspace/" + target }

// AccountKey is the key of an AWS account's root principal.
func AccountKey(id string) string { return "arn:aws:iam::" + id + ":root" }

// resourceKey is the key of a resource: its ARN when known, else "tf:" and
// its address.
func resourceKey(addr, arn string) string {
	if strings.HasPrefix(arn, "arn:") {
		return arn
	}
	return "tf:" + addr
}
