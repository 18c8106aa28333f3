package graph

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

// hasEdge reports whether g has an edge from → to by the named rule.
func hasEdge(g *Graph, from, to State, rule string) bool {
	s := g.StateID(from)
	if s < 0 {
		return false
	}
	found := false
	g.Out(s, func(t int32, r string, _ float64) {
		if r == rule && g.State(t) == to {
			found = true
		}
	})
	return found
}

func st(c Capability, a string) State { return State{c, a} }

// awsIn is an AWS estate of the given relations: a user u, a role
// trusting EC2 and Lambda, a role2 trusting ECS tasks, a group, another
// user victim, a policy, an instance profile, a function, an instance, a
// database and the account.
func awsIn(rels ...model.Relation) Input {
	return Input{Assets: []model.Asset{asset("u", model.KindIdentity), asset("victim", model.KindIdentity), asset("g", model.KindIdentity),
		asset("role", model.KindIdentity, LabelTrustedServices, "ec2.amazonaws.com,lambda.amazonaws.com,glue.amazonaws.com"),
		asset("role2", model.KindIdentity, LabelTrustedServices, "ecs-tasks.amazonaws.com"), asset("pol", model.KindResource),
		asset("prof", model.KindResource), asset("fn", model.KindFunction), asset("i-1", model.KindHost), asset("db", model.KindDatastore),
		asset("acct", model.KindAccount), asset("every-db", model.KindResource, LabelCollection, "true"),
		asset("every-fn", model.KindResource, LabelCollection, "true")}, Relations: rels}
}

