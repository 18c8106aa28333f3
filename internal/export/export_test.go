package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/estate"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/export"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// fixedTime is the document time of every export in the tests.
var fixedTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// report is one real report the test database is built from, with the
// target to give it (empty when the report names its own).
type report struct {
	path, target string
}

// reports are ingested after the demo estate, in order: statuses of every
// kind (Trivy's will_not_fix and not_affected, SARIF suppressions,
// CycloneDX VEX not_affected and false_positive), secrets, an OpenVEX
// statement, and a Grype scan followed by an empty scan of the same
// target, which fixes what the first reported.
var reports = []report{
	{"testdata/reports/all_statuses.json", ""},
	{"testdata/reports/suppression_test.sarif", "https://github.com/example/suppressions"},
	{"testdata/reports/gitleaks_7.5.0.sarif", "https://github.com/example/secrets"},
	{"testdata/reports/vex-issue2549.json", ""},
	{"testdata/reports/openvex_one_vuln.json", ""},
	{"testdata/reports/same_cve_different_paths.json", "registry.example.com/shop/app:1.0"},
	{"testdata/reports/no_vuln.json", "registry.example.com/shop/app:1.0"},
}

// estateData is the test database and what it holds: the exposures with
// their evidence and the attack paths with their exposures.
type estateData struct {
	st        store.Store
	exposures []export.Exposure
	paths     []export.Path
}

var (
	testDir   string // removed after the tests
	buildOnce sync.Once
	built     *estateData
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ctem-export-test")
	if err != nil {
		panic(err)
	}
	testDir = dir
	code := m.Run()
	if built != nil {
		built.st.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// realEstate builds, once per test binary, a database from the demo
// estate (Kubernetes, Terraform, inventory, Trivy and gosec reports) and
// the reports above, analyses it under the demo's scope and reads back
// every exposure and path.
func realEstate(t testing.TB) *estateData {
	t.Helper()
	buildOnce.Do(func() { built, buildErr = buildEstate(filepath.Join(testDir, "estate")) })
	if buildErr != nil {
		t.Fatalf("build the test database: %v", buildErr)
	}
	return built
}

func buildEstate(dir string) (*estateData, error) {
	ctx := context.Background()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ctem.db"))
	if err != nil {
		return nil, err
	}
	for _, name := range examples.Inputs {
		data, err := examples.Files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, filepath.Base(name))
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return nil, err
		}
		if err := ingestPath(st, p, examples.Targets[name]); err != nil {
			return nil, err
		}
	}
	for _, r := range reports {
		if err := ingestPath(st, r.path, r.target); err != nil {
			return nil, err
		}
	}
	f, err := examples.Files.Open(examples.Scope)
	if err != nil {
		return nil, err
	}
	sc, err := scope.Parse("ctem.yaml", f)
	f.Close()
	if err != nil {
		return nil, err
	}
	var assets []model.Asset
	for a, err := range st.Assets(ctx, store.Filter{}) {
		if err != nil {
			return nil, err
		}
		assets = append(assets, a)
	}
	var rels []model.Relation
	for r, err := range st.Relations(ctx, store.Filter{}) {
		if err != nil {
			return nil, err
		}
		rels = append(rels, r)
	}
	run, err := analyze.Analyze(ctx, st, estate.Build(assets, rels, sc), score.Intel{}, graph.Options{})
	if err != nil {
		return nil, err
	}
	d := &estateData{st: st}
	d.exposures, err = readExposures(st)
	if err != nil {
		return nil, err
	}
	for _, p := range run.Result.Paths {
		xs := map[string]model.Exposure{}
		for _, s := range p.Steps {
			for _, id := range s.ExposureIDs {
				if x, ok := run.Exposures[id]; ok {
					xs[id] = *x
				}
			}
		}
		d.paths = append(d.paths, export.Path{Path: p, Exposures: xs})
	}
	return d, nil
}

// readExposures reads every exposure of st with its evidence.
func readExposures(st store.Store) ([]export.Exposure, error) {
	ctx := context.Background()
	facts, err := store.LoadEvidence(ctx, st)
	if err != nil {
		return nil, err
	}
	var out []export.Exposure
	for x, err := range st.Exposures(ctx, store.Filter{}) {
		if err != nil {
			return nil, err
		}
		out = append(out, export.Exposure{Exposure: x, Evidence: facts.Match(x)})
	}
	return out, nil
}

