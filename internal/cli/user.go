package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ctem-dev/ctem/internal/server"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
)

// readPassword reads a password: from the terminal without echo, asked
// twice, when stdin is one; else the first line of stdin. A password is
// never a flag, which would leave it in the shell's history and in the
// process list.
func readPassword(e *env) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(e.stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the two passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// newUserCmd builds `ctem user`: the dashboard's local users.
func newUserCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Add, list and disable the local users who sign in to the dashboard"}
	var role, team, output string
	open := func(cmd *cobra.Command) (*sqlstore.DB, error) {
		return e.openSQL(cmd.Context())
	}
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user; the password is read from the terminal (or stdin), and only its argon2id hash is stored",
		Example: `  ctem user add alice --role analyst
  ctem user add bob --role viewer --team payments < password.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !server.ValidRole(role) {
				return usage(fmt.Errorf("--role %q: want admin, analyst, viewer or uploader", role))
			}
			pw, err := readPassword(e)
			if err != nil {
				return usage(err)
			}
			st, err := open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			u, err := server.CreateUser(cmd.Context(), st, server.UserRequest{Name: args[0], Role: role, Team: team, Password: pw, CreatedBy: cliActor()}, time.Now())
			if err != nil {
				return usage(err)
			}
			if err := auditCLI(cmd.Context(), st, "user.create", u.Name, fmt.Sprintf("role %s team %q", u.Role, u.Team)); err != nil {
				return err
			}
			e.logf("user %s (role %s) added", u.Name, u.Role)
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "", "admin, analyst, viewer or uploader (required)")
	add.Flags().StringVar(&team, "team", "", "limit the user to the assets this team owns in the scope")
	_ = add.MarkFlagRequired("role")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the users (never their password hashes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			st, err := open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			us, err := st.ListUsers(cmd.Context())
			if err != nil {
				return err
			}
			_, err = writeListing(e.stdout, output, seqOf(us), []column[store.User]{
				{"NAME", 30, func(u store.User) string { return u.Name }},
				{"ROLE", 0, func(u store.User) string { return u.Role }},
				{"TEAM", 0, func(u store.User) string { return u.Team }},
				{"CREATED", 0, func(u store.User) string { return when(u.CreatedAt) }},
				{"DISABLED", 0, func(u store.User) string { return when(u.DisabledAt) }},
				{"LAST SIGN-IN", 0, func(u store.User) string { return when(u.LastLoginAt) }},
			})
			return err
		},
	}
	list.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	disable := &cobra.Command{
		Use:   "disable NAME",
		Short: "Disable a user and end its sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			u, err := st.DisableUser(cmd.Context(), args[0], time.Now().UTC())
			if err != nil {
				return err
			}
			if err := auditCLI(cmd.Context(), st, "user.disable", u.Name, ""); err != nil {
				return err
			}
			e.logf("user %s disabled; its sessions are ended", u.Name)
			return nil
		},
	}
	cmd.AddCommand(add, list, disable)
	return cmd
}

// auditCLI appends a command line's change to the audit log.
func auditCLI(ctx context.Context, st interface {
	AppendAudit(context.Context, store.AuditEntry) (store.AuditEntry, error)
}, action, target, detail string) error {
	_, err := st.AppendAudit(ctx, auditEntry(action, target, detail))
	return err
}
