package iam

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Statement is one statement of an IAM policy, as written.
type Statement struct {
	Allow       bool
	Actions     []string
	NotAction   bool
	Resources   []string
	NotResource bool
	// AnyPrincipal is Principal "*" or {"AWS": "*"}.
	AnyPrincipal bool
	// Principals are the principals by type (AWS, Service, Federated,
	// CanonicalUser) of a resource or trust policy.
	Principals map[string][]string
	// Conditions are the statement's conditions, sorted by operator and
	// key; all must hold.
	Conditions []Condition
	// Never is true when a condition can no longer hold: a
	// DateLessThan on the current time or on the time a session's token
	// was issued, with every date in the past. Evaluate skips such a
	// statement.
	Never bool
}

// expired reports whether a date condition on the request time can no
// longer hold.
func expired(op, key string, values []string) bool {
	switch strings.ToLower(op) {
	case "datelessthan", "datelessthanequals":
	default:
		return false
	}
	switch strings.ToLower(key) {
	case "aws:currenttime", "aws:tokenissuetime":
	default:
		return false
	}
	if len(values) == 0 {
		return false
	}
	for _, v := range values {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			if t, err = time.Parse("2006-01-02", v); err != nil {
				return false
			}
		}
		if t.After(time.Now()) {
			return false
		}
	}
	return true
}

// ParsePolicy decodes an IAM policy document. A statement that is no
// object is skipped; a document that is no JSON object is an error.
func ParsePolicy(doc []byte) ([]Statement, error) {
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, fmt.Errorf("policy document: %w", err)
	}
	return PolicyStatements(m), nil
}