// ingestPath ingests one file as `ctem ingest` does: the format its
// content shows, in one transaction.
func ingestPath(st store.Store, path, target string) error {
	src, err := ingest.Open(path, nil)
	if err != nil {
		return err
	}
	f, err := inputs.All().Detect(src.Sniff())
	src.Close()
	if err != nil {
		return err
	}
	_, err = ingesttest.Ingest(st, f, ingest.Options{Target: target}, path)
	return err
}

// seqOf yields the elements of a slice.
func seqOf[T any](xs []T) func(func(T, error) bool) {
	return func(yield func(T, error) bool) {
		for _, x := range xs {
			if !yield(x, nil) {
				return
			}
		}
	}
}

// write exports exposures and paths in format.
func write(t testing.TB, format string, xs []export.Exposure, ps []export.Path) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := export.New(format, &buf)
	if err != nil {
		t.Fatal(err)
	}
	info := export.Info{Tool: "ctem", Version: "test", Time: fixedTime, Author: "ctem tests"}
	if err := export.Run(context.Background(), w, info, seqOf(xs), seqOf(ps)); err != nil {
		t.Fatalf("Run(%s) error = %v", format, err)
	}
	return buf.Bytes()
}

func TestRealEstateCoversEveryStatusAndPaths(t *testing.T) {
	t.Parallel()
	d := realEstate(t)
	got := map[model.Status]int{}
	kinds := map[model.FindingKind]int{}
	for _, x := range d.exposures {
		got[x.Status]++
		kinds[x.Kind]++
	}
	for _, st := range model.Statuses {
		if got[st] == 0 {
			t.Errorf("test database: no %s exposure (statuses %v); the exports would not be tested on it", st, got)
		}
	}
	for _, k := range []model.FindingKind{model.FindingVulnerability, model.FindingCode, model.FindingSecret} {
		if kinds[k] == 0 {
			t.Errorf("test database: no %s exposure (kinds %v)", k, kinds)
		}
	}
	if len(d.paths) == 0 {
		t.Errorf("test database: no attack path")
	}
	t.Logf("test database: %d exposures %v %v, %d paths", len(d.exposures), got, kinds, len(d.paths))
}

