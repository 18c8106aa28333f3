package spdx_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/spdx"
	"github.com/ctem-dev/ctem/internal/model"
)

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
	return out
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := append(formats.All(), spdx.Format)
	for _, path := range testdata(t) {
		src, err := ingest.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := reg.Detect(src.Sniff())
		src.Close()
		if err != nil || got.Name != "spdx" {
			t.Errorf("Detect(%s) = %q, %v, want spdx", path, got.Name, err)
		}
	}
	var others [][]byte
	for _, dir := range []string{"../trivy/testdata/*", "../sarif/testdata/*"} {
		files, _ := filepath.Glob(dir)
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && filepath.Ext(p) != ".tsv" {
				others = append(others, b)
			}
		}
	}
	others = append(others,
		[]byte(`{"SchemaVersion": 2, "ArtifactName": "alpine:3.19", "Results": []}`),
		[]byte(`{"version": "2.1.0", "runs": []}`),
		[]byte(`{"bomFormat": "CycloneDX", "specVersion": "1.4"}`),
		[]byte(`{"@context": "https://openvex.dev/ns/v0.2.0", "statements": []}`),
		[]byte("apiVersion: v1\nkind: Pod\n"),
		[]byte(`<spdx version="2.3"/>`),
	)
	for _, b := range others {
		if spdx.Detect(ingest.SniffBytes(b)) {
			t.Errorf("spdx.Detect(%.60q) = true, want false", b)
		}
	}
}

// fileCounts counts what an SPDX document holds with a decoder of the
// test's own: its packages and the security references naming a
// vulnerability or typed "advisory".
func fileCounts(t *testing.T, path string) (pkgs, findings int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Packages []struct {
			ExternalRefs []struct {
				Category string `json:"referenceCategory"`
				Type     string `json:"referenceType"`
				Locator  string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range doc.Packages {
		for _, r := range p.ExternalRefs {
			if r.Category != "SECURITY" {
				continue
			}
			if r.Type == "advisory" || (r.Type == "url" && len(model.ExtractVulnIDs(r.Locator)) > 0) {
				findings++
			}
		}
	}
	return len(doc.Packages), findings
}

func TestCorpus(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"spdx_no_vuln.json", "spdx_one_vuln.json", "spdx_many_vuln.json"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", name)
			pkgs, findings := fileCounts(t, path)
			r := ingesttest.Parse(t, spdx.Format, path, ingest.Options{})
			if len(r.Scans) != 1 {
				t.Fatalf("Parse(%s) began %d scans, want 1", path, len(r.Scans))
			}
			s := r.Scans[0]
			want := model.Scan{Tool: "syft", ToolVersion: "1.50.0", Format: "spdx", ParserVersion: spdx.ParserVersion, Target: "generic-image", Asset: "repo:generic-image"}
			if diff := cmp.Diff(s, want); diff != "" {
				t.Errorf("scan (-got +want):\n%s", diff)
			}
			// No package is described: all are the target's.
			if got := len(r.Assets) - 1; got != pkgs {
				t.Errorf("Parse(%s) emitted %d package assets, want %d", path, got, pkgs)
			}
			if len(r.Relations) != pkgs {
				t.Errorf("Parse(%s) emitted %d relations, want %d", path, len(r.Relations), pkgs)
			}
			if len(r.Findings) != findings {
				t.Errorf("Parse(%s) emitted %d findings, want %d", path, len(r.Findings), findings)
			}
		})
	}
}

