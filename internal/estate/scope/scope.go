// Package scope reads ctem.yaml, the scope file that tells ctem what the
// estate is for: business services and their owners, crown jewels,
// attacker entry points, ownership rules, environments and the SLA per
// priority. It decodes the file strictly (unknown keys are errors) and
// reports every problem with its file, line and column.
package scope

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxSize bounds the scope file. A scope file is configuration written by
// people; anything larger is a mistake (or an attack on the reader).
const maxSize = 4 << 20

// Criticality levels of a business service, most critical first.
var Criticalities = []string{"critical", "high", "medium", "low"}

// DataClasses are the kinds of data a crown jewel may hold.
var DataClasses = []string{"pii", "pci", "phi", "credentials", "source-code"}

// The network entry points. An entry point is one of these or an identity
// whose credentials are assumed stolen.
const (
	EntryInternet        = "internet"
	EntryInternalNetwork = "internal-network"
)

// Scope is a decoded scope file. The zero Scope is valid: it has no
// services or crown jewels, and its entry point is the internet (see
// Entries).
type Scope struct {
	// Version is the file format's version; 0 (absent) and 1 mean the
	// current one.
	Version int `yaml:"version"`
	// Services are the business services, in file order.
	Services []Service `yaml:"services"`
	// CrownJewels are the assets an attacker is after, with their value.
	CrownJewels []CrownJewel `yaml:"crown_jewels"`
	// EntryPoints are where attack paths start. nil (the key absent)
	// means the internet; an empty list means no entry point.
	EntryPoints []EntryPoint `yaml:"entry_points"`
	// Public selects the assets meant to be reachable from the internet
	// (a storefront, a public API): they stay entry points, but the fix
	// plan never proposes closing their internet exposure.
	Public []Selector `yaml:"public"`
	// Ownership maps assets to owning teams; the first matching rule wins.
	Ownership []OwnershipRule `yaml:"ownership"`
	// Environments name groups of assets (production, staging); the first
	// matching environment wins.
	Environments []Environment `yaml:"environments"`
	// SLA is the time allowed to fix a weakness, per priority.
	SLA SLA `yaml:"sla"`
	// Acceptance bounds risk acceptances.
	Acceptance Acceptance `yaml:"acceptance"`
	// Policies are rules over paths, exposures and assets written in CEL,
	// each with an action (see package policy).
	Policies []Policy `yaml:"policies"`
	// Tickets routes the tickets of remediation actions by owner.
	Tickets Tickets `yaml:"tickets"`
	// Validation says what ctem validate may probe (nothing by default).
	Validation Validation `yaml:"validation"`

	file string     // the name errors carry
	root *yaml.Node // the document, for error positions; nil when built in code
}

// Service is a business service: a named group of assets with an owner
// and a criticality.
type Service struct {
	Name        string     `yaml:"name"`
	Owner       string     `yaml:"owner"`
	Criticality string     `yaml:"criticality"`
	Match       []Selector `yaml:"match"`
}

// CrownJewel is a group of assets whose compromise is the harm that
// matters. Value, from 1 to 10, scales the risk of every path that ends
// there; Data lists the classes of data it holds.
type CrownJewel struct {
	Name  string     `yaml:"name"`
	Value int        `yaml:"value"`
	Data  []string   `yaml:"data"`
	Match []Selector `yaml:"match"`
}

// EntryPoint is where an attacker starts: the internet, the internal
// network, or an identity whose credentials are assumed stolen. In the
// file it is written "internet", "internal-network" or {identity: KEY}.
type EntryPoint struct {
	// Network is EntryInternet or EntryInternalNetwork; empty for an
	// identity entry point.
	Network string `yaml:"-"`
	// Identity is the asset key of an identity assumed compromised.
	Identity string `yaml:"identity"`
}

// OwnershipRule gives the assets its selectors match to a team.
type OwnershipRule struct {
	Team  string     `yaml:"team"`
	Match []Selector `yaml:"match"`
}

// Environment names the assets its selectors match.
type Environment struct {
	Name  string     `yaml:"name"`
	Match []Selector `yaml:"match"`
}

