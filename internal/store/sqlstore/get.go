package sqlstore

import (
	"context"
	"fmt"
	"iter"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// one returns the first value of seq, or an error wrapping
// store.ErrNotFound naming what and id when seq is empty.
func one[T any](seq iter.Seq2[T, error], what, id string) (T, error) {
	for v, err := range seq {
		return v, err
	}
	var zero T
	return zero, fmt.Errorf("%s %s: %w", what, id, store.ErrNotFound)
}

// Finding returns one finding by its exact id.
func (s *DB) Finding(ctx context.Context, id string) (model.Finding, error) {
	q := s.rebind(`SELECT ` + findingCols + ` FROM findings WHERE id = ?`)
	return one(rowsSeq(ctx, s.db, q, []any{id}, scanFinding), "finding", id)
}

// Exposure returns one exposure by its exact id, with its findings and
// history.
func (s *DB) Exposure(ctx context.Context, id string) (model.Exposure, error) {
	q := s.rebind(`SELECT ` + exposureCols + ` FROM exposures WHERE id = ?`)
	x, err := one(rowsSeq(ctx, s.db, q, []any{id}, scanExposure), "exposure", id)
	if err != nil {
		return x, err
	}
	b := []model.Exposure{x}
	if err := s.attachFindings(ctx, b, true); err != nil {
		return x, err
	}
	return b[0], nil
}

// Asset returns one asset by its exact key.
func (s *DB) Asset(ctx context.Context, key string) (model.Asset, error) {
	q := s.rebind(`SELECT ` + assetCols + ` FROM assets WHERE key = ?`)
	return one(rowsSeq(ctx, s.db, q, []any{key}, scanAsset), "asset", key)
}

// Scan returns one scan by its exact id.
func (s *DB) Scan(ctx context.Context, id string) (model.Scan, error) {
	q := s.rebind(`SELECT ` + scanCols + ` FROM scans WHERE id = ?`)
	return one(rowsSeq(ctx, s.db, q, []any{id}, scanScan), "scan", id)
}
