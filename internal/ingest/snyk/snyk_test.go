package snyk_test

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/snyk"
	"github.com/ctem-dev/ctem/internal/model"
)

func testdata(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	return files
}

func sniffFile(t testing.TB, path string) *ingest.Sniff {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	return ingest.SniffBytes(head[:n])
}

// foreign holds heads of other tools' reports that Snyk's detector must
// refuse.
var foreign = map[string]string{
	"trivy":     `{"SchemaVersion": 2, "ArtifactName": ".", "ArtifactType": "filesystem", "Results": [{"Target": "package-lock.json", "Vulnerabilities": []}]}`,
	"sarif":     `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "SnykCode"}}, "results": []}]}`,
	"cyclonedx": `{"bomFormat": "CycloneDX", "specVersion": "1.4", "vulnerabilities": [{"id": "SNYK-JS-LODASH-1", "source": {"name": "snyk"}}]}`,
	"npm":       `{"auditReportVersion": 2, "vulnerabilities": {}}`,
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := append(formats.All(), snyk.Format)
	for _, path := range testdata(t) {
		got, err := reg.Detect(sniffFile(t, path))
		if err != nil || got.Name != "snyk" {
			t.Errorf("Detect(%s) = %q, %v, want snyk", path, got.Name, err)
		}
	}
	for name, doc := range foreign {
		if snyk.Detect(ingest.SniffBytes([]byte(doc))) {
			t.Errorf("Detect(%s) = true, want false", name)
		}
	}
}

// project is an independent minimal decoding of a Snyk project.
type project struct {
	Vulnerabilities []struct {
		ID          string   `json:"id"`
		PackageName string   `json:"packageName"`
		Version     string   `json:"version"`
		Severity    string   `json:"severity"`
		From        []string `json:"from"`
	} `json:"vulnerabilities"`
	Filtered struct {
		Ignore []json.RawMessage `json:"ignore"`
		Patch  []json.RawMessage `json:"patch"`
	} `json:"filtered"`
	Applications []project `json:"applications"`
}

func (p project) count() int {
	n := len(p.Vulnerabilities) + len(p.Filtered.Ignore) + len(p.Filtered.Patch)
	for _, a := range p.Applications {
		n += a.count()
	}
	return n
}

func decode(t testing.TB, path string) []project {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var list []project
	if err := json.Unmarshal(b, &list); err == nil {
		return list
	}
	var one project
	if err := json.Unmarshal(b, &one); err != nil {
		t.Fatal(err)
	}
	return []project{one}
}

func TestCounts(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			projects := decode(t, path)
			rec := ingesttest.Parse(t, snyk.Format, path, ingest.Options{})
			if len(rec.Scans) != len(projects) {
				t.Errorf("Parse(%s) began %d scans, want %d", path, len(rec.Scans), len(projects))
			}
			want := 0
			for _, p := range projects {
				want += p.count()
			}
			if len(rec.Findings) != want {
				t.Fatalf("Parse(%s) = %d findings, want %d", path, len(rec.Findings), want)
			}
			targets := map[string]bool{}
			for _, s := range rec.Scans {
				if targets[s.Target] {
					t.Errorf("Parse(%s): two scans of target %q", path, s.Target)
				}
				targets[s.Target] = true
			}
			// The first project's own vulnerabilities come first.
			for i, v := range projects[0].Vulnerabilities {
				f := rec.Findings[i]
				if f.RuleID != v.ID || f.Package.Version != v.Version || f.ToolSeverity != v.Severity {
					t.Errorf("finding %d = %s %s %s, want %s %s %s", i, f.RuleID, f.Package.Version, f.ToolSeverity, v.ID, v.Version, v.Severity)
				}
			}
		})
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	rec := ingesttest.Parse(t, snyk.Format, "testdata/all-projects_many_vulns.json", ingest.Options{})
	if got, want := rec.Scans[1].Target, `C:\workspace/project-a/pom.xml`; got != want {
		t.Errorf("scan 1 target = %q, want %q", got, want)
	}
	if got, want := rec.Scans[1].Asset, "repo:c:/workspace"; got != want {
		t.Errorf("scan 1 asset = %q, want %q", got, want)
	}
	f := rec.Findings[0]
	want := &model.Finding{RuleID: "SNYK-JAVA-COMGOOGLEGUAVA-1015415", Severity: model.SeverityMedium}
	if f.RuleID != want.RuleID || f.Severity != want.Severity || f.VulnIDs[0] != "CVE-2020-8908" || len(f.CWEs) != 1 || f.CWEs[0] != "CWE-200" ||
		f.Package.Name != "com.google.guava:guava" || f.Package.FixedVersion != "30.0-android, 30.0-jre" || f.Location.Path != "pom.xml" ||
		len(f.CVSS) == 0 || f.CVSS[0].Score != 5.5 || f.Location.Component == "" {
		t.Errorf("finding 0 = %+v", f)
	}

	// A container report is about the image, and its OS packages carry no
	// manifest path; its applications' packages do.
	rec = ingesttest.Parse(t, snyk.Format, "testdata/snykcontainer_issue_9270.json", ingest.Options{})
	if got, want := rec.Scans[0].Asset, "image:docker.io/sarim04/juiceshop:latest"; got != want {
		t.Errorf("container asset = %q, want %q", got, want)
	}
	if rec.Findings[0].Location.Path != "" || rec.Findings[len(rec.Findings)-1].Location.Path != "/juice-shop/package.json" {
		t.Errorf("container paths = %q and %q, want empty and the application manifest", rec.Findings[0].Location.Path, rec.Findings[len(rec.Findings)-1].Location.Path)
	}
	rec = ingesttest.Parse(t, snyk.Format, "testdata/snykcontainer_issue_epss.json", ingest.Options{})
	if len(rec.Facts) == 0 || rec.Facts[0].Kind != model.EvidenceEPSS {
		t.Errorf("epss evidence = %+v, want some", rec.Facts)
	}
	// A null cvssScore is no score.
	rec = ingesttest.Parse(t, snyk.Format, "testdata/single_project_None_cvss.json", ingest.Options{})
	if f := rec.Findings[0]; f.Severity == model.SeverityUnknown || f.ToolSeverity == "" {
		t.Errorf("None_cvss finding = %+v, want Snyk's severity", f)
	}
}

