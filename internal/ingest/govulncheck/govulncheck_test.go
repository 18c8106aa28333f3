package govulncheck_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/formats"
	"github.com/ctem-dev/ctem/internal/ingest/govulncheck"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/model"
)

// reports are the testdata files of govulncheck output, by syntax.
var reports = []string{
	"testdata/issue_14642.json.gz",                         // stream of concatenated objects
	"testdata/many_vulns_new_version.json",                 // the stream wrapped in an array
	"testdata/many_vulns_new_version_custom_severity.json", // with a severity word
	"testdata/no_vulns_new_version.json",
	"testdata/many_vulns.json", // pre-1.0 document
}

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
	reg := append(formats.All(), govulncheck.Format)
	for _, path := range reports {
		f, err := reg.Detect(sniff(readFile(t, path)))
		if err != nil || f.Name != "govulncheck" {
			t.Errorf("Detect(%s) = %q, %v, want govulncheck", path, f.Name, err)
		}
	}
	others, _ := filepath.Glob("../trivy/testdata/*")
	more, _ := filepath.Glob("../sarif/testdata/*")
	for _, path := range append(others, more...) {
		if !strings.HasSuffix(path, ".tsv") && govulncheck.Detect(sniff(readFile(t, path))) {
			t.Errorf("govulncheck.Detect(%s) = true, want false", path)
		}
	}
	for _, doc := range []string{
		`{"SchemaVersion": 2, "ArtifactName": "alpine", "Results": []}`,
		`{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "govulncheck"}}}]}`,
		`{"config": {"scanner_name": "other"}}`,
		`[{"Target": "go.mod"}]`,
	} {
		if govulncheck.Detect(ingest.SniffBytes([]byte(doc))) {
			t.Errorf("govulncheck.Detect(%s) = true, want false", doc)
		}
	}
}

// messages decodes a stream or an array of messages independently.
func messages(t testing.TB, data []byte) []map[string]json.RawMessage {
	t.Helper()
	var out []map[string]json.RawMessage
	if b := bytes.TrimSpace(data); len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var m map[string]json.RawMessage
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
}