func TestRules(t *testing.T) {
	t.Parallel()
	wl, img, repo := "wl", "image:wl", "repo:wl"
	base := []model.Asset{asset(wl, model.KindWorkload), asset(img, model.KindImage), asset(repo, model.KindRepository)}
	runs := []model.Relation{rel(wl, model.RelRuns, img), rel(img, model.RelBuiltFrom, repo)}
	w := func(e effect.Effect) []Weakness { return []Weakness{weak("x", img, model.FindingVulnerability, e)} }
	tests := []struct {
		rule     string
		pos, neg Input
		from, to State
	}{
		{"remote-code-execution", Input{Assets: base, Relations: runs, Weaknesses: w(effect.Exec)}, Input{Assets: base, Relations: runs, Weaknesses: w(effect.DoSOnly)}, st(Network, wl), st(Exec, wl)},
		{"remote-code-execution", Input{Assets: base, Relations: runs, Weaknesses: []Weakness{weak("x", repo, model.FindingCode, effect.Exec)}}, Input{Assets: base, Relations: runs[:1], Weaknesses: []Weakness{weak("x", repo, model.FindingCode, effect.Exec)}}, st(Network, wl), st(Exec, wl)},
		{"injection-into-data-store", Input{Weaknesses: w(effect.Write), Relations: append(runs, rel(wl, model.RelConnectsTo, "db"))}, Input{Weaknesses: w(effect.Write), Relations: runs}, st(Network, wl), st(Write, "db")},
		{"server-side-request-forgery", Input{Weaknesses: w(effect.SSRF), Relations: append(runs, rel(wl, model.RelConnectsTo, "b"))}, Input{Weaknesses: w(effect.SSRF), Relations: runs}, st(Network, wl), st(Network, "b")},
		{"server-side-request-forgery", Input{Assets: []model.Asset{asset(wl, model.KindHost, LabelIMDSv1, "true")}, Weaknesses: w(effect.SSRF), Relations: append(runs, rel(wl, model.RelUsesIdentit, "role"))}, Input{Weaknesses: w(effect.SSRF), Relations: append(runs, rel(wl, model.RelUsesIdentit, "role"))}, st(Network, wl), st(Identity, "role")},
		{"server-side-request-forgery", Input{Weaknesses: w(effect.SSRF), Relations: append(runs, rel(wl, model.RelUsesIdentit, "role", ActionIMDSv1))}, Input{Weaknesses: w(effect.SSRF), Relations: append(runs, rel(wl, model.RelUsesIdentit, "role", "imds.v2"))}, st(Network, wl), st(Identity, "role")},
		{"file-read", Input{Weaknesses: w(effect.FileRead), Relations: append(runs, rel(wl, model.RelMounts, "s"))}, Input{Weaknesses: w(effect.FileRead), Relations: append(runs, rel(wl, model.RelConnectsTo, "s"))}, st(Network, wl), st(Read, "s")},
		{"workload-identity", Input{Relations: []model.Relation{rel(wl, model.RelUsesIdentit, "sa")}}, Input{Relations: []model.Relation{rel(wl, model.RelConnectsTo, "sa")}}, st(Exec, wl), st(Identity, "sa")},
		{"secrets-in-reach", Input{Relations: []model.Relation{rel(wl, model.RelReadsEnv, "s")}}, Input{Relations: []model.Relation{rel(wl, model.RelUsesIdentit, "s")}}, st(Exec, wl), st(Read, "s")},
		{"secrets-in-reach", Input{Relations: []model.Relation{rel(wl, model.RelMounts, "s")}}, Input{Relations: []model.Relation{rel("other", model.RelMounts, "s")}}, st(Exec, wl), st(Read, "s")},
		{"lateral-movement", Input{Relations: []model.Relation{rel(wl, model.RelConnectsTo, "b")}}, Input{Relations: []model.Relation{rel("b", model.RelConnectsTo, wl)}}, st(Exec, wl), st(Network, "b")},
		{"escape", Input{Assets: []model.Asset{asset(wl, model.KindWorkload, "escape.host-path", "true")}, Relations: []model.Relation{rel(wl, model.RelRunsOn, "node")}}, Input{Assets: []model.Asset{asset(wl, model.KindWorkload, "escape.host-path", "false")}, Relations: []model.Relation{rel(wl, model.RelRunsOn, "node")}}, st(Exec, wl), st(Exec, "node")},
		{"escape", Input{Weaknesses: w(effect.Escape), Relations: append(runs, rel(wl, model.RelRunsOn, "node"))}, Input{Weaknesses: w(effect.Escape), Relations: runs}, st(Exec, wl), st(Exec, "node")},
		{"permission", Input{Relations: []model.Relation{rel("sa", model.RelCan, "r", "list secrets")}}, Input{Relations: []model.Relation{rel("sa", model.RelCan, "other", "list secrets")}}, st(Identity, "sa"), st(Read, "r")},
		{"permission", Input{Relations: []model.Relation{rel("sa", model.RelCan, "r", "patch deployments")}}, Input{Relations: []model.Relation{rel("sa", model.RelCan, "r", "get deployments")}}, st(Identity, "sa"), st(Write, "r")},
		{"permission", Input{Relations: []model.Relation{rel("sa", model.RelCan, "r", "*")}}, Input{Relations: []model.Relation{rel("sa", model.RelCan, "r", "watch pods")}}, st(Identity, "sa"), st(Admin, "r")},
		{"permission", Input{Relations: []model.Relation{rel("u", model.RelCan, "b", "s3:GetObject")}}, Input{Relations: []model.Relation{rel("u", model.RelCan, "b", "s3:ListBucket")}}, st(Identity, "u"), st(Read, "b")},
		{"permission", Input{Relations: []model.Relation{rel("u", model.RelCan, "b", "s3:DeleteObject")}}, Input{Relations: []model.Relation{rel("u", model.RelCan, "b", "s3:GetObject")}}, st(Identity, "u"), st(Write, "b")},
		{"permission", Input{Relations: []model.Relation{rel("u", model.RelCan, "acct", "iam:*")}}, Input{Relations: []model.Relation{rel("u", model.RelCan, "acct", "iam:ListUsers")}}, st(Identity, "u"), st(Admin, "acct")},
		{"permission", // a namespace-wide secrets permission reaches each secret of the namespace
			Input{Assets: []model.Asset{asset("k8s:c//Namespace/ns", model.KindResource), asset("k8s:c/ns/Secret/s", model.KindSecret)}, Relations: []model.Relation{rel("sa", model.RelCan, "k8s:c//Namespace/ns", "get secrets")}},
			Input{Assets: []model.Asset{asset("k8s:c//Namespace/ns", model.KindResource), asset("k8s:c/ns/Secret/s", model.KindSecret)}, Relations: []model.Relation{rel("sa", model.RelCan, "k8s:c//Namespace/ns", "get pods")}},
			st(Identity, "sa"), st(Read, "k8s:c/ns/Secret/s")},
		// AWS: see awsIn for the assets (u a user, role trusting EC2 and
		// Lambda, acct the account).
		{"aws-assume-role", awsIn(rel("role", RelTrusts, "u", "sts:AssumeRole")), awsIn(rel("u", model.RelCan, "role", "sts:AssumeRole")), st(Identity, "u"), st(Identity, "role")},
		{"aws-assume-role", // an account-wide trust needs the caller's own permission
			awsIn(rel("role", RelTrusts, "acct", "sts:AssumeRole"), rel("u", model.RelCan, "role", "sts:AssumeRole")),
			awsIn(rel("role", RelTrusts, "acct", "sts:AssumeRole"), rel("u", model.RelCan, "role", "sts:GetCallerIdentity")),
			st(Identity, "u"), st(Identity, "role")},
		{"aws-passrole-service", awsIn(rel("u", model.RelCan, "role", "iam:PassRole"), rel("u", model.RelCan, "acct", "ec2:RunInstances")),
			awsIn(rel("u", model.RelCan, "role", "iam:PassRole"), rel("u", model.RelCan, "acct", "ecs:RunTask")), st(Identity, "u"), st(Identity, "role")},
		{"aws-passrole-service", // Lambda needs a way to run the new function
			awsIn(rel("u", model.RelCan, "role", "iam:PassRole"), rel("u", model.RelCan, "acct", "lambda:CreateFunction"), rel("u", model.RelCan, "acct", "lambda:InvokeFunction")),
			awsIn(rel("u", model.RelCan, "role", "iam:PassRole"), rel("u", model.RelCan, "acct", "lambda:CreateFunction")), st(Identity, "u"), st(Identity, "role")},
		{"aws-passrole-service", // the role must trust the launched service
			awsIn(rel("u", model.RelCan, "role", "iam:PassRole"), rel("u", model.RelCan, "acct", "glue:CreateDevEndpoint"), rel("u", model.RelCan, "role2", "iam:PassRole")),
			awsIn(rel("u", model.RelCan, "role2", "iam:PassRole"), rel("u", model.RelCan, "acct", "glue:CreateDevEndpoint")), st(Identity, "u"), st(Identity, "role")},
		{"aws-user-credentials", awsIn(rel("u", model.RelCan, "victim", "iam:CreateAccessKey")), awsIn(rel("u", model.RelCan, "victim", "iam:ListAccessKeys")), st(Identity, "u"), st(Identity, "victim")},
		{"aws-trust-rewrite", awsIn(rel("u", model.RelCan, "role", "iam:UpdateAssumeRolePolicy")), awsIn(rel("u", model.RelCan, "role", "iam:GetRole")), st(Identity, "u"), st(Identity, "role")},
		{"aws-add-user-to-group", awsIn(rel("u", model.RelCan, "g", "iam:AddUserToGroup")), awsIn(rel("u", model.RelCan, "g", "iam:GetGroup")), st(Identity, "u"), st(Identity, "g")},
		{"aws-policy-rewrite", awsIn(rel("u", model.RelCan, "u", "iam:PutUserPolicy"), rel("acct", model.RelContains, "u")),
			awsIn(rel("u", model.RelCan, "victim", "iam:PutUserPolicy"), rel("acct", model.RelContains, "u")), st(Identity, "u"), st(Admin, "acct")},
		{"aws-policy-rewrite", // a new version of a policy attached to oneself
			awsIn(rel("u", model.RelAttached, "pol"), rel("u", model.RelCan, "pol", "iam:CreatePolicyVersion"), rel("acct", model.RelContains, "u")),
			awsIn(rel("victim", model.RelAttached, "pol"), rel("u", model.RelCan, "pol", "iam:CreatePolicyVersion"), rel("acct", model.RelContains, "u")), st(Identity, "u"), st(Admin, "acct")},
		{"aws-policy-rewrite", // a policy on a role one may assume
			awsIn(rel("role", RelTrusts, "u", "sts:AssumeRole"), rel("u", model.RelCan, "role", "iam:AttachRolePolicy"), rel("acct", model.RelContains, "u")),
			awsIn(rel("u", model.RelCan, "role", "iam:AttachRolePolicy"), rel("acct", model.RelContains, "u")), st(Identity, "u"), st(Admin, "acct")},
		{"aws-instance-profile", awsIn(rel("u", model.RelCan, "role", "iam:PassRole"), rel("u", model.RelCan, "prof", "iam:AddRoleToInstanceProfile"), rel("u", model.RelCan, "acct", "ec2:RunInstances")),
			awsIn(rel("u", model.RelCan, "prof", "iam:AddRoleToInstanceProfile"), rel("u", model.RelCan, "acct", "ec2:RunInstances")), st(Identity, "u"), st(Identity, "role")},
		{"aws-compute-takeover", awsIn(rel("u", model.RelCan, "fn", "lambda:UpdateFunctionCode")), awsIn(rel("u", model.RelCan, "fn", "lambda:GetFunction")), st(Identity, "u"), st(Exec, "fn")},
		{"aws-compute-takeover", awsIn(rel("u", model.RelCan, "i-1", "ssm:SendCommand")), awsIn(rel("u", model.RelCan, "i-1", "ssm:DescribeInstanceInformation")), st(Identity, "u"), st(Exec, "i-1")},
		{"aws-database-takeover", awsIn(rel("u", model.RelCan, "db", "rds:ModifyDBInstance")), awsIn(rel("u", model.RelCan, "db", "rds:DescribeDBInstances")), st(Identity, "u"), st(Read, "db")},
		{"aws-database-takeover", // snapshot and restore
			awsIn(rel("u", model.RelCan, "db", "rds:CreateDBSnapshot"), rel("u", model.RelCan, "acct", "rds:RestoreDBInstanceFromDBSnapshot")),
			awsIn(rel("u", model.RelCan, "db", "rds:CreateDBSnapshot")), st(Identity, "u"), st(Read, "db")},
		{"aws-account-admin", awsIn(rel("acct", model.RelContains, "db")), awsIn(rel("g", model.RelContains, "db")), st(Admin, "acct"), st(Admin, "db")},
		{"aws-every-resource-of-a-type", awsIn(rel("every-db", model.RelContains, "db")), awsIn(rel("pol", model.RelContains, "db")), st(Read, "every-db"), st(Read, "db")},
		{"aws-compute-takeover", // an action on every function of the account reaches each
			awsIn(rel("u", model.RelCan, "every-fn", "lambda:UpdateFunctionCode"), rel("every-fn", model.RelContains, "fn")),
			awsIn(rel("u", model.RelCan, "every-fn", "lambda:GetFunction"), rel("every-fn", model.RelContains, "fn")), st(Identity, "u"), st(Exec, "fn")},
		{"permission", awsIn(rel("u", model.RelCan, "acct", "*")), awsIn(rel("u", model.RelCan, "acct", "iam:*")), st(Identity, "u"), st(Admin, "acct")},
		{"pod-create", // create pods in a namespace gives every service account of it
			Input{Assets: []model.Asset{asset("k8s:c//Namespace/ns", model.KindResource), asset("k8s:c/ns/ServiceAccount/admin", model.KindIdentity)}, Relations: []model.Relation{rel("dev", model.RelCan, "k8s:c//Namespace/ns", "create pods")}},
			Input{Assets: []model.Asset{asset("k8s:c//Namespace/ns", model.KindResource), asset("k8s:c/ns/ServiceAccount/admin", model.KindIdentity)}, Relations: []model.Relation{rel("dev", model.RelCan, "k8s:c//Namespace/ns", "get pods")}},
			st(Identity, "dev"), st(Identity, "k8s:c/ns/ServiceAccount/admin")},
		{"impersonation", Input{Assets: []model.Asset{asset("sa2", model.KindIdentity)}, Relations: []model.Relation{rel("dev", model.RelCan, "sa2", "impersonate")}}, Input{Assets: []model.Asset{asset("sa2", model.KindIdentity)}, Relations: []model.Relation{rel("dev", model.RelCan, "sa2", "get serviceaccounts")}}, st(Identity, "dev"), st(Identity, "sa2")},
		{"leaked-credential", Input{Relations: []model.Relation{rel("s", RelGrants, "db")}}, Input{Relations: []model.Relation{rel("s", model.RelMounts, "db")}}, st(Read, "s"), st(Identity, "db")},
		{"leaked-credential",
			Input{Weaknesses: []Weakness{func() Weakness {
				w := weak("k", repo, model.FindingSecret, effect.Credential)
				w.Grants = []string{"tok"}
				return w
			}()}},
			Input{Weaknesses: []Weakness{weak("k", repo, model.FindingSecret, effect.Credential)}},
			st(Read, repo), st(Identity, "tok")},
		{"supply-chain", Input{Relations: runs}, Input{Relations: runs[1:]}, st(Write, repo), st(Exec, wl)},
		{"supply-chain", Input{Relations: runs[:1]}, Input{Relations: []model.Relation{rel(wl, model.RelConnectsTo, img)}}, st(Write, img), st(Exec, wl)},
		{"supply-chain", Input{Relations: []model.Relation{rel("pipeline", model.RelDeploys, wl)}}, Input{Relations: []model.Relation{rel("pipeline", model.RelConnectsTo, wl)}}, st(Write, "pipeline"), st(Exec, wl)},
		// A zip-deployed function built from a repository directly (an
		// inventory's built-from): the repository's weaknesses act on it,
		// and who writes the repository runs code in it.
		{"remote-code-execution", Input{Assets: []model.Asset{asset("fn", model.KindFunction), asset(repo, model.KindRepository)}, Relations: []model.Relation{rel("fn", model.RelBuiltFrom, repo)}, Weaknesses: []Weakness{weak("x", repo, model.FindingCode, effect.Exec)}},
			Input{Assets: []model.Asset{asset("fn", model.KindFunction), asset(repo, model.KindRepository)}, Relations: []model.Relation{rel("fn", model.RelConnectsTo, repo)}, Weaknesses: []Weakness{weak("x", repo, model.FindingCode, effect.Exec)}}, st(Network, "fn"), st(Exec, "fn")},
		{"supply-chain", Input{Assets: []model.Asset{asset("fn", model.KindFunction), asset(repo, model.KindRepository)}, Relations: []model.Relation{rel("fn", model.RelBuiltFrom, repo)}},
			Input{Assets: []model.Asset{asset("fn", model.KindFunction), asset(repo, model.KindRepository)}, Relations: []model.Relation{rel("fn", model.RelConnectsTo, repo)}}, st(Write, repo), st(Exec, "fn")},
		{"open-data-store", Input{Assets: []model.Asset{asset("d", model.KindDatastore, LabelPublic, "true")}}, Input{Assets: []model.Asset{asset("d", model.KindDatastore)}}, st(Network, "d"), st(Read, "d")},
		{"open-data-store", Input{Weaknesses: []Weakness{weak("CKV_AWS_20", "d", model.FindingMisconfig, effect.Exposure)}}, Input{Weaknesses: []Weakness{weak("CKV_AWS_20", "d", model.FindingMisconfig, effect.InfoOnly)}}, st(Network, "d"), st(Read, "d")},
		{"routing", Input{Relations: []model.Relation{rel("lb", model.RelRoutesTo, wl)}}, Input{Relations: []model.Relation{rel("lb", model.RelMounts, wl)}}, st(Network, "lb"), st(Network, wl)},
		{"membership", Input{Relations: []model.Relation{rel("u", model.RelMemberOf, "g")}}, Input{Relations: []model.Relation{rel("g", model.RelMemberOf, "u")}}, st(Identity, "u"), st(Identity, "g")},
		{"authentication-bypass", Input{Relations: runs, Weaknesses: w(effect.AuthBypass)}, Input{Relations: runs, Weaknesses: w(effect.InfoOnly)}, st(Network, wl), st(Admin, wl)},
		{"local-privilege-escalation", Input{Relations: runs, Weaknesses: w(effect.PrivEsc)}, Input{Relations: runs, Weaknesses: w(effect.Read)}, st(Exec, wl), st(Admin, wl)},
	}
	for _, tt := range tests {
		t.Run(tt.rule+"/"+tt.to.String(), func(t *testing.T) {
			t.Parallel()
			if !hasEdge(Build(&tt.pos), tt.from, tt.to, tt.rule) {
				t.Errorf("Build() edge %s -[%s]-> %s = missing, want present", tt.from, tt.rule, tt.to)
			}
			if hasEdge(Build(&tt.neg), tt.from, tt.to, tt.rule) {
				t.Errorf("Build() without the enabling fact: edge %s -[%s]-> %s = present, want missing", tt.from, tt.rule, tt.to)
			}
		})
	}
}

