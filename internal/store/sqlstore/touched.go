package sqlstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/ctem-dev/ctem/internal/model"
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
		if err := x.collect(ctx, seen, `SELECT DISTINCT f.asset FROM finding_events e JOIN findings f ON f.id = e.finding_id WHERE e.scan_id = ?`, id); err != nil {
			return nil, err
		}
	}
	for e := range x.facts {
		if e.Asset != "" {
			seen[e.Asset] = true
		}
		var q string
		var args []any
		switch {
		case e.FindingID != "":
			q, args = `SELECT asset FROM findings WHERE id = ?`, []any{e.FindingID}
		case e.VulnID != "":
			// The exposures the fact is about: as applyVEX and the
			// evidence index match them.
			// A purl with qualifiers or a subpath is a prefix range
			// (substr, not LIKE: no wildcards in the key, and the same
			// case-sensitive meaning in both databases).
			q = `SELECT DISTINCT asset FROM exposures WHERE vuln_id = ?
  AND (? = '' OR asset = ? OR pkg_purl = ? OR (pkg_purl <> '' AND (substr(pkg_purl, 1, length(CAST(? AS TEXT))) = ? OR substr(pkg_purl, 1, length(CAST(? AS TEXT))) = ?)))`
			args = []any{e.VulnID, e.Asset, e.Asset, e.Asset, e.Asset + "?", e.Asset + "?", e.Asset + "#", e.Asset + "#"}
		default:
			continue
		}
		if err := x.collect(ctx, seen, q, args...); err != nil {
			return nil, err
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

// collect adds the keys query q returns to seen.
func (x *tx) collect(ctx context.Context, seen map[string]bool, q string, args ...any) error {
	rows, err := x.tx.QueryContext(ctx, x.s.rebind(q), args...)
	if err != nil {
		return fmt.Errorf("read touched assets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return fmt.Errorf("read touched assets: %w", err)
		}
		seen[k] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read touched assets: %w", err)
	}
	return nil
}

// noteFact remembers a fact the ingest wrote: the assets it is about are
// touched (a VEX statement closes exposures, a KEV or reachability fact
// changes a step's odds).
func (x *tx) noteFact(e model.Evidence) {
	if x.facts == nil {
		x.facts = map[model.Evidence]bool{}
	}
	x.facts[model.Evidence{Kind: e.Kind, Asset: e.Asset, VulnID: model.NormalizeVulnID(e.VulnID), FindingID: e.FindingID}] = true
}
