package cli

import (
	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/inputs"
)

func newFormatsCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "formats",
		Short: "List the input formats ctem reads",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			type row struct {
				Name    string `json:"name"`
				Title   string `json:"title"`
				Version string `json:"parser_version"`
			}
			var rows []row
			for _, f := range inputs.All() {
				rows = append(rows, row{f.Name, f.Title, f.Version})
			}
			_, err := writeListing(e.listOut(), output, seqOf(rows), []column[row]{
				{"FORMAT", 0, func(r row) string { return r.Name }},
				{"PARSER", 0, func(r row) string { return r.Version }},
				{"DESCRIPTION", 0, func(r row) string { return r.Title }},
			})
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	return cmd
}
