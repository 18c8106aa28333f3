package iam

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCatalogue(t *testing.T) {
	t.Parallel()
	c := Default()
	if c.Len() < 15000 {
		t.Fatalf("Default().Len() = %d, want the whole reference (> 15000)", c.Len())
	}
	tests := []struct {
		action string
		level  Level
		types  []string
	}{
		{"s3:GetObject", LevelRead, []string{"accesspointobject", "object"}},
		{"S3:LISTBUCKET", LevelList, []string{"accesspoint", "bucket"}},
		{"iam:PassRole", LevelWrite, []string{"role"}},
		{"iam:AttachRolePolicy", LevelPermissions, []string{"role"}},
		{"iam:ListUsers", LevelList, []string{}},
		{"secretsmanager:GetSecretValue", LevelRead, []string{"Secret"}},
	}
	for _, tt := range tests {
		id, ok := c.Lookup(tt.action)
		if !ok {
			t.Errorf("Lookup(%q) = not found, want found", tt.action)
			continue
		}
		if got := c.Level(id); got != tt.level {
			t.Errorf("Level(%s) = %v, want %v", tt.action, got, tt.level)
		}
		if got := c.ResourceTypes(id); !cmp.Equal(got, tt.types) {
			t.Errorf("ResourceTypes(%s) = %v, want %v", tt.action, got, tt.types)
		}
	}
	for _, a := range append(AccountActions(), resourceActions...) {
		if _, ok := c.Lookup(a); !ok {
			t.Errorf("Lookup(%q) = not found, want every notable action in the catalogue", a)
		}
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	c := Default()
	first, end, _ := c.ServiceRange("s3")
	tests := []struct {
		pattern string
		has     []string
		hasNot  []string
		n       int // exact size, -1 to skip
	}{
		{"s3:*", []string{"s3:GetObject", "s3:PutBucketPolicy"}, []string{"iam:PassRole"}, int(end - first)},
		{"s3:get*", []string{"s3:GetObject", "s3:GetBucketAcl"}, []string{"s3:PutObject", "s3:ListBucket"}, -1},
		{"iam:PassRole", []string{"iam:PassRole"}, []string{"iam:PassRoleX"}, 1},
		{"*", []string{"ec2:RunInstances", "s3:GetObject"}, nil, c.Len()},
		{"s3:Get?bject", []string{"s3:GetObject"}, nil, 1},
		{"nosuch:Action", nil, []string{"s3:GetObject"}, 0},
		{"ec2:*Instances", []string{"ec2:RunInstances", "ec2:DescribeInstances"}, []string{"ec2:RunInstance"}, -1},
	}
	for _, tt := range tests {
		s := c.Expand(tt.pattern)
		for _, a := range tt.has {
			if id, _ := c.Lookup(a); !s.Has(id) {
				t.Errorf("Expand(%q) has %s = false, want true", tt.pattern, a)
			}
		}
		for _, a := range tt.hasNot {
			if id, ok := c.Lookup(a); ok && s.Has(id) {
				t.Errorf("Expand(%q) has %s = true, want false", tt.pattern, a)
			}
		}
		if tt.n >= 0 && s.Len() != tt.n {
			t.Errorf("Expand(%q).Len() = %d, want %d", tt.pattern, s.Len(), tt.n)
		}
	}
	not := c.ExpandAll([]string{"iam:*"}, true)
	iam := c.Expand("iam:*")
	if got, want := not.Len(), c.Len()-iam.Len(); got != want {
		t.Errorf("ExpandAll(iam:*, not).Len() = %d, want %d", got, want)
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	u := Unknown
	tests := []struct {
		pattern, arn string
		prefix       bool
		want         bool
	}{
		{"*", "arn:aws:s3:::b", false, true},
		{"arn:aws:s3:::b", "arn:aws:s3:::b", false, true},
		{"arn:aws:s3:::b", "arn:aws:s3:::bb", false, false},
		{"arn:aws:s3:::team-*", "arn:aws:s3:::team-a", false, true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b/", true, true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::c/", true, false},
		{"arn:aws:s3:::b/logs/*", "arn:aws:s3:::b/", true, true},
		{"arn:aws:s3:::b", "arn:aws:s3:::b/", true, false},
		{"arn:aws:iam::123456789012:role/admin", "arn:aws:iam::" + u + ":role/admin", false, true},
		{"arn:aws:iam::*:role/adm*", "arn:aws:iam::" + u + ":role/admin", false, true},
		{"arn:aws:iam::123456789012:role/dev", "arn:aws:iam::" + u + ":role/admin", false, false},
		{"arn:aws:iam::123456789012:user/*", "arn:aws:iam::" + u + ":role/admin", false, false},
		{"arn:aws:iam::*", "arn:aws:iam::" + u + ":role/admin", false, true},
		{"arn:aws:lambda:*:*:function:app", "arn:aws:lambda:" + u + ":" + u + ":function:app", false, true},
		{"arn:aws:lambda:*:*:function:app", "arn:aws:lambda:" + u + ":" + u + ":function:" + u, false, true},
		{"arn:aws:lambda:*:*:function:app", "arn:aws:lambda:" + u + ":" + u + ":layer:" + u, false, false},
	}
	for _, tt := range tests {
		if got := MatchARN(tt.pattern, tt.arn, tt.prefix); got != tt.want {
			t.Errorf("MatchARN(%q, %q, %v) = %v, want %v", tt.pattern, strings.ReplaceAll(tt.arn, u, "?"), tt.prefix, got, tt.want)
		}
	}
}

func TestManagedPolicy(t *testing.T) {
	t.Parallel()
	if n := NumManagedPolicies(); n < 1500 {
		t.Errorf("NumManagedPolicies() = %d, want > 1500", n)
	}
	for _, arn := range []string{
		"arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/AmazonS3FullAccess",
		"arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/PowerUserAccess",
		"arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role", "AmazonS3ReadOnlyAccess",
	} {
		doc, name, ok := ManagedPolicy(arn)
		if !ok {
			t.Errorf("ManagedPolicy(%q) = not found, want found", arn)
			continue
		}
		if _, err := ParsePolicy([]byte(doc)); err != nil {
			t.Errorf("ManagedPolicy(%q) = %s, which ParsePolicy rejects: %v", arn, name, err)
		}
	}
	for _, arn := range []string{"arn:aws:iam::123456789012:policy/AdministratorAccess", "arn:aws:iam::aws:policy/NoSuchPolicy", "arn:aws:s3:::AdministratorAccess"} {
		if _, _, ok := ManagedPolicy(arn); ok {
			t.Errorf("ManagedPolicy(%q) = found, want not found", arn)
		}
	}
}

// estate is a small index: two buckets, two roles, a user.
func estate() (*Index, []string) {
	x := NewIndex(Default())
	names := []string{"bucket:data", "bucket:logs", "role:admin", "role:app", "user:dev"}
	u := Unknown
	x.Add(0, "s3", "bucket", "arn:aws:s3:::data", false)
	x.Add(0, "s3", "object", "arn:aws:s3:::data/", true)
	x.Add(1, "s3", "bucket", "arn:aws:s3:::logs", false)
	x.Add(1, "s3", "object", "arn:aws:s3:::logs/", true)
	x.Add(2, "iam", "role", "arn:aws:iam::"+u+":role/admin", false)
	x.Add(2, "sts", "role", "arn:aws:iam::"+u+":role/admin", false)
	x.Add(3, "iam", "role", "arn:aws:iam::123456789012:role/app", false)
	x.Add(3, "sts", "role", "arn:aws:iam::123456789012:role/app", false)
	x.Add(4, "iam", "user", "arn:aws:iam::123456789012:user/dev", false)
	return x, names
}

func grants(t *testing.T, policy string) []string {
	t.Helper()
	sts, err := ParsePolicy([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	x, names := estate()
	var out []string
	x.Evaluate(sts, func(g Grant) {
		n := "account"
		switch {
		case g.Res >= 0:
			n = names[g.Res]
		case g.Res == -2:
			n = "every " + g.Type
		}
		s := n + " " + g.Action
		if len(g.Conditions) > 0 {
			s += " if " + strings.Join(g.Conditions, ",")
		}
		out = append(out, s)
	})
	slices.Sort(out)
	return slices.Compact(out)
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	stmt := func(s ...string) string { return `{"Version":"2012-10-17","Statement":[` + strings.Join(s, ",") + `]}` }
	tests := []struct {
		name, policy string
		want         []string
	}{
		{"admin is one account grant", stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`), []string{"account *"}},
		{"s3:* on * reaches every bucket and nothing else",
			stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`),
			[]string{"bucket:data s3:*", "bucket:logs s3:*"}},
		{"wildcard ARN of one bucket's objects",
			stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::da*/*"}`),
			[]string{"bucket:data s3:GetObject"}},
		{"deny takes a bucket away",
			stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`, `{"Effect":"Deny","Action":"s3:*","Resource":["arn:aws:s3:::logs","arn:aws:s3:::logs/*"]}`),
			[]string{"bucket:data s3:*"}},
		{"admin with a deny is resolved per resource",
			stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`, `{"Effect":"Deny","NotAction":"s3:Get*","Resource":"*"}`),
			[]string{"bucket:data s3:GetObject", "bucket:logs s3:GetObject"}},
		{"NotAction iam:* (PowerUserAccess) gives no IAM action on roles",
			stmt(`{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}`),
			[]string{"account autoscaling:CreateAutoScalingGroup", "account autoscaling:CreateLaunchConfiguration", "account cloudformation:CreateChangeSet",
				"account cloudformation:CreateStack", "account cloudformation:ExecuteChangeSet", "account codebuild:CreateProject", "account codebuild:StartBuild", "account codebuild:StartBuildBatch",
				"account datapipeline:ActivatePipeline", "account datapipeline:CreatePipeline", "account datapipeline:PutPipelineDefinition", "account ec2:CreateLaunchTemplate",
				"account ec2:RequestSpotInstances", "account ec2:RunInstances", "account ecs:CreateCluster", "account ecs:CreateService", "account ecs:RegisterTaskDefinition", "account ecs:RunTask",
				"account ecs:StartTask", "account glue:CreateDevEndpoint", "account glue:CreateJob", "account glue:CreateSession", "account glue:StartJobRun",
				"account lambda:AddPermission", "account lambda:CreateEventSourceMapping", "account lambda:CreateFunction", "account lambda:CreateFunctionUrlConfig", "account lambda:InvokeFunction",
				"account rds:RestoreDBClusterFromSnapshot", "account rds:RestoreDBInstanceFromDBSnapshot", "account sagemaker:CreateNotebookInstance", "account sagemaker:CreatePresignedNotebookInstanceUrl",
				"account sagemaker:CreateProcessingJob", "account sagemaker:CreateTrainingJob",
				"bucket:data s3:*", "bucket:logs s3:*", "role:admin sts:*", "role:app sts:*"}},
		{"NotResource leaves out what it names",
			stmt(`{"Effect":"Allow","Action":"iam:PassRole","NotResource":"arn:aws:iam::*:role/admin"}`),
			[]string{"role:app iam:PassRole"}},
		{"read-only access is one data read, not the metadata reads",
			stmt(`{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"arn:aws:s3:::data*"}`),
			// data* names the bucket and its objects.
			[]string{"bucket:data s3:GetObject"}},
		{"conditions travel with the grant",
			stmt(`{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}`),
			[]string{`role:admin sts:AssumeRole if Bool aws:MultiFactorAuthPresent ["true"]`, `role:app sts:AssumeRole if Bool aws:MultiFactorAuthPresent ["true"]`}},
		{"a conditional deny makes the allow conditional",
			stmt(`{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"*"}`, `{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`),
			[]string{`account iam:CreateAccessKey if not NotIpAddress aws:SourceIp ["10.0.0.0/8"]`, `user:dev iam:CreateAccessKey if not NotIpAddress aws:SourceIp ["10.0.0.0/8"]`}},
		{"of two conditional allows, one suffices",
			stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*","Condition":{"StringEquals":{"aws:ResourceTag/a":"1","aws:PrincipalTag/b":"2"}}}`,
				`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*","Condition":{"StringEquals":{"aws:ResourceTag/c":"3"}}}`),
			[]string{`bucket:data s3:GetObject if StringEquals aws:ResourceTag/c ["3"]`}},
		{"writes are represented by one that changes the resource",
			stmt(`{"Effect":"Allow","Action":["s3:PutObjectTagging","s3:ReplicateObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::data/*"}`),
			[]string{"bucket:data s3:DeleteObject"}},
		{"an expired date condition grants nothing",
			stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}}`), nil},
		{"a date condition still to come is a condition",
			stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*","Condition":{"DateLessThan":{"aws:CurrentTime":"2999-01-01T00:00:00Z"}}}`),
			[]string{`bucket:data s3:GetObject if DateLessThan aws:CurrentTime ["2999-01-01T00:00:00Z"]`}},
		{"an account-level action needs Resource *",
			stmt(`{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"arn:aws:s3:::x"}`), nil},
		{"a launch on its own service's ARN counts",
			stmt(`{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"arn:aws:ec2:*:*:*"}`), []string{"account ec2:RunInstances"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := grants(t, tt.policy)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Evaluate(%s) (-got +want):\n%s", tt.policy, diff)
			}
		})
	}
}

func BenchmarkEvaluate(b *testing.B) {
	c := Default()
	x := NewIndex(c)
	for i := range 10000 {
		x.Add(int32(i), "s3", "bucket", fmt.Sprintf("arn:aws:s3:::team%03d-%d", i%100, i), false)
		x.Add(int32(i), "s3", "object", fmt.Sprintf("arn:aws:s3:::team%03d-%d/", i%100, i), true)
	}
	sts, _ := ParsePolicy([]byte(`{"Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":["arn:aws:s3:::team042-*","arn:aws:s3:::team042-*/*"]},{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}`))
	n := 0
	for b.Loop() {
		x.Evaluate(sts, func(Grant) { n++ })
	}
}

func TestTypeOf(t *testing.T) {
	t.Parallel()
	c := Default()
	tests := []struct{ arn, svc, typ string }{
		{"arn:aws:s3:::b", "s3", "bucket"},
		{"arn:aws:s3:::b/key", "s3", "object"},
		{"arn:aws:iam::123456789012:role/admin", "iam", "role"},
		{"arn:aws:dynamodb:eu-west-1:111122223333:table/orders", "dynamodb", "table"},
		{"arn:aws:lambda:eu-west-1:1:function:f", "lambda", "function"},
		{"arn:aws:nosuch:::x", "", ""},
		{"not-an-arn", "", ""},
	}
	for _, tt := range tests {
		svc, typ, _ := c.TypeOf(tt.arn)
		if svc != tt.svc || typ != tt.typ {
			t.Errorf("TypeOf(%q) = %s %s, want %s %s", tt.arn, svc, typ, tt.svc, tt.typ)
		}
	}
}

// TestFilterDenies checks that a boundary or SCP, as the Deny statements
// FilterDenies makes of it, leaves of an administrator's grants those the
// filter allows, and says when it is approximate.
func TestFilterDenies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, filter string
		want         []string
		exact        bool
	}{
		{"s3:* on *", `[{"Effect":"Allow","Action":["s3:*"],"Resource":"*"}]`, []string{"bucket:data s3:*", "bucket:logs s3:*"}, true},
		{"s3:* on one bucket", `[{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::data","arn:aws:s3:::data/*"]}]`, []string{"bucket:data s3:*"}, true},
		{"FullAWSAccess and a Deny", `[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}]`, []string{"bucket:data s3:*", "bucket:logs s3:*"}, true},
		{"two statements on different resources", `[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::data"},{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*:role/app"}]`, []string{"bucket:data s3:*", "role:app iam:*"}, false},
		{"NotAction", `[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]`, []string{"bucket:data s3:*", "bucket:logs s3:*"}, true},
		{"no Allow", `[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]`, nil, true},
	}
	admin, _ := ParsePolicy([]byte(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := ParsePolicy([]byte(`{"Statement":` + tt.filter + `}`))
			if err != nil {
				t.Fatal(err)
			}
			denies, exact := FilterDenies(f)
			if exact != tt.exact {
				t.Errorf("FilterDenies(%s) exact = %v, want %v", tt.filter, exact, tt.exact)
			}
			x, names := estate()
			var got []string
			x.Evaluate(append(slices.Clone(admin), denies...), func(g Grant) {
				if g.Res >= 0 && (strings.HasPrefix(g.Action, "s3:") || strings.HasPrefix(g.Action, "iam:")) && strings.HasSuffix(g.Action, "*") {
					got = append(got, names[g.Res]+" "+g.Action)
				}
			})
			slices.Sort(got)
			got = slices.Compact(got) // a bucket and its objects
			if !cmp.Equal(got, tt.want) {
				t.Errorf("Evaluate(admin within %s) = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestEvaluateCollections(t *testing.T) {
	t.Parallel()
	x := NewIndex(Default())
	for i := range CollectionMin {
		x.Add(int32(i), "s3", "bucket", fmt.Sprintf("arn:aws:s3:::b%d", i), false)
		x.Add(int32(i), "s3", "object", fmt.Sprintf("arn:aws:s3:::b%d/", i), true)
	}
	x.Add(CollectionMin, "iam", "role", "arn:aws:iam::1:role/r", false)
	count := func(policy string) (each, every int) {
		sts, err := ParsePolicy([]byte(policy))
		if err != nil {
			t.Fatal(err)
		}
		x.Evaluate(sts, func(g Grant) {
			switch {
			case g.Res >= 0:
				each++
			case g.Res == -2:
				every++
			}
		})
		return each, every
	}
	if each, every := count(`{"Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}`); each != 0 || every != 1 {
		t.Errorf("Evaluate(s3:PutObject on *) = %d grants on buckets and %d on the type, want 0 and 1", each, every)
	}
	if each, every := count(`{"Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"arn:aws:s3:::b0/*"}]}`); each != CollectionMin-1 || every != 0 {
		t.Errorf("Evaluate(s3:PutObject on * but b0) = %d grants on buckets and %d on the type, want %d and 0", each, every, CollectionMin-1)
	}
}

func TestIsOfType(t *testing.T) {
	t.Parallel()
	c := Default()
	tests := []struct {
		arn, svc, typ string
		want          bool
	}{
		{"arn:aws:ec2:eu-west-1:1:instance/i-1", "ssm", "instance", true},
		{"arn:aws:ec2:eu-west-1:1:instance/i-1", "lambda", "function", false},
		{"arn:aws:s3:::b", "s3", "object", true},
		{"arn:aws:s3:::b", "s3", "bucket", true},
		{"arn:aws:secretsmanager:eu-west-1:1:secret:db-AbCdEf", "secretsmanager", "Secret", true},
		{"arn:aws:dynamodb:eu-west-1:1:table/t", "secretsmanager", "Secret", false},
	}
	for _, tt := range tests {
		if got := c.IsOfType(tt.arn, tt.svc, tt.typ); got != tt.want {
			t.Errorf("IsOfType(%s, %s, %s) = %v, want %v", tt.arn, tt.svc, tt.typ, got, tt.want)
		}
	}
}
