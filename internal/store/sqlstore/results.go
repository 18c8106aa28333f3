package sqlstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

var _ store.Results = (*DB)(nil)

// IngestSeq returns the highest committed scan sequence number.
func (s *DB) IngestSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, maxSeq).Scan(&n); err != nil {
		return 0, fmt.Errorf("read ingest sequence: %w", err)
	}
	return n, nil
}

// queryer is what *sql.DB and *sql.Tx share.
type queryer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

const analysisCols = `id, at, partial, ingest_seq, up_to, scope_source, scope_version, scope_digest, codeowners, feeds, k, max_steps, paths, risk, opened, closed`

func (s *DB) latestAnalysis(ctx context.Context, q queryer) (store.Analysis, bool, error) {
	var a store.Analysis
	var at int64
	var partial int
	var owners, feeds string
	err := q.QueryRowContext(ctx, `SELECT `+analysisCols+` FROM analyses ORDER BY id DESC LIMIT 1`).Scan(
		&a.ID, &at, &partial, &a.IngestSeq, &a.UpTo, &a.Scope.Source, &a.Scope.Version, &a.Scope.Digest, &owners, &feeds,
		&a.K, &a.MaxSteps, &a.Paths, &a.Risk, &a.Opened, &a.Closed)
	if errors.Is(err, sql.ErrNoRows) {
		return a, false, nil
	}
	if err != nil {
		return a, false, fmt.Errorf("read latest analysis: %w", err)
	}
	a.At, a.Partial = fromMicros(at), partial != 0
	if err := json.Unmarshal([]byte(owners), &a.CodeOwners); err != nil {
		return a, false, fmt.Errorf("read latest analysis: %w", err)
	}
	if err := json.Unmarshal([]byte(feeds), &a.Feeds); err != nil {
		return a, false, fmt.Errorf("read latest analysis: %w", err)
	}
	if a.Scope.Source == "file" {
		// name, newline, digest (a NUL before, which PostgreSQL's text
		// refuses); a digest holds no newline.
		if name, _, ok := strings.Cut(a.Scope.Digest, "\x00"); ok {
			a.Scope.Name = name
		} else if i := strings.LastIndexByte(a.Scope.Digest, '\n'); i >= 0 {
			a.Scope.Name = a.Scope.Digest[:i]
		} else {
			a.Scope.Name = a.Scope.Digest
		}
	}
	return a, true, nil
}

// LatestAnalysis returns the last recorded analysis.
func (s *DB) LatestAnalysis(ctx context.Context) (store.Analysis, bool, error) {
	return s.latestAnalysis(ctx, s.db)
}

// older reports why a is older than b, the latest recorded analysis, or
// "" when it is not: a lower ingest sequence, an older stored scope, or
// older data of a feed both used.
func older(a, b store.Analysis) string {
	if a.IngestSeq < b.IngestSeq {
		return fmt.Sprintf("it read ingest sequence %d, analysis %d read %d", a.IngestSeq, b.ID, b.IngestSeq)
	}
	if a.Scope.Source == "stored" && b.Scope.Source == "stored" && a.Scope.Version < b.Scope.Version {
		return fmt.Sprintf("it read scope version %d, analysis %d read %d", a.Scope.Version, b.ID, b.Scope.Version)
	}
	for _, f := range a.Feeds {
		for _, g := range b.Feeds {
			if f.Feed == g.Feed && f.DataDate.Before(g.DataDate) {
				return fmt.Sprintf("it read %s data of %s, analysis %d read data of %s", f.Feed, f.DataDate.Format(time.DateOnly), b.ID, g.DataDate.Format(time.DateOnly))
			}
		}
	}
	return ""
}

