package app

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/storetest"
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
	path := storetest.Name(t)
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

// TestStaleFeedsDropped: a process whose feeds are older than those the
// stored analysis read cannot record an analysis; its ingest is kept and
// the re-analysis after it dropped, with a warning; 'analyze' fails with
// ErrConflict.
func TestStaleFeedsDropped(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := storetest.Name(t)
	feedsOf := func(day int) func() (Intel, error) {
		return func() (Intel, error) {
			return Intel{Feeds: []store.FeedVersion{{Feed: "kev", DataDate: time.Date(2026, 1, day, 0, 0, 0, 0, time.UTC)}}}, nil
		}
	}
	fresh := newApp(t, openDB(t, path))
	fresh.Intel = feedsOf(2)
	if _, err := fresh.Ingest(ctx, IngestRequest{Inputs: demoInputs(t, apiScan)}); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Analyze(ctx, graph.Options{}); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	stale := &App{Store: openDB(t, path), Formats: fresh.Formats, Intel: feedsOf(1),
		Warnf: func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }}
	res, err := stale.Ingest(ctx, IngestRequest{Inputs: demoInputs(t)[4:5]})
	if err != nil || res.Reanalysis != nil || len(res.Scans) != 1 {
		t.Fatalf("Ingest() with stale feeds = %+v, %v; want the scan kept, no re-analysis", res, err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "re-analysis after the ingest dropped") {
		t.Errorf("warnings = %q, want one saying the re-analysis was dropped", warnings)
	}
	if _, err := stale.Analyze(ctx, graph.Options{}); !errors.Is(err, ErrConflict) {
		t.Errorf("Analyze() with stale feeds = %v, want ErrConflict", err)
	}
}
