package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/sla"
)

// newSLACmd builds `ctem sla`: when each exposure must be fixed under
// the scope's SLA policy, and which are breached.
func newSLACmd(e *env) *cobra.Command {
	var q sla.Query
	var output, within string
	cmd := &cobra.Command{
		Use:   "sla",
		Short: "Due dates of open and accepted exposures under the scope's SLA policy; breaches",
		Long: `Sla lists when each open or accepted exposure must be fixed, soonest first. The
time allowed comes from the scope file's sla: a band per severity (critical, high,
medium, low), and kev, kev_internet, internet and crown_jewel (on an open attack path
to a crown jewel of at least crown_jewel_min_value) on top; the shortest that applies
wins. The clock starts when the exposure was first seen and stands while it is
accepted. Each breach is recorded once per due date as an event (printed to stderr).`,
		Example: `  ctem sla --breached
  ctem sla --owner team-orders --due-within 7d -o json`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			if within != "" {
				if q.Breached {
					return usage(fmt.Errorf("--breached and --due-within exclude each other"))
				}
				d, err := scope.ParseDuration(within)
				if err != nil {
					return usage(fmt.Errorf("--due-within: %w", err))
				}
				q.DueWithin = time.Duration(d)
			}
			ctx := cmd.Context()
			a, err := e.newApp(ctx)
			if err != nil {
				return err
			}
			defer a.Store.Close()
			res, err := sla.List(ctx, a, q)
			if err != nil {
				return err
			}
			for _, b := range res.NewBreaches {
				e.logf("SLA breached: exposure %s was due %s (%s), owner %s", b.ExposureID, when(b.Due), b.Rule, orDash(b.Owner))
			}
			_, err = writeListing(e.stdout, output, seqOf(res.Items), slaColumns)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Owner, "owner", "", "only this team's exposures")
	f.BoolVar(&q.Breached, "breached", false, "only breached exposures")
	f.StringVar(&within, "due-within", "", "only exposures due within this time (7d), breached included")
	f.StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	return cmd
}

var slaColumns = []column[sla.Item]{
	{"DUE", 0, func(i sla.Item) string {
		if i.Due.Accepted {
			return "paused"
		}
		return i.Due.At.UTC().Format(time.DateOnly)
	}},
	{"STATE", 0, func(i sla.Item) string {
		switch {
		case i.Due.Accepted:
			return "accepted"
		case i.Due.Breached:
			return "breached"
		}
		return "open"
	}},
	{"RULE", 0, func(i sla.Item) string { return i.Due.Rule }},
	{"ALLOWED", 0, func(i sla.Item) string { return scope.Duration(i.Due.Allowed).String() }},
	{"EXPOSURE", 0, func(i sla.Item) string { return i.Exposure.ID }},
	{"SEVERITY", 0, func(i sla.Item) string { return string(i.Exposure.Severity) }},
	{"WEAKNESS", 0, func(i sla.Item) string { return app.WeaknessName(i.Exposure) }},
	{"ASSET", 48, func(i sla.Item) string { return i.Exposure.Asset }},
	{"OWNER", 0, func(i sla.Item) string { return orDash(i.Owner) }},
	{"FIRST SEEN", 0, func(i sla.Item) string { return when(i.Exposure.FirstSeen) }},
}
