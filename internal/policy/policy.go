// Package policy evaluates the scope file's policies: CEL expressions
// (cel.dev/cel-go) over an attack path or an exposure and its asset, each
// with an action (fail, warn, ticket, notify).
//
// A path policy sees path and asset (the crown jewel's asset); an
// exposure policy sees exposure and asset (the exposure's asset). The
// variables are maps:
//
//	path:     id, entry, jewel, risk, likelihood, validated, length,
//	          rules (the steps' rule names), exposures (ids),
//	          target {key, value, capability}
//	exposure: id, vuln_id, vuln_ids, rule_id, severity, kev, status, kind,
//	          title, package, version, fixed_version, tools, first_seen
//	asset:    key, kind, name, owner, service, criticality, environment,
//	          internet_exposed, crown_jewel (its value, 0 when none),
//	          labels
//
// Expressions are compiled once, type-checked against these variables and
// bounded in cost, so a policy cannot run away; input data never becomes
// code.
package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"

	"github.com/ctem-dev/ctem/internal/estate/scope"
)

// costLimit bounds the evaluation cost of one expression on one subject
// (cel-go's runtime cost units): far above any sensible rule, far below
// what would stall an evaluation over a million exposures.
const costLimit = 100_000

// Policy is a compiled policy.
type Policy struct {
	scope.Policy
	prg cel.Program
	// refs are the variable fields the expression reads, to explain a
	// match ("path.target.value").
	refs []ref
}

type ref struct {
	text string
	prg  cel.Program
}

// Set is the compiled policies of a scope, in file order.
type Set struct {
	Policies []*Policy
}

// env returns the CEL environment of a policy of the given kind.
func env(on string) (*cel.Env, error) {
	m := cel.MapType(cel.StringType, cel.DynType)
	vars := []cel.EnvOption{cel.Variable("asset", m)}
	if on == "path" {
		vars = append(vars, cel.Variable("path", m))
	} else {
		vars = append(vars, cel.Variable("exposure", m))
	}
	return cel.NewEnv(vars...)
}

// refRE finds the variable fields an expression reads.
var refRE = regexp.MustCompile(`\b(?:path|exposure|asset)(?:\.[A-Za-z_][A-Za-z0-9_]*)+`)

// Compile compiles the scope's policies. Every invalid expression is an
// error (a *scope.Error, joined) placed at its line and column in the
// scope file, with CEL's message; a policy whose expression is not
// boolean is an error too.
func Compile(sc *scope.Scope) (*Set, error) {
	set := &Set{}
	var errs []error
	for i, p := range sc.Policies {
		cp, err := compileOne(p)
		if err != nil {
			errs = append(errs, placed(sc, i, p, err))
			continue
		}
		set.Policies = append(set.Policies, cp)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

// exprError is a CEL issue at a line (1-based) and column (0-based) of
// the expression.
type exprError struct {
	line, col int
	msg       string
}

func (e *exprError) Error() string { return e.msg }

func compileOne(p scope.Policy) (*Policy, error) {
	if p.On != "path" && p.On != "exposure" {
		return nil, fmt.Errorf("on %q is not path or exposure", p.On)
	}
	e, err := env(p.On)
	if err != nil {
		return nil, err
	}
	ast, iss := e.Compile(p.Expr)
	if iss.Err() != nil {
		errs := iss.Errors()
		if len(errs) > 0 {
			first := errs[0]
			return nil, &exprError{line: first.Location.Line(), col: first.Location.Column(), msg: first.Message}
		}
		return nil, iss.Err()
	}
	if !ast.OutputType().IsExactType(cel.BoolType) && !ast.OutputType().IsExactType(cel.DynType) {
		return nil, &exprError{line: 1, col: 0, msg: fmt.Sprintf("the expression is %s, not a bool", ast.OutputType())}
	}
	prg, err := e.Program(ast, cel.CostLimit(costLimit))
	if err != nil {
		return nil, err
	}
	cp := &Policy{Policy: p, prg: prg}
	seen := map[string]bool{}
	for _, r := range refRE.FindAllString(p.Expr, -1) {
		if seen[r] {
			continue
		}
		seen[r] = true
		rast, iss := e.Compile(r)
		if iss.Err() != nil {
			continue
		}
		rprg, err := e.Program(rast, cel.CostLimit(costLimit))
		if err != nil {
			continue
		}
		cp.refs = append(cp.refs, ref{text: r, prg: rprg})
	}
	return cp, nil
}

// placed returns err as a *scope.Error at the expression's position in
// the scope file.
func placed(sc *scope.Scope, i int, p scope.Policy, err error) error {
	line, col, block := sc.ExprPos(i)
	msg := fmt.Sprintf("policies[%d] %q: %v", i, p.Name, err)
	if ee, ok := errors.AsType[*exprError](err); ok && line > 0 {
		switch {
		case block:
			// A block scalar's lines are indented; the column is the
			// expression's own.
			line += ee.line - 1
			col = ee.col + 1
			msg = fmt.Sprintf("policies[%d] %q: expr line %d column %d: %s", i, p.Name, ee.line, ee.col+1, ee.msg)
		case ee.line == 1:
			col += ee.col
			msg = fmt.Sprintf("policies[%d] %q: %s", i, p.Name, ee.msg)
		default:
			line += ee.line - 1
			col = ee.col + 1
			msg = fmt.Sprintf("policies[%d] %q: %s", i, p.Name, ee.msg)
		}
	}
	return &scope.Error{File: sc.FileName(), Line: line, Column: col, Msg: msg}
}

// Match is a policy that matched a subject, with the values the
// expression read.
type Match struct {
	Policy  string `json:"policy"`
	Action  string `json:"action"`
	On      string `json:"on"`
	Subject string `json:"subject"`
	// Because lists "field = value" for each field the expression read.
	Because []string `json:"because"`
}

// Eval evaluates the policies of kind on ("path" or "exposure") on one
// subject's variables and returns the matches. An expression that fails
// at run time (a missing field, a cost over the limit) does not match;
// its error is returned joined with the others, the matches kept.
func (s *Set) Eval(on, subject string, vars map[string]any) ([]Match, error) {
	var out []Match
	var errs []error
	for _, p := range s.Policies {
		if p.On != on {
			continue
		}
		v, _, err := p.prg.Eval(vars)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy %q on %s: %w", p.Name, subject, err))
			continue
		}
		if b, ok := v.Value().(bool); !ok || !b {
			continue
		}
		m := Match{Policy: p.Name, Action: p.Action, On: on, Subject: subject}
		for _, r := range p.refs {
			rv, _, err := r.prg.Eval(vars)
			if err != nil {
				continue
			}
			m.Because = append(m.Because, fmt.Sprintf("%s = %v", r.text, rv.Value()))
		}
		out = append(out, m)
	}
	return out, errors.Join(errs...)
}

// Has reports whether the set has a policy of kind on with one of the
// actions.
func (s *Set) Has(on string, actions ...string) bool {
	return slices.ContainsFunc(s.Policies, func(p *Policy) bool { return p.On == on && slices.Contains(actions, p.Action) })
}

// String lists the policies' names.
func (s *Set) String() string {
	var names []string
	for _, p := range s.Policies {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}
