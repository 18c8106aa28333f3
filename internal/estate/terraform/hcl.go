package terraform

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/ctem-dev/ctem/internal/ingest"
)

// module is the configuration of one Terraform module: the top-level
// blocks of its files.
type module struct {
	vars      map[string]cty.Value
	locals    map[string]hclsyntax.Expression
	localVals map[string]cty.Value
	busy      map[string]bool
	blocks    []*hclsyntax.Block
	calls     []*hclsyntax.Block
	outputs   map[string]hclsyntax.Expression
	funcs     map[string]function.Function
	// prefix is the address prefix of a called module's resources:
	// "module.app." ("" for the root).
	prefix string
	// modOuts are the output values of the modules this one calls, by
	// call name, once expanded.
	modOuts map[string]cty.Value
	// each is each.key and each.value while an instance of a for_each
	// is evaluated, cty.NilVal otherwise.
	each cty.Value
	// countIdx is count.index while an instance of a count is
	// evaluated, cty.NilVal otherwise.
	countIdx cty.Value
	// dyn are the iterators of the dynamic blocks being expanded.
	dyn map[string]cty.Value
	// providers are the module's provider "aws" blocks.
	providers []*hclsyntax.Block
}

func newModule() *module {
	return &module{
		vars:      map[string]cty.Value{},
		locals:    map[string]hclsyntax.Expression{},
		localVals: map[string]cty.Value{},
		busy:      map[string]bool{},
		funcs:     functions(),
		outputs:   map[string]hclsyntax.Expression{},
		modOuts:   map[string]cty.Value{},
	}
}

// functions are the Terraform functions HCL is evaluated with: those that
// shape policies and names. Others leave their result unknown. None of
// them reads files or the network, and none builds values much larger
// than its arguments (range and setproduct are left out).
func functions() map[string]function.Function {
	return map[string]function.Function{
		"jsonencode": stdlib.JSONEncodeFunc, "jsondecode": stdlib.JSONDecodeFunc,
		"format": stdlib.FormatFunc, "join": stdlib.JoinFunc, "concat": stdlib.ConcatFunc,
		"lower": stdlib.LowerFunc, "upper": stdlib.UpperFunc, "merge": stdlib.MergeFunc,
		"split": stdlib.SplitFunc, "replace": stdlib.ReplaceFunc, "length": stdlib.LengthFunc,
		"coalesce": stdlib.CoalesceFunc, "coalescelist": stdlib.CoalesceListFunc,
		"lookup": stdlib.LookupFunc, "element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc,
		"distinct": stdlib.DistinctFunc, "trimspace": stdlib.TrimSpaceFunc, "contains": stdlib.ContainsFunc,
		"keys": stdlib.KeysFunc, "values": stdlib.ValuesFunc, "compact": stdlib.CompactFunc,
		"trimprefix": stdlib.TrimPrefixFunc, "trimsuffix": stdlib.TrimSuffixFunc,
		"substr": stdlib.SubstrFunc, "title": stdlib.TitleFunc, "min": stdlib.MinFunc, "max": stdlib.MaxFunc,
		"sort": stdlib.SortFunc, "reverse": stdlib.ReverseListFunc, "zipmap": stdlib.ZipmapFunc,
		"setunion": stdlib.SetUnionFunc,
		"tostring": stdlib.MakeToFunc(cty.String), "tonumber": stdlib.MakeToFunc(cty.Number),
		"tobool": stdlib.MakeToFunc(cty.Bool), "tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)), "tomap": stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"try": tryfunc.TryFunc, "can": tryfunc.CanFunc,
	}
}

