package cli

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/store"
)

func newIngestCmd(e *env) *cobra.Command {
	var format, target, output, server, tokenFile string
	var noAnalyze, noWait bool
	cmd := &cobra.Command{
		Use:   "ingest FILE...",
		Short: "Ingest scanner reports (format detected from content; - for stdin)",
		Long: `Ingest reads scanner reports and stores their findings. The format is
detected from the content (use --format to force one); gzip input is read
transparently; - reads standard input. All files are ingested in one
transaction: if any is malformed, nothing is stored.

A newer scan of the same tool and target marks what it no longer reports
as fixed and reopens what comes back.

With --server, each file is uploaded (gzipped as it is read) to a 'ctem serve'
instead, as its own job, with the token in $CTEM_TOKEN or --token-file (role
uploader or admin); ingest waits for the jobs and prints the same summary, or
with --no-wait prints each job's id.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			reg := inputs.All()
			if server != "" {
				if format != "" || noAnalyze {
					return usage(fmt.Errorf("--format and --no-analyze are not for --server: the server detects formats and re-analyses"))
				}
				rm, err := e.newRemote(server, tokenFile)
				if err != nil {
					return err
				}
				ins, err := e.ingestInputs(reg, args, false)
				if err != nil {
					return err
				}
				scans, err := e.ingestRemote(cmd.Context(), rm, ins, target, noWait)
				if err != nil || noWait || (e.quiet && output == outTable) {
					return err
				}
				_, err = writeListing(e.listOut(), output, seqOf(scans), scanColumns)
				return err
			}
			if tokenFile != "" || noWait {
				return usage(fmt.Errorf("--token-file and --no-wait need --server"))
			}
			var forced *ingest.Format
			if format != "" {
				f, err := reg.Lookup(format)
				if err != nil {
					return usage(err)
				}
				forced = &f
			}
			a, err := e.newApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Store.Close()
			req := app.IngestRequest{Format: forced, Target: target, NoAnalyze: noAnalyze, Progress: e.progress}
			if req.Inputs, err = e.ingestInputs(reg, args, forced != nil); err != nil {
				return err
			}
			// The entry names the first inputs (a folder may hold
			// thousands) and counts them all.
			var names []string
			for _, in := range req.Inputs[:min(len(req.Inputs), 20)] {
				names = append(names, in.Name)
			}
			ctx := cliAudit(cmd.Context(), store.AuditIngest, "ingest.commit", func(any) (string, string) {
				return "local", fmt.Sprintf("%d inputs %q, target %q", len(req.Inputs), names, target)
			})
			res, err := a.Ingest(ctx, req)
			if err != nil {
				return err
			}
			scans := res.Scans
			if e.quiet && output == outTable {
				return nil
			}
			_, err = writeListing(e.listOut(), output, seqOf(scans), scanColumns)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "input format (default: detected; see 'ctem formats')")
	cmd.Flags().StringVar(&target, "target", "", "name of the scanned target, for reports that do not name it")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "summary format: table, json or csv")
	cmd.Flags().BoolVar(&noAnalyze, "no-analyze", false, "do not re-run the attack-path analysis after the ingest")
	cmd.Flags().StringVar(&server, "server", "", "upload to this ctem server (https://HOST[:PORT]) instead of writing the local database")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "file holding the API token for --server (default $CTEM_TOKEN)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "with --server, print each upload's job id instead of waiting for it")
	return cmd
}

// ingestInputs turns the command line's names into the inputs to ingest:
// "-" is standard input; a folder is the files below it that are inputs
// ctem reads (inputs.Folder), the others listed in one warning; a file
// named explicitly must be an input, or the error says what it is. With
// --format (forced) every file is read as that format, unrecognised.
func (e *env) ingestInputs(reg ingest.Registry, args []string, forced bool) ([]app.Input, error) {
	var ins []app.Input
	var skipped []inputs.Verdict
	for _, name := range args {
		if name == "-" {
			ins = append(ins, app.Input{Name: name, R: e.stdin})
			continue
		}
		st, err := os.Stat(name)
		if err != nil || forced {
			// A missing file is reported by the ingest, with the others.
			ins = append(ins, app.Input{Name: name})
			continue
		}
		if !st.IsDir() {
			v, err := inputs.Recognize(reg, name)
			if err != nil {
				return nil, err
			}
			if err := v.Err(); err != nil {
				return nil, err
			}
			ins = append(ins, app.Input{Name: name})
			continue
		}
		found, skip, err := inputs.Folder(reg, name)
		if err != nil {
			return nil, err
		}
		skipped = append(skipped, skip...)
		if len(found) == 0 && len(skip) == 0 {
			return nil, usage(fmt.Errorf("%s: no files to ingest", name))
		}
		if len(found) == 0 {
			return nil, usage(fmt.Errorf("%s: no files to ingest: %s", name, inputs.SkipWarning(skip)))
		}
		for _, v := range found {
			ins = append(ins, app.Input{Name: v.Path})
		}
	}
	if w := inputs.SkipWarning(skipped); w != "" {
		e.warnf("%s", w)
	}
	return ins, nil
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
