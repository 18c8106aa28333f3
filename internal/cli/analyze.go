package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/analyze"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// analysisFlags are the options of every command that runs the analysis.
type analysisFlags struct {
	k, maxSteps int
}

func (a *analysisFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVarP(&a.k, "paths-per-jewel", "k", 5, "most likely paths to find per crown jewel")
	cmd.Flags().IntVar(&a.maxSteps, "max-steps", 10, "longest path, in steps")
}

// runAnalysis opens the store, correlates the estate and analyses it.
func (e *env) runAnalysis(ctx context.Context, af analysisFlags) (store.Store, *analyze.Run, error) {
	if af.k < 1 || af.maxSteps < 1 {
		return nil, nil, usage(fmt.Errorf("-k and --max-steps must be at least 1"))
	}
	sc, err := e.loadScope()
	if err != nil {
		return nil, nil, err
	}
	st, err := e.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	es, err := loadEstate(ctx, st, sc)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	in, err := e.loadIntel()
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	run, err := analyze.Analyze(ctx, st, es, in, graph.Options{K: af.k, MaxSteps: af.maxSteps})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, run, nil
}

func newAnalyzeCmd(e *env) *cobra.Command {
	var af analysisFlags
	cmd := &cobra.Command{
		Use:   "analyze",
		Short: "Find attack paths to the crown jewels, store them, and record which opened and closed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, run, err := e.runAnalysis(ctx, af)
			if err != nil {
				return err
			}
			defer st.Close()
			events, err := analyze.Record(ctx, st, run, time.Now().UTC())
			if err != nil {
				return err
			}
			validated := 0
			for _, p := range run.Result.Paths {
				if p.Validated {
					validated++
				}
			}
			fmt.Fprintf(e.stdout, "%d attack paths to %d crown jewels (%d validated), total risk %.2f; %d choke points; %d fix actions.\n",
				len(run.Result.Paths), len(run.Input.Jewels), validated, run.Result.Risk, len(run.Result.ChokePoints), len(run.Result.Plan.Items))
			for _, ev := range events {
				fmt.Fprintf(e.stdout, "  %-6s %s  risk %.2f  %s\n", ev.Event, ev.PathID, ev.Risk, cell(ev.Summary, 160))
			}
			return nil
		},
	}
	af.register(cmd)
	return cmd
}

func newPathsCmd(e *env) *cobra.Command {
	var af analysisFlags
	var output, to, from string
	cmd := &cobra.Command{
		Use:   "paths",
		Short: "Attack paths from entry points to crown jewels, most risky first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, "dot", "mermaid"); err != nil {
				return err
			}
			st, run, err := e.runAnalysis(cmd.Context(), af)
			if err != nil {
				return err
			}
			defer st.Close()
			paths := filterPaths(run, to, from)
			switch output {
			case outJSON:
				return graph.WriteJSON(e.stdout, paths)
			case "dot":
				return graph.WriteDOT(e.stdout, paths)
			case "mermaid":
				return graph.WriteMermaid(e.stdout, paths)
			}
			writePathsTable(e.stdout, paths, run)
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().StringVar(&to, "to", "", "only paths to this crown jewel (asset key, or a prefix ending in *)")
	cmd.Flags().StringVar(&from, "from", "", "only paths from this entry state or asset (e.g. internet, network:KEY)")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json, dot or mermaid")
	return cmd
}

func filterPaths(run *analyze.Run, to, from string) []graph.Path {
	to = run.Estate.Canonical(to)
	out := []graph.Path{}
	for _, p := range run.Result.Paths {
		if to != "" && !matchKey(p.Jewel, to) {
			continue
		}
		if from != "" && !strings.Contains(p.Entry, from) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func matchKey(key, pattern string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(key, p)
	}
	return key == pattern
}

func writePathsTable(w io.Writer, paths []graph.Path, run *analyze.Run) {
	if len(paths) == 0 {
		fmt.Fprintln(w, "No attack path reaches a crown jewel.")
		return
	}
	for i, p := range paths {
		mark := ""
		if p.Validated {
			mark = "  [validated]"
		}
		fmt.Fprintf(w, "%d. %s  risk %.2f  likelihood %.3f  to %s%s\n", i+1, p.ID, p.Risk, p.Likelihood, cell(p.Jewel, 0), mark)
		fmt.Fprintf(w, "     %s\n", cell(p.Entry, 0))
		for _, s := range p.Steps {
			why := ""
			if len(s.ExposureIDs) > 0 {
				x := run.Exposures[s.ExposureIDs[0]]
				id := x.RuleID
				if len(x.VulnIDs) > 0 {
					id = x.VulnIDs[0]
				}
				why = "via " + id
				if len(s.ExposureIDs) > 1 {
					why += fmt.Sprintf(" (+%d more)", len(s.ExposureIDs)-1)
				}
			}
			if why != "" {
				why = ", " + cell(why, 60)
			}
			fmt.Fprintf(w, "  -> %s  [%s, p=%.2f%s]\n", cell(s.To, 0), s.Rule, s.Probability, why)
		}
	}
}

func newFixPlanCmd(e *env) *cobra.Command {
	var af analysisFlags
	var output string
	var budget float64
	cmd := &cobra.Command{
		Use:   "fixplan",
		Short: "Remediation actions ordered by risk removed per effort, with the remaining-risk curve",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, "markdown"); err != nil {
				return err
			}
			if budget < 0 {
				return usage(fmt.Errorf("--budget must not be negative"))
			}
			st, run, err := e.runAnalysis(cmd.Context(), af)
			if err != nil {
				return err
			}
			defer st.Close()
			plan := run.Result.Plan
			if budget > 0 {
				var items []graph.PlanItem
				for _, it := range plan.Items {
					if it.CumulativeEffort > budget {
						break
					}
					items = append(items, it)
				}
				plan.Items = items
			}
			if plan.Items == nil {
				plan.Items = []graph.PlanItem{}
			}
			switch output {
			case outJSON:
				return writeJSON(e.stdout, struct {
					graph.Plan
					ChokePoints []graph.ChokePoint `json:"choke_points"`
				}{plan, run.Result.ChokePoints})
			case "markdown":
				writePlanMarkdown(e.stdout, plan)
				return nil
			}
			writePlanTable(e.stdout, plan)
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().Float64Var(&budget, "budget", 0, "keep the actions that fit in this much effort (0: all)")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or markdown")
	return cmd
}

func writePlanTable(w io.Writer, plan graph.Plan) {
	fmt.Fprintf(w, "Risk on all paths: %.2f\n", plan.Risk)
	if len(plan.Items) == 0 {
		fmt.Fprintln(w, "Nothing to do: no attack path reaches a crown jewel.")
		return
	}
	for i, it := range plan.Items {
		fmt.Fprintf(w, "%2d. %s\n", i+1, cell(it.Title, 0))
		fmt.Fprintf(w, "    owner %s; removes %.2f risk, %.2f remains  (effort %.0f, cumulative %.0f; fixes %d exposures)\n",
			cell(orDash(it.Owner), 0), it.RiskRemoved, it.Remaining, it.Effort, it.CumulativeEffort, len(it.Exposures))
	}
}

// mdEscape keeps report text from turning into Markdown markup.
func mdEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;")
	return r.Replace(cell(s, 0))
}

