package inventory_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/ctem-dev/ctem/internal/estate/inventory"
	"github.com/ctem-dev/ctem/internal/estate/k8s"
	"github.com/ctem-dev/ctem/internal/estate/terraform"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/model"
)

// rawDoc is an independent reading of an inventory.
type rawDoc struct {
	Assets    []map[string]any `json:"assets" yaml:"assets"`
	Relations []map[string]any `json:"relations" yaml:"relations"`
}

func readRaw(t testing.TB, path string) rawDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d rawDoc
	if strings.HasSuffix(path, ".json") {
		err = json.Unmarshal(data, &d)
	} else {
		err = yaml.Unmarshal(data, &d)
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path  string
		first model.Asset
		rel   model.Relation
	}{
		{
			path: "testdata/cmdb.yaml",
			first: model.Asset{Key: "host:web1.shop.internal", Kind: model.KindHost, Name: "web1", Labels: map[string]string{"dc": "fra1", "os": "debian-12"},
				Environment: "production", Owner: "team-web", Criticality: "high", Source: "inventory:cmdb.yaml"},
			rel: model.Relation{From: "host:web1.shop.internal", To: "host:db1.shop.internal", Type: model.RelConnectsTo, Action: "tcp/5432", Source: "inventory:cmdb.yaml"},
		},
		{
			path: "testdata/cmdb.json",
			first: model.Asset{Key: "arn:aws:s3:::acme-backups", Kind: model.KindDatastore, Name: "acme-backups", Labels: map[string]string{"cmdb.id": "CI0042"},
				Environment: "production", Owner: "team-infra", Criticality: "critical", Source: "inventory:cmdb.json"},
			rel: model.Relation{From: "arn:aws:iam::111122223333:role/backup", To: "arn:aws:s3:::acme-backups", Type: model.RelCan, Action: "s3:PutObject", Source: "inventory:cmdb.json"},
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			t.Parallel()
			r := ingesttest.Parse(t, inventory.Format, tt.path, ingest.Options{Target: "cmdb"})
			raw := readRaw(t, tt.path)
			if len(r.Scans) != 1 || r.Scans[0].Tool != "inventory" || r.Scans[0].Target != "cmdb" {
				t.Errorf("scans = %+v, want one inventory scan of cmdb", r.Scans)
			}
			if len(r.Assets) != len(raw.Assets) || len(r.Relations) != len(raw.Relations) {
				t.Fatalf("Parse(%s) = %d assets, %d relations; want %d, %d", tt.path, len(r.Assets), len(r.Relations), len(raw.Assets), len(raw.Relations))
			}
			for i, a := range r.Assets {
				if a.Key != raw.Assets[i]["key"] {
					t.Errorf("asset %d key %q, want %v", i, a.Key, raw.Assets[i]["key"])
				}
			}
			if diff := cmp.Diff(r.Assets[0], tt.first); diff != "" {
				t.Errorf("first asset (-got +want):\n%s", diff)
			}
			found := false
			for _, rel := range r.Relations {
				found = found || rel == tt.rel
			}
			if !found {
				t.Errorf("relations %+v lack %+v", r.Relations, tt.rel)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := append(formats.All(), k8s.Format, terraform.FormatPlan, terraform.FormatHCL, inventory.Format)
	for _, path := range []string{"testdata/cmdb.yaml", "testdata/cmdb.json"} {
		src, err := ingest.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		f, err := reg.Detect(src.Sniff())
		src.Close()
		if err != nil || f.Name != "inventory" {
			t.Errorf("Detect(%s) = %q, %v; want inventory", path, f.Name, err)
		}
	}
	var others []string
	for _, dir := range []string{"../../ingest/trivy/testdata", "../../ingest/sarif/testdata", "../k8s/testdata", "../terraform/testdata", "../scope/testdata"} {
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasSuffix(path, ".tsv") {
				others = append(others, path)
			}
			return nil
		})
	}
	for _, path := range others {
		src, err := ingest.Open(path, nil)
		if err != nil {
			continue
		}
		if inventory.Format.Detect(src.Sniff()) {
			t.Errorf("Detect(%s) = true, want false", path)
		}
		src.Close()
	}
	for _, head := range []string{"inventory: 2\nassets: []\n", "items:\n  inventory: 1\n", `{"assets": [], "x": {"inventory": 1}}`} {
		if inventory.Format.Detect(ingest.SniffBytes([]byte(head))) {
			t.Errorf("Detect(%q) = true, want false", head)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, input string
		line        int // YAML: the line the error names; 0 for JSON
		msg         string
	}{
		{"unknown key", "inventory: 1\nassets:\n  - key: host:a\n    kind: host\n    colour: red\n", 5, `unknown key "colour"`},
		{"unknown top key", "inventory: 1\nhosts: []\n", 2, "hosts"},
		{"no namespace", "inventory: 1\nassets:\n  - key: web1\n    kind: host\n", 3, "namespace"},
		{"bad kind", "inventory: 1\nassets:\n  - key: host:a\n    kind: server\n", 3, `unknown kind "server"`},
		{"bad criticality", "inventory: 1\nassets:\n  - key: host:a\n    criticality: urgent\n", 3, "criticality"},
		{"bad relation", "inventory: 1\nrelations:\n  - {from: host:a, to: host:b, type: talks-to}\n", 3, "talks-to"},
		{"version", "inventory: 2\n", 1, "version"},
		{"syntax", "inventory: 1\nassets:\n  - key: [\n", 3, ""},
		{"json unknown key", `{"inventory": 1, "assets": [{"key": "host:a", "kind": "host", "colour": "red"}]}`, 0, "colour"},
		{"json no namespace", `{"inventory": 1, "assets": [{"key": "a"}]}`, 0, "namespace"},
		{"json top key", `{"inventory": 1, "hosts": []}`, 0, "hosts"},
		{"json marker late", `{"assets": [{"key": "host:a"}], "inventory": 1}`, 0, "before"},
		{"json truncated", `{"inventory": 1, "assets": [{"key": "host:a"`, 0, "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := ingesttest.ParseBytes(inventory.Format, "in", []byte(tt.input), ingest.Options{})
			ie, ok := errors.AsType[*ingest.InputError](err)
			if !ok {
				t.Fatalf("Parse(%q) error = %v, want an *ingest.InputError", tt.input, err)
			}
			if ie.Line != tt.line || !strings.Contains(ie.Error(), tt.msg) {
				t.Errorf("Parse(%q) = %v (line %d), want line %d and %q", tt.input, err, ie.Line, tt.line, tt.msg)
			}
			if len(r.Relations) != 0 {
				t.Errorf("Parse(%q) emitted relations", tt.input)
			}
		})
	}
	ingesttest.CheckMalformed(t, inventory.Format, "testdata/cmdb.json")
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	for range 2 {
		if _, err := ingesttest.Ingest(st, inventory.Format, ingest.Options{}, "testdata/cmdb.yaml", "testdata/cmdb.json"); err != nil {
			t.Fatal(err)
		}
	}
	if c := ingesttest.Count(t, st); c.Findings != 0 {
		t.Errorf("counts %+v, want no findings", c)
	}
}

