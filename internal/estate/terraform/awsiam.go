package terraform

import (
	"maps"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/intel/iam"
	"github.com/ctem-dev/ctem/internal/model"
)

// iamName says how IAM names a resource type: as which resource types of
// which services (from the AWS catalogue), and its ARN from its values
// when its state does not hold it. U stands for what is unknown.
type iamName struct {
	types [][2]string // service, resource type
	arn   func(r *resource) string
	// parts is the prefix of the ARNs of the resource's parts (a
	// bucket's objects) as the given resource type.
	parts [2]string
}

const u = iam.Unknown

// field is an attribute as an ARN field: its value, or Unknown.
func field(r *resource, attr string) string {
	s := str(r.v[attr])
	if s == "" || strings.Contains(s, refMark) {
		return u
	}
	return s
}

func iamPath(r *resource) string {
	p := strings.Trim(str(r.v["path"]), "/")
	if p == "" || strings.Contains(p, refMark) {
		return ""
	}
	return p + "/"
}

var iamNames = map[string]iamName{
	"aws_s3_bucket": {types: [][2]string{{"s3", "bucket"}}, parts: [2]string{"s3", "object"},
		arn: func(r *resource) string { return "arn:aws:s3:::" + field(r, "bucket") }},
	"aws_iam_role": {types: [][2]string{{"iam", "role"}, {"sts", "role"}},
		arn: func(r *resource) string { return "arn:aws:iam::" + u + ":role/" + iamPath(r) + field(r, "name") }},
	"aws_iam_user": {types: [][2]string{{"iam", "user"}},
		arn: func(r *resource) string { return "arn:aws:iam::" + u + ":user/" + iamPath(r) + field(r, "name") }},
	"aws_iam_group": {types: [][2]string{{"iam", "group"}},
		arn: func(r *resource) string { return "arn:aws:iam::" + u + ":group/" + iamPath(r) + field(r, "name") }},
	"aws_iam_policy": {types: [][2]string{{"iam", "policy"}},
		arn: func(r *resource) string { return "arn:aws:iam::" + u + ":policy/" + iamPath(r) + field(r, "name") }},
	"aws_iam_instance_profile": {types: [][2]string{{"iam", "instance-profile"}},
		arn: func(r *resource) string {
			return "arn:aws:iam::" + u + ":instance-profile/" + iamPath(r) + field(r, "name")
		}},
	"aws_lambda_function": {types: [][2]string{{"lambda", "function"}},
		arn: func(r *resource) string {
			return "arn:aws:lambda:" + u + ":" + u + ":function:" + field(r, "function_name")
		}},
	"aws_instance": {types: [][2]string{{"ec2", "instance"}, {"ssm", "instance"}, {"ec2-instance-connect", "instance"}},
		arn: func(r *resource) string { return "arn:aws:ec2:" + u + ":" + u + ":instance/" + field(r, "id") }},
	"aws_db_instance": {types: [][2]string{{"rds", "db"}},
		arn: func(r *resource) string { return "arn:aws:rds:" + u + ":" + u + ":db:" + field(r, "identifier") }},
	"aws_rds_cluster": {types: [][2]string{{"rds", "cluster"}},
		arn: func(r *resource) string {
			return "arn:aws:rds:" + u + ":" + u + ":cluster:" + field(r, "cluster_identifier")
		}},
	"aws_secretsmanager_secret": {types: [][2]string{{"secretsmanager", "Secret"}},
		arn: func(r *resource) string {
			return "arn:aws:secretsmanager:" + u + ":" + u + ":secret:" + field(r, "name") + "-" + u
		}},
	"aws_ecs_service": {types: [][2]string{{"ecs", "service"}}, parts: [2]string{"ecs", "task"},
		arn: func(r *resource) string {
			return "arn:aws:ecs:" + u + ":" + u + ":service/" + u + "/" + field(r, "name")
		}},
	"aws_ecs_task_definition": {types: [][2]string{{"ecs", "task-definition"}},
		arn: func(r *resource) string {
			return "arn:aws:ecs:" + u + ":" + u + ":task-definition/" + field(r, "family") + ":" + u
		}},
	"aws_codebuild_project": {types: [][2]string{{"codebuild", "project"}},
		arn: func(r *resource) string { return "arn:aws:codebuild:" + u + ":" + u + ":project/" + field(r, "name") }},
	"aws_ssm_parameter": {types: [][2]string{{"ssm", "parameter"}},
		arn: func(r *resource) string {
			return "arn:aws:ssm:" + u + ":" + u + ":parameter/" + strings.TrimPrefix(field(r, "name"), "/")
		}},
	"aws_dynamodb_table": {types: [][2]string{{"dynamodb", "table"}},
		arn: func(r *resource) string { return "arn:aws:dynamodb:" + u + ":" + u + ":table/" + field(r, "name") }},
	"aws_glue_dev_endpoint": {types: [][2]string{{"glue", "devendpoint"}},
		arn: func(r *resource) string { return "arn:aws:glue:" + u + ":" + u + ":devEndpoint/" + field(r, "name") }},
	"aws_sagemaker_notebook_instance": {types: [][2]string{{"sagemaker", "notebook-instance"}},
		arn: func(r *resource) string {
			return "arn:aws:sagemaker:" + u + ":" + u + ":notebook-instance/" + field(r, "name")
		}},
	"aws_cloudformation_stack": {types: [][2]string{{"cloudformation", "stack"}},
		arn: func(r *resource) string {
			return "arn:aws:cloudformation:" + u + ":" + u + ":stack/" + field(r, "name") + "/" + u
		}},
}

