package zap_test

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/zap"
	"github.com/ctem-dev/ctem/internal/model"
)

func registry() ingest.Registry {
	return append(formats.All(), zap.FormatXML, zap.FormatJSON)
}

func sniffFile(t *testing.T, path string) *ingest.Sniff {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return ingest.SniffBytes(data[:min(len(data), 64<<10)])
}

func testFiles(t *testing.T, ext string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*."+ext))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.%s: %v", ext, err)
	}
	return files
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := registry()
	for ext, want := range map[string]string{"xml": "zap-xml", "json": "zap-json"} {
		for _, path := range testFiles(t, ext) {
			got, err := reg.Detect(sniffFile(t, path))
			if err != nil || got.Name != want {
				t.Errorf("Detect(%s) = %q, %v, want %q", path, got.Name, err, want)
			}
		}
	}
	others := map[string]string{
		"trivy":  `{"SchemaVersion": 2, "ArtifactName": "alpine:3.19", "ArtifactType": "container_image", "Results": []}`,
		"sarif":  `{"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "runs": [{"tool": {"driver": {"name": "zap"}}}]}`,
		"nmap":   `<?xml version="1.0"?><nmaprun scanner="nmap" args="nmap x"></nmaprun>`,
		"nuclei": `{"template-id":"x","info":{"name":"x","severity":"info"},"type":"http","host":"https://a","matched-at":"https://a"}`,
		"other":  `{"@version": "1", "items": []}`,
	}
	for name, doc := range others {
		s := ingest.SniffBytes([]byte(doc))
		if zap.DetectXML(s) || zap.DetectJSON(s) {
			t.Errorf("Detect(%s report) = true, want false", name)
		}
	}
}

// xmlReport is an independent reading of a ZAP XML report, for counting.
type xmlReport struct {
	Sites []struct {
		Name   string `xml:"name,attr"`
		Alerts []struct {
			PluginID  string   `xml:"pluginid"`
			Instances []string `xml:"instances>instance>uri"`
		} `xml:"alerts>alertitem"`
	} `xml:"site"`
}

type jsonReport struct {
	Site []struct {
		Name   string `json:"@name"`
		Alerts []struct {
			Instances []map[string]any `json:"instances"`
		} `json:"alerts"`
	} `json:"site"`
}

// wantCounts returns the number of sites and of alert instances (at least
// one per alert) in a report.
func wantCounts(t *testing.T, path string) (sites []string, instances int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".json") {
		var r jsonReport
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		for _, s := range r.Site {
			sites = append(sites, s.Name)
			for _, a := range s.Alerts {
				instances += max(1, len(a.Instances))
			}
		}
		return sites, instances
	}
	var r xmlReport
	if err := xml.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Sites {
		sites = append(sites, s.Name)
		for _, a := range s.Alerts {
			instances += max(1, len(a.Instances))
		}
	}
	return sites, instances
}

func format(path string) ingest.Format {
	if strings.HasSuffix(path, ".json") {
		return zap.FormatJSON
	}
	return zap.FormatXML
}

