package sarif_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/sarif"
	"github.com/ctem-dev/ctem/internal/model"
)

// sarifDoc is the minimum needed to count a log's results independently.
type sarifDoc struct {
	Runs []struct {
		Tool struct {
			Driver struct {
				Name string `json:"name"`
			} `json:"driver"`
		} `json:"tool"`
		Results []json.RawMessage `json:"results"`
	} `json:"runs"`
}

func readDoc(t *testing.T, path string) sarifDoc {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d sarifDoc
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func sarifFiles(t *testing.T) []string {
	var files []string
	for _, g := range []string{"testdata/*.sarif", "testdata/*.json"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	if len(files) < 8 {
		t.Fatalf("testdata holds %d files", len(files))
	}
	return files
}

func TestParseCountsEveryResult(t *testing.T) {
	t.Parallel()
	for _, path := range sarifFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			d := readDoc(t, path)
			r := ingesttest.Parse(t, sarif.Format, path, ingest.Options{})
			want := 0
			for _, run := range d.Runs {
				for _, raw := range run.Results {
					var res struct {
						Properties struct {
							Ctem struct {
								Path string `json:"path"`
							} `json:"ctem"`
						} `json:"properties"`
					}
					if json.Unmarshal(raw, &res) == nil && res.Properties.Ctem.Path == "" { // ctem's attack paths are no findings
						want++
					}
				}
			}
			if got := len(r.Findings); got != want {
				t.Errorf("Parse(%s) emitted %d findings, the log holds %d results", path, got, want)
			}
			if got := len(r.Distinct()); got != want {
				t.Errorf("Parse(%s): %d distinct ids for %d results", path, got, want)
			}
			if len(r.Scans) != len(d.Runs) {
				t.Errorf("Parse(%s) began %d scans for %d runs", path, len(r.Scans), len(d.Runs))
			}
			for i, s := range r.Scans {
				if name := strings.ToLower(strings.Join(strings.Fields(d.Runs[i].Tool.Driver.Name), "-")); s.Tool != name {
					t.Errorf("scan %d tool = %q, want %q", i, s.Tool, name)
				}
			}
		})
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	reg := formats.All()
	for _, path := range sarifFiles(t) {
		src, err := ingest.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		f, err := reg.Detect(src.Sniff())
		src.Close()
		if err != nil || f.Name != "sarif" {
			t.Errorf("Detect(%s) = %q, %v; want sarif", path, f.Name, err)
		}
	}
}

func TestCodeQL(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, sarif.Format, "testdata/codeQL-output.sarif", ingest.Options{Target: "https://github.com/acme/app"})
	if r.Scans[0].Asset != "repo:github.com/acme/app" || r.Scans[0].ToolVersion != "2.5.4" {
		t.Errorf("scan = %+v", r.Scans[0])
	}
	var withCWE, withFP int
	for _, f := range r.Findings {
		if f.Kind != model.FindingCode || f.Asset != "repo:github.com/acme/app" || f.Location.Path == "" {
			t.Errorf("finding %+v", f)
		}
		if len(f.CWEs) > 0 {
			withCWE++
		}
		if f.ToolFingerprint != "" {
			withFP++
		}
	}
	if withCWE == 0 || withFP != len(r.Findings) {
		t.Errorf("%d findings with CWEs, %d of %d with fingerprints", withCWE, withFP, len(r.Findings))
	}
}

func TestSuppressions(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, sarif.Format, "testdata/suppression_test.sarif", ingest.Options{Target: "t"})
	want := map[string]model.Status{"TST0001": model.StatusAccepted, "TST0002": model.StatusAccepted, "TST0003": model.StatusAccepted, "TST0004": model.StatusOpen, "TST0005": model.StatusOpen}
	for _, f := range r.Findings {
		if f.Status != want[f.RuleID] {
			t.Errorf("%s status = %s, want %s", f.RuleID, f.Status, want[f.RuleID])
		}
		if f.Location.Path == "" || strings.HasPrefix(f.Location.Path, "file:") {
			t.Errorf("%s path = %q", f.RuleID, f.Location.Path)
		}
	}
}

func TestResultsBeforeTool(t *testing.T) {
	t.Parallel()
	// gosec writes results before the tool and its rules; the rules'
	// CWE relationships must still apply.
	r := ingesttest.Parse(t, sarif.Format, "testdata/gh-app-auth-gosec.sarif", ingest.Options{Target: "t"})
	var g304 *model.Finding
	for _, f := range r.Findings {
		if f.RuleID == "G304" {
			g304 = f
		}
	}
	if g304 == nil || len(g304.CWEs) == 0 || g304.CWEs[0] != "CWE-22" || g304.Title != "Potential file inclusion via variable" {
		t.Errorf("G304 = %+v, want CWE-22 from its rule", g304)
	}
}

