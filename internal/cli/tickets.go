package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/server"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/ticket"
	"github.com/ctem-dev/ctem/internal/ticket/github"
	"github.com/ctem-dev/ctem/internal/ticket/gitlab"
	"github.com/ctem-dev/ctem/internal/ticket/jira"
	"github.com/ctem-dev/ctem/internal/ticket/webhook"
)

// newTicketsCmd builds `ctem tickets`: one ticket per remediation action
// in the trackers people work from.
func newTicketsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tickets",
		Short: "One ticket per remediation action in GitHub Issues, GitLab issues, Jira or a signed webhook, kept in step with the fix plan",
	}
	cmd.AddCommand(newTicketsSyncCmd(e))
	return cmd
}

func newTicketsSyncCmd(e *env) *cobra.Command {
	var tracker, output string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Create, update, close and reopen the tickets of the fix plan's actions; read won't-fix back",
		Long: `Sync keeps one ticket per remediation action of the fix plan, found by a stable key
the ticket carries: it creates missing tickets, updates changed ones, closes those
whose action left the plan (fixed), reopens closed ones whose action is needed again
(regression), and reports a ticket closed as won't fix as a risk-acceptance request
(accept it with 'ctem accept'). A ticket people closed as done while its action is
still in the plan waits for the next scan: reopened if that scan still needs the
action, verified if the action left the plan. Running it twice changes nothing. --dry-run says what
it would do. Routing comes from the scope file's tickets.routes.

Credentials come from the environment (or a file named by the _FILE variable), and are
never printed or stored:
  github:   CTEM_GITHUB_TOKEN or CTEM_GITHUB_TOKEN_FILE, CTEM_GITHUB_REPO (owner/name, the
            default; routes' projects are other repositories), CTEM_GITHUB_API_URL (Enterprise)
  gitlab:   CTEM_GITLAB_TOKEN or CTEM_GITLAB_TOKEN_FILE (sent as Private-Token),
            CTEM_GITLAB_PROJECT (group/project, the default; routes' projects are other
            projects), CTEM_GITLAB_URL (a self-managed instance; default gitlab.com);
            a closed issue labelled "won't fix" (or wontfix, not planned) is won't fix
  jira:     CTEM_JIRA_URL, CTEM_JIRA_PROJECT, CTEM_JIRA_EMAIL (Cloud; empty for a Data
            Center personal access token), CTEM_JIRA_TOKEN or CTEM_JIRA_TOKEN_FILE
  webhook:  CTEM_WEBHOOK_URL, CTEM_WEBHOOK_SECRET or CTEM_WEBHOOK_SECRET_FILE
            (deliveries signed X-Ctem-Signature: sha256=HMAC(secret, timestamp.body))`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			ctx := cmd.Context()
			a, err := e.newApp(ctx)
			if err != nil {
				return err
			}
			defer a.Store.Close()
			sc, err := a.ScopeInForce(ctx)
			if err != nil {
				return err
			}
			var projects []string
			for _, r := range sc.Tickets.Routes {
				projects = append(projects, r.Project)
			}
			tr, err := e.tracker(tracker, projects)
			if err != nil {
				return err
			}
			recs, ok := a.Store.(store.Mobilisation)
			if !ok {
				return fmt.Errorf("this database cannot keep ticket records")
			}
			want, err := ticket.Wanted(ctx, a)
			if err != nil {
				return err
			}
			latest, err := ticket.LatestScan(ctx, a)
			if err != nil {
				return err
			}
			res, err := ticket.SyncWith(ctx, tr, recs, want, ticket.Options{DryRun: dryRun, Now: time.Now().UTC(), LatestScan: latest})
			if res != nil && !dryRun {
				if aerr := auditMobilisation(ctx, a.Store, "tickets.sync", res.Tracker, fmt.Sprintf("%d changes, %d unchanged", len(res.Changes), res.Unchanged)); aerr != nil && err == nil {
					err = aerr
				}
			}
			if res != nil {
				if _, werr := writeListing(e.stdout, output, seqOf(res.Changes), ticketChangeColumns); werr != nil && err == nil {
					err = werr
				}
				e.logf("%s: %d changes, %d tickets in step%s", res.Tracker, len(res.Changes), res.Unchanged, map[bool]string{true: " (dry run: nothing written)"}[dryRun])
			}
			return err
		},
	}
	cmd.Flags().StringVar(&tracker, "tracker", "", "github, gitlab, jira or webhook (required)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would change, change nothing")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	return cmd
}

