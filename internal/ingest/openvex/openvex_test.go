package openvex_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/openvex"
	"github.com/ctem-dev/ctem/internal/model"
)

// documents are the testdata files that are OpenVEX documents.
var documents = []string{
	"testdata/openvex_many_vuln.json",
	"testdata/openvex_no_vuln.json",
	"testdata/openvex_one_vuln.json",
	"testdata/openvex_oci_subcomponents.json",
}

func sniffFile(t testing.TB, path string) *ingest.Sniff {
	t.Helper()
	src, err := ingest.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	head, _ := src.Reader().Peek(64 << 10)
	return ingest.SniffBytes(head)
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := append(formats.All(), openvex.Format)
	for _, path := range documents {
		f, err := reg.Detect(sniffFile(t, path))
		if err != nil || f.Name != "openvex" {
			t.Errorf("Detect(%s) = %q, %v, want openvex", path, f.Name, err)
		}
	}
	others, _ := filepath.Glob("../trivy/testdata/*")
	more, _ := filepath.Glob("../sarif/testdata/*")
	others = append(others, more...)
	others = append(others, "testdata/openvex_not_a_document.json")
	for _, path := range others {
		if strings.HasSuffix(path, ".tsv") {
			continue
		}
		if openvex.Detect(sniffFile(t, path)) {
			t.Errorf("openvex.Detect(%s) = true, want false", path)
		}
	}
	for _, doc := range []string{
		`{"SchemaVersion": 2, "ArtifactName": "alpine", "Results": []}`,
		`{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}}]}`,
		`{"@context": "https://www.w3.org/2018/credentials/v1", "statements": []}`,
		`{"bomFormat": "CycloneDX", "vulnerabilities": [{"analysis": {"state": "not_affected"}}]}`,
	} {
		if openvex.Detect(ingest.SniffBytes([]byte(doc))) {
			t.Errorf("openvex.Detect(%s) = true, want false", doc)
		}
	}
}

// rawDoc is an independent reading of a document, for counts.
type rawDoc struct {
	ID         string `json:"@id"`
	Statements []struct {
		Products []json.RawMessage `json:"products"`
	} `json:"statements"`
}

