package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

// The job queue shared by several processes (Dialect.SkipLocked,
// PostgreSQL). Each running job is held by its process through a
// session advisory lock on the job's id, taken in the transaction that
// claims it and kept on a connection of its own until FinishJob: a
// process that dies loses its connections and so its locks, and a
// running job whose lock is free is an orphan that any process queues
// again. Claims are serialised (a transaction advisory lock) and a job
// is claimed only when no older job is running, so that uploads are
// ingested in upload order (the same (tool, target) in particular).

// queueLock is the first key of the queue's advisory locks: with 0 the
// lock serialising claims, with a job id's hash the lock of a job.
const queueLock = 7412

// defaultMaxAttempts is how often an orphaned job is tried before it
// fails, until RequeueRunning says otherwise.
const defaultMaxAttempts = 3

// claimShared is ClaimJob for a shared queue.
func (s *DB) claimShared(ctx context.Context, at time.Time) (store.Job, bool, error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return store.Job{}, false, fmt.Errorf("claim job: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			c.Close()
		}
	}()
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return store.Job{}, false, fmt.Errorf("claim job: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, 0)`, queueLock)); err != nil {
		return store.Job{}, false, fmt.Errorf("claim job: %w", err)
	}
	if _, err := s.requeueOrphans(ctx, tx, at); err != nil {
		return store.Job{}, false, fmt.Errorf("claim job: %w", err)
	}
	// An older job that another process runs holds the newer ones back
	// (this process runs its own in order already).
	args := []any{store.JobQueued, store.JobRunning}
	mine := ""
	s.qmu.Lock()
	for id := range s.held {
		args = append(args, id)
	}
	s.qmu.Unlock()
	if len(args) > 2 {
		mine = ` AND r.id NOT IN (` + placeholders(len(args)-2) + `)`
	}
	j, err := scanJob(tx.QueryRowContext(ctx, s.rebind(`SELECT `+jobCols+` FROM jobs WHERE state = ?
  AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.state = ? AND (r.created_at < jobs.created_at OR (r.created_at = jobs.created_at AND r.id < jobs.id))`+mine+`)
ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Job{}, false, nil
	}
	if err != nil {
		return j, false, fmt.Errorf("claim job: %w", err)
	}
	// The session lock outlives the transaction: no other process sees
	// the job running without its lock held.
	if _, err := tx.ExecContext(ctx, s.rebind(fmt.Sprintf(`SELECT pg_advisory_lock(%d, hashtext(?))`, queueLock)), j.ID); err != nil {
		return j, false, fmt.Errorf("claim job: %w", err)
	}
	unlock := func() {
		c.ExecContext(context.WithoutCancel(ctx), s.rebind(fmt.Sprintf(`SELECT pg_advisory_unlock(%d, hashtext(?))`, queueLock)), j.ID)
	}
	j.State, j.StartedAt, j.Attempts = store.JobRunning, at.UTC(), j.Attempts+1
	res, err := tx.ExecContext(ctx, s.rebind(`UPDATE jobs SET state = ?, started_at = ?, attempts = ? WHERE id = ? AND state = ?`),
		j.State, micros(j.StartedAt), j.Attempts, j.ID, store.JobQueued)
	if err == nil {
		if n, _ := res.RowsAffected(); n != 1 {
			err = errors.New("claimed by another process")
		}
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		tx.Rollback()
		unlock()
		return j, false, fmt.Errorf("claim job: %w", err)
	}
	s.qmu.Lock()
	if s.held == nil {
		s.held = map[string]*sql.Conn{}
	}
	s.held[j.ID] = c
	s.qmu.Unlock()
	keep = true
	return j, true, nil
}

// release ends this process's hold on a job (after FinishJob).
func (s *DB) release(id string) {
	s.qmu.Lock()
	c := s.held[id]
	delete(s.held, id)
	s.qmu.Unlock()
	if c == nil {
		return
	}
	c.ExecContext(context.Background(), s.rebind(fmt.Sprintf(`SELECT pg_advisory_unlock(%d, hashtext(?))`, queueLock)), id)
	c.Close()
}

// requeueOrphans queues again the running jobs no process holds (their
// lock is free), failing those tried maxAttempts times, and returns how
// many it queued. It runs in tx, which holds the claim lock.
func (s *DB) requeueOrphans(ctx context.Context, tx *sql.Tx, at time.Time) (int, error) {
	rows, err := tx.QueryContext(ctx, s.rebind(`SELECT id, attempts FROM jobs WHERE state = ?`), store.JobRunning)
	if err != nil {
		return 0, err
	}
	type orphan struct {
		id       string
		attempts int
	}
	var running []orphan
	for rows.Next() {
		var o orphan
		if err := rows.Scan(&o.id, &o.attempts); err != nil {
			rows.Close()
			return 0, err
		}
		running = append(running, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	s.qmu.Lock()
	maxTry := s.maxAttempts
	s.qmu.Unlock()
	if maxTry <= 0 {
		maxTry = defaultMaxAttempts
	}
	n := 0
	for _, o := range running {
		s.qmu.Lock()
		mine := s.held[o.id] != nil
		s.qmu.Unlock()
		if mine {
			continue
		}
		var free bool
		if err := tx.QueryRowContext(ctx, s.rebind(fmt.Sprintf(`SELECT pg_try_advisory_xact_lock(%d, hashtext(?))`, queueLock)), o.id).Scan(&free); err != nil {
			return n, err
		}
		if !free {
			continue // a live process runs it
		}
		if o.attempts >= maxTry {
			_, err = tx.ExecContext(ctx, s.rebind(`UPDATE jobs SET state = ?, error = ?, finished_at = ? WHERE id = ? AND state = ?`),
				store.JobFailed, "interrupted too many times", micros(at), o.id, store.JobRunning)
		} else {
			_, err = tx.ExecContext(ctx, s.rebind(`UPDATE jobs SET state = ? WHERE id = ? AND state = ?`), store.JobQueued, o.id, store.JobRunning)
			n++
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// requeueShared is RequeueRunning for a shared queue: the jobs no live
// process holds go back to the queue. Called at a start, it takes the
// jobs this process holds for interrupted too.
func (s *DB) requeueShared(ctx context.Context, maxAttempts int, at time.Time) (int, error) {
	s.qmu.Lock()
	s.maxAttempts = maxAttempts
	var mine []string
	for id := range s.held {
		mine = append(mine, id)
	}
	s.qmu.Unlock()
	for _, id := range mine {
		s.release(id)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("requeue jobs: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, 0)`, queueLock)); err != nil {
		return 0, fmt.Errorf("requeue jobs: %w", err)
	}
	n, err := s.requeueOrphans(ctx, tx, at)
	if err != nil {
		return 0, fmt.Errorf("requeue jobs: %w", err)
	}
	return n, tx.Commit()
}