// addFile parses one file and records its blocks. Malformed HCL gives an
// *ingest.InputError at the first error's position.
func (m *module) addFile(name string, src []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &ingest.InputError{File: name, Offset: -1, Err: fmt.Errorf("HCL parser failed: %v", r)}
		}
	}()
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		for _, d := range diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			ie := &ingest.InputError{File: name, Offset: -1, Err: errors.New("invalid HCL: " + diagText(d))}
			if d.Subject != nil {
				ie.Offset, ie.Line, ie.Col = int64(d.Subject.Start.Byte), d.Subject.Start.Line, d.Subject.Start.Column
			}
			return ie
		}
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return &ingest.InputError{File: name, Offset: 0, Err: errors.New("invalid HCL")}
	}
	for _, blk := range body.Blocks {
		switch {
		case blk.Type == "variable" && len(blk.Labels) == 1:
			v := cty.DynamicVal
			if a, ok := blk.Body.Attributes["default"]; ok {
				v = m.safeValue(a.Expr, nil)
			}
			m.vars[blk.Labels[0]] = v
		case blk.Type == "locals":
			for n, a := range blk.Body.Attributes {
				m.locals[n] = a.Expr
			}
		case (blk.Type == "resource" || blk.Type == "data") && len(blk.Labels) == 2:
			m.blocks = append(m.blocks, blk)
		case blk.Type == "module" && len(blk.Labels) == 1:
			m.calls = append(m.calls, blk)
		case blk.Type == "provider" && len(blk.Labels) == 1 && blk.Labels[0] == "aws":
			m.providers = append(m.providers, blk)
		case blk.Type == "output" && len(blk.Labels) == 1:
			if a, ok := blk.Body.Attributes["value"]; ok {
				m.outputs[blk.Labels[0]] = a.Expr
			}
		}
	}
	return nil
}

func diagText(d *hcl.Diagnostic) string {
	if d.Detail == "" {
		return d.Summary
	}
	return d.Summary + ": " + d.Detail
}

// resources evaluates the resource and data blocks into b.
func (m *module) resources(ctx context.Context, b *builder) error {
	for _, blk := range m.blocks {
		if err := ctx.Err(); err != nil {
			return err
		}
		typ, name := blk.Labels[0], blk.Labels[1]
		if !strings.HasPrefix(typ, "aws_") && typ != "kubernetes_secret" && typ != "kubernetes_secret_v1" || m.absent(blk) {
			continue
		}
		addr := m.prefix + typ + "." + name
		if blk.Type == "data" {
			addr = m.prefix + "data." + typ + "." + name
		}
		if n, ok := m.count(blk); ok {
			// One instance per index, count.index known, keyed as
			// Terraform keys them: aws_instance.web[0].
			for i := range n {
				m.countIdx = cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(i))})
				a := addr + "[" + strconv.Itoa(i) + "]"
				if n == 1 {
					a = addr
				}
				b.add(&resource{addr: a, base: addr, data: blk.Type == "data", typ: typ, name: name, v: m.body(blk.Body, 0)})
			}
			m.countIdx = cty.NilVal
			continue
		}
		if keys, vals, ok := m.forEach(blk); ok {
			// One instance per element, each.key and each.value known.
			for i, k := range keys {
				m.each = cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(k), "value": vals[i]})
				b.add(&resource{addr: addr + "[" + strconv.Quote(k) + "]", base: addr, data: blk.Type == "data", typ: typ, name: name, v: m.body(blk.Body, 0)})
			}
			m.each = cty.NilVal
			continue
		}
		b.add(&resource{addr: addr, base: addr, data: blk.Type == "data", typ: typ, name: name, v: m.body(blk.Body, 0)})
	}
	return nil
}

// maxInstances bounds the instances one for_each makes.
const maxInstances = 256

// maxCount bounds the instances one count makes; a larger count stands
// for one instance, as an unknown one does.
const maxCount = 16