// TestEveryRuleTested checks that each rule of the table has a case in
// TestRules (which pairs each with its negative twin).
func TestEveryRuleTested(t *testing.T) {
	t.Parallel()
	var src []byte
	for _, f := range []string{"rules_test.go", "k8s_test.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	for _, name := range RuleNames() {
		if !strings.Contains(string(src), "{\""+name+"\", Input{") && !strings.Contains(string(src), "{\""+name+"\", awsIn(") && !strings.Contains(string(src), "{\""+name+"\", //") && !strings.Contains(string(src), "{\""+name+"\",\n") && !strings.Contains(string(src), "{\""+name+"\", in(") {
			t.Errorf("rule %q has no case in TestRules", name)
		}
	}
}

func TestWeaknessProbability(t *testing.T) {
	t.Parallel()
	vuln := func(mod func(*Weakness)) *Weakness {
		w := weak("x", "a", model.FindingVulnerability, effect.Exec)
		mod(&w)
		return &w
	}
	tests := []struct {
		name string
		w    *Weakness
		want float64
	}{
		{"nil is a relation step", nil, 1},
		{"bare CVE", vuln(func(*Weakness) {}), 0.3},
		{"KEV", vuln(func(w *Weakness) { w.KEV = true }), 0.95},
		{"reachable call", vuln(func(w *Weakness) { w.Evidence = []model.EvidenceKind{model.EvidenceReachableCall} }), 0.65},
		{"EPSS floor", vuln(func(w *Weakness) { w.EPSS = 0.6 }), 0.6},
		{"high complexity", vuln(func(w *Weakness) { w.AttackComplexity = "high" }), 0.15},
		{"imported only", vuln(func(w *Weakness) { w.Evidence = []model.EvidenceKind{model.EvidenceImportedOnly} }), 0.15},
		{"misconfiguration", vuln(func(w *Weakness) { w.Exposure.Kind = model.FindingMisconfig }), 0.95},
		{"VEX not affected", vuln(func(w *Weakness) { w.Evidence = []model.EvidenceKind{model.EvidenceVEXNotAffected} }), 0},
		{"low confidence", vuln(func(w *Weakness) { w.Effect.Confidence = effect.Low }), 0.24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := weaknessProbability(tt.w); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("weaknessProbability(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}
