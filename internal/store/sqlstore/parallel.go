package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// Parallel ingests (Dialect.IngestBeginSQL, PostgreSQL). An ingest holds
// the writers' lock in a shared mode, so that ingests exclude the other
// writers (triage, analyses, removals: what reads the whole store and
// numbers things as the last plus one) but not each other, and the lock
// of each (tool, target) it records, so that two ingests of one (tool,
// target) apply one after the other (the job queue starts them in upload
// order, see ClaimJobOf). Three things then need care:
//
//   - Scan sequence numbers are taken at commit (numberScans), under a
//     lock held until the commit ends: numbers follow commit order, so
//     that an analysis that read the highest committed number read every
//     lower one (the "up to" rule of store.Analysis).
//   - Assets and relations, rows that ingests of different (tool,
//     target) share, are held back until the input ends and then written
//     in the order of their keys (writeHeld): written as they arrived, two
//     ingests that share two assets locked them in opposite orders and
//     deadlocked.
//   - What deadlocks anyway (exposures several tools report, a report of
//     two (tool, target)s) is aborted by PostgreSQL (SQLSTATE 40P01),
//     rolled back whole, and run again by the caller (store.Retryable).

// beginParallel takes the locks a parallel ingest starts with: the
// shared writers' lock, then the locks of the keys the context names
// (store.WithScanKeys), in sorted order.
func (x *tx) beginParallel() error {
	x.par = true
	x.held = &heldRows{}
	if _, err := x.tx.ExecContext(x.ctx, x.s.d.IngestBeginSQL); err != nil {
		return fmt.Errorf("begin ingest: %w", err)
	}
	var lanes []string
	for _, k := range store.ScanKeysFrom(x.ctx) {
		if l := k.Lane(); l != "" {
			lanes = append(lanes, l)
		}
	}
	slices.Sort(lanes)
	for _, l := range slices.Compact(lanes) {
		if err := x.lockKey(l); err != nil {
			return err
		}
	}
	return nil
}

// lockKey takes the lock of one (tool, target) lane unless the
// transaction holds it already.
func (x *tx) lockKey(lane string) error {
	if x.held.locked[lane] {
		return nil
	}
	if _, err := x.tx.ExecContext(x.ctx, x.s.rebind(x.s.d.KeyLockSQL), lane); err != nil {
		return fmt.Errorf("lock %q: %w", lane, err)
	}
	if x.held.locked == nil {
		x.held.locked = map[string]bool{}
	}
	x.held.locked[lane] = true
	return nil
}

// numberScans gives the transaction's scans their sequence numbers, the
// last committed plus one onwards, under the commit lock (held until the
// transaction ends). Nothing for a serial ingest, whose scans took them
// at Begin.
func (x *tx) numberScans() error {
	if !x.par || len(x.scanIDs) == 0 {
		return nil
	}
	if _, err := x.tx.ExecContext(x.ctx, x.s.d.CommitLockSQL); err != nil {
		return fmt.Errorf("commit ingest: %w", err)
	}
	var base int64
	if err := x.tx.QueryRowContext(x.ctx, `SELECT (`+maxSeq+`) + 1`).Scan(&base); err != nil {
		return fmt.Errorf("commit ingest: number scans: %w", err)
	}
	for i, id := range x.scanIDs {
		if _, err := x.tx.ExecContext(x.ctx, x.s.rebind(`UPDATE scans SET seq = ? WHERE id = ?`), base+int64(i), id); err != nil {
			return fmt.Errorf("commit ingest: number scans: %w", err)
		}
	}
	x.firstSeq = base
	return nil
}

// FirstSeq returns the sequence number of the transaction's first scan
// once committed (see store.SeqReporter), 0 when it recorded none.
func (x *tx) FirstSeq() int64 { return x.firstSeq }

var _ store.SeqReporter = (*tx)(nil)

// heldRows are the assets and relations of a parallel ingest's input,
// written when it ends (writeHeld).
type heldRows struct {
	locked  map[string]bool
	touched map[string]int64 // asset keys named by findings, relations, scans: first time
	assets  map[string]*heldAsset
	rels    map[relKey]*[2]int64 // first and last time
}

// heldAsset is an asset the input described (tx.Asset), its successive
// descriptions merged as the upserts would merge them.
type heldAsset struct {
	a           model.Asset
	first, last int64
}

type relKey struct{ from, to, typ, action, source string }

func (h *heldRows) touch(key string, at int64) {
	if h.touched == nil {
		h.touched = map[string]int64{}
	}
	if _, ok := h.touched[key]; !ok {
		h.touched[key] = at
	}
}

func (h *heldRows) asset(a model.Asset, at int64) {
	if h.assets == nil {
		h.assets = map[string]*heldAsset{}
	}
	old := h.assets[a.Key]
	if old == nil {
		if a.Labels != nil {
			a.Labels = maps.Clone(a.Labels)
		}
		h.assets[a.Key] = &heldAsset{a: a, first: at, last: at}
		return
	}
	o := &old.a
	o.Kind, o.Name = a.Kind, a.Name
	if len(a.Labels) > 0 {
		if o.Labels == nil {
			o.Labels = map[string]string{}
		}
		maps.Copy(o.Labels, a.Labels)
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{{&o.Environment, a.Environment}, {&o.Owner, a.Owner}, {&o.Criticality, a.Criticality}, {&o.Source, a.Source}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	old.last = at
}

func (h *heldRows) relation(r model.Relation, at int64) {
	if h.rels == nil {
		h.rels = map[relKey]*[2]int64{}
	}
	k := relKey{r.From, r.To, string(r.Type), r.Action, r.Source}
	if t := h.rels[k]; t != nil {
		t[1] = at
		return
	}
	h.rels[k] = &[2]int64{at, at}
}

// writeHeld writes the held assets, then the held relations, each in the
// order of their keys, and forgets them.
func (x *tx) writeHeld(ctx context.Context) error {
	if !x.par {
		return nil
	}
	h := x.held
	keys := slices.Collect(maps.Keys(h.touched))
	for k := range h.assets {
		if _, ok := h.touched[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if a := h.assets[k]; a != nil {
			first := a.first
			if t, ok := h.touched[k]; ok {
				first = min(first, t)
			}
			if err := x.writeAsset(a.a, first, a.last); err != nil {
				return err
			}
			continue
		}
		at := h.touched[k]
		if _, err := x.touchAsset.ExecContext(ctx, k, string(model.KindOfKey(k)), assetName(k), at, at); err != nil {
			return fmt.Errorf("record asset %s: %w", k, err)
		}
	}
	rels := slices.SortedFunc(maps.Keys(h.rels), func(a, b relKey) int {
		return cmp.Or(cmp.Compare(a.from, b.from), cmp.Compare(a.to, b.to), cmp.Compare(a.typ, b.typ),
			cmp.Compare(a.action, b.action), cmp.Compare(a.source, b.source))
	})
	for _, r := range rels {
		t := h.rels[r]
		if _, err := x.tx.ExecContext(ctx, x.s.rebind(`INSERT INTO relations (from_key, to_key, type, action, source, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (from_key, to_key, type, action, source) DO UPDATE SET last_seen = excluded.last_seen`),
			r.from, r.to, r.typ, r.action, r.source, t[0], t[1]); err != nil {
			return fmt.Errorf("record relation: %w", err)
		}
	}
	h.touched, h.assets, h.rels = nil, nil, nil
	return nil
}
