package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

var _ store.EvidenceReplacer = (*DB)(nil)

// ReplaceEvidence replaces source's facts about findingIDs, and expires
// its facts older than expire, in one transaction.
func (s *DB) ReplaceEvidence(ctx context.Context, source string, findingIDs []string, evs []model.Evidence, expire time.Time) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("replace evidence: %w", err)
	}
	defer tx.Rollback()
	if s.d.BeginSQL != "" {
		if _, err := tx.ExecContext(ctx, s.d.BeginSQL); err != nil {
			return 0, fmt.Errorf("replace evidence: %w", err)
		}
	}
	removed := 0
	del := func(q string, args ...any) error {
		res, err := tx.ExecContext(ctx, s.rebind(q), args...)
		if err != nil {
			return fmt.Errorf("replace evidence: %w", err)
		}
		n, _ := res.RowsAffected()
		removed += int(n)
		return nil
	}
	for i := 0; i < len(findingIDs); i += evidenceChunk {
		chunk := findingIDs[i:min(i+evidenceChunk, len(findingIDs))]
		args := []any{source}
		for _, id := range chunk {
			args = append(args, id)
		}
		if err := del(`DELETE FROM evidence WHERE source = ? AND finding_id IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
			return 0, err
		}
	}
	if !expire.IsZero() {
		if err := del(`DELETE FROM evidence WHERE source = ? AND at < ?`, source, micros(expire)); err != nil {
			return 0, err
		}
	}
	for _, e := range evs {
		if e.At.IsZero() {
			e.At = s.now()
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO evidence (kind, asset, vuln_id, finding_id, source, detail, at)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, asset, vuln_id, finding_id, source) DO UPDATE SET detail = excluded.detail, at = excluded.at`),
			string(e.Kind), e.Asset, model.NormalizeVulnID(e.VulnID), e.FindingID, source, e.Detail, micros(e.At)); err != nil {
			return 0, fmt.Errorf("replace evidence: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("replace evidence: %w", err)
	}
	return removed, nil
}
