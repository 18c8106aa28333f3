package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/intel/feeds"
	"github.com/ctem-dev/ctem/internal/server"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/open"
	"github.com/ctem-dev/ctem/internal/web"
)

// newServeCmd builds `ctem serve`: the REST API over the database.
func newServeCmd(e *env) *cobra.Command {
	var lc server.ListenConfig
	var logFormat string
	var maxUpload int64
	var rate float64
	var hooks server.WebhookConfig
	var sched server.Schedule
	var oidcFile string
	var spool string
	var notifyAfter bool
	var retention, failedRetention, attemptRetention string
	var jobs, noAPI bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the dashboard and the REST API over the database (users: 'ctem user add', tokens: 'ctem token create')",
		Long: `Serve answers ctem's dashboard at / (sign in with a user made by 'ctem user
add') and its REST API (api/openapi.yaml, also at /api/v1/openapi.json)
over the database: listings, attack paths, the fix plan, triage, and uploads of
reports, which a job queue in the database ingests. Every request carries an API
token made with 'ctem token create'. It binds to loopback unless told otherwise,
and refuses plain HTTP on any other address without --insecure-listen. Analyses
read the scope and CODEOWNERS stored in the database ('ctem scope set'), never
a file in the working directory. SIGINT or SIGTERM stops it gracefully.
POST /api/v1/tickets/sync writes to the tracker CTEM_TICKETS_TRACKER names (github,
gitlab, jira or webhook, with the variables 'ctem tickets sync --help' lists); without
it the server answers dry runs only. The channels 'ctem notify --help' describes
(CTEM_SLACK_WEBHOOK_URL, CTEM_TEAMS_WEBHOOK_URL, CTEM_SMTP_*), when configured, get a
digest of what is new after each analysis the server runs and every --notify-interval.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := server.CheckListen(lc); err != nil {
				return usage(err)
			}
			if noAPI && !jobs {
				return usage(fmt.Errorf("--no-api with --jobs=false would do nothing"))
			}
			if logFormat != "text" && logFormat != "json" {
				return usage(fmt.Errorf("--log-format %q: want text or json", logFormat))
			}
			var err error
			if sched.JobRetention, err = parseRetention("--job-retention", retention); err != nil {
				return usage(err)
			}
			if sched.FailedJobRetention, err = parseRetention("--failed-job-retention", failedRetention); err != nil {
				return usage(err)
			}
			if sched.AttemptRetention, err = parseRetention("--webhook-attempt-retention", attemptRetention); err != nil {
				return usage(err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			path, err := e.databasePath()
			if err != nil {
				return err
			}
			st, err := e.openDB(ctx, path)
			if err != nil {
				return err
			}
			defer st.Close()
			if sched.Feeds > 0 {
				cfg, err := e.feedsConfig()
				if err != nil {
					return err
				}
				// Only the sources configured here ($CTEM_KEV_URL ...),
				// never a URL from a request.
				if cfg.Offline || (cfg.KEV.URL == "" && cfg.EPSS.URL == "") {
					return usage(fmt.Errorf("--feeds-interval: no feed source is configured (CTEM_OFFLINE is set, or both feeds are off)"))
				}
				sched.UpdateFeeds = func(ctx context.Context) ([]string, error) {
					results, err := feeds.Update(ctx, cfg)
					return changedCVEs(results), err
				}
			}
			senders, err := e.notifiers(nil)
			if err != nil {
				return err
			}
			var h slog.Handler = slog.NewTextHandler(e.stderr, nil)
			if logFormat == "json" {
				h = slog.NewJSONHandler(e.stderr, nil)
			}
			log := slog.New(h)
			a := &app.App{Store: st, Formats: inputs.All(), Intel: e.loadIntel,
				Logf:  func(f string, args ...any) { log.Info(fmt.Sprintf(f, args...)) },
				Warnf: func(f string, args ...any) { log.Warn(fmt.Sprintf(f, args...)) }}
			var oc *server.OIDCConfig
			if oidcFile != "" {
				if oc, err = server.LoadOIDCConfig(oidcFile, e.getenv); err != nil {
					return usage(fmt.Errorf("--oidc: %w", err))
				}
			}
			ui, err := web.New(web.Config{Log: log, MaxUpload: maxUpload, OIDC: oc != nil})
			if err != nil {
				return err
			}
			if spool == "" {
				spool = filepath.Join(filepath.Dir(path), "ctem-spool")
				if open.IsPostgres(path) {
					dir, err := dataDir(e.getenv)
					if err != nil {
						return usage(fmt.Errorf("no --spool given and no data directory: %w", err))
					}
					spool = filepath.Join(dir, "ctem", "spool")
				}
			}
			srv, err := server.New(server.Config{App: a, Store: st, Log: log, SpoolDir: spool, UI: ui.WithAPI, OIDC: oc,
				Limits: server.Limits{MaxUpload: maxUpload}, RateLimit: rate, RateBurst: int(2 * rate), Mobilisation: e.serverMobilisation(),
				Webhooks: hooks, Schedule: sched, Notify: server.Notifications{Senders: senders, AfterAnalysis: notifyAfter}, NoJobs: !jobs,
				Feeds: func() (any, error) {
					cfg, err := e.feedsConfig()
					if err != nil {
						return nil, err
					}
					return feeds.Status(cfg)
				}})
			if err != nil {
				return err
			}
			if noAPI {
				return srv.RunJobs(ctx, lc.ShutdownGrace)
			}
			ln, err := net.Listen("tcp", lc.Addr)
			if err != nil {
				return usage(fmt.Errorf("listen: %w", err))
			}
			return srv.Serve(ctx, ln, lc)
		},
	}
	f := cmd.Flags()
	f.StringVar(&lc.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&lc.CertFile, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&lc.KeyFile, "tls-key", "", "TLS private key file (PEM)")
	f.BoolVar(&lc.Insecure, "insecure-listen", false, "allow plain HTTP on an address other than loopback (behind a TLS proxy)")
	f.DurationVar(&lc.ShutdownGrace, "shutdown-grace", 30*time.Second, "how long a shutdown waits for requests and the running job")
	f.StringVar(&logFormat, "log-format", "text", "log format on stderr: text or json")
	f.Float64Var(&rate, "rate-limit", 100, "requests a second each token may make on average (twice that at once); negative: no limit")
	f.Int64Var(&maxUpload, "max-upload", server.DefaultLimits.MaxUpload, "largest upload accepted, in bytes")
	f.StringSliceVar(&hooks.Guard.Allow, "webhook-allow", nil, "hosts webhooks may be delivered to (name, address, or *.domain); none by default")
	f.BoolVar(&hooks.Guard.AllowPrivate, "allow-private-webhooks", false, "let webhooks reach loopback, link-local and private addresses, and plain http")
	f.DurationVar(&sched.Expire, "expire-interval", time.Hour, "how often accepted risks past their expiry are reopened (negative: never)")
	f.DurationVar(&sched.SLA, "sla-interval", time.Hour, "how often SLAs are checked for new breaches, sent as sla.breach (negative: never)")
	f.DurationVar(&sched.Feeds, "feeds-interval", 0, "how often the threat-intelligence feeds are updated from their configured sources, then the paths re-analysed (0: never)")
	f.DurationVar(&sched.Notify, "notify-interval", 0, "how often a digest of what is new is sent to the configured channels (see 'ctem notify --help'), once per period across servers (0: only after analyses)")
	f.StringVar(&retention, "job-retention", "7d", "how long finished jobs (ingests, deliveries, scheduled jobs) are kept: days (7d), weeks (2w), a Go duration, or never")
	f.StringVar(&failedRetention, "failed-job-retention", "30d", "how long failed jobs are kept: days (30d), weeks, a Go duration, or never")
	f.StringVar(&attemptRetention, "webhook-attempt-retention", "30d", "how long webhook delivery attempts are kept: days, weeks, a Go duration, or never")
	f.DurationVar(&sched.Purge, "purge-interval", time.Hour, "how often finished jobs and webhook attempts past their retention are deleted, once per period across servers (negative: never)")
	f.BoolVar(&notifyAfter, "notify-after-analysis", true, "send a digest of what is new to the configured channels after each analysis the server runs")
	f.StringVar(&oidcFile, "oidc", "", "OpenID Connect sign-in: a YAML file (issuer, client_id, redirect_url, groups: {GROUP: {role, team}}); the client secret in $CTEM_OIDC_CLIENT_SECRET or client_secret_file")
	f.StringVar(&spool, "spool", "", "folder holding uploads until their job ingests them (default ctem-spool beside a SQLite database, else ctem/spool in the user data directory); instances sharing a PostgreSQL database must share it")
	f.BoolVar(&jobs, "jobs", true, "run the queued jobs (ingests, re-analyses, scheduled jobs, webhook deliveries) in this process; false: serve the API only, and run one 'ctem serve --no-api' process over the same database")
	f.BoolVar(&noAPI, "no-api", false, "run the queued jobs only, serving no HTTP: the worker beside API servers started with --jobs=false (e.g. under nice, so that reads win the CPU)")
	return cmd
}

// cliAuditExpire returns ctx with an audit note for an expiry of
// acceptances: one entry per exposure reopened, as the server's.
func cliAuditExpire(ctx context.Context) context.Context {
	return store.WithAudit(ctx, store.AuditExpire, func(res any) []store.AuditEntry {
		changes, _ := res.([]store.StatusChange)
		out := make([]store.AuditEntry, 0, len(changes))
		for _, c := range changes {
			out = append(out, auditEntry("triage.expire", c.ExposureID, fmt.Sprintf("%s -> %s: %s", c.From, c.To, c.Reason)))
		}
		return out
	})
}

// cliAudit returns ctx with an audit note for the next change of this
// kind (see store.WithAudit): the command line's change and its entry
// commit in one transaction.
func cliAudit(ctx context.Context, kind, action string, build func(result any) (target, detail string)) context.Context {
	return store.WithAudit(ctx, kind, func(res any) []store.AuditEntry {
		target, detail := build(res)
		return []store.AuditEntry{auditEntry(action, target, detail)}
	})
}

// parseRetention reads a retention flag: days (7d), weeks (2w), a Go
// duration, or never (returned as -1).
func parseRetention(flag, s string) (time.Duration, error) {
	if strings.TrimSpace(s) == "never" {
		return -1, nil
	}
	d, err := parseSince(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: want e.g. 7d, 2w, 168h or never", flag, s)
	}
	return d, nil
}
