package iam

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Condition is one condition of a statement as written: an operator
// with its set prefix ("ForAnyValue:", "ForAllValues:") and "IfExists"
// suffix, a key and its values.
type Condition struct {
	Op, Key string
	Values  []string
}

// String writes the condition as condition texts hold it: the operator,
// the key and the values as a JSON array ("Bool
// aws:MultiFactorAuthPresent [\"true\"]"); ParseConditionText reads it
// back.
func (c Condition) String() string {
	s := c.Op + " " + c.Key
	if len(c.Values) > 0 {
		v, _ := json.Marshal(c.Values)
		s += " " + string(v)
	}
	return s
}

// Clause is one clause of a condition text: the conditions of an Allow,
// all of which must hold, or (Not) those of a Deny, which denies when all
// of them hold.
type Clause struct {
	Not   bool
	Conds []Condition
}

// String writes a clause: its conditions joined by " & ", after "not "
// for a Deny's.
func (c Clause) String() string {
	parts := make([]string, len(c.Conds))
	for i, x := range c.Conds {
		parts[i] = x.String()
	}
	s := strings.Join(parts, " & ")
	if c.Not {
		s = "not " + s
	}
	return s
}

// ParseConditionText reads the clauses of a condition text: clauses
// separated by ", ", each "not " and conditions separated by " & " (a
// Deny's) or one condition (an Allow's). A condition without values, as
// older inputs wrote them ("Bool aws:MultiFactorAuthPresent"), is read
// with none and evaluates as unknown. What does not parse is one
// condition of that text, unknown too: never an error.
func ParseConditionText(s string) []Clause {
	var out []Clause
	for s = strings.TrimSpace(s); s != ""; {
		var cl Clause
		if rest, ok := strings.CutPrefix(s, "not "); ok {
			cl.Not, s = true, rest
		}
		for {
			c, rest := parseCondition(s)
			cl.Conds = append(cl.Conds, c)
			s = rest
			if r, ok := strings.CutPrefix(s, " & "); ok && cl.Not {
				s = r
				continue
			}
			break
		}
		out = append(out, cl)
		s = strings.TrimPrefix(strings.TrimPrefix(s, ","), " ")
	}
	return out
}

// parseCondition reads one condition from the start of s and returns the
// rest, beginning with the separator that ended it.
func parseCondition(s string) (Condition, string) {
	var c Condition
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return Condition{Op: s}, ""
	}
	c.Op, s = s[:i], s[i+1:]
	end := strings.IndexAny(s, " ,")
	if end < 0 {
		c.Key = s
		return c, ""
	}
	c.Key, s = s[:end], s[end:]
	if strings.HasPrefix(s, " [") {
		if n := arrayEnd(s[1:]); n > 0 {
			var vals []string
			if json.Unmarshal([]byte(s[1:1+n]), &vals) == nil {
				c.Values = vals
			}
			s = s[1+n:]
		}
	}
	return c, s
}

// arrayEnd returns the length of the JSON array of strings s begins
// with, or 0.
func arrayEnd(s string) int {
	inStr, esc := false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case esc:
			esc = false
		case inStr && ch == '\\':
			esc = true
		case ch == '"':
			inStr = !inStr
		case !inStr && ch == ']':
			return i + 1
		}
	}
	return 0
}

// Context is what the analysis knows of the request an attacker makes
// with a principal's credentials: the caller, and the fact that stolen
// credentials carry no MFA. Empty fields are unknown.
type Context struct {
	// Principal is the caller's ARN (a user's, or a role's for its
	// sessions).
	Principal string
	// Account is the caller's account id; from Principal when empty.
	Account string
	// Type is "user" or "role"; from Principal when empty.
	Type string
}

// PrincipalContext returns the context of a caller known by its ARN
// (arn:aws:iam::ACCOUNT:user/NAME or role/NAME); an ARN with an Unknown
// field, or no IAM ARN, gives what it can of type and account.
func PrincipalContext(arn string) Context {
	var ctx Context
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[2] != "iam" {
		return ctx
	}
	switch {
	case strings.HasPrefix(f[5], "user/"):
		ctx.Type = "user"
	case strings.HasPrefix(f[5], "role/"):
		ctx.Type = "role"
	}
	if strings.Contains(arn, Unknown) {
		return ctx
	}
	if len(f[4]) == 12 {
		ctx.Account = f[4]
	}
	ctx.Principal = arn
	return ctx
}

