package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

func newDemoCmd(e *env) *cobra.Command {
	var keep bool
	var output string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run ctem on the bundled example estate, in a fresh temporary database",
		Long: `Demo ingests the example scanner reports bundled in the binary (examples/)
into a fresh temporary database and prints the exposures found, most severe
first. Nothing outside the temporary directory is touched.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			ctx := cmd.Context()
			dir, err := os.MkdirTemp("", "ctem-demo-*")
			if err != nil {
				return err
			}
			if keep {
				e.logf("demo database kept at %s", filepath.Join(dir, "ctem.db"))
			} else {
				defer os.RemoveAll(dir)
			}
			st, err := sqlite.Open(ctx, filepath.Join(dir, "ctem.db"))
			if err != nil {
				return err
			}
			defer st.Close()
			if err := ingestExamples(cmd, e, st); err != nil {
				return err
			}
			sc, err := demoScope()
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
			run, err := analyze.Analyze(ctx, st, es, in, graph.Options{})
			if err != nil {
				return err
			}
			if _, err := analyze.Record(ctx, st, run, time.Now().UTC()); err != nil {
				return err
			}
			if output != outTable {
				_, err = writeListing(e.stdout, output, seqOf(prioritized(run)), priorityColumns)
				return err
			}
			printEstateSummary(e, es)
			fmt.Fprintf(e.stdout, "\n%d open exposures; %d attack paths reach %d crown jewels.\n", len(run.Exposures), len(run.Result.Paths), len(run.Input.Jewels))
			fmt.Fprintln(e.stdout, "\nThe riskiest attack paths:")
			top := run.Result.Paths
			if len(top) > 3 {
				top = top[:3]
			}
			writePathsTable(e.stdout, top, run)
			fmt.Fprintln(e.stdout, "\nFix plan (most risk removed per effort first):")
			writePlanTable(e.stdout, run.Result.Plan)
			fmt.Fprintln(e.stdout, "\nExposures by the risk their fix removes:")
			rows := prioritized(run)
			if len(rows) > 8 {
				rows = rows[:8]
			}
			_, err = writeListing(e.stdout, outTable, seqOf(rows), priorityColumns)
			if err == nil {
				fmt.Fprintln(e.stdout, "\nNext: ctem explain ID, ctem paths -o mermaid, ctem fixplan -o markdown (with --db on a kept demo: ctem demo --keep).")
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the demo database and print its path")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	return cmd
}

// ingestExamples ingests every bundled input in one transaction.
func ingestExamples(cmd *cobra.Command, e *env, st store.Store) error {
	ctx := cmd.Context()
	key, err := st.SecretKey(ctx)
	if err != nil {
		return err
	}
	tx, err := st.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	reg := inputs.All()
	for _, name := range examples.Inputs {
		f, err := examples.Files.Open(name)
		if err != nil {
			return err
		}
		src, err := ingest.NewSource(name, f)
		if err != nil {
			f.Close()
			return err
		}
		format, err := reg.Detect(src.Sniff())
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", name, err)
		}
		in := &ingest.Input{Name: name, R: src.Reader(), Options: ingest.Options{Target: examples.Targets[name], SecretKey: key, Warnf: e.warnf}}
		err = format.Parse(ctx, in, tx)
		f.Close()
		if err != nil {
			return err
		}
		scans, err := tx.EndInput(ctx, name, src.Digest())
		if err != nil {
			return err
		}
		for _, s := range scans {
			e.logf("ingested %s (%s on %s): %d findings", name, s.Tool, s.Target, s.Findings)
		}
	}
	return tx.Commit()
}

// demoScope reads the bundled scope file.
func demoScope() (*scope.Scope, error) {
	f, err := examples.Files.Open(examples.Scope)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return scope.Parse("examples/"+examples.Scope, f)
}
