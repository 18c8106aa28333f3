package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

var (
	_ store.Webhooks      = (*DB)(nil)
	_ store.ScheduledJobs = (*DB)(nil)
)

const webhookCols = `id, url, events, secret, created_by, created_at, deleted_at`

// CreateWebhook stores a subscription; its events are kept as a
// comma-separated list.
func (s *DB) CreateWebhook(ctx context.Context, w store.Webhook) error {
	_, err := s.execAudited(ctx, store.AuditWebhook, func() any { return w }, s.rebind(`INSERT INTO webhooks (`+webhookCols+`) VALUES (?, ?, ?, ?, ?, ?, 0)`),
		w.ID, w.URL, strings.Join(w.Events, ","), w.Secret, w.CreatedBy, micros(w.CreatedAt))
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	return nil
}

// ListWebhooks lists the subscriptions by creation.
func (s *DB) ListWebhooks(ctx context.Context, all bool) ([]store.Webhook, error) {
	q := `SELECT ` + webhookCols + ` FROM webhooks`
	if !all {
		q += ` WHERE deleted_at = 0`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	out := []store.Webhook{}
	for rows.Next() {
		var w store.Webhook
		var events string
		var c, d int64
		if err := rows.Scan(&w.ID, &w.URL, &events, &w.Secret, &w.CreatedBy, &c, &d); err != nil {
			return nil, fmt.Errorf("list webhooks: %w", err)
		}
		w.Events = strings.Split(events, ",")
		w.CreatedAt, w.DeletedAt = fromMicros(c), fromMicros(d)
		out = append(out, w)
	}
	return out, rows.Err()
}

// DeleteWebhook marks a subscription removed.
func (s *DB) DeleteWebhook(ctx context.Context, id string, at time.Time) error {
	res, err := s.execAudited(ctx, store.AuditWebhook, func() any { return id }, s.rebind(`UPDATE webhooks SET deleted_at = ? WHERE id = ? AND deleted_at = 0`), micros(at), id)
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("webhook %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// RecordWebhookAttempt stores an attempt.
func (s *DB) RecordWebhookAttempt(ctx context.Context, a store.WebhookAttempt) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO webhook_attempts (job_id, attempt, webhook_id, event, at, status, error, duration_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		a.JobID, a.Attempt, a.WebhookID, a.Event, micros(a.At), a.Status, a.Error, a.Duration.Microseconds())
	if err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	return nil
}

// PurgeWebhookAttempts deletes the attempts made before before, a batch
// at a time (each its own statement, so that no writer waits long).
func (s *DB) PurgeWebhookAttempts(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM webhook_attempts WHERE (job_id, attempt) IN (SELECT job_id, attempt FROM webhook_attempts WHERE at < ? LIMIT ?)`),
			micros(before), purgeBatch)
		if err != nil {
			return total, fmt.Errorf("purge webhook attempts: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}

// WebhookAttempts lists a webhook's attempts, newest first.
func (s *DB) WebhookAttempts(ctx context.Context, webhookID string, limit int) ([]store.WebhookAttempt, error) {
	q := `SELECT job_id, attempt, webhook_id, event, at, status, error, duration_us FROM webhook_attempts WHERE webhook_id = ? ORDER BY at DESC, job_id, attempt DESC`
	args := []any{webhookID}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("webhook attempts: %w", err)
	}
	defer rows.Close()
	out := []store.WebhookAttempt{}
	for rows.Next() {
		var a store.WebhookAttempt
		var at, d int64
		if err := rows.Scan(&a.JobID, &a.Attempt, &a.WebhookID, &a.Event, &at, &a.Status, &a.Error, &d); err != nil {
			return nil, fmt.Errorf("webhook attempts: %w", err)
		}
		a.At, a.Duration = fromMicros(at), time.Duration(d)*time.Microsecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// EnqueueJobOnce stores a queued job unless one with its key exists.
func (s *DB) EnqueueJobOnce(ctx context.Context, j store.Job) (bool, error) {
	if j.Key == "" {
		return false, fmt.Errorf("enqueue job %s: a unique job needs a key", j.ID)
	}
	res, err := s.db.ExecContext(ctx, s.rebind(insertJob+` ON CONFLICT (unique_key) WHERE unique_key <> '' DO NOTHING`), jobArgs(j)...)
	if err != nil {
		return false, fmt.Errorf("enqueue job %s: %w", j.Key, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ClaimJobOf claims the first due queued job of one of kinds. The update
// is conditional on the job still being queued, so that of two servers
// that read the same job only one claims it. A job with a lane
// (store.Job.Lane) is held back while an older job of its lane, or of
// lane "*", is queued or running (any older job with a lane, for a job
// of lane "*"): ingests of one (tool, target) then start in upload
// order, one at a time, whichever server claims them, while those of
// different ones run at once.
func (s *DB) ClaimJobOf(ctx context.Context, at time.Time, kinds ...string) (store.Job, bool, error) {
	if len(kinds) == 0 {
		return store.Job{}, false, nil
	}
	tx, err := s.beginLight(ctx)
	if err != nil {
		return store.Job{}, false, fmt.Errorf("claim job: %w", err)
	}
	defer tx.Rollback()
	if s.d.IngestBeginSQL != "" {
		// Claims one at a time, so that two servers do not both see
		// a lane free; ingests running meanwhile are not waited for.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, 0)`, queueLock)); err != nil {
			return store.Job{}, false, fmt.Errorf("claim job: %w", err)
		}
	}
	args := []any{store.JobQueued, micros(at)}
	for _, k := range kinds {
		args = append(args, k)
	}
	args = append(args, store.JobQueued, store.JobRunning)
	q := `SELECT ` + jobCols + ` FROM jobs WHERE state = ? AND run_at <= ? AND kind IN (?` + strings.Repeat(", ?", len(kinds)-1) + `)
  AND (lane = '' OR NOT EXISTS (SELECT 1 FROM jobs r WHERE r.state IN (?, ?) AND r.lane <> ''
    AND (r.created_at < jobs.created_at OR (r.created_at = jobs.created_at AND r.id < jobs.id))
    AND (r.lane = jobs.lane OR r.lane = '*' OR jobs.lane = '*')))
ORDER BY run_at, created_at, id LIMIT 1`
	j, err := scanJob(tx.QueryRowContext(ctx, s.rebind(q), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Job{}, false, nil
	}
	if err != nil {
		return j, false, fmt.Errorf("claim job: %w", err)
	}
	j.State, j.StartedAt, j.Attempts = store.JobRunning, at.UTC(), j.Attempts+1
	res, err := tx.ExecContext(ctx, s.rebind(`UPDATE jobs SET state = ?, started_at = ?, attempts = ? WHERE id = ? AND state = ?`),
		j.State, micros(j.StartedAt), j.Attempts, j.ID, store.JobQueued)
	if err != nil {
		return j, false, fmt.Errorf("claim job: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return store.Job{}, false, nil
	}
	if err := tx.Commit(); err != nil {
		return j, false, fmt.Errorf("claim job: %w", err)
	}
	return j, true, nil
}

// RetryJob queues a running job again for later.
func (s *DB) RetryJob(ctx context.Context, id string, runAt time.Time, errText string) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`UPDATE jobs SET state = ?, run_at = ?, error = ? WHERE id = ? AND state = ?`),
		store.JobQueued, micros(runAt), errText, id, store.JobRunning)
	if err != nil {
		return fmt.Errorf("retry job %s: %w", id, err)
	}
	return nil
}

