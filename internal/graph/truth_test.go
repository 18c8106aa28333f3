package graph

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/model"
)

func asset(key string, kind model.AssetKind, labels ...string) model.Asset {
	a := model.Asset{Key: key, Kind: kind, Name: key}
	for i := 0; i+1 < len(labels); i += 2 {
		if a.Labels == nil {
			a.Labels = map[string]string{}
		}
		a.Labels[labels[i]] = labels[i+1]
	}
	return a
}

func rel(from string, t model.RelationType, to string, action ...string) model.Relation {
	r := model.Relation{From: from, To: to, Type: t}
	if len(action) > 0 {
		r.Action = action[0]
	}
	return r
}

func weak(id, on string, kind model.FindingKind, e effect.Effect, ev ...model.EvidenceKind) Weakness {
	return Weakness{Exposure: model.Exposure{ID: id, Asset: on, Kind: kind, RuleID: id}, Effect: effect.Result{Effect: e, Confidence: effect.High}, Evidence: ev}
}

// without returns in without the relations for which drop is true and the
// labels named.
func without(in Input, drop func(model.Relation) bool, label string) *Input {
	out := in
	out.Relations = slices.DeleteFunc(slices.Clone(in.Relations), drop)
	out.Assets = nil
	for _, a := range in.Assets {
		if _, ok := a.Labels[label]; ok {
			b := a
			b.Labels = nil
			a = b
		}
		out.Assets = append(out.Assets, a)
	}
	return &out
}

type hop struct{ Rule, From, To string }

func hops(p Path) []hop {
	var out []hop
	for _, s := range p.Steps {
		out = append(out, hop{s.Rule, s.From, s.To})
	}
	return out
}

// cuts reports whether removing the action kills some step of p.
func cuts(p Path, key string) bool {
	dead := func(ws []way) bool {
		for _, w := range ws {
			if !slices.Contains(w.actions, key) {
				return false
			}
		}
		return true
	}
	if dead(p.entryWays) {
		return true
	}
	for _, s := range p.Steps {
		if dead(s.ways) {
			return true
		}
	}
	return false
}

var stolen = func(k string) []Entry { return []Entry{{Kind: EntryIdentity, Identity: k}} }

