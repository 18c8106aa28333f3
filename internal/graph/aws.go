package graph

import (
	"slices"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/intel/iam"
	"github.com/ctem-dev/ctem/internal/model"
)

// Labels of AWS assets the AWS rules read, as internal/estate/terraform
// and the authorization-details reader set them.
const (
	// LabelTrustedServices lists the service principals a role's trust
	// policy names ("ec2.amazonaws.com,lambda.amazonaws.com"): the
	// services a role passed with iam:PassRole can act as.
	LabelTrustedServices = "iam.trusted_services"
	// LabelTrustAnyone is "true" on a role whose trust policy lets any
	// AWS principal assume it, "if ..." when conditions restrict it.
	LabelTrustAnyone = "iam.trust_anyone"
	// LabelPolicyVersions is the number of versions a customer-managed
	// policy has: SetDefaultPolicyVersion needs a second one.
	LabelPolicyVersions = "iam.policy_versions"
	// LabelCollection is "true" on an asset that stands for every
	// resource of a type in an account ("every s3/object"): a grant alike
	// on all of them is one can relation to it, and it contains each.
	LabelCollection = "aws.collection"
)

// pConditional is the probability of a step allowed only under
// conditions the analysis cannot decide (a resource's tags, the
// organization, a source address or VPC endpoint the attacker would need
// a foothold for): the conditions are in the relation's action, shown as
// the step's fact. Conditions it can decide (iam.Decide: MFA, which
// stolen credentials lack; the caller's ARN, account and type; request
// parameters the attacker sets, such as the region or an ACL header)
// either stop the step or leave it certain.
const pConditional = 0.5

// condP weighs a step that holds under the condition text cond for the
// caller a: p as it is when the conditions let a through, p ×
// pConditional when they cannot be decided, and ok false when they stop
// a.
func (b *builder) condP(a int32, cond string, p float64) (float64, bool) {
	if cond == "" {
		return p, true
	}
	switch iam.Decide(iam.ParseConditionText(cond), b.callerContext(a)) {
	case iam.Allowed:
		return p, true
	case iam.Blocked:
		return 0, false
	}
	return p * pConditional, true
}

// callerContext is what the estate tells of principal a as the caller of
// a request: its ARN (its key, or its aws.arn label) and its type.
func (b *builder) callerContext(a int32) iam.Context {
	as := &b.g.x.assets[b.g.assets[a]]
	ctx := iam.PrincipalContext(as.key)
	if ctx.Principal == "" {
		if c := iam.PrincipalContext(as.labels["aws.arn"]); c.Principal != "" {
			ctx = c
		}
	}
	if ctx.Type == "" {
		switch as.labels["aws.type"] {
		case "aws_iam_user":
			ctx.Type = "user"
		case "aws_iam_role":
			ctx.Type = "role"
		}
	}
	return ctx
}

// awsCan is one can relation of the visited principal.
type awsCan struct {
	rel, to int32
	p       float64
}

// awsActions indexes the visited principal's can relations by lower-case
// action, conditions cut off; wildcard actions ("iam:*", "*") are kept
// apart and match on lookup. A relation to a collection stands for one to
// each resource it contains, expanded on lookup.
type awsActions struct {
	by   map[string][]awsCan
	wild []string
	b    *builder
	memo map[string][]awsCan // has, per action, for this principal
}

// splitCond splits an action into the action and its conditions
// ("s3:GetObject if Bool aws:MultiFactorAuthPresent").
func splitCond(action string) (string, string) {
	a, c, _ := strings.Cut(action, " if ")
	return strings.TrimSpace(a), c
}

func (b *builder) awsCollect(a int32) *awsActions {
	x := b.g.x
	acts := &b.awsActs
	acts.b = b
	clear(acts.by)
	if acts.memo == nil {
		acts.memo = map[string][]awsCan{}
	}
	clear(acts.memo)
	acts.wild = acts.wild[:0]
	if acts.by == nil {
		acts.by = map[string][]awsCan{}
	}
	for _, r := range b.out(a) {
		rel := &x.in.Relations[r]
		if rel.Type != model.RelCan {
			continue
		}
		act, cond := splitCond(rel.Action)
		la := strings.ToLower(act)
		if !strings.Contains(la, ":") && la != "*" {
			continue // Kubernetes verbs
		}
		p, ok := b.condP(a, cond, pNearCertain)
		if !ok {
			continue
		}
		if _, ok := acts.by[la]; !ok && strings.ContainsAny(la, "*?") {
			acts.wild = append(acts.wild, la)
		}
		acts.by[la] = append(acts.by[la], awsCan{rel: r, to: b.g.localOf(x.relTo[r]), p: p})
	}
	return acts
}

