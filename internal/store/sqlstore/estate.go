package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ctem-dev/ctem/internal/model"
)

// Estate reads every asset and every relation, as Assets and Relations
// list them with no filter: assets by key, relations by from key, type,
// to key, action and source. Each table is one scan in storage order, the
// two at once, sorted in memory; listed by key, every asset row was a
// lookup from the key's index into the table. An analysis reads the
// whole estate, a re-analysis after one image's rescan included.
func (s *DB) Estate(ctx context.Context) ([]model.Asset, []model.Relation, error) {
	var (
		assets     []model.Asset
		rels       []model.Relation
		aErr, rErr error
		wg         sync.WaitGroup
	)
	wg.Go(func() { rels, rErr = s.allRelations(ctx) })
	assets, aErr = s.allAssets(ctx)
	wg.Wait()
	if err := cmp.Or(aErr, rErr); err != nil {
		return nil, nil, err
	}
	return assets, rels, nil
}

func (s *DB) allAssets(ctx context.Context) ([]model.Asset, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM assets`).Scan(&n); err != nil {
		return nil, fmt.Errorf("count assets: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+assetCols+` FROM assets`)
	if err != nil {
		return nil, fmt.Errorf("read assets: %w", err)
	}
	defer rows.Close()
	out := make([]model.Asset, 0, n)
	for rows.Next() {
		a, err := scanAsset(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read assets: %w", err)
	}
	return sortedBy(out, func(a *model.Asset) string { return a.Key }), nil
}

func (s *DB) allRelations(ctx context.Context) ([]model.Relation, error) {
	// Counted first: growing the slice row by row was a fifth of the
	// read at 150k relations.
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM relations`).Scan(&n); err != nil {
		return nil, fmt.Errorf("count relations: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT from_key, to_key, type, action, source FROM relations`)
	if err != nil {
		return nil, fmt.Errorf("read relations: %w", err)
	}
	defer rows.Close()
	var out []model.Relation // nil when there is none, as before
	if n > 0 {
		out = make([]model.Relation, 0, n)
	}
	// Types, actions and sources repeat: one string each.
	intern := map[string]string{}
	in := func(b sql.RawBytes) string {
		if v, ok := intern[string(b)]; ok {
			return v
		}
		v := string(b)
		intern[v] = v
		return v
	}
	var from, to string
	var typ, action, source sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&from, &to, &typ, &action, &source); err != nil {
			return nil, fmt.Errorf("read relation: %w", err)
		}
		out = append(out, model.Relation{From: from, To: to, Type: model.RelationType(in(typ)), Action: in(action), Source: in(source)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read relations: %w", err)
	}
	byKey := func(a, b model.Relation) int {
		return cmp.Or(strings.Compare(a.From, b.From), strings.Compare(string(a.Type), string(b.Type)), strings.Compare(a.To, b.To),
			strings.Compare(a.Action, b.Action), strings.Compare(a.Source, b.Source))
	}
	if !slices.IsSortedFunc(out, byKey) {
		slices.SortFunc(out, byKey)
	}
	return out, nil
}

// sortedBy returns xs in the order of their keys: the keys are sorted
// beside their positions and each element is copied once, where sorting
// the elements themselves moved assets of some 200 bytes O(n log n)
// times. xs is already in that order when its rows were written in it.
func sortedBy[T any](xs []T, key func(*T) string) []T {
	if slices.IsSortedFunc(xs, func(a, b T) int { return strings.Compare(key(&a), key(&b)) }) {
		return xs
	}
	type at struct {
		k string
		i int32
	}
	keys := make([]at, len(xs))
	for i := range xs {
		keys[i] = at{key(&xs[i]), int32(i)}
	}
	slices.SortFunc(keys, func(a, b at) int { return cmp.Or(strings.Compare(a.k, b.k), cmp.Compare(a.i, b.i)) })
	out := make([]T, len(xs))
	for i, k := range keys {
		out[i] = xs[k.i]
	}
	return out
}
