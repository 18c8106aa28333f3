package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

var _ store.ScanRemover = (*DB)(nil)

// maxSeq is the last ingest sequence taken, by a scan or a removal.
const maxSeq = `SELECT COALESCE(MAX(seq), 0) FROM (SELECT seq FROM scans UNION ALL SELECT seq FROM scan_removals) s`

// RemoveScan undoes the ingest of one scan (see store.ScanRemover), which
// must be the latest of its (tool, target) (else an error wrapping
// store.ErrInvalid names the newer one). It reads the scan's lifecycle back from its finding events: a finding the
// scan fixed or reopened takes its status before the scan again, a
// finding first seen by the scan is deleted, a finding seen again by it
// goes back to the scan of its (tool, target) before. The exposures of
// the findings touched are then recomputed from the findings that remain,
// and those with none are deleted. Portable SQL: correlated subqueries
// and IN lists, no UPDATE ... FROM.
func (s *DB) RemoveScan(ctx context.Context, rm store.ScanRemoval) (store.ScanRemoval, error) {
	if rm.At.IsZero() {
		rm.At = time.Now().UTC()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return rm, fmt.Errorf("remove scan: %w", err)
	}
	defer tx.Rollback()
	if s.d.BeginSQL != "" {
		if _, err := tx.ExecContext(ctx, s.d.BeginSQL); err != nil {
			return rm, fmt.Errorf("remove scan: %w", err)
		}
	}
	exec := func(what, q string, args ...any) (int64, error) {
		res, err := tx.ExecContext(ctx, s.rebind(q), args...)
		if err != nil {
			return 0, fmt.Errorf("remove scan %s: %s: %w", rm.ScanID, what, err)
		}
		n, _ := res.RowsAffected()
		return n, nil
	}
	var started int64
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT tool, target, input, started_at FROM scans WHERE id = ?`), rm.ScanID).
		Scan(&rm.Tool, &rm.Target, &rm.Input, &started)
	if errors.Is(err, sql.ErrNoRows) {
		return rm, fmt.Errorf("scan %s: %w", rm.ScanID, store.ErrNotFound)
	}
	if err != nil {
		return rm, fmt.Errorf("remove scan %s: %w", rm.ScanID, err)
	}
	// Only the latest scan of its (tool, target) can go: a finding that
	// later scans saw unchanged keeps the row the scan wrote (see
	// lastSeen), so removing an earlier scan would take it from them.
	var later string
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT id FROM scans a WHERE a.tool = ? AND a.target = ? AND a.id <> ?
AND (a.started_at > ? OR (a.started_at = ? AND a.seq > (SELECT seq FROM scans WHERE id = ?))) ORDER BY a.seq DESC LIMIT 1`),
		rm.Tool, rm.Target, rm.ScanID, started, started, rm.ScanID).Scan(&later)
	switch {
	case err == nil:
		return rm, fmt.Errorf("remove scan %s: %w: scan %s of the same tool and target is newer; remove the newer scans first", rm.ScanID, store.ErrInvalid, later)
	case !errors.Is(err, sql.ErrNoRows):
		return rm, fmt.Errorf("remove scan %s: newer scans: %w", rm.ScanID, err)
	}
	if err := tx.QueryRowContext(ctx, maxSeq).Scan(&rm.Seq); err != nil {
		return rm, fmt.Errorf("remove scan %s: %w", rm.ScanID, err)
	}
	rm.Seq++
	// The scan of the same (tool, target) before this one, to which the
	// findings this one saw again return.
	var prevID string
	var prevAt int64
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT id, started_at FROM scans WHERE tool = ? AND target = ? AND id <> ? AND started_at <= ?
ORDER BY started_at DESC, seq DESC LIMIT 1`), rm.Tool, rm.Target, rm.ScanID, started).Scan(&prevID, &prevAt)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return rm, fmt.Errorf("remove scan %s: previous scan: %w", rm.ScanID, err)
	}
	// What the scan touched: its findings and those it changed.
	touched := `SELECT id FROM findings WHERE scan_id = ? UNION SELECT finding_id FROM finding_events WHERE scan_id = ?`
	var exposures []string
	seenAsset := map[string]bool{}
	rows, err := tx.QueryContext(ctx, s.rebind(`SELECT DISTINCT exposure_id, asset FROM findings WHERE id IN (`+touched+`)`), rm.ScanID, rm.ScanID)
	if err != nil {
		return rm, fmt.Errorf("remove scan %s: read findings: %w", rm.ScanID, err)
	}
	for rows.Next() {
		var eid, asset sql.NullString
		if err := rows.Scan(&eid, &asset); err != nil {
			rows.Close()
			return rm, fmt.Errorf("remove scan %s: read findings: %w", rm.ScanID, err)
		}
		if eid.String != "" && !slices.Contains(exposures, eid.String) {
			exposures = append(exposures, eid.String)
		}
		if asset.String != "" && !seenAsset[asset.String] {
			seenAsset[asset.String] = true
			rm.Assets = append(rm.Assets, asset.String)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rm, fmt.Errorf("remove scan %s: read findings: %w", rm.ScanID, err)
	}
	slices.Sort(rm.Assets)
	// Undo the status changes: each finding the scan fixed or reopened
	// takes the status it had before (its event's from_status); one the
	// scan reopened is fixed again as of its last fix by another scan.
	n, err := exec("restore statuses", `UPDATE findings SET
  status = (SELECT MIN(e.from_status) FROM finding_events e WHERE e.finding_id = findings.id AND e.scan_id = ?),
  fixed_at = COALESCE((SELECT MAX(e.at) FROM finding_events e WHERE e.finding_id = findings.id AND e.scan_id <> ? AND e.to_status = 'fixed'), 0)