func (ctx Context) account() string {
	if ctx.Account != "" {
		return ctx.Account
	}
	return PrincipalContext(ctx.Principal).Account
}

func (ctx Context) typ() string {
	if ctx.Type != "" {
		return ctx.Type
	}
	return PrincipalContext(ctx.Principal).Type
}

// tri is a three-valued answer: yes, no, or unknown.
type tri uint8

const (
	unknown tri = iota
	yes
	no
)

// world is one value a condition key may have in a request: absent, a
// value, or present with a value the analysis does not know.
type world struct {
	absent, unknownValue bool
	value                string
	ip                   string // "outside": an address of the attacker's, in no range but /0
}

// domain is what a key may be in the attacker's request: the worlds
// possible and whether the attacker picks among them (chosen) or the
// environment does (the analysis knows not which).
type domain struct {
	worlds []world
	chosen bool
	free   bool // any value the attacker sends
}

// chosenKeys are request parameters the attacker sets freely: a
// condition on them holds or fails as the attacker wishes.
var chosenKeys = map[string]bool{
	"aws:requestedregion": true, "aws:tagkeys": true, "aws:securetransport": true,
	"s3:x-amz-acl": true, "s3:x-amz-server-side-encryption": true, "s3:x-amz-server-side-encryption-aws-kms-key-id": true,
	"s3:prefix": true, "s3:delimiter": true, "s3:max-keys": true, "s3:signatureversion": true, "s3:authtype": true,
	"s3:x-amz-content-sha256": true, "s3:locationconstraint": true, "s3:x-amz-storage-class": true,
	"s3:x-amz-grant-read": true, "s3:x-amz-grant-write": true, "s3:x-amz-grant-full-control": true,
	"ec2:instancetype": true, "ec2:region": true, "iam:passedtoservice": true,
	"sts:rolesessionname": true, "sts:sourceidentity": true, "sts:transitivetagkeys": true,
}

// keyDomain returns the domain of key in ctx, or nil when unknown.
func keyDomain(key string, ctx Context) *domain {
	k := strings.ToLower(key)
	one := func(v string) *domain { return &domain{worlds: []world{{value: v}}} }
	absent := &domain{worlds: []world{{absent: true}}}
	switch {
	case chosenKeys[k] || strings.HasPrefix(k, "aws:requesttag/"):
		return &domain{chosen: true, free: true}
	case k == "aws:principalarn":
		if ctx.Principal != "" {
			return one(ctx.Principal)
		}
	case k == "aws:principalaccount":
		if a := ctx.account(); a != "" {
			return one(a)
		}
	case k == "aws:principaltype":
		switch ctx.typ() {
		case "user":
			return one("User")
		case "role":
			return one("AssumedRole")
		}
	case k == "aws:username":
		if ctx.typ() == "user" && ctx.Principal != "" {
			return one(ctx.Principal[strings.LastIndexByte(ctx.Principal, '/')+1:])
		}
	case k == "aws:multifactorauthpresent":
		// Long-term keys carry no MFA key at all; a role's session,
		// assumed without MFA by whoever stole the caller's
		// credentials, carries false.
		switch ctx.typ() {
		case "user":
			return absent
		case "role":
			return one("false")
		}
		return &domain{worlds: []world{{absent: true}, {value: "false"}}}
	case k == "aws:multifactorauthage":
		return absent
	case k == "aws:principalisawsservice", k == "aws:viaawsservice":
		return one("false")
	case k == "aws:calledvia", k == "aws:calledviafirst", k == "aws:calledvialast", k == "aws:sourcearn", k == "aws:sourceaccount", k == "aws:sourceorgid":
		return absent
	case k == "aws:sourceip":
		// From the internet an attacker's address lies in no range but
		// 0.0.0.0/0; from a foothold inside, the analysis knows not.
		return &domain{chosen: true, worlds: []world{{ip: "outside"}, {unknownValue: true}}}
	case k == "aws:sourcevpc", k == "aws:sourcevpce", k == "aws:vpcsourceip":
		return &domain{chosen: true, worlds: []world{{absent: true}, {unknownValue: true}}}
	}
	return nil
}