var ticketChangeColumns = []column[ticket.Change]{
	{"OP", 0, func(c ticket.Change) string { return c.Op }},
	{"KEY", 0, func(c ticket.Change) string { return c.Key }},
	{"TICKET", 0, func(c ticket.Change) string { return c.ID }},
	{"TITLE", 60, func(c ticket.Change) string { return c.Title }},
	{"WHY", 0, func(c ticket.Change) string { return c.Reason }},
}

// secret reads a credential from NAME, or from the file NAME_FILE names.
func (e *env) secret(name string) (string, error) {
	if v := e.getenv(name); v != "" {
		return v, nil
	}
	if f := e.getenv(name + "_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", usage(fmt.Errorf("%s_FILE: %w", name, err))
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil
}

// tracker builds the tracker named by --tracker from the environment.
func (e *env) tracker(name string, projects []string) (ticket.Tracker, error) {
	need := func(k string) (string, error) {
		v, err := e.secret(k)
		if err == nil && v == "" {
			err = usage(fmt.Errorf("%s is not set", k))
		}
		return v, err
	}
	switch name {
	case "jira":
		url, err := need("CTEM_JIRA_URL")
		if err != nil {
			return nil, err
		}
		project, err := need("CTEM_JIRA_PROJECT")
		if err != nil {
			return nil, err
		}
		token, err := need("CTEM_JIRA_TOKEN")
		if err != nil {
			return nil, err
		}
		return jira.New(url, project, e.getenv("CTEM_JIRA_EMAIL"), token, nil), nil
	case "github":
		token, err := need("CTEM_GITHUB_TOKEN")
		if err != nil {
			return nil, err
		}
		repo, err := need("CTEM_GITHUB_REPO")
		if err != nil {
			return nil, err
		}
		tr, err := github.New(token, e.getenv("CTEM_GITHUB_API_URL"), repo, projects, nil)
		if err != nil {
			return nil, usage(err)
		}
		return tr, nil
	case "gitlab":
		token, err := need("CTEM_GITLAB_TOKEN")
		if err != nil {
			return nil, err
		}
		project, err := need("CTEM_GITLAB_PROJECT")
		if err != nil {
			return nil, err
		}
		tr, err := gitlab.New(token, e.getenv("CTEM_GITLAB_URL"), project, projects, nil)
		if err != nil {
			return nil, usage(err)
		}
		return tr, nil
	case "webhook":
		url, err := need("CTEM_WEBHOOK_URL")
		if err != nil {
			return nil, err
		}
		secret, err := need("CTEM_WEBHOOK_SECRET")
		if err != nil {
			return nil, err
		}
		return &webhook.Tracker{URL: url, Secret: []byte(secret), Client: &ticket.Client{}}, nil
	}
	return nil, usage(fmt.Errorf("--tracker %q: want github, gitlab, jira or webhook", name))
}

// serverMobilisation configures the server's ticket sync from
// CTEM_TICKETS_TRACKER (github, gitlab, jira or webhook, with that
// tracker's variables as 'ctem tickets sync' reads them); unset, the
// server allows dry runs only. The credentials are read at each sync, so
// a rotated token file is picked up without a restart.
func (e *env) serverMobilisation() server.Mobilisation {
	name := e.getenv("CTEM_TICKETS_TRACKER")
	if name == "" {
		return server.Mobilisation{}
	}
	return server.Mobilisation{Tracker: func(projects []string) (ticket.Tracker, error) { return e.tracker(name, projects) }}
}