WHERE id IN (SELECT finding_id FROM finding_events WHERE scan_id = ? AND from_status <> '')`, rm.ScanID, rm.ScanID, rm.ScanID)
	if err != nil {
		return rm, err
	}
	if _, err := exec("restore statuses", `UPDATE findings SET fixed_at = 0 WHERE status <> 'fixed' AND id IN (SELECT finding_id FROM finding_events WHERE scan_id = ?)`, rm.ScanID); err != nil {
		return rm, err
	}
	rm.FindingsRestored = int(n)
	// Findings the scan reported first are deleted, with their ids and
	// evidence.
	newOnes := `SELECT id FROM findings WHERE scan_id = ? AND first_seen = ?`
	for _, q := range []string{
		`DELETE FROM finding_vulns WHERE finding_id IN (` + newOnes + `)`,
		`DELETE FROM evidence WHERE finding_id <> '' AND finding_id IN (` + newOnes + `)`,
	} {
		if _, err := exec("delete findings", q, rm.ScanID, started); err != nil {
			return rm, err
		}
	}
	if n, err = exec("delete findings", `DELETE FROM findings WHERE scan_id = ? AND first_seen = ?`, rm.ScanID, started); err != nil {
		return rm, err
	}
	rm.FindingsRemoved = int(n)
	// Findings seen before and again by the scan return to the scan
	// before.
	if n, err = exec("restore findings", `UPDATE findings SET scan_id = ?, last_seen = ? WHERE scan_id = ?`, prevID, prevAt, rm.ScanID); err != nil {
		return rm, err
	}
	rm.FindingsRestored += int(n)
	for _, q := range []string{`DELETE FROM finding_events WHERE scan_id = ?`, `DELETE FROM status_events WHERE scan_id = ?`, `DELETE FROM scans WHERE id = ?`} {
		if _, err := exec("delete events", q, rm.ScanID); err != nil {
			return rm, err
		}
	}
	// The exposures touched: deleted when no finding reports them any
	// more, else recomputed from their findings (as the lifecycle does).
	for c := range slices.Chunk(exposures, 500) {
		in := ` IN (` + placeholders(len(c)) + `)`
		args := make([]any, len(c))
		for i, id := range c {
			args[i] = id
		}
		n, err := exec("delete exposures", `DELETE FROM exposures WHERE id`+in+` AND NOT EXISTS (SELECT 1 FROM findings f WHERE f.exposure_id = exposures.id)`, args...)
		if err != nil {
			return rm, err
		}
		rm.ExposuresRemoved += int(n)
		// The scan's tool no longer reports an exposure that none of
		// the tool's findings does.
		if _, err := exec("delete exposure tools", `DELETE FROM exposure_tools WHERE tool = ? AND exposure_id`+in+`
  AND NOT EXISTS (SELECT 1 FROM findings f WHERE `+ofExposure("f", "exposure_tools.exposure_id")+` AND f.tool = exposure_tools.tool)`, append([]any{rm.Tool}, args...)...); err != nil {
			return rm, err
		}
		if _, err := exec("update exposures", `UPDATE exposures SET (status, sev, last_seen, fixed_at) = (
  SELECT CASE
      WHEN MAX(CASE WHEN f.status = 'open' THEN 1 ELSE 0 END) = 1 THEN 'open'
      WHEN MAX(CASE WHEN f.status = 'accepted' THEN 1 ELSE 0 END) = 1 THEN 'accepted'
      WHEN MAX(CASE WHEN f.status = 'false_positive' THEN 1 ELSE 0 END) = 1 THEN 'false_positive'
      WHEN MAX(CASE WHEN f.status = 'not_affected' THEN 1 ELSE 0 END) = 1 THEN 'not_affected'
      ELSE 'fixed' END,
    COALESCE(MAX(CASE WHEN f.status <> 'fixed' THEN f.sev END), MAX(f.sev), 0),
    COALESCE(MAX(f.last_seen), exposures.last_seen),
    CASE WHEN MAX(CASE WHEN f.status <> 'fixed' THEN 1 ELSE 0 END) = 1 THEN 0 ELSE COALESCE(MAX(f.fixed_at), 0) END
  FROM findings f WHERE `+ofExposure("f", "exposures.id")+`)