func TestParseCounts(t *testing.T) {
	t.Parallel()
	for _, path := range documents {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var doc rawDoc
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, s := range doc.Statements {
				want += len(s.Products)
			}
			r := ingesttest.Parse(t, openvex.Format, path, ingest.Options{})
			if len(r.Facts) != want {
				t.Errorf("Parse(%s) gave %d evidence, want %d", path, len(r.Facts), want)
			}
			if len(r.Findings) != 0 {
				t.Errorf("Parse(%s) gave %d findings, want 0", path, len(r.Findings))
			}
			wantScans := []model.Scan{{Tool: "openvex", Format: "openvex", ParserVersion: openvex.ParserVersion, Target: doc.ID}}
			if !reflect.DeepEqual(r.Scans, wantScans) {
				t.Errorf("Parse(%s) scans = %+v, want %+v", path, r.Scans, wantScans)
			}
			for _, e := range r.Facts {
				if e.Source != "openvex:"+doc.ID || e.Asset == "" || e.VulnID == "" || e.At.IsZero() {
					t.Errorf("Parse(%s) evidence %+v lacks source, asset, vulnerability or time", path, e)
				}
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, openvex.Format, "testdata/openvex_many_vuln.json", ingest.Options{})
	src := "openvex:https://openvex.dev/docs/public/vex-2222222222222222222222222222222222"
	type fact struct{ Kind, Asset, VulnID, Detail string }
	var got []fact
	for _, e := range r.Facts {
		got = append(got, fact{string(e.Kind), e.Asset, e.VulnID, e.Detail})
		if e.Source != src {
			t.Errorf("evidence source = %q, want %q", e.Source, src)
		}
	}
	want := []fact{
		{"vex-not-affected", "pkg:apk/alpine/apk-tools@2.10.6-r0?arch=x86_64&distro=alpine-3.10.9", "CVE-2024-10001", "not_affected: vulnerable_code_not_present"},
		{"vex-affected", "pkg:apk/alpine/busybox@1.30.1-r3?arch=x86_64&distro=alpine-3.10.9", "CVE-2024-10002", "affected; action: No action statement provided"},
		{"vex-fixed", "pkg:apk/alpine/alpine-baselayout@3.1.2-r0?arch=x86_64&distro=alpine-3.10.9", "CVE-2024-10003", "fixed"},
		{"vex-under-investigation", "pkg:apk/alpine/musl@1.1.22-r3?arch=x86_64&distro=alpine-3.10.9", "CVE-2024-10004", "under_investigation"},
		{"vex-not-affected", "pkg:apk/alpine/zlib@1.2.11-r1?arch=x86_64&distro=alpine-3.10.9", "CVE-2024-10005", "not_affected: inline_mitigations_already_exist; impact: The affected code path is disabled at build time.; aliases: GHSA-jfh8-c2jp-5v3q"},
		{"vex-not-affected", "pkg:apk/alpine/openssl@1.1.1k-r0", "CVE-2024-10006", "not_affected: component_not_present"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(openvex_many_vuln.json) evidence =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseImages(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, openvex.Format, "testdata/openvex_oci_subcomponents.json", ingest.Options{})
	var assets []string
	for _, e := range r.Facts {
		assets = append(assets, e.Asset+" "+e.VulnID+" "+string(e.Kind))
	}
	want := []string{
		"image:ghcr.io/example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef CVE-2023-44487 vex-not-affected",
		"image:ghcr.io/example/worker:v1.2.0 CVE-2023-44487 vex-not-affected",
		"image:docker.io/library/nginx:1.25.3 GHSA-qppj-fm5r-hxr3 vex-under-investigation",
	}
	if !reflect.DeepEqual(assets, want) {
		t.Errorf("Parse(openvex_oci_subcomponents.json) evidence =\n%q\nwant\n%q", assets, want)
	}
	if d := r.Facts[0].Detail; !strings.Contains(d, "subcomponents: pkg:golang/golang.org/x/net@v0.15.0") {
		t.Errorf("evidence detail = %q, want the subcomponent named", d)
	}
	if got, want := r.Facts[2].At.Format("2006-01-02"), "2024-01-01"; got != want {
		t.Errorf("evidence time without a statement timestamp = %s, want the document's %s", got, want)
	}
}

func TestProductKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"pkg:npm/lodash@4.17.21", "pkg:npm/lodash@4.17.21"},
		{"pkg:oci/debian@sha256%3Aabc?repository_url=docker.io/library/debian", "image:docker.io/library/debian@sha256:abc"},
		{"pkg:oci/app?repository_url=ghcr.io/org/app&tag=v1", "image:ghcr.io/org/app:v1"},
		{"pkg:docker/nginx@1.25", "image:docker.io/library/nginx:1.25"},
		{"pkg:docker/org/app@sha256:abc?repository_url=gcr.io", "image:gcr.io/org/app@sha256:abc"},
		{"ghcr.io/org/app:1.0", "image:ghcr.io/org/app:1.0"},
		{"cpe:2.3:a:vendor:product:1.0:*:*:*:*:*:*:*", "cpe:2.3:a:vendor:product:1.0:*:*:*:*:*:*:*"},
		{"https://example.com/product", "https://example.com/product"},
		{"", ""},
	} {
		if got := openvex.ProductKey(tc.in); got != tc.want {
			t.Errorf("ProductKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNotADocument(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`["not", "a", "document"]`,
		`{"statements": []}`,
		`{"@context": "https://example.com/ns", "@id": "x", "statements": [{"vulnerability": "CVE-2024-1", "products": ["pkg:npm/a@1"], "status": "affected"}]}`,
		``,
	} {
		r, err := ingesttest.ParseBytes(openvex.Format, "doc.json", []byte(doc), ingest.Options{})
		if _, ok := errors.AsType[*ingest.InputError](err); !ok {
			t.Errorf("Parse(%s) error = %v, want an *ingest.InputError", doc, err)
		}
		if len(r.Facts) != 0 || len(r.Scans) != 0 {
			t.Errorf("Parse(%s) recorded %d scans and %d evidence, want none", doc, len(r.Scans), len(r.Facts))
		}
	}
	_, err := ingesttest.TryParse(openvex.Format, "testdata/openvex_not_a_document.json", ingest.Options{})
	if err == nil || !strings.Contains(err.Error(), "not an OpenVEX document") {
		t.Errorf("Parse(openvex_not_a_document.json) error = %v, want one saying it is not OpenVEX", err)
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	path := "testdata/openvex_many_vuln.json"
	for range 2 {
		if _, err := ingesttest.Ingest(st, openvex.Format, ingest.Options{}, path); err != nil {
			t.Fatal(err)
		}
	}
	c := ingesttest.Count(t, st)
	if c.Evidence != 6 || c.Findings != 0 || c.Scans != 2 {
		t.Errorf("store counts after two ingests = %+v, want 6 evidence, 0 findings, 2 scans", c)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, openvex.Format, "testdata/openvex_many_vuln.json")
}

func FuzzOpenVEX(f *testing.F) {
	ingesttest.Fuzz(f, openvex.Format, append(documents, "testdata/openvex_not_a_document.json")...)
}
