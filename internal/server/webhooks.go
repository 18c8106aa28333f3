package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/webhook"
)

// WebhookConfig says where deliveries may go and how they are retried.
type WebhookConfig struct {
	// Guard holds the allow-list of destination hosts and whether
	// private addresses may be reached (see webhook.Guard).
	Guard webhook.Guard
	// Backoff is the wait before the second attempt, doubled for each
	// later one up to MaxBackoff; 0 is 30 s (MaxBackoff 0 is an hour).
	Backoff, MaxBackoff time.Duration
	// MaxAttempts is how often a delivery is tried; 0 is 8.
	MaxAttempts int
	// Timeout bounds one attempt; 0 is 10 s.
	Timeout time.Duration
}

// jobWebhook is the kind of a delivery job.
const jobWebhook = "webhook"

// deliveryParams are a delivery job's parameters: the body is built when
// the event happens, so every attempt sends the same bytes.
type deliveryParams struct {
	Webhook string          `json:"webhook"`
	Event   string          `json:"event"`
	Body    json.RawMessage `json:"body"`
}

// WebhookRequest is a new subscription.
type WebhookRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
	// Secret signs the deliveries; empty makes one, returned once.
	Secret    string `json:"secret,omitempty"`
	CreatedBy string `json:"-"`
}

// CreateWebhook checks a subscription and stores it. check vets the URL
// (the server's guard with its allow-list; the command line, which has
// none, checks the form). It returns the subscription and its secret.
func CreateWebhook(ctx context.Context, st store.Webhooks, req WebhookRequest, check func(string) error, now time.Time) (store.Webhook, string, error) {
	if err := check(req.URL); err != nil {
		return store.Webhook{}, "", fmt.Errorf("%w: %w", err, store.ErrInvalid)
	}
	events, err := webhook.ParseEvents(strings.Join(req.Events, ","))
	if err != nil {
		return store.Webhook{}, "", fmt.Errorf("%w: %w", err, store.ErrInvalid)
	}
	secret := req.Secret
	if secret == "" {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return store.Webhook{}, "", err
		}
		secret = "whsec_" + base64.RawURLEncoding.EncodeToString(b[:])
	} else if len(secret) < 16 {
		return store.Webhook{}, "", fmt.Errorf("a webhook secret needs 16 characters or more: %w", store.ErrInvalid)
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return store.Webhook{}, "", err
	}
	w := store.Webhook{ID: hex.EncodeToString(id[:]), URL: req.URL, Events: events, Secret: secret, CreatedBy: req.CreatedBy, CreatedAt: now.UTC()}
	if err := st.CreateWebhook(ctx, w); err != nil {
		return store.Webhook{}, "", err
	}
	return w, secret, nil
}

// CreatedWebhook is a new subscription with its secret, shown once.
type CreatedWebhook struct {
	store.Webhook
	Secret string `json:"secret"`
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var req WebhookRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	p := principal(r.Context())
	req.CreatedBy = p.String()
	check := func(u string) error { _, err := s.hooks.Guard.CheckURL(u); return err }
	ctx := s.withAudit(r, store.AuditWebhook, "webhook.create", func(res any) (string, string) {
		h, _ := res.(store.Webhook)
		return h.ID, fmt.Sprintf("url %q events %s", h.URL, strings.Join(h.Events, ","))
	})
	h, secret, err := CreateWebhook(ctx, s.st, req, check, s.now())
	if err != nil {
		if errors.Is(err, store.ErrInvalid) {
			return &httpError{Status: http.StatusBadRequest, Detail: safeText(strings.TrimSuffix(err.Error(), ": "+store.ErrInvalid.Error()))}
		}
		return err
	}
	return writeJSON(w, http.StatusCreated, CreatedWebhook{h, secret})
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	hs, err := s.st.ListWebhooks(r.Context(), false)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, hs)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ctx := s.withAudit(r, store.AuditWebhook, "webhook.delete", func(any) (string, string) { return id, "" })
	if err := s.st.DeleteWebhook(ctx, id, s.now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	as, err := s.st.WebhookAttempts(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, as)
}

// outEvent is one event to send: its name, the key naming its
// occurrence, and its data.
type outEvent struct {
	event, key string
	data       any
}

// emit queues a delivery of an event to every subscription in force that
// takes it (see emitAll).
func (s *Server) emit(ctx context.Context, event, key string, data any) {
	s.emitAll(ctx, []outEvent{{event, key, data}})
}

