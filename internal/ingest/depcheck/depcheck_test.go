package depcheck_test

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

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/depcheck"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/model"
)

var xmlReports = []string{
	"testdata/PR6439.xml.gz",
	"testdata/dc_empty.xml",
	"testdata/multiple_vulnerabilities_has_multiple_findings.xml",
	"testdata/single_dependency_with_related_no_vulnerability.xml",
	"testdata/version-6.5.3.xml",
	"testdata/version-6.5.3_multi_cwe_fabricated.xml",
}

var jsonReports = []string{"testdata/ctem_report.json"}

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

func sniff(data []byte) *ingest.Sniff {
	if len(data) > 64<<10 {
		data = data[:64<<10]
	}
	return ingest.SniffBytes(data)
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := append(formats.All(), depcheck.FormatXML, depcheck.FormatJSON)
	for _, tc := range []struct {
		paths []string
		want  string
	}{{xmlReports, "dependency-check-xml"}, {jsonReports, "dependency-check-json"}} {
		for _, path := range tc.paths {
			f, err := reg.Detect(sniff(readFile(t, path)))
			if err != nil || f.Name != tc.want {
				t.Errorf("Detect(%s) = %q, %v, want %s", path, f.Name, err, tc.want)
			}
		}
	}
	others, _ := filepath.Glob("../trivy/testdata/*")
	more, _ := filepath.Glob("../sarif/testdata/*")
	for _, path := range append(others, more...) {
		s := sniff(readFile(t, path))
		if !strings.HasSuffix(path, ".tsv") && (depcheck.DetectXML(s) || depcheck.DetectJSON(s)) {
			t.Errorf("depcheck detects %s, want not", path)
		}
	}
	for _, doc := range []string{
		`{"SchemaVersion": 2, "ArtifactName": "alpine", "Results": []}`,
		`{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "dependency-check"}}}]}`,
		`<?xml version="1.0"?><analysis xmlns="urn:other"><dependencies/></analysis>`,
		`<?xml version="1.0"?><nmaprun scanner="nmap"></nmaprun>`,
	} {
		s := ingest.SniffBytes([]byte(doc))
		if depcheck.DetectXML(s) || depcheck.DetectJSON(s) {
			t.Errorf("depcheck detects %s, want not", doc)
		}
	}
}

// xmlCount counts the vulnerabilities and suppressed vulnerabilities of
// the dependencies of an XML report, read independently.
func xmlCount(t testing.TB, data []byte) (vulns, suppressed int) {
	t.Helper()
	var doc struct {
		Deps []struct {
			Vulns      []struct{} `xml:"vulnerabilities>vulnerability"`
			Suppressed []struct{} `xml:"vulnerabilities>suppressedVulnerability"`
		} `xml:"dependencies>dependency"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, d := range doc.Deps {
		vulns += len(d.Vulns)
		suppressed += len(d.Suppressed)
	}
	return vulns, suppressed
}

func jsonCount(t testing.TB, data []byte) (vulns, suppressed int) {
	t.Helper()
	var doc struct {
		Deps []struct {
			Vulns      []json.RawMessage `json:"vulnerabilities"`
			Suppressed []json.RawMessage `json:"suppressedVulnerabilities"`
		} `json:"dependencies"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, d := range doc.Deps {
		vulns += len(d.Vulns)
		suppressed += len(d.Suppressed)
	}
	return vulns, suppressed
}

func TestParseCounts(t *testing.T) {
	t.Parallel()
	type file struct {
		path  string
		f     ingest.Format
		count func(testing.TB, []byte) (int, int)
	}
	var files []file
	for _, p := range xmlReports {
		files = append(files, file{p, depcheck.FormatXML, xmlCount})
	}
	for _, p := range jsonReports {
		files = append(files, file{p, depcheck.FormatJSON, jsonCount})
	}
	for _, tc := range files {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			t.Parallel()
			vulns, suppressed := tc.count(t, readFile(t, tc.path))
			r := ingesttest.Parse(t, tc.f, tc.path, ingest.Options{Target: "fallback"})
			if len(r.Scans) != 1 {
				t.Fatalf("Parse(%s) recorded %d scans, want 1", tc.path, len(r.Scans))
			}
			if len(r.Findings) != vulns+suppressed {
				t.Errorf("Parse(%s) gave %d findings, want %d", tc.path, len(r.Findings), vulns+suppressed)
			}
			accepted := 0
			for _, f := range r.Findings {
				if f.Status == model.StatusAccepted {
					accepted++
				}
				if f.Asset != r.Scans[0].Asset || f.Kind != model.FindingVulnerability || f.RuleID == "" {
					t.Errorf("Parse(%s) finding %+v lacks asset, kind or rule", tc.path, f)
				}
			}
			if accepted != suppressed {
				t.Errorf("Parse(%s) gave %d accepted findings, want %d suppressed", tc.path, accepted, suppressed)
			}
		})
	}
}

