package terraform

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/ingest"
)

// Terraform's JSON configuration syntax (.tf.json,
// https://developer.hashicorp.com/terraform/language/syntax/json) is read
// by writing it as native syntax and reading that: the evaluator works on
// native syntax trees. Strings are templates, as Terraform reads them: a
// string that is one interpolation ("${aws_iam_role.app.arn}") is that
// expression, so that references and jsonencode(...) keep their meaning.
// Nested blocks become object and list attributes, which the resource
// readers take as blocks alike; dynamic blocks stay blocks.

// maxJSONDepth bounds the nesting of a .tf.json document.
const maxJSONDepth = 64

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// addSource records one configuration file, in native syntax or, for a
// name ending in .json, in JSON syntax.
func (m *module) addSource(name string, src []byte) error {
	if !strings.HasSuffix(name, ".json") {
		return m.addFile(name, src)
	}
	native, err := jsonToNative(name, src, false)
	if err != nil {
		return err
	}
	return m.addFile(name, native)
}

// setVarsSource sets variables from a .tfvars or .tfvars.json file.
func (m *module) setVarsSource(name string, src []byte) error {
	if !strings.HasSuffix(name, ".json") {
		return m.setVars(name, src)
	}
	native, err := jsonToNative(name, src, true)
	if err != nil {
		return err
	}
	return m.setVars(name, native)
}

// jsonToNative writes a .tf.json configuration (or, with vars, a
// .tfvars.json file) in native syntax. Malformed JSON is an
// *ingest.InputError naming the file and offset.
func jsonToNative(name string, src []byte, vars bool) ([]byte, error) {
	var doc map[string]any
	if err := ingest.UnmarshalJSON(src, &doc); err != nil {
		ie := &ingest.InputError{File: name, Offset: -1, Err: fmt.Errorf("invalid JSON configuration: %w", err)}
		var se interface{ InputOffset() int64 }
		if errors.As(err, &se) {
			ie.Offset = se.InputOffset()
		}
		return nil, ie
	}
	w := &nativeWriter{}
	if vars {
		for _, k := range sortedKeys(doc) {
			w.attr(k, doc[k], 0)
		}
		return w.b.Bytes(), w.err(name)
	}
	for _, top := range sortedKeys(doc) {
		v := doc[top]
		switch top {
		case "resource", "data":
			for _, typ := range sortedKeys(asMap(v)) {
				for _, n := range sortedKeys(asMap(asMap(v)[typ])) {
					for _, body := range asBodies(asMap(asMap(v)[typ])[n]) {
						w.block(top, []string{typ, n}, body, 0)
					}
				}
			}
		case "variable":
			for _, n := range sortedKeys(asMap(v)) {
				body := map[string]any{}
				for _, b := range asBodies(asMap(v)[n]) {
					if d, ok := b["default"]; ok {
						body["default"] = literal{d}
					}
				}
				w.block("variable", []string{n}, body, 0)
			}
		case "output":
			for _, n := range sortedKeys(asMap(v)) {
				body := map[string]any{}
				for _, b := range asBodies(asMap(v)[n]) {
					if val, ok := b["value"]; ok {
						body["value"] = val
					}
				}
				w.block("output", []string{n}, body, 0)
			}
		case "locals":
			for _, body := range asBodies(v) {
				w.block("locals", nil, body, 0)
			}
		case "module":
			for _, n := range sortedKeys(asMap(v)) {
				for _, body := range asBodies(asMap(v)[n]) {
					w.block("module", []string{n}, body, 0)
				}
			}
		}
	}
	return w.b.Bytes(), w.err(name)
}

// literal marks a value that is data, not a template: a variable's
// default is not evaluated.
type literal struct{ v any }

type nativeWriter struct {
	b    bytes.Buffer
	deep bool
}

func (w *nativeWriter) err(name string) error {
	if w.deep {
		return &ingest.InputError{File: name, Offset: -1, Err: fmt.Errorf("JSON configuration nested deeper than %d", maxJSONDepth)}
	}
	return nil
}

// block writes a block with its labels and body: attributes, and dynamic
// blocks as blocks.
func (w *nativeWriter) block(typ string, labels []string, body map[string]any, depth int) {
	if depth > maxJSONDepth {
		w.deep = true
		return
	}
	w.b.WriteString(typ)
	for _, l := range labels {
		w.b.WriteString(" " + strconv.Quote(l))
	}
	w.b.WriteString(" {\n")
	for _, k := range sortedKeys(body) {
		v := body[k]
		switch k {
		case "lifecycle", "provisioner", "connection", "//":
			continue
		case "dynamic":
			if typ == "locals" {
				break
			}
			for _, l := range sortedKeys(asMap(v)) {
				for _, d := range asBodies(asMap(v)[l]) {
					inner := map[string]any{}
					for dk, dv := range d {
						if dk != "content" {
							inner[dk] = dv
						}
					}
					w.b.WriteString("dynamic " + strconv.Quote(l) + " {\n")
					for _, dk := range sortedKeys(inner) {
						w.attr(dk, inner[dk], depth+1)
					}
					for _, c := range asBodies(d["content"]) {
						w.block("content", nil, c, depth+1)
					}
					w.b.WriteString("}\n")
				}
			}
			continue
		}
		w.attr(k, v, depth+1)
	}
	w.b.WriteString("}\n")
}

