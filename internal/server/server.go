// Package server is ctem's HTTP API: the routes over the application
// layer, authentication by API token, the authorisation table, the audit
// log, the durable ingest queue and the metrics. It decides nothing about
// security data: every answer comes from package app or the store.
package server

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/store"
)

// Store is what the server needs of the database: the application
// layer's store, and the tokens, audit log and job queue.
type Store interface {
	app.Store
	store.Tokens
	store.Audit
	store.Jobs
	store.ScheduledJobs
	store.Webhooks
	store.Users
	store.Outbox
}

// Limits bound what a request may send.
type Limits struct {
	// MaxUpload is the most bytes an ingest body may hold as sent
	// (compressed or not); MaxInput the most once decompressed.
	MaxUpload, MaxInput int64
	// MaxJSON is the most bytes of any other request body.
	MaxJSON int64
}

// DefaultLimits are the limits of a server whose Config leaves them zero.
var DefaultLimits = Limits{MaxUpload: 512 << 20, MaxInput: 2 << 30, MaxJSON: 1 << 20}

// Config is what a Server is built from. App (over Store) is required.
type Config struct {
	App   *app.App
	Store Store
	// Log receives the server's structured logs; nil discards them.
	Log *slog.Logger
	// SpoolDir holds uploads until their job has ingested them; it is
	// created when missing. Empty means a folder beside nothing: the
	// caller must set it.
	SpoolDir string
	// Limits; zero fields take DefaultLimits'.
	Limits Limits
	// Feeds returns the feeds' status for GET /api/v1/feeds; nil answers
	// an empty list.
	Feeds func() (any, error)
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// MaxAttempts is how often an interrupted job is tried before it is
	// failed; 0 is 3.
	MaxAttempts int
	// RateLimit is how many requests a second each API token may make on
	// average, RateBurst how many at once; 0 is 100 and 200, a negative
	// RateLimit none.
	RateLimit float64
	RateBurst int
	// Mobilisation configures the ticket sync route.
	Mobilisation Mobilisation
	// Webhooks says where event deliveries may go and how they are
	// retried.
	Webhooks WebhookConfig
	// Schedule says how often the periodic jobs run.
	Schedule Schedule
	// Notify configures the notification digests the server sends.
	Notify Notifications
	// UI, when set, builds the handler of every path outside the API (the
	// dashboard) from the API's handler, which it may call in-process
	// with the browser's session cookie, so that the pages see exactly
	// what the API lets the same principal see.
	UI func(api http.Handler) http.Handler
	// OIDC, when set, offers sign-in through an OpenID Connect provider.
	OIDC *OIDCConfig
	// TokenCacheTTL is how long an API token read from the database is
	// trusted before it is read again: 0 is DefaultTokenCacheTTL,
	// negative no cache. A revocation through this server applies at
	// once; one by another process sharing the database within this
	// time.
	TokenCacheTTL time.Duration
	// NoJobs makes the server an API only: it queues uploads but runs no
	// job, scheduled job or webhook delivery, and leaves the jobs found
	// running at its start alone. A worker process over the same database
	// (RunJobs; 'ctem serve --no-api') runs them, at a lower priority if
	// need be, so that the jobs' CPU and allocation do not slow the
	// API's reads.
	NoJobs bool
}

// idleConns is how many database connections a server keeps open
// between requests.
const idleConns = 32

// Server is ctem's HTTP API over one store.
type Server struct {
	app     *app.App
	st      Store
	log     *slog.Logger
	spool   string
	limits  Limits
	feeds   func() (any, error)
	clock   func() time.Time
	maxTry  int
	handler http.Handler
	metrics *metrics
	touch   toucher
	tokens  tokenCache
	limit   *limiter
	signins *limiter
	oidc    *OIDCConfig
	oidcC   oidcClient
	// kpiCache keeps recent KPI reports (see kpiTTL).
	kpiCache kpiCache
	// printing holds a token while a report is printed as PDF.
	printing chan struct{}
	estate   estateCache
	mob      Mobilisation
	wake     chan struct{}
	ready    chan struct{}
	hooks    WebhookConfig
	sched    Schedule
	notify   Notifications

	wakeDeliver chan struct{}
	// outboxMu lets one pump of the webhook outbox run at a time.
	outboxMu sync.Mutex
	// shared coalesces identical reads in flight.
	shared coalescer
	// heavy bounds the in-memory analyses of blast radius and what-if.
	heavy heavyGate
	// bg counts the delivery loop and the scheduler.
	bg sync.WaitGroup

	workerDone chan struct{}
	// noJobs: see Config.NoJobs.
	noJobs   bool
	mu       sync.Mutex
	draining bool
}