func find(t testing.TB, r *ingesttest.Recorder, rule, path string) *model.Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.RuleID == rule && (path == "" || f.Location.Path == path) {
			return f
		}
	}
	t.Fatalf("no finding %s at %q", rule, path)
	return nil
}

func TestParseXMLFields(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, depcheck.FormatXML, "testdata/version-6.5.3.xml", ingest.Options{Target: "github.com/Example/App"})
	if s := r.Scans[0]; s.Target != "github.com/Example/App" || s.Asset != "repo:github.com/example/app" || s.ToolVersion != "6.5.3" || s.Tool != "dependency-check" {
		t.Errorf("scan = %+v, want the --target as a repository, version 6.5.3", s)
	}
	f := find(t, r, "CVE-2020-9488", "/home/damien/vulnerabilities/apache-log4j-2.12.4-bin/log4j-api-2.12.4.jar")
	want := model.Package{Name: "org.apache.logging.log4j:log4j-api", Version: "2.12.4", FixedVersion: "2.13.2", PURL: "pkg:maven/org.apache.logging.log4j/log4j-api@2.12.4"}
	if f.Package != want {
		t.Errorf("CVE-2020-9488 package = %+v, want %+v", f.Package, want)
	}
	if f.Severity != model.SeverityLow || f.ToolSeverity != "LOW" || !slices.Equal(f.CWEs, []string{"CWE-295"}) {
		t.Errorf("CVE-2020-9488 severity %s (%s), CWEs %v, want low (LOW), [CWE-295]", f.Severity, f.ToolSeverity, f.CWEs)
	}
	wantCVSS := []model.CVSS{
		{Source: "nvd", Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N", Score: 3.7},
		{Source: "nvd", Vector: "AV:N/AC:M/Au:N/C:P/I:N/A:N", Score: 4.3},
	}
	if !slices.Equal(f.CVSS, wantCVSS) {
		t.Errorf("CVE-2020-9488 CVSS = %+v, want %+v", f.CVSS, wantCVSS)
	}

	r = ingesttest.Parse(t, depcheck.FormatXML, "testdata/multiple_vulnerabilities_has_multiple_findings.xml", ingest.Options{})
	if s := r.Scans[0]; s.Target != "Test Project" || s.Asset != "repo:test project" {
		t.Errorf("scan = %+v, want the project name", s)
	}
	f = find(t, r, "CVE-2017-1000487", "")
	if f.Status != model.StatusAccepted || f.ToolStatus != "suppressed: This is our reason for not to upgrade it." || f.Severity != model.SeverityCritical {
		t.Errorf("CVE-2017-1000487 = status %s %q severity %s, want accepted with the notes, critical (CVSS v3 9.8)", f.Status, f.ToolStatus, f.Severity)
	}
	f = find(t, r, "CVE-2020-7608", "")
	if f.Package.PURL != "pkg:npm/yargs-parser@5.0.0" || f.CVSS[0].Vector != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N" {
		t.Errorf("CVE-2020-7608 package %+v, CVSS %+v", f.Package, f.CVSS)
	}
	f = find(t, r, "NPM-1500", "")
	if f.Severity != model.SeverityLow {
		t.Errorf("NPM-1500 severity = %s, want low", f.Severity)
	}
	f = find(t, r, "CVE-0000-0001", "/var/lib/adapter-ear1.ear/dom4j-2.1.1.jar")
	if f.CVSS[0].Vector != "AV:N/AC:L/Au:N/C:P/I:P/A:P" || f.Package.Name != "org.dom4j:dom4j" {
		t.Errorf("CVE-0000-0001 CVSS %+v package %+v, want the flat v2 metrics and dom4j", f.CVSS, f.Package)
	}
}

