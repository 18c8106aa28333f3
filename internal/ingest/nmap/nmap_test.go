package nmap_test

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/nmap"
	"github.com/ctem-dev/ctem/internal/model"
)

func testFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	return files
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := append(formats.All(), nmap.Format)
	for _, path := range testFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := reg.Detect(ingest.SniffBytes(data[:min(len(data), 64<<10)]))
		if err != nil || got.Name != "nmap" {
			t.Errorf("Detect(%s) = %q, %v, want nmap", path, got.Name, err)
		}
	}
	for name, doc := range map[string]string{
		"trivy": `{"SchemaVersion": 2, "ArtifactName": "alpine:3.19", "ArtifactType": "container_image", "Results": []}`,
		"sarif": `{"version": "2.1.0", "runs": []}`,
		"zap":   `<?xml version="1.0"?><OWASPZAPReport version="2.9.0"><site name="x"/></OWASPZAPReport>`,
		"other": `<?xml version="1.0"?><nessus_report></nessus_report>`,
	} {
		if nmap.Detect(ingest.SniffBytes([]byte(doc))) {
			t.Errorf("Detect(%s) = true, want false", name)
		}
	}
}

// report is an independent reading of an Nmap report, for counting.
type report struct {
	Args  string `xml:"args,attr"`
	Hosts []struct {
		Status struct {
			State string `xml:"state,attr"`
		} `xml:"status"`
		Ports []struct {
			State struct {
				State string `xml:"state,attr"`
			} `xml:"state"`
			Scripts []xscript `xml:"script"`
		} `xml:"ports>port"`
		HostScripts []xscript `xml:"hostscript>script"`
	} `xml:"host"`
}

type xscript struct {
	ID     string `xml:"id,attr"`
	Output string `xml:"output,attr"`
	Inner  []byte `xml:",innerxml"`
}

// want counts open ports, vulners CVEs and vulnerable script results.
func want(t *testing.T, path string) (open, cves, vulnerable, upHosts int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := xml.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	isVuln := func(s xscript) bool {
		return s.ID != "vulners" && strings.Contains(strings.ReplaceAll(s.Output, "NOT VULNERABLE", ""), "VULNERABLE")
	}
	for _, h := range r.Hosts {
		if h.Status.State == "up" {
			upHosts++
		}
		for _, p := range h.Ports {
			if p.State.State != "open" {
				continue
			}
			open++
			for _, s := range p.Scripts {
				if s.ID == "vulners" {
					cves += strings.Count(string(s.Inner), `<elem key="type">cve</elem>`)
				}
				if isVuln(s) {
					vulnerable++
				}
			}
		}
		for _, s := range h.HostScripts {
			if isVuln(s) {
				vulnerable++
			}
		}
	}
	return open, cves, vulnerable, upHosts
}