func TestFindings(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, spdx.Format, "testdata/spdx_many_vuln.json", ingest.Options{})
	type short struct {
		RuleID  string
		VulnIDs []string
		Package model.Package
		Pointer string
	}
	var got []short
	for _, f := range r.Findings {
		if f.Kind != model.FindingVulnerability || f.Asset != "repo:generic-image" || f.Tool != "syft" {
			t.Errorf("finding %+v: want a syft vulnerability on repo:generic-image", f)
		}
		got = append(got, short{f.RuleID, f.VulnIDs, f.Package, f.Pointer})
	}
	want := []short{
		{"CVE-2024-10001", []string{"CVE-2024-10001"}, model.Package{Name: "alpine-baselayout", Version: "3.1.2-r0", PURL: "pkg:apk/alpine/alpine-baselayout@3.1.2-r0?arch=x86_64&distro=alpine-3.10.9"}, "/packages/0/externalRefs/3"},
		{"CVE-2024-10002", []string{"CVE-2024-10002"}, model.Package{Name: "alpine-keys", Version: "2.1-r2", PURL: "pkg:apk/alpine/alpine-keys@2.1-r2?arch=x86_64&distro=alpine-3.10.9"}, "/packages/1/externalRefs/3"},
		{"GHSA-jfh8-c2jp-5v3q", []string{"GHSA-jfh8-c2jp-5v3q"}, model.Package{Name: "alpine-keys", Version: "2.1-r2", PURL: "pkg:apk/alpine/alpine-keys@2.1-r2?arch=x86_64&distro=alpine-3.10.9"}, "/packages/1/externalRefs/4"},
		{"https://example.com/advisories/no-identifier-here", nil, model.Package{Name: "apk-tools", Version: "2.10.6-r0", PURL: "pkg:apk/alpine/apk-tools@2.10.6-r0?arch=x86_64&distro=alpine-3.10.9"}, "/packages/2/externalRefs/3"},
	}
	if diff := cmp.Diff(got, want, cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })); diff != "" {
		t.Errorf("findings (-got +want):\n%s", diff)
	}
	if d := r.Findings[0].Description; !strings.Contains(d, "https://example.com/fixes/CVE-2024-10001") {
		t.Errorf("Description = %q, want the fix reference", d)
	}
}

// described is a constructed SPDX 2.2 document (the corpus has none with
// relationships): a container described by the document, containing a
// library that depends on another, plus a reversed relationship and one
// into another document.
const described = `{
  "spdxVersion": "SPDX-2.2",
  "SPDXID": "SPDXRef-DOCUMENT",
  "name": "ghcr.io/acme/app:1.2",
  "creationInfo": {"creators": ["Tool: trivy-0.50.1"]},
  "packages": [
    {"SPDXID": "SPDXRef-img", "name": "ghcr.io/acme/app", "versionInfo": "1.2", "primaryPackagePurpose": "CONTAINER"},
    {"SPDXID": "SPDXRef-a", "name": "a", "versionInfo": "1.0", "externalRefs": [{"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl", "referenceLocator": "pkg:npm/a@1.0"}]},
    {"SPDXID": "SPDXRef-b", "name": "b", "versionInfo": "2.0"}
  ],
  "files": [{"SPDXID": "SPDXRef-f", "fileName": "./x"}],
  "relationships": [
    {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-img"},
    {"spdxElementId": "SPDXRef-img", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-a"},
    {"spdxElementId": "SPDXRef-a", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "SPDXRef-b"},
    {"spdxElementId": "SPDXRef-b", "relationshipType": "CONTAINED_BY", "relatedSpdxElement": "SPDXRef-a"},
    {"spdxElementId": "SPDXRef-a", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-f"},
    {"spdxElementId": "SPDXRef-b", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "DocumentRef-x:SPDXRef-y"}
  ]
}`

