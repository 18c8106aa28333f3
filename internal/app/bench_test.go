package app

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/intel/effect"
	"github.com/ctem-dev/ctem/internal/intel/ssvc"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// benchApps sizes the benchmarks' database: graph.Synthesize's estate of
// that many applications, 18 assets and 180 findings each (556: 100k
// findings; 5556: 1M findings, 100k assets). -benchdb keeps the database
// in a file across runs.
var (
	benchApps = flag.Int("benchapps", 556, "applications in the benchmark database (180 findings each)")
	benchDB   = flag.String("benchdb", "", "benchmark database file, built when missing (default: a temporary file)")
)

// cweOf gives each synthetic effect a CWE that package effect classifies
// as that effect, so the stored findings analyse as the synthetic ones.
var cweOf = map[effect.Effect]string{effect.Exec: "CWE-94", effect.Read: "CWE-200", effect.InfoOnly: "CWE-203", effect.DoSOnly: "CWE-400"}

var bench struct {
	once sync.Once
	path string
	err  error
}

// benchScope makes every database a crown jewel and the internet the
// entry point.
const benchScope = `crown_jewels:
  - name: databases
    value: 8
    match:
      - key: "db:*"
entry_points:
  - internet
`

// benchStore opens the benchmark database, building it on first use:
// the synthetic estate's assets and relations, one Trivy-like scan per
// image with its findings, a reachable-call fact for a tenth of them,
// the scope stored, and one recorded analysis.
func benchStore(b *testing.B) (*App, Store) {
	b.Helper()
	bench.once.Do(func() {
		bench.path = *benchDB
		if bench.path == "" {
			dir, err := os.MkdirTemp("", "ctem-bench-*")
			if err != nil {
				bench.err = err
				return
			}
			bench.path = filepath.Join(dir, "ctem.db")
		}
		if _, err := os.Stat(bench.path); err == nil {
			return
		}
		bench.err = buildBenchDB(bench.path, *benchApps)
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	st, err := sqlite.Open(context.Background(), bench.path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return &App{Store: st, Formats: inputs.All()}, st
}

func buildBenchDB(path string, apps int) error {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	in := graph.Synthesize(graph.SynthConfig{Seed: 1, Apps: apps, WeaknessesPerImage: 60})
	tx, err := st.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := tx.BeginScan(model.Scan{Tool: "synth-estate", Format: "synth", Target: "estate"}); err != nil {
		return err
	}
	for _, a := range in.Assets {
		if a.Key == graph.InternetKey {
			continue
		}
		if err := tx.Asset(a); err != nil {
			return err
		}
	}
	for _, r := range in.Relations {
		r.Source = "synth"
		if err := tx.Relation(r); err != nil {
			return err
		}
	}
	if _, err := tx.EndInput(ctx, "estate", ""); err != nil {
		return err
	}
	img := ""
	for i, w := range in.Weaknesses {
		x := w.Exposure
		if x.Asset != img {
			if img != "" {
				if _, err := tx.EndInput(ctx, img, ""); err != nil {
					return err
				}
			}
			img = x.Asset
			if err := tx.BeginScan(model.Scan{Tool: "trivy", Format: "trivy", Target: img, Asset: img}); err != nil {
				return err
			}
		}
		f := &model.Finding{Tool: "trivy", Kind: model.FindingVulnerability, RuleID: x.VulnIDs[0], VulnIDs: x.VulnIDs,
			CWEs: []string{cweOf[w.Effect.Effect]}, Asset: img, Package: x.Package, Severity: model.SeverityHigh,
			Title: "synthetic " + strconv.Itoa(i), Status: model.StatusOpen}
		if err := tx.Finding(f); err != nil {
			return err
		}
		if len(w.Evidence) > 0 {
			if err := tx.Evidence(model.Evidence{Kind: model.EvidenceReachableCall, Asset: img, VulnID: x.VulnIDs[0], Source: "synth"}); err != nil {
				return err
			}
		}
	}
	if _, err := tx.EndInput(ctx, img, ""); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	a := &App{Store: st}
	if _, _, err := a.SetScope(ctx, ScopeFile{Name: "bench.yaml", Data: []byte(benchScope)}); err != nil {
		return err
	}
	_, err = a.Analyze(ctx, graph.Options{})
	return err
}

func BenchmarkAnalyzeEndToEnd(b *testing.B) {
	a, _ := benchStore(b)
	ctx := b.Context()
	var r *AnalysisResult
	for b.Loop() {
		var err error
		if r, err = a.Analyze(ctx, graph.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(r.Run.Result.Paths)), "paths")
	b.ReportMetric(float64(len(r.Run.Exposures)), "exposures")
}

func BenchmarkReanalyzeOneImage(b *testing.B) {
	a, _ := benchStore(b)
	ctx := b.Context()
	for b.Loop() {
		if _, err := a.Reanalyze(ctx, []string{"image:reg.example.com/app7/w0:1"}, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPaths(b *testing.B) {
	a, _ := benchStore(b)
	ctx := b.Context()
	var pl *PathList
	for b.Loop() {
		var err error
		if pl, err = a.Paths(ctx, PathQuery{}); err != nil || !pl.View.Stored {
			b.Fatal(err, pl.View)
		}
	}
	b.ReportMetric(float64(len(pl.Paths)), "paths")
}

// BenchmarkPathsPage is the riskiest 100 paths (paths --limit 100).
func BenchmarkPathsPage(b *testing.B) {
	a, _ := benchStore(b)
	ctx := b.Context()
	for b.Loop() {
		if pl, err := a.Paths(ctx, PathQuery{Limit: 100}); err != nil || len(pl.Paths) != 100 {
			b.Fatal(err)
		}
	}
}

func BenchmarkPathsTo(b *testing.B) {
	a, _ := benchStore(b)
	ctx := b.Context()
	for b.Loop() {
		if pl, err := a.Paths(ctx, PathQuery{To: "db:app7"}); err != nil || !pl.View.Stored {
			b.Fatal(err)
		}
	}
}

func BenchmarkFixPlan(b *testing.B) {
	a, _ := benchStore(b)
	ctx := b.Context()
	var fp *FixPlan
	for b.Loop() {
		var err error
		if fp, err = a.FixPlan(ctx, 0, graph.Options{}); err != nil || !fp.View.Stored {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(fp.Plan.Items)), "items")
}

func BenchmarkTop(b *testing.B) {
	a, _ := benchStore(b)
	ctx := b.Context()
	for b.Loop() {
		if v, rows, err := a.Top(ctx, 10, graph.Options{}); err != nil || !v.Stored || len(rows) != 10 {
			b.Fatal(err, len(rows))
		}
	}
}

// BenchmarkPrioritiesPage is a page of 100 of 'exposures --sort priority'
// with a filter.
func BenchmarkPrioritiesPage(b *testing.B) {
	a, _ := benchStore(b)
	ctx := b.Context()
	for b.Loop() {
		_, seq, err := a.Priorities(ctx, store.Filter{Severities: []model.Severity{model.SeverityHigh}, Limit: 100}, graph.Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, err := range seq {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 100 {
			b.Fatalf("page of %d", n)
		}
	}
}

func BenchmarkExplain(b *testing.B) {
	a, _ := benchStore(b)
	ctx := b.Context()
	_, top, err := a.Top(ctx, 1, graph.Options{})
	if err != nil || len(top) == 0 {
		b.Fatal(err)
	}
	for b.Loop() {
		if ex, err := a.Explain(ctx, top[0].ID, ssvc.Inputs{}); err != nil || len(ex.Paths) == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkPathEvidence reads the riskiest path's validation.
func BenchmarkPathEvidence(b *testing.B) {
	a, _ := benchStore(b)
	ctx := b.Context()
	pl, err := a.Paths(ctx, PathQuery{Limit: 1})
	if err != nil || len(pl.Paths) == 0 {
		b.Fatal(err, "want a path")
	}
	for b.Loop() {
		if _, err := a.PathEvidence(ctx, PathEvidenceQuery{ID: pl.Paths[0].ID}); err != nil {
			b.Fatal(err)
		}
	}
}
