// Package awsiam reads the output of `aws iam get-account-authorization-details`
// (what PMapper and Cloudsplaining read) into the assets and relations of
// the exposure graph: an account's users, groups, roles and customer
// policies, keyed by ARN so that they meet Terraform state and cloud
// scanner findings on the same resources, with their permissions
// evaluated as AWS evaluates them (package intel/iam). It reports no
// findings.
//
// Relations, as package terraform writes them: user —member-of→ group;
// principal —attached→ customer policy; role —trusts→ principal (Action
// sts:AssumeRole… and its conditions, those on a named principal settled
// for it); principal —can(action)→ resource or account (conditions
// settled for the principal as the caller, iam.Resolve); account
// —contains→ every principal and policy. Labels:
// "iam.trusted_services", "iam.trust_anyone", "iam.managed_policies",
// "iam.policy_versions" (of a customer policy), "aws.arn", "aws.type".
//
// The account's key is "aws:account/" and its id. Policies' resources
// outside IAM are known by the literal ARNs the policies name (they become
// assets of their own) and by their wildcard patterns: one asset per
// pattern and resource type (labels PatternLabel, PatternTypeLabel,
// PatternAccountLabel, and "aws.collection"), which package analyze
// joins with the resources other inputs describe. A permissions
// boundary is applied as the Deny statements of iam.FilterDenies: exact
// for Allow statements on one set of resources without conditions,
// otherwise an approximation that removes only what lies outside the
// boundary, with a warning. SCPs are not part of the input (Terraform's
// aws_organizations_policy is read by package terraform).
package awsiam

import (
	"context"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/intel/iam"
	"github.com/ctem-dev/ctem/internal/model"
)

// Labels of the assets that stand for the resources a wildcard pattern
// of a policy names ("arn:aws:lambda:*:*:function:*", "*"), as one
// resource type: package analyze joins each with the assets of other
// inputs (Terraform state, inventories) whose ARN it matches, in the same
// account.
const (
	PatternLabel        = "aws.arn_pattern"
	PatternTypeLabel    = "aws.arn_pattern_type"
	PatternAccountLabel = "aws.arn_pattern_account"
)

// joinTypes are the resource types patterns are joined on: those of the
// compute and data resources the escalation techniques act on.
var joinTypes = [][2]string{
	{"s3", "bucket"}, {"s3", "object"}, {"lambda", "function"}, {"ec2", "instance"}, {"ssm", "instance"},
	{"ec2-instance-connect", "instance"}, {"rds", "db"}, {"rds", "cluster"}, {"secretsmanager", "Secret"},
	{"ecs", "service"}, {"ecs", "task-definition"}, {"codebuild", "project"}, {"ssm", "parameter"},
	{"dynamodb", "table"}, {"glue", "devendpoint"}, {"sagemaker", "notebook-instance"}, {"cloudformation", "stack"},
}

// Tool is the tool name scans carry.
const Tool = "aws-iam"

const formatName = "aws-iam-authorization-details"

// Format is the JSON that `aws iam get-account-authorization-details`
// prints.
var Format = ingest.Format{
	Name:   formatName,
	Title:  "AWS IAM account authorization details (aws iam get-account-authorization-details)",
	Detect: Detect,
	Parse:  Parse,
}

// Detect accepts a JSON object whose members include UserDetailList,
// GroupDetailList, RoleDetailList or Policies with the fields the AWS API
// gives their elements.
func Detect(s *ingest.Sniff) bool {
	if s.Kind != ingest.SniffJSONObject {
		return false
	}
	return s.HasAny("UserDetailList[].UserName", "GroupDetailList[].GroupName", "RoleDetailList[].RoleName", "Policies[].PolicyVersionList") ||
		(s.Has("UserDetailList") && s.HasAny("GroupDetailList", "RoleDetailList", "Policies"))
}

// maxItems bounds the principals and policies of one input, so that
// memory stays bounded: an AWS account holds at most 5,000 users, 300
// groups, 5,000 roles (default quotas, adjustable tenfold) and 1,500
// customer policies plus the AWS managed ones.
const maxItems = 200_000

type policyRef struct {
	PolicyName, PolicyArn string
}

type inlinePolicy struct {
	PolicyName     string
	PolicyDocument any
}

type boundary struct {
	PermissionsBoundaryArn string
}

type user struct {
	UserName, Arn           string
	GroupList               []string
	UserPolicyList          []inlinePolicy
	AttachedManagedPolicies []policyRef
	PermissionsBoundary     boundary
}

type group struct {
	GroupName, Arn          string
	GroupPolicyList         []inlinePolicy
	AttachedManagedPolicies []policyRef
}