// New returns a Server. It does not listen: see Serve, or Handler for a
// test.
func New(cfg Config) (*Server, error) {
	if cfg.App == nil || cfg.Store == nil {
		return nil, errors.New("server: App and Store are required")
	}
	if cfg.SpoolDir == "" {
		return nil, errors.New("server: SpoolDir is required")
	}
	if err := os.MkdirAll(cfg.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("spool folder: %w", err)
	}
	s := &Server{app: cfg.App, st: cfg.Store, log: cfg.Log, spool: cfg.SpoolDir, limits: cfg.Limits, feeds: cfg.Feeds, clock: cfg.Now, maxTry: cfg.MaxAttempts, mob: cfg.Mobilisation,
		wake: make(chan struct{}, 1), printing: make(chan struct{}, 1), ready: make(chan struct{}), workerDone: make(chan struct{}),
		hooks: cfg.Webhooks, sched: cfg.Schedule, notify: cfg.Notify, wakeDeliver: make(chan struct{}, 1), noJobs: cfg.NoJobs}
	if s.hooks.Backoff <= 0 {
		s.hooks.Backoff = 30 * time.Second
	}
	if s.hooks.MaxBackoff <= 0 {
		s.hooks.MaxBackoff = time.Hour
	}
	if s.hooks.MaxAttempts <= 0 {
		s.hooks.MaxAttempts = 8
	}
	s.sched.norm()
	switch {
	case cfg.TokenCacheTTL == 0:
		s.tokens.ttl = DefaultTokenCacheTTL
	case cfg.TokenCacheTTL > 0:
		s.tokens.ttl = cfg.TokenCacheTTL
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.limits.MaxUpload <= 0 {
		s.limits.MaxUpload = DefaultLimits.MaxUpload
	}
	if s.limits.MaxInput <= 0 {
		s.limits.MaxInput = DefaultLimits.MaxInput
	}
	if s.limits.MaxJSON <= 0 {
		s.limits.MaxJSON = DefaultLimits.MaxJSON
	}
	if s.maxTry <= 0 {
		s.maxTry = 3
	}
	if h, ok := cfg.Store.(interface{ SQL() *sql.DB }); ok {
		// database/sql keeps 2 idle connections by default: with many
		// concurrent requests, SQLite connections would be opened (their
		// pragmas run, the schema read) and closed for every request.
		h.SQL().SetMaxIdleConns(idleConns)
	}
	switch {
	case cfg.RateLimit == 0:
		s.limit = newLimiter(100, 200)
	case cfg.RateLimit > 0:
		s.limit = newLimiter(cfg.RateLimit, max(cfg.RateBurst, 1))
	}
	// Sign-ins: 10 at once, then one every 6 s, per client address and
	// per user name (a password guesser gets 600 tries an hour at most).
	s.signins = newLimiter(1.0/6, 10)
	if cfg.OIDC != nil {
		if err := cfg.OIDC.check(); err != nil {
			return nil, fmt.Errorf("oidc: %w", err)
		}
		s.oidc = cfg.OIDC
		if s.oidc.Client == nil {
			s.oidc.Client = &http.Client{Timeout: 10 * time.Second}
		}
	}
	s.metrics = newMetrics(s)
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
	}
	unknown := s.wrap(route{Name: "unknown", Action: ActPublic, H: func(w http.ResponseWriter, r *http.Request) error {
		return errStatus(http.StatusNotFound, "no such route")
	}})
	if cfg.UI != nil {
		mux.Handle("/api/", unknown)
		mux.Handle("/", cfg.UI(mux))
	} else {
		mux.Handle("/", unknown)
	}
	// No CORS: a browser on another origin may not call the API. The
	// protection refuses cross-origin unsafe requests that a browser
	// marks (Sec-Fetch-Site, Origin), so a page elsewhere cannot make a
	// signed-in browser post to the API.
	s.handler = http.NewCrossOriginProtection().Handler(mux)
	return s, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) now() time.Time {
	if s.clock != nil {
		return s.clock().UTC()
	}
	return time.Now().UTC()
}

// ListenConfig says where and how to listen.
type ListenConfig struct {
	Addr string
	// CertFile and KeyFile, when both set, serve TLS.
	CertFile, KeyFile string
	// Insecure allows plain HTTP on an address other than loopback.
	Insecure bool
	// ShutdownGrace is how long a shutdown waits for requests and the
	// running job; 0 is 30 s.
	ShutdownGrace time.Duration
	// ReadHeaderTimeout bounds how long a client may take to send its
	// request's headers (a slow client sending them byte by byte holds a
	// connection no longer); 0 is 10 s.
	ReadHeaderTimeout time.Duration
}

// ErrInsecureListen is returned for a plain-HTTP listener on an address
// other than loopback without ListenConfig.Insecure.
var ErrInsecureListen = errors.New("refusing to serve plain HTTP on an address other than loopback: give --tls-cert and --tls-key, or --insecure-listen behind a TLS proxy")

