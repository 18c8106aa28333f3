package export_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/export"
)

// ocsfAttr is one attribute of an OCSF class or object as the OCSF
// server's schema export describes it (testdata/ocsf holds an excerpt).
type ocsfAttr struct {
	Type        string                     `json:"type"`
	Requirement string                     `json:"requirement"`
	IsArray     bool                       `json:"is_array"`
	Profile     string                     `json:"profile"`
	ObjectType  string                     `json:"object_type"`
	Enum        map[string]json.RawMessage `json:"enum"`
}

// ocsfDef is a class or an object of the schema export.
type ocsfDef struct {
	Name       string              `json:"name"`
	UID        int                 `json:"uid"`
	Attributes map[string]ocsfAttr `json:"attributes"`
}

// ocsfSchema is the part of the OCSF server's schema export the validator
// reads.
type ocsfSchema struct {
	Version string             `json:"version"`
	Classes map[string]ocsfDef `json:"classes"`
	Objects map[string]ocsfDef `json:"objects"`
}

// loadOCSFExcerpt reads the committed excerpt of OCSF's own 1.3.0 schema
// export.
func loadOCSFExcerpt(t testing.TB) *ocsfSchema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ocsf", "schema-1.3.0-excerpt.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s ocsfSchema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("OCSF excerpt: %v", err)
	}
	return &s
}

// classByUID finds the class whose class_uid enumerates uid.
func (s *ocsfSchema) classByUID(uid string) (ocsfDef, bool) {
	for _, c := range s.Classes {
		if _, ok := c.Attributes["class_uid"].Enum[uid]; ok {
			return c, true
		}
	}
	return ocsfDef{}, false
}

// ocsfValidator checks events against an OCSF schema export: every
// required attribute present, no attribute the class or object does not
// define (attributes of a profile count only when metadata.profiles names
// it), scalar types, arrays where is_array, and enumerated values. Objects
// the schema holds are checked recursively; an attribute whose object
// type the schema lacks must still be a JSON object (or an array of them),
// and the object type is recorded in unchecked.
type ocsfValidator struct {
	schema    *ocsfSchema
	unchecked map[string]bool
}

// scalarKinds maps OCSF's scalar types (the "types" of the schema) to the
// JSON kind a value must have. Types not listed make validation fail, so
// nothing goes unchecked silently.
var scalarKinds = map[string]string{
	"string_t": "string", "datetime_t": "string", "email_t": "string", "hostname_t": "string",
	"ip_t": "string", "mac_t": "string", "subnet_t": "string", "url_t": "string", "uuid_t": "string",
	"file_name_t": "string", "file_path_t": "string", "file_hash_t": "string", "process_name_t": "string",
	"resource_uid_t": "string", "username_t": "string", "reg_key_path_t": "string", "bytestring_t": "string",
	"integer_t": "integer", "long_t": "integer", "port_t": "integer", "timestamp_t": "integer",
	"float_t": "number", "boolean_t": "boolean", "json_t": "any",
}

// validate checks one event (a JSON object, decoded with UseNumber) and
// returns every violation found.
func (v *ocsfValidator) validate(ev map[string]any) []error {
	uid, ok := ev["class_uid"].(json.Number)
	if !ok {
		return []error{fmt.Errorf("class_uid missing or not a number")}
	}
	class, ok := v.schema.classByUID(uid.String())
	if !ok {
		return []error{fmt.Errorf("class_uid %s is not a class of the schema excerpt", uid)}
	}
	profiles := map[string]bool{}
	if md, ok := ev["metadata"].(map[string]any); ok {
		if ps, ok := md["profiles"].([]any); ok {
			for _, p := range ps {
				if s, ok := p.(string); ok {
					profiles[s] = true
				}
			}
		}
	}
	var errs []error
	v.object(class.Name, class.Attributes, ev, profiles, &errs)
	return errs
}

func (v *ocsfValidator) object(path string, attrs map[string]ocsfAttr, obj map[string]any, profiles map[string]bool, errs *[]error) {
	applies := func(a ocsfAttr) bool { return a.Profile == "" || profiles[a.Profile] }
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		a, ok := attrs[k]
		if !ok || !applies(a) {
			*errs = append(*errs, fmt.Errorf("%s.%s: attribute unknown to the schema", path, k))
			continue
		}
		val := obj[k]
		if a.IsArray {
			xs, ok := val.([]any)
			if !ok {
				*errs = append(*errs, fmt.Errorf("%s.%s: %T, want an array", path, k, val))
				continue
			}
			for i, x := range xs {
				v.value(fmt.Sprintf("%s.%s[%d]", path, k, i), a, x, profiles, errs)
			}
			continue
		}
		v.value(path+"."+k, a, val, profiles, errs)
	}
	for k, a := range attrs {
		if a.Requirement == "required" && applies(a) {
			if _, ok := obj[k]; !ok {
				*errs = append(*errs, fmt.Errorf("%s.%s: required attribute missing", path, k))
			}
		}
	}
}