type role struct {
	RoleName, Arn            string
	AssumeRolePolicyDocument any
	RolePolicyList           []inlinePolicy
	AttachedManagedPolicies  []policyRef
	PermissionsBoundary      boundary
	InstanceProfileList      []struct{ Arn string }
}

type policy struct {
	PolicyName, Arn   string
	PolicyVersionList []struct {
		Document         any
		VersionId        string
		IsDefaultVersion bool
	}
}

type details struct {
	users    []user
	groups   []group
	roles    []role
	policies []policy
}

// Parse reads one authorization-details document and emits the account's
// IAM into sink as one scan of the --target, else of the account id.
// Malformed JSON is an *ingest.InputError with its offset; nothing is
// emitted then.
func Parse(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	d, err := read(ctx, in)
	if err != nil {
		return err
	}
	return emit(ctx, in, d, sink)
}

func read(ctx context.Context, in *ingest.Input) (*details, error) {
	dec := ingest.NewJSONDecoder(in.R)
	if err := ingest.ExpectStart(in, dec, '{', "AWS IAM authorization details"); err != nil {
		return nil, ingest.AsInputError(in, dec.InputOffset(), err)
	}
	d := &details{}
	n := 0
	each := func(fn func() error) error {
		return ingest.WalkArray(dec, func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if n++; n > maxItems {
				return in.Errorf(dec.InputOffset(), "more than %d principals and policies", maxItems)
			}
			return fn()
		})
	}
	err := ingest.WalkObject(dec, func(name string) error {
		switch name {
		case "UserDetailList":
			return each(func() error {
				var u user
				err := ingest.DecodeJSON(dec, &u)
				d.users = append(d.users, u)
				return err
			})
		case "GroupDetailList":
			return each(func() error {
				var g group
				err := ingest.DecodeJSON(dec, &g)
				d.groups = append(d.groups, g)
				return err
			})
		case "RoleDetailList":
			return each(func() error {
				var r role
				err := ingest.DecodeJSON(dec, &r)
				d.roles = append(d.roles, r)
				return err
			})
		case "Policies":
			return each(func() error {
				var p policy
				err := ingest.DecodeJSON(dec, &p)
				d.policies = append(d.policies, p)
				return err
			})
		}
		return dec.SkipValue()
	})
	if err == nil {
		err = ingest.ExpectEOF(in, dec)
	}
	if err != nil {
		return nil, ingest.AsInputError(in, dec.InputOffset(), err)
	}
	return d, nil
}

// document reads a policy document: a decoded object, or the URL-encoded
// JSON text the API returns.
func document(v any) []iam.Statement {
	switch v := v.(type) {
	case map[string]any:
		return iam.PolicyStatements(v)
	case string:
		s := v
		if u, err := url.QueryUnescape(v); err == nil {
			s = u
		}
		var m map[string]any
		if err := ingest.UnmarshalJSON([]byte(s), &m); err == nil {
			return iam.PolicyStatements(m)
		}
	}
	return nil
}

// accountOf is the account id of an IAM ARN.
func accountOf(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) == 6 && f[0] == "arn" {
		return f[4]
	}
	return ""
}

// AccountKey is the key of the asset that stands for an AWS account: what
// its administrator controls.
func AccountKey(id string) string { return "aws:account/" + id }

type emitter struct {
	in     *ingest.Input
	sink   ingest.Sink
	source string
	seen   map[model.Relation]bool
	rels   []model.Relation
	assets map[string]*model.Asset
	order  []string
}

func (e *emitter) asset(key string, kind model.AssetKind, name, typ string) *model.Asset {
	if a, ok := e.assets[key]; ok {
		return a
	}
	a := &model.Asset{Key: key, Kind: kind, Name: name, Labels: map[string]string{}, Source: e.source}
	if strings.HasPrefix(key, "arn:") {
		a.Labels["aws.arn"] = key
	}
	if typ != "" {
		a.Labels["aws.type"] = typ
	}
	e.assets[key] = a
	e.order = append(e.order, key)
	return a
}

func (e *emitter) rel(from, to string, t model.RelationType, action string) {
	if from == "" || to == "" {
		return
	}
	r := model.Relation{From: from, To: to, Type: t, Action: action, Source: e.source}
	if !e.seen[r] {
		e.seen[r] = true
		e.rels = append(e.rels, r)
	}
}