var groundTruth = []struct {
	name string
	in   Input
	want []hop
	// negative drops the enabling relation or label.
	drop  func(model.Relation) bool
	label string
}{
	{
		name: "rce-service-account-secret-db-user",
		in: Input{
			Assets: []model.Asset{asset("internet", model.KindNetwork), asset("ing", model.KindLoadBalancer), asset("app", model.KindWorkload),
				asset("image:app", model.KindImage), asset("sa", model.KindIdentity), asset("secret:db", model.KindSecret),
				asset("dbuser", model.KindIdentity), asset("db", model.KindDatastore)},
			Relations: []model.Relation{rel("internet", model.RelExposes, "ing"), rel("ing", model.RelRoutesTo, "app"),
				rel("app", model.RelRuns, "image:app"), rel("app", model.RelUsesIdentit, "sa"), rel("sa", model.RelCan, "secret:db", "get secrets"),
				rel("secret:db", RelGrants, "dbuser"), rel("dbuser", model.RelCan, "db", "read")},
			Weaknesses: []Weakness{func() Weakness {
				w := weak("CVE-2021-44228", "image:app", model.FindingVulnerability, effect.Exec)
				w.KEV = true
				w.Exposure.Package = model.Package{Name: "log4j-core", Version: "2.14.1", FixedVersion: "2.17.1"}
				return w
			}()},
			Jewels: []Jewel{{Asset: "db", Value: 10}},
		},
		want: []hop{{"routing", "network:ing", "network:app"}, {"remote-code-execution", "network:app", "exec:app"},
			{"workload-identity", "exec:app", "identity:sa"}, {"permission", "identity:sa", "read:secret:db"},
			{"leaked-credential", "read:secret:db", "identity:dbuser"}, {"permission", "identity:dbuser", "read:db"}},
		drop: func(r model.Relation) bool { return r.Type == model.RelCan && r.To == "secret:db" },
	},
	{
		name: "ssrf-imdsv1-instance-role-s3",
		in: Input{
			Assets: []model.Asset{asset("i-1", model.KindHost, LabelIMDSv1, "true"), asset("role:web", model.KindIdentity), asset("arn:aws:s3:::customers", model.KindDatastore)},
			Relations: []model.Relation{rel("internet", model.RelExposes, "i-1"), rel("i-1", model.RelUsesIdentit, "role:web"),
				rel("role:web", model.RelCan, "arn:aws:s3:::customers", "s3:GetObject")},
			Weaknesses: []Weakness{weak("ssrf-1", "i-1", model.FindingDAST, effect.SSRF, model.EvidenceDASTConfirmed)},
			Jewels:     []Jewel{{Asset: "arn:aws:s3:::customers", Value: 9}},
		},
		want:  []hop{{"server-side-request-forgery", "network:i-1", "identity:role:web"}, {"permission", "identity:role:web", "read:arn:aws:s3:::customers"}},
		drop:  func(model.Relation) bool { return false },
		label: LabelIMDSv1,
	},
	{
		name: "leaked-ci-token-supply-chain",
		in: Input{
			Assets: []model.Asset{asset("repo:docs", model.KindRepository, LabelPublic, "true"), asset("ci-token", model.KindIdentity),
				asset("repo:shop", model.KindRepository), asset("image:shop", model.KindImage), asset("prod", model.KindWorkload)},
			Relations: []model.Relation{rel("ci-token", model.RelCan, "repo:shop", "push"), rel("image:shop", model.RelBuiltFrom, "repo:shop"),
				rel("prod", model.RelRuns, "image:shop")},
			Weaknesses: []Weakness{func() Weakness {
				w := weak("gitleaks-1", "repo:docs", model.FindingSecret, effect.Credential)
				w.Grants = []string{"ci-token"}
				return w
			}()},
			Jewels: []Jewel{{Asset: "prod", Value: 8}},
		},
		want: []hop{{"open-data-store", "network:repo:docs", "read:repo:docs"}, {"leaked-credential", "read:repo:docs", "identity:ci-token"},
			{"permission", "identity:ci-token", "write:repo:shop"}, {"supply-chain", "write:repo:shop", "exec:prod"}},
		drop: func(r model.Relation) bool { return r.Type == model.RelBuiltFrom },
	},
	{
		name: "privileged-pod-escape-node-credentials",
		in: Input{
			Assets: []model.Asset{asset("svc", model.KindLoadBalancer), asset("pod", model.KindWorkload, "escape.privileged", "true"),
				asset("image:pod", model.KindImage), asset("node", model.KindNode), asset("role:node", model.KindIdentity)},
			Relations: []model.Relation{rel("internet", model.RelExposes, "svc"), rel("svc", model.RelRoutesTo, "pod"), rel("pod", model.RelRuns, "image:pod"),
				rel("pod", model.RelRunsOn, "node"), rel("node", model.RelUsesIdentit, "role:node")},
			Weaknesses: []Weakness{weak("CVE-1", "image:pod", model.FindingVulnerability, effect.Exec, model.EvidenceReachableCall)},
			Jewels:     []Jewel{{Asset: "role:node", Value: 7}},
		},
		want: []hop{{"routing", "network:svc", "network:pod"}, {"remote-code-execution", "network:pod", "exec:pod"},
			{"escape", "exec:pod", "exec:node"}, {"workload-identity", "exec:node", "identity:role:node"}},
		drop:  func(model.Relation) bool { return false },
		label: "escape.privileged",
	},
	{
		name: "sql-injection-database",
		in: Input{
			Assets:     []model.Asset{asset("api", model.KindWorkload), asset("orders", model.KindDatastore)},
			Relations:  []model.Relation{rel("internet", model.RelExposes, "api"), rel("api", model.RelConnectsTo, "orders")},
			Weaknesses: []Weakness{weak("sqli-1", "api", model.FindingCode, effect.Write)},
			Jewels:     []Jewel{{Asset: "orders", Value: 10}},
		},
		want: []hop{{"injection-into-data-store", "network:api", "read:orders"}},
		drop: func(r model.Relation) bool { return r.Type == model.RelConnectsTo },
	},
	{
		name: "public-bucket",
		in: Input{
			Assets: []model.Asset{asset("arn:aws:s3:::backups", model.KindDatastore, LabelPublic, "true")},
			Jewels: []Jewel{{Asset: "arn:aws:s3:::backups", Value: 6}},
		},
		want:  []hop{{"open-data-store", "network:arn:aws:s3:::backups", "read:arn:aws:s3:::backups"}},
		drop:  func(model.Relation) bool { return false },
		label: LabelPublic,
	},
	{
		name: "passrole-admin-to-new-instance",
		in: Input{
			Assets: []model.Asset{asset("user:dev", model.KindIdentity), asset("role:admin", model.KindIdentity, LabelTrustedServices, "ec2.amazonaws.com"), asset("arn:aws:s3:::finance", model.KindDatastore)},
			Relations: []model.Relation{rel("user:dev", model.RelCan, "role:admin", "iam:PassRole"), rel("user:dev", model.RelCan, "arn:aws:ec2:*", "ec2:RunInstances"),
				rel("role:admin", model.RelCan, "arn:aws:s3:::finance", "s3:*")},
			Entries: stolen("user:dev"),
			Jewels:  []Jewel{{Asset: "arn:aws:s3:::finance", Value: 9}},
		},
		want: []hop{{"aws-passrole-service", "identity:user:dev", "identity:role:admin"}, {"permission", "identity:role:admin", "admin:arn:aws:s3:::finance"}},
		drop: func(r model.Relation) bool { return r.Action == "ec2:RunInstances" },
	},
	{
		name: "trust-policy-assume-role",
		in: Input{
			Assets: []model.Asset{asset("user:intern", model.KindIdentity), asset("role:ops", model.KindIdentity), asset("arn:aws:s3:::payroll", model.KindDatastore)},
			Relations: []model.Relation{rel("role:ops", RelTrusts, "user:intern"), rel("user:intern", model.RelCan, "role:ops", "sts:AssumeRole"),
				rel("role:ops", model.RelCan, "arn:aws:s3:::payroll", "s3:GetObject")},
			Entries: stolen("user:intern"),
			Jewels:  []Jewel{{Asset: "arn:aws:s3:::payroll", Value: 8}},
		},
		want: []hop{{"aws-assume-role", "identity:user:intern", "identity:role:ops"}, {"permission", "identity:role:ops", "read:arn:aws:s3:::payroll"}},
		drop: func(r model.Relation) bool { return r.Type == RelTrusts },
	},
}