// has returns the relations that allow action (lower case), those to a
// collection once per resource it contains.
func (acts *awsActions) has(action string) []awsCan {
	if out, ok := acts.memo[action]; ok {
		return out
	}
	out := acts.lookup(action)
	acts.memo[action] = out
	return out
}

func (acts *awsActions) lookup(action string) []awsCan {
	out := acts.by[action]
	for _, w := range acts.wild {
		if iam.Glob(w, action) {
			out = append(slices.Clip(out), acts.by[w]...)
		}
	}
	x := acts.b.g.x
	var expanded []awsCan
	for i, c := range out {
		if !labelTrue(x.assets[acts.b.g.assets[c.to]].labels, LabelCollection) {
			if expanded != nil {
				expanded = append(expanded, c)
			}
			continue
		}
		if expanded == nil {
			expanded = append([]awsCan(nil), out[:i]...)
		}
		for _, r := range acts.b.out(c.to) {
			if x.in.Relations[r].Type == model.RelContains {
				expanded = append(expanded, awsCan{rel: c.rel, to: acts.b.g.localOf(x.relTo[r]), p: c.p})
			}
		}
	}
	if expanded != nil {
		return expanded
	}
	return out
}

// hasAny returns the relations that allow one of the actions.
func (acts *awsActions) hasAny(actions ...string) []awsCan {
	var out []awsCan
	for _, a := range actions {
		out = append(out, acts.has(a)...)
	}
	return out
}

// on returns the relations of cs that end at t.
func on(cs []awsCan, t int32) []awsCan {
	var out []awsCan
	for _, c := range cs {
		if c.to == t {
			out = append(out, c)
		}
	}
	return out
}

// passLaunch is one way to run code as a passed role: the service the
// role must trust and the actions needed, each inner list one of which
// suffices.
type passLaunch struct {
	service string
	needs   [][]string
}

// passLaunches are the PassRole escalations of Rhino Security Labs' list
// and PMapper's edge checks: create a resource of a service with a role
// the service may assume, and have it run the attacker's code.
var passLaunches = []passLaunch{
	{"ec2.amazonaws.com", [][]string{{"ec2:runinstances", "ec2:requestspotinstances"}}},
	{"ec2.amazonaws.com", [][]string{{"autoscaling:createautoscalinggroup"}, {"autoscaling:createlaunchconfiguration", "ec2:createlaunchtemplate"}}},
	{"lambda.amazonaws.com", [][]string{{"lambda:createfunction"}, {"lambda:invokefunction", "lambda:createeventsourcemapping", "lambda:addpermission", "lambda:createfunctionurlconfig"}}},
	{"cloudformation.amazonaws.com", [][]string{{"cloudformation:createstack"}}},
	{"cloudformation.amazonaws.com", [][]string{{"cloudformation:createchangeset"}, {"cloudformation:executechangeset"}}},
	{"glue.amazonaws.com", [][]string{{"glue:createdevendpoint"}}},
	{"glue.amazonaws.com", [][]string{{"glue:createjob"}, {"glue:startjobrun"}}},
	{"codebuild.amazonaws.com", [][]string{{"codebuild:createproject"}, {"codebuild:startbuild", "codebuild:startbuildbatch"}}},
	{"sagemaker.amazonaws.com", [][]string{{"sagemaker:createnotebookinstance"}, {"sagemaker:createpresignednotebookinstanceurl"}}},
	{"sagemaker.amazonaws.com", [][]string{{"sagemaker:createtrainingjob", "sagemaker:createprocessingjob"}}},
	{"datapipeline.amazonaws.com", [][]string{{"datapipeline:createpipeline"}, {"datapipeline:putpipelinedefinition"}, {"datapipeline:activatepipeline"}}},
	{"ecs-tasks.amazonaws.com", [][]string{{"ecs:registertaskdefinition"}, {"ecs:runtask", "ecs:starttask", "ecs:createservice"}}},
}