// base splits an operator into its base name, its set prefix ("anyvalue",
// "allvalues", "") and whether it ends in IfExists.
func base(op string) (name, set string, ifExists bool) {
	name = op
	if p, rest, ok := strings.Cut(name, ":"); ok {
		set, name = strings.ToLower(p), rest
		set = strings.TrimPrefix(set, "for")
	}
	if n, ok := strings.CutSuffix(name, "IfExists"); ok {
		name, ifExists = n, true
	}
	return strings.ToLower(name), set, ifExists
}

// negated operators hold when the key is absent.
var negated = map[string]bool{
	"stringnotequals": true, "stringnotequalsignorecase": true, "stringnotlike": true,
	"arnnotequals": true, "arnnotlike": true, "numericnotequals": true, "notipaddress": true,
	"datenotequals": true,
}

// inWorld evaluates c in one world: yes, no, or unknown.
func inWorld(c Condition, w world) tri {
	op, set, ifExists := base(c.Op)
	if op == "null" {
		if len(c.Values) == 0 {
			return unknown
		}
		// Null true: the key must be absent; Null false: present.
		wantAbsent := slices.ContainsFunc(c.Values, func(v string) bool { return strings.EqualFold(v, "true") })
		return fromBool(w.absent == wantAbsent)
	}
	if len(c.Values) == 0 {
		return unknown
	}
	if w.absent {
		switch {
		case ifExists, set == "allvalues":
			return yes
		case set == "anyvalue":
			return no
		}
		return fromBool(negated[op])
	}
	if w.unknownValue {
		return unknown
	}
	if w.ip != "" {
		if op != "ipaddress" && op != "notipaddress" {
			return unknown
		}
		all := slices.ContainsFunc(c.Values, func(v string) bool { return v == "0.0.0.0/0" || v == "::/0" })
		return fromBool(all == (op == "ipaddress"))
	}
	return match(op, c.Values, w.value)
}

func fromBool(b bool) tri {
	if b {
		return yes
	}
	return no
}

// match evaluates a base operator on a known value.
func match(op string, values []string, v string) tri {
	has := func(f func(string) bool) bool { return slices.ContainsFunc(values, f) }
	switch op {
	case "stringequals":
		return fromBool(has(func(x string) bool { return x == v }))
	case "stringnotequals":
		return fromBool(!has(func(x string) bool { return x == v }))
	case "stringequalsignorecase":
		return fromBool(has(func(x string) bool { return strings.EqualFold(x, v) }))
	case "stringnotequalsignorecase":
		return fromBool(!has(func(x string) bool { return strings.EqualFold(x, v) }))
	case "stringlike", "arnlike", "arnequals":
		return fromBool(has(func(x string) bool { return Glob(x, v) }))
	case "stringnotlike", "arnnotlike", "arnnotequals":
		return fromBool(!has(func(x string) bool { return Glob(x, v) }))
	case "bool":
		return fromBool(has(func(x string) bool { return strings.EqualFold(x, v) }))
	case "ipaddress", "notipaddress":
		a, err := netip.ParseAddr(v)
		if err != nil {
			return unknown
		}
		in := has(func(x string) bool {
			p, err := netip.ParsePrefix(x)
			if err != nil {
				if b, err := netip.ParseAddr(x); err == nil {
					return b == a
				}
				return false
			}
			return p.Contains(a)
		})
		return fromBool(in == (op == "ipaddress"))
	case "numericequals", "numericnotequals", "numericlessthan", "numericlessthanequals", "numericgreaterthan", "numericgreaterthanequals":
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return unknown
		}
		hit := has(func(x string) bool {
			m, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return false
			}
			switch op {
			case "numericequals", "numericnotequals":
				return n == m
			case "numericlessthan":
				return n < m
			case "numericlessthanequals":
				return n <= m
			case "numericgreaterthan":
				return n > m
			}
			return n >= m
		})
		if op == "numericnotequals" {
			hit = !hit
		}
		return fromBool(hit)
	}
	return unknown
}

// outcome is what a condition allows: whether the attacker can make it
// hold, and whether the attacker can make it fail.
type outcome struct{ canHold, canFail tri }