// want counts the distinct (osv, module) pairs of a stream and their
// strongest level.
func want(t testing.TB, data []byte) map[[2]string]model.EvidenceKind {
	t.Helper()
	out := map[[2]string]model.EvidenceKind{}
	rank := map[model.EvidenceKind]int{model.EvidenceRequiredOnly: 1, model.EvidenceImportedOnly: 2, model.EvidenceReachableCall: 3}
	for _, m := range messages(t, data) {
		raw, ok := m["finding"]
		if !ok {
			continue
		}
		var f struct {
			OSV   string `json:"osv"`
			Trace []struct {
				Module, Package, Function string
			} `json:"trace"`
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		k := model.EvidenceRequiredOnly
		switch {
		case f.Trace[0].Function != "":
			k = model.EvidenceReachableCall
		case f.Trace[0].Package != "":
			k = model.EvidenceImportedOnly
		}
		key := [2]string{f.OSV, f.Trace[0].Module}
		if rank[k] > rank[out[key]] {
			out[key] = k
		}
	}
	return out
}

func TestParseStream(t *testing.T) {
	t.Parallel()
	for _, path := range reports[:4] {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			wantPairs := want(t, readFile(t, path))
			r := ingesttest.Parse(t, govulncheck.Format, path, ingest.Options{})
			if len(r.Scans) != 1 {
				t.Fatalf("Parse(%s) recorded %d scans, want 1", path, len(r.Scans))
			}
			if len(r.Findings) != len(wantPairs) || len(r.Distinct()) != len(wantPairs) {
				t.Errorf("Parse(%s) gave %d findings (%d distinct), want %d", path, len(r.Findings), len(r.Distinct()), len(wantPairs))
			}
			if len(r.Facts) != len(r.Findings) {
				t.Fatalf("Parse(%s) gave %d evidence for %d findings", path, len(r.Facts), len(r.Findings))
			}
			for i, f := range r.Findings {
				e := r.Facts[i]
				key := [2]string{f.RuleID, f.Package.Name}
				if e.Kind != wantPairs[key] {
					t.Errorf("Parse(%s) evidence of %v = %s, want %s", path, key, e.Kind, wantPairs[key])
				}
				if e.FindingID != f.ID || e.Asset != f.Asset || e.VulnID != f.RuleID || e.Source != "govulncheck" {
					t.Errorf("Parse(%s) evidence %+v does not match finding %s on %s", path, e, f.ID, f.Asset)
				}
				if f.Asset != r.Scans[0].Asset {
					t.Errorf("Parse(%s) finding asset %q, want the scan's %q", path, f.Asset, r.Scans[0].Asset)
				}
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	r := ingesttest.Parse(t, govulncheck.Format, "testdata/issue_14642.json.gz", ingest.Options{Target: "ignored"})
	s := r.Scans[0]
	if s.Target != "github.com/alielmi98/golang-expense-tracker-api" || s.Asset != "repo:github.com/alielmi98/golang-expense-tracker-api" || s.ToolVersion != "v1.1.4" {
		t.Errorf("scan = %+v, want the SBOM's main module and scanner v1.1.4", s)
	}
	var f *model.Finding
	var e model.Evidence
	for i, x := range r.Findings {
		if x.RuleID == "GO-2026-4601" {
			f, e = x, r.Facts[i]
		}
	}
	if f == nil {
		t.Fatal("no finding GO-2026-4601")
	}
	if f.Package.Name != "stdlib" || f.Package.Version != "v1.24.4" || f.Package.FixedVersion != "v1.25.8" || f.Package.PURL != "pkg:golang/stdlib@v1.24.4" {
		t.Errorf("GO-2026-4601 package = %+v", f.Package)
	}
	if e.Kind != model.EvidenceReachableCall || e.Detail != "github.com/alielmi98/golang-expense-tracker-api/repository.(*expenseTrackerRepository).ListExpenses → github.com/jackc/pgx/v5/pgconn.(*ParseConfigError).Error → github.com/jackc/pgx/v5/pgconn.redactPW → net/url.Parse" {
		t.Errorf("GO-2026-4601 evidence = %s %q, want the first call path, to net/url.Parse", e.Kind, e.Detail)
	}
	if len(f.VulnIDs) < 2 || !strings.HasPrefix(f.VulnIDs[0], "CVE-") {
		t.Errorf("GO-2026-4601 ids = %v, want its CVE alias first", f.VulnIDs)
	}

	r = ingesttest.Parse(t, govulncheck.Format, "testdata/many_vulns_new_version_custom_severity.json", ingest.Options{})
	if got := r.Scans[0].Asset; got != "repo:vuln.tutorial" {
		t.Errorf("scan asset = %q, want the main module of the call trace, repo:vuln.tutorial", got)
	}
	type row struct {
		id, sev, pkg, fixed string
		kind                model.EvidenceKind
		ids                 string
	}
	var got []row
	for i, f := range r.Findings {
		got = append(got, row{f.RuleID, string(f.Severity), f.Package.Name + "@" + f.Package.Version, f.Package.FixedVersion, r.Facts[i].Kind, strings.Join(f.VulnIDs, ",")})
	}
	wantRows := []row{
		{"GO-2021-0113", "low", "golang.org/x/text@v0.3.5", "v0.3.7", model.EvidenceReachableCall, "CVE-2021-38561,GHSA-ppp9-7jff-5vj2,GO-2021-0113"},
		{"GO-2022-1059", "high", "golang.org/x/text@v0.3.5", "v0.3.8", model.EvidenceImportedOnly, "CVE-2022-32149,GHSA-69ch-w2m2-3vjp,GO-2022-1059"},
	}
	if len(got) != len(wantRows) {
		t.Fatalf("findings = %+v, want %+v", got, wantRows)
	}
	for i := range got {
		if got[i] != wantRows[i] {
			t.Errorf("finding %d = %+v, want %+v", i, got[i], wantRows[i])
		}
	}
	if d := r.Facts[0].Detail; d != "vuln.tutorial.main → golang.org/x/text/language.Parse" {
		t.Errorf("call path = %q", d)
	}
}

func TestParseLegacy(t *testing.T) {
	t.Parallel()
	var doc struct {
		Vulns []struct {
			OSV struct {
				ID string `json:"id"`
			} `json:"OSV"`
			ModPath  string `json:"ModPath"`
			CallSink int    `json:"CallSink"`
		} `json:"Vulns"`
	}
	if err := json.Unmarshal(readFile(t, "testdata/many_vulns.json"), &doc); err != nil {
		t.Fatal(err)
	}
	pairs := map[[2]string]bool{}
	for _, v := range doc.Vulns {
		pairs[[2]string{v.OSV.ID, v.ModPath}] = v.CallSink != 0 || pairs[[2]string{v.OSV.ID, v.ModPath}]
	}
	r := ingesttest.Parse(t, govulncheck.Format, "testdata/many_vulns.json", ingest.Options{})
	if len(r.Findings) != len(pairs) {
		t.Errorf("Parse(many_vulns.json) gave %d findings, want %d", len(r.Findings), len(pairs))
	}
	if got := r.Scans[0].Asset; got != "repo:github.com/jharper-sec/evil-app" {
		t.Errorf("scan asset = %q, want repo:github.com/jharper-sec/evil-app", got)
	}
	for i, f := range r.Findings {
		called := pairs[[2]string{f.RuleID, f.Package.Name}]
		if (r.Facts[i].Kind == model.EvidenceReachableCall) != called {
			t.Errorf("%s evidence = %s, want called %v", f.RuleID, r.Facts[i].Kind, called)
		}
		if f.Package.Version != "v1.19.0" || f.Package.Name != "stdlib" {
			t.Errorf("%s package = %+v, want stdlib v1.19.0", f.RuleID, f.Package)
		}
	}
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"testdata/empty.json", "testdata/no_vulns_new_version.json"} {
		r := ingesttest.Parse(t, govulncheck.Format, path, ingest.Options{Target: "github.com/example/app"})
		if len(r.Scans) != 1 || len(r.Findings) != 0 || len(r.Facts) != 0 {
			t.Errorf("Parse(%s) = %d scans, %d findings, %d evidence, want 1, 0, 0", path, len(r.Scans), len(r.Findings), len(r.Facts))
		}
		if len(r.Scans) == 1 && r.Scans[0].Asset != "repo:github.com/example/app" {
			t.Errorf("Parse(%s) scan asset = %q, want the --target's", path, r.Scans[0].Asset)
		}
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{`{"a": 1}`, `[1, 2]`, `"x"`, `{"config": {}} 17`, `{"finding": {"osv": "GO-1"`} {
		r, err := ingesttest.ParseBytes(govulncheck.Format, "in.json", []byte(doc), ingest.Options{})
		if _, ok := errors.AsType[*ingest.InputError](err); !ok {
			t.Errorf("Parse(%s) error = %v, want an *ingest.InputError", doc, err)
		}
		if len(r.Scans)+len(r.Findings)+len(r.Facts) != 0 {
			t.Errorf("Parse(%s) recorded something", doc)
		}
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	st := ingesttest.OpenStore(t)
	path := "testdata/issue_14642.json.gz"
	n := len(want(t, readFile(t, path)))
	for range 2 {
		if _, err := ingesttest.Ingest(st, govulncheck.Format, ingest.Options{}, path); err != nil {
			t.Fatal(err)
		}
		if c := ingesttest.Count(t, st); c.Findings != n || c.Evidence != n {
			t.Errorf("store counts = %+v, want %d findings and evidence", c, n)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	ingesttest.CheckMalformed(t, govulncheck.Format, "testdata/many_vulns_new_version_custom_severity.json")
	ingesttest.CheckMalformed(t, govulncheck.Format, "testdata/many_vulns.json")
}

func FuzzGovulncheck(f *testing.F) {
	ingesttest.Fuzz(f, govulncheck.Format, "testdata/many_vulns_new_version.json", "testdata/many_vulns_new_version_custom_severity.json", "testdata/no_vulns_new_version.json")
}
