package app

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/graph"
)

// TestOlderAnalysisRejected forces two analyses to interleave on one
// SQLite file, through two connections as two processes would: the older
// one reads the database before the API image's report arrives, the newer
// one reads it after and records first, finding the paths through the
// image's remote code execution. Recording the older one must fail with
// ErrConflict and leave every path of the newer one open; by default
// (runAndRecord) it is run again on the newer data instead.
func TestOlderAnalysisRejected(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ctem.db")
	older := newApp(t, openDB(t, path))
	newer := &App{Store: openDB(t, path), Formats: older.Formats}
	if _, err := older.Ingest(ctx, IngestRequest{Inputs: demoInputs(t, apiScan)}); err != nil {
		t.Fatal(err)
	}
	if _, err := older.Analyze(ctx, graph.Options{}); err != nil {
		t.Fatal(err)
	}

	// The older analysis reads and runs...
	opt, _ := normOptions(graph.Options{})
	p, err := older.prepare(ctx, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.run.RunContext(ctx, opt); err != nil {
		t.Fatal(err)
	}
	// ...while the report arrives and the newer analysis records.
	if _, err := newer.Ingest(ctx, IngestRequest{Inputs: demoInputs(t)[4:5]}); err != nil {
		t.Fatal(err)
	}
	nr, err := newer.Analyze(ctx, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := pathIDs(nr.Run.Result.Paths)
	if len(pathIDs(p.run.Result.Paths)) >= len(want) {
		t.Fatalf("older analysis found %d paths, newer %d: the report should add paths", len(p.run.Result.Paths), len(want))
	}

	if _, err := older.record(ctx, p, opt, 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("record(older analysis) = %v, want ErrConflict", err)
	}
	if diff := cmp.Diff(openPathIDs(t, older.Store), want); diff != "" {
		t.Errorf("open paths after the older analysis was rejected (-got +want):\n%s", diff)
	}
	last, _, err := older.Store.LatestAnalysis(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last.ID != nr.Analysis.ID {
		t.Errorf("LatestAnalysis() = %d, want the newer one, %d", last.ID, nr.Analysis.ID)
	}

	// The same race through Analyze: the conflict makes it run again on
	// the newer data, which closes nothing the newer analysis found.
	raced := false
	older.beforeRecord = func() {
		if raced {
			return
		}
		raced = true
		// Another process rescans the image and analyses.
		if _, err := newer.Ingest(ctx, IngestRequest{Inputs: demoInputs(t)[4:5], NoAnalyze: true}); err != nil {
			t.Error(err)
		}
		if _, err := newer.Analyze(ctx, graph.Options{}); err != nil {
			t.Error(err)
		}
	}
	r, err := older.Analyze(ctx, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seq, err := older.Store.IngestSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Analysis.IngestSeq != seq || r.Closed() != 0 {
		t.Errorf("Analyze() racing a newer one = ingest sequence %d, %d closed; want %d (run again on the newer data), 0 closed", r.Analysis.IngestSeq, r.Closed(), seq)
	}
	if diff := cmp.Diff(openPathIDs(t, older.Store), want); diff != "" {
		t.Errorf("open paths after the retried analysis (-got +want):\n%s", diff)
	}
}