func TestCounts(t *testing.T) {
	t.Parallel()
	for _, path := range testFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			open, cves, vulnerable, _ := want(t, path)
			r := ingesttest.Parse(t, nmap.Format, path, ingest.Options{})
			var gotOpen, gotCVE, gotScript int
			for _, f := range r.Findings {
				switch {
				case f.RuleID == "open-port":
					gotOpen++
					if f.Kind != model.FindingNetwork || f.Severity != model.SeverityInfo || !strings.HasPrefix(f.Title, "open tcp/") {
						t.Errorf("open port finding = %+v", f)
					}
				case strings.HasPrefix(f.Pointer, "line") && strings.Contains(f.Pointer, ": vulners "):
					gotCVE++
				default:
					gotScript++
				}
			}
			if gotOpen != open || gotCVE != cves || gotScript != vulnerable {
				t.Errorf("Parse(%s) = %d open ports, %d vulners CVEs, %d vulnerable scripts, want %d, %d, %d", path, gotOpen, gotCVE, gotScript, open, cves, vulnerable)
			}
			var exposes int
			for _, rel := range r.Relations {
				if rel.Type == model.RelExposes && rel.Source == "nmap" {
					exposes++
				}
			}
			if exposes != open {
				t.Errorf("Parse(%s) = %d exposes relations, want %d", path, exposes, open)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		file   string
		opts   ingest.Options
		target []string
	}{
		{"nmap_script_vulners.xml", ingest.Options{}, []string{"192.168.0.1"}},
		{"nmap_multiple_port.xml", ingest.Options{}, []string{"joaquinlp.me"}},
		{"issue4406.xml", ingest.Options{}, []string{"10.250.195.71"}},
		{"nmap_0port.xml", ingest.Options{}, []string{"127.0.0.1"}},
		{"issue12411.xml", ingest.Options{}, []string{"172.217.18.238", "54.239.28.85"}}, // -iL: one scan per host
		{"vuln_scripts.xml", ingest.Options{}, []string{"192.0.2.10"}},                   // the down host is no scan
		{"issue12411.xml", ingest.Options{Target: "edge"}, []string{"edge"}},
	} {
		r := ingesttest.Parse(t, nmap.Format, filepath.Join("testdata", c.file), c.opts)
		var got []string
		for _, s := range r.Scans {
			got = append(got, s.Target)
			if s.Tool != "nmap" || s.Format != "nmap" {
				t.Errorf("%s: scan %+v, want tool and format nmap", c.file, s)
			}
		}
		if !slices.Equal(got, c.target) {
			t.Errorf("Parse(%s, %+v) scan targets = %q, want %q", c.file, c.opts, got, c.target)
		}
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, nmap.Format, "testdata/nmap_script_vulners.xml", ingest.Options{})
	if len(r.Findings) != 3 {
		t.Fatalf("got %d findings, want 3", len(r.Findings))
	}
	open := r.Findings[0]
	if open.Title != "open tcp/5022 ssh OpenSSH 7.4" || open.Asset != "host:192.168.0.1:5022" || open.Location.Component != "tcp/5022" {
		t.Errorf("open port = %+v", open)
	}
	cve := r.Findings[1]
	if cve.Kind != model.FindingVulnerability || !slices.Equal(cve.VulnIDs, []string{"CVE-2018-15919"}) || cve.Severity != model.SeverityMedium ||
		cve.Package != (model.Package{Name: "OpenSSH", Version: "7.4"}) || cve.Asset != "host:192.168.0.1:5022" || cve.ToolSeverity != "cvss 5.0" {
		t.Errorf("CVE finding = %+v", cve)
	}
	if r.Scans[0].Asset != "host:192.168.0.1" || r.Scans[0].ToolVersion != "7.60" {
		t.Errorf("scan = %+v, want asset host:192.168.0.1, version 7.60", r.Scans[0])
	}

	// Exploit marks.
	r = ingesttest.Parse(t, nmap.Format, "testdata/issue4406.xml", ingest.Options{})
	var exploited int
	for _, f := range r.Findings {
		if f.Kind == model.FindingVulnerability && strings.HasPrefix(f.ToolStatus, "exploit: ") {
			exploited++
		}
	}
	var public int
	for _, e := range r.Facts {
		if e.Kind == model.EvidencePublicExploit && e.Source == "nmap" && strings.HasPrefix(e.VulnID, "CVE-") {
			public++
		}
	}
	if exploited == 0 || public != exploited {
		t.Errorf("issue4406: %d CVE findings marked exploited, %d public-exploit facts; want some, equal", exploited, public)
	}
	if !slices.ContainsFunc(r.Assets, func(a model.Asset) bool {
		return a.Key == "host:10.250.195.71" && a.Labels["hostnames"] == "ip-10-250-195-71.eu-west-1.compute.internal"
	}) {
		t.Errorf("issue4406: no host asset with its PTR name")
	}
}