// RecordAnalysis stores an analysis and its results in one transaction.
// Write transactions are serialized (SQLite's immediate transactions, a
// lock in PostgreSQL through BeginSQL), so the check against the latest
// analysis and the write are one step.
func (s *DB) RecordAnalysis(ctx context.Context, r *store.AnalysisRecord) (store.Analysis, []store.PathEvent, error) {
	a := r.Analysis
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return a, nil, fmt.Errorf("record analysis: %w", err)
	}
	defer tx.Rollback()
	if s.d.BeginSQL != "" {
		if _, err := tx.ExecContext(ctx, s.d.BeginSQL); err != nil {
			return a, nil, fmt.Errorf("record analysis: %w", err)
		}
	}
	last, ok, err := s.latestAnalysis(ctx, tx)
	if err != nil {
		return a, nil, err
	}
	if ok {
		if why := older(a, last); why != "" {
			return a, nil, fmt.Errorf("record analysis: %w (%s)", store.ErrConflict, why)
		}
	}
	a.ID = last.ID + 1
	now := micros(a.At)
	events, nx, err := s.recordPaths(ctx, tx, a, r)
	if err != nil {
		return a, nil, err
	}
	for _, e := range events {
		if e.Event == "opened" {
			a.Opened++
		} else {
			a.Closed++
		}
	}
	if err := s.replaceResults(ctx, tx, a.ID, r); err != nil {
		return a, nil, err
	}
	if err := s.recordKPIs(ctx, tx, a, r, nx); err != nil {
		return a, nil, err
	}
	owners, _ := json.Marshal(nonNilStrings(a.CodeOwners))
	if a.Feeds == nil {
		a.Feeds = []store.FeedVersion{}
	}
	feeds, _ := json.Marshal(a.Feeds)
	digest := a.Scope.Digest
	if a.Scope.Source == "file" {
		digest = a.Scope.Name + "\n" + a.Scope.Digest
	}
	partial := 0
	if a.Partial {
		partial = 1
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO analyses (`+analysisCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		a.ID, now, partial, a.IngestSeq, a.UpTo, a.Scope.Source, a.Scope.Version, digest, string(owners), string(feeds),
		a.K, a.MaxSteps, a.Paths, a.Risk, a.Opened, a.Closed); err != nil {
		return a, nil, fmt.Errorf("record analysis: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO meta (key, value) VALUES ('last_analysis', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`),
		strconv.FormatInt(now, 10)); err != nil {
		return a, nil, fmt.Errorf("record analysis time: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return a, nil, fmt.Errorf("record analysis: %w", err)
	}
	return a, events, nil
}