// SLA is the time allowed to fix a weakness of each priority. A zero
// duration means no SLA for that priority. The bands by severity
// (Critical to Low) apply to every open exposure; the others apply on
// top to exposures with that property, and the shortest that applies
// wins (see package sla).
type SLA struct {
	Critical Duration `yaml:"critical"`
	High     Duration `yaml:"high"`
	Medium   Duration `yaml:"medium"`
	Low      Duration `yaml:"low"`
	// KEV is the time allowed for a known exploited vulnerability (CISA
	// KEV); KEVInternet for one on an asset reached from the internet.
	KEV         Duration `yaml:"kev"`
	KEVInternet Duration `yaml:"kev_internet"`
	// Internet is the time allowed for any weakness on an asset reached
	// from the internet.
	Internet Duration `yaml:"internet"`
	// CrownJewel is the time allowed for a weakness on an open attack
	// path to a crown jewel whose value is at least CrownJewelMinValue
	// (any crown jewel when 0).
	CrownJewel         Duration `yaml:"crown_jewel"`
	CrownJewelMinValue int      `yaml:"crown_jewel_min_value"`
}

// Acceptance bounds risk acceptances: Max is the longest expiry an
// acceptance may have (none when zero).
type Acceptance struct {
	Max Duration `yaml:"max"`
}

// Validation is what the safe probes of ctem validate may contact.
type Validation struct {
	// Allow lists the addresses probes may contact, as IP addresses or
	// CIDR prefixes; nothing outside them is ever contacted.
	Allow []string `yaml:"allow"`
	// Targets name the address in front of each entry asset.
	Targets []ValidationTarget `yaml:"targets"`
}

// ValidationTarget is the address (host:port) at which an entry asset is
// reachable, and what to ask it beyond a TCP connect.
type ValidationTarget struct {
	Asset   string `yaml:"asset"`
	Address string `yaml:"address"`
	TLS     bool   `yaml:"tls"`
	HTTP    bool   `yaml:"http"`
}

// Tickets says where the tickets of remediation actions go.
type Tickets struct {
	// Routes are tried in order: the first whose team is the action's
	// owner wins; a route without a team is the default.
	Routes []TicketRoute `yaml:"routes"`
}

// TicketRoute sends a team's tickets to a project (a Jira project key, a
// GitHub owner/repository), with labels and an assignee.
type TicketRoute struct {
	Team     string   `yaml:"team"`
	Project  string   `yaml:"project"`
	Labels   []string `yaml:"labels"`
	Assignee string   `yaml:"assignee"`
}

// Policy actions.
const (
	ActionFail   = "fail"
	ActionWarn   = "warn"
	ActionTicket = "ticket"
	ActionNotify = "notify"
)

// PolicyActions are the actions a policy may take.
var PolicyActions = []string{ActionFail, ActionWarn, ActionTicket, ActionNotify}

// Policy is a rule in CEL over a path, an exposure and its asset (see
// package policy for the variables), with the action to take on a match.
type Policy struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// On is what the rule is evaluated over: "path" or "exposure".
	On     string `yaml:"on"`
	Expr   string `yaml:"expr"`
	Action string `yaml:"action"`
}

// ExprPos returns where policy i's expression text begins in the file:
// the line and column of its first character (after an opening quote;
// the line after the indicator of a block scalar), zeros for a scope
// built in code. An error in the expression is placed in the file from
// it.
func (s *Scope) ExprPos(i int) (line, col int, block bool) {
	line, col = s.pos("policies", i, "expr")
	if s.root == nil || line == 0 {
		return 0, 0, false
	}
	n := findNode(docContent(s.root), line, col)
	if n == nil {
		return line, col, false
	}
	switch n.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		return line, col + 1, false
	case yaml.LiteralStyle, yaml.FoldedStyle:
		return line + 1, 0, true
	}
	return line, col, false
}

// findNode returns the scalar node at line and column.
func findNode(n *yaml.Node, line, col int) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Line == line && n.Column == col {
		return n
	}
	for _, c := range n.Content {
		if f := findNode(c, line, col); f != nil {
			return f
		}
	}
	return nil
}

// FileName returns the name errors about the scope carry.
func (s *Scope) FileName() string { return s.fileName() }