func emit(ctx context.Context, in *ingest.Input, d *details, sink ingest.Sink) error {
	e := &emitter{in: in, sink: sink, source: "aws-iam:" + filepath.Base(in.Name), seen: map[model.Relation]bool{}, assets: map[string]*model.Asset{}}
	account := ""
	for _, arns := range [][]string{arnsOf(d.users, func(u user) string { return u.Arn }), arnsOf(d.roles, func(r role) string { return r.Arn }), arnsOf(d.groups, func(g group) string { return g.Arn })} {
		for _, a := range arns {
			if account == "" {
				account = accountOf(a)
			}
		}
	}
	target := in.TargetOr(account)
	if target == "" {
		target = "aws"
	}
	if err := sink.BeginScan(model.Scan{Tool: Tool, Format: formatName, Target: target}); err != nil {
		return err
	}
	// acctOf is the account asset of a principal or policy ARN: grants
	// on the account act in the principal's own account.
	acctOf := func(arn string) string {
		id := accountOf(arn)
		if id == "" || id == "aws" {
			id = account
		}
		if id == "" {
			id = "unknown"
		}
		k := AccountKey(id)
		e.asset(k, model.KindAccount, "AWS account "+id, "")
		return k
	}

	// Policies by ARN: the default version's statements, and how many
	// versions there are.
	docs := map[string][]iam.Statement{}
	for _, p := range d.policies {
		for _, v := range p.PolicyVersionList {
			if v.IsDefaultVersion {
				docs[p.Arn] = document(v.Document)
			}
		}
		if accountOf(p.Arn) == "aws" || p.Arn == "" {
			continue
		}
		a := e.asset(p.Arn, model.KindResource, p.PolicyName, "aws_iam_policy")
		a.Labels["iam.policy_versions"] = strconv.Itoa(len(p.PolicyVersionList))
		e.rel(acctOf(p.Arn), p.Arn, model.RelContains, "")
	}
	managed := func(key string, refs []policyRef) []iam.Statement {
		var names []string
		var sts []iam.Statement
		for _, r := range refs {
			if s, ok := docs[r.PolicyArn]; ok {
				sts = append(sts, s...)
			} else if doc, _, ok := iam.ManagedPolicy(r.PolicyArn); ok {
				if s, err := iam.ParsePolicy([]byte(doc)); err == nil {
					sts = append(sts, s...)
				}
			} else {
				in.Warn("aws-iam: policy %s attached to %s is unknown", r.PolicyArn, key)
			}
			if accountOf(r.PolicyArn) == "aws" {
				names = append(names, r.PolicyArn)
			} else {
				e.rel(key, r.PolicyArn, model.RelAttached, "")
			}
		}
		if len(names) > 0 {
			slices.Sort(names)
			e.assets[key].Labels["iam.managed_policies"] = strings.Join(names, ",")
		}
		return sts
	}
	inline := func(ps []inlinePolicy) []iam.Statement {
		var sts []iam.Statement
		for _, p := range ps {
			sts = append(sts, document(p.PolicyDocument)...)
		}
		return sts
	}
	withBoundary := func(key string, sts []iam.Statement, b boundary) []iam.Statement {
		if b.PermissionsBoundaryArn == "" {
			return sts
		}
		bs, ok := docs[b.PermissionsBoundaryArn]
		if !ok {
			if doc, _, found := iam.ManagedPolicy(b.PermissionsBoundaryArn); found {
				bs, _ = iam.ParsePolicy([]byte(doc))
				ok = true
			}
		}
		if !ok {
			in.Warn("aws-iam: permissions boundary %s of %s is not applied: the policy is not in the input", b.PermissionsBoundaryArn, key)
			return sts
		}
		denies, exact := iam.FilterDenies(bs)
		if !exact {
			in.Warn("aws-iam: permissions boundary %s of %s is applied approximately: its statements name different resources or hold conditions", b.PermissionsBoundaryArn, key)
		}
		return append(slices.Clip(sts), denies...)
	}

	perms := map[string][]iam.Statement{}
	var order []string
	groupARN := map[string]string{}
	for _, g := range d.groups {
		if g.Arn == "" {
			continue
		}
		groupARN[g.GroupName] = g.Arn
		e.asset(g.Arn, model.KindIdentity, g.GroupName, "aws_iam_group")
		e.rel(acctOf(g.Arn), g.Arn, model.RelContains, "")
		perms[g.Arn] = append(inline(g.GroupPolicyList), managed(g.Arn, g.AttachedManagedPolicies)...)
		order = append(order, g.Arn)
	}
	for _, r := range d.roles {
		if r.Arn == "" {
			continue
		}
		e.asset(r.Arn, model.KindIdentity, r.RoleName, "aws_iam_role")
		e.rel(acctOf(r.Arn), r.Arn, model.RelContains, "")
		perms[r.Arn] = withBoundary(r.Arn, append(inline(r.RolePolicyList), managed(r.Arn, r.AttachedManagedPolicies)...), r.PermissionsBoundary)
		order = append(order, r.Arn)
		e.trust(r)
	}
	for _, u := range d.users {
		if u.Arn == "" {
			continue
		}
		e.asset(u.Arn, model.KindIdentity, u.UserName, "aws_iam_user")
		e.rel(acctOf(u.Arn), u.Arn, model.RelContains, "")
		sts := append(inline(u.UserPolicyList), managed(u.Arn, u.AttachedManagedPolicies)...)
		for _, g := range u.GroupList {
			if ga, ok := groupARN[g]; ok {
				e.rel(u.Arn, ga, model.RelMemberOf, "")
				sts = append(sts, perms[ga]...)
			}
		}
		perms[u.Arn] = withBoundary(u.Arn, sts, u.PermissionsBoundary)
		order = append(order, u.Arn)
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// Evaluate every principal against the account's IAM resources and
	// the literal ARNs policies name.
	x := iam.NewIndex(iam.Default())
	var keys []string
	byType := map[string][]string{}
	add := func(key, svc, typ string) {
		id := int32(len(keys))
		keys = append(keys, key)
		x.Add(id, svc, typ, key, false)
		byType[svc+"/"+typ] = append(byType[svc+"/"+typ], key)
	}
	for _, k := range e.order {
		switch e.assets[k].Labels["aws.type"] {
		case "aws_iam_user":
			add(k, "iam", "user")
		case "aws_iam_group":
			add(k, "iam", "group")
		case "aws_iam_policy":
			add(k, "iam", "policy")
		case "aws_iam_role":
			id := int32(len(keys))
			keys = append(keys, k)
			x.Add(id, "iam", "role", k, false)
			x.Add(id, "sts", "role", k, false)
			byType["iam/role"] = append(byType["iam/role"], k)
			byType["sts/role"] = append(byType["sts/role"], k)
		}
	}
	for _, r := range d.roles {
		for _, p := range r.InstanceProfileList {
			if p.Arn != "" {
				id := int32(len(keys))
				keys = append(keys, p.Arn)
				x.Add(id, "iam", "instance-profile", p.Arn, false)
			}
		}
	}
	known := map[string]bool{}
	for _, k := range keys {
		known[k] = true
	}
	c := iam.Default()
	// Wildcard patterns on the resources other inputs describe (Terraform
	// state, inventories): one asset per pattern and resource type that
	// the grants go to and that analysis joins with the resources it
	// matches (package analyze, PatternLabel).
	addPattern := func(p string) {
		f := strings.SplitN(p, ":", 6)
		for _, jt := range joinTypes {
			if p != "*" && (len(f) < 3 || !iam.Glob(strings.ToLower(f[2]), jt[0])) {
				continue
			}
			key := "aws:arn-pattern/" + jt[0] + "/" + jt[1] + "/" + p
			if known[key] {
				continue
			}
			known[key] = true
			a := e.asset(key, model.KindResource, "every "+jt[0]+" "+jt[1]+" matching "+p, "")
			a.Labels["aws.collection"] = "true"
			a.Labels[PatternLabel] = p
			a.Labels[PatternTypeLabel] = jt[0] + "/" + jt[1]
			a.Labels[PatternAccountLabel] = account
			id := int32(len(keys))
			keys = append(keys, key)
			x.Add(id, jt[0], jt[1], p, false)
		}
	}
	for _, k := range order {
		for _, s := range perms[k] {
			if !s.Allow || s.NotResource {
				continue
			}
			for _, p := range s.Resources {
				if strings.ContainsAny(p, "*?") {
					addPattern(p)
					continue
				}
				if strings.HasPrefix(p, "arn:aws:s3:::") {
					p, _, _ = strings.Cut(p, "/")
				}
				if !strings.HasPrefix(p, "arn:") || known[p] {
					continue
				}
				known[p] = true
				svc, typ, ok := c.TypeOf(p)
				if !ok || svc == "iam" {
					continue
				}
				add(p, svc, typ)
				if svc == "s3" && typ == "bucket" {
					x.Add(int32(len(keys)-1), "s3", "object", p+"/", true)
					byType["s3/object"] = append(byType["s3/object"], p)
				}
			}
		}
	}
	for _, k := range order {
		if err := ctx.Err(); err != nil {
			return err
		}
		acct, mine := acctOf(k), accountOf(k)
		x.Evaluate(iam.Resolve(perms[k], iam.PrincipalContext(k)), func(g iam.Grant) {
			to := acct
			switch {
			case g.Res >= 0:
				to = keys[g.Res]
				// An identity policy acts in its own account only.
				if other := accountOf(to); other != "" && other != "aws" && mine != "" && other != mine {
					return
				}
			case g.Res == -2:
				// Every resource of a type: those of the principal's
				// account.
				to = acct + "/" + g.Type
				if _, ok := e.assets[to]; !ok {
					c := e.asset(to, model.KindResource, "every "+g.Type+" of the account", "")
					c.Labels["aws.collection"] = "true"
					for _, m := range byType[g.Type] {
						if other := accountOf(m); other == "" || other == mine || other == "aws" {
							e.rel(to, m, model.RelContains, "")
						}
					}
				}
			}
			a := g.Action
			if len(g.Conditions) > 0 {
				a += " if " + strings.Join(g.Conditions, ", ")
			}
			e.rel(k, to, model.RelCan, a)
		})
	}
	for i := 0; i < len(e.rels); i++ {
		r := e.rels[i]
		if _, ok := e.assets[r.To]; !ok {
			e.asset(r.To, kindOfARN(r.To), nameOfARN(r.To), "")
			if r.Type == model.RelCan {
				e.rel(acctOf(r.To), r.To, model.RelContains, "")
			}
		}
	}
	for _, k := range e.order {
		a := e.assets[k]
		if len(a.Labels) == 0 {
			a.Labels = nil
		}
		if err := sink.Asset(*a); err != nil {
			return err
		}
	}
	for _, r := range e.rels {
		if err := sink.Relation(r); err != nil {
			return err
		}
	}
	return nil
}

func arnsOf[T any](items []T, f func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, f(it))
	}
	return out
}