func TestCounts(t *testing.T) {
	t.Parallel()
	files := append(testFiles(t, "xml"), testFiles(t, "json")...)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			sites, n := wantCounts(t, path)
			r := ingesttest.Parse(t, format(path), path, ingest.Options{})
			if len(r.Findings) != n {
				t.Errorf("Parse(%s) gave %d findings, want %d (one per alert instance)", path, len(r.Findings), n)
			}
			if len(r.Scans) != len(sites) {
				t.Fatalf("Parse(%s) gave %d scans, want %d", path, len(r.Scans), len(sites))
			}
			for i, s := range r.Scans {
				if s.Target != sites[i] || s.Tool != "zap" || !strings.HasPrefix(s.Asset, "url:") {
					t.Errorf("scan %d = %+v, want target %q, tool zap, a url asset", i, s, sites[i])
				}
			}
			for _, f := range r.Findings {
				if f.Kind != model.FindingDAST || f.RuleID == "" || f.Title == "" || f.Asset != r.Scans[0].Asset {
					t.Errorf("finding %+v: want a dast finding with rule, title and the site's asset", f)
				}
			}
		})
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, zap.FormatXML, "testdata/5_zap_sample_one.xml", ingest.Options{})
	if len(r.Findings) != 6 {
		t.Fatalf("Parse(5_zap_sample_one.xml) gave %d findings, want 6", len(r.Findings))
	}
	f := r.Findings[0]
	want := model.Finding{
		Tool: "zap", Kind: model.FindingDAST, RuleID: "10011", CWEs: []string{"CWE-614"},
		Severity: model.SeverityLow, ToolSeverity: "Low (Medium)", Title: "zap1: Cookie Without Secure Flag",
		Asset: "url:https://mainsite.com/", Status: model.StatusOpen,
		Location: model.Location{URL: "https://mainsite.com/dashboard", Component: "GET opvc"},
	}
	if f.Tool != want.Tool || f.Kind != want.Kind || f.RuleID != want.RuleID || strings.Join(f.CWEs, ",") != "CWE-614" ||
		f.Severity != want.Severity || f.ToolSeverity != want.ToolSeverity || f.Title != want.Title ||
		f.Asset != want.Asset || f.Status != want.Status || f.Location != want.Location {
		t.Errorf("first finding = %+v, want %+v", f, want)
	}
	if !strings.Contains(f.Description, "secure flag") || !strings.Contains(f.Description, "Evidence: Set-Cookie: opvc") {
		t.Errorf("description = %q, want the alert's description and evidence", f.Description)
	}
	if r.Scans[0].ToolVersion != "2.9.0" || r.Scans[0].Format != "zap-xml" {
		t.Errorf("scan = %+v, want version 2.9.0, format zap-xml", r.Scans[0])
	}

	// The JSON copy of juicy2 gives the same findings as the XML.
	x := ingesttest.Parse(t, zap.FormatXML, "testdata/juicy2.xml", ingest.Options{})
	j := ingesttest.Parse(t, zap.FormatJSON, "testdata/juicy2.json", ingest.Options{})
	if len(x.Findings) != len(j.Findings) {
		t.Fatalf("juicy2: %d XML findings, %d JSON findings", len(x.Findings), len(j.Findings))
	}
	for i := range x.Findings {
		if x.Findings[i].ID != j.Findings[i].ID || x.Findings[i].Severity != j.Findings[i].Severity {
			t.Errorf("juicy2 finding %d: XML %+v, JSON %+v", i, x.Findings[i], j.Findings[i])
		}
	}
	if got := x.Findings[0].Asset; got != "url:https://juice-shop.herokuapp.com/" {
		t.Errorf("juicy2 asset = %q, want url:https://juice-shop.herokuapp.com/", got)
	}
}

