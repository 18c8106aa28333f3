package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/ctem-dev/ctem/internal/store"
)

// OutboxEvents reads the cursor and the path events of the analyses after
// it, with their paths' entry, jewel and validation.
func (s *DB) OutboxEvents(ctx context.Context, name string, analyses int) (pos, upTo int64, events []store.OutboxEvent, err error) {
	err = s.db.QueryRowContext(ctx, s.rebind(`SELECT position FROM outbox_cursors WHERE name = ?`), name).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		pos, err = 0, nil
	}
	if err != nil {
		return 0, 0, nil, fmt.Errorf("read outbox cursor %s: %w", name, err)
	}
	upTo = pos
	var last sql.NullInt64
	if err := s.db.QueryRowContext(ctx, s.rebind(`SELECT MAX(id) FROM (SELECT id FROM analyses WHERE id > ? ORDER BY id LIMIT ?) a`), pos, max(analyses, 1)).Scan(&last); err != nil {
		return 0, 0, nil, fmt.Errorf("read outbox analyses: %w", err)
	}
	if !last.Valid {
		return pos, pos, nil, nil
	}
	upTo = last.Int64
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT e.analysis_id, e.path_id, e.event, e.at, e.risk, e.summary, COALESCE(p.entry, ''), COALESCE(p.jewel, ''), COALESCE(p.validated, 0)
FROM path_events e LEFT JOIN paths p ON p.id = e.path_id
WHERE e.analysis_id > ? AND e.analysis_id <= ?
ORDER BY e.analysis_id, e.event DESC, e.path_id`), pos, upTo)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("read outbox events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e store.OutboxEvent
		var at int64
		var validated int
		if err := rows.Scan(&e.Analysis, &e.PathID, &e.Event, &at, &e.Risk, &e.Summary, &e.Entry, &e.Jewel, &validated); err != nil {
			return 0, 0, nil, fmt.Errorf("read outbox events: %w", err)
		}
		e.At, e.Validated = fromMicros(at), validated != 0
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return 0, 0, nil, fmt.Errorf("read outbox events: %w", err)
	}
	return pos, upTo, events, nil
}

// CommitOutbox queues the deliveries and moves the cursor in one write
// transaction; the cursor's compare-and-set makes two servers turning
// the same analyses queue them once.
func (s *DB) CommitOutbox(ctx context.Context, name string, from, to int64, jobs []store.Job) (bool, error) {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return false, fmt.Errorf("commit outbox: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.rebind(`UPDATE outbox_cursors SET position = ? WHERE name = ? AND position = ?`), to, name, from)
	if err != nil {
		return false, fmt.Errorf("commit outbox: %w", err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		// No row yet (a cursor other than the migration's) at 0.
		if from != 0 {
			return false, nil
		}
		res, err = tx.ExecContext(ctx, s.rebind(`INSERT INTO outbox_cursors (name, position) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`), name, to)
		if err != nil {
			return false, fmt.Errorf("commit outbox: %w", err)
		}
		if n, _ = res.RowsAffected(); n == 0 {
			return false, nil
		}
	}
	for _, j := range jobs {
		if j.Key == "" {
			return false, fmt.Errorf("commit outbox: job %s has no key", j.ID)
		}
		if _, err := tx.ExecContext(ctx, s.rebind(insertJob+` ON CONFLICT (unique_key) WHERE unique_key <> '' DO NOTHING`), jobArgs(j)...); err != nil {
			return false, fmt.Errorf("commit outbox: queue %s: %w", j.Key, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit outbox: %w", err)
	}
	return true, nil
}
