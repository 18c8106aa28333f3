package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/estate/scope"
	"github.com/ctem-dev/ctem/internal/netguard"
	"github.com/ctem-dev/ctem/internal/notify"
	"github.com/ctem-dev/ctem/internal/store"
)

// Default host allow-lists of the webhook channels, used when
// CTEM_NOTIFY_ALLOW_HOSTS is not set.
var (
	slackHosts = []string{"hooks.slack.com"}
	teamsHosts = []string{"*.webhook.office.com", "*.logic.azure.com", "*.api.powerplatform.com"}
)

// newNotifyCmd builds `ctem notify`: a digest of what is new to Slack,
// Microsoft Teams and e-mail.
func newNotifyCmd(e *env) *cobra.Command {
	var channels []string
	var output, expiring string
	var dryRun bool
	var limit int
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Send one digest of what is new (paths to jewels, SLA breaches, expiring acceptances, notify policies) to Slack, Teams or e-mail",
		Long: `Notify gathers the events of the current data: validated attack paths to crown jewels
(not those accepted with 'ctem accept --path'), SLA breaches, risk acceptances that expire
soon, and the matches of policies whose action is notify. Each channel gets one digest
of the events it was not told of before, so running it after every scan tells only
what is new; a channel that failed is told again next time. --dry-run prints the
digests and sends nothing.

Channels are configured from the environment (a secret also from the file its _FILE
variable names); secrets are never printed:
  slack:  CTEM_SLACK_WEBHOOK_URL (an incoming webhook; allowed hosts: hooks.slack.com)
  teams:  CTEM_TEAMS_WEBHOOK_URL (a Workflows or connector webhook; allowed hosts:
          *.webhook.office.com, *.logic.azure.com, *.api.powerplatform.com)
  email:  CTEM_SMTP_ADDR (host:port), CTEM_SMTP_FROM, CTEM_SMTP_TO (comma-separated),
          CTEM_SMTP_USERNAME and CTEM_SMTP_PASSWORD (PLAIN after STARTTLS), and
          CTEM_SMTP_ALLOW_PLAIN=1 to send to a relay that offers no STARTTLS
Outbound rules: https only, and no private, loopback or link-local address, unless
CTEM_NOTIFY_ALLOW_PRIVATE=1; CTEM_NOTIFY_ALLOW_HOSTS (comma-separated, *.domain for a
domain's hosts) replaces the allowed hosts.
Channels of one team (told only of its own paths, SLA breaches and acceptances):
CTEM_NOTIFY_ROUTES=TEAM=slack:VARIABLE,TEAM=teams:VARIABLE,TEAM=email:ADDRESS[;ADDRESS]
where VARIABLE names the variable holding the webhook's URL (docs/mobilisation.md).`,
		Example: `  ctem notify --dry-run
  CTEM_SLACK_WEBHOOK_URL_FILE=/run/secrets/slack ctem notify --channel slack`,
		Args: wrapArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outTable, outJSON); err != nil {
				return err
			}
			if limit < 1 || limit > 100 {
				// Slack takes 50 blocks and Teams about 28 kB a message.
				return usage(fmt.Errorf("--max %d: want 1 to 100", limit))
			}
			within, err := scope.ParseDuration(expiring)
			if err != nil {
				return usage(fmt.Errorf("--expiring-within: %w", err))
			}
			senders, err := e.notifiers(channels)
			if err != nil {
				return err
			}
			if len(senders) == 0 && !dryRun {
				return usage(fmt.Errorf("no channel is configured: set CTEM_SLACK_WEBHOOK_URL, CTEM_TEAMS_WEBHOOK_URL or CTEM_SMTP_ADDR (see 'ctem notify --help'), or use --dry-run"))
			}
			if len(senders) == 0 {
				senders = []notify.Sender{preview{}}
			}
			ctx := cmd.Context()
			a, err := e.newApp(ctx)
			if err != nil {
				return err
			}
			defer a.Store.Close()
			events, err := notify.Collect(ctx, a, notify.CollectOptions{ExpiringWithin: time.Duration(within)})
			if err != nil {
				return err
			}
			recs, _ := a.Store.(store.Notifications)
			out, err := notify.Run(ctx, recs, senders, events, limit, dryRun, time.Now().UTC())
			if output == outJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if werr := enc.Encode(out); werr != nil && err == nil {
					err = werr
				}
				return err
			}
			for _, o := range out {
				status := fmt.Sprintf("%d sent, %d told before", o.Sent, o.Already)
				if dryRun {
					status = fmt.Sprintf("%d would be sent, %d told before (dry run)", o.Sent, o.Already)
				}
				if o.Error != "" {
					status = "failed: " + o.Error
				}
				fmt.Fprintf(e.stdout, "%s: %s\n", o.Channel, sanitize(status))
				if dryRun && o.Message != nil {
					fmt.Fprintf(e.stdout, "  %s\n", sanitize(o.Message.Title))
					for _, ev := range o.Message.Events {
						fmt.Fprintf(e.stdout, "  - [%s] %s\n", ev.Kind, sanitize(ev.Title))
					}
					if o.Message.More > 0 {
						fmt.Fprintf(e.stdout, "  and %d more\n", o.Message.More)
					}
				}
			}
			return err
		},
	}
	cmd.Flags().StringSliceVar(&channels, "channel", nil, "slack, teams or email (repeatable; default: every configured channel)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the digests; send nothing and record no notification")
	cmd.Flags().IntVar(&limit, "max", 20, "the most events a digest lists, 1 to 100 (the rest are counted)")
	cmd.Flags().StringVar(&expiring, "expiring-within", "7d", "announce acceptances that expire within this time")
	cmd.Flags().StringVarP(&output, "output", "o", outTable, "output format: table or json")
	return cmd
}

