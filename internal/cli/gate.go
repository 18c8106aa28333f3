package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/gate"
)

// newGateCmd builds `ctem gate`: the CI gate on a change's reports and
// estate files against a base database.
func newGateCmd(e *env) *cobra.Command {
	var cfg gate.Config
	var sarifPath, mdPath, output string
	var targetOf []string
	cmd := &cobra.Command{
		Use:   "gate --base BASE_DB FILE...",
		Short: "Fail a change that opens a new attack path to a crown jewel or adds a KEV exposure on an internet-facing asset",
		Long: `Gate compares a change with its base. It copies the base database (never writing
it), ingests the change's reports and estate files into the copy, analyses both and
reports only what the change introduced: new attack paths to crown jewels, and new
exposures to known exploited vulnerabilities (CISA KEV) on internet-facing assets.
It exits 1 when there is any, 0 when there is none (a change that only fixes things
passes), 2 on bad input.

The Markdown summary (a pull-request comment: each new path as a Mermaid flowchart,
and the fix) goes to stdout or --markdown; --sarif writes SARIF 2.1.0 for code
scanning. See docs/ci.md for GitHub Actions and GitLab CI.`,
		Example: `  ctem gate --base main.db --target-of k8s/shop.yaml=prod k8s/shop.yaml reports/*.json --sarif gate.sarif
  ctem gate --base main.db --markdown comment.md terraform/`,
		Args: wrapArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "markdown", outJSON); err != nil {
				return err
			}
			ctx := cmd.Context()
			targets := map[string]string{}
			for _, t := range targetOf {
				file, target, ok := strings.Cut(t, "=")
				if !ok || file == "" || target == "" {
					return usage(fmt.Errorf("--target-of %q: want FILE=TARGET", t))
				}
				targets[file] = target
			}
			for _, a := range args {
				cfg.Inputs = append(cfg.Inputs, app.Input{Name: a, Target: targets[a]})
			}
			cfg.Open = func(ctx context.Context, path string) (app.Store, error) {
				st, err := e.openDB(ctx, path)
				if err != nil {
					return nil, err
				}
				return st, nil
			}
			var appErr error
			cfg.NewApp = func(st app.Store) *app.App {
				a, err := e.appOver(ctx, st)
				if err != nil {
					appErr = err
					return &app.App{Store: st}
				}
				return a
			}
			r, err := gate.Run(ctx, cfg)
			if appErr != nil {
				return appErr
			}
			if err != nil {
				return err
			}
			if sarifPath != "" {
				if err := writeGateFile(sarifPath, func(w io.Writer) error { return gate.WriteSARIF(w, r, Version) }); err != nil {
					return err
				}
			}
			write := func(w io.Writer) error { return gate.WriteMarkdown(w, r) }
			if output == outJSON {
				write = func(w io.Writer) error {
					enc := json.NewEncoder(w)
					enc.SetIndent("", "  ")
					return enc.Encode(struct {
						Failed  bool     `json:"failed"`
						Reasons []string `json:"reasons"`
						*gate.Report
					}{r.Failed(), r.Reasons(), r})
				}
			}
			if mdPath != "" {
				err = writeGateFile(mdPath, write)
			} else {
				err = write(e.stdout)
			}
			if err != nil {
				return err
			}
			if r.Failed() {
				return fmt.Errorf("%s: %w", strings.Join(r.Reasons(), "; "), ErrGateFailed)
			}
			e.logf("gate passed: %d open paths on the base, %d with the change, %d closed", r.BasePaths, r.ChangePaths, r.ClosedPaths)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Base, "base", "", "the base's database file (required; copied, never written)")
	f.StringVar(&cfg.Target, "target", "", "name of the scanned target, for reports that do not name it")
	f.StringArrayVar(&targetOf, "target-of", nil, "FILE=TARGET: the target of one input (as 'ctem ingest --target' gave it on the base)")
	f.StringVar(&sarifPath, "sarif", "", "write SARIF 2.1.0 of what the change introduced to this file")
	f.StringVar(&mdPath, "markdown", "", "write the summary to this file instead of stdout")
	f.StringVarP(&output, "output", "o", "markdown", "summary format: markdown or json")
	f.IntVarP(&cfg.Options.K, "paths-per-jewel", "k", 0, "most likely paths kept per crown jewel (default 5)")
	_ = cmd.MarkFlagRequired("base")
	return cmd
}

// writeGateFile writes a file through fn, removing it when fn fails.
func writeGateFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return usage(fmt.Errorf("write %s: %w", path, err))
	}
	if err := fn(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
