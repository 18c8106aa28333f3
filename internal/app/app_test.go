package app

import (
	"context"
	"errors"
	"iter"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/intel/ssvc"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/storetest"
)

// The demo estate's remote code execution: Spring4Shell on the API image.
const (
	rceImage = "ghcr.io/aquasecurity/trivy-test-images:spring4shell-jre11"
	rceCVE   = "CVE-2022-22965"
	apiScan  = "reports/shop-api-image.trivy.json"
)

// openDB opens a fresh SQLite database file.
func openDB(t testing.TB, path string) Store {
	t.Helper()
	return storetest.OpenName(t, path)
}

// newApp returns an App over st with the demo's scope stored.
func newApp(t testing.TB, st Store) *App {
	t.Helper()
	a := &App{Store: st, Formats: inputs.All()}
	data, err := examples.Files.ReadFile(examples.Scope)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.SetScope(context.Background(), ScopeFile{Name: "ctem.yaml", Data: data}); err != nil {
		t.Fatal(err)
	}
	return a
}

// demoInputs returns the demo's inputs but those in skip.
func demoInputs(t testing.TB, skip ...string) []Input {
	t.Helper()
	var out []Input
	for _, name := range examples.Inputs {
		if slices.Contains(skip, name) {
			continue
		}
		f, err := examples.Files.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		out = append(out, Input{Name: name, R: f, Target: examples.Targets[name]})
	}
	return out
}

func pathIDs(ps []graph.Path) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.ID)
	}
	slices.Sort(out)
	return out
}

func openPathIDs(t testing.TB, st Store) []string {
	t.Helper()
	out := []string{}
	for p, err := range st.OpenPaths(context.Background(), store.PathFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.ID)
	}
	slices.Sort(out)
	return out
}