func (v *ocsfValidator) value(path string, a ocsfAttr, val any, profiles map[string]bool, errs *[]error) {
	if a.ObjectType != "" {
		m, ok := val.(map[string]any)
		if !ok {
			*errs = append(*errs, fmt.Errorf("%s: %T, want an object %s", path, val, a.ObjectType))
			return
		}
		if a.ObjectType == "object" {
			return // OCSF's free-form object (unmapped)
		}
		def, ok := v.schema.Objects[a.ObjectType]
		if !ok {
			v.unchecked[a.ObjectType] = true
			return
		}
		v.object(path, def.Attributes, m, profiles, errs)
		return
	}
	kind, ok := scalarKinds[a.Type]
	if !ok {
		*errs = append(*errs, fmt.Errorf("%s: type %s unknown to the validator", path, a.Type))
		return
	}
	var key string
	switch kind {
	case "string":
		s, ok := val.(string)
		if !ok {
			*errs = append(*errs, fmt.Errorf("%s: %T, want a string (%s)", path, val, a.Type))
			return
		}
		key = s
	case "integer":
		n, ok := val.(json.Number)
		i, err := n.Int64()
		if !ok || err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %T %v, want an integer (%s)", path, val, val, a.Type))
			return
		}
		if a.Type == "integer_t" && (i < math.MinInt32 || i > math.MaxInt32) {
			*errs = append(*errs, fmt.Errorf("%s: %d out of the 32-bit range of integer_t", path, i))
			return
		}
		key = n.String()
	case "number":
		n, ok := val.(json.Number)
		if _, err := n.Float64(); !ok || err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %T %v, want a number (%s)", path, val, val, a.Type))
			return
		}
	case "boolean":
		if _, ok := val.(bool); !ok {
			*errs = append(*errs, fmt.Errorf("%s: %T, want a boolean", path, val))
			return
		}
	}
	if a.Enum != nil {
		if _, ok := a.Enum[key]; !ok {
			*errs = append(*errs, fmt.Errorf("%s: %v is not a value the schema enumerates", path, val))
		}
	}
}

// decodeEvent decodes one JSON line keeping numbers exact.
func decodeEvent(t testing.TB, line []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("OCSF event %.200s: %v", line, err)
	}
	return m
}

func TestOCSFExcerptIsReadable(t *testing.T) {
	t.Parallel()
	s := loadOCSFExcerpt(t)
	if s.Version != export.OCSFVersion {
		t.Errorf("OCSF excerpt version %q, want %q", s.Version, export.OCSFVersion)
	}
	c, ok := s.classByUID("2004")
	if !ok || c.Name != "detection_finding" || c.UID != export.OCSFDetectionFinding {
		t.Fatalf("OCSF excerpt class 2004 = %q (uid %d), want detection_finding", c.Name, c.UID)
	}
	for name, a := range c.Attributes {
		if a.ObjectType == "" {
			if _, ok := scalarKinds[a.Type]; !ok {
				t.Errorf("detection_finding.%s: type %s unknown to the validator", name, a.Type)
			}
		}
		if !slices.Contains([]string{"required", "recommended", "optional"}, a.Requirement) {
			t.Errorf("detection_finding.%s: requirement %q", name, a.Requirement)
		}
	}
}