func nonNilStrings(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// recordPaths opens and closes paths as RecordPaths does, with the events
// in a stable order: opened in the order given, closed by path id. A path
// found as it is stored is not written again: only its last_seen and
// analysis_id move on. A full analysis reads the stored links of paths to
// exposures and inserts only the missing ones; it then also returns the
// number of exposures on the open paths (which recordKPIs would otherwise
// count in the database), else -1.
func (s *DB) recordPaths(ctx context.Context, tx *sql.Tx, a store.Analysis, r *store.AnalysisRecord) ([]store.PathEvent, int, error) {
	now := micros(a.At)
	type openPath struct {
		p     store.StoredPath
		names string
		by    string
	}
	// The open paths this analysis may close: all, or those to the
	// jewels a partial one covered (paths_jewel indexes them), each with
	// what a path found again is compared on.
	open := map[string]openPath{}
	readOpen := func(q string, args ...any) error {
		rows, err := tx.QueryContext(ctx, s.rebind(q), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var o openPath
			var valid int
			if err := rows.Scan(&o.p.ID, &o.p.Risk, &o.p.Entry, &o.p.Target, &o.p.Jewel, &o.p.Likelihood, &valid, &o.p.Steps, &o.names, &o.by); err != nil {
				return err
			}
			o.p.Validated = valid != 0
			open[o.p.ID] = o
		}
		return rows.Err()
	}
	const openSQL = `SELECT id, risk, entry, target, jewel, likelihood, validated, steps, names, validated_by FROM paths WHERE status = 'open'`
	if r.Jewels == nil {
		if err := readOpen(openSQL); err != nil {
			return nil, 0, fmt.Errorf("record paths: %w", err)
		}
	} else {
		for chunk := range slices.Chunk(slices.Sorted(maps.Keys(r.Jewels)), 500) {
			if err := readOpen(openSQL+` AND jewel IN (`+placeholders(len(chunk))+`)`, anyOf(chunk)...); err != nil {
				return nil, 0, fmt.Errorf("record paths: %w", err)
			}
		}
	}
	// The stored links, read whole for a full analysis; a partial one
	// inserts its few with ON CONFLICT DO NOTHING.
	var links map[[2]string]bool
	if r.Jewels == nil {
		links = map[[2]string]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT exposure_id, path_id FROM path_exposures`)
		if err != nil {
			return nil, 0, fmt.Errorf("record paths: %w", err)
		}
		for rows.Next() {
			var l [2]string
			if err := rows.Scan(&l[0], &l[1]); err != nil {
				rows.Close()
				return nil, 0, fmt.Errorf("record paths: %w", err)
			}
			links[l] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, 0, fmt.Errorf("record paths: %w", err)
		}
	}
	var events []store.PathEvent
	seen := map[string]bool{}
	var pathRows, expRows [][]any
	var same []string
	for _, p := range r.Paths {
		if seen[p.ID] {
			continue
		}
		seen[p.ID] = true
		valid := 0
		if p.Validated {
			valid = 1
		}
		names, err := json.Marshal(r.PathNames[p.ID])
		if err != nil || string(names) == "null" {
			names = []byte("{}")
		}
		by := validatedBy(p)
		o, was := open[p.ID]
		if was && o.p.Entry == p.Entry && o.p.Target == p.Target && o.p.Jewel == p.Jewel && o.p.Likelihood == p.Likelihood && o.p.Risk == p.Risk &&
			o.p.Validated == p.Validated && o.p.Steps == p.Steps && o.names == string(names) && o.by == by {
			same = append(same, p.ID)
		} else {
			pathRows = append(pathRows, []any{p.ID, p.Entry, p.Target, p.Jewel, p.Likelihood, p.Risk, valid, p.Steps, "open", now, now, a.ID, string(names), by})
		}
		xs := slices.Clone(r.PathExposures[p.ID])
		slices.Sort(xs)
		for _, x := range slices.Compact(xs) {
			if links != nil {
				l := [2]string{x, p.ID}
				if links[l] {
					continue
				}
				links[l] = true
			}
			expRows = append(expRows, []any{x, p.ID})
		}
		if !was {
			events = append(events, store.PathEvent{PathID: p.ID, Event: "opened", At: a.At, Risk: p.Risk, Summary: p.Summary})
		}
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO paths (id, entry, target, jewel, likelihood, risk, validated, steps, status, first_seen, last_seen, analysis_id, names, validated_by) VALUES `,
		pathRows, ` ON CONFLICT (id) DO UPDATE SET likelihood = excluded.likelihood, risk = excluded.risk, validated = excluded.validated,
  steps = excluded.steps, status = 'open', last_seen = excluded.last_seen, closed_at = 0, analysis_id = excluded.analysis_id, names = excluded.names,
  validated_by = excluded.validated_by`); err != nil {
		return nil, 0, fmt.Errorf("record paths: %w", err)
	}
	for chunk := range slices.Chunk(same, 500) {
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE paths SET last_seen = ?, analysis_id = ? WHERE id IN (`+placeholders(len(chunk))+`)`),
			append([]any{now, a.ID}, anyOf(chunk)...)...); err != nil {
			return nil, 0, fmt.Errorf("record paths: %w", err)
		}
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO path_exposures (exposure_id, path_id) VALUES `, expRows, ` ON CONFLICT DO NOTHING`); err != nil {
		return nil, 0, fmt.Errorf("record paths: %w", err)
	}
	var closed []string
	for id := range open {
		if !seen[id] {
			closed = append(closed, id)
		}
	}
	slices.Sort(closed)
	for _, id := range closed {
		p := open[id].p
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE paths SET status = 'closed', closed_at = ?, analysis_id = ? WHERE id = ?`), now, a.ID, id); err != nil {
			return nil, 0, fmt.Errorf("close path: %w", err)
		}
		// Only open paths keep their links (see recordKPIs); the links
		// read above of a path that closes are not counted below either.
		if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM path_exposures WHERE path_id = ?`), id); err != nil {
			return nil, 0, fmt.Errorf("close path: %w", err)
		}
		events = append(events, store.PathEvent{PathID: id, Event: "closed", At: a.At, Risk: p.Risk, Summary: p.Entry + " => " + p.Target})
	}
	for _, e := range events {
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO path_events (path_id, event, at, risk, summary, analysis_id) VALUES (?, ?, ?, ?, ?, ?)`),
			e.PathID, e.Event, now, e.Risk, e.Summary, a.ID); err != nil {
			return nil, 0, fmt.Errorf("record path event: %w", err)
		}
	}
	nx := -1
	if links != nil {
		// After a full analysis the open paths are exactly those it
		// found: the exposures linked to one of them.
		xs := map[string]bool{}
		for l := range links {
			if seen[l[1]] {
				xs[l[0]] = true
			}
		}
		nx = len(xs)
	}
	return events, nx, nil
}

// replaceResults replaces the stored priorities, actions and jewel risks:
// all of them for a full analysis, those anchored in the covered
// components (and the covered jewels') for a partial one. Priorities and
// asset contexts, a row per exposure on a path and per asset that holds
// one, are compared with what is stored: only the rows that changed are
// written and only those that went are deleted (their analysis_id is that
// of the analysis that last changed them), so that an analysis that finds
// what the last one found writes next to nothing of them.
func (s *DB) replaceResults(ctx context.Context, tx *sql.Tx, id int64, r *store.AnalysisRecord) error {
	exec := func(q string, args ...any) error {
		if _, err := tx.ExecContext(ctx, s.rebind(q), args...); err != nil {
			return fmt.Errorf("record analysis results: %w", err)
		}
		return nil
	}
	// The stored rows of a table that this analysis replaces: every row,
	// or those anchored in the covered components.
	stored := func(cols, table string, scan func(*sql.Rows) error) error {
		read := func(q string, args ...any) error {
			rows, err := tx.QueryContext(ctx, s.rebind(q), args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := scan(rows); err != nil {
					return err
				}
			}
			return rows.Err()
		}
		q := `SELECT ` + cols + ` FROM ` + table
		if !r.Analysis.Partial {
			return read(q)
		}
		for chunk := range slices.Chunk(r.Covered, 500) {
			if err := read(q+` WHERE anchor IN (`+placeholders(len(chunk))+`)`, anyOf(chunk)...); err != nil {
				return err
			}
		}
		return nil
	}
	// deleteKeys deletes the rows of table whose column col is one of keys.
	deleteKeys := func(table, col string, keys []string) error {
		slices.Sort(keys)
		for chunk := range slices.Chunk(keys, 500) {
			if err := exec(`DELETE FROM `+table+` WHERE `+col+` IN (`+placeholders(len(chunk))+`)`, anyOf(chunk)...); err != nil {
				return err
			}
		}
		return nil
	}

	type priority struct {
		anchor string
		risk   float64
		paths  int
	}
	old := map[string]priority{}
	if err := stored(`exposure_id, anchor, risk_removed, paths`, `analysis_priorities`, func(rows *sql.Rows) error {
		var x string
		var p priority
		if err := rows.Scan(&x, &p.anchor, &p.risk, &p.paths); err != nil {
			return err
		}
		old[x] = p
		return nil
	}); err != nil {
		return fmt.Errorf("record analysis results: read priorities: %w", err)
	}
	var rows [][]any
	seen := map[string]bool{}
	for _, p := range r.Priorities {
		if seen[p.ExposureID] {
			continue
		}
		seen[p.ExposureID] = true
		if o, ok := old[p.ExposureID]; ok && o == (priority{p.Anchor, p.RiskRemoved, p.Paths}) {
			continue
		}
		rows = append(rows, []any{p.ExposureID, p.Anchor, p.RiskRemoved, p.Paths, id})
	}
	var gone []string
	for x := range old {
		if !seen[x] {
			gone = append(gone, x)
		}
	}
	if err := deleteKeys("analysis_priorities", "exposure_id", gone); err != nil {
		return err
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO analysis_priorities (exposure_id, anchor, risk_removed, paths, analysis_id) VALUES `, rows,
		` ON CONFLICT (exposure_id) DO UPDATE SET anchor = excluded.anchor, risk_removed = excluded.risk_removed, paths = excluded.paths, analysis_id = excluded.analysis_id`); err != nil {
		return fmt.Errorf("record analysis results: %w", err)
	}

	if !r.Analysis.Partial {
		for _, t := range []string{"analysis_actions", "analysis_jewels"} {
			if err := exec(`DELETE FROM ` + t); err != nil {
				return err
			}
		}
	} else {
		for chunk := range slices.Chunk(r.Covered, 500) {
			if err := exec(`DELETE FROM analysis_actions WHERE anchor IN (`+placeholders(len(chunk))+`)`, anyOf(chunk)...); err != nil {
				return err
			}
		}
		if err := deleteKeys("analysis_jewels", "jewel", slices.Collect(maps.Keys(r.Jewels))); err != nil {
			return err
		}
	}
	rows = rows[:0]
	for _, k := range []struct {
		kind string
		xs   []store.StoredAction
	}{{store.ActionPlan, r.Plan}, {store.ActionChoke, r.Chokes}} {
		for i, x := range k.xs {
			rows = append(rows, []any{k.kind, id, i, x.Anchor, x.Data})
		}
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO analysis_actions (kind, analysis_id, pos, anchor, data) VALUES `, rows, ``); err != nil {
		return fmt.Errorf("record analysis results: %w", err)
	}

	type assetContext struct{ anchor, data string }
	oldCtx := map[string]assetContext{}
	if err := stored(`key, anchor, data`, `asset_contexts`, func(rows *sql.Rows) error {
		var k string
		var c assetContext
		if err := rows.Scan(&k, &c.anchor, &c.data); err != nil {
			return err
		}
		oldCtx[k] = c
		return nil
	}); err != nil {
		return fmt.Errorf("record analysis results: read asset contexts: %w", err)
	}
	rows = rows[:0]
	clear(seen)
	for _, c := range r.Contexts {
		if seen[c.Key] {
			continue
		}
		seen[c.Key] = true
		if o, ok := oldCtx[c.Key]; ok && o == (assetContext{c.Anchor, c.Data}) {
			continue
		}
		rows = append(rows, []any{c.Key, c.Anchor, c.Data, id})
	}
	gone = gone[:0]
	for k := range oldCtx {
		if !seen[k] {
			gone = append(gone, k)
		}
	}
	if err := deleteKeys("asset_contexts", "key", gone); err != nil {
		return err
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO asset_contexts (key, anchor, data, analysis_id) VALUES `, rows,
		` ON CONFLICT (key) DO UPDATE SET anchor = excluded.anchor, data = excluded.data, analysis_id = excluded.analysis_id`); err != nil {
		return fmt.Errorf("record analysis results: %w", err)
	}

	// One row per jewel, the last given winning as the upsert of each in
	// turn had it.
	rows = rows[:0]
	at := map[string]int{}
	for _, j := range r.JewelRisks {
		if i, ok := at[j.Jewel]; ok {
			rows[i] = []any{j.Jewel, j.Value, j.Risk, id}
			continue
		}
		at[j.Jewel] = len(rows)
		rows = append(rows, []any{j.Jewel, j.Value, j.Risk, id})
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO analysis_jewels (jewel, value, risk, analysis_id) VALUES `, rows,
		` ON CONFLICT (jewel) DO UPDATE SET value = excluded.value, risk = excluded.risk, analysis_id = excluded.analysis_id`); err != nil {
		return fmt.Errorf("record analysis results: %w", err)
	}
	return nil
}

// anyOf returns ss as query arguments.
func anyOf(ss []string) []any {
	args := make([]any, len(ss))
	for i, v := range ss {
		args[i] = v
	}
	return args
}

// OpenPaths lists the open paths that match q, riskiest first.
func (s *DB) OpenPaths(ctx context.Context, q store.PathFilter) iter.Seq2[store.OpenPath, error] {
	from := `paths p`
	var w where
	w.add("p.status = 'open'")
	if q.Exposure != "" {
		from = `path_exposures x JOIN paths p ON p.id = x.path_id`
		w.add("x.exposure_id = ?", q.Exposure)
	}
	if pre, ok := strings.CutSuffix(q.Jewel, "*"); ok {
		// substr, not LIKE: the same case-sensitive meaning in every
		// database.
		w.add("substr(p.jewel, 1, ?) = ?", len(pre), pre)
	} else if q.Jewel != "" {
		w.add("p.jewel = ?", q.Jewel)
	}
	query := `SELECT p.id, p.entry, p.target, p.jewel, p.likelihood, p.risk, p.validated, p.steps, p.names FROM ` + from + w.sql() + ` ORDER BY p.risk DESC, p.id`
	return rowsSeq(ctx, s.db, s.rebind(query), w.args, func(r *sql.Rows) (store.OpenPath, error) {
		var p store.OpenPath
		var valid int
		var names string
		if err := r.Scan(&p.ID, &p.Entry, &p.Target, &p.Jewel, &p.Likelihood, &p.Risk, &valid, &p.Steps, &names); err != nil {
			return p, fmt.Errorf("read path: %w", err)
		}
		p.Validated = valid != 0
		if err := json.Unmarshal([]byte(names), &p.Names); err != nil {
			return p, fmt.Errorf("read path %s: %w", p.ID, err)
		}
		return p, nil
	})
}

// StoredPriorities lists the stored priorities that match q, highest
// first, a page at a time with q.After and q.Limit (keyset pagination on
// the index of (risk_removed, exposure_id)).
func (s *DB) StoredPriorities(ctx context.Context, q store.PriorityFilter) iter.Seq2[store.StoredPriority, error] {
	var w where
	w.in("exposure_id", q.IDs)
	if q.After != nil {
		w.add("(risk_removed < ? OR (risk_removed = ? AND exposure_id > ?))", q.After.RiskRemoved, q.After.RiskRemoved, q.After.ExposureID)
	}
	query := `SELECT exposure_id, anchor, risk_removed, paths, analysis_id FROM analysis_priorities` + w.sql() + ` ORDER BY risk_removed DESC, exposure_id` + limit(q.Limit)
	return rowsSeq(ctx, s.db, s.rebind(query), w.args, func(r *sql.Rows) (store.StoredPriority, error) {
		var p store.StoredPriority
		if err := r.Scan(&p.ExposureID, &p.Anchor, &p.RiskRemoved, &p.Paths, &p.AnalysisID); err != nil {
			return p, fmt.Errorf("read priority: %w", err)
		}
		return p, nil
	})
}

// StoredActions lists the stored plan items or choke points.
func (s *DB) StoredActions(ctx context.Context, kind string) ([]store.StoredAction, error) {
	var out []store.StoredAction
	seq := rowsSeq(ctx, s.db, s.rebind(`SELECT analysis_id, pos, anchor, data FROM analysis_actions WHERE kind = ? ORDER BY analysis_id, pos`), []any{kind},
		func(r *sql.Rows) (store.StoredAction, error) {
			var a store.StoredAction
			if err := r.Scan(&a.AnalysisID, &a.Pos, &a.Anchor, &a.Data); err != nil {
				return a, fmt.Errorf("read %s action: %w", kind, err)
			}
			return a, nil
		})
	for a, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// JewelRisks lists each crown jewel's risk, by jewel.
func (s *DB) JewelRisks(ctx context.Context) ([]store.JewelRisk, error) {
	var out []store.JewelRisk
	seq := rowsSeq(ctx, s.db, `SELECT jewel, value, risk, analysis_id FROM analysis_jewels ORDER BY jewel`, nil,
		func(r *sql.Rows) (store.JewelRisk, error) {
			var j store.JewelRisk
			if err := r.Scan(&j.Jewel, &j.Value, &j.Risk, &j.AnalysisID); err != nil {
				return j, fmt.Errorf("read jewel risk: %w", err)
			}
			return j, nil
		})
	for j, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// Digest returns the hex SHA-256 of data, as stored for scopes and
// CODEOWNERS files.
func Digest(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// SetScope stores a new scope version unless data is the latest one.
func (s *DB) SetScope(ctx context.Context, name string, data []byte, at time.Time) (store.ScopeVersion, bool, error) {
	// A write transaction with the dialect's lock: the audit entry it may
	// append must be numbered after every other.
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return store.ScopeVersion{}, false, fmt.Errorf("set scope: %w", err)
	}
	defer tx.Rollback()
	cur, ok, err := s.latestScope(ctx, tx)
	if err != nil {
		return cur, false, err
	}
	d := Digest(data)
	if ok && cur.Digest == d {
		return cur, false, nil
	}
	v := store.ScopeVersion{Version: cur.Version + 1, Digest: d, Name: name, Data: bytes.Clone(data), At: at.UTC()}
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO scopes (version, digest, name, body, set_at) VALUES (?, ?, ?, ?, ?)`),
		v.Version, v.Digest, v.Name, string(v.Data), micros(v.At)); err != nil {
		return cur, false, fmt.Errorf("set scope: %w", err)
	}
	if err := s.auditIn(ctx, tx, store.AuditScope, v); err != nil {
		return cur, false, err
	}
	if err := tx.Commit(); err != nil {
		return cur, false, fmt.Errorf("set scope: %w", err)
	}
	store.AuditUsed(ctx)
	return v, true, nil
}