func TestIgnoredAndLicense(t *testing.T) {
	t.Parallel()
	const doc = `{"vulnerabilities": [{"id": "snyk:lic:npm:tinymce:LGPL-2.1", "type": "license", "license": "LGPL-2.1", "packageName": "tinymce",
 "version": "5.0.4", "severity": "medium", "title": "LGPL-2.1 license", "from": ["app@1.0.0", "tinymce@5.0.4"], "upgradePath": []}],
 "ok": false, "dependencyCount": 3, "packageManager": "npm", "org": "o",
 "filtered": {"ignore": [{"id": "SNYK-JS-LODASH-567746", "packageName": "lodash", "version": "4.17.15", "severity": "high",
   "identifiers": {"CVE": ["CVE-2020-8203"], "CWE": ["CWE-400"], "NSP": [1523]}, "from": ["app@1.0.0", "lodash@4.17.15"], "upgradePath": [],
   "filtered": {"ignored": [{"reason": "not used", "expires": "2030-01-01T00:00:00.000Z", "source": "cli"}]}}], "patch": []},
 "projectName": "app", "displayTargetFile": "package-lock.json", "path": "/src/app"}`
	rec, err := ingesttest.ParseBytes(snyk.Format, "s.json", []byte(doc), ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Findings) != 2 {
		t.Fatalf("Parse = %d findings, want 2", len(rec.Findings))
	}
	if f := rec.Findings[0]; f.Kind != model.FindingLicense || f.Status != model.StatusOpen {
		t.Errorf("licence finding = %+v", f)
	}
	f := rec.Findings[1]
	if f.Status != model.StatusAccepted || f.ToolStatus != "ignored: not used (expires 2030-01-01T00:00:00.000Z)" || f.VulnIDs[0] != "CVE-2020-8203" {
		t.Errorf("ignored finding = %+v", f)
	}
	if rec.Scans[0].Target != "/src/app/package-lock.json" || rec.Scans[0].Asset != "repo:src/app" {
		t.Errorf("scan = %+v", rec.Scans[0])
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	path := "testdata/all_containers_target_output.json"
	rec := ingesttest.Parse(t, snyk.Format, path, ingest.Options{})
	for range 2 {
		if _, err := ingesttest.Ingest(st, snyk.Format, ingest.Options{}, path); err != nil {
			t.Fatal(err)
		}
		if got, want := ingesttest.Count(t, st).Findings, len(rec.Distinct()); got != want {
			t.Errorf("store holds %d findings, want %d", got, want)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, snyk.Format, "testdata/all-projects_many_vulns.json")
	ingesttest.CheckMalformed(t, snyk.Format, "testdata/snykcontainer_issue_epss.json")
	for _, doc := range []string{``, `"x"`, `{"vulnerabilities": {}}`, `[1]`, `{} {}`} {
		if _, err := ingesttest.ParseBytes(snyk.Format, "bad.json", []byte(doc), ingest.Options{}); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", doc)
		}
	}
}

func FuzzSnyk(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	ingesttest.Fuzz(f, snyk.Format, files...)
}