// eval evaluates one condition in ctx.
func eval(c Condition, ctx Context) outcome {
	d := keyDomain(c.Key, ctx)
	if d == nil {
		return outcome{}
	}
	if d.free {
		return outcome{yes, yes}
	}
	var res []tri
	for _, w := range d.worlds {
		res = append(res, inWorld(c, w))
	}
	all := func(t tri) bool { return !slices.ContainsFunc(res, func(r tri) bool { return r != t }) }
	if d.chosen {
		// The attacker picks the world: it can make the condition
		// hold when some world surely holds it.
		o := outcome{unknown, unknown}
		switch {
		case slices.Contains(res, yes):
			o.canHold = yes
		case all(no):
			o.canHold = no
		}
		switch {
		case slices.Contains(res, no):
			o.canFail = yes
		case all(yes):
			o.canFail = no
		}
		return o
	}
	switch {
	case all(yes):
		return outcome{yes, no}
	case all(no):
		return outcome{no, yes}
	}
	return outcome{}
}

// Decision is what a condition text decides for a request in a context.
type Decision uint8

// The decisions: the conditions let the request through, stop it, or
// depend on what the analysis does not know.
const (
	Unknowable Decision = iota
	Allowed
	Blocked
)

// Decide evaluates the clauses of a condition text in ctx: Blocked when
// an Allow's conditions cannot all hold or a Deny's surely all hold,
// Allowed when every Allow's conditions can be made to hold and every
// Deny avoided, Unknowable otherwise. The clauses are taken as
// independent: an attacker who must satisfy two conditions on one key
// at once is assumed able to when each can be.
func Decide(clauses []Clause, ctx Context) Decision {
	d := Allowed
	for _, cl := range clauses {
		switch clauseResult(cl, ctx) {
		case no:
			return Blocked
		case unknown:
			d = Unknowable
		}
	}
	return d
}

// clauseResult is whether a clause lets the request through.
func clauseResult(cl Clause, ctx Context) tri {
	r := yes
	for _, c := range cl.Conds {
		o := eval(c, ctx)
		if !cl.Not {
			switch o.canHold {
			case no:
				return no
			case unknown:
				r = unknown
			}
			continue
		}
		// A Deny is avoided when any of its conditions can fail.
		switch o.canFail {
		case yes:
			return yes
		case unknown:
			r = unknown
		}
	}
	if cl.Not && r == yes {
		return no // every condition of the Deny surely holds
	}
	return r
}

// Resolve settles what the conditions of a principal's statements decide
// in ctx: an Allow whose condition cannot hold, or a Deny whose condition
// the attacker can make fail, is dropped; a condition that holds as the
// attacker wishes is removed from its statement (an Allow's that can
// hold, a Deny's that cannot fail). What remains are the conditions the
// analysis cannot decide. Statements without conditions are returned as
// they are; sts is not modified.
func Resolve(sts []Statement, ctx Context) []Statement {
	if !slices.ContainsFunc(sts, func(s Statement) bool { return len(s.Conditions) > 0 }) {
		return sts
	}
	out := make([]Statement, 0, len(sts))
next:
	for _, s := range sts {
		if len(s.Conditions) == 0 {
			out = append(out, s)
			continue
		}
		var keep []Condition
		for _, c := range s.Conditions {
			o := eval(c, ctx)
			switch {
			case s.Allow && o.canHold == no, !s.Allow && o.canFail == yes:
				continue next
			case s.Allow && o.canHold == yes, !s.Allow && o.canFail == no:
			default:
				keep = append(keep, c)
			}
		}
		s.Conditions = keep
		out = append(out, s)
	}
	return out
}

// ConditionsText writes an Allow's conditions as a condition text: one
// clause of each condition, joined by ", ".
func ConditionsText(cs []Condition) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, ", ")
}

// Settle resolves the conditions of one Allow in ctx (see Resolve): ok is
// false when they cannot hold, rest holds those left undecided.
func Settle(conds []Condition, ctx Context) (rest []Condition, ok bool) {
	if len(conds) == 0 {
		return nil, true
	}
	r := Resolve([]Statement{{Allow: true, Conditions: conds}}, ctx)
	if len(r) == 0 {
		return nil, false
	}
	return r[0].Conditions, true
}