// trust reads a role's trust policy as package terraform does.
func (e *emitter) trust(r role) {
	var services []string
	anyone := ""
	for _, s := range document(r.AssumeRolePolicyDocument) {
		if !s.Allow || s.NotAction || s.Never {
			continue
		}
		actions := s.Actions
		if len(actions) == 0 {
			actions = []string{"sts:AssumeRole"}
		}
		services = append(services, s.Principals["Service"]...)
		if s.AnyPrincipal {
			if len(s.Conditions) == 0 {
				anyone = "true"
			} else if anyone == "" {
				anyone = "if " + iam.ConditionsText(s.Conditions)
			}
		}
		for _, typ := range []string{"AWS", "Federated"} {
			for _, p := range s.Principals[typ] {
				key := p
				if len(p) == 12 && strings.Trim(p, "0123456789") == "" {
					key = "arn:aws:iam::" + p + ":root"
				}
				// Conditions on a named principal are settled for it;
				// on an account they depend on the caller, and the
				// graph settles them.
				conds, ok := s.Conditions, true
				if typ == "AWS" && !strings.HasSuffix(key, ":root") {
					conds, ok = iam.Settle(conds, iam.PrincipalContext(key))
				}
				if !ok {
					continue
				}
				for _, a := range actions {
					if len(conds) > 0 {
						a += " if " + iam.ConditionsText(conds)
					}
					e.rel(r.Arn, key, model.RelTrusts, a)
				}
			}
		}
	}
	a := e.assets[r.Arn]
	if len(services) > 0 {
		slices.Sort(services)
		a.Labels["iam.trusted_services"] = strings.Join(slices.Compact(services), ",")
	}
	if anyone != "" {
		a.Labels["iam.trust_anyone"] = anyone
	}
}

// kindOfARN is the kind of an asset known by its ARN only.
func kindOfARN(arn string) model.AssetKind {
	f := strings.SplitN(arn, ":", 6)
	if len(f) < 6 {
		return model.KindResource
	}
	switch {
	case f[2] == "iam" && f[5] == "root":
		return model.KindAccount
	case f[2] == "iam" && (strings.HasPrefix(f[5], "role/") || strings.HasPrefix(f[5], "user/") || strings.HasPrefix(f[5], "group/") || strings.Contains(f[5], "-provider/")):
		return model.KindIdentity
	case f[2] == "s3" || f[2] == "dynamodb" || f[2] == "rds":
		return model.KindDatastore
	case f[2] == "secretsmanager" || f[2] == "ssm" || f[2] == "kms":
		return model.KindSecret
	case f[2] == "lambda":
		return model.KindFunction
	}
	return model.KindResource
}

func nameOfARN(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) < 6 {
		return arn
	}
	r := f[5]
	if i := strings.LastIndexAny(r, "/:"); i >= 0 && i < len(r)-1 {
		return r[i+1:]
	}
	return r
}
