package cyclonedx_test

import (
	"encoding/json"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/cyclonedx"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/model"
)

// TestCtemExportAssets reads a VEX that ctem exported: each vulnerability
// is filed under the asset its component's ctem:asset property names, and
// that asset contains the package.
func TestCtemExportAssets(t *testing.T) {
	t.Parallel()
	const path = "testdata/ctem-export.cdx.json"
	var doc struct {
		Vulnerabilities []struct {
			Affects []struct{ Ref string } `json:"affects"`
		} `json:"vulnerabilities"`
		Components []struct {
			BOMRef     string `json:"bom-ref"`
			PURL       string `json:"purl"`
			Properties []struct{ Name, Value string }
		} `json:"components"`
	}
	if err := json.Unmarshal(readFile(t, path), &doc); err != nil {
		t.Fatal(err)
	}
	assetOf := map[string]string{}
	for _, c := range doc.Components {
		for _, p := range c.Properties {
			if p.Name == "ctem:asset" {
				assetOf[c.BOMRef] = p.Value
			}
		}
	}
	rec := ingesttest.Parse(t, cyclonedx.FormatJSON, path, ingest.Options{})
	if len(rec.Findings) != len(doc.Vulnerabilities) || len(rec.Findings) == 0 {
		t.Fatalf("Parse(%s) = %d findings, want %d", path, len(rec.Findings), len(doc.Vulnerabilities))
	}
	for i, f := range rec.Findings {
		want := assetOf[doc.Vulnerabilities[i].Affects[0].Ref]
		if want == "" || f.Asset != want {
			t.Errorf("finding %d asset = %q, want %q", i, f.Asset, want)
		}
	}
	contains := map[[2]string]bool{}
	for _, r := range rec.Relations {
		if r.Type == model.RelContains {
			contains[[2]string{r.From, r.To}] = true
		}
	}
	for _, c := range doc.Components {
		if a := assetOf[c.BOMRef]; !contains[[2]string{a, c.PURL}] {
			t.Errorf("no relation %s contains %s", a, c.PURL)
		}
	}
}

// TestExploitableWillNotFix checks that exploitable with the one response
// will_not_fix reads as a risk accepted, and (the twin) that a remedy
// offered beside it keeps the finding open.
func TestExploitableWillNotFix(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		response []string
		want     model.Status
	}{
		{[]string{"will_not_fix"}, model.StatusAccepted},
		{[]string{"will_not_fix", "update"}, model.StatusOpen},
		{[]string{"can_not_fix"}, model.StatusOpen},
	} {
		var doc map[string]any
		if err := json.Unmarshal(readFile(t, "testdata/ctem-export.cdx.json"), &doc); err != nil {
			t.Fatal(err)
		}
		for _, v := range doc["vulnerabilities"].([]any) {
			v.(map[string]any)["analysis"] = map[string]any{"state": "exploitable", "response": tt.response}
		}
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := ingesttest.ParseBytes(cyclonedx.FormatJSON, "vex.json", data, ingest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range rec.Findings {
			if f.Status != tt.want {
				t.Errorf("exploitable %v: finding %s status %s, want %s", tt.response, f.ID, f.Status, tt.want)
			}
		}
	}
}

// ctemAssets returns the values of the ctem:asset properties of a JSON
// BOM's components (none for XML or other BOMs).
func ctemAssets(data []byte) map[string]bool {
	var doc struct {
		Components []struct {
			Properties []struct{ Name, Value string }
		} `json:"components"`
	}
	out := map[string]bool{}
	if json.Unmarshal(data, &doc) != nil {
		return out
	}
	for _, c := range doc.Components {
		for _, p := range c.Properties {
			if p.Name == "ctem:asset" {
				out[p.Value] = true
			}
		}
	}
	return out
}