func (s *DB) latestScope(ctx context.Context, q queryer) (store.ScopeVersion, bool, error) {
	var v store.ScopeVersion
	var body string
	var at int64
	err := q.QueryRowContext(ctx, `SELECT version, digest, name, body, set_at FROM scopes ORDER BY version DESC LIMIT 1`).Scan(&v.Version, &v.Digest, &v.Name, &body, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return v, false, nil
	}
	if err != nil {
		return v, false, fmt.Errorf("read scope: %w", err)
	}
	v.Data, v.At = []byte(body), fromMicros(at)
	return v, true, nil
}

// LatestScope returns the scope in force.
func (s *DB) LatestScope(ctx context.Context) (store.ScopeVersion, bool, error) {
	return s.latestScope(ctx, s.db)
}

// SetCodeOwners stores a new CODEOWNERS version of repo unless data is
// the latest one.
func (s *DB) SetCodeOwners(ctx context.Context, repo, name string, data []byte, at time.Time) (store.CodeOwnersVersion, bool, error) {
	// A write transaction with the dialect's lock, as SetScope's.
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return store.CodeOwnersVersion{}, false, fmt.Errorf("set codeowners: %w", err)
	}
	defer tx.Rollback()
	var cur store.CodeOwnersVersion
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT version, digest FROM codeowners WHERE repo = ? ORDER BY version DESC LIMIT 1`), repo).Scan(&cur.Version, &cur.Digest)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return cur, false, fmt.Errorf("set codeowners: %w", err)
	}
	d := Digest(data)
	if cur.Digest == d {
		cur.Repo, cur.Name = repo, name
		return cur, false, nil
	}
	v := store.CodeOwnersVersion{Repo: repo, Version: cur.Version + 1, Digest: d, Name: name, Data: bytes.Clone(data), At: at.UTC()}
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO codeowners (repo, version, digest, name, body, set_at) VALUES (?, ?, ?, ?, ?, ?)`),
		v.Repo, v.Version, v.Digest, v.Name, string(v.Data), micros(v.At)); err != nil {
		return cur, false, fmt.Errorf("set codeowners: %w", err)
	}
	if err := s.auditIn(ctx, tx, store.AuditCodeOwners, v); err != nil {
		return cur, false, err
	}
	if err := tx.Commit(); err != nil {
		return cur, false, fmt.Errorf("set codeowners: %w", err)
	}
	store.AuditUsed(ctx)
	return v, true, nil
}