WHERE id`+in, args...); err != nil {
			return rm, err
		}
	}
	if _, err := exec("record removal", `INSERT INTO scan_removals (seq, scan_id, tool, target, input, findings_removed, findings_restored, exposures_removed, actor, reason, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, rm.Seq, rm.ScanID, rm.Tool, rm.Target, rm.Input, rm.FindingsRemoved, rm.FindingsRestored, rm.ExposuresRemoved, rm.Actor, rm.Reason, micros(rm.At)); err != nil {
		return rm, err
	}
	if err := s.auditIn(ctx, tx, store.AuditScanRemove, rm); err != nil {
		return rm, err
	}
	if err := tx.Commit(); err != nil {
		return rm, fmt.Errorf("remove scan %s: %w", rm.ScanID, err)
	}
	store.AuditUsed(ctx)
	return rm, nil
}

// ScanRemovals lists the removals, newest first.
func (s *DB) ScanRemovals(ctx context.Context) iter.Seq2[store.ScanRemoval, error] {
	q := `SELECT seq, scan_id, tool, target, input, findings_removed, findings_restored, exposures_removed, actor, reason, at FROM scan_removals ORDER BY seq DESC`
	return rowsSeq(ctx, s.db, q, nil, func(r *sql.Rows) (store.ScanRemoval, error) {
		var rm store.ScanRemoval
		var at int64
		if err := r.Scan(&rm.Seq, &rm.ScanID, &rm.Tool, &rm.Target, &rm.Input, &rm.FindingsRemoved, &rm.FindingsRestored, &rm.ExposuresRemoved, &rm.Actor, &rm.Reason, &at); err != nil {
			return rm, fmt.Errorf("read scan removal: %w", err)
		}
		rm.At = fromMicros(at)
		return rm, nil
	})
}
