package sarif_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/sarif"
	"github.com/ctem-dev/ctem/internal/model"
)

// ctemResult is what the test reads of a result of ctem's own export.
type ctemResult struct {
	RuleID     string `json:"ruleId"`
	Properties struct {
		Ctem struct {
			Asset, Kind, Status, Severity, Path string
			Package                             model.Package
		} `json:"ctem"`
	} `json:"properties"`
}

func TestCtemExportRestoresExposures(t *testing.T) {
	t.Parallel()
	const path = "testdata/ctem-export.sarif"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Runs []struct {
			Results []ctemResult `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var want []ctemResult
	for _, r := range doc.Runs[0].Results {
		if r.Properties.Ctem.Path == "" {
			want = append(want, r)
		}
	}
	if len(want) == 0 || len(want) == len(doc.Runs[0].Results) {
		t.Fatalf("%s: %d exposure results of %d; want both exposures and paths", path, len(want), len(doc.Runs[0].Results))
	}
	rec := ingesttest.Parse(t, sarif.Format, path, ingest.Options{Target: "ctem"})
	if len(rec.Findings) != len(want) {
		t.Fatalf("Parse(%s) = %d findings, want %d (paths are not findings)", path, len(rec.Findings), len(want))
	}
	for i, f := range rec.Findings {
		w := want[i].Properties.Ctem
		if f.Asset != w.Asset || string(f.Kind) != w.Kind || string(f.Status) != w.Status || string(f.Severity) != w.Severity || f.Package != w.Package {
			t.Errorf("finding %d = %s %s %s %s %+v, want %s %s %s %s %+v", i, f.Asset, f.Kind, f.Status, f.Severity, f.Package,
				w.Asset, w.Kind, w.Status, w.Severity, w.Package)
		}
	}
}

// TestCtemPropertiesImplausible checks the negative twin: a property bag
// with an unknown kind, status and severity and an overlong asset leaves
// the values SARIF itself gives.
func TestCtemPropertiesImplausible(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/ctem-export.sarif")
	if err != nil {
		t.Fatal(err)
	}
	var log map[string]any
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatal(err)
	}
	var first map[string]any
	for _, r := range log["runs"].([]any)[0].(map[string]any)["results"].([]any) {
		c := r.(map[string]any)["properties"].(map[string]any)["ctem"].(map[string]any)
		if c["path"] == nil && first == nil {
			first = c
		}
		c["kind"], c["status"], c["severity"] = "bogus", "maybe", "dire"
		c["asset"] = strings.Repeat("a", 5000)
	}
	if first == nil {
		t.Fatal("no exposure result")
	}
	bad, err := json.Marshal(log)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ingesttest.ParseBytes(sarif.Format, "bad.sarif", bad, ingest.Options{Target: "https://github.com/acme/app"})
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	if len(rec.Findings) == 0 {
		t.Fatal("Parse() = no findings")
	}
	for _, f := range rec.Findings {
		if f.Asset != "repo:github.com/acme/app" || f.Kind == "bogus" || f.Status == "maybe" || f.Severity == "dire" {
			t.Errorf("finding %s: asset %.40s kind %s status %s severity %s, want the SARIF's own", f.ID, f.Asset, f.Kind, f.Status, f.Severity)
		}
	}
}