// iamARN returns the ARN IAM names a resource by: from its state, else
// built from its values with Unknown fields; "" for types IAM policies
// of the estate are not evaluated against.
func iamARN(r *resource) string {
	n, ok := iamNames[r.typ]
	if !ok {
		return ""
	}
	if arn := str(r.v["arn"]); strings.HasPrefix(arn, "arn:") && !strings.Contains(arn, refMark) {
		return arn
	}
	return n.arn(r)
}

// iamIndex indexes the estate's resources by the ARNs IAM names them by,
// as every resource type each one is. It returns the index and the asset
// key of each resource number.
func (b *builder) iamIndex(extra []string) (*iam.Index, []string, map[string][]string) {
	x := iam.NewIndex(iam.Default())
	var keys []string
	byType := map[string][]string{} // "service/type" -> keys
	addType := func(svc, typ, key string) {
		t := svc + "/" + typ
		byType[t] = append(byType[t], key)
	}
	for _, r := range b.res {
		if r.data {
			continue
		}
		n, ok := iamNames[r.typ]
		if !ok {
			continue
		}
		arn := iamARN(r)
		id := int32(len(keys))
		keys = append(keys, r.key)
		for _, t := range n.types {
			x.Add(id, t[0], t[1], arn, false)
			addType(t[0], t[1], r.key)
		}
		if n.parts[0] != "" {
			x.Add(id, n.parts[0], n.parts[1], arn+"/", true)
			addType(n.parts[0], n.parts[1], r.key)
		}
	}
	// ARNs that policies name and the estate does not hold: they become
	// assets of their own, so that findings on them (Prowler, Security
	// Hub) meet the permissions on them.
	c := iam.Default()
	exact := map[string]bool{}
	var fuzzy []string
	for _, r := range b.res {
		if _, ok := iamNames[r.typ]; ok && !r.data {
			if arn := iamARN(r); strings.Contains(arn, u) {
				fuzzy = append(fuzzy, arn)
			} else {
				exact[arn] = true
			}
		}
	}
	known := func(arn string) bool {
		return exact[arn] || slices.ContainsFunc(fuzzy, func(f string) bool { return iam.MatchARN(arn, f, false) })
	}
	for _, arn := range extra {
		svc, typ, ok := c.TypeOf(arn)
		if !ok || known(arn) {
			continue
		}
		id := int32(len(keys))
		keys = append(keys, arn)
		x.Add(id, svc, typ, arn, false)
		addType(svc, typ, arn)
		switch {
		case svc == "s3" && typ == "bucket":
			x.Add(id, "s3", "object", arn+"/", true)
			addType("s3", "object", arn)
		case svc == "iam" && typ == "role":
			x.Add(id, "sts", "role", arn, false)
			addType("sts", "role", arn)
		}
	}
	return x, keys, byType
}

// CollectionKey is the key of the asset that stands for every resource
// of a type ("s3/object") in the account: a grant alike on all of them
// is one relation to it, and it contains each.
func CollectionKey(typ string) string { return AnyResourceKey + "/" + typ }

// LabelCollection is "true" on a CollectionKey asset.
const LabelCollection = "aws.collection"

// arnOfRef is the ARN of the resources a reference names.
func (b *builder) arnOfRef(base string) []string {
	var out []string
	for _, r := range b.byBase[base] {
		if arn := iamARN(r); arn != "" {
			out = append(out, arn)
		}
	}
	return out
}

