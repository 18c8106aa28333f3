package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"strings"

	"github.com/ctem-dev/ctem/internal/store"
)

var (
	_ store.Mobilisation  = (*DB)(nil)
	_ store.Notifications = (*DB)(nil)
)

// RecordBreaches stores the breaches not stored before and returns them.
func (s *DB) RecordBreaches(ctx context.Context, bs []store.SLABreach) ([]store.SLABreach, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("record breaches: %w", err)
	}
	defer tx.Rollback()
	var out []store.SLABreach
	for _, b := range bs {
		res, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO sla_breaches (exposure_id, due_at, rule, owner, at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (exposure_id, due_at) DO NOTHING`), b.ExposureID, micros(b.Due), b.Rule, b.Owner, micros(b.At))
		if err != nil {
			return nil, fmt.Errorf("record breaches: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			out = append(out, b)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("record breaches: %w", err)
	}
	return out, nil
}

// Breaches lists the recorded breaches, newest first.
func (s *DB) Breaches(ctx context.Context) iter.Seq2[store.SLABreach, error] {
	return rowsSeq(ctx, s.db, `SELECT exposure_id, due_at, rule, owner, at FROM sla_breaches ORDER BY at DESC, exposure_id, due_at`, nil,
		func(r *sql.Rows) (store.SLABreach, error) {
			var b store.SLABreach
			var due, at int64
			err := r.Scan(&b.ExposureID, &due, &b.Rule, &b.Owner, &at)
			b.Due, b.At = fromMicros(due), fromMicros(at)
			return b, err
		})
}

// AddAcceptanceRule stores an acceptance rule.
func (s *DB) AddAcceptanceRule(ctx context.Context, r store.AcceptanceRule) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO acceptance_rules (id, exposure_id, vuln_id, asset, path_id, reason, actor, approver, expires_at, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), r.ID, r.ExposureID, r.VulnID, r.Asset, r.PathID, r.Reason, r.By, r.Approver, micros(r.Expires), micros(r.At))
	if err != nil {
		return fmt.Errorf("add acceptance rule: %w", err)
	}
	return nil
}

// AcceptanceRules lists the acceptance rules, oldest first.
func (s *DB) AcceptanceRules(ctx context.Context) iter.Seq2[store.AcceptanceRule, error] {
	return rowsSeq(ctx, s.db, `SELECT id, exposure_id, vuln_id, asset, path_id, reason, actor, approver, expires_at, at FROM acceptance_rules ORDER BY at, id`, nil,
		func(r *sql.Rows) (store.AcceptanceRule, error) {
			var a store.AcceptanceRule
			var exp, at int64
			err := r.Scan(&a.ID, &a.ExposureID, &a.VulnID, &a.Asset, &a.PathID, &a.Reason, &a.By, &a.Approver, &exp, &at)
			a.Expires, a.At = fromMicros(exp), fromMicros(at)
			return a, err
		})
}

// PutTicket stores or replaces the record of a ticket.
func (s *DB) PutTicket(ctx context.Context, t store.Ticket) error {
	_, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO tickets (action_key, tracker, external, url, state, digest, at, verify_scan) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tracker, action_key) DO UPDATE SET external = excluded.external, url = excluded.url, state = excluded.state,
  digest = excluded.digest, at = excluded.at, verify_scan = excluded.verify_scan`), t.ActionKey, t.Tracker, t.External, t.URL, t.State, t.Digest, micros(t.At), t.VerifyScan)
	if err != nil {
		return fmt.Errorf("put ticket: %w", err)
	}
	return nil
}

// Tickets lists the tickets of one tracker, by action key.
func (s *DB) Tickets(ctx context.Context, tracker string) iter.Seq2[store.Ticket, error] {
	return rowsSeq(ctx, s.db, s.rebind(`SELECT action_key, tracker, external, url, state, digest, at, verify_scan FROM tickets WHERE tracker = ? ORDER BY action_key`), []any{tracker},
		func(r *sql.Rows) (store.Ticket, error) {
			var t store.Ticket
			var at int64
			err := r.Scan(&t.ActionKey, &t.Tracker, &t.External, &t.URL, &t.State, &t.Digest, &at, &t.VerifyScan)
			t.At = fromMicros(at)
			return t, err
		})
}

// Notified returns which of keys channel was told of before.
func (s *DB) Notified(ctx context.Context, channel string, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	for i := 0; i < len(keys); i += 500 {
		chunk := keys[i:min(i+500, len(keys))]
		args := []any{channel}
		for _, k := range chunk {
			args = append(args, k)
		}
		q := `SELECT event_key FROM notifications WHERE channel = ? AND event_key IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)`
		for k, err := range rowsSeq(ctx, s.db, s.rebind(q), args, func(r *sql.Rows) (string, error) {
			var k string
			return k, r.Scan(&k)
		}) {
			if err != nil {
				return nil, fmt.Errorf("read notifications: %w", err)
			}
			out[k] = true
		}
	}
	return out, nil
}

// MarkNotified records the notices; one recorded before is kept as it was.
func (s *DB) MarkNotified(ctx context.Context, ns []store.Notice) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record notifications: %w", err)
	}
	defer tx.Rollback()
	for _, n := range ns {
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO notifications (channel, event_key, kind, at) VALUES (?, ?, ?, ?)
ON CONFLICT (channel, event_key) DO NOTHING`), n.Channel, n.Key, n.Kind, micros(n.At)); err != nil {
			return fmt.Errorf("record notifications: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record notifications: %w", err)
	}
	return nil
}