// attr writes name = value; a name that is no identifier is left out.
func (w *nativeWriter) attr(name string, v any, depth int) {
	if !identRE.MatchString(name) {
		return
	}
	w.b.WriteString(name + " = ")
	w.expr(v, depth)
	w.b.WriteString("\n")
}

// expr writes a JSON value as a native expression.
func (w *nativeWriter) expr(v any, depth int) {
	if depth > maxJSONDepth {
		w.deep = true
		w.b.WriteString("null")
		return
	}
	switch v := v.(type) {
	case nil:
		w.b.WriteString("null")
	case bool:
		w.b.WriteString(strconv.FormatBool(v))
	case float64:
		w.b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	case string:
		w.template(v)
	case literal:
		w.data(v.v, depth)
	case []any:
		w.b.WriteString("[")
		for i, e := range v {
			if i > 0 {
				w.b.WriteString(", ")
			}
			w.expr(e, depth+1)
		}
		w.b.WriteString("]")
	case map[string]any:
		w.b.WriteString("{\n")
		for _, k := range sortedKeys(v) {
			w.b.WriteString(strconv.Quote(k) + " = ")
			w.expr(v[k], depth+1)
			w.b.WriteString("\n")
		}
		w.b.WriteString("}")
	default:
		w.b.WriteString("null")
	}
}

// data writes a value whose strings are not templates.
func (w *nativeWriter) data(v any, depth int) {
	switch v := v.(type) {
	case string:
		w.b.WriteString(quoteTemplate(strings.NewReplacer("${", "$${", "%{", "%%{").Replace(v)))
	case []any:
		w.b.WriteString("[")
		for i, e := range v {
			if i > 0 {
				w.b.WriteString(", ")
			}
			w.data(e, depth+1)
		}
		w.b.WriteString("]")
	case map[string]any:
		w.b.WriteString("{\n")
		for _, k := range sortedKeys(v) {
			w.b.WriteString(strconv.Quote(k) + " = ")
			w.data(v[k], depth+1)
			w.b.WriteString("\n")
		}
		w.b.WriteString("}")
	default:
		w.expr(v, depth)
	}
}

// template writes a JSON string as Terraform reads it: one interpolation
// is its expression, anything else a quoted template.
func (w *nativeWriter) template(s string) {
	if strings.HasPrefix(s, "${") && interpEnd(s, 2) == len(s)-1 {
		if inner := strings.TrimSpace(s[2 : len(s)-1]); inner != "" && !strings.HasPrefix(inner, "~") {
			w.b.WriteString(inner)
			return
		}
	}
	w.b.WriteString(quoteTemplate(s))
}

// interpEnd returns the index of the brace that closes the interpolation
// or directive whose content starts at i, or -1: braces are counted, and
// quoted strings within it (and their own interpolations, to a depth of
// maxJSONDepth) skipped.
func interpEnd(s string, i int) int { return interpEndDepth(s, i, 0) }

func interpEndDepth(s string, i, nest int) int {
	if nest > maxJSONDepth {
		return -1
	}
	depth := 1
	for i < len(s) {
		switch c := s[i]; c {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		case '"':
			// A string literal within the expression.
			i++
			for i < len(s) && s[i] != '"' {
				switch {
				case s[i] == '\\':
					i++
				case (s[i] == '$' || s[i] == '%') && i+1 < len(s) && s[i+1] == '{':
					if e := interpEndDepth(s, i+2, nest+1); e >= 0 {
						i = e
					} else {
						return -1
					}
				}
				i++
			}
		}
		i++
	}
	return -1
}

// quoteTemplate writes s as a quoted template: the text between
// interpolations escaped, the interpolations and directives as they are.
func quoteTemplate(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c == '$' || c == '%') && i+1 < len(s) && s[i+1] == '{' {
			if i+2 < len(s) && s[i+2] == '{' || i > 0 && s[i-1] == c {
				// "$${" is a literal "${"; copied as it is.
			} else if e := interpEnd(s, i+2); e >= 0 {
				b.WriteString(s[i : e+1])
				i = e
				continue
			}
		}
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// asMap is v as an object, or nil.
func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// asBodies is a block body given as an object or a list of objects.
func asBodies(v any) []map[string]any {
	switch v := v.(type) {
	case map[string]any:
		return []map[string]any{v}
	case []any:
		var out []map[string]any
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
