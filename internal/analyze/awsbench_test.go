package analyze_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ctem-dev/ctem/internal/estate/terraform"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
)

// awsAccount generates the state (terraform show -json) of an AWS account
// with resources resources and principals principals, in 50 teams: 40%
// buckets, 20% instances, 15% functions, 10% secrets, 10% DynamoDB
// tables, 5% databases; 70% of the principals are roles, the rest users.
// Every principal reads its team's buckets, tables and secrets through
// wildcard ARNs ("arn:aws:s3:::team-07-*"); every tenth may pass any role
// and create and invoke functions (Resource "*"); every twentieth has
// ReadOnlyAccess and every fiftieth AdministratorAccess (AWS managed).
func awsAccount(resources, principals int) []byte {
	const acct = "111122223333"
	var rs []map[string]any
	add := func(typ, name string, v map[string]any) {
		rs = append(rs, map[string]any{"address": typ + "." + name, "mode": "managed", "type": typ, "name": name, "values": v})
	}
	team := func(i int) string { return fmt.Sprintf("team-%02d", i%50) }
	for i := range resources {
		t := team(i)
		switch p := i * 100 / resources; {
		case p < 40:
			n := fmt.Sprintf("%s-data-%d", t, i)
			add("aws_s3_bucket", fmt.Sprintf("b%d", i), map[string]any{"bucket": n, "arn": "arn:aws:s3:::" + n})
		case p < 60:
			add("aws_instance", fmt.Sprintf("i%d", i), map[string]any{"id": fmt.Sprintf("i-%08x", i), "arn": fmt.Sprintf("arn:aws:ec2:eu-west-1:%s:instance/i-%08x", acct, i)})
		case p < 75:
			n := fmt.Sprintf("%s-fn-%d", t, i)
			add("aws_lambda_function", fmt.Sprintf("f%d", i), map[string]any{"function_name": n, "arn": fmt.Sprintf("arn:aws:lambda:eu-west-1:%s:function:%s", acct, n),
				"role": fmt.Sprintf("arn:aws:iam::%s:role/role-%d", acct, i%principals)})
		case p < 85:
			n := fmt.Sprintf("%s-secret-%d", t, i)
			add("aws_secretsmanager_secret", fmt.Sprintf("s%d", i), map[string]any{"name": n, "arn": fmt.Sprintf("arn:aws:secretsmanager:eu-west-1:%s:secret:%s-AbCdEf", acct, n)})
		case p < 95:
			n := fmt.Sprintf("%s-table-%d", t, i)
			add("aws_dynamodb_table", fmt.Sprintf("t%d", i), map[string]any{"name": n, "arn": fmt.Sprintf("arn:aws:dynamodb:eu-west-1:%s:table/%s", acct, n)})
		default:
			n := fmt.Sprintf("%s-db-%d", t, i)
			add("aws_db_instance", fmt.Sprintf("d%d", i), map[string]any{"identifier": n, "arn": fmt.Sprintf("arn:aws:rds:eu-west-1:%s:db:%s", acct, n)})
		}
	}
	for i := range principals {
		t := team(i)
		sts := []map[string]any{
			{"Effect": "Allow", "Action": []string{"s3:Get*", "s3:List*"}, "Resource": []string{"arn:aws:s3:::" + t + "-*", "arn:aws:s3:::" + t + "-*/*"}},
			{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:*:*:table/" + t + "-*"},
			{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:" + t + "-*"},
		}
		if i%10 == 7 {
			sts = append(sts, map[string]any{"Effect": "Allow", "Action": []string{"iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"}, "Resource": "*"})
		}
		doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": sts})
		var managed []string
		if i%20 == 0 {
			managed = append(managed, "arn:aws:iam::aws:policy/ReadOnlyAccess")
		}
		if i%50 == 0 {
			managed = append(managed, "arn:aws:iam::aws:policy/AdministratorAccess")
		}
		if i%10 < 7 {
			name := fmt.Sprintf("role-%d", i)
			trust, _ := json.Marshal(map[string]any{"Statement": []map[string]any{{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": map[string]any{"Service": "lambda.amazonaws.com"}}}})
			add("aws_iam_role", name, map[string]any{"name": name, "arn": fmt.Sprintf("arn:aws:iam::%s:role/%s", acct, name), "assume_role_policy": string(trust),
				"inline_policy": []any{map[string]any{"name": "team", "policy": string(doc)}}, "managed_policy_arns": managed})
			continue
		}
		name := fmt.Sprintf("user-%d", i)
		add("aws_iam_user", name, map[string]any{"name": name, "arn": fmt.Sprintf("arn:aws:iam::%s:user/%s", acct, name)})
		add("aws_iam_user_policy", name, map[string]any{"user": name, "policy": string(doc)})
		for j, m := range managed {
			add("aws_iam_user_policy_attachment", fmt.Sprintf("%s-%d", name, j), map[string]any{"user": name, "policy_arn": m})
		}
	}
	out, _ := json.Marshal(map[string]any{"format_version": "1.0", "terraform_version": "1.9.0",
		"values": map[string]any{"root_module": map[string]any{"resources": rs}}})
	return out
}

// BenchmarkAWSAccount measures an AWS account of 10k resources and 1k
// principals with wildcard grants: reading its state with every policy
// evaluated (ingest), and the attack-path analysis from ten stolen users'
// keys and the internet to ten crown-jewel buckets (analyze).
func BenchmarkAWSAccount(b *testing.B) {
	data := awsAccount(10_000, 1_000)
	parse := func(b *testing.B) *ingesttest.Recorder {
		r := &ingesttest.Recorder{}
		src, err := ingest.NewSource("state.json", bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if err := terraform.ParsePlan(context.Background(), &ingest.Input{Name: "state.json", R: src.Reader()}, r); err != nil {
			b.Fatal(err)
		}
		return r
	}
	b.Run("ingest", func(b *testing.B) {
		var r *ingesttest.Recorder
		for b.Loop() {
			r = parse(b)
		}
		b.ReportMetric(float64(len(r.Assets)), "assets")
		b.ReportMetric(float64(len(r.Relations)), "relations")
	})
	b.Run("analyze", func(b *testing.B) {
		r := parse(b)
		in := &graph.Input{Assets: r.Assets, Relations: r.Relations}
		in.Entries = []graph.Entry{{Kind: graph.EntryInternet}}
		for i := 7; i < 100; i += 10 {
			in.Entries = append(in.Entries, graph.Entry{Kind: graph.EntryIdentity, Identity: fmt.Sprintf("arn:aws:iam::111122223333:user/user-%d", i)})
		}
		for i := 0; i < 10; i++ {
			n := fmt.Sprintf("team-%02d-data-%d", i*5, i*5)
			in.Jewels = append(in.Jewels, graph.Jewel{Asset: "arn:aws:s3:::" + n, Value: 10})
		}
		var res *graph.Result
		for b.Loop() {
			var err error
			if res, err = graph.Analyze(in, graph.Options{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(res.Paths)), "paths")
		g := graph.Build(in)
		b.ReportMetric(float64(g.NumEdges()), "edges")
	})
}

// TestAWSAccountPaths checks the generated account's analysis on a small
// size: a stolen user reaches its team's bucket by its wildcard grant,
// and an administrator's keys reach every bucket through the account.
func TestAWSAccountPaths(t *testing.T) {
	t.Parallel()
	r := &ingesttest.Recorder{}
	src, err := ingest.NewSource("state.json", bytes.NewReader(awsAccount(500, 100)))
	if err != nil {
		t.Fatal(err)
	}
	if err := terraform.ParsePlan(context.Background(), &ingest.Input{Name: "state.json", R: src.Reader()}, r); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		user, bucket string
		first        string
	}{
		{"user-8", "team-08-data-8", "permission"},            // s3:Get* on team-08-*
		{"user-8", "team-01-data-1", ""},                      // another team's, no PassRole
		{"user-17", "team-01-data-1", "aws-passrole-service"}, // PassRole to role-1 of team 01, which trusts Lambda
	} {
		in := &graph.Input{Assets: r.Assets, Relations: r.Relations,
			Entries: []graph.Entry{{Kind: graph.EntryIdentity, Identity: "arn:aws:iam::111122223333:user/" + tt.user}},
			Jewels:  []graph.Jewel{{Asset: "arn:aws:s3:::" + tt.bucket, Value: 10}}}
		res, err := graph.Analyze(in, graph.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(res.Paths) > 0 {
			got = res.Paths[0].Steps[0].Rule
		}
		if got != tt.first {
			t.Errorf("Analyze(%s -> %s) first rule = %q, want %q", tt.user, tt.bucket, got, tt.first)
		}
	}
}
