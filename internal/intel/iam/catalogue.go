package iam

import (
	"math/bits"
	"strings"
)

// Level is an access level of the service authorization reference.
type Level uint8

// The access levels. A catalogue action is in one; "Permissions
// management" and "Tagging" actions are also writes.
const (
	LevelList Level = iota + 1
	LevelRead
	LevelWrite
	LevelTagging
	LevelPermissions
)

// String returns the level's name in the reference.
func (l Level) String() string {
	switch l {
	case LevelList:
		return "List"
	case LevelRead:
		return "Read"
	case LevelWrite:
		return "Write"
	case LevelTagging:
		return "Tagging"
	case LevelPermissions:
		return "Permissions management"
	}
	return "unknown"
}

// ActionID numbers an action of a Catalogue.
type ActionID int32

// ResourceType is a resource type of a service: its name in the
// reference ("bucket", "role") and its ARN format
// ("arn:${Partition}:s3:::${BucketName}"), empty when unknown.
type ResourceType struct {
	Service, Name, ARN string
}

type action struct {
	name  string // prefix:Name
	svc   *service
	level Level
	types []uint16
}

type service struct {
	prefix     string
	first, end ActionID // its actions are [first, end)
	types      []ResourceType
}

// Catalogue is the AWS catalogue of actions: each with its service, access
// level and the resource types it acts on. Actions of one service are
// numbered contiguously.
type Catalogue struct {
	actions  []action
	byName   map[string]ActionID
	services map[string]*service
	order    []*service
}

// Len returns the number of actions.
func (c *Catalogue) Len() int { return len(c.actions) }

// Lookup returns the id of an action named "service:Action", in any case.
func (c *Catalogue) Lookup(name string) (ActionID, bool) {
	id, ok := c.byName[strings.ToLower(strings.TrimSpace(name))]
	return id, ok
}

// Name returns the action's name as the reference spells it: "s3:GetObject".
func (c *Catalogue) Name(id ActionID) string { return c.actions[id].name }

// Level returns the action's access level.
func (c *Catalogue) Level(id ActionID) Level { return c.actions[id].level }

// Service returns the action's service prefix.
func (c *Catalogue) Service(id ActionID) string { return c.actions[id].svc.prefix }

// ResourceTypes returns the names of the resource types the action acts
// on; none means it acts on no resource (Resource "*").
func (c *Catalogue) ResourceTypes(id ActionID) []string {
	a := &c.actions[id]
	out := make([]string, len(a.types))
	for i, t := range a.types {
		out[i] = a.svc.types[t].Name
	}
	return out
}

// ServiceRange returns the ids [first, end) of a service's actions; ok is
// false for an unknown service.
func (c *Catalogue) ServiceRange(prefix string) (first, end ActionID, ok bool) {
	s, ok := c.services[strings.ToLower(prefix)]
	if !ok {
		return 0, 0, false
	}
	return s.first, s.end, true
}

// Type returns a resource type of a service.
func (c *Catalogue) Type(prefix, name string) (ResourceType, bool) {
	s, ok := c.services[strings.ToLower(prefix)]
	if !ok {
		return ResourceType{}, false
	}
	for _, t := range s.types {
		if t.Name == name {
			return t, true
		}
	}
	return ResourceType{}, false
}

// ActsOn reports whether the action acts on the resource type name of
// its own service.
func (c *Catalogue) ActsOn(id ActionID, typ string) bool {
	a := &c.actions[id]
	for _, t := range a.types {
		if a.svc.types[t].Name == typ {
			return true
		}
	}
	return false
}

// Set is a set of actions of one Catalogue, as a bitset.
type Set []uint64

// NewSet returns an empty set for c.
func (c *Catalogue) NewSet() Set { return make(Set, (len(c.actions)+63)/64) }

// Add adds an action.
func (s Set) Add(id ActionID) { s[id>>6] |= 1 << (uint(id) & 63) }

// Has reports whether the set holds an action.
func (s Set) Has(id ActionID) bool { return s[id>>6]&(1<<(uint(id)&63)) != 0 }

// Or adds every action of t to s.
func (s Set) Or(t Set) {
	for i := range s {
		s[i] |= t[i]
	}
}

// AndNot removes every action of t from s.
func (s Set) AndNot(t Set) {
	for i := range s {
		s[i] &^= t[i]
	}
}

