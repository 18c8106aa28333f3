package cli

import (
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// filterFlags are the filters every listing takes.
type filterFlags struct {
	output     string
	severities []string
	tools      []string
	assets     []string
	statuses   []string
	cves       []string
	kinds      []string
	scan       string
	limit      int
}

func (f *filterFlags) register(cmd *cobra.Command, which string) {
	cmd.Flags().StringVarP(&f.output, "output", "o", outTable, "output format: table, json or csv")
	if strings.Contains(which, "s") {
		cmd.Flags().StringSliceVar(&f.severities, "severity", nil, "severities to show (critical,high,medium,low,info,unknown); repeat or separate by commas")
	}
	if strings.Contains(which, "t") {
		cmd.Flags().StringSliceVar(&f.tools, "tool", nil, "only findings of these tools")
	}
	if strings.Contains(which, "a") {
		cmd.Flags().StringSliceVar(&f.assets, "asset", nil, "only these asset keys (a trailing * matches a prefix)")
	}
	if strings.Contains(which, "S") {
		cmd.Flags().StringSliceVar(&f.statuses, "status", nil, "only these statuses (open, fixed, accepted, not_affected, false_positive)")
	}
	if strings.Contains(which, "c") {
		cmd.Flags().StringSliceVar(&f.cves, "cve", nil, "only these vulnerability ids (CVE, GHSA, GO- or any alias)")
	}
	if strings.Contains(which, "k") {
		cmd.Flags().StringSliceVar(&f.kinds, "kind", nil, "only these kinds")
	}
	cmd.Flags().IntVar(&f.limit, "limit", 0, "show at most this many (0: all)")
}

func (f *filterFlags) filter() (store.Filter, error) {
	if err := checkOutput(f.output, outTable, outJSON, outCSV); err != nil {
		return store.Filter{}, err
	}
	sevs, err := model.ParseSeverityFilter(strings.Join(f.severities, ","))
	if err != nil {
		return store.Filter{}, usage(err)
	}
	var sts []model.Status
	for _, s := range f.statuses {
		st := model.Status(strings.ToLower(strings.TrimSpace(s)))
		if !st.Valid() {
			return store.Filter{}, usage(fmt.Errorf("unknown status %q", s))
		}
		sts = append(sts, st)
	}
	tools := make([]string, len(f.tools))
	for i, t := range f.tools {
		tools[i] = strings.ToLower(strings.TrimSpace(t))
	}
	return store.Filter{Severities: sevs, Tools: tools, Assets: f.assets, Statuses: sts, VulnIDs: f.cves, Kinds: f.kinds, ScanID: f.scan, Limit: f.limit}, nil
}

func newFindingsCmd(e *env) *cobra.Command {
	var ff filterFlags
	cmd := &cobra.Command{
		Use:   "findings",
		Short: "List findings: one per item a tool reported",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := ff.filter()
			if err != nil {
				return err
			}
			st, err := e.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			_, err = writeListing(e.listOut(), ff.output, st.Findings(cmd.Context(), f), findingColumns)
			return err
		},
	}
	ff.register(cmd, "stacSk")
	cmd.Flags().StringVar(&ff.scan, "scan", "", "only findings last seen by this scan id")
	return cmd
}

func newExposuresCmd(e *env) *cobra.Command {
	var ff filterFlags
	var history bool
	var sortBy string
	cmd := &cobra.Command{
		Use:   "exposures",
		Short: "List exposures: weaknesses on assets, merged across tools",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := ff.filter()
			if err != nil {
				return err
			}
			f.History = history
			switch sortBy {
			case "severity":
			case "priority":
				return e.exposuresByPriority(cmd, ff.output, f)
			default:
				return usage(fmt.Errorf("unknown --sort %q (want severity or priority)", sortBy))
			}
			st, err := e.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			cols := exposureColumns
			if history {
				cols = append(cols[:len(cols):len(cols)], column[model.Exposure]{"HISTORY", 0, historyText})
			}
			if ff.output == outCSV {
				// The same columns as --sort priority, so that a
				// spreadsheet reads either.
				cols = append(cols[:len(cols):len(cols)],
					column[model.Exposure]{"PRIORITY", 0, func(model.Exposure) string { return "" }},
					column[model.Exposure]{"PATHS", 0, func(model.Exposure) string { return "" }})
			}
			_, err = writeListing(e.listOut(), ff.output, st.Exposures(cmd.Context(), f), cols)
			return err
		},
	}
	ff.register(cmd, "stacSk")
	cmd.Flags().BoolVar(&history, "history", false, "include each exposure's status history")
	cmd.Flags().StringVar(&sortBy, "sort", "severity", "order: severity, or priority (the attack-path risk that fixing each removes)")
	return cmd
}