// CodeOwners lists the latest CODEOWNERS version of every repository.
func (s *DB) CodeOwners(ctx context.Context) ([]store.CodeOwnersVersion, error) {
	var out []store.CodeOwnersVersion
	q := `SELECT c.repo, c.version, c.digest, c.name, c.body, c.set_at FROM codeowners c
WHERE c.version = (SELECT MAX(version) FROM codeowners d WHERE d.repo = c.repo) ORDER BY c.repo`
	seq := rowsSeq(ctx, s.db, q, nil, func(r *sql.Rows) (store.CodeOwnersVersion, error) {
		var v store.CodeOwnersVersion
		var body string
		var at int64
		if err := r.Scan(&v.Repo, &v.Version, &v.Digest, &v.Name, &body, &at); err != nil {
			return v, fmt.Errorf("read codeowners: %w", err)
		}
		v.Data, v.At = []byte(body), fromMicros(at)
		return v, nil
	})
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// insertRows inserts rows with multi-row INSERT statements of up to 100
// rows (head ends in VALUES, tail is the conflict clause), rather than
// one statement per row: an analysis records tens of thousands.
func (s *DB) insertRows(ctx context.Context, tx *sql.Tx, head string, rows [][]any, tail string) error {
	// Every full chunk is the same statement: prepared once, not parsed
	// again for each hundred rows (a fifth of recording a 1M-exposure
	// analysis).
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	for i := 0; i < len(rows); i += insertChunk {
		chunk := rows[i:min(i+insertChunk, len(rows))]
		args := make([]any, 0, len(chunk)*len(chunk[0]))
		for _, r := range chunk {
			args = append(args, r...)
		}
		if len(chunk) == insertChunk && len(rows) > insertChunk {
			if full == nil {
				var err error
				if full, err = tx.PrepareContext(ctx, s.rebind(insertSQL(head, chunk, tail))); err != nil {
					return err
				}
			}
			if _, err := full.ExecContext(ctx, args...); err != nil {
				return err
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, s.rebind(insertSQL(head, chunk, tail)), args...); err != nil {
			return err
		}
	}
	return nil
}

// insertChunk is how many rows one statement of insertRows writes.
const insertChunk = 100

// insertSQL is the INSERT of insertRows for the rows of chunk.
func insertSQL(head string, chunk [][]any, tail string) string {
	var b strings.Builder
	b.WriteString(head)
	for j, r := range chunk {
		if j > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + placeholders(len(r)) + ")")
	}
	b.WriteString(tail)
	return b.String()
}

// AssetContextOf returns the stored context of the asset named key.
func (s *DB) AssetContextOf(ctx context.Context, key string) (store.AssetContext, bool, error) {
	c := store.AssetContext{Key: key}
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT anchor, data FROM asset_contexts WHERE key = ?`), key).Scan(&c.Anchor, &c.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("read asset context: %w", err)
	}
	return c, true, nil
}
