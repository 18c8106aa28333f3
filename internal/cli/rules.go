package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/graph"
)

func newRulesCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List the attack-path rules: what enables each step, what it gives, its probability, ATT&CK technique and catalogue entries",
		Long: `Rules lists the transition rules of the attack-path model, in table order:
the rule's name, when it applies and what it gives, how its probability is
found, the MITRE ATT&CK technique it is an instance of, and the entries of
the public catalogues it implements (KubeHound's attacks, Rhino Security
Labs' IAM privilege-escalation methods, PMapper's edge checks). The tables
of techniques with their minimal estates and results are in
docs/kubernetes-techniques.md and docs/aws-techniques.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			type row struct {
				Name        string   `json:"name"`
				When        string   `json:"when"`
				Then        string   `json:"then"`
				Probability string   `json:"probability"`
				Technique   string   `json:"attack_technique"`
				Catalogue   []string `json:"catalogue"`
			}
			rows := make([]row, 0, len(graph.Rules))
			for _, r := range graph.Rules {
				cat := r.Catalogue
				if cat == nil {
					cat = []string{}
				}
				rows = append(rows, row{r.Name, r.When, r.Then, r.ProbabilityModel(), r.Technique, cat})
			}
			_, err := writeListing(e.listOut(), output, seqOf(rows), []column[row]{
				{"RULE", 0, func(r row) string { return r.Name }},
				{"ATT&CK", 0, func(r row) string { return r.Technique }},
				{"PROBABILITY", 0, func(r row) string { return r.Probability }},
				{"CATALOGUE", 0, func(r row) string { return strings.Join(r.Catalogue, "; ") }},
				{"WHEN", 0, func(r row) string { return r.When }},
				{"THEN", 0, func(r row) string { return r.Then }},
			})
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	return cmd
}
