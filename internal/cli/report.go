package cli

import (
	"bufio"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/report"
)

func newReportCmd(e *env) *cobra.Command {
	var format, since, out, title string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "An audit and executive report: trends, top paths, fix-plan progress, teams, evidence mapped to controls",
		Long: `Report writes one document for management and auditors: an executive summary
(open exposures and attack paths, validated paths, KEV exposures past due, week
by week, and the fix plan's progress as risk on open paths), the top attack
paths, exposures and fix-plan actions, the state per team, the time to
remediate by severity and priority band, and an evidence appendix (what was
scanned when and by which tools, the threat intelligence used, what people
fixed, accepted or dismissed and why, each analysis's figures, and the audit
log's head digest), mapped to the controls it supports: PCI DSS 4.0 6.3.1,
6.3.3 and 11.3, ISO/IEC 27001:2022 A.8.8, SOC 2 CC7.1 and NIST CSF 2.0 ID.RA.

--format html (one self-contained page with no script), markdown, or pdf
(headless Chromium prints the HTML: Debian's chromium, or $CTEM_CHROMIUM).
Every string from a scanner or a person is escaped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "html" && format != "markdown" && format != "pdf" {
				return usage(fmt.Errorf("unknown --format %q (want html, markdown or pdf)", format))
			}
			d, err := parseSince(since)
			if err != nil {
				return usage(err)
			}
			if format == "pdf" {
				if _, err := report.Browser(); err != nil {
					return usage(err)
				}
			}
			ctx := cmd.Context()
			a, err := e.newApp(ctx)
			if err != nil {
				return err
			}
			defer a.Store.Close()
			opt, err := e.kpiOptions(ctx, a, d)
			if err != nil {
				return err
			}
			r, err := report.Gather(ctx, a, report.Options{Title: title, KPI: opt})
			if err != nil {
				return err
			}
			w := e.stdout
			var f *os.File
			if out != "" && out != "-" {
				if f, err = os.Create(out); err != nil {
					return usage(fmt.Errorf("write report: %w", err))
				}
				defer f.Close()
				w = f
			}
			bw := bufio.NewWriter(w)
			switch format {
			case "html":
				err = report.HTML(bw, r)
			case "markdown":
				err = report.Markdown(bw, r)
			default:
				err = report.PDF(ctx, bw, r)
			}
			if err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			if f != nil {
				return f.Close()
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "html", "html, markdown or pdf")
	cmd.Flags().StringVar(&since, "since", "90d", "the window: days (90d), weeks (12w) or a Go duration")
	cmd.Flags().StringVarP(&out, "out", "O", "", "write to this file instead of stdout")
	cmd.Flags().StringVar(&title, "title", "", "the report's title (default \"CTEM report\")")
	return cmd
}
