package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/ctem-dev/ctem/internal/sla"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/webhook"
)

// Kinds of the scheduled jobs.
const (
	jobIngest = "ingest"
	jobExpire = "expire"
	jobFeeds  = "feeds"
	jobSLA    = "sla"
	jobPurge  = "purge"
)

// workerKinds are the jobs the worker runs, one at a time (deliveries
// have their own loop: a slow receiver never holds up an ingest).
var workerKinds = []string{jobIngest, jobExpire, jobFeeds, jobSLA, jobNotify, jobPurge}

// Schedule says how often the server runs its periodic jobs. Each runs
// once per period however many servers share the database: the period's
// job is queued under a key naming it, which only one server can insert.
type Schedule struct {
	// Expire is how often accepted risks past their expiry are reopened
	// (as 'ctem triage expire' does); 0 is an hour, negative never.
	Expire time.Duration
	// SLA is how often the SLAs are read, recording new breaches and
	// sending sla.breach; 0 is an hour, negative never.
	SLA time.Duration
	// Feeds is how often the threat-intelligence feeds are updated by
	// UpdateFeeds, then the paths re-analysed for the vulnerabilities
	// whose data changed; 0 or negative never, and never when
	// UpdateFeeds is nil.
	Feeds time.Duration
	// UpdateFeeds downloads the feeds from their configured sources and
	// returns the vulnerabilities whose data changed.
	UpdateFeeds func(ctx context.Context) ([]string, error)
	// Notify is how often the notification digests are sent (see
	// Config.Notify); 0 or negative never, and never without a channel.
	Notify time.Duration
	// Tick is how often the scheduler looks for a period to queue; 0 is
	// 30 s.
	Tick time.Duration
	// Purge is how often finished jobs past their retention are deleted;
	// 0 is an hour, negative never.
	Purge time.Duration
	// JobRetention is how long a job that succeeded is kept after it
	// finished (GET /api/v1/jobs/{id} answers 404 after); 0 is
	// DefaultJobRetention, negative forever.
	JobRetention time.Duration
	// FailedJobRetention is how long a failed job is kept, longer by
	// default so that failures can be looked into; 0 is
	// DefaultFailedJobRetention, negative forever.
	FailedJobRetention time.Duration
	// AttemptRetention is how long a webhook delivery attempt is kept
	// (GET /api/v1/webhooks/{id}/attempts lists it until then); 0 is
	// DefaultAttemptRetention, negative forever.
	AttemptRetention time.Duration
}

// Default retentions of finished jobs.
const (
	DefaultJobRetention       = 7 * 24 * time.Hour
	DefaultFailedJobRetention = 30 * 24 * time.Hour
	// DefaultAttemptRetention is how long webhook delivery attempts are
	// kept.
	DefaultAttemptRetention = 30 * 24 * time.Hour
)

func (sc *Schedule) norm() {
	if sc.Expire == 0 {
		sc.Expire = time.Hour
	}
	if sc.SLA == 0 {
		sc.SLA = time.Hour
	}
	if sc.UpdateFeeds == nil {
		sc.Feeds = 0
	}
	if sc.Tick <= 0 {
		sc.Tick = 30 * time.Second
	}
	if sc.Purge == 0 {
		sc.Purge = time.Hour
	}
	if sc.JobRetention == 0 {
		sc.JobRetention = DefaultJobRetention
	}
	if sc.FailedJobRetention == 0 {
		sc.FailedJobRetention = DefaultFailedJobRetention
	}
	if sc.AttemptRetention == 0 {
		sc.AttemptRetention = DefaultAttemptRetention
	}
	if sc.JobRetention < 0 && sc.FailedJobRetention < 0 && sc.AttemptRetention < 0 {
		sc.Purge = -1
	}
}