// Len returns the number of actions in s.
func (s Set) Len() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// Each calls fn for each action of s in [first, end), in order.
func (s Set) Each(first, end ActionID, fn func(ActionID)) {
	for id := first; id < end; {
		w := s[id>>6] >> (uint(id) & 63)
		if w == 0 {
			id = (id | 63) + 1
			continue
		}
		id += ActionID(bits.TrailingZeros64(w))
		if id >= end {
			return
		}
		fn(id)
		id++
	}
}

// Expand returns the set of catalogue actions an Action pattern matches:
// "*", "s3:*", "s3:Get*", "iam:PassRole", in any case ("?" matches one
// character). An unknown action matches nothing.
func (c *Catalogue) Expand(pattern string) Set {
	s := c.NewSet()
	c.expandInto(s, pattern)
	return s
}

func (c *Catalogue) expandInto(s Set, pattern string) {
	p := strings.ToLower(strings.TrimSpace(pattern))
	if p == "*" || p == "*:*" {
		for id := range c.actions {
			s.Add(ActionID(id))
		}
		return
	}
	prefix, act, ok := strings.Cut(p, ":")
	if !ok {
		return
	}
	var svcs []*service
	if strings.ContainsAny(prefix, "*?") {
		for _, sv := range c.order {
			if Glob(prefix, sv.prefix) {
				svcs = append(svcs, sv)
			}
		}
	} else if sv, ok := c.services[prefix]; ok {
		svcs = []*service{sv}
	}
	if !strings.ContainsAny(act, "*?") {
		for _, sv := range svcs {
			if id, ok := c.byName[sv.prefix+":"+act]; ok {
				s.Add(id)
			}
		}
		return
	}
	for _, sv := range svcs {
		for id := sv.first; id < sv.end; id++ {
			n := c.actions[id].name
			if Glob(act, strings.ToLower(n[len(sv.prefix)+1:])) {
				s.Add(id)
			}
		}
	}
}

// ExpandAll returns the union of the patterns' sets; with not, its
// complement (NotAction).
func (c *Catalogue) ExpandAll(patterns []string, not bool) Set {
	s := c.NewSet()
	for _, p := range patterns {
		c.expandInto(s, p)
	}
	if not {
		for i := range s {
			s[i] = ^s[i]
		}
		if r := len(c.actions) % 64; r != 0 {
			s[len(s)-1] &= 1<<uint(r) - 1
		}
	}
	return s
}

// TypeOf returns the service and resource type whose ARN format an ARN
// has ("arn:aws:s3:::b" is s3 bucket), the most specific when several
// fit; ok is false when none does.
func (c *Catalogue) TypeOf(arn string) (svc, typ string, ok bool) {
	f := strings.SplitN(arn, ":", 4)
	if len(f) < 4 || f[0] != "arn" {
		return "", "", false
	}
	s, found := c.services[strings.ToLower(f[2])]
	if !found {
		return "", "", false
	}
	best := -1
	for _, t := range s.types {
		if t.ARN == "" {
			continue
		}
		p := formatGlob(t.ARN)
		if !Glob(p, arn) {
			continue
		}
		if lit := len(strings.ReplaceAll(p, "*", "")); lit > best {
			best, svc, typ = lit, s.prefix, t.Name
		}
	}
	return svc, typ, best >= 0
}

// formatGlob turns an ARN format of the reference into a pattern: each
// ${Variable} is "*".
func formatGlob(format string) string {
	var b strings.Builder
	for {
		i := strings.Index(format, "${")
		if i < 0 {
			b.WriteString(format)
			return b.String()
		}
		b.WriteString(format[:i])
		b.WriteByte('*')
		j := strings.IndexByte(format[i:], '}')
		if j < 0 {
			return b.String()
		}
		format = format[i+j+1:]
	}
}

// IsOfType reports whether an ARN has the ARN format of a resource type
// of a service; for s3 objects, whether the ARN is a bucket's, whose
// objects are the type.
func (c *Catalogue) IsOfType(arn, svc, typ string) bool {
	t, ok := c.Type(svc, typ)
	if !ok {
		return false
	}
	if t.ARN == "" {
		t.ARN = missingFormats[svc+"/"+typ]
	}
	if t.ARN == "" {
		return false
	}
	if svc == "s3" && typ == "object" {
		arn += "/key"
	}
	return Glob(formatGlob(t.ARN), arn)
}

// missingFormats are ARN formats the reference names a resource type by
// without describing it.
var missingFormats = map[string]string{
	"secretsmanager/Secret": "arn:${Partition}:secretsmanager:${Region}:${Account}:secret:${SecretId}",
}
