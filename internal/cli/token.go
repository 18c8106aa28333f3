package cli

import (
	"fmt"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/server"
	"github.com/ctem-dev/ctem/internal/store"
)

// cliActor names the person at the command line in the audit log.
func cliActor() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return "cli"
}

func auditEntry(action, target, detail string) store.AuditEntry {
	return store.AuditEntry{At: time.Now().UTC(), Actor: cliActor(), Action: action, Target: target, Outcome: "ok", Detail: detail}
}

// parseDays reads a lifetime written as days ("90d").
func parseDays(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	n, ok := strings.CutSuffix(s, "d")
	days, err := strconv.Atoi(n)
	if !ok || err != nil || days < 1 || days > 3660 {
		return 0, fmt.Errorf("--expires %q: want a number of days from 1 to 3660, as 90d", s)
	}
	return time.Duration(days) * 24 * time.Hour, nil
}

// newTokenCmd builds `ctem token`: the server's API tokens.
func newTokenCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke the API tokens of 'ctem serve'"}
	var name, role, team, expires, output string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token; it is printed once, and only its hash is stored",
		Example: `  ctem token create --name ci --role uploader --expires 90d
  ctem token create --name payments-team --role analyst --team payments`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ttl, err := parseDays(expires)
			if err != nil {
				return usage(err)
			}
			st, err := e.openSQL(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			ctx := cliAudit(cmd.Context(), store.AuditToken, "token.create", func(res any) (string, string) {
				t, _ := res.(store.Token)
				return t.ID, fmt.Sprintf("name %q role %s team %q", t.Name, t.Role, t.Team)
			})
			t, secret, err := server.CreateToken(ctx, st, server.TokenRequest{Name: name, Role: role, Team: team, TTL: ttl, CreatedBy: cliActor()}, time.Now())
			if err != nil {
				return usage(err)
			}
			fmt.Fprintln(e.stdout, secret)
			e.logf("token %s (%s, role %s) created; it is shown this once", t.ID, t.Name, t.Role)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the token is for (required)")
	create.Flags().StringVar(&role, "role", "", "admin, analyst, viewer or uploader (required)")
	create.Flags().StringVar(&team, "team", "", "limit the token to the assets this team owns in the scope")
	create.Flags().StringVar(&expires, "expires", "", "lifetime in days (90d); none by default")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("role")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			st, err := e.openSQL(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			ts, err := st.ListTokens(cmd.Context())
			if err != nil {
				return err
			}
			_, err = writeListing(e.stdout, output, seqOf(ts), []column[store.Token]{
				{"ID", 0, func(t store.Token) string { return t.ID }},
				{"NAME", 30, func(t store.Token) string { return t.Name }},
				{"ROLE", 0, func(t store.Token) string { return t.Role }},
				{"TEAM", 0, func(t store.Token) string { return t.Team }},
				{"CREATED", 0, func(t store.Token) string { return when(t.CreatedAt) }},
				{"EXPIRES", 0, func(t store.Token) string { return when(t.ExpiresAt) }},
				{"REVOKED", 0, func(t store.Token) string { return when(t.RevokedAt) }},
				{"LAST USED", 0, func(t store.Token) string { return when(t.LastUsedAt) }},
			})
			return err
		},
	}
	list.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token: requests with it are refused from now on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := e.openSQL(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			ctx := cliAudit(cmd.Context(), store.AuditToken, "token.revoke", func(any) (string, string) { return args[0], "" })
			t, err := st.RevokeToken(ctx, args[0], time.Now())
			if err != nil {
				return err
			}
			e.logf("token %s (%s) revoked", t.ID, t.Name)
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