// computeTakeovers are the actions on an existing compute resource that
// run the attacker's code in it (its role then follows by
// workload-identity): each entry's actions all on the same resource,
// plus account-level ones.
var computeTakeovers = []struct{ on, account []string }{
	{on: []string{"lambda:updatefunctioncode"}},
	{on: []string{"lambda:updatefunctionconfiguration"}}, // a layer or a handler of the attacker's
	{on: []string{"ssm:sendcommand"}},
	{on: []string{"ssm:startsession"}},
	{on: []string{"ec2-instance-connect:sendsshpublickey"}},
	{on: []string{"glue:updatedevendpoint"}},
	{on: []string{"glue:updatejob"}, account: []string{"glue:startjobrun"}},
	{on: []string{"codebuild:startbuild"}}, // buildspecOverride
	{on: []string{"codebuild:startbuildbatch"}},
	{on: []string{"codebuild:updateproject"}},
	{on: []string{"sagemaker:createpresignednotebookinstanceurl"}},
	{on: []string{"cloudformation:updatestack"}},
	{on: []string{"cloudformation:createchangeset", "cloudformation:executechangeset"}},
	{on: []string{"ecs:executecommand"}},
	{on: []string{"ecs:updateservice"}, account: []string{"ecs:registertaskdefinition"}},
	{on: []string{"ecs:runtask"}}, // command override of an existing task definition
	{on: []string{"ecs:starttask"}},
}

// policyWriters are the actions that rewrite the permissions of the
// principal they act on.
var policyWriters = []string{
	"iam:putuserpolicy", "iam:attachuserpolicy", "iam:putrolepolicy", "iam:attachrolepolicy",
	"iam:putgrouppolicy", "iam:attachgrouppolicy",
}

func (b *builder) labelOf(l int32, label string) string {
	return b.g.x.assets[b.g.assets[l]].labels[label]
}

func (b *builder) kindOf(l int32) model.AssetKind { return b.g.x.assets[b.g.assets[l]].kind }

// trustsService reports whether role l's trust policy names service.
func (b *builder) trustsService(l int32, service string) bool {
	for _, s := range strings.Split(b.labelOf(l, LabelTrustedServices), ",") {
		if strings.EqualFold(strings.TrimSpace(s), service) {
			return true
		}
	}
	return false
}

// accountOf returns the account id in an IAM ARN key, "" when unknown.
func accountOf(key string) string {
	f := strings.SplitN(key, ":", 6)
	if len(f) == 6 && f[0] == "arn" && f[2] == "iam" {
		return f[4]
	}
	return ""
}

