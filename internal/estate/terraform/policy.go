package terraform

import (
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
)

// statement is one IAM policy statement, as written.
type statement struct {
	allow       bool
	actions     []string
	notAction   bool
	resources   []string
	notResource bool
	anyone      bool                // Principal "*" or {"AWS": "*"}
	principals  map[string][]string // AWS, Service, Federated -> ids
	cond        bool
	conds       []string // "Operator key", sorted
}

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
		s := statement{allow: !strings.EqualFold(str(st["effect"]), "Deny")}
		s.actions = strs(st["actions"])
		if na := strs(st["not_actions"]); len(na) > 0 {
			s.actions, s.notAction = na, true
		}
		s.resources = strs(st["resources"])
		if nr := strs(st["not_resources"]); len(nr) > 0 {
			s.resources, s.notResource = nr, true
		}
		for _, p := range blocks(st, "principals") {
			s.addPrincipal(str(p["type"]), strs(p["identifiers"]))
		}
		for _, c := range blocks(st, "condition") {
			s.conds = appendNew(s.conds, str(c["test"])+" "+str(c["variable"]))
		}
		slices.Sort(s.conds)
		s.cond = len(s.conds) > 0
		out = append(out, s)
	}
	for _, key := range []string{"override_policy_documents", "override_json"} {
		for _, s := range strs(r.v[key]) {
			out = append(out, b.policy(s, depth+1)...)
		}
	}
	return out
}

func (s *statement) addPrincipal(typ string, ids []string) {
	if typ == "*" {
		s.anyone = true
		return
	}
	for _, id := range ids {
		if id == "*" && typ == "AWS" {
			s.anyone = true
			continue
		}
		if s.principals == nil {
			s.principals = map[string][]string{}
		}
		s.principals[typ] = append(s.principals[typ], id)
	}
}

// policyDoc reads the Statement of a decoded JSON policy.
func policyDoc(doc map[string]any) []statement {
	var list []any
	switch st := doc["Statement"].(type) {
	case []any:
		list = st
	case map[string]any:
		list = []any{st}
	}
	var out []statement
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		s := statement{allow: !strings.EqualFold(str(m["Effect"]), "Deny")}
		s.actions = strs(m["Action"])
		if na := strs(m["NotAction"]); len(na) > 0 {
			s.actions, s.notAction = na, true
		}
		s.resources = strs(m["Resource"])
		if nr := strs(m["NotResource"]); len(nr) > 0 {
			s.resources, s.notResource = nr, true
		}
		switch p := m["Principal"].(type) {
		case string:
			if p == "*" {
				s.anyone = true
			}
		case map[string]any:
			for typ, ids := range p {
				s.addPrincipal(typ, strs(ids))
			}
		}
		if c, ok := m["Condition"].(map[string]any); ok {
			for op, kv := range c {
				if kv, ok := kv.(map[string]any); ok {
					for k := range kv {
						s.conds = append(s.conds, op+" "+k)
					}
				}
			}
			slices.Sort(s.conds)
			s.cond = len(s.conds) > 0
		}
		out = append(out, s)
	}
	return out
}
