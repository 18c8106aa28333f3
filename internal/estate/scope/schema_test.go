package scope

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

type schema = map[string]any

func loadSchema(t testing.TB) schema {
	t.Helper()
	b, err := os.ReadFile("ctem.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s schema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("ctem.schema.json: %v", err)
	}
	return s
}

// resolve follows a local "$ref".
func resolve(root, s schema) schema {
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		cur := any(root)
		for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(schema)[p]
		}
		s = cur.(schema)
	}
}

// objectBranches returns s itself, or its object branches under oneOf.
func objectBranches(root, s schema) []schema {
	s = resolve(root, s)
	if one, ok := s["oneOf"].([]any); ok {
		var out []schema
		for _, b := range one {
			if bs := resolve(root, b.(schema)); bs["type"] == "object" {
				out = append(out, bs)
			}
		}
		return out
	}
	return []schema{s}
}

// TestSchemaMatchesStructs checks that every key the schema lists is a
// yaml tag of the Go structs and every yaml tag is in the schema.
func TestSchemaMatchesStructs(t *testing.T) {
	t.Parallel()
	root := loadSchema(t)
	var check func(path string, s schema, typ reflect.Type)
	check = func(path string, s schema, typ reflect.Type) {
		s = resolve(root, s)
		switch {
		case typ == reflect.TypeFor[Duration]():
			if s["type"] != "string" {
				t.Errorf("%s: schema type %v, want string for a duration", path, s["type"])
			}
			return
		case typ.Kind() == reflect.Slice:
			items, ok := s["items"].(schema)
			if s["type"] != "array" || !ok {
				t.Errorf("%s: schema is no array with items", path)
				return
			}
			check(path+"[]", items, typ.Elem())
			return
		case typ.Kind() == reflect.Map:
			if s["type"] != "object" || s["additionalProperties"] == nil {
				t.Errorf("%s: schema is no map", path)
			}
			return
		case typ.Kind() != reflect.Struct:
			return
		}
		props := map[string]schema{}
		for _, b := range objectBranches(root, s) {
			if b["additionalProperties"] != false {
				t.Errorf("%s: schema object allows additional properties; the decoder does not", path)
			}
			for k, v := range b["properties"].(schema) {
				props[k] = v.(schema)
			}
		}
		var tags []string
		for f := range typ.Fields() {
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if !f.IsExported() || tag == "-" {
				continue
			}
			if tag == "" {
				t.Errorf("%s.%s: exported field without a yaml tag", path, f.Name)
				continue
			}
			tags = append(tags, tag)
			if ps, ok := props[tag]; ok {
				check(path+"."+tag, ps, f.Type)
			}
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range props {
				if !yield(k) {
					return
				}
			}
		})
		sort.Strings(tags)
		if diff := cmp.Diff(keys, tags); diff != "" {
			t.Errorf("%s: schema keys vs Go yaml tags (-schema +go):\n%s", path, diff)
		}
	}
	check("scope", root, reflect.TypeFor[Scope]())
}

// validate is a small JSON Schema checker, enough for ctem.schema.json:
// type, properties, additionalProperties, required, items, enum, oneOf,
// minimum, maximum, minItems, minLength, minProperties and pattern.
func validate(root, s schema, n *yaml.Node, path string) []string {
	s = resolve(root, s)
	if n.Kind == yaml.DocumentNode {
		return validate(root, s, n.Content[0], path)
	}
	at := fmt.Sprintf("%s (line %d)", path, n.Line)
	if one, ok := s["oneOf"].([]any); ok {
		matched := 0
		for _, b := range one {
			if len(validate(root, b.(schema), n, path)) == 0 {
				matched++
			}
		}
		if matched != 1 {
			return []string{fmt.Sprintf("%s: matches %d of oneOf", at, matched)}
		}
		return nil
	}
	var errs []string
	switch s["type"] {
	case "object":
		if n.Kind != yaml.MappingNode {
			return []string{at + ": want an object"}
		}
		props, _ := s["properties"].(schema)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			seen[k] = true
			if ps, ok := props[k]; ok {
				errs = append(errs, validate(root, ps.(schema), v, path+"."+k)...)
			} else if ap, ok := s["additionalProperties"].(schema); ok {
				errs = append(errs, validate(root, ap, v, path+"."+k)...)
			} else if s["additionalProperties"] == false {
				errs = append(errs, fmt.Sprintf("%s: unknown key %q", at, k))
			}
		}
		for _, r := range anySlice(s["required"]) {
			if !seen[r.(string)] {
				errs = append(errs, fmt.Sprintf("%s: missing %q", at, r))
			}
		}
		if mp, ok := s["minProperties"].(float64); ok && float64(len(n.Content)/2) < mp {
			errs = append(errs, at+": too few properties")
		}
	case "array":
		if n.Kind != yaml.SequenceNode {
			return []string{at + ": want an array"}
		}
		if mi, ok := s["minItems"].(float64); ok && float64(len(n.Content)) < mi {
			errs = append(errs, at+": too few items")
		}
		for i, c := range n.Content {
			errs = append(errs, validate(root, s["items"].(schema), c, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case "string", "integer":
		if n.Kind != yaml.ScalarNode || (s["type"] == "string" && n.Tag != "!!str") || (s["type"] == "integer" && n.Tag != "!!int") {
			return []string{fmt.Sprintf("%s: want a %s, got %s", at, s["type"], n.Tag)}
		}
		if enum := anySlice(s["enum"]); enum != nil && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == n.Value }) {
			errs = append(errs, fmt.Sprintf("%s: %q not in enum", at, n.Value))
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(n.Value) {
			errs = append(errs, fmt.Sprintf("%s: %q does not match %s", at, n.Value, p))
		}
		if ml, ok := s["minLength"].(float64); ok && float64(len(n.Value)) < ml {
			errs = append(errs, at+": too short")
		}
		if s["type"] == "integer" {
			v, _ := strconv.Atoi(n.Value)
			if m, ok := s["minimum"].(float64); ok && float64(v) < m {
				errs = append(errs, at+": below minimum")
			}
			if m, ok := s["maximum"].(float64); ok && float64(v) > m {
				errs = append(errs, at+": above maximum")
			}
		}
	}
	return errs
}

func anySlice(v any) []any { s, _ := v.([]any); return s }

func TestFilesValidateAgainstSchema(t *testing.T) {
	t.Parallel()
	root := loadSchema(t)
	files := map[string][]byte{"starter": Starter()}
	for _, p := range []string{"testdata/example.yaml", "testdata/minimal.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = b
	}
	for name, b := range files {
		var n yaml.Node
		if err := yaml.Unmarshal(b, &n); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if errs := validate(root, root, &n, "scope"); len(errs) > 0 {
			t.Errorf("%s does not validate against ctem.schema.json:\n%s", name, strings.Join(errs, "\n"))
		}
	}
	// The checker itself must reject what the schema forbids.
	var bad yaml.Node
	if err := yaml.Unmarshal([]byte("services:\n  - name: a\n    criticality: urgent\n    match: [{}]\nentry_points: [dmz]\nextra: 1\n"), &bad); err != nil {
		t.Fatal(err)
	}
	if errs := validate(root, root, &bad, "scope"); len(errs) != 4 {
		t.Errorf("validate(bad) = %q, want 4 errors", errs)
	}
}