// awsVisit generates the ways of the AWS rules whose source state is on
// a: an account's administrator reaching what it contains, a principal's
// role assumption, and the privilege-escalation techniques its can
// relations allow.
func (b *builder) awsVisit(a int32) {
	g, x := b.g, b.g.x
	rels := x.in.Relations
	if b.kindOf(a) == model.KindAccount {
		for _, r := range b.out(a) {
			if rels[r].Type != model.RelContains {
				continue
			}
			t := g.localOf(x.relTo[r])
			b.way(a, Admin, ruleAWSAccountAdmin, t, Admin, pCertain, b.relFact(r), -1)
			if b.kindOf(t) == model.KindIdentity {
				b.way(a, Admin, ruleAWSAccountAdmin, t, Identity, pCertain, b.relFact(r), -1)
			}
		}
	}
	if labelTrue(x.assets[g.assets[a]].labels, LabelCollection) {
		for _, r := range b.out(a) {
			if rels[r].Type == model.RelContains {
				t := g.localOf(x.relTo[r])
				for _, c := range []Capability{Read, Write, Admin} {
					b.way(a, c, ruleAWSCollection, t, c, pCertain, -1, -1)
				}
			}
		}
		return
	}
	// Direct trusts: role R —trusts→ a.
	for _, r := range b.in(a) {
		if rels[r].Type != RelTrusts {
			continue
		}
		act, cond := splitCond(rels[r].Action)
		if act != "" && !strings.HasPrefix(strings.ToLower(act), "sts:assumerole") {
			continue
		}
		p, ok := b.condP(a, cond, pNearCertain)
		if !ok {
			continue
		}
		b.way(a, Identity, ruleAWSAssumeRole, g.localOf(x.relFrom[r]), Identity, p, b.relFact(r), -1)
	}
	acts := b.awsCollect(a)
	if len(acts.by) == 0 {
		return
	}
	self := x.assets[g.assets[a]].key
	// Assumption through an account-wide or open trust: the trust and
	// the caller's own permission.
	for _, c := range acts.has("sts:assumerole") {
		if c.to == a {
			continue
		}
		if v := b.labelOf(c.to, LabelTrustAnyone); v != "" {
			cond := ""
			if v != "true" {
				cond = strings.TrimPrefix(v, "if ")
			}
			if p, ok := b.condP(a, cond, c.p); ok {
				b.way(a, Identity, ruleAWSAssumeRole, c.to, Identity, p, b.relFact(c.rel), b.labelFact(c.to, LabelTrustAnyone))
			}
		}
		for _, r := range b.out(c.to) {
			if rels[r].Type != RelTrusts {
				continue
			}
			t := g.localOf(x.relTo[r])
			if b.kindOf(t) != model.KindAccount {
				continue
			}
			if acct, mine := accountOf(x.assets[g.assets[t]].key), accountOf(self); acct != "" && mine != "" && acct != mine {
				continue
			}
			act, cond := splitCond(rels[r].Action)
			if !strings.EqualFold(act, "sts:AssumeRole") {
				continue
			}
			p, ok := b.condP(a, cond, c.p)
			if !ok {
				continue
			}
			b.way(a, Identity, ruleAWSAssumeRole, c.to, Identity, p, b.relFact(c.rel), b.relFact(r))
		}
	}
	// New credentials for a user.
	for _, act := range []string{"iam:createaccesskey", "iam:createloginprofile", "iam:updateloginprofile"} {
		for _, c := range acts.has(act) {
			if c.to != a && b.kindOf(c.to) == model.KindIdentity {
				b.way(a, Identity, ruleAWSCredentials, c.to, Identity, c.p, b.relFact(c.rel), -1)
			}
		}
	}
	// A trust policy rewritten to name the attacker.
	for _, c := range acts.has("iam:updateassumerolepolicy") {
		if c.to != a && b.kindOf(c.to) == model.KindIdentity {
			b.way(a, Identity, ruleAWSTrustRewrite, c.to, Identity, c.p, b.relFact(c.rel), -1)
		}
	}
	// Joining a group.
	for _, c := range acts.has("iam:addusertogroup") {
		if c.to != a && b.kindOf(c.to) == model.KindIdentity {
			b.way(a, Identity, ruleAWSGroupJoin, c.to, Identity, c.p, b.relFact(c.rel), -1)
		}
	}
	b.awsPolicyRewrite(a, acts)
	b.awsPassRole(a, acts)
	b.awsCompute(a, acts)
	b.awsDatabase(a, acts)
}

// awsAccount returns the local id of the account a may administer by
// rewriting its own permissions: the account asset its grants name, else
// none (-1).
func (b *builder) awsAccount(a int32) int32 {
	x := b.g.x
	for _, r := range b.out(a) {
		if x.in.Relations[r].Type == model.RelCan {
			if t := b.g.localOf(x.relTo[r]); t >= 0 && b.kindOf(t) == model.KindAccount {
				return t
			}
		}
	}
	for _, r := range b.in(a) {
		if x.in.Relations[r].Type == model.RelContains {
			if t := b.g.localOf(x.relFrom[r]); t >= 0 && b.kindOf(t) == model.KindAccount {
				return t
			}
		}
	}
	return -1
}

