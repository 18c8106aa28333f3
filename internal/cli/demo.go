package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/model"
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
			if output == outTable {
				printEstateSummary(e, es)
				fmt.Fprintln(e.stdout, "\nOpen exposures, most severe first:")
			}
			_, err = writeListing(e.stdout, output, st.Exposures(ctx, store.Filter{Statuses: []model.Status{model.StatusOpen}}), exposureColumns)
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
