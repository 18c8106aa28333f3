package terraform

import (
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/intel/iam"
)

// statement is one IAM policy statement as written: its Resource
// patterns may still hold references, which iamStatements resolves.
type statement = iam.Statement

// maxPolicyDepth bounds policy documents that include each other.
const maxPolicyDepth = 8

// policy reads a policy document: a JSON string, a jsonencode'd object
// kept as a map, or a reference to an aws_iam_policy_document data source.
// It returns nil for what it cannot read; a malformed document is a
// warning, not an error.
func (b *builder) policy(v any, depth int) []statement {
	if depth > maxPolicyDepth {
		return nil
	}
	switch v := v.(type) {
	case map[string]any:
		return policyDoc(v)
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return nil
		}
		if !strings.HasPrefix(s, "{") {
			var out []statement
			for _, r := range b.lookup(s, "aws_iam_policy_document") {
				out = append(out, b.documentSource(r, depth+1)...)
			}
			return out
		}
		var doc map[string]any
		if err := ingest.UnmarshalJSON([]byte(s), &doc); err != nil {
			b.opts.Warn("terraform: a policy document is no valid JSON: %v", err)
			return nil
		}
		return policyDoc(doc)
	}
	return nil
}

// documentSource reads an aws_iam_policy_document data source: its json
// when known (state), else its statement blocks and the documents it
// includes.
func (b *builder) documentSource(r *resource, depth int) []statement {
	if j, ok := r.v["json"].(string); ok && strings.HasPrefix(strings.TrimSpace(j), "{") {
		return b.policy(j, depth)
	}
	var out []statement
	for _, key := range []string{"source_policy_documents", "source_json"} {
		for _, s := range strs(r.v[key]) {
			out = append(out, b.policy(s, depth+1)...)
		}
	}
	for _, st := range blocks(r.v, "statement") {
		s := statement{Allow: !strings.EqualFold(str(st["effect"]), "Deny")}
		s.Actions = strs(st["actions"])
		if na := strs(st["not_actions"]); len(na) > 0 {
			s.Actions, s.NotAction = na, true
		}
		s.Resources = strs(st["resources"])
		if nr := strs(st["not_resources"]); len(nr) > 0 {
			s.Resources, s.NotResource = nr, true
		}
		for _, p := range blocks(st, "principals") {
			s.AddPrincipal(str(p["type"]), strs(p["identifiers"]))
		}
		for _, c := range blocks(st, "condition") {
			s.AddCondition(str(c["test"]), str(c["variable"]), strs(c["values"]))
		}
		out = append(out, s)
	}
	for _, key := range []string{"override_policy_documents", "override_json"} {
		for _, s := range strs(r.v[key]) {
			out = append(out, b.policy(s, depth+1)...)
		}
	}
	return out
}

// policyDoc reads the Statement of a decoded JSON policy.
func policyDoc(doc map[string]any) []statement {
	return iam.PolicyStatements(doc)
}