// PolicyStatements reads the Statement of a decoded policy document.
func PolicyStatements(doc map[string]any) []Statement {
	var list []any
	switch st := doc["Statement"].(type) {
	case []any:
		list = st
	case map[string]any:
		list = []any{st}
	}
	var out []Statement
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		s := Statement{Allow: !strings.EqualFold(text(m["Effect"]), "Deny")}
		s.Actions = texts(m["Action"])
		if na := texts(m["NotAction"]); len(na) > 0 || m["NotAction"] != nil {
			s.Actions, s.NotAction = na, true
		}
		s.Resources = texts(m["Resource"])
		if nr := texts(m["NotResource"]); len(nr) > 0 || m["NotResource"] != nil {
			s.Resources, s.NotResource = nr, true
		}
		switch p := m["Principal"].(type) {
		case string:
			if p == "*" {
				s.AnyPrincipal = true
			}
		case map[string]any:
			for _, typ := range slices.Sorted(mapKeys(p)) {
				s.AddPrincipal(typ, texts(p[typ]))
			}
		}
		if c, ok := m["Condition"].(map[string]any); ok {
			for op, kv := range c {
				if kv, ok := kv.(map[string]any); ok {
					for k, v := range kv {
						s.AddCondition(op, k, conditionValues(v))
					}
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// AddCondition adds a condition, keeping the conditions sorted, and
// marks the statement Never when it is a date that has passed.
func (s *Statement) AddCondition(op, key string, values []string) {
	c := Condition{Op: op, Key: key, Values: values}
	i, _ := slices.BinarySearchFunc(s.Conditions, c, func(a, b Condition) int {
		return strings.Compare(a.Op+" "+a.Key, b.Op+" "+b.Key)
	})
	s.Conditions = slices.Insert(s.Conditions, i, c)
	if expired(op, key, values) {
		s.Never = true
	}
}

// conditionValues reads a condition's values: a string, a number or a
// boolean, or a list of them, each as text.
func conditionValues(v any) []string {
	one := func(e any) (string, bool) {
		switch e := e.(type) {
		case string:
			return e, true
		case bool:
			return strconv.FormatBool(e), true
		case float64:
			return strconv.FormatFloat(e, 'f', -1, 64), true
		case json.Number:
			return e.String(), true
		}
		return "", false
	}
	if l, ok := v.([]any); ok {
		var out []string
		for _, e := range l {
			if s, ok := one(e); ok {
				out = append(out, s)
			}
		}
		return out
	}
	if s, ok := one(v); ok {
		return []string{s}
	}
	return nil
}

// AddPrincipal adds principals of a type; "*" of type AWS (or a type "*")
// is anyone.
func (s *Statement) AddPrincipal(typ string, ids []string) {
	if typ == "*" {
		s.AnyPrincipal = true
		return
	}
	for _, id := range ids {
		if id == "*" && typ == "AWS" {
			s.AnyPrincipal = true
			continue
		}
		if s.Principals == nil {
			s.Principals = map[string][]string{}
		}
		s.Principals[typ] = append(s.Principals[typ], id)
	}
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func text(v any) string {
	s, _ := v.(string)
	return s
}

func texts(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// entry is one way to name a resource of the estate: its ARN (or the
// beginning of the ARNs of its parts, with prefix) as one resource type.
type entry struct {
	res    int32
	arn    string
	typ    string // "service/type"
	prefix bool
}

// Index holds the resources of an estate by ARN, so that a Resource
// pattern finds the resources it matches without testing each: exact ARNs
// are sorted and a pattern scans only the range of its literal beginning;
// ARNs with Unknown fields (Terraform resources not yet created) are
// tested one by one.
type Index struct {
	c        *Catalogue
	entries  []entry
	sorted   []int32 // exact entries by ARN
	fuzzy    []int32 // entries with Unknown fields
	prefixes map[string][]int32
	frozen   bool
	byType   map[string][]int32 // entries by "service/type"
	typeKeys []string
	sets     map[string]Set
	types    map[string][]ActionID
}

// NewIndex returns an empty index over catalogue c.
func NewIndex(c *Catalogue) *Index {
	return &Index{c: c, prefixes: map[string][]int32{}, sets: map[string]Set{}, types: map[string][]ActionID{}}
}

// Catalogue returns the index's catalogue.
func (x *Index) Catalogue() *Catalogue { return x.c }

// Add records that resource res (a number the caller chooses) is named by
// arn as a resource of type typ of service svc ("s3", "bucket"). With
// prefix, arn is the beginning of the ARNs of the resource's parts (a
// bucket's objects: "arn:aws:s3:::b/"). Add must not follow a match.
func (x *Index) Add(res int32, svc, typ, arn string, prefix bool) {
	if x.frozen {
		panic("iam: Index.Add after a match")
	}
	x.entries = append(x.entries, entry{res: res, arn: arn, typ: strings.ToLower(svc) + "/" + typ, prefix: prefix})
}

func (x *Index) freeze() {
	if x.frozen {
		return
	}
	x.frozen = true
	x.byType = map[string][]int32{}
	for i, e := range x.entries {
		if _, ok := x.byType[e.typ]; !ok {
			x.typeKeys = append(x.typeKeys, e.typ)
		}
		x.byType[e.typ] = append(x.byType[e.typ], int32(i))
		switch {
		case strings.Contains(e.arn, Unknown):
			x.fuzzy = append(x.fuzzy, int32(i))
		default:
			x.sorted = append(x.sorted, int32(i))
			if e.prefix {
				x.prefixes[e.arn] = append(x.prefixes[e.arn], int32(i))
			}
		}
	}
	sort.Slice(x.sorted, func(a, b int) bool { return x.entries[x.sorted[a]].arn < x.entries[x.sorted[b]].arn })
}

// match calls fn for each entry the Resource pattern matches.
func (x *Index) match(pattern string, fn func(int32)) {
	x.freeze()
	lit := pattern
	if i := strings.IndexAny(pattern, "*?"); i >= 0 {
		lit = pattern[:i]
	}
	test := func(i int32) {
		e := &x.entries[i]
		if MatchARN(pattern, e.arn, e.prefix) {
			fn(i)
		}
	}
	lo := sort.Search(len(x.sorted), func(k int) bool { return x.entries[x.sorted[k]].arn >= lit })
	for k := lo; k < len(x.sorted) && strings.HasPrefix(x.entries[x.sorted[k]].arn, lit); k++ {
		test(x.sorted[k])
	}
	// Prefix entries shorter than the literal: a bucket's objects under
	// "arn:aws:s3:::b/key*".
	for j := 0; j < len(lit); j++ {
		if lit[j] == '/' {
			for _, i := range x.prefixes[lit[:j+1]] {
				if len(x.entries[i].arn) < len(lit) {
					test(i)
				}
			}
		}
	}
	for _, i := range x.fuzzy {
		test(i)
	}
}

// Grant is what Evaluate finds: a principal may call Action on resource
// Res (-1: on the account, an action that names no existing resource; -2:
// on every resource of Type),
// when Conditions (empty: always) hold: clauses of a condition text (see
// ParseConditionText), all of which must let the request through. Action is one catalogue action,
// or "service:*" when every action of the service on the resource's type
// is allowed, or "*" for an unconditional administrator.
type Grant struct {
	Res int32
	// Type is the "service/type" of every resource the grant is on when
	// Res is -2: all resources of the type hold it alike.
	Type       string
	Action     string
	Conditions []string
	kind       uint8 // a representative's kind, 0 for named actions
}

func (x *Index) set(actions []string, not bool) Set {
	k := strings.Join(actions, "\x00")
	if not {
		k = "!" + k
	}
	s, ok := x.sets[k]
	if !ok {
		s = x.c.ExpandAll(actions, not)
		x.sets[k] = s
	}
	return s
}

// typeActions lists the catalogue actions of a resource type.
func (x *Index) typeActions(typ string) []ActionID {
	if a, ok := x.types[typ]; ok {
		return a
	}
	svc, name, _ := strings.Cut(typ, "/")
	var out []ActionID
	if first, end, ok := x.c.ServiceRange(svc); ok {
		for id := first; id < end; id++ {
			if x.c.ActsOn(id, name) {
				out = append(out, id)
			}
		}
	}
	x.types[typ] = out
	return out
}

// Evaluate evaluates one principal's statements (identity policies, group
// policies reached through membership included) against every resource
// of the index and calls emit for each grant, at most a few per resource:
// one "service:*" grant when the principal may do everything the type
// allows, else each Notable action it may call and one representative of
// the DataRead actions, one of the Write actions that Change the resource
// and one of the Permissions management level (so the capability each
// gives is seen), each at most once per resource. Other List, Read and
// Tagging actions are left out: they give no capability.
//
// AWS evaluation: an explicit Deny wins; an Allow grants; nothing else
// does. A Deny with conditions makes the actions it covers conditional
// ("not " and its conditions), an Allow with conditions grants
// conditionally. NotAction and NotResource are complements over the
// catalogue and the index. Account-level grants (Res -1) are the Notable
// actions that act on no resource or create one (AccountActions): any
// Resource pattern of their service (or "*") allows them.
//
// An unconditional Allow of "*" on "*" with no Deny is one grant "*" on
// the account, not one per resource: the caller gives the account's
// administrator every resource once, without a cross product.
func (x *Index) Evaluate(sts []Statement, emit func(Grant)) {
	x.freeze()
	if slices.ContainsFunc(sts, func(s Statement) bool { return s.Never }) {
		sts = slices.DeleteFunc(slices.Clone(sts), func(s Statement) bool { return s.Never })
	}
	admin, anyDeny := false, false
	for _, s := range sts {
		if !s.Allow {
			anyDeny = true
		}
		if s.Allow && !s.NotAction && !s.NotResource && len(s.Conditions) == 0 && slices.Contains(s.Actions, "*") && slices.Contains(s.Resources, "*") {
			admin = true
		}
	}
	if admin && !anyDeny {
		emit(Grant{Res: -1, Action: "*"})
		return
	}
	sets := make([]Set, len(sts))
	for i, s := range sts {
		sets[i] = x.set(s.Actions, s.NotAction)
	}
	// Statements matching each entry, only on the resource types some
	// action of the statement acts on.
	sig := map[int32][]int32{}
	var order []int32
	for i, s := range sts {
		relevant := map[string]bool{}
		for _, typ := range x.typeKeys {
			for _, id := range x.typeActions(typ) {
				if sets[i].Has(id) {
					relevant[typ] = true
					break
				}
			}
		}
		if len(relevant) == 0 {
			continue
		}
		add := func(e int32) {
			if !relevant[x.entries[e].typ] {
				return
			}
			if _, ok := sig[e]; !ok {
				order = append(order, e)
			}
			if l := sig[e]; len(l) == 0 || l[len(l)-1] != int32(i) {
				sig[e] = append(l, int32(i))
			}
		}
		all := func(skip map[int32]bool) {
			for _, typ := range x.typeKeys {
				if relevant[typ] {
					for _, e := range x.byType[typ] {
						if !skip[e] {
							add(e)
						}
					}
				}
			}
		}
		switch {
		case s.NotResource:
			hit := map[int32]bool{}
			for _, p := range s.Resources {
				x.match(p, func(e int32) { hit[e] = true })
			}
			all(hit)
		case slices.Contains(s.Resources, "*"):
			all(nil)
		default:
			for _, p := range s.Resources {
				x.match(p, add)
			}
		}
	}
	slices.Sort(order)
	// Entries of a type that all hold the same statements get their
	// grants once, on the type (a collection), when there are enough of
	// them for it to matter: no cross product of principals and
	// resources for policies on "*".
	keyOf := make(map[int32]string, len(order))
	type typeUse struct {
		key  string
		n    int
		same bool
	}
	uses := map[string]*typeUse{}
	var key strings.Builder
	for _, e := range order {
		en := &x.entries[e]
		key.Reset()
		key.WriteString(en.typ)
		for _, i := range sig[e] {
			key.WriteByte(',')
			key.WriteString(strconv.Itoa(int(i)))
		}
		k := key.String()
		keyOf[e] = k
		u := uses[en.typ]
		if u == nil {
			u = &typeUse{key: k, same: true}
			uses[en.typ] = u
		}
		u.n++
		u.same = u.same && u.key == k
	}
	memo := map[string][]Grant{}
	grantsOf := func(e int32) []Grant {
		k := keyOf[e]
		gs, ok := memo[k]
		if !ok {
			gs = x.summarise(x.typeActions(x.entries[e].typ), sts, sets, sig[e])
			memo[k] = gs
		}
		return gs
	}
	collected := map[string]bool{}
	for _, typ := range x.typeKeys {
		if u := uses[typ]; u != nil && u.same && u.n == len(x.byType[typ]) && u.n >= CollectionMin {
			collected[typ] = true
			for _, g := range grantsOf(x.byType[typ][0]) {
				g.Res, g.Type = -2, typ
				emit(g)
			}
		}
	}
	// Per resource, one representative of each capability however many
	// of its types (a bucket and its objects) grant one.
	lastRes, seen := int32(-1), uint8(0)
	for _, e := range order {
		en := &x.entries[e]
		if collected[en.typ] {
			continue
		}
		if en.res != lastRes {
			lastRes, seen = en.res, 0
		}
		for _, g := range grantsOf(e) {
			if g.kind != 0 {
				if seen&g.kind != 0 {
					continue
				}
				seen |= g.kind
			}
			g.Res = en.res
			emit(g)
		}
	}
	for _, g := range x.accountGrants(sts, sets) {
		emit(g)
	}
}

// CollectionMin is the number of resources of a type from which Evaluate
// grants on the type as a whole (Grant.Res -2) rather than on each.
const CollectionMin = 16

// Kinds of representative grants, at most one of each per resource.
const (
	kindData uint8 = 1 << iota
	kindWrite
	kindPerm
)

// decide evaluates one action against the statements idx.
func decide(id ActionID, sts []Statement, sets []Set, idx []int32) (ok bool, conds []string) {
	allowed, condAllowed := false, false
	var ac, dc []string
	for _, i := range idx {
		s := &sts[i]
		if !sets[i].Has(id) {
			continue
		}
		switch {
		case !s.Allow && len(s.Conditions) == 0:
			return false, nil
		case !s.Allow:
			dc = appendNew(dc, Clause{Not: true, Conds: s.Conditions}.String())
		case len(s.Conditions) == 0:
			allowed = true
		case !condAllowed || len(s.Conditions) < len(ac):
			// Any one conditional Allow suffices: the one of fewest
			// conditions stands for them (their union would demand
			// all at once).
			condAllowed = true
			ac = ac[:0]
			for _, c := range s.Conditions {
				ac = appendNew(ac, c.String())
			}
		}
	}
	switch {
	case allowed:
		return true, dc
	case condAllowed:
		return true, append(ac, dc...)
	}
	return false, nil
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func (x *Index) summarise(acts []ActionID, sts []Statement, sets []Set, idx []int32) []Grant {
	type got struct {
		id    ActionID
		conds []string
	}
	var all []got
	full := len(acts) > 0
	for _, id := range acts {
		ok, conds := decide(id, sts, sets, idx)
		if !ok {
			full = false
			continue
		}
		if len(conds) > 0 {
			full = false
		}
		all = append(all, got{id, conds})
	}
	if full {
		return []Grant{{Action: x.c.Service(acts[0]) + ":*"}}
	}
	var out []Grant
	best := map[string]got{} // level|conds -> representative
	var keys []string
	for _, g := range all {
		name := x.c.Name(g.id)
		if Notable(name) {
			out = append(out, Grant{Action: name, Conditions: g.conds})
			continue
		}
		lv := x.c.Level(g.id)
		if DataRead(name) {
			lv = LevelRead
		} else if lv != LevelPermissions && (lv != LevelWrite || !Changes(name)) {
			continue // metadata reads, tagging, creations beside it: no capability
		}
		k := fmt.Sprint(lv) + "|" + strings.Join(g.conds, ",")
		b, ok := best[k]
		if !ok {
			keys = append(keys, k)
		}
		if !ok || better(name, x.c.Name(b.id)) {
			best[k] = g
		}
	}
	for _, k := range keys {
		g := best[k]
		kind := kindWrite
		switch x.c.Level(g.id) {
		case LevelPermissions:
			kind = kindPerm
		case LevelList, LevelRead:
			kind = kindData
		}
		if len(g.conds) > 0 {
			kind = 0 // conditional grants stand beside unconditional ones
		}
		out = append(out, Grant{Action: x.c.Name(g.id), Conditions: g.conds, kind: kind})
	}
	return out
}

// better prefers, as the representative of an access level, the common
// data actions, then the shorter name.
func better(a, b string) bool {
	pa, pb := preferred[strings.ToLower(a)], preferred[strings.ToLower(b)]
	if pa != pb {
		return pa
	}
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

var preferred = map[string]bool{
	"s3:getobject": true, "s3:putobject": true, "s3:listbucket": true, "s3:putbucketpolicy": true,
	"secretsmanager:getsecretvalue": true, "secretsmanager:putsecretvalue": true,
	"dynamodb:getitem": true, "dynamodb:putitem": true, "dynamodb:scan": true,
	"ssm:getparameter": true, "ssm:putparameter": true, "lambda:invokefunction": true,
	"kms:decrypt": true, "rds:describedbinstances": true, "iam:getrole": true, "iam:getuser": true,
}

// accountGrants evaluates the account-level Notable actions.
func (x *Index) accountGrants(sts []Statement, sets []Set) []Grant {
	var out []Grant
	for _, name := range accountActions {
		id, ok := x.c.Lookup(name)
		if !ok {
			continue
		}
		svc := x.c.Service(id)
		noRes := len(x.c.actions[id].types) == 0
		var idx []int32
		for i, s := range sts {
			if !sets[i].Has(id) || !resourceFits(s, svc, noRes) {
				continue
			}
			idx = append(idx, int32(i))
		}
		if ok, conds := decide(id, sts, sets, idx); ok {
			out = append(out, Grant{Res: -1, Action: x.c.Name(id), Conditions: conds})
		}
	}
	return out
}

// resourceFits reports whether a statement's resources cover a resource
// the caller creates in service svc: "*", or any pattern of svc when the
// action acts on resources (the caller names the new one); for actions on
// no resource, only "*".
func resourceFits(s Statement, svc string, noRes bool) bool {
	fits := func(p string) bool {
		if p == "*" || p == "arn:*" || p == "arn:aws:*" {
			return true
		}
		if noRes {
			return false
		}
		f := strings.SplitN(p, ":", 4)
		return len(f) >= 3 && Glob(strings.ToLower(f[2]), svc)
	}
	hit := slices.ContainsFunc(s.Resources, fits)
	if s.NotResource {
		return !slices.Contains(s.Resources, "*")
	}
	return hit
}

// FilterDenies expresses a policy that filters what identity policies
// grant without granting anything itself — a permissions boundary, or
// the service control policies attached at one level of an organization —
// as Deny statements that Evaluate can add to a principal's statements.
// An action on a resource is then granted only if the identity policies
// allow it and the filter allows it too, and no Deny of either denies it.
//
// The filter's Deny statements are kept as they are. Its Allow statements
// become the Deny of what lies outside the product of their actions and
// their resources: Deny NotAction (the actions any of them allows) on
// "*", and Deny "*" NotResource (the resources any of them names) when
// none names "*". That is exact when the Allows carry no conditions and
// name the same resources (the usual boundary: actions on "*", or on one
// set of resources), and otherwise admits more than the filter does
// (a pair of an action of one statement with a resource of another, a
// condition taken as holding): exact is false then, and the caller says
// so. An Allow with NotAction or NotResource is kept out of the product
// (exact false) unless it is the only Allow: Allow NotAction X on R
// gives Deny X and Deny "*" NotResource R. A filter with no Allow at all
// denies everything, as AWS's implicit deny does.
func FilterDenies(filter []Statement) (denies []Statement, exact bool) {
	exact = true
	var allows []Statement
	for _, s := range filter {
		if s.Never {
			continue
		}
		if !s.Allow {
			denies = append(denies, s)
			continue
		}
		allows = append(allows, s)
	}
	if len(allows) == 0 {
		return append(denies, Statement{Actions: []string{"*"}, Resources: []string{"*"}}), true
	}
	notResource := func(res []string) []Statement {
		if len(res) == 0 || slices.Contains(res, "*") {
			return nil
		}
		return []Statement{{Actions: []string{"*"}, NotResource: true, Resources: res}}
	}
	if len(allows) == 1 && (allows[0].NotAction || allows[0].NotResource) {
		a := allows[0]
		exact = len(a.Conditions) == 0
		switch {
		case a.NotAction && a.NotResource:
			// Allowed: not X on not R. Outside: X anywhere, or anything on R.
			denies = append(denies, Statement{Actions: a.Actions, Resources: []string{"*"}},
				Statement{Actions: []string{"*"}, Resources: a.Resources})
		case a.NotAction:
			denies = append(denies, Statement{Actions: a.Actions, Resources: []string{"*"}})
			denies = append(denies, notResource(a.Resources)...)
		default:
			denies = append(denies, Statement{NotAction: true, Actions: a.Actions, Resources: []string{"*"}},
				Statement{Actions: []string{"*"}, Resources: a.Resources})
		}
		return denies, exact
	}
	var actions, resources []string
	for i, s := range allows {
		if s.NotAction || s.NotResource {
			exact = false
			continue
		}
		if len(s.Conditions) > 0 || i > 0 && !sameSet(s.Resources, allows[0].Resources) {
			exact = false
		}
		for _, a := range s.Actions {
			actions = appendNew(actions, a)
		}
		for _, r := range s.Resources {
			resources = appendNew(resources, r)
		}
	}
	if len(actions) == 0 {
		return denies, false // only NotAction or NotResource Allows: not applied
	}
	if !slices.Contains(actions, "*") {
		denies = append(denies, Statement{NotAction: true, Actions: actions, Resources: []string{"*"}})
	}
	return append(denies, notResource(resources)...), exact
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