// emitAll queues a delivery of each event to every subscription in force
// that takes it. An event's key names its occurrence: a delivery is
// queued once per subscription and key, so a job that runs again (after
// a restart) or a second server sending the same event queues nothing
// more.
func (s *Server) emitAll(ctx context.Context, events []outEvent) {
	if len(events) == 0 {
		return
	}
	hooks, err := s.st.ListWebhooks(ctx, false)
	if err != nil {
		s.log.Error("list webhooks", "err", err)
		return
	}
	queued := 0
	for _, j := range s.deliveryJobs(hooks, events) {
		ok, err := s.st.EnqueueJobOnce(ctx, j)
		if err != nil {
			s.log.Error("queue webhook delivery", "key", j.Key, "err", err)
			continue
		}
		if ok {
			queued++
		}
	}
	if queued > 0 {
		s.pokeDeliver()
	}
}

// deliveryJobs returns the delivery jobs of events to the subscriptions
// among hooks that take them, each keyed by subscription, event and the
// event's key.
func (s *Server) deliveryJobs(hooks []store.Webhook, events []outEvent) []store.Job {
	var out []store.Job
	for _, ev := range events {
		raw, err := json.Marshal(ev.data)
		if err != nil {
			s.log.Error("webhook event", "err", err)
			continue
		}
		for _, h := range hooks {
			if !slices.Contains(h.Events, ev.event) {
				continue
			}
			var id [8]byte
			_, _ = rand.Read(id[:])
			jobID := hex.EncodeToString(id[:])
			body, _ := json.Marshal(webhook.Payload{ID: jobID, Event: ev.event, At: s.now(), Data: raw})
			params, _ := json.Marshal(deliveryParams{Webhook: h.ID, Event: ev.event, Body: body})
			out = append(out, store.Job{ID: jobID, Kind: jobWebhook, CreatedBy: "ctem", CreatedAt: s.now(), Params: params,
				Key: "webhook:" + h.ID + ":" + ev.event + ":" + ev.key})
		}
	}
	return out
}

// pathEvents returns the webhook events of recorded path events:
// path.opened and path.closed for each, and path.validated for an opened
// path whose every step is evidenced (paths always end at a crown jewel).
func pathEvents(events []store.OutboxEvent) []outEvent {
	var out []outEvent
	for _, e := range events {
		d := webhook.PathData{PathID: e.PathID, Entry: e.Entry, Jewel: e.Jewel, Risk: e.Risk, Validated: e.Validated, Summary: e.Summary, Analysis: e.Analysis}
		key := e.PathID + ":" + strconv.FormatInt(e.At.UnixMicro(), 10)
		switch e.Event {
		case "opened":
			out = append(out, outEvent{webhook.PathOpened, key, d})
			if e.Validated {
				out = append(out, outEvent{webhook.PathValidated, key, d})
			}
		case "closed":
			out = append(out, outEvent{webhook.PathClosed, key, d})
		}
	}
	return out
}

// outboxCursor names the outbox cursor of webhook deliveries.
const outboxCursor = "webhooks"

// outboxAnalyses is how many analyses one turn of the outbox reads.
const outboxAnalyses = 20

// pumpOutbox turns the path events recorded since the outbox cursor into
// deliveries, whichever process recorded them: this server's jobs, or
// 'ctem analyze' and 'ctem ingest' on the same database. The deliveries
// are queued in the transaction that moves the cursor, so each event is
// turned once however many servers pump (the cursor moves from where it
// was read, or not at all). Subscriptions get the events recorded while
// they are in force.
func (s *Server) pumpOutbox(ctx context.Context) {
	s.outboxMu.Lock()
	defer s.outboxMu.Unlock()
	for ctx.Err() == nil {
		pos, upTo, events, err := s.st.OutboxEvents(ctx, outboxCursor, outboxAnalyses)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("read webhook outbox", "err", err)
			}
			return
		}
		if upTo == pos {
			return
		}
		var jobs []store.Job
		if len(events) > 0 {
			hooks, err := s.st.ListWebhooks(ctx, false)
			if err != nil {
				s.log.Error("list webhooks", "err", err)
				return
			}
			jobs = s.deliveryJobs(hooks, pathEvents(events))
		}
		ok, err := s.st.CommitOutbox(ctx, outboxCursor, pos, upTo, jobs)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("queue webhook deliveries", "err", err)
			}
			return
		}
		if ok && len(jobs) > 0 {
			s.pokeDeliver()
		}
	}
}

// outboxEvery is how often the delivery loop looks for path events
// recorded by other processes (a server's own analyses pump at once).
const outboxEvery = time.Second

