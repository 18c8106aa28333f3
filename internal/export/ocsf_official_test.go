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
	// Deprecated is the official deprecation note ({message, since}),
	// absent for attributes that are not deprecated.
	Deprecated json.RawMessage `json:"deprecated"`
}

// ocsfDef is a class or an object of the schema export.
type ocsfDef struct {
	Name       string              `json:"name"`
	UID        int                 `json:"uid"`
	Attributes map[string]ocsfAttr `json:"attributes"`
	// Constraints maps a kind (at_least_one, just_one) to the attributes
	// it constrains.
	Constraints map[string][]string `json:"constraints"`
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
// it), no deprecated attribute, the at_least_one and just_one
// constraints, scalar types, arrays where is_array, and enumerated
// values. Objects
// the schema holds are checked recursively; an attribute whose object
// type the schema lacks must still be a JSON object (or an array of them),
// and the object type is recorded in unchecked; the object types checked
// against their definition are recorded in checked (when not nil).
type ocsfValidator struct {
	schema    *ocsfSchema
	unchecked map[string]bool
	checked   map[string]bool
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
	v.object(class.Name, class, ev, profiles, &errs)
	return errs
}

func (v *ocsfValidator) object(path string, def ocsfDef, obj map[string]any, profiles map[string]bool, errs *[]error) {
	attrs := def.Attributes
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
		if len(a.Deprecated) > 0 && string(a.Deprecated) != "null" {
			*errs = append(*errs, fmt.Errorf("%s.%s: attribute deprecated (%s)", path, k, a.Deprecated))
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
	for kind, names := range def.Constraints {
		n := 0
		for _, k := range names {
			if _, ok := obj[k]; ok {
				n++
			}
		}
		switch {
		case kind == "at_least_one" && n == 0:
			*errs = append(*errs, fmt.Errorf("%s: none of %v, want at least one (constraint at_least_one)", path, names))
		case kind == "just_one" && n != 1:
			*errs = append(*errs, fmt.Errorf("%s: %d of %v, want just one (constraint just_one)", path, n, names))
		case kind != "at_least_one" && kind != "just_one":
			*errs = append(*errs, fmt.Errorf("%s: constraint %s unknown to the validator", path, kind))
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
		if v.checked != nil {
			v.checked[a.ObjectType] = true
		}
		v.object(path, def, m, profiles, errs)
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
	for _, want := range []struct {
		uid  int
		name string
	}{
		{export.OCSFVulnerabilityFinding, "vulnerability_finding"},
		{export.OCSFDetectionFinding, "detection_finding"},
	} {
		c, ok := s.classByUID(fmt.Sprint(want.uid))
		if !ok || c.Name != want.name || c.UID != want.uid {
			t.Errorf("OCSF excerpt class %d = %q (uid %d), want %s", want.uid, c.Name, c.UID, want.name)
			continue
		}
		for name, a := range c.Attributes {
			if a.ObjectType == "" {
				if _, ok := scalarKinds[a.Type]; !ok {
					t.Errorf("%s.%s: type %s unknown to the validator", c.Name, name, a.Type)
				}
			}
			if !slices.Contains([]string{"required", "recommended", "optional"}, a.Requirement) {
				t.Errorf("%s.%s: requirement %q", c.Name, name, a.Requirement)
			}
		}
	}
	for key, o := range s.Objects {
		if o.Name != key || len(o.Attributes) == 0 {
			t.Errorf("OCSF excerpt object %s: name %q, %d attributes", key, o.Name, len(o.Attributes))
		}
		for name, a := range o.Attributes {
			if _, ok := scalarKinds[a.Type]; !ok && a.ObjectType == "" {
				t.Errorf("%s.%s: type %s unknown to the validator", key, name, a.Type)
			}
			if a.ObjectType != "" && a.ObjectType != a.Type {
				t.Errorf("%s.%s: object_type %s, type %s", key, name, a.ObjectType, a.Type)
			}
			if !slices.Contains([]string{"required", "recommended", "optional"}, a.Requirement) {
				t.Errorf("%s.%s: requirement %q", key, name, a.Requirement)
			}
		}
	}
}

// ocsfLine is one exported event and what it came from.
type ocsfLine struct {
	n    int    // line number, from 1
	kind string // "exposure" or "path"
	ev   map[string]any
}

// ocsfLines exports the real estate's exposures and paths as OCSF and
// returns the events of class uid.
func ocsfLines(t *testing.T, d *estateData, uid string) []ocsfLine {
	t.Helper()
	var ls []ocsfLine
	for i, line := range bytes.Split(bytes.TrimSpace(write(t, "ocsf", d.exposures, d.paths)), []byte("\n")) {
		ev := decodeEvent(t, line)
		if ev["class_uid"] != json.Number(uid) {
			continue
		}
		kind := "exposure"
		if i >= len(d.exposures) {
			kind = "path"
		}
		ls = append(ls, ocsfLine{n: i + 1, kind: kind, ev: ev})
	}
	return ls
}

// TestOCSFFindingsMatchOfficialSchema validates every event the export
// writes for the real estate against the class definitions of OCSF's own
// 1.3.0 schema export: Vulnerability Findings (exposures with a CVE or a
// CWE) and Detection Findings (the other exposures, and every attack
// path), recursing into every object the events contain: the excerpt
// holds each of them (see testdata/ocsf/SOURCES.tsv).
func TestOCSFFindingsMatchOfficialSchema(t *testing.T) {
	t.Parallel()
	d := realEstate(t)
	tests := []struct {
		uid       string
		kinds     []string // the sources that must each give at least one event
		unchecked []string // object types the excerpt does not define
		checked   []string // object types validated against the excerpt
	}{
		{"2002", []string{"exposure"}, nil, []string{"affected_code", "affected_package", "cve", "cvss", "cwe", "file",
			"finding_info", "metadata", "product", "remediation", "resource_details", "vulnerability"}},
		{"2004", []string{"exposure", "path"}, nil, []string{"analytic", "finding_info", "metadata", "product", "resource_details"}},
	}
	for _, tt := range tests {
		t.Run(tt.uid, func(t *testing.T) {
			t.Parallel()
			v := &ocsfValidator{schema: loadOCSFExcerpt(t), unchecked: map[string]bool{}, checked: map[string]bool{}}
			checked := map[string]int{}
			for _, l := range ocsfLines(t, d, tt.uid) {
				checked[l.kind]++
				for _, err := range v.validate(l.ev) {
					t.Errorf("OCSF line %d (%s): %v", l.n, l.kind, err)
				}
			}
			for _, k := range tt.kinds {
				if checked[k] == 0 {
					t.Fatalf("class %s events checked %v, want some from each of %v", tt.uid, checked, tt.kinds)
				}
			}
			// The objects the excerpt does not define: their attributes
			// go unchecked here, only their being objects is.
			var unchecked []string
			for o := range v.unchecked {
				unchecked = append(unchecked, o)
			}
			sort.Strings(unchecked)
			if diff := cmp.Diff(tt.unchecked, unchecked); diff != "" {
				t.Errorf("class %s: object types not in the excerpt (-want +got):\n%s", tt.uid, diff)
			}
			var objs []string
			for o := range v.checked {
				objs = append(objs, o)
			}
			sort.Strings(objs)
			if diff := cmp.Diff(tt.checked, objs); diff != "" {
				t.Errorf("class %s: object types checked against the excerpt (-want +got):\n%s", tt.uid, diff)
			}
		})
	}
}

// TestOCSFValidatorRejectsBrokenEvents makes sure the validator would
// catch an export that breaks the official class definitions.
func TestOCSFValidatorRejectsBrokenEvents(t *testing.T) {
	t.Parallel()
	d := realEstate(t)
	schema := loadOCSFExcerpt(t)
	v := &ocsfValidator{schema: schema, unchecked: map[string]bool{}}
	first := map[string][]byte{} // class uid or content -> the first such event
	for _, line := range bytes.Split(bytes.TrimSpace(write(t, "ocsf", d.exposures, d.paths)), []byte("\n")) {
		uid := decodeEvent(t, line)["class_uid"].(json.Number).String()
		keys := []string{uid}
		if uid == "2002" && bytes.Contains(line, []byte(`"cvss"`)) && bytes.Contains(line, []byte(`"remediation"`)) && bytes.Contains(line, []byte(`"cwe"`)) {
			keys = append(keys, "package")
		}
		if uid == "2002" && bytes.Contains(line, []byte(`"affected_code"`)) {
			keys = append(keys, "code")
		}
		for _, k := range keys {
			if _, ok := first[k]; !ok {
				first[k] = line
			}
		}
	}
	var path []byte
	for _, line := range bytes.Split(bytes.TrimSpace(write(t, "ocsf", nil, d.paths)), []byte("\n")) {
		path = line
		break
	}
	events := map[string][]byte{"2002": first["2002"], "2004": first["2004"], "path": path, "package": first["package"], "code": first["code"]}
	vuln := func(m map[string]any) map[string]any { return m["vulnerabilities"].([]any)[0].(map[string]any) }
	child := func(m map[string]any, k string) map[string]any {
		if xs, ok := m[k].([]any); ok {
			return xs[0].(map[string]any)
		}
		return m[k].(map[string]any)
	}
	for name, ev := range events {
		if ev == nil {
			t.Fatalf("no %s event in the real estate's export", name)
		}
		if errs := v.validate(decodeEvent(t, ev)); len(errs) != 0 {
			t.Fatalf("validate(%s event) = %v, want no error", name, errs)
		}
	}
	tests := []struct {
		name  string
		event string // a key of events
		edit  func(m map[string]any)
		wants string
	}{
		{"required finding_info removed", "path", func(m map[string]any) { delete(m, "finding_info") }, "detection_finding.finding_info: required attribute missing"},
		{"required time removed", "path", func(m map[string]any) { delete(m, "time") }, "detection_finding.time: required attribute missing"},
		{"unknown attribute", "path", func(m map[string]any) { m["exposure_score"] = json.Number("7") }, "detection_finding.exposure_score: attribute unknown"},
		{"profile attribute without the profile", "path", func(m map[string]any) { m["cloud"] = map[string]any{} }, "detection_finding.cloud: attribute unknown"},
		{"status_id not enumerated", "path", func(m map[string]any) { m["status_id"] = json.Number("7") }, "detection_finding.status_id: 7 is not a value"},
		{"type_uid of another class", "path", func(m map[string]any) { m["type_uid"] = json.Number("200201") }, "detection_finding.type_uid: 200201 is not a value"},
		{"time as a string", "path", func(m map[string]any) { m["time"] = "2026-03-01T12:00:00Z" }, "detection_finding.time: string 2026-03-01T12:00:00Z, want an integer"},
		{"message as a number", "path", func(m map[string]any) { m["message"] = json.Number("1") }, "detection_finding.message: json.Number, want a string"},
		{"risk_score fractional", "path", func(m map[string]any) { m["risk_score"] = json.Number("7.5") }, "detection_finding.risk_score: json.Number 7.5, want an integer"},
		{"resources not an array", "path", func(m map[string]any) { m["resources"] = map[string]any{"uid": "x"} }, "detection_finding.resources: map[string]interface {}, want an array"},
		{"metadata not an object", "path", func(m map[string]any) { m["metadata"] = "ctem" }, "detection_finding.metadata: string, want an object metadata"},
		{"class_uid of a class the excerpt lacks", "path", func(m map[string]any) { m["class_uid"] = json.Number("2003") }, "class_uid 2003 is not a class"},
		{"detection exposure as a vulnerability finding", "2004", func(m map[string]any) { m["class_uid"] = json.Number("2002") }, "vulnerability_finding.vulnerabilities: required attribute missing"},

		{"vulnerability finding: vulnerabilities removed", "2002", func(m map[string]any) { delete(m, "vulnerabilities") }, "vulnerability_finding.vulnerabilities: required attribute missing"},
		{"vulnerability finding: vulnerabilities not an array", "2002", func(m map[string]any) {
			m["vulnerabilities"] = m["vulnerabilities"].([]any)[0]
		}, "vulnerability_finding.vulnerabilities: map[string]interface {}, want an array"},
		{"vulnerability finding: vulnerability not an object", "2002", func(m map[string]any) {
			m["vulnerabilities"] = []any{"CVE-2021-44228"}
		}, "vulnerability_finding.vulnerabilities[0]: string, want an object vulnerability"},
		{"vulnerability finding: required metadata removed", "2002", func(m map[string]any) { delete(m, "metadata") }, "vulnerability_finding.metadata: required attribute missing"},
		{"vulnerability finding: required severity_id removed", "2002", func(m map[string]any) { delete(m, "severity_id") }, "vulnerability_finding.severity_id: required attribute missing"},
		{"vulnerability finding: risk_score (a Detection Finding attribute)", "2002", func(m map[string]any) { m["risk_score"] = json.Number("70") }, "vulnerability_finding.risk_score: attribute unknown"},
		{"vulnerability finding: deprecated resource", "2002", func(m map[string]any) {
			m["resource"] = m["resources"].([]any)[0]
		}, "vulnerability_finding.resource: attribute deprecated"},
		{"vulnerability finding: device without the host profile", "2002", func(m map[string]any) { m["device"] = map[string]any{} }, "vulnerability_finding.device: attribute unknown"},
		{"vulnerability finding: type_uid of Detection Finding", "2002", func(m map[string]any) { m["type_uid"] = json.Number("200401") }, "vulnerability_finding.type_uid: 200401 is not a value"},
		{"vulnerability finding: activity_id not enumerated", "2002", func(m map[string]any) { m["activity_id"] = json.Number("4") }, "vulnerability_finding.activity_id: 4 is not a value"},
		{"vulnerability finding: severity_id not enumerated", "2002", func(m map[string]any) { m["severity_id"] = json.Number("7") }, "vulnerability_finding.severity_id: 7 is not a value"},
		{"vulnerability finding: category_uid of another category", "2002", func(m map[string]any) { m["category_uid"] = json.Number("5") }, "vulnerability_finding.category_uid: 5 is not a value"},
		{"vulnerability finding: start_time as a string", "2002", func(m map[string]any) { m["start_time"] = "2026-03-01T12:00:00Z" }, "vulnerability_finding.start_time: string 2026-03-01T12:00:00Z, want an integer"},
		{"vulnerability finding: status_detail as a number", "2002", func(m map[string]any) { m["status_detail"] = json.Number("1") }, "vulnerability_finding.status_detail: json.Number, want a string"},

		// Inside the objects the excerpt defines.
		{"vulnerability: neither cve nor cwe", "package", func(m map[string]any) { delete(vuln(m), "cve"); delete(vuln(m), "cwe") }, "vulnerability_finding.vulnerabilities[0]: none of [cve cwe], want at least one"},
		{"vulnerability: unknown attribute", "package", func(m map[string]any) { vuln(m)["exploitability"] = "high" }, "vulnerability_finding.vulnerabilities[0].exploitability: attribute unknown"},
		{"vulnerability: deprecated fix_available", "package", func(m map[string]any) { vuln(m)["fix_available"] = true }, "vulnerability_finding.vulnerabilities[0].fix_available: attribute deprecated"},
		{"vulnerability: is_fix_available as a string", "package", func(m map[string]any) { vuln(m)["is_fix_available"] = "yes" }, "vulnerability_finding.vulnerabilities[0].is_fix_available: string, want a boolean"},
		{"vulnerability: references not an array", "package", func(m map[string]any) { vuln(m)["references"] = "https://nvd.nist.gov/" }, "vulnerability_finding.vulnerabilities[0].references: string, want an array"},
		{"cve: uid removed", "package", func(m map[string]any) { delete(child(vuln(m), "cve"), "uid") }, "vulnerability_finding.vulnerabilities[0].cve.uid: required attribute missing"},
		{"cve: deprecated cwe_uid", "package", func(m map[string]any) { child(vuln(m), "cve")["cwe_uid"] = "CWE-79" }, "vulnerability_finding.vulnerabilities[0].cve.cwe_uid: attribute deprecated"},
		{"cvss: base_score as a string", "package", func(m map[string]any) { child(child(vuln(m), "cve"), "cvss")["base_score"] = "9.8" }, "vulnerability_finding.vulnerabilities[0].cve.cvss[0].base_score: string 9.8, want a number"},
		{"cvss: version removed", "package", func(m map[string]any) { delete(child(child(vuln(m), "cve"), "cvss"), "version") }, "vulnerability_finding.vulnerabilities[0].cve.cvss[0].version: required attribute missing"},
		{"cvss: depth not enumerated", "package", func(m map[string]any) { child(child(vuln(m), "cve"), "cvss")["depth"] = "Total" }, "vulnerability_finding.vulnerabilities[0].cve.cvss[0].depth: Total is not a value"},
		{"cwe: uid removed", "package", func(m map[string]any) { delete(child(vuln(m), "cwe"), "uid") }, "vulnerability_finding.vulnerabilities[0].cwe.uid: required attribute missing"},
		{"affected_package: version removed", "package", func(m map[string]any) { delete(child(vuln(m), "affected_packages"), "version") }, "vulnerability_finding.vulnerabilities[0].affected_packages[0].version: required attribute missing"},
		{"affected_package: unknown attribute", "package", func(m map[string]any) { child(vuln(m), "affected_packages")["fixed_version"] = "1.2" }, "vulnerability_finding.vulnerabilities[0].affected_packages[0].fixed_version: attribute unknown"},
		{"remediation: desc removed", "package", func(m map[string]any) { delete(child(vuln(m), "remediation"), "desc") }, "vulnerability_finding.vulnerabilities[0].remediation.desc: required attribute missing"},
		{"affected_code: start_line as a string", "code", func(m map[string]any) { child(vuln(m), "affected_code")["start_line"] = "37" }, "vulnerability_finding.vulnerabilities[0].affected_code[0].start_line: string 37, want an integer"},
		{"file: name removed", "code", func(m map[string]any) { delete(child(child(vuln(m), "affected_code"), "file"), "name") }, "vulnerability_finding.vulnerabilities[0].affected_code[0].file.name: required attribute missing"},
		{"file: type_id not enumerated", "code", func(m map[string]any) { child(child(vuln(m), "affected_code"), "file")["type_id"] = json.Number("8") }, "vulnerability_finding.vulnerabilities[0].affected_code[0].file.type_id: 8 is not a value"},
		{"metadata: version removed", "2002", func(m map[string]any) { delete(child(m, "metadata"), "version") }, "vulnerability_finding.metadata.version: required attribute missing"},
		{"product: vendor_name removed", "path", func(m map[string]any) { delete(child(child(m, "metadata"), "product"), "vendor_name") }, "detection_finding.metadata.product.vendor_name: required attribute missing"},
		{"finding_info: title removed", "2002", func(m map[string]any) { delete(child(m, "finding_info"), "title") }, "vulnerability_finding.finding_info.title: required attribute missing"},
		{"finding_info: types not an array", "2002", func(m map[string]any) { child(m, "finding_info")["types"] = "vulnerability" }, "vulnerability_finding.finding_info.types: string, want an array"},
		{"analytic: type_id not enumerated", "path", func(m map[string]any) { child(child(m, "finding_info"), "analytic")["type_id"] = json.Number("12") }, "detection_finding.finding_info.analytic.type_id: 12 is not a value"},
		{"analytic: neither name nor uid", "path", func(m map[string]any) { delete(child(child(m, "finding_info"), "analytic"), "name") }, "detection_finding.finding_info.analytic: none of [name uid], want at least one"},
		{"resource_details: neither name nor uid", "2002", func(m map[string]any) {
			r := child(m, "resources")
			delete(r, "name")
			delete(r, "uid")
		}, "vulnerability_finding.resources[0]: none of [name uid], want at least one"},
		{"resource_details: cloud-profile region without the profile", "2002", func(m map[string]any) { child(m, "resources")["region"] = "eu-west-1" }, "vulnerability_finding.resources[0].region: attribute unknown"},
		{"product: neither name nor uid", "path", func(m map[string]any) { delete(child(child(m, "metadata"), "product"), "name") }, "detection_finding.metadata.product: none of [name uid], want at least one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := &ocsfValidator{schema: schema, unchecked: map[string]bool{}}
			ev := decodeEvent(t, events[tt.event])
			tt.edit(ev)
			errs := v.validate(ev)
			found := slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), tt.wants) })
			if !found {
				t.Errorf("validate(%s) = %v, want an error containing %q", tt.name, errs, tt.wants)
			}
		})
	}
	// With the cloud profile declared, cloud is known and required, in
	// both classes; with the host profile, device is known.
	for _, name := range []string{"path", "2002"} {
		ev := decodeEvent(t, events[name])
		ev["metadata"].(map[string]any)["profiles"] = []any{"cloud"}
		errs := v.validate(ev)
		if !slices.ContainsFunc(errs, func(err error) bool {
			return strings.Contains(err.Error(), ".cloud: required attribute missing")
		}) {
			t.Errorf("validate(%s event, cloud profile without cloud) = %v, want cloud required", name, errs)
		}
	}
	ev := decodeEvent(t, events["2002"])
	ev["metadata"].(map[string]any)["profiles"] = []any{"host"}
	ev["device"] = map[string]any{"hostname": "web-1"}
	if errs := v.validate(ev); len(errs) != 0 {
		t.Errorf("validate(vulnerability finding, host profile with device) = %v, want no error", errs)
	}
}