// count returns a resource's count when it is a known whole number from
// 1 to maxCount. A count of 1 (the usual var.create ? 1 : 0) keeps the
// resource's address without an index, so that its key does not change
// with the flag; 0 is absent.
func (m *module) count(blk *hclsyntax.Block) (int, bool) {
	a, found := blk.Body.Attributes["count"]
	if !found {
		return 0, false
	}
	v := m.value(a.Expr)
	if !v.IsWhollyKnown() || v.IsNull() || v.Type() != cty.Number {
		return 0, false
	}
	n, acc := v.AsBigFloat().Int64()
	if acc != 0 || n < 1 || n > maxCount {
		return 0, false
	}
	return int(n), true
}

// forEach returns the keys and values of a resource's for_each when it is
// a known map, object or set of strings of at most maxInstances
// elements; ok is false otherwise (no for_each, unknown, too large).
func (m *module) forEach(blk *hclsyntax.Block) (keys []string, vals []cty.Value, ok bool) {
	a, found := blk.Body.Attributes["for_each"]
	if !found {
		return nil, nil, false
	}
	v := m.value(a.Expr)
	if !v.IsWhollyKnown() || v.IsNull() || !v.CanIterateElements() || v.LengthInt() == 0 || v.LengthInt() > maxInstances {
		return nil, nil, false
	}
	t := v.Type()
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		switch {
		case t.IsSetType() || t.IsListType() || t.IsTupleType():
			// A set of strings (a list or tuple of them, as a
			// set(string) variable converts it).
			if e.Type() != cty.String {
				return nil, nil, false
			}
			keys, vals = append(keys, e.AsString()), append(vals, e)
		case k.Type() == cty.String:
			keys, vals = append(keys, k.AsString()), append(vals, e)
		default:
			return nil, nil, false
		}
	}
	return keys, vals, true
}

// absent reports whether a resource's count is a known 0 or its for_each
// a known empty collection (var.create = false): Terraform creates none of
// it. Any other count or for_each stands for one instance.
func (m *module) absent(blk *hclsyntax.Block) bool {
	if a, ok := blk.Body.Attributes["count"]; ok {
		v := m.value(a.Expr)
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.Number {
			if n, acc := v.AsBigFloat().Int64(); acc == 0 && n <= 0 {
				return true
			}
		}
	}
	if a, ok := blk.Body.Attributes["for_each"]; ok {
		v := m.value(a.Expr)
		if v.IsKnown() && !v.IsNull() && v.CanIterateElements() && v.LengthInt() == 0 {
			return true
		}
	}
	return false
}

// setVars sets the root module's variables from a .tfvars file: its
// attributes, evaluated without references. A malformed file is an
// *ingest.InputError.
func (m *module) setVars(name string, src []byte) error {
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				ie := &ingest.InputError{File: name, Offset: -1, Err: errors.New("invalid tfvars: " + diagText(d))}
				if d.Subject != nil {
					ie.Offset, ie.Line, ie.Col = int64(d.Subject.Start.Byte), d.Subject.Start.Line, d.Subject.Start.Column
				}
				return ie
			}
		}
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return &ingest.InputError{File: name, Offset: 0, Err: errors.New("invalid tfvars")}
	}
	for n, a := range body.Attributes {
		m.vars[n] = m.safeValue(a.Expr, nil)
	}
	return nil
}

// body evaluates the attributes and nested blocks of a block.
func (m *module) body(body *hclsyntax.Body, depth int) map[string]any {
	v := map[string]any{}
	for n, a := range body.Attributes {
		v[n] = m.attr(a.Expr)
	}
	if depth > 16 {
		return v
	}
	for _, blk := range body.Blocks {
		switch blk.Type {
		case "dynamic":
			if len(blk.Labels) == 1 {
				list, _ := v[blk.Labels[0]].([]any)
				v[blk.Labels[0]] = append(list, m.dynamic(blk, depth)...)
			}
			continue
		case "lifecycle", "provisioner", "connection":
			continue
		}
		list, _ := v[blk.Type].([]any)
		v[blk.Type] = append(list, m.body(blk.Body, depth+1))
	}
	return v
}

