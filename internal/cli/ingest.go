package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/estate/terraform"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

func newIngestCmd(e *env) *cobra.Command {
	var format, target, output string
	var noAnalyze bool
	cmd := &cobra.Command{
		Use:   "ingest FILE...",
		Short: "Ingest scanner reports (format detected from content; - for stdin)",
		Long: `Ingest reads scanner reports and stores their findings. The format is
detected from the content (use --format to force one); gzip input is read
transparently; - reads standard input. All files are ingested in one
transaction: if any is malformed, nothing is stored.

A newer scan of the same tool and target marks what it no longer reports
as fixed and reopens what comes back.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			reg := inputs.All()
			var forced *ingest.Format
			if format != "" {
				f, err := reg.Lookup(format)
				if err != nil {
					return usage(err)
				}
				forced = &f
			}
			st, err := e.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			started := time.Now().UTC()
			scans, err := ingestFiles(cmd.Context(), e, st, reg, forced, target, args)
			if err != nil {
				return err
			}
			if !noAnalyze {
				if err := e.reanalyzeAfterIngest(cmd.Context(), st, started); err != nil {
					return err
				}
			}
			if e.quiet && output == outTable {
				return nil
			}
			_, err = writeListing(e.stdout, output, seqOf(scans), scanColumns)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "input format (default: detected; see 'ctem formats')")
	cmd.Flags().StringVar(&target, "target", "", "name of the scanned target, for reports that do not name it")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "summary format: table, json or csv")
	cmd.Flags().BoolVar(&noAnalyze, "no-analyze", false, "do not re-run the attack-path analysis after the ingest")
	return cmd
}

// reanalyzeAfterIngest keeps the analysis current: once 'ctem analyze' has
// recorded paths in a database, every ingest re-runs it on the connected
// components that hold an asset the ingest touched (seen since started),
// and records the paths the new data opened and closed (see 'ctem
// events').
func (e *env) reanalyzeAfterIngest(ctx context.Context, st store.Store, started time.Time) error {
	if ok, err := hasAnalysis(ctx, st); err != nil || !ok {
		return err
	}
	var changed []string
	for a, err := range st.Assets(ctx, store.Filter{Since: started.Add(-time.Millisecond)}) {
		if err != nil {
			return err
		}
		changed = append(changed, a.Key)
	}
	return e.reanalyze(ctx, st, changed, "the ingest")
}

// reanalyze re-runs the analysis of a database that has one, on the
// connected components holding the changed assets, and records the paths
// that opened and closed.
func (e *env) reanalyze(ctx context.Context, st store.Store, changed []string, why string) error {
	if ok, err := hasAnalysis(ctx, st); err != nil || !ok {
		return err
	}
	sc, err := e.loadScope()
	if err != nil {
		return err
	}
	es, err := loadEstate(ctx, st, sc)
	if err != nil {
		return err
	}
	in, err := e.loadIntel()
	if err != nil {
		return err
	}
	run, kept, total, err := analyze.PrepareAffected(ctx, st, es, in, changed)
	if err != nil {
		return err
	}
	if err := run.Run(graph.Options{}); err != nil {
		return err
	}
	events, err := analyze.Record(ctx, st, run, time.Now().UTC())
	if err != nil {
		return err
	}
	opened, closed := 0, 0
	for _, ev := range events {
		if ev.Event == "opened" {
			opened++
		} else {
			closed++
		}
	}
	e.logf("re-analysed %d of %d components for %s: %d attack paths there (%d opened, %d closed); see 'ctem events'", kept, total, why, len(run.Result.Paths), opened, closed)
	return nil
}

// ingestFiles ingests every file in one transaction and returns the scans
// recorded. On any error nothing is stored.
func ingestFiles(ctx context.Context, e *env, st store.Store, reg ingest.Registry, forced *ingest.Format, target string, files []string) ([]model.Scan, error) {
	key, err := st.SecretKey(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := st.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	files, err = expandDirs(files)
	if err != nil {
		return nil, err
	}
	var all []model.Scan
	for _, name := range files {
		scans, err := ingestOne(ctx, e, tx, reg, forced, ingest.Options{Target: target, SecretKey: key, Warnf: e.warnf}, name)
		if err != nil {
			return nil, err
		}
		all = append(all, scans...)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return all, nil
}

func ingestOne(ctx context.Context, e *env, tx store.Tx, reg ingest.Registry, forced *ingest.Format, opts ingest.Options, name string) ([]model.Scan, error) {
	if st, err := os.Stat(name); err == nil && st.IsDir() && name != "-" {
		// A folder left by expandDirs is Terraform source: its .tf files.
		if err := terraform.ParseDir(ctx, name, opts, tx); err != nil {
			return nil, err
		}
		scans, err := tx.EndInput(ctx, name, "")
		if err != nil {
			return nil, err
		}
		for _, s := range scans {
			e.logf("%s: %s on %s", name, s.Tool, s.Target)
		}
		return scans, nil
	}
	src, err := ingest.Open(name, e.stdin)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, usage(fmt.Errorf("%s: no such file", name))
		}
		return nil, err
	}
	defer src.Close()
	var f ingest.Format
	if forced != nil {
		f = *forced
	} else {
		f, err = reg.Detect(src.Sniff())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.Name, err)
		}
	}
	stop := e.progress(src)
	in := &ingest.Input{Name: src.Name, R: src.Reader(), Options: opts}
	err = parseSafely(ctx, f, in, tx)
	stop()
	if err != nil {
		return nil, ingest.WithPosition(err, name)
	}
	scans, err := tx.EndInput(ctx, name, src.Digest())
	if err != nil {
		return nil, err
	}
	for _, s := range scans {
		e.logf("%s: %s report on %s: %d findings (%d new, %d fixed, %d reopened)", src.Name, s.Tool, s.Target, s.Findings, s.New, s.Fixed, s.Reopened)
	}
	return scans, nil
}

// parseSafely runs a parser and turns a panic, which would be a bug in
// ctem, into an internal error naming the input, so that one bad report
// cannot take a server down. Fuzzing is what keeps this from happening.
func parseSafely(ctx context.Context, f ingest.Format, in *ingest.Input, sink ingest.Sink) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: internal error in the %s parser: %v", in.Name, f.Name, r)
		}
	}()
	return f.Parse(ctx, in, sink)
}

// progress shows a progress bar on stderr for inputs over 8 MiB when
// stderr is a terminal. It returns a function that ends it.
func (e *env) progress(src *ingest.Source) func() {
	fd, ok := e.stderr.(interface{ Fd() uintptr })
	if e.quiet || !ok || !term.IsTerminal(int(fd.Fd())) || src.Size < 8<<20 {
		return func() {}
	}
	bar := progressbar.NewOptions64(src.Size, progressbar.OptionSetWriter(e.stderr), progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription("ingesting "+src.Name), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				bar.Set64(src.BytesRead())
				bar.Finish()
				return
			case <-t.C:
				bar.Set64(src.BytesRead())
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// expandDirs replaces each folder argument that holds no Terraform (.tf)
// file by the regular files below it, in name order, skipping hidden files
// and folders: `ctem ingest scan-results/` ingests every report there. A
// folder with .tf files stays, to be read as one Terraform configuration.
func expandDirs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if a == "-" || err != nil || !st.IsDir() {
			out = append(out, a)
			continue
		}
		if tf, _ := filepath.Glob(filepath.Join(a, "*.tf")); len(tf) > 0 {
			out = append(out, a)
			continue
		}
		var files []string
		err = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && p != a {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, usage(fmt.Errorf("%s: %w", a, err))
		}
		if len(files) == 0 {
			return nil, usage(fmt.Errorf("%s: no files to ingest", a))
		}
		out = append(out, files...)
	}
	return out, nil
}

// hasAnalysis reports whether 'ctem analyze' has ever recorded paths in
// the database: only then do ingests and feed updates re-analyse.
func hasAnalysis(ctx context.Context, st store.Store) (bool, error) {
	_, ok, err := st.LastAnalysis(ctx)
	return ok, err
}
