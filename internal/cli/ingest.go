package cli

import (
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/inputs"
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
			a, err := e.newApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Store.Close()
			req := app.IngestRequest{Format: forced, Target: target, NoAnalyze: noAnalyze, Progress: e.progress}
			for _, name := range args {
				in := app.Input{Name: name}
				if name == "-" {
					in.R = e.stdin
				}
				req.Inputs = append(req.Inputs, in)
			}
			res, err := a.Ingest(cmd.Context(), req)
			if err != nil {
				return err
			}
			scans := res.Scans
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