func TestDuplicates(t *testing.T) {
	t.Parallel()
	path := "testdata/dvwa_baseline_dojo_fabricated_internal_duplicates.xml"
	r := ingesttest.Parse(t, zap.FormatXML, path, ingest.Options{})
	// Count distinct (rule, url, method, param) independently.
	data, _ := os.ReadFile(path)
	var rep struct {
		Alerts []struct {
			Ref       string `xml:"alertRef"`
			Instances []struct {
				URI    string `xml:"uri"`
				Method string `xml:"method"`
				Param  string `xml:"param"`
			} `xml:"instances>instance"`
		} `xml:"site>alerts>alertitem"`
	}
	if err := xml.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range rep.Alerts {
		for _, in := range a.Instances {
			uri := in.URI
			if a.Ref == "10024" { // sensitive data in the URL: the query is dropped
				uri, _, _ = strings.Cut(uri, "?")
			}
			seen[a.Ref+" "+uri+" "+in.Method+" "+in.Param] = true
		}
	}
	if got := len(r.Distinct()); got != len(seen) {
		t.Errorf("distinct findings = %d, want %d", got, len(seen))
	}
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, zap.FormatXML, "testdata/empty_2.9.0.xml", ingest.Options{})
	if len(r.Scans) != 1 || len(r.Findings) != 0 {
		t.Fatalf("Parse(empty) = %d scans, %d findings, want 1 scan, 0 findings", len(r.Scans), len(r.Findings))
	}
	if s := r.Scans[0]; s.Target != "https://isaac.nl" || s.Asset != "url:https://isaac.nl/" {
		t.Errorf("scan = %+v, want target https://isaac.nl, asset url:https://isaac.nl/", s)
	}
	// A report with no site at all still begins a scan of --target.
	for _, doc := range []string{`<?xml version="1.0"?><OWASPZAPReport version="2.14.0"></OWASPZAPReport>`, `{"@version":"2.14.0","site":[]}`} {
		f := zap.FormatXML
		if doc[0] == '{' {
			f = zap.FormatJSON
		}
		r, err := ingesttest.ParseBytes(f, "empty", []byte(doc), ingest.Options{Target: "https://app.example"})
		if err != nil || len(r.Scans) != 1 || r.Scans[0].Target != "https://app.example" {
			t.Errorf("Parse(%s) = %+v, %v, want one scan of https://app.example", doc, r, err)
		}
	}
}