// For returns the SLA of a priority (critical, high, medium, low) and
// whether one is set.
func (s SLA) For(priority string) (time.Duration, bool) {
	var d Duration
	switch strings.ToLower(priority) {
	case "critical":
		d = s.Critical
	case "high":
		d = s.High
	case "medium":
		d = s.Medium
	case "low":
		d = s.Low
	}
	return time.Duration(d), d > 0
}

// Duration is a length of time written as a number and a unit: "7d",
// "2w", "36h", "90m". Days are 24 hours; weeks are 7 days.
type Duration time.Duration

// maxDuration is the longest Duration: about 100 years, far beyond any
// SLA or expiry, and far below where time.Duration overflows (292
// years), which "999999w" would.
const maxDuration = 5200 * 7 * 24 * time.Hour

var durationRE = regexp.MustCompile(`^(\d{1,6})\s*([mhdw])$`)

// ParseDuration reads a Duration ("7d", "2w", "36h", "90m").
func ParseDuration(s string) (Duration, error) {
	m := durationRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("duration %q: want a number and a unit m, h, d or w, like 7d", s)
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
	if time.Duration(n) > maxDuration/unit {
		return 0, fmt.Errorf("duration %q: longer than %d weeks", s, int64(maxDuration/(7*24*time.Hour)))
	}
	return Duration(time.Duration(n) * unit), nil
}

// String writes d in the largest unit that divides it.
func (d Duration) String() string {
	t := time.Duration(d)
	for _, u := range []struct {
		s string
		d time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}, {"h", time.Hour}} {
		if t > 0 && t%u.d == 0 {
			return strconv.FormatInt(int64(t/u.d), 10) + u.s
		}
	}
	return strconv.FormatInt(int64(t/time.Minute), 10) + "m"
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "a duration must be a string like 7d")
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return typeError(n, "%v", err)
	}
	*d = v
	return nil
}

// UnmarshalYAML implements yaml.Unmarshaler: an entry point is a scalar
// naming a network or a mapping with the single key "identity".
func (e *EntryPoint) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*e = EntryPoint{Network: n.Value}
		return nil
	case yaml.MappingNode:
		*e = EntryPoint{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value != "identity" {
				return typeError(k, "field %s not found in type scope.EntryPoint", k.Value)
			}
			if v.Kind != yaml.ScalarNode {
				return typeError(v, "identity must be an asset key")
			}
			e.Identity = v.Value
		}
		return nil
	}
	return typeError(n, "an entry point is internet, internal-network or {identity: KEY}")
}

// typeError reports a problem at node n in the form the decoder's own
// errors take, so that Parse can place it.
func typeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: column %d: %s", n.Line, n.Column, fmt.Sprintf(format, args...))}}
}

// Entries returns the entry points: those of the file, or the internet
// when the file names none.
func (s *Scope) Entries() []EntryPoint {
	if s.EntryPoints == nil {
		return []EntryPoint{{Network: EntryInternet}}
	}
	return s.EntryPoints
}

// Default returns the scope ctem assumes without a scope file: the
// internet as the entry point, no crown jewels, no owners.
func Default() *Scope {
	return &Scope{Version: 1, EntryPoints: []EntryPoint{{Network: EntryInternet}}, file: "ctem.yaml"}
}

// Error is a problem in a scope file at a line and column (both 0 when
// unknown).
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
}

// Error reads "file:line:column: message".
func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Load reads, decodes and validates the scope file at path. The error
// joins every problem found, each an *Error with its position.
func Load(path string) (*Scope, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open scope file: %w", err)
	}
	defer f.Close()
	s, err := Parse(path, f)
	if err != nil {
		return nil, err
	}
	if errs := s.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// Parse decodes a scope file read from r; name is the file name errors
