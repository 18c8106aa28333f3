package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// lastSeen gives the last sighting of findings that are not fixed. An
// unchanged finding's row is not written again by a rescan (see
// findingConflict), so its last_seen column is when it last changed; it
// was reported by every scan of its (tool, target) since, so it was last
// seen by the latest of them. That is looked up once per scan id a
// listing meets, from the scan that last wrote the finding.
type lastSeen struct {
	s *DB
	m map[string]time.Time
}

func newLastSeen(s *DB) *lastSeen { return &lastSeen{s: s, m: map[string]time.Time{}} }

// of returns the time of the latest scan of the (tool, target) of scan id.
func (l *lastSeen) of(ctx context.Context, scanID string) (time.Time, error) {
	if t, ok := l.m[scanID]; ok {
		return t, nil
	}
	var at sql.NullInt64
	err := l.s.queryRow(ctx, l.s.rebind(`SELECT MAX(b.started_at) FROM scans a JOIN scans b ON b.tool = a.tool AND b.target = a.target WHERE a.id = ?`), scanID).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("read last scan: %w", err)
	}
	t := fromMicros(at.Int64)
	l.m[scanID] = t
	return t, nil
}

// finding sets f.LastSeen when f is not fixed.
func (l *lastSeen) finding(ctx context.Context, f *model.Finding) error {
	if f.Status == model.StatusFixed || f.ScanID == "" {
		return nil
	}
	t, err := l.of(ctx, f.ScanID)
	if err != nil {
		return err
	}
	if t.After(f.LastSeen) {
		f.LastSeen = t
	}
	return nil
}

// scanCond returns the condition that a finding (aliased a) was last
// seen by scan id: when the scan is the latest of its (tool, target),
// the findings of that (tool, target) that are not fixed; otherwise those
// it was the last to report before they were fixed. The findings of a
// (tool, target) are those whose scan_id is one of its scans (a
// finding's scan_id is the last scan that changed it, of its own tool
// and target), so that the condition is a search of findings_scan for
// each scan of the (tool, target), not a read of every finding of the
// tool (findings have no index on their target). With hidden, scan_id
// is written so that no index is searched for it (plan.go).
func (s *DB) scanCond(ctx context.Context, a, id string, hidden bool) (string, []any, error) {
	var tool, target string
	var at, latest int64
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT a.tool, a.target, a.started_at, MAX(b.started_at) FROM scans a JOIN scans b ON b.tool = a.tool AND b.target = a.target WHERE a.id = ? GROUP BY a.tool, a.target, a.started_at`), id).Scan(&tool, &target, &at, &latest)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, fmt.Errorf("scan %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return "", nil, fmt.Errorf("read scan %s: %w", id, err)
	}
	scanID := a + ".scan_id"
	if hidden {
		scanID = hide(scanID)
	}
	cond := scanID + " IN (SELECT id FROM scans WHERE tool = ? AND target = ?) AND " + a + ".status = 'fixed' AND " + a + ".last_seen = ?"
	if at == latest {
		cond = scanID + " IN (SELECT id FROM scans WHERE tool = ? AND target = ?) AND (" + a + ".status <> 'fixed' OR " + a + ".last_seen = ?)"
	}
	return cond, []any{tool, target, at}, nil
}
