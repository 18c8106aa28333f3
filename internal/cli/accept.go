package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/store"
)

// newAcceptCmd builds `ctem accept`: a risk acceptance by scope, with
// reason, approver and a mandatory expiry.
func newAcceptCmd(e *env) *cobra.Command {
	var req app.AcceptRequest
	var expires, output string
	var expire bool
	cmd := &cobra.Command{
		Use:   "accept [EXPOSURE-ID]",
		Short: "Accept the risk of an exposure, of a vulnerability on an asset or everywhere, or of an attack path, until an expiry",
		Long: `Accept records a risk acceptance: of one exposure (by id), of a vulnerability on one
asset (--cve and --asset), of a vulnerability everywhere (--cve alone), or of an attack
path (--path ID from 'ctem paths': every exposure on its steps, and the path itself,
which listings then mark accepted and notifications no longer announce). It needs a
reason, who decides (--by), an approver and an expiry no later than the scope file's
acceptance.max. Accepted exposures leave 'ctem top' and the priorities; each change is
in 'ctem triage history'. An acceptance of a vulnerability also covers exposures to it
found later, and an acceptance of a path the exposures that join it (applied by
'ctem accept --expire', which also reopens the exposures whose
acceptance has expired, recording why).`,
		Example: `  ctem accept 7105 --reason "WAF blocks class.module" --by alice --approver ciso --expires 30d
  ctem accept --cve CVE-2019-1549 --reason "fork() is never called" --by bob --approver ciso --expires 2027-03-31
  ctem accept --cve CVE-2019-1549 --asset image:ghcr.io/org/edge:1.2 --reason ... --by bob --approver ciso --expires 60d
  ctem accept --path 35caa479 --reason "segmented by the new firewall" --by carol --approver ciso --expires 14d
  ctem accept --expire`,
		Args: wrapArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			ctx := cmd.Context()
			a, err := e.newApp(ctx)
			if err != nil {
				return err
			}
			defer a.Store.Close()
			if expire {
				if len(args) > 0 || req.Scope.VulnID != "" || req.Scope.PathID != "" {
					return usage(errors.New("--expire takes no exposure, --cve or --path"))
				}
				changes, err := a.ExpireAcceptances(cliAuditExpire(ctx))
				if err != nil {
					return err
				}
				applied, err := a.ApplyAcceptanceRules(ctx)
				if err != nil {
					return err
				}
				e.logf("%d acceptances expired and reopened; %d exposures accepted by standing rules", len(changes), len(applied))
				_, err = writeListing(e.stdout, output, seqOf(append(changes, applied...)), statusChangeColumns)
				return err
			}
			if len(args) == 1 {
				req.Scope.ExposureID = args[0]
			}
			if expires != "" {
				if req.Expires, err = parseExpiry(expires, time.Now().UTC()); err != nil {
					return usage(err)
				}
			}
			res, err := a.AcceptRisk(ctx, req)
			if err != nil {
				return err
			}
			if err := auditMobilisation(ctx, a.Store, "accept", res.Rule.ID, fmt.Sprintf("%d exposures until %s, by %s approved by %s: %s",
				len(res.Changes), res.Rule.Expires.Format(time.RFC3339), req.By, req.Approver, req.Reason)); err != nil {
				return err
			}
			e.logf("acceptance %s: %d exposures accepted until %s", res.Rule.ID, len(res.Changes), when(res.Rule.Expires))
			_, err = writeListing(e.stdout, output, seqOf(res.Changes), statusChangeColumns)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Scope.VulnID, "cve", "", "accept this vulnerability (CVE, GHSA, ...) everywhere, or on --asset")
	f.StringVar(&req.Scope.Asset, "asset", "", "with --cve: only on this asset (key; a trailing * matches a prefix)")
	f.StringVar(&req.Scope.PathID, "path", "", "accept this attack path (its id or a unique prefix): every exposure on it, and the path")
	f.StringVar(&req.Reason, "reason", "", "why (required)")
	f.StringVar(&req.By, "by", "", "who decides (required)")
	f.StringVar(&req.Approver, "approver", "", "who approved (required)")
	f.StringVar(&expires, "expires", "", "when the acceptance ends (required): a date (2027-06-30), an RFC 3339 time or days from now (30d)")
	f.BoolVar(&expire, "expire", false, "reopen expired acceptances and apply standing acceptance rules to new exposures")
	f.StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	return cmd
}

// newFalsePositiveCmd builds `ctem false-positive`.
func newFalsePositiveCmd(e *env) *cobra.Command {
	var reason, by, output string
	cmd := &cobra.Command{
		Use:   "false-positive EXPOSURE-ID",
		Short: "Mark an exposure a false positive; a rescan that reports it again keeps it so",
		Long: `False-positive records that an exposure is not real, with who and why. The exposure's
id is the fingerprint of the weakness on its asset, so a rescan that reports the same
finding again meets the decision and does not resurrect it. 'ctem triage set ID
--status open' withdraws it.`,
		Args: wrapArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			ctx := cmd.Context()
			a, err := e.newApp(ctx)
			if err != nil {
				return err
			}
			defer a.Store.Close()
			c, err := a.MarkFalsePositive(ctx, args[0], reason, by)
			if err != nil {
				return err
			}
			if err := auditMobilisation(ctx, a.Store, "false-positive", c.ExposureID, "by "+by+": "+reason); err != nil {
				return err
			}
			_, err = writeListing(e.stdout, output, seqOf([]store.StatusChange{c}), statusChangeColumns)
			return err
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (required)")
	cmd.Flags().StringVar(&by, "by", "", "who decides (required)")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	return cmd
}

// auditMobilisation appends a mobilisation decision made on the command
// line to the audit log, as the server does for the same decision, when
// the store keeps one.
func auditMobilisation(ctx context.Context, st any, action, target, detail string) error {
	au, ok := st.(store.Audit)
	if !ok {
		return nil
	}
	_, err := au.AppendAudit(ctx, auditEntry(action, target, detail))
	return err
}
