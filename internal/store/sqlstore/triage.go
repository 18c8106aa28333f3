package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

var _ store.Triage = (*DB)(nil)

// execer is what both *sql.DB and *sql.Tx offer.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// Triage applies a person's decision to an exposure.
func (s *DB) Triage(ctx context.Context, d store.Decision) (store.StatusChange, error) {
	if d.At.IsZero() {
		d.At = time.Now().UTC()
	}
	if err := d.Check(); err != nil {
		return store.StatusChange{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.StatusChange{}, fmt.Errorf("triage: %w", err)
	}
	defer tx.Rollback()
	if s.d.BeginSQL != "" {
		if _, err := tx.ExecContext(ctx, s.d.BeginSQL); err != nil {
			return store.StatusChange{}, fmt.Errorf("triage: %w", err)
		}
	}
	var from string
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT status FROM exposures WHERE id = ?`), d.ExposureID).Scan(&from)
	if errors.Is(err, sql.ErrNoRows) {
		return store.StatusChange{}, fmt.Errorf("triage: exposure %s: %w", d.ExposureID, store.ErrNotFound)
	}
	if err != nil {
		return store.StatusChange{}, fmt.Errorf("triage: %w", err)
	}
	at := micros(d.At)
	if d.Status == model.StatusOpen {
		// Open withdraws the decision: the exposure is what its findings
		// say from now on.
		if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM triage WHERE exposure_id = ?`), d.ExposureID); err != nil {
			return store.StatusChange{}, fmt.Errorf("triage: %w", err)
		}
	} else if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO triage (exposure_id, status, reason, actor, approver, justification, expires_at, at, effective)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (exposure_id) DO UPDATE SET status = excluded.status, reason = excluded.reason, actor = excluded.actor,
  approver = excluded.approver, justification = excluded.justification, expires_at = excluded.expires_at,
  at = excluded.at, effective = excluded.effective`),
		d.ExposureID, string(d.Status), d.Reason, d.By, d.Approver, d.Justification, micros(d.Expires), at, string(d.Status)); err != nil {
		return store.StatusChange{}, fmt.Errorf("triage: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE exposures SET status = ? WHERE id = ?`), string(d.Status), d.ExposureID); err != nil {
		return store.StatusChange{}, fmt.Errorf("triage: %w", err)
	}
	c := store.StatusChange{ExposureID: d.ExposureID, From: model.Status(from), To: d.Status, By: d.By, Reason: d.Reason,
		Approver: d.Approver, Expires: d.Expires, Justification: d.Justification, At: d.At.UTC().Truncate(time.Microsecond)}
	if c.Seq, err = s.recordChange(ctx, tx, c); err != nil {
		return store.StatusChange{}, err
	}
	if err := s.auditIn(ctx, tx, store.AuditTriage, c); err != nil {
		return store.StatusChange{}, err
	}
	if err := tx.Commit(); err != nil {
		return store.StatusChange{}, fmt.Errorf("triage: %w", err)
	}
	store.AuditUsed(ctx)
	return c, nil
}

// recordChange appends c to status_events and returns its sequence.
func (s *DB) recordChange(ctx context.Context, q execer, c store.StatusChange) (int64, error) {
	var seq int64
	err := q.QueryRowContext(ctx, s.rebind(`INSERT INTO status_events (exposure_id, from_status, to_status, actor, reason, approver, justification, expires_at, scan_id, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`),
		c.ExposureID, string(c.From), string(c.To), c.By, c.Reason, c.Approver, c.Justification, micros(c.Expires), c.ScanID, micros(c.At)).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("record status change of %s: %w", c.ExposureID, err)
	}
	return seq, nil
}

const statusChangeCols = `seq, exposure_id, from_status, to_status, actor, reason, approver, justification, expires_at, scan_id, at`

func scanStatusChange(r *sql.Rows) (store.StatusChange, error) {
	var c store.StatusChange
	var from, to string
	var exp, at int64
	if err := r.Scan(&c.Seq, &c.ExposureID, &from, &to, &c.By, &c.Reason, &c.Approver, &c.Justification, &exp, &c.ScanID, &at); err != nil {
		return c, fmt.Errorf("read status change: %w", err)
	}
	c.From, c.To, c.Expires, c.At = model.Status(from), model.Status(to), fromMicros(exp), fromMicros(at)
	return c, nil
}

// StatusHistory lists status changes, oldest first.
func (s *DB) StatusHistory(ctx context.Context, f store.Filter) iter.Seq2[store.StatusChange, error] {
	var w where
	w.in("exposure_id", f.IDs)
	if f.After != "" {
		k, err := store.ParseCursor(f.After, 'c')
		seq, perr := strconv.ParseInt(k, 10, 64)
		if err != nil || perr != nil {
			return func(yield func(store.StatusChange, error) bool) {
				yield(store.StatusChange{}, fmt.Errorf("status history: cursor %q: %w", f.After, store.ErrInvalid))
			}
		}
		w.add("seq > ?", seq)
	}
	q := `SELECT ` + statusChangeCols + ` FROM status_events` + w.sql() + ` ORDER BY seq` + limit(f.Limit)
	return rowsSeq(ctx, s.db, s.rebind(q), w.args, scanStatusChange)
}

