package iam

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	user := PrincipalContext("arn:aws:iam::111122223333:user/attacker")
	role := PrincipalContext("arn:aws:iam::111122223333:role/ci-deploy")
	var nobody Context
	allow := func(op, key string, values ...string) []Clause {
		return []Clause{{Conds: []Condition{{Op: op, Key: key, Values: values}}}}
	}
	deny := func(op, key string, values ...string) []Clause {
		return []Clause{{Not: true, Conds: []Condition{{Op: op, Key: key, Values: values}}}}
	}
	tests := []struct {
		name    string
		clauses []Clause
		ctx     Context
		want    Decision
	}{
		{"MFA required, stolen user keys", allow("Bool", "aws:MultiFactorAuthPresent", "true"), user, Blocked},
		{"MFA required, role session", allow("Bool", "aws:MultiFactorAuthPresent", "true"), role, Blocked},
		{"deny without MFA (IfExists), user", deny("BoolIfExists", "aws:MultiFactorAuthPresent", "false"), user, Blocked},
		{"deny Bool false misses long-term keys", deny("Bool", "aws:MultiFactorAuthPresent", "false"), user, Allowed},
		{"deny Bool false, role session", deny("Bool", "aws:MultiFactorAuthPresent", "false"), role, Blocked},
		{"Null MFA age true", allow("Null", "aws:MultiFactorAuthAge", "true"), user, Allowed},
		{"Null MFA age false", allow("Null", "aws:MultiFactorAuthAge", "false"), user, Blocked},
		{"MFA age below an hour", allow("NumericLessThan", "aws:MultiFactorAuthAge", "3600"), user, Blocked},
		{"MFA age IfExists", allow("NumericLessThanIfExists", "aws:MultiFactorAuthAge", "3600"), user, Allowed},
		{"principal ARN is the caller", allow("StringEquals", "aws:PrincipalArn", "arn:aws:iam::111122223333:user/attacker"), user, Allowed},
		{"principal ARN is another", allow("StringEquals", "aws:PrincipalArn", "arn:aws:iam::111122223333:user/admin"), user, Blocked},
		{"principal ARN like", allow("ArnLike", "aws:PrincipalArn", "arn:aws:iam::111122223333:role/ci-*"), role, Allowed},
		{"principal ARN not like", allow("ArnNotLike", "aws:PrincipalArn", "arn:aws:iam::111122223333:role/ci-*"), role, Blocked},
		{"principal ARN unknown", allow("StringEquals", "aws:PrincipalArn", "arn:aws:iam::111122223333:user/admin"), nobody, Unknowable},
		{"principal account", allow("StringEquals", "aws:PrincipalAccount", "111122223333"), user, Allowed},
		{"principal account other", allow("StringEquals", "aws:PrincipalAccount", "444455556666"), role, Blocked},
		{"principal type", allow("StringEquals", "aws:PrincipalType", "AssumedRole"), user, Blocked},
		{"organization unknown", allow("StringEquals", "aws:PrincipalOrgID", "o-abc"), user, Unknowable},
		{"source IP range", allow("IpAddress", "aws:SourceIp", "203.0.113.0/24"), user, Unknowable},
		{"source IP anywhere", allow("IpAddress", "aws:SourceIp", "0.0.0.0/0"), user, Allowed},
		{"source IP not in range", allow("NotIpAddress", "aws:SourceIp", "203.0.113.0/24"), user, Allowed},
		{"deny from a range is avoided", deny("IpAddress", "aws:SourceIp", "198.51.100.0/24"), user, Allowed},
		{"deny outside a range needs a foothold", deny("NotIpAddress", "aws:SourceIp", "10.0.0.0/8"), user, Unknowable},
		{"source VPC endpoint", allow("StringEquals", "aws:SourceVpce", "vpce-1a2b"), user, Unknowable},
		{"requested region is the attacker's choice", allow("StringEquals", "aws:RequestedRegion", "eu-west-1"), user, Allowed},
		{"deny other regions is avoided", deny("StringNotEquals", "aws:RequestedRegion", "eu-west-1"), user, Allowed},
		{"ACL header", allow("StringEquals", "s3:x-amz-acl", "bucket-owner-full-control"), user, Allowed},
		{"resource tag unknown", allow("StringEquals", "aws:ResourceTag/team", "data"), user, Unknowable},
		{"for any value", allow("ForAnyValue:StringEquals", "aws:PrincipalArn", "arn:aws:iam::111122223333:user/attacker"), user, Allowed},
		{"values missing", allow("Bool", "aws:MultiFactorAuthPresent"), user, Unknowable},
	}
	for _, tt := range tests {
		if got := Decide(tt.clauses, tt.ctx); got != tt.want {
			t.Errorf("%s: Decide(%v, %+v) = %d, want %d", tt.name, tt.clauses, tt.ctx, got, tt.want)
		}
	}
}