func FuzzInventory(f *testing.F) {
	ingesttest.Fuzz(f, inventory.Format, "testdata/cmdb.yaml", "testdata/cmdb.json")
}

// TestLimits checks that an inventory beyond the input limits is an
// input error naming the file: a YAML document is held whole (MaxItem),
// a JSON asset is one item, and JSON relations wait in a spool whatever
// their number.
func TestLimits(t *testing.T) {
	t.Parallel()
	yamlDoc, err := os.ReadFile("testdata/cmdb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	jsonDoc, err := os.ReadFile("testdata/cmdb.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		lim  ingest.Limits
		want string
	}{
		{"cmdb.yaml", yamlDoc, ingest.Limits{MaxItem: int64(len(yamlDoc)) - 1}, "a YAML inventory larger than"},
		{"cmdb.yaml", yamlDoc, ingest.Limits{MaxItem: int64(len(yamlDoc))}, ""},
		{"cmdb.json", jsonDoc, ingest.Limits{MaxItem: 64}, "larger than 64 bytes"},
		{"cmdb.json", jsonDoc, ingest.Limits{MaxItem: 4096}, ""},
	} {
		want := ingesttest.ParseBytesOrFail(t, inventory.Format, tc.name, tc.data, ingest.Options{})
		got, err := ingesttest.ParseBytes(inventory.Format, tc.name, tc.data, ingest.Options{Limits: tc.lim})
		if tc.want == "" {
			if err != nil || len(got.Relations) != len(want.Relations) || len(got.Relations) == 0 {
				t.Errorf("Parse(%s) with %+v = %d relations, %v; want %d relations", tc.name, tc.lim, len(got.Relations), err, len(want.Relations))
			}
			continue
		}
		ie, ok := errors.AsType[*ingest.InputError](err)
		if !ok || ie.File != tc.name || !errors.Is(err, ingest.ErrTooLarge) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s) with %+v = %v, want an input error naming %s with %q", tc.name, tc.lim, err, tc.name, tc.want)
		}
	}
}
