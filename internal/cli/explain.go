package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/intel/score"
	"github.com/ctem-dev/ctem/internal/intel/ssvc"
	"github.com/ctem-dev/ctem/internal/model"
)

func newExplainCmd(e *env) *cobra.Command {
	var output string
	var override ssvc.Inputs
	cmd := &cobra.Command{
		Use:   "explain EXPOSURE-ID",
		Short: "Explain an exposure's risk score, part by part, with the source of each fact",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, outTable, outJSON); err != nil {
				return err
			}
			ctx := cmd.Context()
			ap, err := e.newApp(ctx)
			if err != nil {
				return err
			}
			defer ap.Store.Close()
			ex, err := ap.Explain(ctx, args[0], override)
			if err != nil {
				return err
			}
			e.noteView(ex.View)
			a, through, priority := ex.Assessment, ex.Paths, ex.Priority
			if output == outJSON {
				return writeJSON(e.stdout, struct {
					Exposure model.Exposure `json:"exposure"`
					score.Assessment
					Priority float64      `json:"priority"`
					WhyLow   string       `json:"why_low_priority,omitempty"`
					Paths    []graph.Path `json:"paths"`
				}{ex.Exposure, a, priority, ex.WhyLow, through})
			}
			x := ex.Exposure
			w := e.stdout
			id := x.RuleID
			if len(x.VulnIDs) > 0 {
				id = strings.Join(x.VulnIDs, ", ")
			}
			fmt.Fprintf(w, "%s  %s on %s\n", x.ID, cell(id, 0), cell(x.Asset, 0))
			fmt.Fprintf(w, "  %s\n", cell(x.Title, 0))
			if x.Package.Name != "" {
				fmt.Fprintf(w, "  package %s %s (fixed in %s)\n", cell(x.Package.Name, 0), cell(x.Package.Version, 0), cell(orDash(x.Package.FixedVersion), 0))
			}
			fmt.Fprintf(w, "  reported by %s; status %s\n\n", strings.Join(x.Tools, ", "), x.Status)
			fmt.Fprintf(w, "Risk score %.0f / 100 (likelihood %.2f × impact %.2f)\n", a.Score, a.Likelihood, a.Impact)
			for _, p := range a.Parts {
				fmt.Fprintf(w, "  %-15s %5.2f  %s  [%s]\n", p.Name, p.Factor, cell(p.Detail, 0), cell(p.Source, 0))
			}
			fmt.Fprintf(w, "\nSSVC: %s\n", a.SSVC.Decision)
			r := a.SSVC.Reasons
			fmt.Fprintf(w, "  exploitation      %-8s %s\n", a.SSVC.Inputs.Exploitation, r.Exploitation)
			fmt.Fprintf(w, "  automatable       %-8s %s\n", a.SSVC.Inputs.Automatable, r.Automatable)
			fmt.Fprintf(w, "  technical impact  %-8s %s\n", a.SSVC.Inputs.TechnicalImpact, r.TechnicalImpact)
			fmt.Fprintf(w, "  mission           %-8s %s\n", a.SSVC.Inputs.MissionWellbeing, r.MissionWellbeing)
			if a.CVSSWhy != "" {
				fmt.Fprintf(w, "\nCVSS: %s (%s)\n", cell(a.CVSS.Vector, 0), cell(a.CVSSWhy, 0))
			}
			fmt.Fprintf(w, "\nAttack paths through it: %d; fixing it removes %.2f of the paths' risk.\n", len(through), priority)
			if ex.WhyLow != "" {
				fmt.Fprintf(w, "  Why so little: %s.\n", cell(ex.WhyLow, 0))
			}
			for _, p := range through {
				fmt.Fprintf(w, "  %s  risk %.2f  %s\n", p.ID, p.Risk, cell(analyze.Summary(p), 0))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table or json")
	cmd.Flags().StringVar((*string)(&override.Exploitation), "exploitation", "", "override SSVC exploitation: none, poc or active")
	cmd.Flags().StringVar((*string)(&override.Automatable), "automatable", "", "override SSVC automatable: yes or no")
	cmd.Flags().StringVar((*string)(&override.TechnicalImpact), "technical-impact", "", "override SSVC technical impact: partial or total")
	cmd.Flags().StringVar((*string)(&override.MissionWellbeing), "mission", "", "override SSVC mission and well-being: low, medium or high")
	return cmd
}

func newSSVCCmd(e *env) *cobra.Command {
	var in ssvc.Inputs
	var output string
	cmd := &cobra.Command{
		Use:   "ssvc",
		Short: "CISA's SSVC decision tree: Track, Track*, Attend or Act",
		Long: `ssvc evaluates CISA's SSVC decision tree for the decision points given:
--exploitation none|poc|active, --automatable yes|no,
--technical-impact partial|total, --mission low|medium|high.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON); err != nil {
				return err
			}
			d, err := ssvc.Decide(in)
			if err != nil {
				return usage(err)
			}
			if output == outJSON {
				return writeJSON(e.stdout, struct {
					Decision ssvc.Decision `json:"decision"`
					ssvc.Inputs
				}{d, in})
			}
			fmt.Fprintln(e.stdout, d)
			return nil
		},
	}
	cmd.Flags().StringVar((*string)(&in.Exploitation), "exploitation", "", "none, poc or active")
	cmd.Flags().StringVar((*string)(&in.Automatable), "automatable", "", "yes or no")
	cmd.Flags().StringVar((*string)(&in.TechnicalImpact), "technical-impact", "", "partial or total")
	cmd.Flags().StringVar((*string)(&in.MissionWellbeing), "mission", "", "low, medium or high")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table or json")
	for _, f := range []string{"exploitation", "automatable", "technical-impact", "mission"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}