// TestOCSFDetectionFindingsMatchOfficialSchema validates every Detection
// Finding the export writes for the real estate (exposures without a CVE
// or CWE, and every attack path) against the class definition of OCSF's
// own 1.3.0 schema export. Vulnerability Findings are not in the excerpt
// (see testdata/ocsf/SOURCES.tsv); TestExportsValidateAgainstSchemas still
// checks them against ctem's own reading of the class.
func TestOCSFDetectionFindingsMatchOfficialSchema(t *testing.T) {
	t.Parallel()
	d := realEstate(t)
	v := &ocsfValidator{schema: loadOCSFExcerpt(t), unchecked: map[string]bool{}}
	out := write(t, "ocsf", d.exposures, d.paths)
	checked := map[string]int{}
	for i, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		ev := decodeEvent(t, line)
		if ev["class_uid"] != json.Number("2004") {
			continue
		}
		kind := "exposure"
		if i >= len(d.exposures) {
			kind = "path"
		}
		checked[kind]++
		for _, err := range v.validate(ev) {
			t.Errorf("OCSF line %d (%s): %v", i+1, kind, err)
		}
	}
	if checked["exposure"] == 0 || checked["path"] == 0 {
		t.Fatalf("Detection Findings checked %v, want exposures and paths", checked)
	}
	// The objects the excerpt does not define: their attributes go
	// unchecked here, only their being objects is.
	var unchecked []string
	for o := range v.unchecked {
		unchecked = append(unchecked, o)
	}
	sort.Strings(unchecked)
	if diff := cmp.Diff([]string{"finding_info", "metadata", "resource_details"}, unchecked); diff != "" {
		t.Errorf("object types not in the excerpt (-want +got):\n%s", diff)
	}
}

// TestOCSFValidatorRejectsBrokenEvents makes sure the validator would
// catch an export that breaks the official class definition.
func TestOCSFValidatorRejectsBrokenEvents(t *testing.T) {
	t.Parallel()
	d := realEstate(t)
	v := &ocsfValidator{schema: loadOCSFExcerpt(t), unchecked: map[string]bool{}}
	var path []byte
	for _, line := range bytes.Split(bytes.TrimSpace(write(t, "ocsf", nil, d.paths)), []byte("\n")) {
		path = line
		break
	}
	if errs := v.validate(decodeEvent(t, path)); len(errs) != 0 {
		t.Fatalf("validate(attack path event) = %v, want no error", errs)
	}
	tests := []struct {
		name  string
		edit  func(m map[string]any)
		wants string
	}{
		{"required finding_info removed", func(m map[string]any) { delete(m, "finding_info") }, "detection_finding.finding_info: required attribute missing"},
		{"required time removed", func(m map[string]any) { delete(m, "time") }, "detection_finding.time: required attribute missing"},
		{"unknown attribute", func(m map[string]any) { m["exposure_score"] = json.Number("7") }, "detection_finding.exposure_score: attribute unknown"},
		{"profile attribute without the profile", func(m map[string]any) { m["cloud"] = map[string]any{} }, "detection_finding.cloud: attribute unknown"},
		{"status_id not enumerated", func(m map[string]any) { m["status_id"] = json.Number("7") }, "detection_finding.status_id: 7 is not a value"},
		{"type_uid of another class", func(m map[string]any) { m["type_uid"] = json.Number("200201") }, "detection_finding.type_uid: 200201 is not a value"},
		{"time as a string", func(m map[string]any) { m["time"] = "2026-03-01T12:00:00Z" }, "detection_finding.time: string 2026-03-01T12:00:00Z, want an integer"},
		{"message as a number", func(m map[string]any) { m["message"] = json.Number("1") }, "detection_finding.message: json.Number, want a string"},
		{"risk_score fractional", func(m map[string]any) { m["risk_score"] = json.Number("7.5") }, "detection_finding.risk_score: json.Number 7.5, want an integer"},
		{"resources not an array", func(m map[string]any) { m["resources"] = map[string]any{"uid": "x"} }, "detection_finding.resources: map[string]interface {}, want an array"},
		{"metadata not an object", func(m map[string]any) { m["metadata"] = "ctem" }, "detection_finding.metadata: string, want an object metadata"},
		{"class_uid of a class the excerpt lacks", func(m map[string]any) { m["class_uid"] = json.Number("2002") }, "class_uid 2002 is not a class"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := decodeEvent(t, path)
			tt.edit(ev)
			errs := v.validate(ev)
			found := slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), tt.wants) })
			if !found {
				t.Errorf("validate(%s) = %v, want an error containing %q", tt.name, errs, tt.wants)
			}
		})
	}
	// With the cloud profile declared, cloud is known and required.
	ev := decodeEvent(t, path)
	ev["metadata"].(map[string]any)["profiles"] = []any{"cloud"}
	errs := v.validate(ev)
	if !slices.ContainsFunc(errs, func(err error) bool {
		return strings.Contains(err.Error(), "detection_finding.cloud: required attribute missing")
	}) {
		t.Errorf("validate(cloud profile without cloud) = %v, want cloud required", errs)
	}
}