func TestGroundTruth(t *testing.T) {
	t.Parallel()
	for _, tt := range groundTruth {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.in
			res, err := Analyze(&in, Options{})
			if err != nil {
				t.Fatalf("Analyze() error = %v", err)
			}
			if len(res.Paths) == 0 {
				t.Fatalf("Analyze() = no paths, want %v", tt.want)
			}
			top := res.Paths[0]
			if diff := cmp.Diff(hops(top), tt.want); diff != "" {
				t.Errorf("Analyze() top path (-got +want):\n%s", diff)
			}
			if len(res.Plan.Items) == 0 {
				t.Fatalf("Analyze() plan = empty, want an action that cuts %s", top.ID)
			}
			if first := res.Plan.Items[0].Key; !cuts(top, first) {
				t.Errorf("Analyze() plan[0] = %s, want an action that cuts the path", first)
			}
			if rem := res.Plan.Items[len(res.Plan.Items)-1].Remaining; rem > 1e-9 {
				t.Errorf("Analyze() plan remaining risk = %v, want 0", rem)
			}
		})
		t.Run(tt.name+"/negative", func(t *testing.T) {
			t.Parallel()
			res, err := Analyze(without(tt.in, tt.drop, tt.label), Options{})
			if err != nil {
				t.Fatalf("Analyze() error = %v", err)
			}
			if len(res.Paths) != 0 {
				t.Errorf("Analyze() without the enabling fact = %v, want no path", hops(res.Paths[0]))
			}
		})
	}
}
