package cyclonedx_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/cyclonedx"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/model"
)

// formatOf returns the format a testdata file is in.
func formatOf(path string) ingest.Format {
	if strings.Contains(filepath.Base(path), ".xml") {
		return cyclonedx.FormatXML
	}
	return cyclonedx.FormatJSON
}

func testdata(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() && filepath.Base(f) != "SOURCES.tsv" {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		t.Fatal("no testdata")
	}
	return out
}

// readFile returns a testdata file's content, decompressed.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return data
}

func registry() ingest.Registry {
	return append(formats.All(), cyclonedx.FormatJSON, cyclonedx.FormatXML)
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := registry()
	for _, path := range testdata(t) {
		src, err := ingest.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := reg.Detect(src.Sniff())
		src.Close()
		if want := formatOf(path).Name; err != nil || got.Name != want {
			t.Errorf("Detect(%s) = %q, %v, want %q", path, got.Name, err, want)
		}
	}
}

func TestDetectRejectsOthers(t *testing.T) {
	t.Parallel()
	others, _ := filepath.Glob("../trivy/testdata/*")
	sarifs, _ := filepath.Glob("../sarif/testdata/*")
	var heads [][]byte
	for _, p := range append(others, sarifs...) {
		if filepath.Ext(p) != ".tsv" {
			heads = append(heads, readFile(t, p))
		}
	}
	heads = append(heads,
		[]byte(`{"SchemaVersion": 2, "ArtifactName": "alpine:3.19", "ArtifactType": "container_image", "Results": []}`),
		[]byte(`{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "CodeQL"}}, "results": []}]}`),
		[]byte(`{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "packages": []}`),
		[]byte(`{"bomFormat": "SPDX", "specVersion": "1.4"}`),
		[]byte(`<?xml version="1.0"?><bom xmlns="http://example.com/other"></bom>`),
		[]byte(`<?xml version="1.0"?><OWASPZAPReport version="2.11"></OWASPZAPReport>`),
	)
	for _, h := range heads {
		s := ingest.SniffBytes(h)
		if cyclonedx.DetectJSON(s) || cyclonedx.DetectXML(s) {
			t.Errorf("CycloneDX detects %.80q", h)
		}
	}
}

// counts is what a BOM holds, counted from the file by a decoder of the
// test's own.
type counts struct {
	components int // components with a name or purl, nested ones too
	findings   int // vulnerabilities × affected components
	evidence   int // not_affected, false_positive and exploitable analyses
}