func TestSecretsRedacted(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, sarif.Format, "testdata/gitleaks_7.5.0.sarif", ingest.Options{Target: "t"})
	d := readDoc(t, "testdata/gitleaks_7.5.0.sarif")
	var res []struct {
		Locations []struct {
			PhysicalLocation struct {
				Region struct {
					Snippet struct{ Text string } `json:"snippet"`
				} `json:"region"`
			} `json:"physicalLocation"`
		} `json:"locations"`
	}
	raw, _ := json.Marshal(d.Runs[0].Results)
	json.Unmarshal(raw, &res)
	out, _ := json.Marshal(r.Findings)
	for _, x := range res {
		for _, l := range x.Locations {
			if s := strings.TrimSpace(l.PhysicalLocation.Region.Snippet.Text); len(s) > 6 && strings.Contains(string(out), s) {
				t.Errorf("secret snippet %q stored", s)
			}
		}
	}
	for _, f := range r.Findings {
		if f.Kind != model.FindingSecret || f.SecretHash == "" {
			t.Errorf("gitleaks finding %s: kind %s hash %q", f.RuleID, f.Kind, f.SecretHash)
		}
	}
}

func TestTrivySARIFIsVulnerability(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, sarif.Format, "testdata/trivy-alpine-310.sarif", ingest.Options{Target: "t"})
	for _, f := range r.Findings {
		if f.Kind != model.FindingVulnerability || f.Package.Name == "" || f.Package.Version == "" || !strings.HasPrefix(f.VulnIDs[0], "CVE-") {
			t.Errorf("trivy SARIF finding %+v", f)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, sarif.Format, "testdata/codeQL-output.sarif")
	ingesttest.CheckMalformed(t, sarif.Format, "testdata/gh-app-auth-gosec.sarif")
}

func TestRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`{"version":"1.0.0","runs":[]}`, `{"version":"2.1.0","runs":{}}`, `{"version":"2.1.0","runs":[{"results":[{"locations":5}]}]}`, `{"version":"2.1.0","runs":[]} x`} {
		_, err := ingesttest.ParseBytes(sarif.Format, "bad.sarif", []byte(in), ingest.Options{Target: "t"})
		if _, ok := err.(*ingest.InputError); !ok {
			t.Errorf("Parse(%s) = %v (%T), want an *ingest.InputError", in, err, err)
		}
	}
}

func FuzzSARIF(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.sarif")
	ingesttest.Fuzz(f, sarif.Format, seeds...)
}

// TestDetectLateVersion is gosec's order: "runs" first, filling the whole
// head, "version" and "$schema" at the end.
func TestDetectLateVersion(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"runs": [{"results": [`)
	for i := range 2000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"level": "error", "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.go"}, "region": {"startLine": 1}}}], "message": {"text": "Potential file inclusion via variable"}, "ruleId": "G304"}`)
	}
	b.WriteString(`], "tool": {"driver": {"name": "gosec"}}}], "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0"}`)
	data := []byte(b.String())
	if len(data) < 100_000 {
		t.Fatalf("test log too small: %d bytes", len(data))
	}
	f, err := formats.All().Detect(ingest.SniffBytes(data[:64<<10]))
	if err != nil || f.Name != "sarif" {
		t.Fatalf("Detect = %q, %v; want sarif", f.Name, err)
	}
	r, err := ingesttest.ParseBytes(sarif.Format, "late.sarif", data, ingest.Options{Target: "t"})
	if err != nil || len(r.Findings) != 2000 {
		t.Fatalf("Parse: %v, %d findings; want 2000", err, len(r.Findings))
	}
}

// TestSnippetOccurrences checks the identity of code findings that share
// a snippet in one file: they are numbered in the order their lines
// first appear, so that a rescan in which every line moved keeps every
// finding's id, and a result repeated at one line is the same finding.
func TestSnippetOccurrences(t *testing.T) {
	t.Parallel()
	log := func(lines ...int) []byte {
		var res []string
		for _, l := range lines {
			res = append(res, `{"ruleId":"sqli","message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"app/db.py"},"region":{"startLine":`+
				strconv.Itoa(l)+`,"snippet":{"text":"db.execute(q)"}}}}]}`)
		}
		return []byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"semgrep"}},"results":[` + strings.Join(res, ",") + `]}]}`)
	}
	ids := func(data []byte) []string {
		rec, err := ingesttest.ParseBytes(sarif.Format, "x.sarif", data, ingest.Options{Target: "https://github.com/acme/app"})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range rec.Findings {
			out = append(out, f.ID)
		}
		return out
	}
	before := ids(log(10, 20, 10, 30))
	after := ids(log(15, 25, 15, 35)) // five lines added above
	if len(before) != 4 || before[0] != before[2] {
		t.Fatalf("a result repeated at one line: ids %v, want the 1st and 3rd equal", before)
	}
	if before[0] == before[1] || before[1] == before[3] || before[0] == before[3] {
		t.Errorf("three lines sharing a snippet: ids %v, want three distinct", before)
	}
	if strings.Join(before, " ") != strings.Join(after, " ") {
		t.Errorf("after a line shift: ids %v, want %v", after, before)
	}
}
