package sqlstore

import (
	"context"
	"fmt"
	"slices"
)

// TouchedAssets returns the asset keys this ingest wrote and those of
// the findings its scans fixed or reopened (store.AssetTracker).
func (x *tx) TouchedAssets(ctx context.Context, scanIDs []string) ([]string, error) {
	if err := x.flush(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for k := range x.assets {
		seen[k] = true
	}
	for _, id := range scanIDs {
		rows, err := x.tx.QueryContext(ctx, x.s.rebind(`SELECT DISTINCT f.asset FROM finding_events e JOIN findings f ON f.id = e.finding_id WHERE e.scan_id = ?`), id)
		if err != nil {
			return nil, fmt.Errorf("read touched assets: %w", err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read touched assets: %w", err)
			}
			seen[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read touched assets: %w", err)
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		if k != "" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}