func countJSON(t *testing.T, data []byte) counts {
	t.Helper()
	var doc struct {
		Metadata struct {
			Component *struct {
				Components []any `json:"components"`
			} `json:"component"`
		} `json:"metadata"`
		Components      []any `json:"components"`
		Vulnerabilities []struct {
			Analysis struct {
				State string `json:"state"`
			} `json:"analysis"`
			Affects []any `json:"affects"`
		} `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var c counts
	var walk func(list []any)
	walk = func(list []any) {
		for _, x := range list {
			m, _ := x.(map[string]any)
			if m["name"] != nil || m["purl"] != nil {
				c.components++
			}
			sub, _ := m["components"].([]any)
			walk(sub)
		}
	}
	walk(doc.Components)
	if doc.Metadata.Component != nil {
		walk(doc.Metadata.Component.Components)
	}
	for _, v := range doc.Vulnerabilities {
		c.findings += max(1, len(v.Affects))
		switch v.Analysis.State {
		case "not_affected", "false_positive", "exploitable":
			c.evidence += max(1, len(v.Affects))
		}
	}
	return c
}

func countXML(t *testing.T, data []byte) counts {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	var c counts
	var stack []string
	var targets []int // affected targets of the open vulnerabilities
	var states []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			switch {
			case e.Name.Local == "component" && parent == "components" && !slices.Contains(stack, "tools"):
				c.components++
			case e.Name.Local == "vulnerability" && parent == "vulnerabilities":
				targets = append(targets, 0)
				states = append(states, "")
			case e.Name.Local == "target" && parent == "affects":
				targets[len(targets)-1]++
			case e.Name.Local == "state" && parent == "analysis":
				var s string
				if err := dec.DecodeElement(&s, &e); err != nil {
					t.Fatal(err)
				}
				states[len(states)-1] = strings.TrimSpace(s)
				continue
			}
			stack = append(stack, e.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			if e.Name.Local == "vulnerability" && len(targets) > 0 {
				n := max(1, targets[len(targets)-1])
				c.findings += n
				switch states[len(states)-1] {
				case "not_affected", "false_positive", "exploitable":
					c.evidence += n
				}
				targets, states = targets[:len(targets)-1], states[:len(states)-1]
			}
		}
	}
	return c
}

func TestCounts(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t) {
		if filepath.Base(path) == "bom-invalid.json" {
			continue
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			data := readFile(t, path)
			f := formatOf(path)
			var want counts
			if f.Name == cyclonedx.FormatXML.Name {
				want = countXML(t, data)
			} else {
				want = countJSON(t, data)
			}
			r := ingesttest.Parse(t, f, path, ingest.Options{})
			if len(r.Scans) != 1 {
				t.Fatalf("Parse(%s) began %d scans, want 1", path, len(r.Scans))
			}
			scan := r.Scans[0]
			if scan.Format != f.Name {
				t.Errorf("scan format = %q, want %q", scan.Format, f.Name)
			}
			var pkgs int
			for _, a := range r.Assets {
				if a.Kind == model.KindPackage {
					pkgs++
				}
			}
			if pkgs != want.components {
				t.Errorf("Parse(%s) emitted %d package assets, want %d", path, pkgs, want.components)
			}
			if len(r.Relations) != want.components {
				t.Errorf("Parse(%s) emitted %d relations, want %d", path, len(r.Relations), want.components)
			}
			own := ctemAssets(data) // a ctem export names each component's asset
			for _, rel := range r.Relations {
				if rel.From != scan.Asset && !own[rel.From] || rel.Type != model.RelContains || rel.Source != "cyclonedx" {
					t.Errorf("relation %+v, want %s -contains-> x from cyclonedx", rel, scan.Asset)
					break
				}
			}
			if len(r.Findings) != want.findings {
				t.Errorf("Parse(%s) emitted %d findings, want %d", path, len(r.Findings), want.findings)
			}
			if len(r.Facts) != want.evidence {
				t.Errorf("Parse(%s) emitted %d evidence, want %d", path, len(r.Facts), want.evidence)
			}
			for _, fd := range r.Findings {
				if fd.Kind != model.FindingVulnerability || fd.RuleID == "" || fd.Asset != scan.Asset && !own[fd.Asset] || fd.Pointer == "" {
					t.Errorf("finding %+v lacks kind, rule, asset %s or pointer", fd, scan.Asset)
					break
				}
			}
		})
	}
}

func TestFindings(t *testing.T) {
	t.Parallel()
	type scanWant struct {
		Tool, Target, Asset string
	}
	tests := []struct {
		file string
		scan scanWant
		// index of the finding to check, and what it holds
		index int
		want  model.Finding
	}{
		{
			file:  "issue_9277.json",
			scan:  scanWant{"trivy", "image:docker.io/library/ubuntu:latest", "image:docker.io/library/ubuntu@sha256:6042500cf4b44023ea1894effe7890666b0c5c7871ed83a97c36c76ae560bb9b"},
			index: 0,
			want: model.Finding{
				Tool: "trivy", RuleID: "CVE-2016-2781", VulnIDs: []string{"CVE-2016-2781"}, CWEs: []string{"CWE-20"},
				Severity: model.SeverityLow, ToolSeverity: "low",
				Package: model.Package{Name: "coreutils", Version: "8.32-4.1ubuntu1", PURL: "pkg:deb/ubuntu/coreutils@8.32-4.1ubuntu1?arch=amd64&distro=ubuntu-22.04"},
				Pointer: "/vulnerabilities/0", Status: model.StatusOpen,
			},
		},
		{
			file:  "valid-vulnerability-1.4.xml",
			scan:  scanWant{"cyclonedx", "test-target", "file:test-target"},
			index: 0,
			want: model.Finding{
				Tool: "cyclonedx", RuleID: "SNYK-JAVA-COMFASTERXMLJACKSONCORE-32111", VulnIDs: []string{"CVE-2018-7489", "SNYK-JAVA-COMFASTERXMLJACKSONCORE-32111"},
				CWEs: []string{"CWE-184", "CWE-502"}, Severity: model.SeverityCritical, ToolSeverity: "critical",
				Package: model.Package{Name: "com.fasterxml.jackson.core:jackson-databind", Version: "2.9.4", PURL: "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.4"},
				Pointer: "line 12", Status: model.StatusNotAffected, ToolStatus: "not_affected: code_not_reachable",
			},
		},
		{
			file:  "grype_dd_1_14_1.xml.gz",
			scan:  scanWant{"grype", "image:docker.io/defectdojo/defectdojo-django:1.14.1", "image:docker.io/defectdojo/defectdojo-django:1.14.1"},
			index: 0,
			want: model.Finding{
				Tool: "grype", RuleID: "GHSA-xgxc-v2qg-chmh", VulnIDs: []string{"GHSA-xgxc-v2qg-chmh"},
				Severity: model.SeverityLow, ToolSeverity: "Low",
				Package: model.Package{Name: "Django", Version: "2.2.18"}, Pointer: "line 36", Status: model.StatusOpen,
			},
		},
		{
			file:  "spec1.xml",
			scan:  scanWant{"cyclonedx", "test-target", "file:test-target"},
			index: 0,
			want: model.Finding{
				Tool: "cyclonedx", RuleID: "CVE-2018-7489", VulnIDs: []string{"CVE-2018-7489"}, CWEs: []string{"CWE-184", "CWE-502"},
				Severity: model.SeverityCritical, ToolSeverity: "Critical",
				Package: model.Package{Name: "com.fasterxml.jackson.core:jackson-databind", Version: "2.9.9", PURL: "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.9"},
				Pointer: "line 15", Status: model.StatusOpen,
			},
		},
		{
			file:  "vex.json",
			scan:  scanWant{"cyclonedx", "test-target", "file:test-target"},
			index: 0,
			want: model.Finding{
				Tool: "cyclonedx", RuleID: "CVE-2020-25649", VulnIDs: []string{"CVE-2020-25649", "SNYK-JAVA-COMFASTERXMLJACKSONCORE-1048302"}, CWEs: []string{"CWE-611"},
				Severity: model.SeverityHigh, ToolSeverity: "high",
				Package: model.Package{Name: "jackson-databind", Version: "2.10.0", PURL: "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0?type=jar"},
				Pointer: "/vulnerabilities/0", Status: model.StatusNotAffected, ToolStatus: "not_affected: code_not_reachable",
			},
		},
		{
			file:  "vex-issue2549.json",
			scan:  scanWant{"dependency-track", "test-target", "repo:test-target"},
			index: 1,
			want: model.Finding{
				Tool: "dependency-track", RuleID: "CVE-2020-25650", VulnIDs: []string{"CVE-2020-25650"},
				Severity: model.SeverityHigh, ToolSeverity: "high",
				Package: model.Package{Name: "Acme example", Version: "1.0"},
				Pointer: "/vulnerabilities/1", Status: model.StatusFalsePositive, ToolStatus: "false_positive",
			},
		},
		{
			file:  "cisa-vex-fixed.json",
			scan:  scanWant{"cyclonedx", "test-target", "repo:test-target"},
			index: 0,
			want: model.Finding{
				Tool: "cyclonedx", RuleID: "CVE-2021-44228", VulnIDs: []string{"CVE-2021-44228"}, Severity: model.SeverityUnknown,
				Package: model.Package{Name: "DEF", Version: "1.1"}, Pointer: "/vulnerabilities/0", Status: model.StatusFixed, ToolStatus: "resolved",
			},
		},
		{
			file:  "log4j.json",
			scan:  scanWant{"grype", "test-target", "file:test-target"},
			index: 0,
			want: model.Finding{
				Tool: "grype", RuleID: "CVE-2021-44228", VulnIDs: []string{"CVE-2021-44228"}, Severity: model.SeverityCritical, ToolSeverity: "critical",
				Package: model.Package{Name: "log4j-core", Version: "2.13.2", PURL: "pkg:maven/org.apache.logging.log4j/log4j-core@2.13.2"},
				Pointer: "/vulnerabilities/0", Status: model.StatusOpen, ToolStatus: "in_triage",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", tt.file)
			opts := ingest.Options{}
			if strings.HasPrefix(tt.scan.Target, "test-") {
				opts.Target = tt.scan.Target
			}
			r := ingesttest.Parse(t, formatOf(path), path, opts)
			s := r.Scans[0]
			if got := (scanWant{s.Tool, s.Target, s.Asset}); got != tt.scan {
				t.Errorf("scan = %+v, want %+v", got, tt.scan)
			}
			if tt.index >= len(r.Findings) {
				t.Fatalf("Parse(%s) emitted %d findings, want more than %d", path, len(r.Findings), tt.index)
			}
			got := *r.Findings[tt.index]
			want := tt.want
			want.Kind = model.FindingVulnerability
			want.Asset = s.Asset
			got = model.Finding{
				Tool: got.Tool, Kind: got.Kind, RuleID: got.RuleID, VulnIDs: got.VulnIDs, CWEs: got.CWEs,
				Severity: got.Severity, ToolSeverity: got.ToolSeverity, Asset: got.Asset, Package: got.Package,
				Pointer: got.Pointer, Status: got.Status, ToolStatus: got.ToolStatus,
			}
			if diff := cmp.Diff(got, want, cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })); diff != "" {
				t.Errorf("Parse(%s) finding %d (-got +want):\n%s", path, tt.index, diff)
			}
		})
	}
}

func TestCVSSAndEvidence(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, cyclonedx.FormatJSON, "testdata/vex.json", ingest.Options{})
	f := r.Findings[0]
	wantCVSS := []model.CVSS{
		{Source: "NVD", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N", Score: 7.5},
		{Source: "SNYK", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N", Score: 8.2},
		{Source: "Acme Inc", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N/CR:X/IR:X/AR:X/MAV:X/MAC:X/MPR:X/MUI:X/MS:X/MC:N/MI:N/MA:N"},
	}
	if diff := cmp.Diff(f.CVSS, wantCVSS); diff != "" {
		t.Errorf("CVSS (-got +want):\n%s", diff)
	}
	if !strings.Contains(f.Description, "https://github.com/FasterXML/jackson-databind/issues/2589") {
		t.Errorf("Description = %q, want the advisories", f.Description)
	}
	if len(r.Facts) != 1 {
		t.Fatalf("evidence = %+v, want 1", r.Facts)
	}
	ev := r.Facts[0]
	if ev.Kind != model.EvidenceVEXNotAffected || ev.VulnID != "CVE-2020-25649" || ev.FindingID != f.ID || ev.Asset != f.Asset || !strings.Contains(ev.Detail, "code_not_reachable") {
		t.Errorf("evidence = %+v, want vex-not-affected for CVE-2020-25649 on %s with its justification", ev, f.Asset)
	}
	r = ingesttest.Parse(t, cyclonedx.FormatJSON, "testdata/cisa-vex-affected.json", ingest.Options{})
	if len(r.Facts) != 1 || r.Facts[0].Kind != model.EvidenceVEXAffected || r.Findings[0].Status != model.StatusOpen {
		t.Errorf("exploitable: evidence %+v, status %s; want vex-affected, open", r.Facts, r.Findings[0].Status)
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
		f    ingest.Format
	}{
		{"truncated", `{"bomFormat": "CycloneDX",`, cyclonedx.FormatJSON},
		{"no bomFormat", `{"spdxVersion": "SPDX-2.3"}`, cyclonedx.FormatJSON},
		{"other bomFormat", `{"bomFormat": "SPDX", "specVersion": "1.4"}`, cyclonedx.FormatJSON},
		{"spec 2", `{"bomFormat": "CycloneDX", "specVersion": "2.0"}`, cyclonedx.FormatJSON},
		{"array", `[{"bomFormat": "CycloneDX"}]`, cyclonedx.FormatJSON},
		{"components object", `{"bomFormat": "CycloneDX", "specVersion": "1.4", "components": {}}`, cyclonedx.FormatJSON},
		{"trailing", `{"bomFormat": "CycloneDX", "specVersion": "1.4"} {}`, cyclonedx.FormatJSON},
		{"xml other root", `<?xml version="1.0"?><report xmlns="http://cyclonedx.org/schema/bom/1.4"/>`, cyclonedx.FormatXML},
		{"xml other namespace", `<bom xmlns="http://example.com/bom/1.4"></bom>`, cyclonedx.FormatXML},
		{"xml truncated", `<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components><component type="library"><name>a</name>`, cyclonedx.FormatXML},
		{"xml trailing", `<bom xmlns="http://cyclonedx.org/schema/bom/1.4"></bom><bom/>`, cyclonedx.FormatXML},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ingesttest.ParseBytes(tt.f, "bad.input", []byte(tt.data), ingest.Options{})
			if _, ok := errors.AsType[*ingest.InputError](err); !ok {
				t.Errorf("Parse(%q) = %v, want an *ingest.InputError", tt.data, err)
			}
		})
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	// The deliberately invalid BOM of Dependency-Track's tests stores
	// nothing.
	if _, err := ingesttest.Ingest(st, cyclonedx.FormatJSON, ingest.Options{}, "testdata/bom-invalid.json"); err == nil {
		t.Error("Ingest(bom-invalid.json) succeeded, want an error")
	} else if _, ok := errors.AsType[*ingest.InputError](err); !ok {
		t.Errorf("Ingest(bom-invalid.json) = %v, want an *ingest.InputError", err)
	}
	if c := ingesttest.Count(t, st); c.Findings != 0 || c.Assets != 0 || c.Scans != 0 {
		t.Errorf("after an invalid BOM counts = %+v, want nothing stored", c)
	}
	// An empty BOM is a scan with no findings.
	scans, err := ingesttest.Ingest(st, cyclonedx.FormatJSON, ingest.Options{Target: "empty"}, "testdata/bom-empty.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(scans) != 1 || scans[0].Findings != 0 {
		t.Errorf("Ingest(bom-empty.json) scans = %+v, want one with 0 findings", scans)
	}
	for range 2 {
		if _, err := ingesttest.Ingest(st, cyclonedx.FormatJSON, ingest.Options{}, "testdata/issue_9277.json"); err != nil {
			t.Fatal(err)
		}
		if _, err := ingesttest.Ingest(st, cyclonedx.FormatJSON, ingest.Options{}, "testdata/vex-issue2549.json"); err != nil {
			t.Fatal(err)
		}
		c := ingesttest.Count(t, st)
		// issue_9277.json: 14 affected packages; vex-issue2549.json: 3.
		if c.Findings != 17 || c.Evidence != 3 || c.Scans < 3 {
			t.Errorf("counts = %+v, want 17 findings and 3 evidence", c)
		}
		// 102 components and the image; the VEX's product.
		if c.Assets != 105 || c.Relations != 102 {
			t.Errorf("counts = %+v, want 105 assets and 102 relations", c)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, cyclonedx.FormatJSON, "testdata/issue_9277.json")
	ingesttest.CheckMalformed(t, cyclonedx.FormatXML, "testdata/laravel-bom.1.4.xml")
	ingesttest.CheckMalformed(t, cyclonedx.FormatXML, "testdata/valid-vulnerability-1.4.xml")
}

func seeds(t testing.TB, xmlFiles bool) []string {
	var out []string
	for _, p := range testdata(t) {
		if (formatOf(p).Name == cyclonedx.FormatXML.Name) == xmlFiles && !strings.HasSuffix(p, ".gz") {
			out = append(out, p)
		}
	}
	return out
}

func FuzzJSON(f *testing.F) {
	ingesttest.Fuzz(f, cyclonedx.FormatJSON, seeds(f, false)...)
}

func FuzzXML(f *testing.F) {
	ingesttest.Fuzz(f, cyclonedx.FormatXML, seeds(f, true)...)
}
