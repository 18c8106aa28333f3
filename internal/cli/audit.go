package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/store"
)

// newAuditCmd builds `ctem audit`: check and export the audit log.
func newAuditCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Verify and export the hash-chained audit log"}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain; name the first edited or missing entry",
		Long: `Verify recomputes every entry's hash and checks that each covers the one
before. An edited or deleted entry is named (exit code 1). It prints the number of
entries and the last hash: keep them elsewhere, since deleting the newest entries
leaves a shorter chain that still holds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := e.openSQL(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			n, head, err := store.VerifyAudit(st.AuditLog(cmd.Context(), 0, 0))
			if b, ok := errors.AsType[*store.AuditBrokenError](err); ok {
				return fmt.Errorf("%w: %v", ErrGateFailed, b)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "audit log intact: %d entries, last hash %s\n", n, head)
			return nil
		},
	}
	var after int64
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the audit log as JSON lines, oldest first (for a SIEM)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := e.openSQL(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			w := bufio.NewWriter(e.stdout)
			enc := json.NewEncoder(w)
			for en, err := range st.AuditLog(cmd.Context(), after, 0) {
				if err != nil {
					return err
				}
				if err := enc.Encode(en); err != nil {
					return err
				}
			}
			return w.Flush()
		},
	}
	export.Flags().Int64Var(&after, "after", 0, "only the entries after this number")
	cmd.AddCommand(verify, export)
	return cmd
}