// awsPolicyRewrite: a principal that may rewrite its own permissions (its
// user or role policies, a group it is in, a customer policy attached to
// it or to such a group, or a role it may assume directly) can grant
// itself everything: administrator of the account.
func (b *builder) awsPolicyRewrite(a int32, acts *awsActions) {
	g, x := b.g, b.g.x
	rels := x.in.Relations
	acct := b.awsAccount(a)
	if acct < 0 {
		return
	}
	// Principals whose permissions a holds: itself, its groups, the
	// roles that trust it directly.
	mine := []int32{a}
	for _, r := range b.out(a) {
		if rels[r].Type == model.RelMemberOf {
			mine = append(mine, g.localOf(x.relTo[r]))
		}
	}
	for _, r := range b.in(a) {
		if rels[r].Type == RelTrusts {
			act, cond := splitCond(rels[r].Action)
			if p, ok := b.condP(a, cond, 1); ok && p == 1 && strings.EqualFold(act, "sts:AssumeRole") {
				mine = append(mine, g.localOf(x.relFrom[r]))
			}
		}
	}
	for _, act := range policyWriters {
		for _, c := range acts.has(act) {
			if slices.Contains(mine, c.to) {
				b.way(a, Identity, ruleAWSPolicyRewrite, acct, Admin, c.p, b.relFact(c.rel), -1)
			}
		}
	}
	// Policies attached to what a holds.
	for _, m := range mine {
		for _, r := range b.out(m) {
			if rels[r].Type != model.RelAttached {
				continue
			}
			pol := g.localOf(x.relTo[r])
			for _, c := range on(acts.has("iam:createpolicyversion"), pol) {
				b.way(a, Identity, ruleAWSPolicyRewrite, acct, Admin, c.p, b.relFact(c.rel), b.relFact(r))
			}
			if n, _ := strconv.Atoi(b.labelOf(pol, LabelPolicyVersions)); n > 1 {
				for _, c := range on(acts.has("iam:setdefaultpolicyversion"), pol) {
					b.way(a, Identity, ruleAWSPolicyRewrite, acct, Admin, c.p*pConditional, b.relFact(c.rel), b.labelFact(pol, LabelPolicyVersions))
				}
			}
		}
	}
}

// awsPassRole: iam:PassRole on a role that trusts a service, with the
// actions that make the service run the attacker's code as that role.
// Adding a role to an instance profile counts as the EC2 launch only with
// PassRole on the role and a way to put the profile on an instance.
func (b *builder) awsPassRole(a int32, acts *awsActions) {
	passes := acts.has("iam:passrole")
	if len(passes) == 0 {
		return
	}
	// The launches a may make, whatever role it passes.
	type launch struct {
		service string
		fact    int32
		p       float64
	}
	var launches []launch
	for _, l := range passLaunches {
		f2, p, ok := int32(-1), 1.0, true
		for _, need := range l.needs {
			cs := acts.hasAny(need...)
			if len(cs) == 0 {
				ok = false
				break
			}
			if f2 < 0 {
				f2 = b.relFact(cs[0].rel)
			}
			p = min(p, cs[0].p)
		}
		if ok {
			launches = append(launches, launch{l.service, f2, p})
		}
	}
	for _, pr := range passes {
		if pr.to == a || b.kindOf(pr.to) != model.KindIdentity {
			continue
		}
		for _, l := range launches {
			if b.trustsService(pr.to, l.service) {
				b.way(a, Identity, ruleAWSPassRole, pr.to, Identity, min(pr.p, l.p), b.relFact(pr.rel), l.fact)
			}
		}
		if b.trustsService(pr.to, "ec2.amazonaws.com") {
			if ls := acts.hasAny("ec2:runinstances", "ec2:associateiaminstanceprofile", "ec2:replaceiaminstanceprofileassociation"); len(ls) > 0 {
				for _, c := range acts.has("iam:addroletoinstanceprofile") {
					b.way(a, Identity, ruleAWSInstanceProfile, pr.to, Identity, min(c.p, ls[0].p), b.relFact(pr.rel), b.relFact(c.rel))
				}
			}
			// Swapping the profile of an instance the attacker runs
			// commands on.
			for _, c := range acts.hasAny("ec2:associateiaminstanceprofile", "ec2:replaceiaminstanceprofileassociation") {
				if len(on(acts.hasAny("ssm:sendcommand", "ssm:startsession", "ec2-instance-connect:sendsshpublickey"), c.to)) > 0 {
					b.way(a, Identity, ruleAWSInstanceProfile, pr.to, Identity, c.p, b.relFact(pr.rel), b.relFact(c.rel))
				}
			}
		}
	}
}

