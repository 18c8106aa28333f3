package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/intel/feeds"
	"github.com/ctem-dev/ctem/internal/server"
	"github.com/ctem-dev/ctem/internal/store/open"
)

// newServeCmd builds `ctem serve`: the REST API over the database.
func newServeCmd(e *env) *cobra.Command {
	var lc server.ListenConfig
	var logFormat string
	var maxUpload int64
	var rate float64
	var spool string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the REST API over the database (tokens: 'ctem token create')",
		Long: `Serve answers ctem's REST API (api/openapi.yaml, also at /api/v1/openapi.json)
over the database: listings, attack paths, the fix plan, triage, and uploads of
reports, which a job queue in the database ingests. Every request carries an API
token made with 'ctem token create'. It binds to loopback unless told otherwise,
and refuses plain HTTP on any other address without --insecure-listen. Analyses
read the scope and CODEOWNERS stored in the database ('ctem scope set'), never
a file in the working directory. SIGINT or SIGTERM stops it gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := server.CheckListen(lc); err != nil {
				return usage(err)
			}
			if logFormat != "text" && logFormat != "json" {
				return usage(fmt.Errorf("--log-format %q: want text or json", logFormat))
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
			var h slog.Handler = slog.NewTextHandler(e.stderr, nil)
			if logFormat == "json" {
				h = slog.NewJSONHandler(e.stderr, nil)
			}
			log := slog.New(h)
			a := &app.App{Store: st, Formats: inputs.All(), Intel: e.loadIntel,
				Logf:  func(f string, args ...any) { log.Info(fmt.Sprintf(f, args...)) },
				Warnf: func(f string, args ...any) { log.Warn(fmt.Sprintf(f, args...)) }}
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
			srv, err := server.New(server.Config{App: a, Store: st, Log: log, SpoolDir: spool,
				Limits: server.Limits{MaxUpload: maxUpload}, RateLimit: rate, RateBurst: int(2 * rate),
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
	f.StringVar(&spool, "spool", "", "folder holding uploads until their job ingests them (default ctem-spool beside a SQLite database, else ctem/spool in the user data directory); instances sharing a PostgreSQL database must share it")
	return cmd
}

// auditCLI appends a command line's change to the audit log.
func auditCLI(ctx context.Context, st interface {
	server.Store
}, action, target, detail string) error {
	_, err := st.AppendAudit(ctx, auditEntry(action, target, detail))
	return err
}