func writePlanMarkdown(w io.Writer, plan graph.Plan) {
	fmt.Fprintf(w, "# Fix plan\n\nRisk on all attack paths: **%.2f**\n\n", plan.Risk)
	fmt.Fprintln(w, "| # | Action | Owner | Risk removed | Remaining | Effort | Exposures |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for i, it := range plan.Items {
		fmt.Fprintf(w, "| %d | %s | %s | %.2f | %.2f | %.0f | %d |\n", i+1, mdEscape(it.Title), mdEscape(orDash(it.Owner)), it.RiskRemoved, it.Remaining, it.Effort, len(it.Exposures))
	}
}

func newTopCmd(e *env) *cobra.Command {
	var af analysisFlags
	var n int
	var output string
	cmd := &cobra.Command{
		Use:   "top",
		Short: "The exposures whose fix removes the most attack-path risk",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			st, run, err := e.runAnalysis(cmd.Context(), af)
			if err != nil {
				return err
			}
			defer st.Close()
			rows := prioritized(run)
			if n > 0 && len(rows) > n {
				rows = rows[:n]
			}
			_, err = writeListing(e.stdout, output, seqOf(rows), priorityColumns)
			return err
		},
	}
	af.register(cmd)
	cmd.Flags().IntVarP(&n, "number", "n", 10, "how many to show (0: all)")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	return cmd
}

// ranked is an exposure with its priority.
type ranked struct {
	model.Exposure
	Priority float64 `json:"priority"`
	Paths    int     `json:"paths"`
}

// prioritized lists the exposures on some path by priority, then the rest
// by severity.
func prioritized(run *analyze.Run) []ranked {
	var out []ranked
	seen := map[string]bool{}
	for _, p := range run.Result.Priorities {
		if x, ok := run.Exposures[p.ExposureID]; ok {
			out = append(out, ranked{x, p.RiskRemoved, p.Paths})
			seen[p.ExposureID] = true
		}
	}
	var rest []ranked
	for id, x := range run.Exposures {
		if !seen[id] {
			rest = append(rest, ranked{Exposure: x})
		}
	}
	slices.SortFunc(rest, func(a, b ranked) int {
		if d := b.Severity.Rank() - a.Severity.Rank(); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	return append(out, rest...)
}

var priorityColumns = []column[ranked]{
	{"ID", 0, func(r ranked) string { return r.ID }},
	{"PRIORITY", 0, func(r ranked) string { return fmt.Sprintf("%.2f", r.Priority) }},
	{"PATHS", 0, func(r ranked) string { return itoa(r.Paths) }},
	{"SEVERITY", 0, func(r ranked) string { return string(r.Severity) }},
	{"WEAKNESS", 24, func(r ranked) string {
		if len(r.VulnIDs) > 0 {
			return r.VulnIDs[0]
		}
		return r.RuleID
	}},
	{"ASSET", 56, func(r ranked) string { return r.Asset }},
	{"PACKAGE", 24, func(r ranked) string { return r.Package.Name }},
	{"TITLE", 50, func(r ranked) string { return r.Title }},
}

func newEventsCmd(e *env) *cobra.Command {
	var output string
	var limit int
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Attack paths opened and closed by each analysis, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			st, err := e.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			_, err = writeListing(e.stdout, output, st.PathEvents(cmd.Context(), store.Filter{Limit: limit}), []column[store.PathEvent]{
				{"TIME", 0, func(v store.PathEvent) string { return when(v.At) }},
				{"EVENT", 0, func(v store.PathEvent) string { return v.Event }},
				{"PATH", 0, func(v store.PathEvent) string { return v.PathID }},
				{"RISK", 0, func(v store.PathEvent) string { return fmt.Sprintf("%.2f", v.Risk) }},
				{"PATH STEPS", 140, func(v store.PathEvent) string { return v.Summary }},
			})
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most this many (0: all)")
	return cmd
}
