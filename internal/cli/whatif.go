package cli

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
)

func newWhatIfCmd(e *env) *cobra.Command {
	var af analysisFlags
	var output string
	var fixes, removes, adds []string
	cmd := &cobra.Command{
		Use:   "whatif --fix ACTION_KEY... | --remove-relation FROM,TYPE,TO... | --add-relation FROM,TYPE,TO...",
		Short: "Risk and attack paths before and after remediation actions or removed relations, without changing stored data",
		Long: `whatif runs the analysis twice in memory, on the data as stored and with the
changes applied, and shows the risk and the paths before and after. --fix takes
an action key of 'ctem fixplan -o json' (or a choke point's); --remove-relation
and --add-relation take FROM,TYPE,TO, where TYPE may carry an action:
can(s3:GetObject); FROM may be "internet" to expose an asset. All repeat.
Nothing is stored.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON); err != nil {
				return err
			}
			if len(fixes) == 0 && len(removes) == 0 && len(adds) == 0 {
				return usage(fmt.Errorf("name an action to take (--fix) or a relation to remove (--remove-relation) or add (--add-relation)"))
			}
			opt, err := af.options()
			if err != nil {
				return err
			}
			q := app.WhatIfQuery{Fixes: fixes, Options: opt}
			for _, s := range removes {
				r, err := app.ParseRelation(s)
				if err != nil {
					return usage(err)
				}
				q.Remove = append(q.Remove, r)
			}
			for _, s := range adds {
				r, err := app.ParseRelation(s)
				if err != nil {
					return usage(err)
				}
				q.Add = append(q.Add, r)
			}
			a, err := e.newApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Store.Close()
			w, err := a.WhatIf(cmd.Context(), q)
			if err != nil {
				return err
			}
			if output == outJSON {
				return writeJSON(e.stdout, w)
			}
			writeWhatIf(e.stdout, w)
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().StringArrayVar(&fixes, "fix", nil, "take this remediation action (an action key); repeats")
	cmd.Flags().StringArrayVar(&removes, "remove-relation", nil, "remove the relation FROM,TYPE,TO; repeats")
	cmd.Flags().StringArrayVar(&adds, "add-relation", nil, "add the relation FROM,TYPE,TO (after the removals); repeats")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table or json")
	return cmd
}

func writeWhatIf(w io.Writer, wi *app.WhatIf) {
	for _, c := range wi.Changed {
		fmt.Fprintf(w, "changed: %s\n", cell(c, 0))
	}
	fmt.Fprintf(w, "Risk: %.2f -> %.2f (removes %.2f)\n", wi.Before.Risk, wi.After.Risk, wi.RiskRemoved)
	fmt.Fprintf(w, "Paths: %d -> %d (%d closed, %d opened)\n\n", wi.Before.Paths, wi.After.Paths, len(wi.Closed), len(wi.Opened))
	var jewels []string
	for j := range wi.Before.Jewels {
		jewels = append(jewels, j)
	}
	for j := range wi.After.Jewels {
		if _, ok := wi.Before.Jewels[j]; !ok {
			jewels = append(jewels, j)
		}
	}
	slices.Sort(jewels)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JEWEL\tRISK BEFORE\tRISK AFTER")
	for _, j := range jewels {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\n", cell(j, 0), wi.Before.Jewels[j], wi.After.Jewels[j])
	}
	tw.Flush()
	if len(wi.Closed) > 0 {
		fmt.Fprintln(w, "\nClosed paths:")
		writePathsTable(w, wi.Closed, wi.Names, nil)
	}
	if len(wi.Opened) > 0 {
		fmt.Fprintln(w, "\nOpened paths:")
		writePathsTable(w, wi.Opened, wi.Names, nil)
	}
}
