package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

var (
	_ store.Tokens = (*DB)(nil)
	_ store.Audit  = (*DB)(nil)
	_ store.Jobs   = (*DB)(nil)
)

// beginWrite starts a write transaction, running the dialect's BeginSQL.
func (s *DB) beginWrite(ctx context.Context) (*sql.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if s.d.BeginSQL != "" {
		if _, err := tx.ExecContext(ctx, s.d.BeginSQL); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}

// beginLight starts a write transaction that needs no more than the
// order of the audit log (appendAuditTx takes the commit lock) and the
// rows it writes: where ingests run in parallel it does not wait for
// them (as beginWrite, whose lock ingests hold shared, would); elsewhere
// it is beginWrite.
func (s *DB) beginLight(ctx context.Context) (*sql.Tx, error) {
	if s.d.IngestBeginSQL == "" {
		return s.beginWrite(ctx)
	}
	return s.db.BeginTx(ctx, nil)
}

const tokenCols = `id, name, role, team, created_by, created_at, expires_at, revoked_at, last_used_at`

func scanToken(sc interface{ Scan(...any) error }) (store.Token, error) {
	var t store.Token
	var c, e, r, u int64
	err := sc.Scan(&t.ID, &t.Name, &t.Role, &t.Team, &t.CreatedBy, &c, &e, &r, &u)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt, t.LastUsedAt = fromMicros(c), fromMicros(e), fromMicros(r), fromMicros(u)
	return t, err
}

// CreateToken stores a token with the digest of its secret.
func (s *DB) CreateToken(ctx context.Context, t store.Token, hash string) error {
	_, err := s.execAudited(ctx, store.AuditToken, func() any { return t }, s.rebind(`INSERT INTO api_tokens (`+tokenCols+`, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		t.ID, t.Name, t.Role, t.Team, t.CreatedBy, micros(t.CreatedAt), micros(t.ExpiresAt), micros(t.RevokedAt), micros(t.LastUsedAt), hash)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

// TokenByHash returns the token whose secret has this digest.
func (s *DB) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	t, err := scanToken(s.queryRow(ctx, s.rebind(`SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("token: %w", err)
	}
	return t, nil
}

// ListTokens lists every token by creation time.
func (s *DB) ListTokens(ctx context.Context) ([]store.Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM api_tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	out := []store.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a token by id.
func (s *DB) RevokeToken(ctx context.Context, id string, at time.Time) (store.Token, error) {
	if _, err := s.execAudited(ctx, store.AuditToken, func() any { return id }, s.rebind(`UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0`), micros(at), id); err != nil {
		return store.Token{}, fmt.Errorf("revoke token: %w", err)
	}
	t, err := scanToken(s.db.QueryRowContext(ctx, s.rebind(`SELECT `+tokenCols+` FROM api_tokens WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token %s: %w", id, store.ErrNotFound)
	}
	return t, err
}

// TouchTokens records the last use of tokens, in one transaction.
func (s *DB) TouchTokens(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	tx, err := s.beginLight(ctx)
	if err != nil {
		return fmt.Errorf("touch tokens: %w", err)
	}
	defer tx.Rollback()
	for id, at := range used {
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND last_used_at < ?`), micros(at), id, micros(at)); err != nil {
			return fmt.Errorf("touch tokens: %w", err)
		}
	}
	return tx.Commit()
}

const auditCols = `seq, at, actor, remote, action, target, outcome, detail, prev_hash, hash`

// AppendAudit numbers and chains e after the last entry, in one write
// transaction (SQLite's write lock, or BeginSQL's, serialises appends).
func (s *DB) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditEntry, error) {
	tx, err := s.beginLight(ctx)
	if err != nil {
		return e, fmt.Errorf("append audit: %w", err)
	}
	defer tx.Rollback()
	if e, err = s.appendAuditTx(ctx, tx, e); err != nil {
		return e, err
	}
	if err := tx.Commit(); err != nil {
		return e, fmt.Errorf("append audit: %w", err)
	}
	return e, nil
}

// appendAuditTx numbers and chains e after the last entry inside the
// write transaction tx.
func (s *DB) appendAuditTx(ctx context.Context, tx *sql.Tx, e store.AuditEntry) (store.AuditEntry, error) {
	if s.d.CommitLockSQL != "" {
		if _, err := tx.ExecContext(ctx, s.d.CommitLockSQL); err != nil {
			return e, fmt.Errorf("append audit: %w", err)
		}
	}
	var seq int64
	var prev string
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("append audit: %w", err)
	}
	e.Seq, e.PrevHash = seq+1, prev
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.Hash = store.AuditHash(e)
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO audit_log (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		e.Seq, micros(e.At), e.Actor, e.Remote, e.Action, e.Target, e.Outcome, e.Detail, e.PrevHash, e.Hash); err != nil {
		return e, fmt.Errorf("append audit: %w", err)
	}
	return e, nil
}

// auditIn appends, inside tx, the entries the audit note of ctx for this
// kind of change builds from result (see store.WithAudit); it does
// nothing without a note. The caller calls store.AuditUsed after its
// commit.
func (s *DB) auditIn(ctx context.Context, tx *sql.Tx, kind string, result any) error {
	f := store.AuditFor(ctx, kind)
	if f == nil {
		return nil
	}
	for _, e := range f(result) {
		if _, err := s.appendAuditTx(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

// execAudited runs one write statement, in a transaction with its audit
// entries when ctx carries a note of this kind.
func (s *DB) execAudited(ctx context.Context, kind string, result func() any, q string, args ...any) (sql.Result, error) {
	return s.execAuditedWith(ctx, s.beginWrite, kind, result, q, args...)
}

// execAuditedWith is execAudited with the transaction begun by begin.
func (s *DB) execAuditedWith(ctx context.Context, begin func(context.Context) (*sql.Tx, error), kind string, result func() any, q string, args ...any) (sql.Result, error) {
	if store.AuditFor(ctx, kind) == nil {
		return s.db.ExecContext(ctx, q, args...)
	}
	tx, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		if err := s.auditIn(ctx, tx, kind, result()); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		store.AuditUsed(ctx)
	}
	return res, nil
}

// AuditLog lists the entries after seq after, oldest first.
func (s *DB) AuditLog(ctx context.Context, after int64, limit int) iter.Seq2[store.AuditEntry, error] {
	return func(yield func(store.AuditEntry, error) bool) {
		q := `SELECT ` + auditCols + ` FROM audit_log WHERE seq > ? ORDER BY seq`
		args := []any{after}
		if limit > 0 {
			q += ` LIMIT ?`
			args = append(args, limit)
		}
		rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
		if err != nil {
			yield(store.AuditEntry{}, fmt.Errorf("audit log: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var e store.AuditEntry
			var at int64
			if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Remote, &e.Action, &e.Target, &e.Outcome, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
				yield(e, fmt.Errorf("audit log: %w", err))
				return
			}
			e.At = fromMicros(at)
			if !yield(e, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(store.AuditEntry{}, fmt.Errorf("audit log: %w", err))
		}
	}
}

const jobCols = `id, kind, state, created_by, created_at, started_at, finished_at, attempts, params, result, error, run_at, unique_key, lane`

// insertJob queues a job: its values are jobArgs.
const insertJob = `INSERT INTO jobs (` + jobCols + `) VALUES (?, ?, ?, ?, ?, 0, 0, 0, ?, '', '', ?, ?, ?)`

// jobArgs are insertJob's values for j.
func jobArgs(j store.Job) []any {
	return []any{j.ID, j.Kind, store.JobQueued, j.CreatedBy, micros(j.CreatedAt), string(j.Params), micros(j.RunAt), j.Key, j.Lane}
}

func scanJob(sc interface{ Scan(...any) error }) (store.Job, error) {
	var j store.Job
	var c, st, f, ra int64
	var params, result string
	err := sc.Scan(&j.ID, &j.Kind, &j.State, &j.CreatedBy, &c, &st, &f, &j.Attempts, &params, &result, &j.Error, &ra, &j.Key, &j.Lane)
	j.CreatedAt, j.StartedAt, j.FinishedAt, j.RunAt = fromMicros(c), fromMicros(st), fromMicros(f), fromMicros(ra)
	if params != "" {
		j.Params = json.RawMessage(params)
	}
	if result != "" {
		j.Result = json.RawMessage(result)
	}
	return j, err
}

// EnqueueJob stores a queued job.
func (s *DB) EnqueueJob(ctx context.Context, j store.Job) error {
	_, err := s.execAuditedWith(ctx, s.beginLight, store.AuditJob, func() any { return j }, s.rebind(insertJob), jobArgs(j)...)
	if err != nil {
		return fmt.Errorf("enqueue job: %w", err)
	}
	return nil
}

// Job returns a job by id.
func (s *DB) Job(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, s.rebind(`SELECT `+jobCols+` FROM jobs WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, fmt.Errorf("job %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return j, fmt.Errorf("job %s: %w", id, err)
	}
	return j, nil
}

// ClaimJob marks the oldest queued job running and returns it.
// Where several processes share the queue (Dialect.SkipLocked), see
// claimShared.
func (s *DB) ClaimJob(ctx context.Context, at time.Time) (store.Job, bool, error) {
	if s.d.SkipLocked {
		return s.claimShared(ctx, at)
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return store.Job{}, false, fmt.Errorf("claim job: %w", err)
	}
	defer tx.Rollback()
	j, err := scanJob(tx.QueryRowContext(ctx, s.rebind(`SELECT `+jobCols+` FROM jobs WHERE state = ? AND run_at <= ? ORDER BY created_at, id LIMIT 1`), store.JobQueued, micros(at)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Job{}, false, nil
	}
	if err != nil {
		return j, false, fmt.Errorf("claim job: %w", err)
	}
	j.State, j.StartedAt, j.Attempts = store.JobRunning, at.UTC(), j.Attempts+1
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE jobs SET state = ?, started_at = ?, attempts = ? WHERE id = ? AND state = ?`),
		j.State, micros(j.StartedAt), j.Attempts, j.ID, store.JobQueued); err != nil {
		return j, false, fmt.Errorf("claim job: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return j, false, fmt.Errorf("claim job: %w", err)
	}
	return j, true, nil
}

// FinishJob records a job's end.
func (s *DB) FinishJob(ctx context.Context, id, state string, result json.RawMessage, errText string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`UPDATE jobs SET state = ?, result = ?, error = ?, finished_at = ? WHERE id = ?`),
		state, string(result), errText, micros(at), id)
	if err != nil {
		return fmt.Errorf("finish job %s: %w", id, err)
	}
	if s.d.SkipLocked {
		s.release(id)
	}
	return nil
}

// RequeueRunning queues again the jobs an earlier process left running.
func (s *DB) RequeueRunning(ctx context.Context, maxAttempts int, at time.Time) (int, error) {
	if s.d.SkipLocked {
		return s.requeueShared(ctx, maxAttempts, at)
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return 0, fmt.Errorf("requeue jobs: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE jobs SET state = ?, error = ?, finished_at = ? WHERE state = ? AND attempts >= ?`),
		store.JobFailed, "interrupted too many times", micros(at), store.JobRunning, maxAttempts); err != nil {
		return 0, fmt.Errorf("requeue jobs: %w", err)
	}
	res, err := tx.ExecContext(ctx, s.rebind(`UPDATE jobs SET state = ? WHERE state = ?`), store.JobQueued, store.JobRunning)
	if err != nil {
		return 0, fmt.Errorf("requeue jobs: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), tx.Commit()
}

// RecentJobs lists the jobs q selects, newest first (by creation time,
// then id).
func (s *DB) RecentJobs(ctx context.Context, q store.JobQuery) ([]store.Job, error) {
	where, args := []string{"1 = 1"}, []any{}
	for _, c := range []struct{ col, v string }{{"kind", q.Kind}, {"state", q.State}, {"created_by", q.CreatedBy}} {
		if c.v != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.v)
		}
	}
	if q.BeforeID != "" {
		at := micros(q.BeforeAt)
		where, args = append(where, "(created_at < ? OR (created_at = ? AND id < ?))"), append(args, at, at, q.BeforeID)
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	args = append(args, q.Limit)
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT `+jobCols+` FROM jobs WHERE `+strings.Join(where, " AND ")+` ORDER BY created_at DESC, id DESC LIMIT ?`), args...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	out := []store.Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	return out, nil
}

// QueueDepth counts queued and running jobs.
func (s *DB) QueueDepth(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM jobs WHERE state = ? OR state = ?`), store.JobQueued, store.JobRunning).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	return n, nil
}