// carry. Unknown keys and values of the wrong type are errors (each an
// *Error, joined). Parse does not check values; see Validate. An empty
// file decodes to the zero Scope.
func Parse(name string, r io.Reader) (*Scope, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read scope file: %w", err)
	}
	if len(data) > maxSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("scope file larger than %d bytes", maxSize)}
	}
	s := &Scope{file: name}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return s, nil
		}
		return nil, positioned(name, nil, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return nil, positioned(name, &root, err)
		}
		return nil, &Error{File: name, Line: line, Column: 1, Msg: "a scope file holds one YAML document"}
	}
	if doc := docContent(&root); doc != nil && doc.Kind != yaml.MappingNode {
		if doc.Kind == yaml.ScalarNode && doc.Tag == "!!null" {
			return s, nil
		}
		return nil, &Error{File: name, Line: doc.Line, Column: doc.Column, Msg: "a scope file is a mapping of keys such as services and crown_jewels"}
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(s); err != nil {
		return nil, positioned(name, &root, err)
	}
	s.file, s.root = name, &root
	return s, nil
}

func docContent(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return n.Content[0]
	}
	return n
}

var (
	lineRE     = regexp.MustCompile(`^line (\d+): (?:column (\d+): )?(.*)$`)
	yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	fieldRE    = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	valueRE    = regexp.MustCompile("^cannot unmarshal !!\\w+ `(.*)` into")
	typeNameRE = regexp.MustCompile(`in(?:to)? (?:type )?\*?scope\.(\w+)`)
)

// positioned turns a decoder error into *Error values with positions.
// The decoder gives lines only; the column comes from the node the
// message names (an unknown key), else the first node on that line.
func positioned(name string, root *yaml.Node, err error) error {
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		var errs []error
		for _, msg := range te.Errors {
			errs = append(errs, placeMessage(name, root, msg))
		}
		return errors.Join(errs...)
	}
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
}

func placeMessage(name string, root *yaml.Node, msg string) error {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return &Error{File: name, Msg: msg}
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	text := m[3]
	if f := fieldRE.FindStringSubmatch(text); f != nil {
		text = fmt.Sprintf("unknown key %q", f[1])
		if col == 0 {
			col = findColumn(root, line, f[1])
		}
	}
	if v := valueRE.FindStringSubmatch(text); v != nil && col == 0 {
		col = findColumn(root, line, v[1])
	}
	text = typeNameRE.ReplaceAllStringFunc(text, func(s string) string {
		return "in " + strings.ToLower(typeNameRE.FindStringSubmatch(s)[1])
	})
	if col == 0 {
		col = findColumn(root, line, "")
	}
	return &Error{File: name, Line: line, Column: col, Msg: text}
}

// findColumn returns the column of the first node on line whose value is
// value (any node when value is empty), or 0.
func findColumn(n *yaml.Node, line int, value string) int {
	if n == nil {
		return 0
	}
	if n.Line == line && n.Kind == yaml.ScalarNode && (value == "" || n.Value == value) {
		return n.Column
	}
	for _, c := range n.Content {
		if col := findColumn(c, line, value); col > 0 {
			return col
		}
	}
	return 0
}

// pos returns the line and column of the value at path (mapping keys as
// strings, sequence indexes as ints), or of the deepest node found on the
// way; zeros for a scope built in code.
func (s *Scope) pos(path ...any) (line, col int) {
	if s.root == nil {
		return 0, 0
	}
	n := docContent(s.root)
	if n == nil {
		return 0, 0
	}
	line, col = n.Line, n.Column
	for _, p := range path {
		var next *yaml.Node
		switch p := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						next = n.Content[i+1]
						if next.Kind == yaml.ScalarNode && next.Tag == "!!null" {
							next = n.Content[i]
						}
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && p >= 0 && p < len(n.Content) {
				next = n.Content[p]
			}
		}
		if next == nil {
			break
		}
		n = next
		line, col = n.Line, n.Column
	}
	return line, col
}

// errorAt returns an *Error placed at path.
func (s *Scope) errorAt(path []any, format string, args ...any) error {
	line, col := s.pos(path...)
	return &Error{File: s.fileName(), Line: line, Column: col, Msg: pathString(path) + ": " + fmt.Sprintf(format, args...)}
}

func (s *Scope) fileName() string {
	if s.file == "" {
		return "ctem.yaml"
	}
	return s.file
}

// pathString writes a path as services[2].criticality.
func pathString(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		}
	}
	return b.String()
}