func TestParseJSONFields(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, depcheck.FormatJSON, "testdata/ctem_report.json", ingest.Options{})
	if s := r.Scans[0]; s.Target != "shop-backend" || s.Asset != "repo:shop-backend" || s.ToolVersion != "12.1.0" || s.Format != "dependency-check-json" {
		t.Errorf("scan = %+v", s)
	}
	f := find(t, r, "CVE-2021-44228", "")
	if !slices.Equal(f.VulnIDs, []string{"CVE-2021-44228", "GHSA-jfh8-c2jp-5v3q"}) || f.Severity != model.SeverityCritical || f.Package.FixedVersion != "2.15.0" {
		t.Errorf("CVE-2021-44228 ids %v severity %s package %+v", f.VulnIDs, f.Severity, f.Package)
	}
	if len(f.CVSS) != 2 || f.CVSS[0].Vector != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H" || f.CVSS[1].Vector != "AV:N/AC:M/Au:N/C:C/I:C/A:C" {
		t.Errorf("CVE-2021-44228 CVSS = %+v", f.CVSS)
	}
	if f.Pointer != "/dependencies/0/vulnerabilities/0" {
		t.Errorf("CVE-2021-44228 pointer = %q", f.Pointer)
	}
	if len(r.Facts) != 1 || r.Facts[0].Kind != model.EvidenceKEV || r.Facts[0].FindingID != f.ID || r.Facts[0].VulnID != "CVE-2021-44228" {
		t.Errorf("evidence = %+v, want KEV on CVE-2021-44228", r.Facts)
	}
	f = find(t, r, "CVE-2021-45046", "")
	if f.Status != model.StatusAccepted || !strings.HasPrefix(f.ToolStatus, "suppressed: Lookups are disabled") {
		t.Errorf("CVE-2021-45046 status %s %q, want accepted", f.Status, f.ToolStatus)
	}
	f = find(t, r, "CVE-2021-44906", "")
	if f.Severity != model.SeverityHigh || f.CVSS[0].Vector != "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N" || f.Package.Name != "minimist" {
		t.Errorf("CVE-2021-44906 = %+v", f)
	}
	var rels []string
	for _, rel := range r.Relations {
		rels = append(rels, rel.From+" "+string(rel.Type)+" "+rel.To)
	}
	wantRels := []string{
		"repo:shop-backend contains pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
		"repo:shop-backend contains pkg:npm/minimist@1.2.5",
		"repo:shop-backend contains pkg:maven/org.apache.commons/commons-lang3@3.12.0",
	}
	if !slices.Equal(rels, wantRels) {
		t.Errorf("relations = %q, want %q", rels, wantRels)
	}
}

func TestEmptyProject(t *testing.T) {
	t.Parallel()
	var warned bool
	r := ingesttest.Parse(t, depcheck.FormatXML, "testdata/dc_empty.xml", ingest.Options{Warnf: func(string, ...any) { warned = true }})
	if len(r.Scans) != 1 || r.Scans[0].Target != "unknown" || !warned || len(r.Findings) != 0 {
		t.Errorf("Parse(dc_empty.xml) without a target = %+v, warned %v; want one scan of \"unknown\" and a warning", r.Scans, warned)
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f   ingest.Format
		doc string
	}{
		{depcheck.FormatXML, `<?xml version="1.0"?><nmaprun></nmaprun>`},
		{depcheck.FormatXML, `<analysis><dependencies><dependency><fileName>x</fileName>`},
		{depcheck.FormatXML, ``},
		{depcheck.FormatJSON, `{"dependencies": []}`},
		{depcheck.FormatJSON, `[1]`},
		{depcheck.FormatJSON, `{"reportSchema": "1.1", "scanInfo": {}, "dependencies": [{"vulnerabilities": [{"name": 3}]}]}`},
	} {
		r, err := ingesttest.ParseBytes(tc.f, "in", []byte(tc.doc), ingest.Options{Target: "t"})
		if _, ok := errors.AsType[*ingest.InputError](err); !ok {
			t.Errorf("%s.Parse(%s) error = %v, want an *ingest.InputError", tc.f.Name, tc.doc, err)
		}
		_ = r
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	path := "testdata/PR6439.xml.gz"
	vulns, suppressed := xmlCount(t, readFile(t, path))
	r := ingesttest.Parse(t, depcheck.FormatXML, path, ingest.Options{Target: "pr6439"})
	n := len(r.Distinct())
	if n > vulns+suppressed || n == 0 {
		t.Fatalf("distinct findings %d, want 1..%d", n, vulns+suppressed)
	}
	for range 2 {
		if _, err := ingesttest.Ingest(st, depcheck.FormatXML, ingest.Options{Target: "pr6439"}, path); err != nil {
			t.Fatal(err)
		}
		if c := ingesttest.Count(t, st); c.Findings != n {
			t.Errorf("store findings = %d, want %d", c.Findings, n)
		}
	}
	if _, err := ingesttest.Ingest(st, depcheck.FormatJSON, ingest.Options{}, "testdata/ctem_report.json"); err != nil {
		t.Fatal(err)
	}
	if c := ingesttest.Count(t, st); c.Findings != n+4 || c.Evidence != 1 {
		t.Errorf("store counts after the JSON report = %+v, want %d findings and 1 evidence", c, n+4)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, depcheck.FormatXML, "testdata/version-6.5.3.xml")
	ingesttest.CheckMalformed(t, depcheck.FormatJSON, "testdata/ctem_report.json")
}

func FuzzDependencyCheckXML(f *testing.F) {
	ingesttest.Fuzz(f, depcheck.FormatXML, "testdata/multiple_vulnerabilities_has_multiple_findings.xml", "testdata/dc_empty.xml", "testdata/single_dependency_with_related_no_vulnerability.xml")
}

func FuzzDependencyCheckJSON(f *testing.F) {
	ingesttest.Fuzz(f, depcheck.FormatJSON, jsonReports...)
}
