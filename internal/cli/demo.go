package cli

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/server"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
)

func newDemoCmd(e *env) *cobra.Command {
	var keep, serve bool
	var output, addr string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run ctem on the bundled example estate, in a fresh temporary database",
		Long: `Demo ingests the example estate bundled in the binary (examples/: a
Kubernetes shop, its Terraform, an inventory, Trivy and gosec reports, and a
scope file with crown jewels) into a fresh temporary database, runs the
attack-path analysis, and prints:

  - a summary of the estate (assets by kind, what the internet reaches),
  - the number of open exposures, attack paths and crown jewels reached,
  - the three riskiest attack paths, step by step,
  - the fix plan, most risk removed per effort first,
  - the eight exposures whose fix removes the most risk.

With -o json or csv it prints only the exposures by the risk their fix
removes. Nothing outside the temporary directory is touched; --keep keeps the
database to explore with the other commands. --serve then serves the demo in
the dashboard (as 'ctem serve' does) until Ctrl-C, with an admin user "demo"
whose random password it prints.`,
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
			scopeData, err := examples.Files.ReadFile(examples.Scope)
			if err != nil {
				return err
			}
			a := &app.App{Store: st, Formats: inputs.All(), Intel: e.loadIntel, Warnf: e.warnf,
				Scope: &app.ScopeFile{Name: "examples/" + examples.Scope, Data: scopeData}}
			if err := ingestExamples(cmd, e, a); err != nil {
				return err
			}
			r, err := a.Analyze(ctx, graph.Options{})
			if err != nil {
				return err
			}
			run := r.Run
			if output != outTable {
				_, rows, err := a.Top(ctx, 0, graph.Options{})
				if err != nil {
					return err
				}
				_, err = writeListing(e.listOut(), output, seqOf(rows), priorityColumns)
				return err
			}
			es := run.Estate
			printEstateSummary(e, es)
			fmt.Fprintf(e.stdout, "\n%d open exposures; %d attack paths reach %d crown jewels.\n", len(run.Exposures), len(run.Result.Paths), len(run.Input.Jewels))
			fmt.Fprintln(e.stdout, "\nThe riskiest attack paths:")
			top, alts := app.DistinctRoutes(run.Result.Paths)
			if len(top) > 3 {
				top = top[:3]
			}
			names := map[string]string{}
			for _, x := range run.Exposures {
				names[x.ID] = app.WeaknessName(*x)
			}
			writePathsTable(e.stdout, top, names, alts)
			fmt.Fprintln(e.stdout, "\nFix plan (most risk removed per effort first):")
			writePlanTable(e.stdout, run.Result.Plan)
			fmt.Fprintln(e.stdout, "\nExposures by the risk their fix removes:")
			_, rows, err := a.Top(ctx, 8, graph.Options{})
			if err != nil {
				return err
			}
			_, err = writeListing(e.listOut(), outTable, seqOf(rows), priorityColumns)
			if err == nil && !serve {
				fmt.Fprintln(e.stdout, "\nNext: ctem explain ID, ctem paths -o mermaid, ctem fixplan -o markdown (with --db on a kept demo: ctem demo --keep).")
			}
			if err != nil || !serve {
				return err
			}
			return serveDemo(cmd, e, a, st, filepath.Join(dir, "ctem.db"), scopeData, addr)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the demo database and print its path")
	cmd.Flags().BoolVar(&serve, "serve", false, "then serve the demo in the dashboard until Ctrl-C")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "with --serve: the address to listen on (loopback)")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	return cmd
}

// ingestExamples ingests every bundled input in one transaction.
func ingestExamples(cmd *cobra.Command, e *env, a *app.App) error {
	var req app.IngestRequest
	for _, name := range examples.Inputs {
		f, err := examples.Files.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		req.Inputs = append(req.Inputs, app.Input{Name: name, R: f, Target: examples.Targets[name]})
	}
	res, err := a.Ingest(cmd.Context(), req)
	if err != nil {
		return err
	}
	for _, s := range res.Scans {
		e.logf("ingested %s (%s on %s): %d findings", s.Input, s.Tool, s.Target, s.Findings)
	}
	return nil
}

// serveDemo stores the demo's scope (the dashboard's analyses read the
// stored one), analyses under it, adds an admin user "demo" with a random
// password, and runs 'ctem serve' on the demo database.
func serveDemo(cmd *cobra.Command, e *env, a *app.App, st *sqlstore.DB, path string, scopeData []byte, addr string) error {
	ctx := cmd.Context()
	if _, _, err := a.SetScope(ctx, app.ScopeFile{Name: "ctem.yaml", Data: scopeData}); err != nil {
		return err
	}
	a.Scope = nil
	if _, err := a.Analyze(ctx, graph.Options{}); err != nil {
		return err
	}
	var pw [12]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return err
	}
	password := base64.RawURLEncoding.EncodeToString(pw[:])
	if _, err := server.CreateUser(ctx, st, server.UserRequest{Name: "demo", Role: "admin", Password: password, CreatedBy: cliActor()}, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "\nThe dashboard serves the demo at http://%s/ until Ctrl-C: sign in as demo, password %s\n", addr, password)
	e.dbPath = path
	sc := newServeCmd(e)
	sc.SetContext(ctx)
	if err := sc.ParseFlags([]string{"--addr", addr}); err != nil {
		return err
	}
	return sc.RunE(sc, nil)
}
