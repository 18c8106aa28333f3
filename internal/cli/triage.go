package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// newTriageCmd builds `ctem triage`: people's decisions about exposures,
// with who and why, and their history.
func newTriageCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "triage",
		Short: "Decide about an exposure (accept, false positive, not affected, fixed, reopen) and read the decisions",
		Long: `Triage records a person's decision about an exposure, with who made it and why.
A decision holds across ingests: a rescan that reports the exposure again does not
reopen it, and every change an ingest or an expiry makes to a decided exposure is
recorded with its reason. An acceptance needs an approver and an expiry; not_affected
needs a VEX justification.`,
	}
	cmd.AddCommand(newTriageSetCmd(e), newTriageHistoryCmd(e), newTriageExpireCmd(e))
	return cmd
}

func newTriageSetCmd(e *env) *cobra.Command {
	var d store.Decision
	var status, expires, output string
	cmd := &cobra.Command{
		Use:   "set EXPOSURE-ID",
		Short: "Set an exposure's status: open, fixed, accepted, false_positive or not_affected",
		Example: `  ctem triage set 3f2a9c1e --status accepted --reason "behind the VPN" --by alice --approver ciso --expires 90d
  ctem triage set 3f2a9c1e --status not_affected --justification vulnerable_code_not_in_execute_path --reason "never called" --by bob
  ctem triage set 3f2a9c1e --status open --reason "the VPN is gone" --by alice`,
		Args: wrapArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			ctx := cmd.Context()
			d.Status, d.At = model.Status(status), time.Now().UTC()
			if expires != "" {
				t, err := parseExpiry(expires, d.At)
				if err != nil {
					return usage(err)
				}
				d.Expires = t
			}
			st, err := e.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			if d.ExposureID, err = exposureID(cmd, st, args[0]); err != nil {
				return err
			}
			id := d.ExposureID
			c, err := st.Triage(cliAudit(ctx, store.AuditTriage, "triage", func(res any) (string, string) {
				c, _ := res.(store.StatusChange)
				return id, fmt.Sprintf("%s -> %s: %s (by %q)", c.From, c.To, d.Reason, d.By)
			}), d)
			if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrNotFound) {
				return usage(err)
			}
			if err != nil {
				return err
			}
			_, err = writeListing(e.listOut(), output, seqOf([]store.StatusChange{c}), statusChangeColumns)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&status, "status", "", "the new status: open, fixed, accepted, false_positive or not_affected")
	f.StringVar(&d.Reason, "reason", "", "why (required)")
	f.StringVar(&d.By, "by", "", "who decides (required)")
	f.StringVar(&d.Approver, "approver", "", "who approved an acceptance (required for accepted)")
	f.StringVar(&expires, "expires", "", "when an acceptance ends: a date (2027-06-30), a time (RFC 3339) or days from now (90d)")
	f.StringVar(&d.Justification, "justification", "", "the VEX justification of not_affected: "+strings.Join(store.VEXJustifications, ", "))
	f.StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	return cmd
}

func newTriageHistoryCmd(e *env) *cobra.Command {
	var output, after string
	var limit int
	cmd := &cobra.Command{
		Use:   "history [EXPOSURE-ID]",
		Short: "Status changes of decided exposures, oldest first, with who and why",
		Args:  wrapArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := e.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			f := store.Filter{Limit: limit, After: after}
			if len(args) == 1 {
				id, err := exposureID(cmd, st, args[0])
				if err != nil {
					return err
				}
				f.IDs = []string{id}
			}
			_, err = writeListing(e.listOut(), output, st.StatusHistory(ctx, f), statusChangeColumns)
			if errors.Is(err, store.ErrInvalid) {
				return usage(err)
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most this many changes")
	cmd.Flags().StringVar(&after, "after", "", "continue after the change this cursor names")
	return cmd
}

func newTriageExpireCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "expire",
		Short: "Reopen the exposures whose acceptance has expired, recording why",
		Args:  wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := e.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			changes, err := st.ExpireAcceptances(cliAuditExpire(ctx), time.Now().UTC())
			if err != nil {
				return err
			}
			_, err = writeListing(e.listOut(), output, seqOf(changes), statusChangeColumns)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	return cmd
}

var statusChangeColumns = []column[store.StatusChange]{
	{"TIME", 0, func(c store.StatusChange) string { return when(c.At) }},
	{"EXPOSURE", 0, func(c store.StatusChange) string { return c.ExposureID }},
	{"FROM", 0, func(c store.StatusChange) string { return string(c.From) }},
	{"TO", 0, func(c store.StatusChange) string { return string(c.To) }},
	{"BY", 0, func(c store.StatusChange) string { return c.By }},
	{"APPROVER", 0, func(c store.StatusChange) string { return c.Approver }},
	{"EXPIRES", 0, func(c store.StatusChange) string { return when(c.Expires) }},
	{"REASON", 60, func(c store.StatusChange) string {
		if c.Justification != "" {
			return c.Justification + ": " + c.Reason
		}
		return c.Reason
	}},
	{"CURSOR", 0, func(c store.StatusChange) string { return store.Cursor(c) }},
}

// exposureID resolves an exposure id or a unique prefix of one.
func exposureID(cmd *cobra.Command, st store.ExposureReader, arg string) (string, error) {
	var ids []string
	for x, err := range st.Exposures(cmd.Context(), store.Filter{IDs: []string{arg}, Sort: store.SortID, Limit: 2}) {
		if err != nil {
			return "", err
		}
		ids = append(ids, x.ID)
	}
	switch {
	case len(ids) == 0:
		return "", usage(fmt.Errorf("no exposure %q (see 'ctem exposures')", arg))
	case len(ids) > 1:
		return "", usage(fmt.Errorf("%q names more than one exposure; give more of the id", arg))
	}
	return ids[0], nil
}

// parseExpiry reads an expiry: days from now ("90d"), a date (the end of
// that day, UTC) or an RFC 3339 time.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 3660 {
			return time.Time{}, fmt.Errorf("--expires %q: want a number of days from 1 to 3660, as 90d", s)
		}
		return now.AddDate(0, 0, days), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Add(24*time.Hour - time.Microsecond), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--expires %q: want a date (2027-06-30), an RFC 3339 time or days (90d)", s)
	}
	return t.UTC(), nil
}