// purgeBatch is how many jobs one purge statement deletes: a purge of a
// long backlog holds the write lock for many short moments, not one long
// one.
const purgeBatch = 1000

// PurgeJobs deletes finished jobs older than their state's bound, in
// batches. Finished jobs are found through jobs_state (state,
// created_at): a job finishes after it is created, so created_at bounds
// the range read.
func (s *DB) PurgeJobs(ctx context.Context, succeededBefore, failedBefore time.Time) (succeeded, failed int64, err error) {
	purge := func(state string, before time.Time) (int64, error) {
		if before.IsZero() {
			return 0, nil
		}
		var total int64
		for {
			res, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = ? AND created_at < ? AND finished_at < ? LIMIT ?)`),
				state, micros(before), micros(before), purgeBatch)
			if err != nil {
				return total, fmt.Errorf("purge %s jobs: %w", state, err)
			}
			n, _ := res.RowsAffected()
			total += n
			if n < purgeBatch {
				return total, nil
			}
		}
	}
	if succeeded, err = purge(store.JobSucceeded, succeededBefore); err != nil {
		return succeeded, 0, err
	}
	failed, err = purge(store.JobFailed, failedBefore)
	return succeeded, failed, err
}

// OpenPathsByJewel counts the open attack paths to each crown jewel (the
// paths_jewel index answers it).
func (s *DB) OpenPathsByJewel(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT jewel, COUNT(*) FROM paths WHERE status = 'open' GROUP BY jewel`)
	if err != nil {
		return nil, fmt.Errorf("paths by jewel: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var j string
		var n int
		if err := rows.Scan(&j, &n); err != nil {
			return nil, fmt.Errorf("paths by jewel: %w", err)
		}
		out[j] = n
	}
	return out, rows.Err()
}
