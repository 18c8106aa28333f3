package terraform

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/ctem-dev/ctem/internal/ingest"
)

// planResource is a resource as `terraform show -json` writes it in
// values and planned_values.
type planResource struct {
	Address string         `json:"address"`
	Mode    string         `json:"mode"`
	Type    string         `json:"type"`
	Name    string         `json:"name"`
	Values  map[string]any `json:"values"`
}

// planChange is one entry of resource_changes.
type planChange struct {
	Address string `json:"address"`
	Mode    string `json:"mode"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Change  struct {
		Actions []string       `json:"actions"`
		After   map[string]any `json:"after"`
	} `json:"change"`
}

// configResource is a resource of the configuration section: its
// expressions say what an attribute refers to when the plan does not know
// its value yet.
type configResource struct {
	Address     string         `json:"address"`
	Mode        string         `json:"mode"`
	Type        string         `json:"type"`
	Name        string         `json:"name"`
	Expressions map[string]any `json:"expressions"`
}

// stateResource is a resource of a raw terraform.tfstate (version 4).
type stateResource struct {
	Module    string `json:"module"`
	Mode      string `json:"mode"`
	Type      string `json:"type"`
	Name      string `json:"name"`
	Instances []struct {
		IndexKey   any            `json:"index_key"`
		Attributes map[string]any `json:"attributes"`
	} `json:"instances"`
}

// planReader collects the resources of one plan or state document.
type planReader struct {
	in      *ingest.Input
	dec     *jsontext.Decoder
	res     map[string]*resource // by address
	order   []string
	config  map[string]map[string]any // base address -> values from expressions
	changes []*planChange
}

// ParsePlan reads a `terraform show -json` document (plan or state) or a
// raw state file, one resource at a time, and emits the AWS resources into
// sink as one scan of the --target (else "default"). Values the plan does
// not know yet are taken from the references of the configuration section.
func ParsePlan(ctx context.Context, in *ingest.Input, sink ingest.Sink) error {
	p := &planReader{in: in, dec: ingest.NewJSONDecoder(in.R), res: map[string]*resource{}, config: map[string]map[string]any{}}
	seen := false
	err := ingest.WalkObject(p.dec, func(name string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch name {
		case "terraform_version":
			seen = true
		case "values", "planned_values":
			return ingest.WalkObject(p.dec, func(name string) error {
				if name == "root_module" {
					return p.module(ctx)
				}
				return p.dec.SkipValue()
			})
		case "resource_changes":
			return ingest.WalkArray(p.dec, func() error {
				c := new(planChange)
				if err := ingest.DecodeJSON(p.dec, c); err != nil {
					return err
				}
				p.changes = append(p.changes, c)
				return ctx.Err()
			})
		case "configuration":
			return ingest.WalkObject(p.dec, func(name string) error {
				if name == "root_module" {
					return p.configModule(ctx, "")
				}
				return p.dec.SkipValue()
			})
		case "resources":
			return ingest.WalkArray(p.dec, func() error {
				var s stateResource
				if err := ingest.DecodeJSON(p.dec, &s); err != nil {
					return err
				}
				p.state(&s)
				return ctx.Err()
			})
		}
		return p.dec.SkipValue()
	})
	if err == nil {
		err = ingest.ExpectEOF(in, p.dec)
	}
	if err != nil {
		return ingest.AsInputError(in, p.dec.InputOffset(), err)
	}
	if !seen {
		return in.Errorf(0, "no terraform_version: not Terraform JSON")
	}
	for _, c := range p.changes {
		if _, ok := p.res[c.Address]; ok || c.Change.After == nil || (len(c.Change.Actions) == 1 && c.Change.Actions[0] == "delete") {
			continue
		}
		p.put(&resource{addr: c.Address, data: c.Mode == "data", typ: c.Type, name: c.Name, v: c.Change.After})
	}
	b := newBuilder(in.Options, sink, "terraform:"+filepath.Base(in.Name), nameJSON)
	for _, addr := range p.order {
		r := p.res[addr]
		if cfg := p.config[baseAddress(r.addr)]; cfg != nil {
			fill(r.v, cfg)
		}
		b.add(r)
	}
	return b.emit(ctx)
}

// put records a resource, the first one of an address winning.
func (p *planReader) put(r *resource) {
	if _, ok := p.res[r.addr]; ok {
		return
	}
	p.res[r.addr] = r
	p.order = append(p.order, r.addr)
}

// module reads a module of values or planned_values and its children.
func (p *planReader) module(ctx context.Context) error {
	return ingest.WalkObject(p.dec, func(name string) error {
		switch name {
		case "resources":
			return ingest.WalkArray(p.dec, func() error {
				var r planResource
				if err := ingest.DecodeJSON(p.dec, &r); err != nil {
					return err
				}
				if r.Address != "" && r.Type != "" {
					p.put(&resource{addr: r.Address, data: r.Mode == "data", typ: r.Type, name: r.Name, v: r.Values})
				}
				return ctx.Err()
			})
		case "child_modules":
			return ingest.WalkArray(p.dec, func() error { return p.module(ctx) })
		}
		return p.dec.SkipValue()
	})
}

// configModule reads a module of the configuration section; prefix is its
// module path ("module.app.").
func (p *planReader) configModule(ctx context.Context, prefix string) error {
	if strings.Count(prefix, "module.") > 32 {
		return errors.New("modules nested too deep")
	}
	return ingest.WalkObject(p.dec, func(name string) error {
		switch name {
		case "resources":
			return ingest.WalkArray(p.dec, func() error {
				var r configResource
				if err := ingest.DecodeJSON(p.dec, &r); err != nil {
					return err
				}
				if r.Address != "" {
					p.config[prefix+r.Address] = exprValues(r.Expressions, prefix)
				}
				return ctx.Err()
			})
		case "module_calls":
			return ingest.WalkObject(p.dec, func(call string) error {
				return ingest.WalkObject(p.dec, func(name string) error {
					if name == "module" {
						return p.configModule(ctx, prefix+"module."+call+".")
					}
					return p.dec.SkipValue()
				})
			})
		}
		return p.dec.SkipValue()
	})
}

// state reads a resource of a raw state file.
func (p *planReader) state(s *stateResource) {
	prefix := ""
	if s.Module != "" {
		prefix = s.Module + "."
	}
	if s.Mode == "data" {
		prefix += "data."
	}
	for _, inst := range s.Instances {
		addr := prefix + s.Type + "." + s.Name
		switch k := inst.IndexKey.(type) {
		case float64:
			addr += "[" + str(k) + "]"
		case string:
			addr += `["` + k + `"]`
		}
		p.put(&resource{addr: addr, data: s.Mode == "data", typ: s.Type, name: s.Name, v: inst.Attributes})
	}
}

// exprValues turns configuration expressions into values: a constant is
// itself, references become reference marks, nested blocks lists of maps.
func exprValues(exprs map[string]any, prefix string) map[string]any {
	out := map[string]any{}
	for k, e := range exprs {
		out[k] = exprValue(e, prefix, 0)
	}
	return out
}

func exprValue(e any, prefix string, depth int) any {
	if depth > 16 {
		return nil
	}
	switch e := e.(type) {
	case map[string]any:
		if c, ok := e["constant_value"]; ok {
			return c
		}
		if list, ok := e["references"].([]any); ok {
			var marks []any
			seen := map[string]bool{}
			for _, r := range list {
				addr := refAddress(str(r))
				if addr == "" || seen[addr] {
					continue
				}
				seen[addr] = true
				marks = append(marks, ref(prefix+addr))
			}
			switch len(marks) {
			case 0:
				return nil
			case 1:
				return marks[0]
			}
			return marks
		}
		return nil
	case []any:
		var out []any
		for _, b := range e {
			if m, ok := b.(map[string]any); ok {
				vals := map[string]any{}
				for k, v := range m {
					vals[k] = exprValue(v, prefix, depth+1)
				}
				out = append(out, vals)
			}
		}
		return out
	}
	return nil
}

// refAddress is the resource address a configuration reference names:
// aws_iam_role.app.arn gives aws_iam_role.app; variables, locals and
// module outputs give "".
func refAddress(r string) string {
	r = baseAddress(r)
	parts := strings.Split(r, ".")
	switch {
	case len(parts) >= 3 && parts[0] == "data":
		return strings.Join(parts[:3], ".")
	case len(parts) >= 2 && strings.Contains(parts[0], "_") && parts[0] != "each" && parts[0] != "count":
		return parts[0] + "." + parts[1]
	}
	return ""
}

// fill sets the attributes of v that the plan leaves unknown from the
// configuration.
func fill(v, cfg map[string]any) {
	for k, c := range cfg {
		if c == nil {
			continue
		}
		if cur, ok := v[k]; !ok || cur == nil {
			v[k] = c
		}
	}
}