// pokeDeliver wakes the delivery loop.
func (s *Server) pokeDeliver() {
	select {
	case s.wakeDeliver <- struct{}{}:
	default:
	}
}

// deliver runs delivery jobs until ctx is done: one at a time, each
// attempt recorded, failures retried with exponential backoff.
func (s *Server) deliver(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	client := s.hooks.Guard.Client(s.hooks.Timeout)
	var pumped time.Time
	for ctx.Err() == nil {
		if time.Since(pumped) >= outboxEvery {
			s.pumpOutbox(ctx)
			pumped = time.Now()
		}
		j, ok, err := s.st.ClaimJobOf(ctx, s.now(), jobWebhook)
		if err != nil && ctx.Err() == nil {
			s.log.Error("claim delivery", "err", err)
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.wakeDeliver:
			case <-t.C:
			}
			continue
		}
		s.deliverOne(ctx, client, j)
	}
}

func (s *Server) deliverOne(ctx context.Context, client *http.Client, j store.Job) {
	var p deliveryParams
	if err := json.Unmarshal(j.Params, &p); err != nil {
		s.finishDelivery(j, p, 0, fmt.Errorf("bad delivery parameters: %w", err), false)
		return
	}
	hooks, err := s.st.ListWebhooks(ctx, true)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("list webhooks", "err", err)
			s.finishDelivery(j, p, 0, err, true)
		}
		return
	}
	var h *store.Webhook
	for i := range hooks {
		if hooks[i].ID == p.Webhook {
			h = &hooks[i]
		}
	}
	if h == nil || !h.DeletedAt.IsZero() {
		s.finishDelivery(j, p, 0, errors.New("the webhook was removed"), false)
		return
	}
	if _, err := s.hooks.Guard.CheckURL(h.URL); err != nil {
		s.finishDelivery(j, p, 0, err, false)
		return
	}
	res, err := webhook.Send(ctx, client, h.URL, []byte(h.Secret), p.Event, j.ID, p.Body, s.now())
	if ctx.Err() != nil {
		return // shutting down: the job is queued again at the next start
	}
	a := store.WebhookAttempt{JobID: j.ID, Attempt: j.Attempts, WebhookID: h.ID, Event: p.Event, At: s.now(), Status: res.Status, Duration: res.Duration}
	if err != nil {
		a.Error = safeText(err.Error())
	}
	if rerr := s.st.RecordWebhookAttempt(context.WithoutCancel(ctx), a); rerr != nil {
		s.log.Error("record webhook attempt", "err", rerr)
	}
	s.metrics.deliveries.WithLabelValues(deliveryOutcome(err, res.Retry && j.Attempts < s.hooks.MaxAttempts)).Inc()
	s.finishDelivery(j, p, res.Status, err, res.Retry)
}

func deliveryOutcome(err error, retry bool) string {
	switch {
	case err == nil:
		return "delivered"
	case retry:
		return "retried"
	}
	return "failed"
}

// finishDelivery records how a delivery attempt ended: done, queued
// again after the backoff, or failed for good.
func (s *Server) finishDelivery(j store.Job, p deliveryParams, status int, err error, retry bool) {
	ctx := context.Background()
	if err == nil {
		raw, _ := json.Marshal(map[string]int{"status": status})
		if ferr := s.st.FinishJob(ctx, j.ID, store.JobSucceeded, raw, "", s.now()); ferr != nil {
			s.log.Error("record delivery", "job", j.ID, "err", ferr)
		}
		return
	}
	msg := safeText(err.Error())
	if retry && j.Attempts < s.hooks.MaxAttempts {
		wait := s.hooks.Backoff << (j.Attempts - 1)
		if wait > s.hooks.MaxBackoff || wait <= 0 {
			wait = s.hooks.MaxBackoff
		}
		if ferr := s.st.RetryJob(ctx, j.ID, s.now().Add(wait), msg); ferr != nil {
			s.log.Error("retry delivery", "job", j.ID, "err", ferr)
		}
		s.log.Info("webhook delivery failed; retrying", "job", j.ID, "webhook", p.Webhook, "attempt", j.Attempts, "wait", wait, "err", msg)
		return
	}
	s.log.Warn("webhook delivery failed", "job", j.ID, "webhook", p.Webhook, "attempts", j.Attempts, "err", msg)
	if ferr := s.st.FinishJob(ctx, j.ID, store.JobFailed, nil, msg, s.now()); ferr != nil {
		s.log.Error("record delivery", "job", j.ID, "err", ferr)
	}
}