// patterns turns a Resource pattern as written into IAM patterns: each
// reference replaced by the ARN of what it names (one pattern per
// resource a counted reference names). A reference to something that is
// no indexed resource, or an unresolved value, gives no pattern.
func (b *builder) patterns(p string) []string {
	p = strings.TrimSpace(p)
	if !strings.Contains(p, refMark) {
		if p == "" {
			return nil
		}
		return []string{p}
	}
	out := []string{p}
	for _, base := range refs(p) {
		arns := b.arnOfRef(base)
		if len(arns) == 0 {
			return nil
		}
		var next []string
		for _, q := range out {
			for _, a := range arns {
				next = append(next, strings.Replace(q, ref(base), a, 1))
			}
		}
		out = next
	}
	for _, q := range out {
		if strings.Contains(q, refMark) {
			return nil
		}
	}
	return out
}

// iamStatements converts statements as read to IAM statements, their
// references resolved.
func (b *builder) iamStatements(sts []statement) []iam.Statement {
	out := make([]iam.Statement, 0, len(sts))
	for _, s := range sts {
		is := s
		is.Resources = nil
		for _, r := range s.Resources {
			is.Resources = append(is.Resources, b.patterns(r)...)
		}
		if len(is.Resources) == 0 && !s.NotResource {
			// Every resource unresolved: the statement grants nothing
			// that can be placed, and an unplaceable Deny is dropped.
			continue
		}
		out = append(out, is)
	}
	return out
}