func newScansCmd(e *env) *cobra.Command {
	var ff filterFlags
	cmd := &cobra.Command{
		Use:   "scans",
		Short: "List scans, newest first, with what each opened, fixed and reopened",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := ff.filter()
			if err != nil {
				return err
			}
			st, err := e.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			_, err = writeListing(e.listOut(), ff.output, st.Scans(cmd.Context(), f), scanColumns)
			return err
		},
	}
	ff.register(cmd, "ta")
	cmd.AddCommand(newScanRmCmd(e), newScanRemovalsCmd(e))
	return cmd
}

func newScanRmCmd(e *env) *cobra.Command {
	var by, reason string
	cmd := &cobra.Command{
		Use:   "rm SCAN-ID",
		Short: "Undo an ingest: remove a scan, its findings and events, and the exposures only it reported",
		Long: `Rm removes a scan ingested by mistake, in one transaction: the findings it
first reported, the exposures no other finding reports, its finding and
status events, and the scan itself. Findings it fixed, reopened or saw again
go back to their state before it. The removal is recorded ('ctem scans
removed'), and when the database holds an analysis the affected components
are re-analysed, recording the attack paths that close. Assets and relations
that an estate input described stay.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := e.newApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Store.Close()
			ctx := cliAudit(cmd.Context(), store.AuditScanRemove, "scan.remove", func(res any) (string, string) {
				rm, _ := res.(store.ScanRemoval)
				return rm.ScanID, fmt.Sprintf("%s on %s (%s): %d findings removed, %d restored, %d exposures removed; by %q: %s",
					rm.Tool, rm.Target, rm.Input, rm.FindingsRemoved, rm.FindingsRestored, rm.ExposuresRemoved, by, reason)
			})
			res, err := a.RemoveScan(ctx, args[0], by, reason)
			if err != nil {
				return err
			}
			rm := res.Removal
			fmt.Fprintf(e.stdout, "removed scan %s (%s on %s, %s): %d findings removed, %d restored, %d exposures removed\n",
				rm.ScanID, cell(rm.Tool, 0), cell(rm.Target, 0), cell(rm.Input, 0), rm.FindingsRemoved, rm.FindingsRestored, rm.ExposuresRemoved)
			return nil
		},
	}
	cmd.Flags().StringVar(&by, "by", "", "who removes it (recorded)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded)")
	return cmd
}

func newScanRemovalsCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "removed",
		Short: "List the scans removed with 'ctem scans rm', newest first",
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
			r, ok := st.(store.ScanRemover)
			if !ok {
				return fmt.Errorf("scan removals: %w", app.ErrUnsupported)
			}
			_, err = writeListing(e.listOut(), output, r.ScanRemovals(cmd.Context()), []column[store.ScanRemoval]{
				{"TIME", 0, func(r store.ScanRemoval) string { return when(r.At) }},
				{"SCAN", 0, func(r store.ScanRemoval) string { return r.ScanID }},
				{"TOOL", 0, func(r store.ScanRemoval) string { return r.Tool }},
				{"TARGET", 48, func(r store.ScanRemoval) string { return r.Target }},
				{"FINDINGS REMOVED", 0, func(r store.ScanRemoval) string { return strconv.Itoa(r.FindingsRemoved) }},
				{"RESTORED", 0, func(r store.ScanRemoval) string { return strconv.Itoa(r.FindingsRestored) }},
				{"EXPOSURES REMOVED", 0, func(r store.ScanRemoval) string { return strconv.Itoa(r.ExposuresRemoved) }},
				{"BY", 0, func(r store.ScanRemoval) string { return r.Actor }},
				{"REASON", 60, func(r store.ScanRemoval) string { return r.Reason }},
			})
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	return cmd
}

// seqOf yields the elements of a slice as a listing sequence.
func seqOf[T any](xs []T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, x := range xs {
			if !yield(x, nil) {
				return
			}
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

var findingColumns = []column[model.Finding]{
	{"ID", 0, func(f model.Finding) string { return f.ID }},
	{"SEVERITY", 0, func(f model.Finding) string { return string(f.Severity) }},
	{"TOOL", 0, func(f model.Finding) string { return f.Tool }},
	{"RULE", 24, func(f model.Finding) string { return f.RuleID }},
	{"ASSET", 48, func(f model.Finding) string { return f.Asset }},
	{"PACKAGE", 24, func(f model.Finding) string { return f.Package.Name }},
	{"VERSION", 16, func(f model.Finding) string { return f.Package.Version }},
	{"FIXED IN", 16, func(f model.Finding) string { return f.Package.FixedVersion }},
	{"LOCATION", 40, func(f model.Finding) string { return locText(f.Location) }},
	{"STATUS", 0, func(f model.Finding) string { return string(f.Status) }},
	{"TITLE", 60, func(f model.Finding) string { return f.Title }},
}

var exposureColumns = []column[model.Exposure]{
	{"ID", 0, func(x model.Exposure) string { return x.ID }},
	{"SEVERITY", 0, func(x model.Exposure) string { return string(x.Severity) }},
	{"WEAKNESS", 24, func(x model.Exposure) string {
		if len(x.VulnIDs) > 0 {
			return x.VulnIDs[0]
		}
		return x.RuleID
	}},
	{"ASSET", 48, func(x model.Exposure) string { return x.Asset }},
	{"PACKAGE", 24, func(x model.Exposure) string { return x.Package.Name }},
	{"VERSION", 16, func(x model.Exposure) string { return x.Package.Version }},
	{"FIXED IN", 16, func(x model.Exposure) string { return x.Package.FixedVersion }},
	{"LOCATION", 40, func(x model.Exposure) string { return locText(x.Location) }},
	{"TOOLS", 0, func(x model.Exposure) string { return strings.Join(x.Tools, ",") }},
	{"FINDINGS", 0, func(x model.Exposure) string { return strconv.Itoa(len(x.FindingIDs)) }},
	{"STATUS", 0, func(x model.Exposure) string { return string(x.Status) }},
	{"TITLE", 60, func(x model.Exposure) string { return x.Title }},
}

var assetColumns = []column[model.Asset]{
	{"KEY", 72, func(a model.Asset) string { return a.Key }},
	{"KIND", 0, func(a model.Asset) string { return string(a.Kind) }},
	{"OWNER", 0, func(a model.Asset) string { return a.Owner }},
	{"SERVICE", 0, func(a model.Asset) string { return a.Service }},
	{"CRITICALITY", 0, func(a model.Asset) string { return a.Criticality }},
	{"CROWN JEWEL", 0, func(a model.Asset) string {
		if a.CrownJewel == nil {
			return ""
		}
		return strconv.Itoa(*a.CrownJewel)
	}},
	{"INTERNET", 0, func(a model.Asset) string {
		if a.InternetExposed {
			return "yes"
		}
		return ""
	}},
}

var scanColumns = []column[model.Scan]{
	{"ID", 0, func(s model.Scan) string { return s.ID }},
	{"TIME", 0, func(s model.Scan) string { return when(s.StartedAt) }},
	{"TOOL", 0, func(s model.Scan) string { return s.Tool }},
	{"PARSER", 0, func(s model.Scan) string { return s.Format + "@" + s.ParserVersion }},
	{"TARGET", 48, func(s model.Scan) string { return s.Target }},
	{"FINDINGS", 0, func(s model.Scan) string { return strconv.Itoa(s.Findings) }},
	{"NEW", 0, func(s model.Scan) string { return strconv.Itoa(s.New) }},
	{"FIXED", 0, func(s model.Scan) string { return strconv.Itoa(s.Fixed) }},
	{"REOPENED", 0, func(s model.Scan) string { return strconv.Itoa(s.Reopened) }},
	{"INPUT", 40, func(s model.Scan) string { return s.Input }},
}

func locText(l model.Location) string {
	switch {
	case l.URL != "":
		return l.URL
	case l.Path != "" && l.Line > 0:
		return l.Path + ":" + strconv.Itoa(l.Line)
	}
	return l.Path
}

func historyText(x model.Exposure) string {
	var parts []string
	for _, h := range x.History {
		parts = append(parts, fmt.Sprintf("%s %s→%s", h.At.UTC().Format("2006-01-02T15:04:05Z"), h.From, h.To))
	}
	return strings.Join(parts, "; ")
}

// exposuresByPriority lists the exposures that match the filter, every
// filter applied, by the attack-path risk their fix removes (read from
// the stored analysis), then the rest by severity.
func (e *env) exposuresByPriority(cmd *cobra.Command, output string, f store.Filter) error {
	a, err := e.newApp(cmd.Context())
	if err != nil {
		return err
	}
	defer a.Store.Close()
	v, rows, err := a.Priorities(cmd.Context(), f, graph.Options{})
	if err != nil {
		return err
	}
	e.noteView(v)
	cols := priorityColumns
	if output == outCSV {
		cols = rankedCSVColumns(f.History)
	}
	_, err = writeListing(e.listOut(), output, rows, cols)
	return err
}

// rankedCSVColumns are the CSV columns of 'exposures --sort priority':
// those of 'exposures' (with HISTORY when asked), then PRIORITY and
// PATHS, which the severity order leaves empty.
func rankedCSVColumns(history bool) []column[app.Ranked] {
	cols := exposureColumns
	if history {
		cols = append(cols[:len(cols):len(cols)], column[model.Exposure]{"HISTORY", 0, historyText})
	}
	out := make([]column[app.Ranked], 0, len(cols)+2)
	for _, c := range cols {
		out = append(out, column[app.Ranked]{c.header, c.width, func(r app.Ranked) string { return c.value(r.Exposure) }})
	}
	return append(out,
		column[app.Ranked]{"PRIORITY", 0, func(r app.Ranked) string { return fmt.Sprintf("%.2f", r.Priority) }},
		column[app.Ranked]{"PATHS", 0, func(r app.Ranked) string { return strconv.Itoa(r.Paths) }})
}