func TestConditionTextRoundTrip(t *testing.T) {
	t.Parallel()
	want := []Clause{
		{Conds: []Condition{{Op: "StringLike", Key: "aws:PrincipalArn", Values: []string{"arn:aws:iam::1:role/a, b", `x"]y`}}}},
		{Conds: []Condition{{Op: "Bool", Key: "aws:SecureTransport", Values: []string{"true"}}}},
		{Not: true, Conds: []Condition{{Op: "NotIpAddress", Key: "aws:SourceIp", Values: []string{"10.0.0.0/8"}}, {Op: "BoolIfExists", Key: "aws:ViaAWSService", Values: []string{"false"}}}},
	}
	text := want[0].String() + ", " + want[1].String() + ", " + want[2].String()
	if diff := cmp.Diff(ParseConditionText(text), want); diff != "" {
		t.Errorf("ParseConditionText(%q) (-got +want):\n%s", text, diff)
	}
	// Older texts without values read as conditions without values.
	old := ParseConditionText("Bool aws:MultiFactorAuthPresent, not NotIpAddress aws:SourceIp")
	wantOld := []Clause{{Conds: []Condition{{Op: "Bool", Key: "aws:MultiFactorAuthPresent"}}}, {Not: true, Conds: []Condition{{Op: "NotIpAddress", Key: "aws:SourceIp"}}}}
	if diff := cmp.Diff(old, wantOld); diff != "" {
		t.Errorf("ParseConditionText(old) (-got +want):\n%s", diff)
	}
}

func FuzzParseConditionText(f *testing.F) {
	f.Add(`StringLike aws:PrincipalArn ["arn:aws:iam::1:role/a, b"], not Bool aws:X ["true"] & Null k ["false"]`)
	f.Add("Bool aws:MultiFactorAuthPresent")
	f.Add(`not [`)
	f.Fuzz(func(t *testing.T, s string) {
		for _, cl := range ParseConditionText(s) {
			Decide([]Clause{cl}, PrincipalContext("arn:aws:iam::111122223333:user/u"))
		}
	})
}

// TestResolve checks that Resolve drops what cannot apply, keeps what it
// cannot decide, and turns a Deny that surely applies unconditional.
func TestResolve(t *testing.T) {
	t.Parallel()
	user := PrincipalContext("arn:aws:iam::111122223333:user/attacker")
	sts := []Statement{
		{Allow: true, Actions: []string{"s3:GetObject"}, Conditions: []Condition{{Op: "Bool", Key: "aws:MultiFactorAuthPresent", Values: []string{"true"}}}},
		{Allow: true, Actions: []string{"s3:PutObject"}, Conditions: []Condition{{Op: "StringEquals", Key: "aws:RequestedRegion", Values: []string{"eu-west-1"}}, {Op: "StringEquals", Key: "aws:ResourceTag/team", Values: []string{"data"}}}},
		{Actions: []string{"*"}, Conditions: []Condition{{Op: "BoolIfExists", Key: "aws:MultiFactorAuthPresent", Values: []string{"false"}}}},
		{Actions: []string{"iam:*"}, Conditions: []Condition{{Op: "IpAddress", Key: "aws:SourceIp", Values: []string{"198.51.100.0/24"}}}},
	}
	got := Resolve(sts, user)
	want := []Statement{
		{Allow: true, Actions: []string{"s3:PutObject"}, Conditions: []Condition{{Op: "StringEquals", Key: "aws:ResourceTag/team", Values: []string{"data"}}}},
		{Actions: []string{"*"}},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Resolve() (-got +want):\n%s", diff)
	}
}

// BenchmarkDecide measures what the graph does for each conditional step:
// parse a condition text of three clauses and decide it for a caller.
func BenchmarkDecide(b *testing.B) {
	text := `Bool aws:MultiFactorAuthPresent ["true"], StringLike aws:PrincipalArn ["arn:aws:iam::111122223333:role/ci-*"], not NotIpAddress aws:SourceIp ["10.0.0.0/8"] & BoolIfExists aws:ViaAWSService ["false"]`
	ctx := PrincipalContext("arn:aws:iam::111122223333:role/ci-deploy")
	for b.Loop() {
		Decide(ParseConditionText(text), ctx)
	}
}