// awsCompute: actions that run the attacker's code in an existing
// function, instance, build project, notebook, stack, dev endpoint or
// ECS service give exec on it.
func (b *builder) awsCompute(a int32, acts *awsActions) {
	for _, ct := range computeTakeovers {
		first := acts.has(ct.on[0])
		if len(first) == 0 {
			continue
		}
		acc := int32(-1)
		accP := 1.0
		okAcc := true
		for _, need := range ct.account {
			cs := acts.has(need)
			if len(cs) == 0 {
				okAcc = false
				break
			}
			acc, accP = b.relFact(cs[0].rel), cs[0].p
		}
		if !okAcc {
			continue
		}
		for _, c := range first {
			if c.to == a || b.kindOf(c.to) == model.KindAccount || b.kindOf(c.to) == model.KindIdentity {
				continue
			}
			ok, f2, p := true, acc, min(c.p, accP)
			for _, more := range ct.on[1:] {
				cs := on(acts.has(more), c.to)
				if len(cs) == 0 {
					ok = false
					break
				}
				f2, p = b.relFact(cs[0].rel), min(p, cs[0].p)
			}
			if ok {
				b.way(a, Identity, ruleAWSComputeTakeover, c.to, Exec, p, b.relFact(c.rel), f2)
			}
		}
	}
}

// awsDatabase: resetting a database's master password, or snapshotting
// it and restoring the snapshot where the attacker sets the password,
// gives its data.
func (b *builder) awsDatabase(a int32, acts *awsActions) {
	for _, c := range acts.hasAny("rds:modifydbinstance", "rds:modifydbcluster") {
		if b.kindOf(c.to) != model.KindDatastore {
			continue
		}
		b.way(a, Identity, ruleAWSDatabase, c.to, Read, c.p, b.relFact(c.rel), -1)
		b.way(a, Identity, ruleAWSDatabase, c.to, Write, c.p, b.relFact(c.rel), -1)
	}
	restore := acts.hasAny("rds:restoredbinstancefromdbsnapshot", "rds:restoredbclusterfromsnapshot")
	share := acts.has("rds:modifydbsnapshotattribute")
	for _, c := range acts.hasAny("rds:createdbsnapshot", "rds:createdbclustersnapshot") {
		if b.kindOf(c.to) != model.KindDatastore {
			continue
		}
		if len(restore) > 0 {
			b.way(a, Identity, ruleAWSDatabase, c.to, Read, min(c.p, restore[0].p), b.relFact(c.rel), b.relFact(restore[0].rel))
		}
		if len(share) > 0 {
			b.way(a, Identity, ruleAWSDatabase, c.to, Read, min(c.p, share[0].p), b.relFact(c.rel), b.relFact(share[0].rel))
		}
	}
}

// pNoLoginPath weighs a login credential of a host (an SSH private key)
// whose port 22 the internet does not reach: using it needs a foothold
// in the host's network, which the estate does not show.
const pNoLoginPath = 0.5

// grants applies the leaked-credential rule to a —grants→ t: whoever
// reads a (or administers it) holds the credential, and so does code
// running in a when a is compute (a function's environment, an
// instance's user data). A credential of a principal gives its identity;
// a database password gives the database's data, not an identity of the
// database; a host's login key (an SSH private key) gives exec on the
// host, × pNoLoginPath unless the internet reaches its tcp/22.
func (b *builder) grants(a, r, t int32) {
	f := b.relFact(r)
	from := []Capability{Read, Admin}
	switch b.kindOf(a) {
	case model.KindFunction, model.KindHost, model.KindWorkload:
		from = append(from, Exec)
	}
	for _, c := range from {
		if b.kindOf(t) == model.KindHost {
			// A login credential of a host (an SSH private key): a
			// shell on it, certain when the internet reaches its
			// port 22, else only from a foothold in its network.
			p := pNearCertain
			if !b.sshOpen[t] {
				p *= pNoLoginPath
			}
			b.way(a, c, ruleLeakedCredential, t, Exec, p, f, -1)
			continue
		}
		if b.kindOf(t) == model.KindDatastore {
			b.way(a, c, ruleLeakedCredential, t, Read, pNearCertain, f, -1)
			b.way(a, c, ruleLeakedCredential, t, Write, pNearCertain, f, -1)
			continue
		}
		b.way(a, c, ruleLeakedCredential, t, Identity, pNearCertain, f, -1)
	}
}