// CheckListen returns ErrInsecureListen when lc would serve plain HTTP
// beyond loopback. A host name other than localhost counts as beyond.
func CheckListen(lc ListenConfig) error {
	if (lc.CertFile == "") != (lc.KeyFile == "") {
		return errors.New("give both --tls-cert and --tls-key, or neither")
	}
	if lc.CertFile != "" || lc.Insecure {
		return nil
	}
	host, _, err := net.SplitHostPort(lc.Addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", lc.Addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return ErrInsecureListen
}

// Serve serves on ln until ctx is done, then shuts down gracefully: it
// stops accepting, lets requests in flight finish, and lets the running
// job finish within the grace period, else cancels it (an ingest is one
// transaction: a cancelled one leaves nothing, and the job is queued
// again for the next start). ready, when not nil, is closed once the
// server accepts requests.
func (s *Server) Serve(ctx context.Context, ln net.Listener, lc ListenConfig) error {
	if err := CheckListen(ListenConfig{Addr: ln.Addr().String(), CertFile: lc.CertFile, KeyFile: lc.KeyFile, Insecure: lc.Insecure}); err != nil {
		return err
	}
	grace := lc.ShutdownGrace
	if grace <= 0 {
		grace = 30 * time.Second
	}
	if !s.noJobs {
		if err := s.requeue(ctx); err != nil {
			return err
		}
	}
	rht := lc.ReadHeaderTimeout
	if rht <= 0 {
		rht = 10 * time.Second
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: rht,
		// Whole requests: the ingest route extends its own deadline.
		ReadTimeout:    2 * time.Minute,
		WriteTimeout:   5 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if lc.CertFile != "" {
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	jobCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopJobs()
	go s.flushTouches(jobCtx)
	if s.noJobs {
		close(s.workerDone)
	} else {
		s.startJobs(jobCtx)
	}
	errc := make(chan error, 1)
	go func() {
		if lc.CertFile != "" {
			errc <- hs.ServeTLS(ln, lc.CertFile, lc.KeyFile)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	close(s.ready)
	s.log.Info("serving", "addr", ln.Addr().String(), "tls", lc.CertFile != "")
	select {
	case err := <-errc:
		stopJobs()
		<-s.workerDone
		s.bg.Wait()
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", grace)
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.poke()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	// The running job gets what is left of the grace period.
	select {
	case <-s.workerDone:
	case <-sctx.Done():
		stopJobs()
		<-s.workerDone
	}
	stopJobs()
	<-s.workerDone
	s.bg.Wait()
	if touched := s.touch.take(); len(touched) > 0 {
		_ = s.st.TouchTokens(context.Background(), touched)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		hs.Close()
		return nil
	}
	return err
}

// requeue queues again the jobs that the last stop of the process
// running them interrupted.
func (s *Server) requeue(ctx context.Context) error {
	n, err := s.st.RequeueRunning(ctx, s.maxTry, s.now())
	if err != nil {
		return err
	}
	if n > 0 {
		s.log.Info("jobs interrupted by the last stop queued again", "jobs", n)
	}
	return nil
}

// startJobs starts the job worker, the webhook deliveries and the
// scheduler, until ctx is done.
func (s *Server) startJobs(ctx context.Context) {
	go s.work(ctx)
	s.bg.Go(func() { s.deliver(ctx) })
	s.bg.Go(func() { s.schedule(ctx) })
}

// RunJobs runs the server's jobs without serving HTTP: the queued
// ingests and re-analyses, the scheduled jobs and the webhook
// deliveries, until ctx is done. Then it lets the running job finish
// within grace (0 is 30 s), else cancels it: a cancelled ingest leaves
// nothing and is queued again at the next start. It is the worker
// process beside API servers made with Config.NoJobs over the same
// database; at most one such worker may run over a SQLite database, as
// its start queues again every job found running. Ready is closed once
// it runs.
func (s *Server) RunJobs(ctx context.Context, grace time.Duration) error {
	if grace <= 0 {
		grace = 30 * time.Second
	}
	if err := s.requeue(ctx); err != nil {
		return err
	}
	jobCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopJobs()
	s.startJobs(jobCtx)
	close(s.ready)
	s.log.Info("running jobs")
	<-ctx.Done()
	s.log.Info("stopping", "grace", grace)
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.poke()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-s.workerDone:
	case <-t.C:
		stopJobs()
		<-s.workerDone
	}
	stopJobs()
	s.bg.Wait()
	return nil
}

// Ready is closed once Serve accepts requests.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// flushTouches writes the tokens' last use every few seconds.
func (s *Server) flushTouches(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	var swept time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if now.Sub(swept) > 10*time.Minute {
				s.sweepSessions(ctx, s.now())
				swept = now
			}
			if m := s.touch.take(); len(m) > 0 {
				if err := s.st.TouchTokens(ctx, m); err != nil {
					s.log.Warn("record token use", "err", err)
				}
			}
		}
	}
}

// spoolPath is where a job's upload waits.
func (s *Server) spoolPath(id string) string { return filepath.Join(s.spool, id+".upload") }