// dynamic expands a dynamic block whose for_each is known: its content
// once per element, with the iterator (the block's label, or its
// iterator argument) standing for the element's key and value. An
// unknown for_each gives no block.
func (m *module) dynamic(blk *hclsyntax.Block, depth int) []any {
	iter := blk.Labels[0]
	if a, ok := blk.Body.Attributes["iterator"]; ok {
		if k := hcl.ExprAsKeyword(a.Expr); k != "" {
			iter = k
		}
	}
	var content *hclsyntax.Block
	for _, c := range blk.Body.Blocks {
		if c.Type == "content" {
			content = c
		}
	}
	a, ok := blk.Body.Attributes["for_each"]
	if !ok || content == nil {
		return nil
	}
	v := m.value(a.Expr)
	if !v.IsWhollyKnown() || v.IsNull() || !v.CanIterateElements() || v.LengthInt() > maxInstances {
		return nil
	}
	if m.dyn == nil {
		m.dyn = map[string]cty.Value{}
	}
	prev, had := m.dyn[iter]
	var out []any
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		m.dyn[iter] = cty.ObjectVal(map[string]cty.Value{"key": k, "value": e})
		out = append(out, m.body(content.Body, depth+1))
	}
	if had {
		m.dyn[iter] = prev
	} else {
		delete(m.dyn, iter)
	}
	return out
}

// attr evaluates an attribute. jsonencode(...) keeps its argument as a
// value, so that a policy with one unknown part still reads.
func (m *module) attr(e hclsyntax.Expression) any {
	if fc, ok := e.(*hclsyntax.FunctionCallExpr); ok && fc.Name == "jsonencode" && len(fc.Args) == 1 && !fc.ExpandFinal {
		return toGo(m.value(fc.Args[0]), 0)
	}
	return toGo(m.value(e), 0)
}

// value evaluates an expression with what is known: variables' defaults,
// locals, and resources standing for themselves.
func (m *module) value(e hclsyntax.Expression) cty.Value {
	return m.safeValue(e, m.context(e.Variables()))
}

// safeValue evaluates e, turning errors and a panic of the evaluator into
// an unknown value: the configuration is input, and unknown is a fine
// answer.
func (m *module) safeValue(e hclsyntax.Expression, ctx *hcl.EvalContext) (v cty.Value) {
	defer func() {
		if r := recover(); r != nil {
			v = cty.DynamicVal
		}
	}()
	v, _ = e.Value(ctx)
	if v == cty.NilVal {
		return cty.DynamicVal
	}
	return v
}

// local evaluates a local value once; a cycle is unknown.
func (m *module) local(name string) cty.Value {
	if v, ok := m.localVals[name]; ok {
		return v
	}
	e, ok := m.locals[name]
	if !ok || m.busy[name] || len(m.busy) > 64 {
		return cty.DynamicVal
	}
	m.busy[name] = true
	v := m.value(e)
	delete(m.busy, name)
	m.localVals[name] = v
	return v
}

