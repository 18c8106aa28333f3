package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/server"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/webhook"
)

// newWebhookCmd builds `ctem webhook`: the subscriptions 'ctem serve'
// delivers events to.
func newWebhookCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Add, list and remove the webhooks 'ctem serve' sends events to",
		Long: `A webhook receives a signed JSON POST for each event it subscribes to:
path.opened and path.closed (an analysis found an attack path open or gone),
path.validated (an opened path to a crown jewel whose every step is evidenced),
sla.breach (an exposure passed its SLA due date). 'ctem serve' delivers them,
retrying failures with exponential backoff, to hosts on its --webhook-allow list
only, and never to loopback, link-local, private or other internal addresses
unless started with --allow-private-webhooks.

Each delivery has the headers X-Ctem-Event, X-Ctem-Delivery (the same on every
retry) and X-Ctem-Signature: t=TIMESTAMP,v1=HEX, where HEX is the hex
HMAC-SHA256, under the webhook's secret, of TIMESTAMP, ".", and the raw body.`,
	}
	var events, secret, secretFile, output string
	var allowPrivate bool
	add := &cobra.Command{
		Use:   "add URL",
		Short: "Subscribe a URL to events; its secret is printed once",
		Example: `  ctem webhook add https://hooks.example.com/ctem --events path.opened,path.closed,path.validated,sla.breach
  ctem webhook add https://hooks.example.com/ctem --events sla.breach --secret "$(cat secret.txt)"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if secretFile != "" {
				if secret != "" {
					return usage(fmt.Errorf("give --secret or --secret-file, not both"))
				}
				b, err := os.ReadFile(secretFile)
				if err != nil {
					return usage(fmt.Errorf("--secret-file: %w", err))
				}
				secret = strings.TrimSpace(string(b))
			}
			st, err := e.openSQL(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			// The allow-list is the server's: here only the URL's form,
			// and literal internal addresses, are checked.
			check := func(u string) error { _, err := webhook.CheckSyntax(u, allowPrivate); return err }
			ctx := cliAudit(cmd.Context(), store.AuditWebhook, "webhook.create", func(res any) (string, string) {
				h, _ := res.(store.Webhook)
				return h.ID, fmt.Sprintf("url %q events %s", h.URL, strings.Join(h.Events, ","))
			})
			h, sec, err := server.CreateWebhook(ctx, st, server.WebhookRequest{URL: args[0], Events: strings.Split(events, ","), Secret: secret, CreatedBy: cliActor()}, check, time.Now())
			if err != nil {
				return usage(err)
			}
			if secret == "" {
				fmt.Fprintln(e.stdout, sec)
				e.logf("webhook %s added; its secret (above) is shown this once", h.ID)
			} else {
				fmt.Fprintln(e.stdout, h.ID)
			}
			return nil
		},
	}
	add.Flags().StringVar(&events, "events", "", "events to send, comma-separated: "+strings.Join(webhook.Events, ",")+" (required)")
	add.Flags().StringVar(&secret, "secret", "", "the secret that signs deliveries (16 characters or more); one is made and printed when absent")
	add.Flags().StringVar(&secretFile, "secret-file", "", "file holding the secret (a --secret on the command line shows in the process list)")
	add.Flags().BoolVar(&allowPrivate, "allow-private-webhooks", false, "accept a loopback or private address, and plain http (the server must allow them too)")
	_ = add.MarkFlagRequired("events")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the webhooks (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			st, err := e.openServerStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			hs, err := st.ListWebhooks(cmd.Context(), false)
			if err != nil {
				return err
			}
			_, err = writeListing(e.stdout, output, seqOf(hs), []column[store.Webhook]{
				{"ID", 0, func(h store.Webhook) string { return h.ID }},
				{"URL", 60, func(h store.Webhook) string { return h.URL }},
				{"EVENTS", 0, func(h store.Webhook) string { return strings.Join(h.Events, ",") }},
				{"CREATED", 0, func(h store.Webhook) string { return when(h.CreatedAt) }},
			})
			return err
		},
	}
	list.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	rm := &cobra.Command{
		Use:   "rm ID",
		Short: "Remove a webhook; deliveries still queued for it are dropped",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := e.openServerStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			ctx := cliAudit(cmd.Context(), store.AuditWebhook, "webhook.delete", func(any) (string, string) { return args[0], "" })
			if err := st.DeleteWebhook(ctx, args[0], time.Now()); err != nil {
				return err
			}
			e.logf("webhook %s removed", args[0])
			return nil
		},
	}
	var limit int
	deliveries := &cobra.Command{
		Use:   "deliveries ID",
		Short: "List a webhook's delivery attempts, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, outTable, outJSON, outCSV); err != nil {
				return err
			}
			st, err := e.openServerStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			as, err := st.WebhookAttempts(cmd.Context(), args[0], limit)
			if err != nil {
				return err
			}
			_, err = writeListing(e.stdout, output, seqOf(as), []column[store.WebhookAttempt]{
				{"DELIVERY", 0, func(a store.WebhookAttempt) string { return a.JobID }},
				{"ATTEMPT", 0, func(a store.WebhookAttempt) string { return strconv.Itoa(a.Attempt) }},
				{"EVENT", 0, func(a store.WebhookAttempt) string { return a.Event }},
				{"AT", 0, func(a store.WebhookAttempt) string { return when(a.At) }},
				{"STATUS", 0, func(a store.WebhookAttempt) string { return strconv.Itoa(a.Status) }},
				{"ERROR", 60, func(a store.WebhookAttempt) string { return a.Error }},
			})
			return err
		},
	}
	deliveries.Flags().StringVarP(&output, "output", "o", outTable, "output format: table, json or csv")
	deliveries.Flags().IntVar(&limit, "limit", 100, "most attempts to list (0: all)")
	cmd.AddCommand(add, list, rm, deliveries)
	return cmd
}

// openServerStore opens the database for the server's own records.
func (e *env) openServerStore(cmd *cobra.Command) (interface {
	store.Webhooks
	server.Store
	Close() error
}, error) {
	return e.openSQL(cmd.Context())
}