// literalARNs lists the ARNs without wildcards that Allow statements name,
// and the buckets of literal object ARNs.
func literalARNs(all [][]iam.Statement) []string {
	var out []string
	seen := map[string]bool{}
	for _, sts := range all {
		for _, s := range sts {
			if !s.Allow || s.NotResource {
				continue
			}
			for _, p := range s.Resources {
				if strings.HasPrefix(p, "arn:aws:s3:::") {
					p, _, _ = strings.Cut(p, "/")
				}
				if !strings.HasPrefix(p, "arn:") || strings.ContainsAny(p, "*?"+u) || seen[p] {
					continue
				}
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// AccountName is the display name of AnyResourceKey.
const AccountName = "the AWS account"

// permissions evaluates the identity policies of every principal (a
// user's with its groups' policies, as AWS evaluates a user's request)
// against the estate's resources and records a can edge per grant: see
// iam.Index.Evaluate. Grants on the account go to AnyResourceKey, which
// contains every resource of the estate IAM names.
func (b *builder) permissions() {
	groupsOf := map[string][]string{}
	for _, r := range b.rels {
		if r.Type == model.RelMemberOf && strings.Contains(r.To, "aws_iam_group") || r.Type == model.RelMemberOf && strings.Contains(r.To, ":group/") {
			groupsOf[r.From] = append(groupsOf[r.From], r.To)
		}
	}
	ids := slices.Clone(b.permOrder)
	for _, r := range b.of("aws_iam_user") {
		if _, ok := b.perms[r.key]; !ok && len(groupsOf[r.key]) > 0 {
			ids = append(ids, r.key)
		}
	}
	bounds := b.boundaries()
	scps := b.scps()
	all := make([][]iam.Statement, len(ids))
	for i, id := range ids {
		sts := b.perms[id]
		for _, g := range groupsOf[id] {
			sts = append(slices.Clip(sts), b.perms[g]...)
		}
		all[i] = b.iamStatements(sts)
		all[i] = append(all[i], bounds[id]...)
		for _, d := range scps {
			all[i] = append(all[i], d...)
		}
	}
	if len(ids) == 0 {
		return
	}
	x, keys, byType := b.iamIndex(literalARNs(all))
	acct := b.accountKey()
	collections := map[string]bool{}
	for i, id := range ids {
		// Conditions settled for the principal as the caller: stolen
		// credentials carry no MFA, the principal's own ARN is known.
		x.Evaluate(iam.Resolve(all[i], b.principalContext(id)), func(g iam.Grant) {
			to := acct
			switch {
			case g.Res >= 0:
				to = keys[g.Res]
			case g.Res == -2:
				to = acct + "/" + g.Type
				collections[g.Type] = true
			}
			b.rel(id, to, model.RelCan, actionText(g.Action, strings.Join(g.Conditions, ", ")))
		})
	}
	for _, typ := range slices.Sorted(maps.Keys(collections)) {
		a := b.asset(acct+"/"+typ, model.KindResource, "every "+typ+" of the account")
		a.Labels[LabelCollection] = "true"
		for _, k := range byType[typ] {
			b.rel(a.Key, k, model.RelContains, "")
		}
	}
	// The account: what an administrator of it (a grant of * on *, or
	// a principal that rewrites its own permissions) controls.
	b.asset(acct, model.KindAccount, AccountName)
	for _, k := range keys {
		b.rel(acct, k, model.RelContains, "")
	}
}

// accountKey is the key of the account the configuration describes:
// "aws:account/" and its id when the configuration fixes it (the key the
// authorization details of the account give it, package awsiam), else
// AnyResourceKey.
func (b *builder) accountKey() string {
	if id := b.accountID(); id != "" {
		return "aws:account/" + id
	}
	return AnyResourceKey
}

// actionText writes a grant's action with the conditions it holds under:
// "sts:AssumeRole if Bool aws:MultiFactorAuthPresent".
func actionText(action string, conds string) string {
	if conds == "" {
		return action
	}
	return action + " if " + conds
}

// boundaries reads the permissions boundaries of roles and users, each
// as the Deny statements that iam.FilterDenies makes of it. A boundary
// that those express only approximately (statements on different
// resources, conditions) is applied as that approximation, which takes
// away only what lies outside the boundary, and warned about; one that
// cannot be read is warned about and not applied.
func (b *builder) boundaries() map[string][]iam.Statement {
	out := map[string][]iam.Statement{}
	for _, r := range b.of("aws_iam_role", "aws_iam_user") {
		arn := str(r.v["permissions_boundary"])
		if arn == "" {
			continue
		}
		var sts []iam.Statement
		found := false
		if pols := b.lookup(arn, "aws_iam_policy"); len(pols) > 0 {
			found = true
			for _, p := range pols {
				sts = append(sts, b.iamStatements(b.policy(p.v["policy"], 0))...)
			}
		} else if doc, _, ok := iam.ManagedPolicy(arn); ok {
			found = true
			sts, _ = iam.ParsePolicy([]byte(doc))
		}
		if !found {
			b.opts.Warn("terraform: the permissions boundary of %s is not applied: its policy %q is unknown", r.addr, arn)
			continue
		}
		denies, exact := iam.FilterDenies(sts)
		if !exact {
			b.opts.Warn("terraform: the permissions boundary of %s is applied approximately: its statements name different resources or hold conditions, and only what lies outside all of them is removed", r.addr)
		}
		out[r.key] = denies
	}
	return out
}

// scps reads the service control policies of the configuration
// (aws_organizations_policy of type SERVICE_CONTROL_POLICY, the default)
// and returns, for each target they are attached to
// (aws_organizations_policy_attachment), the Deny statements that
// iam.FilterDenies makes of them: at each level of an organization an
// action must be allowed by some attached SCP and denied by none. Every
// target is taken as above the account the configuration describes (the
// organization's root, an OU, or the account itself), except another
// account named by a literal id that is not the account the state's ARNs
// name or a resource aws_organizations_account: SCPs do not bind
// principals of the organization's management account, which this
// reading cannot tell apart.
func (b *builder) scps() [][]iam.Statement {
	byTarget := map[string][]iam.Statement{}
	var order []string
	own := b.accountID()
	for _, a := range b.of("aws_organizations_policy_attachment") {
		target := str(a.v["target_id"])
		if accountIDRE.MatchString(target) && own != "" && target != own || len(b.lookup(target, "aws_organizations_account")) > 0 {
			continue
		}
		for _, p := range b.lookup(str(a.v["policy_id"]), "aws_organizations_policy") {
			if t := str(p.v["type"]); t != "" && t != "SERVICE_CONTROL_POLICY" {
				continue
			}
			var m map[string]any
			content := p.v["content"]
			if s, ok := content.(string); ok {
				if err := ingest.UnmarshalJSON([]byte(s), &m); err != nil {
					b.opts.Warn("terraform: %s: content is no JSON policy: %v", p.addr, err)
					continue
				}
				content = m
			}
			if _, ok := byTarget[target]; !ok {
				order = append(order, target)
			}
			byTarget[target] = append(byTarget[target], b.iamStatements(b.policy(content, 0))...)
		}
	}
	var out [][]iam.Statement
	for _, t := range order {
		denies, exact := iam.FilterDenies(byTarget[t])
		if !exact {
			b.opts.Warn("terraform: the service control policies attached to %s are applied approximately: their Allow statements name different resources or hold conditions", t)
		}
		out = append(out, denies)
	}
	return out
}

// accountID is the account the HCL configuration fixes, else the
// account_id of a data.aws_caller_identity in state or plan, else the one
// the ARNs of the state's resources name when they all name one; ""
// otherwise.
func (b *builder) accountID() string {
	if b.account != "" {
		return b.account
	}
	// State and plans hold the caller identity's account.
	for _, r := range b.res {
		if r.data && r.typ == "aws_caller_identity" && accountIDRE.MatchString(str(r.v["account_id"])) {
			return str(r.v["account_id"])
		}
	}
	id := ""
	for _, r := range b.res {
		f := strings.SplitN(str(r.v["arn"]), ":", 6)
		if len(f) < 6 || f[0] != "arn" || f[4] == "" || f[4] == "aws" {
			continue
		}
		if id != "" && id != f[4] {
			return ""
		}
		id = f[4]
	}
	return id
}