// TestLifecycle drives the application layer as a second front end
// would, without the command line: ingest, analyse, read every result
// back from the store, triage (a VEX statement), read again.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := openDB(t, storetest.Name(t))
	a := newApp(t, st)

	ing, err := a.Ingest(ctx, IngestRequest{Inputs: demoInputs(t)})
	if err != nil {
		t.Fatal(err)
	}
	if ing.Reanalysis != nil {
		t.Errorf("Ingest() into a database never analysed re-analysed: %+v", ing.Reanalysis.Analysis)
	}
	if !slices.Contains(ing.Assets, "image:"+rceImage) {
		t.Errorf("Ingest().Assets = %v, want it to hold image:%s", ing.Assets, rceImage)
	}

	r, err := a.Analyze(ctx, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seq, err := st.IngestSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Analysis; got.ID != 1 || got.IngestSeq != seq || got.Scope.Source != "stored" || got.Scope.Version != 1 || got.Partial {
		t.Errorf("Analyze().Analysis = %+v, want id 1, ingest sequence %d, stored scope version 1, full", got, seq)
	}
	if len(r.Run.Result.Paths) == 0 || r.Opened() != len(r.Run.Result.Paths) || r.Closed() != 0 {
		t.Fatalf("Analyze() = %d paths, %d opened, %d closed; want some paths, all opened", len(r.Run.Result.Paths), r.Opened(), r.Closed())
	}

	// Every reading comes from the stored results and equals the run's.
	pl, err := a.Paths(ctx, PathQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !pl.View.Stored || pl.View.Analysis.ID != 1 || pl.View.Waiting {
		t.Errorf("Paths().View = %+v, want stored analysis 1, nothing waiting", pl.View)
	}
	approx := cmpopts.EquateApprox(0, 1e-9)
	if diff := cmp.Diff(pl.Paths, r.Run.Result.Paths, approx, cmpopts.IgnoreUnexported(graph.Path{}, graph.Step{}), cmpopts.IgnoreFields(graph.Path{}, "Impact")); diff != "" {
		t.Errorf("Paths() (-stored +run):\n%s", diff)
	}
	fp, err := a.FixPlan(ctx, 0, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fp.Plan, r.Run.Result.Plan, approx); diff != "" {
		t.Errorf("FixPlan() (-stored +run):\n%s", diff)
	}
	if diff := cmp.Diff(fp.ChokePoints, r.Run.Result.ChokePoints); diff != "" {
		t.Errorf("FixPlan().ChokePoints (-stored +run):\n%s", diff)
	}
	_, top, err := a.Top(ctx, 1, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := r.Run.Result.Priorities[0]
	if len(top) != 1 || top[0].ID != want.ExposureID || top[0].Priority != want.RiskRemoved {
		t.Fatalf("Top(1) = %+v, want %+v", top, want)
	}
	rce := top[0].Exposure
	if !slices.Contains(rce.VulnIDs, rceCVE) {
		t.Fatalf("Top(1) = %v, want the %s exposure", rce.VulnIDs, rceCVE)
	}
	ex, err := a.Explain(ctx, rce.ID[:8], ssvc.Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Priority != want.RiskRemoved || len(ex.Paths) != want.Paths {
		t.Errorf("Explain(%s) = priority %v, %d paths; want %v, %d", rce.ID, ex.Priority, len(ex.Paths), want.RiskRemoved, want.Paths)
	}
	// The context stored with the analysis is the estate's.
	storedCtx, err := a.assetContext(ctx, rce.Asset, true)
	if err != nil {
		t.Fatal(err)
	}
	estateCtx, err := a.assetContext(ctx, rce.Asset, false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(storedCtx, estateCtx); diff != "" || !storedCtx.InternetExposed {
		t.Errorf("stored context of %s (-stored +estate):\n%s", rce.Asset, diff)
	}
	if _, ok, err := st.AssetContextOf(ctx, rce.Asset); err != nil || !ok {
		t.Errorf("AssetContextOf(%s) = %v, %v; want stored", rce.Asset, ok, err)
	}
	if _, err := a.Explain(ctx, "ffffffffffff", ssvc.Inputs{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Explain(ffffffffffff) = %v, want ErrNotFound", err)
	}

	// Triage: a VEX statement that the image is not affected closes the
	// exposure, and the re-analysis after that ingest closes every path
	// through it.
	vex := `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "Example Security",
 "timestamp": "2024-01-01T00:00:00Z", "version": 1, "statements": [{"vulnerability": {"name": "` + rceCVE + `"},
 "products": [{"@id": "` + rceImage + `"}], "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]}`
	tri, err := a.Ingest(ctx, IngestRequest{Inputs: []Input{{Name: "triage.vex.json", R: stringsReader(vex)}}})
	if err != nil {
		t.Fatal(err)
	}
	if tri.Reanalysis == nil || tri.Reanalysis.Closed() != want.Paths {
		t.Fatalf("Ingest(VEX).Reanalysis = %+v, want %d paths closed", tri.Reanalysis, want.Paths)
	}
	pl, err = a.Paths(ctx, PathQuery{Through: rce.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Paths) != 0 || pl.View.Analysis.ID != 2 || !pl.View.Analysis.Partial || pl.View.Waiting {
		t.Errorf("Paths(through %s) after triage = %d paths, view %+v; want none, from re-analysis 2, nothing waiting", rce.ID, len(pl.Paths), pl.View)
	}
	_, top, err = a.Top(ctx, 0, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range top {
		if x.ID == rce.ID {
			t.Errorf("Top(0) after triage lists %s (status %s), want it gone", x.ID, x.Status)
		}
	}

	// An ingest without re-analysis leaves newer data waiting.
	if _, err := a.Ingest(ctx, IngestRequest{Inputs: demoInputs(t)[3:4], NoAnalyze: true}); err != nil {
		t.Fatal(err)
	}
	fp, err = a.FixPlan(ctx, 0, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !fp.View.Waiting || fp.View.IngestSeq <= fp.View.Analysis.IngestSeq {
		t.Errorf("FixPlan().View after an ingest without analysis = %+v, want newer data waiting", fp.View)
	}
	// A re-analysis of some components after a later ingest does not
	// cover what that ingest left unanalysed; a full analysis does.
	if _, err := a.Ingest(ctx, IngestRequest{Inputs: demoInputs(t)[5:6]}); err != nil {
		t.Fatal(err)
	}
	if pl, err = a.Paths(ctx, PathQuery{}); err != nil || !pl.View.Waiting || !pl.View.Analysis.Partial {
		t.Errorf("Paths().View after a re-analysis that followed an unanalysed ingest = %+v, %v; want a partial analysis, newer data waiting", pl.View, err)
	}
	if _, err := a.Analyze(ctx, graph.Options{}); err != nil {
		t.Fatal(err)
	}
	if pl, err = a.Paths(ctx, PathQuery{}); err != nil || pl.View.Waiting {
		t.Errorf("Paths().View after a full analysis = %+v, %v; want nothing waiting", pl.View, err)
	}
}

// countingStore counts the exposures read through a real store.
type countingStore struct {
	Store
	exposures atomic.Int64
}

func (c *countingStore) Exposures(ctx context.Context, f store.Filter) iter.Seq2[model.Exposure, error] {
	c.exposures.Add(1)
	return c.Store.Exposures(ctx, f)
}

// TestNoCrownJewel: with the default scope there is no crown jewel, so
// the analysis records an empty result without reading any exposure.
func TestNoCrownJewel(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := &countingStore{Store: openDB(t, storetest.Name(t))}
	a := &App{Store: st, Formats: inputs.All()}
	if _, err := a.Ingest(ctx, IngestRequest{Inputs: demoInputs(t)}); err != nil {
		t.Fatal(err)
	}
	r, err := a.Analyze(ctx, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := st.exposures.Load(); n != 0 || len(r.Run.Result.Paths) != 0 || r.Analysis.Scope.Source != "default" {
		t.Errorf("Analyze() with no crown jewel = %d paths, %d exposure reads, scope %+v; want 0, 0, default", len(r.Run.Result.Paths), n, r.Analysis.Scope)
	}
}

// TestCancel: a cancelled context stops the analysis with its error.
func TestCancel(t *testing.T) {
	t.Parallel()
	st := openDB(t, storetest.Name(t))
	a := newApp(t, st)
	if _, err := a.Ingest(t.Context(), IngestRequest{Inputs: demoInputs(t)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := a.Analyze(ctx, graph.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Analyze(cancelled) = %v, want context.Canceled", err)
	}
	if _, ok, err := st.LatestAnalysis(t.Context()); err != nil || ok {
		t.Errorf("LatestAnalysis() after a cancelled analysis = %v, %v; want none", ok, err)
	}
}