// schedule queues each periodic job once per period until ctx is done.
func (s *Server) schedule(ctx context.Context) {
	t := time.NewTicker(s.sched.Tick)
	defer t.Stop()
	for {
		s.queuePeriodic(ctx, s.now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// queuePeriodic queues the job of each schedule's current period, unless
// it was queued already (by this server or another).
func (s *Server) queuePeriodic(ctx context.Context, now time.Time) {
	queued := false
	for _, p := range []struct {
		kind  string
		every time.Duration
	}{{jobExpire, s.sched.Expire}, {jobSLA, s.sched.SLA}, {jobFeeds, s.sched.Feeds}, {jobNotify, s.sched.Notify}, {jobPurge, s.sched.Purge}} {
		if p.every <= 0 || (p.kind == jobNotify && len(s.notify.Senders) == 0) {
			continue
		}
		period := now.Truncate(p.every)
		var id [8]byte
		_, _ = rand.Read(id[:])
		ok, err := s.st.EnqueueJobOnce(ctx, store.Job{ID: hex.EncodeToString(id[:]), Kind: p.kind, CreatedBy: "ctem:schedule", CreatedAt: now,
			Key: p.kind + "@" + strconv.FormatInt(period.Unix(), 10)})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("queue scheduled job", "kind", p.kind, "err", err)
			}
			continue
		}
		queued = queued || ok
	}
	if queued {
		s.poke()
	}
}

// runScheduled runs one periodic job and records its end.
func (s *Server) runScheduled(ctx context.Context, j store.Job) {
	var res any
	var err error
	switch j.Kind {
	case jobExpire:
		var n int
		n, err = s.expireAcceptances(ctx, s.now())
		res = map[string]int{"reopened": n}
	case jobSLA:
		res, err = s.checkSLAs(ctx)
	case jobFeeds:
		res, err = s.updateFeeds(ctx)
	case jobNotify:
		res, err = s.sendNotifications(ctx)
	case jobPurge:
		res, err = s.purgeJobs(ctx, s.now())
	default:
		err = fmt.Errorf("unknown job kind %q", j.Kind)
	}
	s.shared.bump()
	if ctx.Err() != nil {
		return // queued again at the next start
	}
	state, msg := store.JobSucceeded, ""
	var raw json.RawMessage
	if err != nil {
		state, msg = store.JobFailed, safeText(err.Error())
		s.log.Warn("scheduled job failed", "job", j.ID, "kind", j.Kind, "err", err)
	} else {
		raw, _ = json.Marshal(res)
	}
	if ferr := s.st.FinishJob(context.WithoutCancel(ctx), j.ID, state, raw, msg, s.now()); ferr != nil {
		s.log.Error("record job end", "job", j.ID, "err", ferr)
	}
}

// checkSLAs reads every SLA, which records the breaches not seen before,
// and sends sla.breach for each.
func (s *Server) checkSLAs(ctx context.Context) (any, error) {
	r, err := sla.List(ctx, s.app, sla.Query{Now: s.now()})
	if err != nil {
		return nil, err
	}
	var out []outEvent
	for _, b := range r.NewBreaches {
		out = append(out, outEvent{webhook.SLABreach, b.ExposureID + ":" + strconv.FormatInt(b.Due.UnixMicro(), 10),
			webhook.BreachData{ExposureID: b.ExposureID, Due: b.Due, Rule: b.Rule, Owner: b.Owner}})
	}
	s.emitAll(ctx, out)
	return map[string]int{"breaches": len(r.NewBreaches)}, nil
}

// updateFeeds updates the feeds and re-analyses what they changed.
func (s *Server) updateFeeds(ctx context.Context) (any, error) {
	changed, err := s.sched.UpdateFeeds(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{"changed": int64(len(changed))}
	if len(changed) == 0 {
		return out, nil
	}
	res, err := s.app.AfterFeedsUpdate(ctx, changed)
	if err != nil {
		return nil, err
	}
	if res != nil {
		s.observeAnalysis(ctx, res, "feeds")
		s.pumpOutbox(ctx)
		s.notifyAfter(ctx, res.Analysis.ID)
		out["analysis"], out["opened"], out["closed"] = res.Analysis.ID, int64(res.Opened()), int64(res.Closed())
	}
	return out, nil
}

// purgeJobs deletes the finished jobs past their retention. The purge's
// own job is younger than any retention, so it is kept.
func (s *Server) purgeJobs(ctx context.Context, now time.Time) (any, error) {
	var ok, failed time.Time
	if s.sched.JobRetention > 0 {
		ok = now.Add(-s.sched.JobRetention)
	}
	if s.sched.FailedJobRetention > 0 {
		failed = now.Add(-s.sched.FailedJobRetention)
	}
	n, m, err := s.st.PurgeJobs(ctx, ok, failed)
	if err != nil {
		return nil, err
	}
	var a int64
	if s.sched.AttemptRetention > 0 {
		if a, err = s.st.PurgeWebhookAttempts(ctx, now.Add(-s.sched.AttemptRetention)); err != nil {
			return nil, err
		}
	}
	if n+m+a > 0 {
		s.log.Info("finished jobs purged", "succeeded", n, "failed", m, "webhook_attempts", a)
	}
	return map[string]int64{"succeeded": n, "failed": m, "webhook_attempts": a}, nil
}