func TestSARIFResults(t *testing.T) {
	t.Parallel()
	d := realEstate(t)
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID              string            `json:"ruleId"`
				RuleIndex           int               `json:"ruleIndex"`
				PartialFingerprints map[string]string `json:"partialFingerprints"`
				CodeFlows           []struct {
					ThreadFlows []struct {
						Locations []json.RawMessage `json:"locations"`
					} `json:"threadFlows"`
				} `json:"codeFlows"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
				Suppressions []json.RawMessage `json:"suppressions"`
			} `json:"results"`
			Tool struct {
				Driver struct {
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
		} `json:"runs"`
	}
	out := write(t, "sarif", d.exposures, d.paths)
	if err := json.Unmarshal(out, &log); err != nil {
		t.Fatalf("SARIF export is no JSON: %v", err)
	}
	if len(log.Runs) != 1 {
		t.Fatalf("SARIF export has %d runs, want 1", len(log.Runs))
	}
	run := log.Runs[0]
	if got, want := len(run.Results), len(d.exposures)+len(d.paths); got != want {
		t.Errorf("SARIF export has %d results, want %d exposures + %d paths", got, len(d.exposures), len(d.paths))
	}
	seen := map[string]bool{}
	paths, suppressed := 0, 0
	for i, r := range run.Results {
		if r.RuleIndex < 0 || r.RuleIndex >= len(run.Tool.Driver.Rules) || run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %d: ruleIndex %d does not name rule %q", i, r.RuleIndex, r.RuleID)
		}
		if len(r.Locations) == 0 {
			t.Errorf("result %d (%s) has no location; GitHub code scanning needs one", i, r.RuleID)
		}
		for _, l := range r.Locations {
			// GitHub code scanning wants a relative URI and a start line
			// (sarif-sdk's checks GH1003 and GH1005).
			if pl := l.PhysicalLocation; pl.ArtifactLocation.URI == "" || strings.Contains(pl.ArtifactLocation.URI, "://") || pl.Region.StartLine < 1 {
				t.Errorf("result %d (%s): location %+v, want a relative URI and a start line", i, r.RuleID, pl)
			}
		}
		if len(r.Suppressions) > 0 {
			suppressed++
		}
		if r.RuleID == export.PathRule {
			paths++
			id := r.PartialFingerprints[export.PathFingerprint]
			if id == "" || len(r.CodeFlows) != 1 || len(r.CodeFlows[0].ThreadFlows) != 1 {
				t.Errorf("path result %d: fingerprint %q, %d code flows, want an id and one flow", i, id, len(r.CodeFlows))
				continue
			}
			seen["path:"+id] = true
			continue
		}
		seen[r.PartialFingerprints[export.ExposureFingerprint]] = true
	}
	for _, x := range d.exposures {
		if !seen[x.ID] {
			t.Errorf("exposure %s has no result with its fingerprint", x.ID)
		}
	}
	for _, p := range d.paths {
		if !seen["path:"+p.ID] {
			t.Errorf("path %s has no result", p.ID)
		}
	}
	// Each path's flow has the entry and one location per step.
	for _, r := range run.Results {
		if r.RuleID != export.PathRule {
			continue
		}
		id := r.PartialFingerprints[export.PathFingerprint]
		i := slices.IndexFunc(d.paths, func(p export.Path) bool { return p.ID == id })
		if i < 0 {
			continue
		}
		if got, want := len(r.CodeFlows[0].ThreadFlows[0].Locations), len(d.paths[i].Steps)+1; got != want {
			t.Errorf("path %s: flow of %d locations, want %d (entry and steps)", id, got, want)
		}
	}
	if paths != len(d.paths) {
		t.Errorf("SARIF export has %d path results, want %d", paths, len(d.paths))
	}
	want := 0
	for _, x := range d.exposures {
		if x.Status == model.StatusAccepted || x.Status == model.StatusNotAffected || x.Status == model.StatusFalsePositive {
			want++
		}
	}
	if suppressed != want {
		t.Errorf("SARIF export has %d suppressed results, want %d (accepted, not_affected, false_positive)", suppressed, want)
	}
}

func TestOCSFEvents(t *testing.T) {
	t.Parallel()
	d := realEstate(t)
	out := write(t, "ocsf", d.exposures, d.paths)
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if got, want := len(lines), len(d.exposures)+len(d.paths); got != want {
		t.Fatalf("OCSF export has %d lines, want %d", got, want)
	}
	classes := map[int]int{}
	for i, l := range lines {
		var ev struct {
			ClassUID    int `json:"class_uid"`
			FindingInfo struct {
				UID string `json:"uid"`
			} `json:"finding_info"`
		}
		if err := json.Unmarshal(l, &ev); err != nil {
			t.Fatalf("OCSF line %d: %v", i+1, err)
		}
		classes[ev.ClassUID]++
		switch {
		case i < len(d.exposures):
			x := d.exposures[i]
			want := export.OCSFVulnerabilityFinding
			if len(x.CWEs) == 0 && !slices.ContainsFunc(x.VulnIDs, func(id string) bool { return strings.HasPrefix(id, "CVE-") }) {
				want = export.OCSFDetectionFinding
			}
			if ev.ClassUID != want || ev.FindingInfo.UID != x.ID {
				t.Errorf("OCSF line %d: class %d, uid %s, want %d, %s", i+1, ev.ClassUID, ev.FindingInfo.UID, want, x.ID)
			}
		default:
			p := d.paths[i-len(d.exposures)]
			if ev.ClassUID != export.OCSFDetectionFinding || ev.FindingInfo.UID != p.ID {
				t.Errorf("OCSF line %d: class %d, uid %s, want %d, %s", i+1, ev.ClassUID, ev.FindingInfo.UID, export.OCSFDetectionFinding, p.ID)
			}
		}
	}
	if classes[export.OCSFVulnerabilityFinding] == 0 || classes[export.OCSFDetectionFinding] == 0 {
		t.Errorf("OCSF classes written %v, want both 2002 and 2004", classes)
	}
}

func TestNewUnknownFormat(t *testing.T) {
	t.Parallel()
	if _, err := export.New("xlsx", &bytes.Buffer{}); err == nil {
		t.Errorf("New(xlsx) error = nil, want an unknown format")
	}
	for _, f := range export.Formats {
		if _, err := export.New(f, &bytes.Buffer{}); err != nil {
			t.Errorf("New(%s) error = %v", f, err)
		}
	}
}

type exportExposure = export.Exposure

// runSubject exports xs as the exposures of one asset, as --asset does.
func runSubject(w *bytes.Buffer, format, subject string, xs []export.Exposure) error {
	ew, err := export.New(format, w)
	if err != nil {
		return err
	}
	info := export.Info{Tool: "ctem", Version: "test", Time: fixedTime, Author: "ctem tests", Subject: subject}
	return export.Run(context.Background(), ew, info, seqOf(xs), nil)
}
