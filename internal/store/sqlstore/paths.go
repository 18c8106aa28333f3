package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

// RecordPaths stores an analysis's paths and the events of those that
// opened and closed, in one transaction.
func (s *DB) RecordPaths(ctx context.Context, at time.Time, paths []store.StoredPath, jewels map[string]bool) ([]store.PathEvent, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("record paths: %w", err)
	}
	defer tx.Rollback()
	now := micros(at)
	open := map[string]store.StoredPath{}
	rows, err := tx.QueryContext(ctx, `SELECT id, risk, entry, target, jewel FROM paths WHERE status = 'open'`)
	if err != nil {
		return nil, fmt.Errorf("record paths: %w", err)
	}
	for rows.Next() {
		var p store.StoredPath
		if err := rows.Scan(&p.ID, &p.Risk, &p.Entry, &p.Target, &p.Jewel); err != nil {
			rows.Close()
			return nil, err
		}
		if jewels == nil || jewels[p.Jewel] {
			open[p.ID] = p
		}
	}
	rows.Close()
	var events []store.PathEvent
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p.ID] {
			continue
		}
		seen[p.ID] = true
		valid := 0
		if p.Validated {
			valid = 1
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO paths (id, entry, target, jewel, likelihood, risk, validated, steps, status, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)
ON CONFLICT (id) DO UPDATE SET likelihood = excluded.likelihood, risk = excluded.risk, validated = excluded.validated,
  steps = excluded.steps, status = 'open', last_seen = excluded.last_seen, closed_at = 0`),
			p.ID, p.Entry, p.Target, p.Jewel, p.Likelihood, p.Risk, valid, p.Steps, now, now); err != nil {
			return nil, fmt.Errorf("record path: %w", err)
		}
		if _, was := open[p.ID]; !was {
			events = append(events, store.PathEvent{PathID: p.ID, Event: "opened", At: at, Risk: p.Risk, Summary: p.Summary})
		}
	}
	for id, p := range open {
		if seen[id] {
			continue
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE paths SET status = 'closed', closed_at = ? WHERE id = ?`), now, id); err != nil {
			return nil, fmt.Errorf("close path: %w", err)
		}
		// Only open paths keep their links (see recordKPIs).
		if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM path_exposures WHERE path_id = ?`), id); err != nil {
			return nil, fmt.Errorf("close path: %w", err)
		}
		events = append(events, store.PathEvent{PathID: id, Event: "closed", At: at, Risk: p.Risk, Summary: p.Entry + " => " + p.Target})
	}
	for _, e := range events {
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO path_events (path_id, event, at, risk, summary) VALUES (?, ?, ?, ?, ?)`),
			e.PathID, e.Event, now, e.Risk, e.Summary); err != nil {
			return nil, fmt.Errorf("record path event: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO meta (key, value) VALUES ('last_analysis', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`),
		strconv.FormatInt(now, 10)); err != nil {
		return nil, fmt.Errorf("record analysis time: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("record paths: %w", err)
	}
	return events, nil
}

// LastAnalysis returns when paths were last recorded.
func (s *DB) LastAnalysis(ctx context.Context) (time.Time, bool, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT value FROM meta WHERE key = ?`), "last_analysis").Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read last analysis: %w", err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read last analysis: %w", err)
	}
	return fromMicros(n), true, nil
}

// PathEvents lists path events, newest first.
func (s *DB) PathEvents(ctx context.Context, f store.Filter) iter.Seq2[store.PathEvent, error] {
	var w where
	if !f.Since.IsZero() {
		w.add("at >= ?", micros(f.Since))
	}
	o := order{{"at", true}, {"event", false}, {"path_id", false}}
	if f.After != "" {
		// The cursor holds the event's key itself: at, event, path id.
		k, err := store.ParseCursor(f.After, 'p')
		parts := strings.SplitN(k, " ", 3)
		var at int64
		if err == nil && len(parts) == 3 {
			at, err = strconv.ParseInt(parts[0], 10, 64)
		}
		if err != nil || len(parts) != 3 {
			return failed[store.PathEvent](fmt.Errorf("path events: cursor %q: %w", f.After, store.ErrInvalid))
		}
		w.after(o, []any{at, parts[1], parts[2]})
	}
	q := `SELECT path_id, event, at, risk, summary FROM path_events` + w.sql() + o.sql() + limit(f.Limit)
	return rowsSeq(ctx, s.db, s.rebind(q), w.args, func(r *sql.Rows) (store.PathEvent, error) {
		var e store.PathEvent
		var at int64
		if err := r.Scan(&e.PathID, &e.Event, &at, &e.Risk, &e.Summary); err != nil {
			return e, fmt.Errorf("read path event: %w", err)
		}
		e.At = fromMicros(at)
		return e, nil
	})
}