// preview is the channel of a dry run without a configured channel.
type preview struct{}

func (preview) Name() string { return "preview" }

func (preview) Send(_ context.Context, _ notify.Message) error { return nil }

// notifiers builds the channels named (all configured when none is) from
// the environment.
func (e *env) notifiers(names []string) ([]notify.Sender, error) {
	for _, n := range names {
		if !slices.Contains([]string{"slack", "teams", "email"}, n) {
			return nil, usage(fmt.Errorf("--channel %q: want slack, teams or email", n))
		}
	}
	want := func(n string) bool { return len(names) == 0 || slices.Contains(names, n) }
	base := netguard.Policy{AllowPrivate: e.getenv("CTEM_NOTIFY_ALLOW_PRIVATE") == "1"}
	hosts := func(def []string) []string {
		if v := e.getenv("CTEM_NOTIFY_ALLOW_HOSTS"); v != "" {
			var out []string
			for h := range strings.SplitSeq(v, ",") {
				if h = strings.TrimSpace(h); h != "" {
					out = append(out, h)
				}
			}
			return out
		}
		return def
	}
	var out []notify.Sender
	for _, ch := range []struct {
		name, env string
		hosts     []string
		make      func(notify.Poster) notify.Sender
	}{
		{"slack", "CTEM_SLACK_WEBHOOK_URL", slackHosts, func(p notify.Poster) notify.Sender { return &notify.Slack{Poster: p} }},
		{"teams", "CTEM_TEAMS_WEBHOOK_URL", teamsHosts, func(p notify.Poster) notify.Sender { return &notify.Teams{Poster: p} }},
	} {
		if !want(ch.name) {
			continue
		}
		url, err := e.secret(ch.env)
		if err != nil {
			return nil, err
		}
		if url == "" {
			if len(names) > 0 && !e.routesKind(ch.name) {
				return nil, usage(fmt.Errorf("--channel %s: %s is not set", ch.name, ch.env))
			}
			continue
		}
		pol := base
		pol.AllowHosts = hosts(ch.hosts)
		if _, err := pol.CheckURL(url); err != nil {
			return nil, usage(fmt.Errorf("%s: %w", ch.env, err))
		}
		out = append(out, ch.make(notify.Poster{URL: url, Policy: pol}))
	}
	if want("email") {
		addr := e.getenv("CTEM_SMTP_ADDR")
		if addr == "" && len(names) > 0 {
			return nil, usage(fmt.Errorf("--channel email: CTEM_SMTP_ADDR is not set"))
		}
		var to []string
		for t := range strings.SplitSeq(e.getenv("CTEM_SMTP_TO"), ",") {
			if t = strings.TrimSpace(t); t != "" {
				to = append(to, t)
			}
		}
		if addr != "" {
			m, err := e.smtpNotifier(base, hosts, to)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
	}
	routed, err := e.routedNotifiers(want, base, hosts)
	if err != nil {
		return nil, err
	}
	out = append(out, routed...)
	return out, nil
}

// smtpNotifier returns the e-mail channel to the recipients to through the
// CTEM_SMTP_* relay, nil when CTEM_SMTP_ADDR is not set.
func (e *env) smtpNotifier(base netguard.Policy, hosts func([]string) []string, to []string) (*notify.Email, error) {
	addr := e.getenv("CTEM_SMTP_ADDR")
	if addr == "" {
		return nil, nil
	}
	pw, err := e.secret("CTEM_SMTP_PASSWORD")
	if err != nil {
		return nil, err
	}
	pol := base
	if v := e.getenv("CTEM_NOTIFY_ALLOW_HOSTS"); v != "" {
		pol.AllowHosts = hosts(nil)
	}
	return &notify.Email{Addr: addr, From: e.getenv("CTEM_SMTP_FROM"), To: to, Username: e.getenv("CTEM_SMTP_USERNAME"),
		Password: pw, Policy: pol, AllowPlain: e.getenv("CTEM_SMTP_ALLOW_PLAIN") == "1"}, nil
}
