package export_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemas maps each schema file in testdata/schema to the URL it is known
// by (its $id, so that the references between them resolve offline).
// All are the published schemas but for OCSF's: OCSF publishes JSON
// Schema only through its server, so ocsf-1.3.0-findings is ctem's own
// reading of the class definitions (see testdata/SOURCES.tsv). It is now
// redundant: TestOCSFFindingsMatchOfficialSchema checks every Vulnerability
// Finding and Detection Finding, and every object inside them, against
// the official definitions (an excerpt of OCSF's own schema export in
// testdata/ocsf). It stays as a second, independent reading.
var schemas = map[string]string{
	"sarif-schema-2.1.0.json":         "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
	"bom-1.6.schema.json":             "http://cyclonedx.org/schema/bom-1.6.schema.json",
	"spdx.schema.json":                "http://cyclonedx.org/schema/spdx.schema.json",
	"jsf-0.82.schema.json":            "http://cyclonedx.org/schema/jsf-0.82.schema.json",
	"ocsf-1.3.0-findings.schema.json": "https://ctem.dev/schema/ocsf-1.3.0-findings.schema.json",
	"openvex_json_schema.json":        "https://github.com/openvex/spec/openvex_json_schema_0.2.0.json",
}

// compile compiles the schema file name with every committed schema
// available, asserting formats (uri, date-time) too.
func compile(t testing.TB, name string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for file, url := range schemas {
		f, err := os.Open(filepath.Join("testdata", "schema", file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("schema %s: %v", file, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("schema %s: %v", file, err)
		}
	}
	s, err := c.Compile(schemas[name])
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return s
}

// validate validates one JSON document against s.
func validate(s *jsonschema.Schema, doc []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// docs splits an export into its JSON documents: OCSF is one per line.
func docs(format string, out []byte) [][]byte {
	if format != "ocsf" {
		return [][]byte{out}
	}
	return bytes.Split(bytes.TrimSpace(out), []byte("\n"))
}

// tamper edits the first document of an export with f, for the negative
// twins: an export the schema must reject.
func tamper(t testing.TB, doc []byte, f func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExportsValidateAgainstSchemas(t *testing.T) {
	t.Parallel()
	d := realEstate(t)
	tests := []struct {
		format, schema string
		// breaks makes a document that its schema must reject.
		breaks func(map[string]any)
	}{
		{"sarif", "sarif-schema-2.1.0.json", func(m map[string]any) {
			r := m["runs"].([]any)[0].(map[string]any)["results"].([]any)[0].(map[string]any)
			r["level"] = "fatal"
		}},
		{"cyclonedx-vex", "bom-1.6.schema.json", func(m map[string]any) {
			v := m["vulnerabilities"].([]any)[0].(map[string]any)
			v["analysis"].(map[string]any)["state"] = "accepted"
		}},
		{"openvex", "openvex_json_schema.json", func(m map[string]any) {
			st := m["statements"].([]any)[0].(map[string]any)
			st["status"] = "affected"
			delete(st, "action_statement")
		}},
		{"ocsf", "ocsf-1.3.0-findings.schema.json", func(m map[string]any) {
			delete(m, "vulnerabilities")
			m["class_uid"] = 2002.0
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			t.Parallel()
			s := compile(t, tt.schema)
			out := write(t, tt.format, d.exposures, d.paths)
			ds := docs(tt.format, out)
			for i, doc := range ds {
				if err := validate(s, doc); err != nil {
					t.Fatalf("%s export (document %d of %d) does not validate against %s:\n%v", tt.format, i+1, len(ds), tt.schema, err)
				}
			}
			if err := validate(s, tamper(t, ds[0], tt.breaks)); err == nil {
				t.Errorf("%s: a broken document validates against %s; the schema checks nothing", tt.format, tt.schema)
			}
		})
	}
}

// TestSubjectExportValidates exports one asset's exposures, as --asset
// does, where the CycloneDX metadata names the asset.
func TestSubjectExportValidates(t *testing.T) {
	t.Parallel()
	d := realEstate(t)
	var asset string
	for _, x := range d.exposures {
		if strings.HasPrefix(x.Asset, "image:") && x.Package.Name != "" {
			asset = x.Asset
			break
		}
	}
	if asset == "" {
		t.Fatal("no image exposure in the test database")
	}
	var xs []exportExposure
	for _, x := range d.exposures {
		if x.Asset == asset {
			xs = append(xs, x)
		}
	}
	var buf bytes.Buffer
	if err := runSubject(&buf, "cyclonedx-vex", asset, xs); err != nil {
		t.Fatal(err)
	}
	if err := validate(compile(t, "bom-1.6.schema.json"), buf.Bytes()); err != nil {
		t.Fatalf("CycloneDX export of %s does not validate: %v", asset, err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"type":"container"`)) {
		t.Errorf("CycloneDX export of %s: metadata component is no container:\n%.400s", asset, buf.String())
	}
}
