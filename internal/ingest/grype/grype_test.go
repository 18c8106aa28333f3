package grype_test

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/grype"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
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

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := append(formats.All(), grype.Format)
	for _, path := range testdata(t) {
		got, err := reg.Detect(sniffFile(t, path))
		if err != nil || got.Name != "grype" {
			t.Errorf("Detect(%s) = %q, %v, want grype", path, got.Name, err)
		}
	}
	for name, doc := range foreign {
		if grype.Detect(ingest.SniffBytes([]byte(doc))) {
			t.Errorf("Detect(%s) = true, want false", name)
		}
	}
}

// foreign holds heads of other tools' reports that Grype's detector must
// refuse.
var foreign = map[string]string{
	"trivy":   `{"SchemaVersion": 2, "ArtifactName": "alpine:3.19", "ArtifactType": "container_image", "Results": [{"Target": "alpine", "Vulnerabilities": []}]}`,
	"sarif":   `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Grype"}}, "results": []}]}`,
	"anchore": `{"imageDigest": "sha256:1", "vulnerabilities": [{"vuln": "CVE-2020-1", "package": "x"}]}`,
}

// report is an independent minimal decoding of a Grype report.
type report struct {
	Matches []struct {
		Vulnerability struct {
			ID       string `json:"id"`
			Severity string `json:"severity"`
		} `json:"vulnerability"`
		Artifact struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"artifact"`
	} `json:"matches"`
	IgnoredMatches []json.RawMessage `json:"ignoredMatches"`
}

func decode(t testing.TB, path string) report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCounts(t *testing.T) {
	t.Parallel()
	for _, path := range testdata(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			want := decode(t, path)
			rec := ingesttest.Parse(t, grype.Format, path, ingest.Options{})
			if len(rec.Scans) != 1 {
				t.Fatalf("Parse(%s) began %d scans, want 1", path, len(rec.Scans))
			}
			if got, n := len(rec.Findings), len(want.Matches)+len(want.IgnoredMatches); got != n {
				t.Errorf("Parse(%s) = %d findings, want %d", path, got, n)
			}
			for i, m := range want.Matches {
				f := rec.Findings[i]
				if f.RuleID != m.Vulnerability.ID || f.Package.Name != m.Artifact.Name || f.Package.Version != m.Artifact.Version {
					t.Errorf("finding %d = %s %s@%s, want %s %s@%s", i, f.RuleID, f.Package.Name, f.Package.Version, m.Vulnerability.ID, m.Artifact.Name, m.Artifact.Version)
				}
				if f.ToolSeverity != m.Vulnerability.Severity || f.Asset != rec.Scans[0].Asset || f.Kind != model.FindingVulnerability {
					t.Errorf("finding %d: severity %q asset %q kind %q, want %q, %q, vulnerability", i, f.ToolSeverity, f.Asset, f.Kind, m.Vulnerability.Severity, rec.Scans[0].Asset)
				}
			}
		})
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	rec := ingesttest.Parse(t, grype.Format, "testdata/check_all_fields.json", ingest.Options{})
	s := rec.Scans[0]
	if s.Asset != "image:docker.io/library/vulnerable-image:latest" || s.Target != "image:docker.io/library/vulnerable-image:latest" || s.Tool != "grype" || s.ToolVersion == "" {
		t.Errorf("scan = %+v, want the vulnerable-image:latest image", s)
	}
	f := rec.Findings[0]
	if f.VulnIDs[0] != "CVE-2004-0971" || f.Severity != model.SeverityInfo || f.Package.PURL != "pkg:deb/debian/libgssapi-krb5-2@1.17-3+deb10u3?arch=amd64" || f.Location.Path != "/var/lib/dpkg/status" || f.Pointer != "/matches/0" {
		t.Errorf("finding 0 = %+v", f)
	}
	if len(f.CVSS) != 1 || f.CVSS[0].Vector != "AV:L/AC:L/Au:N/C:N/I:P/A:N" || f.CVSS[0].Score != 2.1 {
		t.Errorf("finding 0 CVSS = %+v, want the NVD v2 vector", f.CVSS)
	}
	var img *model.Asset
	for i := range rec.Assets {
		if rec.Assets[i].Key == s.Asset {
			img = &rec.Assets[i]
		}
	}
	if img == nil || img.Labels["image.id"] == "" || img.Labels["os"] != "debian 10" {
		t.Errorf("image asset = %+v, want labels image.id and os", img)
	}

	// A GHSA match with a related CVE merges under the CVE.
	rec = ingesttest.Parse(t, grype.Format, "testdata/check_all_fields_different_ids_fabricated.json", ingest.Options{})
	for _, f := range rec.Findings {
		if strings.HasPrefix(f.RuleID, "GHSA-") && !strings.HasPrefix(f.VulnIDs[0], "CVE-") {
			t.Errorf("finding %s: vuln ids %v, want a CVE first", f.RuleID, f.VulnIDs)
		}
	}

	// Language packages are told apart by their location.
	rec = ingesttest.Parse(t, grype.Format, "testdata/same_cve_different_paths.json", ingest.Options{})
	if d := rec.Distinct(); len(d) != 2 || d[0].Location.Path == d[1].Location.Path || d[0].ExposureID != d[1].ExposureID {
		t.Errorf("same_cve_different_paths: %d distinct findings, want 2 at two paths on one exposure", len(d))
	}

	// EPSS values become evidence.
	rec = ingesttest.Parse(t, grype.Format, "testdata/many_vulns_with_epss_values.json", ingest.Options{})
	if len(rec.Facts) == 0 || rec.Facts[0].Kind != model.EvidenceEPSS || rec.Facts[0].VulnID == "" {
		t.Errorf("many_vulns_with_epss_values: evidence %+v, want EPSS facts", rec.Facts)
	}
}

// TestMergesWithTrivy checks that Grype and Trivy on one image give one
// asset and one exposure.
func TestMergesWithTrivy(t *testing.T) {
	t.Parallel()
	const trivyReport = `{"SchemaVersion": 2, "ArtifactName": "vulnerable-image:latest", "ArtifactType": "container_image",
 "Metadata": {"RepoTags": ["vulnerable-image:latest"]},
 "Results": [{"Target": "vulnerable-image:latest (debian 10.4)", "Class": "os-pkgs", "Type": "debian", "Vulnerabilities": [
  {"VulnerabilityID": "CVE-2004-0971", "PkgName": "libgssapi-krb5-2", "InstalledVersion": "1.17-3+deb10u3", "Severity": "LOW"}]}]}`
	tr, err := ingesttest.ParseBytes(trivy.Format, "trivy.json", []byte(trivyReport), ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	gr := ingesttest.Parse(t, grype.Format, "testdata/check_all_fields.json", ingest.Options{})
	if tr.Scans[0].Asset != gr.Scans[0].Asset {
		t.Fatalf("assets: trivy %q, grype %q, want one", tr.Scans[0].Asset, gr.Scans[0].Asset)
	}
	want := tr.Findings[0].ExposureID
	for _, f := range gr.Findings {
		if f.ExposureID == want {
			return
		}
	}
	t.Errorf("no grype finding on the exposure of trivy's CVE-2004-0971 in libgssapi-krb5-2")
}

func TestRepoDigestWins(t *testing.T) {
	t.Parallel()
	const doc = `{"matches": [], "source": {"type": "image", "target": {"userInput": "nginx:1.25", "manifestDigest": "sha256:aa",
 "tags": ["nginx:1.25"], "repoDigests": ["nginx@sha256:bb"]}}, "descriptor": {"name": "grype", "version": "0.80.0"}}`
	rec, err := ingesttest.ParseBytes(grype.Format, "g.json", []byte(doc), ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rec.Scans[0].Asset, "image:docker.io/library/nginx@sha256:bb"; got != want {
		t.Errorf("asset = %q, want %q", got, want)
	}
	if got, want := rec.Scans[0].Target, "image:docker.io/library/nginx:1.25"; got != want {
		t.Errorf("target = %q, want %q", got, want)
	}
}

func TestDirectoryAndIgnored(t *testing.T) {
	t.Parallel()
	const doc = `{"matches": [], "ignoredMatches": [{"vulnerability": {"id": "GHSA-jfh8-c2jp-5v3q", "severity": "Critical"},
 "relatedVulnerabilities": [{"id": "CVE-2021-44228"}], "artifact": {"name": "log4j-core", "version": "2.14.1", "type": "java-archive",
 "locations": [{"path": "/app/lib/log4j-core-2.14.1.jar"}]}, "appliedIgnoreRules": [{"vulnerability": "CVE-2021-44228", "vex-status": "not_affected", "reason": "not reachable"}]}],
 "source": {"type": "directory", "target": "/src/app"}, "descriptor": {"name": "grype"}}`
	rec, err := ingesttest.ParseBytes(grype.Format, "g.json", []byte(doc), ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Scans[0].Asset; got != "repo:src/app" {
		t.Errorf("asset = %q, want repo:src/app", got)
	}
	f := rec.Findings[0]
	if f.Status != model.StatusNotAffected || f.VulnIDs[0] != "CVE-2021-44228" || f.Location.Path != "/app/lib/log4j-core-2.14.1.jar" {
		t.Errorf("ignored match = %+v, want not_affected CVE-2021-44228 at the jar", f)
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	path := "testdata/check_all_fields.json"
	rec := ingesttest.Parse(t, grype.Format, path, ingest.Options{})
	for range 2 {
		if _, err := ingesttest.Ingest(st, grype.Format, ingest.Options{}, path); err != nil {
			t.Fatal(err)
		}
		if got, want := ingesttest.Count(t, st).Findings, len(rec.Distinct()); got != want {
			t.Errorf("store holds %d findings, want %d", got, want)
		}
	}
	// An empty report of the same image closes everything.
	scans, err := ingesttest.Ingest(st, grype.Format, ingest.Options{Target: "vulnerable-image:latest"}, "testdata/no_vuln.json")
	if err != nil {
		t.Fatal(err)
	}
	if scans[0].Fixed != len(rec.Distinct()) {
		t.Errorf("empty rescan fixed %d, want %d", scans[0].Fixed, len(rec.Distinct()))
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, grype.Format, "testdata/check_all_fields.json")
	for _, doc := range []string{``, `[]`, `"x"`, `{"matches": {}}`, `{"matches": []} {}`} {
		if _, err := ingesttest.ParseBytes(grype.Format, "bad.json", []byte(doc), ingest.Options{}); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", doc)
		}
	}
}

func FuzzGrype(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	ingesttest.Fuzz(f, grype.Format, files...)
}

// TestGrype07 reads a report of Grype 0.7, whose matchDetails is one
// object per match, not an array: every match is a finding on the image
// the report names, and a matchDetails that is neither is an input error
// at its place.
func TestGrype07(t *testing.T) {
	t.Parallel()
	const path = "testdata/grype_0.7_subset.json"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"matchDetails": {`); n != 2 {
		t.Fatalf("%s holds %d matchDetails objects, want 2", path, n)
	}
	rec := ingesttest.Parse(t, grype.Format, path, ingest.Options{})
	if len(rec.Scans) != 1 || !strings.Contains(rec.Scans[0].Target, "python:3.6") || len(rec.Findings) != 2 {
		t.Fatalf("Parse(%s) = %d scans (%+v), %d findings; want 1 scan of python:3.6, 2 findings", path, len(rec.Scans), rec.Scans, len(rec.Findings))
	}
	bad := strings.Replace(string(data), `"matchDetails": {`, `"matchDetails": "dpkg", "x": {`, 1)
	_, err = ingesttest.ParseBytes(grype.Format, "bad.json", []byte(bad), ingest.Options{})
	ie, ok := errors.AsType[*ingest.InputError](err)
	if !ok || !strings.Contains(err.Error(), "/matches/0/matchDetails") || ie.Offset != int64(strings.Index(bad, `"dpkg"`)) {
		t.Errorf("Parse(matchDetails a string) = %v, want an input error at /matches/0/matchDetails, offset %d", err, strings.Index(bad, `"dpkg"`))
	}
}
