package terraform

import (
	"strconv"
	"strings"
)

// resource is one resource or data source instance, whatever syntax it
// came from. Its values are plain Go values: string, float64, bool,
// []any, map[string]any, nil for unknown; nested blocks are lists of maps.
// A reference to another resource is the string ref(address), possibly
// inside a longer string ("${aws_s3_bucket.b.arn}/*").
type resource struct {
	addr string // full address: module.a.aws_s3_bucket.b["x"]
	base string // the address without the instance key
	data bool   // a data source
	typ  string
	name string
	v    map[string]any
	key  string
}

// refMark brackets a resource address inside a value; NUL occurs in no
// Terraform string that matters, so a mark cannot be forged by accident.
const refMark = "\x00"

// ref is the stand-in value of every attribute of the resource at base.
func ref(base string) string { return refMark + "ref:" + base + refMark }

// refs returns the addresses marked in s.
func refs(s string) []string {
	var out []string
	for {
		i := strings.Index(s, refMark+"ref:")
		if i < 0 {
			return out
		}
		s = s[i+len(refMark)+4:]
		j := strings.Index(s, refMark)
		if j < 0 {
			return out
		}
		out = append(out, s[:j])
		s = s[j+1:]
	}
}

// baseAddress strips the instance keys ([0], ["a"]) of an address.
func baseAddress(addr string) string {
	var b strings.Builder
	depth := 0
	inStr := false
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		switch {
		case inStr:
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
			continue
		case c == '"' && depth > 0:
			inStr = true
			continue
		case c == '[':
			depth++
			continue
		case c == ']':
			if depth > 0 {
				depth--
			}
			continue
		}
		if depth == 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// str reads a scalar as text; other values read as "".
func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// strs reads a string or a list (of lists) of strings.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, strs(e)...)
		}
		return out
	}
	return nil
}

// boolean reads a bool, or its text; ok is false when v is neither.
func boolean(v any) (val, ok bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		b, err := strconv.ParseBool(v)
		return b, err == nil
	}
	return false, false
}

// isTrue reports whether v is true.
func isTrue(v any) bool { b, ok := boolean(v); return ok && b }

// blocks reads the nested blocks under name: a list of maps, or one map.
func blocks(m map[string]any, name string) []map[string]any {
	switch v := m[name].(type) {
	case map[string]any:
		return []map[string]any{v}
	case []any:
		var out []map[string]any
		for _, e := range v {
			if mm, ok := e.(map[string]any); ok {
				out = append(out, mm)
			}
		}
		return out
	}
	return nil
}

// block reads the first nested block under name, or an empty map.
func block(m map[string]any, name string) map[string]any {
	if bs := blocks(m, name); len(bs) > 0 {
		return bs[0]
	}
	return map[string]any{}
}

// number reads a number or its text.
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	return 0, false
}