// ExpireAcceptances reopens exposures whose acceptance has expired.
func (s *DB) ExpireAcceptances(ctx context.Context, now time.Time) ([]store.StatusChange, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("expire acceptances: %w", err)
	}
	defer tx.Rollback()
	if s.d.BeginSQL != "" {
		if _, err := tx.ExecContext(ctx, s.d.BeginSQL); err != nil {
			return nil, fmt.Errorf("expire acceptances: %w", err)
		}
	}
	out, err := s.reconcile(ctx, tx, now, "")
	if err != nil {
		return nil, err
	}
	if len(out) > 0 {
		if err := s.auditIn(ctx, tx, store.AuditExpire, out); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("expire acceptances: %w", err)
	}
	store.AuditUsed(ctx)
	return out, nil
}

// reconcile brings decided exposures in line with their decisions after
// an ingest (scanID names its scans) or at an expiry check (scanID
// empty): an ingest recomputes an exposure's status from its findings,
// and this puts the decision back, or records why it no longer holds.
// Only the decisions whose exposure's status moved away from the one
// last recorded, or whose acceptance expired, are read, so its cost is
// that of the changes, not of the decisions.
//
// For each: a decision of fixed that a scan disproves (the exposure is
// open again) is withdrawn, and recorded so; an expired acceptance is
// withdrawn and the exposure takes its findings' status; an exposure
// whose findings are all fixed is fixed whatever the decision (a fixed
// weakness needs no exception), recorded once; otherwise the decision
// holds, and its return after a fix is recorded.
func (s *DB) reconcile(ctx context.Context, q execer, now time.Time, scanID string) ([]store.StatusChange, error) {
	type row struct {
		id, status, reason, actor, approver, just, effective, computed string
		expires                                                        int64
	}
	nowM := micros(now)
	rows, err := q.QueryContext(ctx, s.rebind(`SELECT t.exposure_id, t.status, t.reason, t.actor, t.approver, t.justification, t.effective, t.expires_at, x.status
FROM triage t JOIN exposures x ON x.id = t.exposure_id
WHERE x.status <> t.effective OR (t.status = 'accepted' AND t.expires_at <= ?)
ORDER BY t.exposure_id`), nowM)
	if err != nil {
		return nil, fmt.Errorf("read decisions: %w", err)
	}
	var todo []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.status, &r.reason, &r.actor, &r.approver, &r.just, &r.effective, &r.expires, &r.computed); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read decisions: %w", err)
		}
		todo = append(todo, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read decisions: %w", err)
	}
	var out []store.StatusChange
	for _, r := range todo {
		target, withdraw := r.status, false
		var reason string
		switch {
		case r.status == string(model.StatusFixed) && r.computed != string(model.StatusFixed):
			target, withdraw = r.computed, true
			reason = fmt.Sprintf("reported again after %s marked it fixed (%s)", r.actor, r.reason)
		case r.status == string(model.StatusAccepted) && r.expires <= nowM:
			target, withdraw = r.computed, true
			if target == string(model.StatusAccepted) {
				target = string(model.StatusOpen)
			}
			reason = fmt.Sprintf("the acceptance approved by %s expired at %s", r.approver, fromMicros(r.expires).Format(time.RFC3339))
		case r.computed == string(model.StatusFixed):
			target = r.computed
			reason = "no longer reported; the weakness is gone"
		default:
			reason = fmt.Sprintf("reported again; the decision of %s holds (%s)", r.actor, r.reason)
		}
		if target != r.computed {
			if _, err := q.ExecContext(ctx, s.rebind(`UPDATE exposures SET status = ? WHERE id = ?`), target, r.id); err != nil {
				return nil, fmt.Errorf("apply decision to %s: %w", r.id, err)
			}
		}
		if withdraw {
			_, err = q.ExecContext(ctx, s.rebind(`DELETE FROM triage WHERE exposure_id = ?`), r.id)
		} else {
			_, err = q.ExecContext(ctx, s.rebind(`UPDATE triage SET effective = ? WHERE exposure_id = ?`), target, r.id)
		}
		if err != nil {
			return nil, fmt.Errorf("apply decision to %s: %w", r.id, err)
		}
		if target == r.effective {
			continue // what was recorded last still stands
		}
		c := store.StatusChange{ExposureID: r.id, From: model.Status(r.effective), To: model.Status(target), By: store.Actor,
			Reason: reason, ScanID: scanID, At: now.UTC().Truncate(time.Microsecond)}
		if c.Seq, err = s.recordChange(ctx, q, c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