func TestStatusAndSecrets(t *testing.T) {
	t.Parallel()
	doc := `<?xml version="1.0"?><OWASPZAPReport version="2.14.0" generated="x">
<site name="http://app.example:8080" host="app.example" port="8080" ssl="false"><alerts>
<alertitem><pluginid>10202</pluginid><alertRef>10202</alertRef><alert>Absence of Anti-CSRF Tokens</alert>
<riskcode>2</riskcode><confidence>0</confidence><riskdesc>Medium (False Positive)</riskdesc><desc>&lt;p&gt;No token.&lt;/p&gt;</desc>
<instances><instance><uri>http://app.example:8080/form</uri><method>POST</method><param></param><attack></attack><evidence>&lt;form&gt;</evidence></instance></instances>
<cweid>352</cweid><wascid>9</wascid></alertitem>
<alertitem><pluginid>3</pluginid><alertRef>3</alertRef><alert>Session ID in URL Rewrite</alert>
<riskcode>2</riskcode><confidence>2</confidence><riskdesc>Medium (Medium)</riskdesc><desc>x</desc>
<instances><instance><uri>http://user:pw@app.example:8080/a;jsessionid=SESSION0123456789ABCDEF?jsessionid=SESSION0123456789ABCDEF</uri><method>GET</method><param>jsessionid</param><attack></attack><evidence>SESSION0123456789ABCDEF</evidence></instance></instances>
<cweid>200</cweid></alertitem>
</alerts></site></OWASPZAPReport>`
	r, err := ingesttest.ParseBytes(zap.FormatXML, "fp.xml", []byte(doc), ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 2 {
		t.Fatalf("got %d findings, want 2", len(r.Findings))
	}
	fp := r.Findings[0]
	if fp.Status != model.StatusFalsePositive || fp.Severity != model.SeverityMedium || fp.Asset != "url:http://app.example:8080/" || fp.Location.Component != "POST" {
		t.Errorf("false positive finding = %+v, want status false_positive, medium, asset url:http://app.example:8080/, component POST", fp)
	}
	if strings.Contains(fp.Description, "<p>") {
		t.Errorf("description %q keeps HTML markup", fp.Description)
	}
	sec := r.Findings[1]
	if sec.SecretHash == "" {
		t.Errorf("session id finding has no secret hash: %+v", sec)
	}
	b, _ := json.Marshal(r.Findings)
	for _, raw := range []string{"SESSION0123456789ABCDEF", "user:pw"} {
		if strings.Contains(string(b), raw) {
			t.Errorf("findings hold the raw secret %q: %s", raw, b)
		}
	}
}

func TestNoRequestData(t *testing.T) {
	t.Parallel()
	// The "plus" report carries requests and responses with cookies; none
	// of it may reach a finding.
	for _, path := range []string{"testdata/zap-xml-plus-format.xml", "testdata/zap_2.16.1_with_req_resp.xml"} {
		r := ingesttest.Parse(t, zap.FormatXML, path, ingest.Options{})
		b, _ := json.Marshal(r.Findings)
		for _, raw := range []string{"9E75E26E50F681208096FFAA0B566901", "J0O0glajHdR0Mgp", "Cookie:", "accessToken=accessToken"} {
			if strings.Contains(string(b), raw) {
				t.Errorf("%s: findings hold %q", path, raw)
			}
		}
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		f   ingest.Format
		doc string
	}{
		{zap.FormatXML, `<?xml version="1.0"?><nmaprun></nmaprun>`},
		{zap.FormatXML, `<OWASPZAPReport><site name="x"><alerts><alertitem><pluginid>1</pluginid>`},
		{zap.FormatXML, `not xml at all`},
		{zap.FormatJSON, `{"@version":"1","site":[{"@name":"x","alerts":[{"pluginid":`},
		{zap.FormatJSON, `[1,2]`},
		{zap.FormatJSON, `{"@version":"1","site":{}}`},
		{zap.FormatJSON, `{"@version":"1","site":[]} {}`},
	} {
		_, err := ingesttest.ParseBytes(c.f, "bad", []byte(c.doc), ingest.Options{Target: "x"})
		if _, ok := errors.AsType[*ingest.InputError](err); !ok {
			t.Errorf("%s.Parse(%q) = %v, want an *ingest.InputError", c.f.Name, c.doc, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, zap.FormatXML, "testdata/juicy2.xml")
	ingesttest.CheckMalformed(t, zap.FormatJSON, "testdata/juicy2.json")
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	path := "testdata/juicy2.xml"
	scans, err := ingesttest.Ingest(st, zap.FormatXML, ingest.Options{}, path)
	if err != nil {
		t.Fatal(err)
	}
	r := ingesttest.Parse(t, zap.FormatXML, path, ingest.Options{})
	first := ingesttest.Count(t, st)
	if first.Findings != len(r.Distinct()) || first.Scans != 1 || len(scans) != 1 {
		t.Errorf("after one ingest: %+v (%d scans returned), want %d findings, 1 scan", first, len(scans), len(r.Distinct()))
	}
	if _, err := ingesttest.Ingest(st, zap.FormatXML, ingest.Options{}, path); err != nil {
		t.Fatal(err)
	}
	if again := ingesttest.Count(t, st); again.Findings != first.Findings || again.Exposures != first.Exposures {
		t.Errorf("after a second ingest: %+v, want findings and exposures as %+v", again, first)
	}
	// An empty report of the same site fixes what it no longer shows.
	empty := filepath.Join(t.TempDir(), "empty.xml")
	os.WriteFile(empty, []byte(`<OWASPZAPReport version="2.10.0"><site name="https://juice-shop.herokuapp.com" host="juice-shop.herokuapp.com" port="443" ssl="true"><alerts></alerts></site></OWASPZAPReport>`), 0o600)
	s, err := ingesttest.Ingest(st, zap.FormatXML, ingest.Options{}, empty)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1 || s[0].Fixed != first.Findings {
		t.Errorf("empty rescan = %+v, want %d fixed", s, first.Findings)
	}
}

func FuzzXML(f *testing.F) {
	ingesttest.Fuzz(f, zap.FormatXML, "testdata/5_zap_sample_one.xml", "testdata/empty_2.9.0.xml", "testdata/zap-xml-plus-format.xml")
}

func FuzzJSON(f *testing.F) {
	ingesttest.Fuzz(f, zap.FormatJSON, "testdata/juicy2.json")
}