// context builds the evaluation context of one expression from the
// traversals it makes.
func (m *module) context(ts []hcl.Traversal) *hcl.EvalContext {
	vars := map[string]cty.Value{
		"module": cty.DynamicVal, "count": cty.DynamicVal, "each": cty.DynamicVal,
		"path": cty.DynamicVal, "terraform": cty.DynamicVal, "self": cty.DynamicVal,
	}
	if len(m.vars) > 0 {
		vars["var"] = cty.ObjectVal(m.vars)
	} else {
		vars["var"] = cty.EmptyObjectVal
	}
	locals := map[string]cty.Value{}
	tree := map[string]*tnode{}
	for _, t := range ts {
		root := t.RootName()
		switch {
		case root == "local":
			if n, ok := attrName(t, 1); ok {
				locals[n] = m.local(n)
			}
		case root == "data":
			typ, ok1 := attrName(t, 1)
			name, ok2 := attrName(t, 2)
			if ok1 && ok2 {
				node(tree, "data").child(typ).child(name).use(m.prefix+"data."+typ+"."+name, t[3:])
			}
		case strings.Contains(root, "_"):
			if name, ok := attrName(t, 1); ok {
				node(tree, root).child(name).use(m.prefix+root+"."+name, t[2:])
			}
		}
	}
	vars["local"] = cty.ObjectVal(locals)
	if len(m.modOuts) > 0 {
		vars["module"] = cty.ObjectVal(m.modOuts)
	}
	if m.each != cty.NilVal {
		vars["each"] = m.each
	}
	if m.countIdx != cty.NilVal {
		vars["count"] = m.countIdx
	}
	for k, v := range m.dyn {
		if _, taken := vars[k]; !taken {
			vars[k] = v
		}
	}
	for root, n := range tree {
		vars[root] = n.value()
	}
	return &hcl.EvalContext{Variables: vars, Functions: m.funcs}
}

func attrName(t hcl.Traversal, i int) (string, bool) {
	if len(t) <= i {
		return "", false
	}
	a, ok := t[i].(hcl.TraverseAttr)
	return a.Name, ok
}

// tnode builds the object a root variable stands for.
type tnode struct {
	kids    map[string]*tnode
	addr    string      // a resource: the address its attributes stand for
	unknown bool        // a resource traversed in a way not followed
	keys    []cty.Value // the instance keys traversals use: aws_x.y[0]
	attrs   map[string]bool
}

func node(tree map[string]*tnode, name string) *tnode {
	if tree[name] == nil {
		tree[name] = &tnode{}
	}
	return tree[name]
}

func (n *tnode) child(name string) *tnode {
	if n.kids == nil {
		n.kids = map[string]*tnode{}
	}
	if n.kids[name] == nil {
		n.kids[name] = &tnode{}
	}
	return n.kids[name]
}

// use records a traversal of the rest of a resource reference.
func (n *tnode) use(addr string, rest hcl.Traversal) {
	n.addr = addr
	if len(rest) == 0 {
		return
	}
	if ix, ok := rest[0].(hcl.TraverseIndex); ok {
		// aws_iam_role.this[0].arn, aws_s3_bucket.b["logs"].id: every
		// instance of a counted resource stands for the resource.
		n.keys = append(n.keys, ix.Key)
		rest = rest[1:]
		if len(rest) == 0 {
			return
		}
	}
	switch s := rest[0].(type) {
	case hcl.TraverseAttr:
		if n.attrs == nil {
			n.attrs = map[string]bool{}
		}
		n.attrs[s.Name] = true
	default:
		n.unknown = true
	}
}

func (n *tnode) value() cty.Value {
	if n.addr != "" {
		if n.unknown {
			return cty.DynamicVal
		}
		mark := cty.StringVal(ref(n.addr))
		inst := mark
		if len(n.attrs) > 0 {
			attrs := map[string]cty.Value{}
			for a := range n.attrs {
				attrs[a] = mark
				if strings.HasPrefix(a, "public_key") && strings.Contains(n.addr, "tls_private_key.") {
					// The public half of a key is no credential: it
					// names the key without giving it away.
					attrs[a] = cty.StringVal(ref(n.addr + publicHalf))
				}
			}
			inst = cty.ObjectVal(attrs)
		}
		if len(n.keys) == 0 {
			return inst
		}
		return instances(n.keys, inst)
	}
	kids := map[string]cty.Value{}
	for k, c := range n.kids {
		kids[k] = c.value()
	}
	return cty.ObjectVal(kids)
}