func TestVulnScripts(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, nmap.Format, "testdata/vuln_scripts.xml", ingest.Options{})
	byRule := map[string]*model.Finding{}
	for _, f := range r.Findings {
		byRule[f.RuleID] = f
	}
	hb := byRule["ssl-heartbleed"]
	if hb == nil || hb.Kind != model.FindingVulnerability || !slices.Equal(hb.VulnIDs, []string{"CVE-2014-0160"}) ||
		hb.Severity != model.SeverityHigh || hb.Asset != "host:192.0.2.10:443" || hb.Package.Name != "nginx" ||
		!strings.HasPrefix(hb.Title, "ssl-heartbleed: The Heartbleed Bug") {
		t.Errorf("heartbleed finding = %+v", hb)
	}
	ms := byRule["smb-vuln-ms17-010"]
	if ms == nil || ms.Asset != "host:192.0.2.10" || !slices.Equal(ms.VulnIDs, []string{"CVE-2017-0143"}) || ms.Severity != model.SeverityHigh {
		t.Errorf("ms17-010 finding = %+v", ms)
	}
	for _, rule := range []string{"smb-double-pulsar-backdoor", "ssl-ccs-injection", "smb-vuln-ms10-054"} {
		if byRule[rule] != nil {
			t.Errorf("%s is not vulnerable, yet a finding: %+v", rule, byRule[rule])
		}
	}
	var confirmed []string
	for _, e := range r.Facts {
		if e.Kind == model.EvidenceProbeConfirmed {
			confirmed = append(confirmed, e.VulnID)
		}
	}
	slices.Sort(confirmed)
	if !slices.Equal(confirmed, []string{"CVE-2014-0160", "CVE-2017-0143"}) {
		t.Errorf("probe-confirmed evidence = %q, want CVE-2014-0160 and CVE-2017-0143", confirmed)
	}
	if slices.ContainsFunc(r.Findings, func(f *model.Finding) bool {
		return strings.Contains(f.Asset, "3389") || strings.Contains(f.Asset, "192.0.2.11")
	}) {
		t.Errorf("a filtered port or a down host gave a finding")
	}
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, nmap.Format, "testdata/nmap_0port.xml", ingest.Options{})
	if len(r.Scans) != 1 || len(r.Findings) != 0 || r.Scans[0].Target != "127.0.0.1" {
		t.Errorf("Parse(nmap_0port) = %+v, %d findings, want one scan of 127.0.0.1 and no finding", r.Scans, len(r.Findings))
	}
	var warned int
	doc := `<?xml version="1.0"?><nmaprun scanner="nmap" args="nmap -iL list.txt"></nmaprun>`
	r, err := ingesttest.ParseBytes(nmap.Format, "e.xml", []byte(doc), ingest.Options{Warnf: func(string, ...any) { warned++ }})
	if err != nil || len(r.Scans) != 1 || r.Scans[0].Target != "unknown" || warned != 1 {
		t.Errorf("Parse(no hosts) = %+v, %v, %d warnings, want one scan of unknown and a warning", r, err, warned)
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`<?xml version="1.0"?><OWASPZAPReport></OWASPZAPReport>`,
		`<nmaprun args="nmap x"><host><address addr="1.2.3.4" addrtype="ipv4"/>`,
		`<nmaprun args="nmap x"><host></nmaprun>`,
		`{"json": true}`,
		``,
	} {
		_, err := ingesttest.ParseBytes(nmap.Format, "bad", []byte(doc), ingest.Options{Target: "x"})
		if _, ok := errors.AsType[*ingest.InputError](err); !ok {
			t.Errorf("Parse(%q) = %v, want an *ingest.InputError", doc, err)
		}
	}
}

func TestNoScriptNoise(t *testing.T) {
	t.Parallel()
	// Service fingerprints are long; they are not findings and not kept.
	r := ingesttest.Parse(t, nmap.Format, "testdata/issue4406.xml", ingest.Options{})
	b, _ := json.Marshal(r.Findings)
	if strings.Contains(string(b), "SF-Port6443") {
		t.Errorf("findings hold a service fingerprint")
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, nmap.Format, "testdata/issue4406.xml")
	ingesttest.CheckMalformed(t, nmap.Format, "testdata/nmap_multiple_port.xml")
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	path := "testdata/issue4406.xml"
	if _, err := ingesttest.Ingest(st, nmap.Format, ingest.Options{}, path); err != nil {
		t.Fatal(err)
	}
	r := ingesttest.Parse(t, nmap.Format, path, ingest.Options{})
	first := ingesttest.Count(t, st)
	if first.Findings != len(r.Distinct()) || first.Scans != 1 || first.Relations != 25 {
		t.Errorf("after one ingest: %+v, want %d findings, 1 scan, 25 relations", first, len(r.Distinct()))
	}
	if _, err := ingesttest.Ingest(st, nmap.Format, ingest.Options{}, path); err != nil {
		t.Fatal(err)
	}
	if again := ingesttest.Count(t, st); again.Findings != first.Findings || again.Relations != first.Relations {
		t.Errorf("after a second ingest: %+v, want findings and relations as %+v", again, first)
	}
	// A rescan of the same target with one port left open fixes the rest.
	one := filepath.Join(t.TempDir(), "one.xml")
	os.WriteFile(one, []byte(`<nmaprun scanner="nmap" args="nmap -sV 10.250.195.71" version="7.91"><host><status state="up"/><address addr="10.250.195.71" addrtype="ipv4"/><ports><port protocol="tcp" portid="179"><state state="open"/><service name="tcpwrapped"/></port></ports></host></nmaprun>`), 0o600)
	s, err := ingesttest.Ingest(st, nmap.Format, ingest.Options{}, one)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1 || s[0].Fixed != first.Findings-1 || s[0].New != 0 {
		t.Errorf("rescan = %+v, want %d fixed and nothing new", s, first.Findings-1)
	}
}

func FuzzParse(f *testing.F) {
	ingesttest.Fuzz(f, nmap.Format, "testdata/nmap_script_vulners.xml", "testdata/vuln_scripts.xml", "testdata/nmap_1port.xml")
}