func TestRelationships(t *testing.T) {
	t.Parallel()
	r, err := ingesttest.ParseBytes(spdx.Format, "described.json", []byte(described), ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantScan := model.Scan{Tool: "trivy", ToolVersion: "0.50.1", Format: "spdx", ParserVersion: spdx.ParserVersion, Target: "image:ghcr.io/acme/app:1.2", Asset: "image:ghcr.io/acme/app:1.2"}
	if diff := cmp.Diff(r.Scans, []model.Scan{wantScan}); diff != "" {
		t.Errorf("scans (-got +want):\n%s", diff)
	}
	var keys []string
	for _, a := range r.Assets {
		keys = append(keys, string(a.Kind)+" "+a.Key)
	}
	wantKeys := []string{"image image:ghcr.io/acme/app:1.2", "package pkg:npm/a@1.0", "package pkg:generic/b@2.0"}
	if diff := cmp.Diff(keys, wantKeys); diff != "" {
		t.Errorf("assets (-got +want):\n%s", diff)
	}
	img := "image:ghcr.io/acme/app:1.2"
	rel := func(from, to string) model.Relation {
		return model.Relation{From: from, To: to, Type: model.RelContains, Source: "spdx"}
	}
	wantRels := []model.Relation{
		rel(img, "pkg:npm/a@1.0"),
		rel(img, "pkg:generic/b@2.0"),
		rel("pkg:npm/a@1.0", "pkg:generic/b@2.0"),
		rel("pkg:npm/a@1.0", "pkg:generic/b@2.0"),
	}
	if diff := cmp.Diff(r.Relations, wantRels); diff != "" {
		t.Errorf("relations (-got +want):\n%s", diff)
	}
}

func TestUnsupported(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, data, want string
	}{
		{"spdx 3", "testdata/spdx_3_unsupported.json", "", "unsupported SPDX version 3.0 (ctem reads SPDX 2.2 and 2.3 JSON)"},
		{"tag-value", "testdata/spdx_one_vuln.spdx", "", "unsupported SPDX tag-value document"},
		{"spdx 3 context first", "", `{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": []}`, "unsupported SPDX version 3.0"},
		{"no version", "", `{"SPDXID": "SPDXRef-DOCUMENT", "packages": []}`, "not an SPDX document"},
		{"truncated", "", `{"spdxVersion": "SPDX-2.3", "packages": [{"name": "a"`, "truncated"},
		{"packages object", "", `{"spdxVersion": "SPDX-2.3", "packages": {}}`, "expected an array"},
		{"array", "", `[]`, "not an SPDX document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tt.path != "" {
				_, err = ingesttest.TryParse(spdx.Format, tt.path, ingest.Options{})
			} else {
				_, err = ingesttest.ParseBytes(spdx.Format, "bad.json", []byte(tt.data), ingest.Options{})
			}
			if _, ok := errors.AsType[*ingest.InputError](err); !ok || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%s) = %v, want an *ingest.InputError saying %q", tt.name, err, tt.want)
			}
		})
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	if _, err := ingesttest.Ingest(st, spdx.Format, ingest.Options{}, "testdata/spdx_3_unsupported.json"); err == nil {
		t.Error("Ingest(spdx_3_unsupported.json) succeeded, want an error")
	}
	if c := ingesttest.Count(t, st); c.Scans != 0 || c.Assets != 0 {
		t.Errorf("after an SPDX 3 document counts = %+v, want nothing", c)
	}
	for range 2 {
		if _, err := ingesttest.Ingest(st, spdx.Format, ingest.Options{}, "testdata/spdx_many_vuln.json"); err != nil {
			t.Fatal(err)
		}
		if c := ingesttest.Count(t, st); c.Findings != 4 || c.Assets != 5 || c.Relations != 4 {
			t.Errorf("counts = %+v, want 4 findings, 5 assets, 4 relations", c)
		}
	}
	// The same image without its vulnerabilities fixes them.
	scans, err := ingesttest.Ingest(st, spdx.Format, ingest.Options{}, "testdata/spdx_no_vuln.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(scans) != 1 || scans[0].Findings != 0 || scans[0].Fixed != 4 {
		t.Errorf("Ingest(spdx_no_vuln.json) = %+v, want one scan with 0 findings and 4 fixed", scans)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, spdx.Format, "testdata/spdx_many_vuln.json")
}

func FuzzParse(f *testing.F) {
	seeds := testdata(f)
	ingesttest.Fuzz(f, spdx.Format, seeds...)
}
