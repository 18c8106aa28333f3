package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
)

func newBlastRadiusCmd(e *env) *cobra.Command {
	var af analysisFlags
	var output string
	cmd := &cobra.Command{
		Use:   "blast-radius ASSET",
		Short: "Assume an asset or identity compromised: which crown jewels it reaches, by which paths, at what risk",
		Long: `blast-radius assumes ASSET (its key or any other name of it) compromised and
finds the attack paths from it alone to the crown jewels, instead of from the
scope's entry points: an identity or account gives its credentials, a cluster
its control plane, a secret, data store, repository or image read and write,
anything else code execution on it. It runs in memory and stores nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, outTable, outJSON); err != nil {
				return err
			}
			opt, err := af.options()
			if err != nil {
				return err
			}
			a, err := e.newApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Store.Close()
			br, err := a.BlastRadius(cmd.Context(), args[0], opt)
			if err != nil {
				return err
			}
			if output == outJSON {
				return writeJSON(e.stdout, br)
			}
			writeBlastRadius(e.stdout, br)
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table or json")
	return cmd
}

func writeBlastRadius(w io.Writer, br *app.BlastRadius) {
	fmt.Fprintf(w, "Assuming %s (%s) compromised, from %s\n", cell(br.Asset, 0), br.Kind, cell(fmt.Sprint(br.Entries), 0))
	if len(br.Jewels) == 0 {
		fmt.Fprintln(w, "No crown jewel is reached from it.")
		return
	}
	fmt.Fprintf(w, "Risk to crown jewels: %.2f\n\n", br.Risk)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JEWEL\tVALUE\tRISK\tPATHS")
	for _, j := range br.Jewels {
		paths := fmt.Sprint(j.Paths)
		if j.Direct {
			paths = "itself"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%s\n", cell(j.Jewel, 0), j.Value, j.Risk, paths)
	}
	tw.Flush()
	if len(br.Paths) > 0 {
		fmt.Fprintln(w)
		writePathsTable(w, br.Paths, br.Names, nil)
	}
}
