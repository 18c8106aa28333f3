package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// analysisFlags are the options of every command that shows analysis
// results. Unset, the stored results are read; set to other values than
// the stored analysis's, the analysis runs for that command only.
type analysisFlags struct {
	k, maxSteps int
	cmd         *cobra.Command
}

func (a *analysisFlags) register(cmd *cobra.Command) {
	a.cmd = cmd
	cmd.Flags().IntVarP(&a.k, "paths-per-jewel", "k", app.DefaultK, "most likely paths to find per crown jewel")
	cmd.Flags().IntVar(&a.maxSteps, "max-steps", app.DefaultMaxSteps, "longest path, in steps")
}

// options returns the options asked for: zero when none was set on the
// command line (the stored analysis's, or the defaults).
func (a *analysisFlags) options() (graph.Options, error) {
	if a.k < 1 || a.maxSteps < 1 {
		return graph.Options{}, usage(fmt.Errorf("-k and --max-steps must be at least 1"))
	}
	var o graph.Options
	if a.cmd != nil && a.cmd.Flags().Changed("paths-per-jewel") {
		o.K = a.k
	}
	if a.cmd != nil && a.cmd.Flags().Changed("max-steps") {
		o.MaxSteps = a.maxSteps
	}
	return o, nil
}

// noteView says on stderr which analysis a listing shows, and whether
// newer data waits for one.
func (e *env) noteView(v app.View) {
	if !v.Stored {
		e.logf("no stored analysis with these options, scope and CODEOWNERS: computed now, not stored ('ctem analyze' stores one)")
		return
	}
	kind := "analysis"
	if v.Analysis.Partial {
		kind = "re-analysis"
	}
	e.logf("showing %s %d of %s (ingest sequence %d)", kind, v.Analysis.ID, when(v.Analysis.At), v.Analysis.IngestSeq)
	if v.Waiting {
		e.logf("newer data waits for an analysis (ingest sequence %d, or a newer scope): run 'ctem analyze'", v.IngestSeq)
	}
}

func newAnalyzeCmd(e *env) *cobra.Command {
	var af analysisFlags
	cmd := &cobra.Command{
		Use:   "analyze",
		Short: "Find attack paths to the crown jewels, store them, and record which opened and closed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if af.k < 1 || af.maxSteps < 1 {
				return usage(fmt.Errorf("-k and --max-steps must be at least 1"))
			}
			a, err := e.newApp(ctx)
			if err != nil {
				return err
			}
			defer a.Store.Close()
			r, err := a.Analyze(ctx, graph.Options{K: af.k, MaxSteps: af.maxSteps})
			if err != nil {
				return err
			}
			run := r.Run
			validated := 0
			for _, p := range run.Result.Paths {
				if p.Validated {
					validated++
				}
			}
			fmt.Fprintf(e.stdout, "%d attack paths to %d crown jewels (%d validated), total risk %.2f; %d choke points; %d fix actions.\n",
				len(run.Result.Paths), len(run.Input.Jewels), validated, run.Result.Risk, len(run.Result.ChokePoints), len(run.Result.Plan.Items))
			for _, ev := range r.Events {
				fmt.Fprintf(e.stdout, "  %-6s %s  risk %.2f  %s\n", ev.Event, ev.PathID, ev.Risk, cell(ev.Summary, 160))
			}
			e.logf("recorded as analysis %d (ingest sequence %d, scope %s)", r.Analysis.ID, r.Analysis.IngestSeq, scopeText(r.Analysis.Scope))
			return nil
		},
	}
	af.register(cmd)
	return cmd
}

func scopeText(s store.ScopeRef) string {
	switch s.Source {
	case "stored":
		return fmt.Sprintf("version %d", s.Version)
	case "file":
		return s.Name
	}
	return "default"
}

