package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/store/open"
	"github.com/ctem-dev/ctem/internal/store/transfer"
)

// newMigrateCmd builds `ctem migrate`: copy a database into another,
// SQLite to PostgreSQL in particular.
func newMigrateCmd(e *env) *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "migrate --from sqlite:PATH --to postgres://...",
		Short: "Copy a database into an empty one (SQLite to PostgreSQL), exactly",
		Long: `Migrate copies every table of one ctem database into another, empty one:
every id, every finding's and path's history, triage decisions, tokens, jobs and
the hash-chained audit log, as they are. The destination is created and migrated
to the schema first; it is written in one transaction, so a failure leaves it
empty. At the end each table's row count and checksum are read back from the
destination and compared with the source's, and printed. Check the audit chain
afterwards with 'ctem --db DEST audit verify'.

The source is named sqlite:PATH (or a path), the destination postgres://... (or
sqlite:PATH). Stop the servers writing to the source first.`,
		Example: `  ctem migrate --from sqlite:/var/lib/ctem/ctem.db --to postgres://ctem@db.internal/ctem`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return usage(errors.New("give --from and --to"))
			}
			src, dst := strings.TrimPrefix(from, "sqlite:"), strings.TrimPrefix(to, "sqlite:")
			if !open.IsPostgres(src) {
				if _, err := os.Stat(src); err != nil {
					return usage(fmt.Errorf("--from %s: %w", from, err))
				}
			}
			if !open.IsPostgres(dst) {
				if st, err := os.Stat(filepath.Dir(dst)); err != nil || !st.IsDir() {
					return usage(fmt.Errorf("--to %s: folder %s does not exist", to, filepath.Dir(dst)))
				}
			}
			ctx := cmd.Context()
			s, err := e.openDB(ctx, src)
			if err != nil {
				return err
			}
			defer s.Close()
			d, err := e.openDB(ctx, dst)
			if err != nil {
				return err
			}
			defer d.Close()
			tables, err := transfer.Copy(ctx, d, s, func(t transfer.Table) {
				e.logf("copied %s: %d rows", t.Name, t.Rows)
			})
			if errors.Is(err, transfer.ErrNotEmpty) {
				return usage(fmt.Errorf("--to %s: %w", open.Describe(to), err))
			}
			if err != nil {
				return fmt.Errorf("migrate to %s: %w", open.Describe(to), err)
			}
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TABLE\tROWS\tCHECKSUM")
			for _, t := range tables {
				fmt.Fprintf(w, "%s\t%d\t%s\n", t.Name, t.Rows, t.Sum)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "source database: sqlite:PATH, or a postgres:// URL")
	cmd.Flags().StringVar(&to, "to", "", "destination database, empty: a postgres:// URL, or sqlite:PATH")
	return cmd
}
