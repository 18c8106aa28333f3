package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/sla"
)

func newKPICmd(e *env) *cobra.Command {
	var since, by, output string
	cmd := &cobra.Command{
		Use:   "kpi",
		Short: "Key figures over time: exposures opened, fixed and open per week, attack paths, time to remediate",
		Long: `KPI computes the programme's figures from the database's history (no
recording needed): per week, the exposures first seen, fixed, reopened and
open at the week's end, and the attack paths the analyses opened, closed and
left open; the time to remediate (first seen to fixed) by severity, mean and
90th percentile; the share of open exposures on business-critical assets
(criticality "critical" in the scope); and the exposures open on a CVE of
CISA's KEV catalog past its due date. --by team adds the figures per owner
and, under the scope's SLA policy, each owner's SLA adherence week by week
(fixes made by their due date, exposures open past it; this reads every
exposure, slower on a large database),
--by jewel the attack paths open to each crown jewel, week by week.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			d, err := parseSince(since)
			if err != nil {
				return usage(err)
			}
			if by != "" && by != "team" && by != "jewel" {
				return usage(fmt.Errorf("unknown --by %q (want team or jewel)", by))
			}
			ctx := cmd.Context()
			st, err := e.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			a, err := e.appOver(ctx, st)
			if err != nil {
				return err
			}
			opt, err := e.kpiOptions(ctx, a, d)
			if err != nil {
				return err
			}
			if by == "team" {
				// The SLA adherence by owner reads every exposure.
				if opt.SLA, err = sla.KPIDue(ctx, a); err != nil {
					return err
				}
			}
			r, err := kpi.Compute(ctx, st, opt)
			if err != nil {
				return err
			}
			for i := range r.Snapshots {
				if by != "team" {
					r.Snapshots[i].Teams = nil
				}
				if by != "jewel" {
					r.Snapshots[i].Jewels = nil
				}
			}
			if by != "team" {
				r.Teams = nil
			}
			if by != "jewel" {
				r.Jewels = nil
			}
			switch output {
			case outJSON:
				return writeJSON(e.stdout, r)
			case outCSV:
				return writeKPICSV(e.stdout, r)
			}
			writeKPITable(e.stdout, r)
			return nil
		},
	}
	cmd.Flags().StringVar(&since, "since", "90d", "how far back: days (90d), weeks (12w) or a Go duration")
	cmd.Flags().StringVar(&by, "by", "", "add figures by: team, or jewel (open attack paths per crown jewel)")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	return cmd
}

// kpiOptions returns the KPI options of the command line: now, since d,
// the estate's owners and criticality, and the KEV catalog's due dates.
func (e *env) kpiOptions(ctx context.Context, a *app.App, d time.Duration) (kpi.Options, error) {
	es, err := a.Estate(ctx)
	if err != nil {
		return kpi.Options{}, err
	}
	in, err := e.loadIntel()
	if err != nil {
		return kpi.Options{}, err
	}
	var kevDue func(string) (time.Time, bool)
	var kevCVEs []string
	if in.KEV != nil {
		kevCVEs = in.KEV.CVEs()
		kevDue = func(cve string) (time.Time, bool) {
			k, ok := in.KEV.Lookup(cve)
			return k.DueDate, ok && !k.DueDate.IsZero()
		}
	}
	return kpi.Options{
		KEVDue:   kevDue,
		KEVCVEs:  kevCVEs,
		Now:      time.Now().UTC(),
		Since:    d,
		Owner:    func(a string) string { return es.Context(es.Canonical(a)).Owner },
		Critical: func(a string) bool { return es.Context(es.Canonical(a)).Criticality == "critical" },
	}, nil
}

// parseSince reads 90d, 12w or a Go duration.
func parseSince(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v <= 0 {
				return 0, fmt.Errorf("bad --since %q (want e.g. 90d, 12w, 720h)", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad --since %q (want e.g. 90d, 12w, 720h)", s)
	}
	return d, nil
}

// bar draws n against max as a bar of up to width blocks.
func bar(n, max, width int) string {
	if max <= 0 || n <= 0 {
		return ""
	}
	k := (n*width + max - 1) / max
	return strings.Repeat("█", k)
}

// sparkline draws counts as block heights, one character each.
func sparkline(ns []int) string {
	const blocks = " ▁▂▃▄▅▆▇█"
	levels := []rune(blocks)
	top := 0
	for _, n := range ns {
		top = max(top, n)
	}
	var b strings.Builder
	for _, n := range ns {
		k := 0
		if top > 0 {
			k = (n*(len(levels)-1) + top - 1) / top
		}
		b.WriteRune(levels[k])
	}
	return b.String()
}

func days(d time.Duration) string {
	return strconv.FormatFloat(d.Hours()/24, 'f', 1, 64) + "d"
}

func writeKPITable(w io.Writer, r *kpi.Report) {
	maxOpen := 0
	for _, p := range r.Periods {
		maxOpen = max(maxOpen, p.Open)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WEEK\tOPENED\tFIXED\tREOPENED\tOPEN\tKEV OVERDUE\tPATHS +\tPATHS -\tOPEN PATHS\t")
	for _, p := range r.Periods {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d %s\t%d\t%d\t%d\t%d\t\n", p.Start.Format("2006-01-02"), p.Opened, p.Fixed, p.Reopened,
			p.Open, bar(p.Open, maxOpen, 20), p.KEVOverdue, p.PathsOpened, p.PathsClosed, p.OpenPaths)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nOpen exposures: %d, of which on business-critical assets: %d (%.0f%%), on a KEV CVE past its due date: %d. Open attack paths: %d.\n",
		r.Open, r.OpenOnCritical, 100*r.CriticalShare, r.KEVOverdue, r.OpenPaths)
	if len(r.BySeverity) > 0 {
		fmt.Fprintln(w, "\nTime to remediate (first seen to fixed), exposures fixed since "+r.From.Format("2006-01-02")+":")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEVERITY\tFIXED\tMEAN\tP90\t")
		for _, m := range r.BySeverity {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t\n", m.Severity, m.Fixed, days(m.Mean), days(m.P90))
		}
		tw.Flush()
	}
	if len(r.ByBand) > 0 {
		fmt.Fprintln(w, "\nTime to remediate by priority band (the highest risk removed an analysis gave the exposure: p1 >= 1, p2 >= 0.1, p3 > 0):")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "BAND\tFIXED\tMEAN\tP90\t")
		for _, m := range r.ByBand {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t\n", m.Band, m.Fixed, days(m.Mean), days(m.P90))
		}
		tw.Flush()
	}
	if n := len(r.Snapshots); n > 0 {
		open, valid := make([]int, n), make([]int, n)
		for i, s := range r.Snapshots {
			open[i], valid[i] = s.OpenPaths, s.ValidatedPaths
		}
		last := r.Snapshots[n-1]
		fmt.Fprintf(w, "\nAs recorded by the %d analyses since %s: open attack paths %s (now %d), validated %s (now %d",
			n, r.From.Format("2006-01-02"), sparkline(open), last.OpenPaths, sparkline(valid), last.ValidatedPaths)
		for _, k := range sortedKeys(last.ValidatedBy) {
			fmt.Fprintf(w, "; %s %d", k, last.ValidatedBy[k])
		}
		fmt.Fprintln(w, ").")
	}
	if len(r.Jewels) > 0 {
		fmt.Fprintln(w, "\nOpen attack paths by crown jewel, week by week:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "JEWEL\tNOW\tWEEKS\t")
		for _, j := range r.Jewels {
			fmt.Fprintf(tw, "%s\t%d\t%s\t\n", cell(j.Jewel, 60), j.OpenNow, sparkline(j.Open))
		}
		tw.Flush()
	}
	if len(r.Teams) > 0 {
		fmt.Fprintln(w, "\nBy team:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TEAM\tOPEN\tOPENED\tFIXED\tMEAN TTR\tP90 TTR\tPATHS\tVALIDATED\t")
		var last map[string]kpi.JewelSnapshot
		if n := len(r.Snapshots); n > 0 {
			last = r.Snapshots[n-1].Teams
		}
		for _, t := range r.Teams {
			mean, p90 := "-", "-"
			if t.Remediation.Fixed > 0 {
				mean, p90 = days(t.Remediation.Mean), days(t.Remediation.P90)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%d\t%d\t\n", cell(t.Team, 40), t.Open, t.Opened, t.Fixed, mean, p90,
				last[t.Team].OpenPaths, last[t.Team].ValidatedPaths)
		}
		tw.Flush()
	}
	if len(r.SLA) > 0 {
		fmt.Fprintln(w, "\nSLA adherence by team (fixes made by their due date; exposures open past it at each week's end):")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TEAM\tFIXED\tIN TIME\tOPEN\tPAST DUE\tPAST DUE WEEKS\t")
		for _, o := range r.SLA {
			fixed, inTime := 0, 0
			past := make([]int, len(o.Weeks))
			for i, wk := range o.Weeks {
				fixed, inTime, past[i] = fixed+wk.Fixed, inTime+wk.FixedInTime, wk.PastDue
			}
			share := "-"
			if fixed > 0 {
				share = fmt.Sprintf("%d (%.0f%%)", inTime, 100*float64(inTime)/float64(fixed))
			}
			var last kpi.SLAWeek
			if n := len(o.Weeks); n > 0 {
				last = o.Weeks[n-1]
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\t\n", cell(o.Owner, 40), fixed, share, last.Open, last.PastDue, sparkline(past))
		}
		tw.Flush()
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]int) []string {
	return slices.Sorted(maps.Keys(m))
}

// writeKPICSV writes the weekly series, one row per week.
func writeKPICSV(w io.Writer, r *kpi.Report) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"week_start", "week_end", "opened", "fixed", "reopened", "open", "kev_overdue", "paths_opened", "paths_closed", "open_paths"})
	for _, p := range r.Periods {
		cw.Write([]string{p.Start.Format(time.RFC3339), p.End.Format(time.RFC3339), strconv.Itoa(p.Opened), strconv.Itoa(p.Fixed),
			strconv.Itoa(p.Reopened), strconv.Itoa(p.Open), strconv.Itoa(p.KEVOverdue), strconv.Itoa(p.PathsOpened), strconv.Itoa(p.PathsClosed), strconv.Itoa(p.OpenPaths)})
	}
	cw.Flush()
	return cw.Error()
}