func newPathsCmd(e *env) *cobra.Command {
	var af analysisFlags
	var output, to, from string
	var limit int
	var all, onlyValidated bool
	cmd := &cobra.Command{
		Use:   "paths",
		Short: "Attack paths from entry points to crown jewels, most risky first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, "dot", "mermaid"); err != nil {
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
			pl, err := a.Paths(cmd.Context(), app.PathQuery{To: to, From: from, Limit: limit, Options: opt, Distinct: output != outJSON && !all})
			if err != nil {
				return err
			}
			if onlyValidated {
				pl.Paths = slices.DeleteFunc(pl.Paths, func(p graph.Path) bool { return !p.Validated })
			}
			e.noteView(pl.View)
			switch output {
			case outJSON:
				return graph.WriteJSON(e.stdout, pl.Paths)
			case "dot":
				return graph.WriteDOT(e.stdout, pl.Paths)
			case "mermaid":
				return graph.WriteMermaid(e.stdout, pl.Paths)
			}
			if err := a.MarkAccepted(cmd.Context(), pl); err != nil {
				return err
			}
			writePathsTable(e.stdout, pl.Paths, pl.Names, pl.Alternatives)
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().BoolVar(&all, "all", false, "show near-identical paths (the same entry, jewel and weaknesses through parallel relations) each on its own; -o json always does")
	cmd.Flags().StringVar(&to, "to", "", "only paths to this crown jewel (asset key, or a prefix ending in *)")
	cmd.Flags().StringVar(&from, "from", "", "only paths from this entry state or asset (e.g. internet, network:KEY)")
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most this many, riskiest first (0: all)")
	cmd.Flags().BoolVar(&onlyValidated, "validated", false, "only validated paths (every step evidenced)")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json, dot or mermaid")
	return cmd
}

// writePathsTable writes paths as text; names maps the exposure of each
// step to the name to show, alts a path's id to its near-identical
// paths (nil for none).
func writePathsTable(w io.Writer, paths []graph.Path, names map[string]string, alts map[string][]string) {
	if len(paths) == 0 {
		fmt.Fprintln(w, "No attack path reaches a crown jewel.")
		return
	}
	validated := 0
	defer func() {
		fmt.Fprintf(w, "\n%d paths, %d validated (every step evidenced: relations by their source, weaknesses by KEV, reachability, runtime, DAST or a probe).\n",
			len(paths), validated)
	}()
	for i, p := range paths {
		if p.Validated {
			validated++
		}
		mark := ""
		if p.Validated {
			mark = "  [validated]"
		}
		fmt.Fprintf(w, "%d. %s  risk %.2f  likelihood %.3f  to %s%s\n", i+1, p.ID, p.Risk, p.Likelihood, cell(p.Jewel, 0), mark)
		fmt.Fprintf(w, "     %s\n", cell(p.Entry, 0))
		if ids := alts[p.ID]; len(ids) > 0 {
			fmt.Fprintf(w, "     (also %s: the same route through parallel relations; --all shows each)\n", strings.Join(ids, ", "))
		}
		for _, s := range p.Steps {
			why := ""
			if id := app.StepWeakness(s); id != "" {
				if n, ok := names[id]; ok {
					id = n
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
			opt, err := af.options()
			if err != nil {
				return err
			}
			a, err := e.newApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Store.Close()
			fp, err := a.FixPlan(cmd.Context(), budget, opt)
			if err != nil {
				return err
			}
			e.noteView(fp.View)
			switch output {
			case outJSON:
				return writeJSON(e.stdout, struct {
					graph.Plan
					ChokePoints []graph.ChokePoint `json:"choke_points"`
				}{fp.Plan, fp.ChokePoints})
			case "markdown":
				writePlanMarkdown(e.stdout, fp.Plan)
				return nil
			}
			writePlanTable(e.stdout, fp.Plan)
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
			cell(ownerText(it.Owner), 0), it.RiskRemoved, it.Remaining, it.Effort, it.CumulativeEffort, len(it.Exposures))
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
		fmt.Fprintf(w, "| %d | %s | %s | %.2f | %.2f | %.0f | %d |\n", i+1, mdEscape(it.Title), mdEscape(ownerText(it.Owner)), it.RiskRemoved, it.Remaining, it.Effort, len(it.Exposures))
	}
}

func newTopCmd(e *env) *cobra.Command {
	var af analysisFlags
	var ff filterFlags
	var n int
	cmd := &cobra.Command{
		Use:   "top",
		Short: "The exposures whose fix removes the most attack-path risk",
		Long: `Top lists the open exposures whose fix removes the most attack-path risk,
then the other open ones by severity. The listing filters (--severity,
--tool, --asset, --status, --cve, --kind) narrow it; --status replaces the
default of open exposures.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := ff.filter()
			if err != nil {
				return err
			}
			if len(f.Statuses) == 0 {
				f.Statuses = []model.Status{model.StatusOpen}
			}
			f.Limit = n
			opt, err := af.options()
			if err != nil {
				return err
			}
			a, err := e.newApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Store.Close()
			v, rows, err := a.Priorities(cmd.Context(), f, opt)
			if err != nil {
				return err
			}
			e.noteView(v)
			var low []string
			noted := func(yield func(app.Ranked, error) bool) {
				for r, err := range rows {
					if err == nil && r.Paths > 0 && r.Priority < 0.01 {
						low = append(low, r.ID)
					}
					if !yield(r, err) {
						return
					}
				}
			}
			_, err = writeListing(e.listOut(), ff.output, noted, priorityColumns)
			if err == nil && len(low) > 0 {
				e.logf("%s: on attack paths but priority near 0: other routes remain after fixing each alone; 'ctem explain ID' names them", strings.Join(low, ", "))
			}
			return err
		},
	}
	af.register(cmd)
	ff.register(cmd, "stacSk")
	_ = cmd.Flags().MarkHidden("limit") // -n is top's limit
	cmd.Flags().IntVarP(&n, "number", "n", 10, "how many to show (0: all)")
	return cmd
}

var priorityColumns = []column[app.Ranked]{
	{"ID", 0, func(r app.Ranked) string { return r.ID }},
	{"PRIORITY", 0, func(r app.Ranked) string { return fmt.Sprintf("%.2f", r.Priority) }},
	{"PATHS", 0, func(r app.Ranked) string { return itoa(r.Paths) }},
	{"SEVERITY", 0, func(r app.Ranked) string { return string(r.Severity) }},
	{"WEAKNESS", 24, func(r app.Ranked) string {
		if len(r.VulnIDs) > 0 {
			return r.VulnIDs[0]
		}
		return r.RuleID
	}},
	{"ASSET", 56, func(r app.Ranked) string { return r.Asset }},
	{"PACKAGE", 24, func(r app.Ranked) string { return r.Package.Name }},
	{"TITLE", 50, func(r app.Ranked) string { return r.Title }},
}

func newEventsCmd(e *env) *cobra.Command {
	var output, since string
	var limit int
	var kinds []string
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Attack paths opened and closed by each analysis, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			f := store.Filter{}
			if since != "" {
				t, err := time.Parse(time.RFC3339, since)
				if err != nil {
					if t, err = time.Parse(time.DateOnly, since); err != nil {
						return usage(fmt.Errorf("--since %q: want a date (2026-12-01) or an RFC 3339 time", since))
					}
				}
				f.Since = t
			}
			for _, k := range kinds {
				if k != "opened" && k != "closed" {
					return usage(fmt.Errorf("unknown --event %q (want opened or closed)", k))
				}
			}
			st, err := e.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			events := func(yield func(store.PathEvent, error) bool) {
				n := 0
				for ev, err := range st.PathEvents(cmd.Context(), f) {
					if err == nil && len(kinds) > 0 && !slices.Contains(kinds, ev.Event) {
						continue
					}
					if limit > 0 && n >= limit {
						return
					}
					n++
					if !yield(ev, err) || err != nil {
						return
					}
				}
			}
			_, err = writeListing(e.listOut(), output, events, []column[store.PathEvent]{
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
	cmd.Flags().StringVar(&since, "since", "", "only events at or after this date or RFC 3339 time")
	cmd.Flags().StringSliceVar(&kinds, "event", nil, "only these events: opened, closed")
	return cmd
}

// ownerText names an action's owner, or says that none is set and how to
// set one.
func ownerText(owner string) string {
	if owner == "" {
		return "none set (add an ownership rule or service owner to the scope, or --codeowners)"
	}
	return owner
}