// toGo converts a value to plain Go values; unknown and null parts are
// nil.
func toGo(v cty.Value, depth int) any {
	if depth > 32 || v == cty.NilVal || !v.IsKnown() || v.IsNull() {
		return nil
	}
	v, _ = v.UnmarkDeep()
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString()
	case t == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		if f == 0 && v.AsBigFloat().Sign() != 0 {
			return nil
		}
		return f
	case t == cty.Bool:
		return v.True()
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		var out []any
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, toGo(e, depth+1))
		}
		return out
	case t.IsMapType() || t.IsObjectType():
		out := map[string]any{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if k.Type() == cty.String && k.IsKnown() {
				out[k.AsString()] = toGo(e, depth+1)
			}
		}
		return out
	}
	return nil
}

// instances is the value of a counted resource that traversals index by
// keys: a tuple long enough for every number, or an object with every
// string key, each element standing for the resource; mixed or unknown
// keys give an unknown value.
func instances(keys []cty.Value, inst cty.Value) cty.Value {
	n, names := 0, map[string]cty.Value{}
	for _, k := range keys {
		if !k.IsKnown() || k.IsNull() {
			return cty.DynamicVal
		}
		switch k.Type() {
		case cty.Number:
			i, acc := k.AsBigFloat().Int64()
			if acc != 0 || i < 0 || i > 1024 {
				return cty.DynamicVal
			}
			n = max(n, int(i)+1)
		case cty.String:
			names[k.AsString()] = inst
		default:
			return cty.DynamicVal
		}
	}
	switch {
	case n > 0 && len(names) > 0:
		return cty.DynamicVal
	case len(names) > 0:
		return cty.ObjectVal(names)
	}
	elems := make([]cty.Value, n)
	for i := range elems {
		elems[i] = inst
	}
	return cty.TupleVal(elems)
}

// region returns the region of the root module's aws providers when
// they all name the same one literally, else "".
func (m *module) region() string {
	r := ""
	for _, p := range m.providers {
		a, ok := p.Body.Attributes["region"]
		if !ok {
			return ""
		}
		v := str(toGo(m.value(a.Expr), 0))
		if v == "" || strings.Contains(v, refMark) || r != "" && v != r {
			return ""
		}
		r = v
	}
	return r
}

// accountVars are the names of the variables and locals that, given a
// 12-digit value, name the account a configuration describes.
var accountVars = []string{"account_id", "aws_account_id", "account"}

// accountID returns the AWS account the root module describes, as the
// configuration fixes it: every provider "aws" block's allowed_account_ids
// (one id) or assume_role role_arn names the same account, else a
// variable or local account_id, aws_account_id or account of a 12-digit
// value. It returns "" when nothing fixes it, or when what does names
// more than one account (several providers for several accounts: their
// resources' accounts cannot be told apart here).
func (m *module) accountID() string {
	var ids []string
	for _, p := range m.providers {
		if a, ok := p.Body.Attributes["allowed_account_ids"]; ok {
			if v := toGo(m.value(a.Expr), 0); v != nil {
				for _, id := range strs(v) {
					ids = appendNew(ids, id)
				}
			}
		}
		for _, ar := range p.Body.Blocks {
			if ar.Type != "assume_role" {
				continue
			}
			if a, ok := ar.Body.Attributes["role_arn"]; ok {
				if f := strings.SplitN(str(toGo(m.value(a.Expr), 0)), ":", 6); len(f) == 6 && f[0] == "arn" && accountIDRE.MatchString(f[4]) {
					ids = appendNew(ids, f[4])
				}
			}
		}
	}
	if len(ids) == 0 {
		for _, n := range accountVars {
			v := m.vars[n]
			if _, ok := m.locals[n]; ok {
				v = m.local(n)
			}
			if v != cty.NilVal && v.IsWhollyKnown() && !v.IsNull() && v.Type() == cty.String && accountIDRE.MatchString(v.AsString()) {
				ids = appendNew(ids, v.AsString())
			}
		}
	}
	if len(ids) != 1 || !accountIDRE.MatchString(ids[0]) {
		return ""
	}
	return ids[0]
}
