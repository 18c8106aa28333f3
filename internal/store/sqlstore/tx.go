package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// tx is an ingest transaction. Findings are written through prepared
// statements inside one database transaction: committing once per ingest
// rather than per row is what makes bulk ingest fast.
type tx struct {
	s   *DB
	ctx context.Context
	tx  *sql.Tx

	cur      *model.Scan   // the scan findings go to
	fShared  []any         // cur's values shared by every finding row: target, scan id, time
	pending  []*model.Scan // scans begun since the last EndInput
	lastTime int64         // the last scan time handed out, to keep them distinct
	nextSeq  int64

	assets map[string]bool // asset keys written in this transaction

	insFinding, touchAsset *sql.Stmt
	insFindingN            *sql.Stmt // batchRows rows each
	findings               *batch
	done                   bool

	// Findings are written by a writer goroutine, so that parsing and
	// fingerprinting (on the caller's goroutine) overlap with SQLite's
	// work: on two cores this is most of the gain. Every other operation
	// first waits for the queue to drain (flush), so order is kept.
	jobs    chan job
	writer  sync.WaitGroup
	failed  atomic.Bool
	werr    error // the writer's first error; read after flush
	stopped bool
}

// job is one statement for the writer, or a barrier to close.
type job struct {
	stmt    *sql.Stmt
	args    []any
	shared  []any // with batch: the scan's values rows share (see findingRow)
	barrier chan struct{}
	batch   *batch // when set, args is one row of this batch
}

// batch gathers rows for a multi-row INSERT. A row whose key is already in
// the batch first flushes it, so no statement touches a row twice (which
// PostgreSQL refuses for ON CONFLICT DO UPDATE).
type batch struct {
	one, many *sql.Stmt
	tmpl      []any // the shape of a row (findingRow)
	shared    []any // the values of the scan the rows belong to
	args      []any
	keys      map[any]bool
	rows      int
}

var _ store.Tx = (*tx)(nil)

// Begin starts an ingest transaction.
func (s *DB) Begin(ctx context.Context) (store.Tx, error) {
	t, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin ingest: %w", err)
	}
	x := &tx{s: s, ctx: ctx, tx: t, assets: map[string]bool{}}
	if s.d.BeginSQL != "" {
		if _, err := t.ExecContext(ctx, s.d.BeginSQL); err != nil {
			t.Rollback()
			return nil, fmt.Errorf("begin ingest: %w", err)
		}
	}
	if err := t.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM scans`).Scan(&x.nextSeq); err != nil {
		t.Rollback()
		return nil, fmt.Errorf("begin ingest: %w", err)
	}
	if err := x.prepare(); err != nil {
		t.Rollback()
		return nil, err
	}
	x.findings = &batch{one: x.insFinding, many: x.insFindingN, tmpl: findingRow, keys: map[any]bool{}}
	x.jobs = make(chan job, 4096)
	x.writer.Go(x.write)
	return x, nil
}

// write runs the queued statements in order until the queue closes.
func (x *tx) write() {
	for j := range x.jobs {
		switch {
		case j.barrier != nil:
			x.flushBatches()
			close(j.barrier)
		case x.failed.Load():
		case j.batch != nil:
			b := j.batch
			if b.keys[j.args[0]] || (b.rows > 0 && &b.shared[0] != &j.shared[0]) {
				x.flushBatch(b)
			}
			if b.rows == 0 {
				b.shared = j.shared
				b.args = sharedArgs(b.args[:0], b.tmpl, j.shared)
			}
			b.args = append(b.args, j.args...)
			b.keys[j.args[0]] = true
			b.rows++
			if b.rows == batchRows {
				x.flushBatch(b)
			}
		default:
			x.exec(j.stmt, j.args)
		}
	}
	x.flushBatches()
}

func (x *tx) exec(st *sql.Stmt, args []any) {
	if x.failed.Load() {
		return
	}
	if _, err := st.ExecContext(x.ctx, args...); err != nil {
		x.werr = err
		x.failed.Store(true)
	}
}

// flushBatch writes a batch's rows: one multi-row statement when full,
// row by row otherwise.
func (x *tx) flushBatch(b *batch) {
	if b.rows == batchRows {
		x.exec(b.many, b.args)
	} else if b.rows > 0 {
		k := len(sharedArgs(nil, b.tmpl, b.shared))
		n := (len(b.args) - k) / b.rows
		one := make([]any, k+n)
		copy(one, b.args[:k])
		for i := 0; i < b.rows; i++ {
			copy(one[k:], b.args[k+i*n:k+(i+1)*n])
			x.exec(b.one, one)
		}
	}
	b.args, b.rows = b.args[:0], 0
	clear(b.keys)
}

func (x *tx) flushBatches() {
	if x.findings != nil && x.findings.rows > 0 {
		x.flushBatch(x.findings)
	}
}

// enqueueRow hands one row of a batched insert to the writer.
func (x *tx) enqueueRow(b *batch, shared []any, args ...any) error {
	if x.failed.Load() {
		return x.flush()
	}
	x.jobs <- job{batch: b, shared: shared, args: args}
	return nil
}

// enqueue hands a statement to the writer.
func (x *tx) enqueue(st *sql.Stmt, args ...any) error {
	if x.failed.Load() {
		return x.flush()
	}
	x.jobs <- job{stmt: st, args: args}
	return nil
}

// flush waits until the writer has run everything queued and returns its
// first error.
func (x *tx) flush() error {
	if x.stopped {
		return x.werr
	}
	b := make(chan struct{})
	x.jobs <- job{barrier: b}
	<-b
	if x.failed.Load() {
		return fmt.Errorf("record finding: %w", x.werr)
	}
	return nil
}

// stop ends the writer.
func (x *tx) stop() {
	if !x.stopped {
		x.stopped = true
		close(x.jobs)
		x.writer.Wait()
	}
}

const findingCols = `id, tool, target, kind, rule_id, vuln_ids, cwes, sev, title,
asset, pkg_name, pkg_version, pkg_fixed, pkg_purl, path, line, url, component,
status, reported_status, fingerprint, secret_hash, exposure_id, extra, scan_id, first_seen, last_seen, fixed_at`

// findingRow is one row of findingCols: a number is the index of the
// row's own value, a shared one of the scan's values (target, id,
// time), a string is SQL. Each row binds its 22 values, not 28; the
// shared ones are bound once a statement (see upsert). Placeholders stay
// anonymous: SQLite's ?N parameters would make binding a many-row
// statement quadratic, since modernc's driver looks up each parameter's
// name.
var findingRow = []any{0, 1, shared(0), 2, 3, 4, 5, 6, 7,
	8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 17, 18, 19, 20, 21, shared(1), shared(2), shared(2), "0"}

const exposureCols = `id, kind, rule_id, vuln_id, vuln_ids, cwes, sev, title, asset, pkg_name, pkg_version,
pkg_fixed, pkg_purl, path, line, url, component, status, first_seen, last_seen, fixed_at`

// shared in a row template (findingRow) is the index of a value common
// to every row of the scan.
type shared int

// findingConflict updates a finding seen again; a fixed one stays fixed
// until the lifecycle reopens it.
const findingConflict = `ON CONFLICT (id) DO UPDATE SET
  target = excluded.target, rule_id = excluded.rule_id, vuln_ids = excluded.vuln_ids, cwes = excluded.cwes,
  sev = excluded.sev, title = excluded.title, pkg_fixed = excluded.pkg_fixed, pkg_purl = excluded.pkg_purl,
  line = excluded.line, extra = excluded.extra, reported_status = excluded.reported_status,
  status = CASE WHEN findings.status = 'fixed' THEN 'fixed' ELSE excluded.status END,
  scan_id = excluded.scan_id, last_seen = excluded.last_seen`

// exposureConflict keeps an exposure's aggregates current as its
// findings are reported (see exposuresOf): the highest severity, open
// when any finding is.
const exposureConflict = `ON CONFLICT (id) DO UPDATE SET
  last_seen = excluded.last_seen,
  sev = CASE WHEN excluded.sev > exposures.sev OR exposures.status = 'fixed' THEN excluded.sev ELSE exposures.sev END,
  status = CASE WHEN excluded.status = 'open' OR exposures.status = 'fixed' THEN excluded.status ELSE exposures.status END,
  fixed_at = CASE WHEN excluded.status = 'fixed' THEN exposures.fixed_at ELSE 0 END,
  pkg_fixed = CASE WHEN excluded.pkg_fixed <> '' THEN excluded.pkg_fixed ELSE exposures.pkg_fixed END,
  pkg_purl = CASE WHEN exposures.pkg_purl = '' THEN excluded.pkg_purl ELSE exposures.pkg_purl END,
  title = CASE WHEN exposures.title = '' THEN excluded.title ELSE exposures.title END`

// exposuresOf creates or updates the exposures of the findings a scan
// reported, from the findings' rows, in one statement at the end of the
// scan. The rows go in the order of the exposure ids, so that the
// exposures' primary key is filled in order (an append when the ids are
// new) rather than at a random place a row: written as the findings
// arrived, exposures cost a 1M-finding ingest as much as the findings
// did, almost all of it in cache misses on that index. SQLite sorts in
// temporary files when the rows outgrow its cache, so memory stays
// bounded. Two findings of one exposure update its row in turn, which
// SQLite allows; PostgreSQL will need them aggregated first.
const exposuresOf = `INSERT INTO exposures (` + exposureCols + `)
SELECT f.exposure_id, f.kind, f.rule_id,
  CASE WHEN f.vuln_ids = '' THEN '' ELSE substr(f.vuln_ids, 2, instr(substr(f.vuln_ids, 2), ',') - 1) END,
  f.vuln_ids, f.cwes, f.sev, f.title, f.asset, f.pkg_name, f.pkg_version, f.pkg_fixed, f.pkg_purl,
  f.path, f.line, f.url, f.component, f.reported_status, ?, ?, 0
FROM findings f WHERE f.scan_id = ? ORDER BY f.exposure_id
` + exposureConflict

// batchRows is how many rows one multi-row INSERT writes: fewer, larger
// statements cut the per-statement cost of database/sql and SQLite.
const batchRows = 32

// upsert returns an INSERT of rows rows shaped like row (see findingRow)
// with the conflict clause. Each row binds its own values (VALUES), and
// the values shared by all rows are bound once, in the SELECT list.
func upsert(table, cols string, row []any, rows int, conflict string) string {
	own := 0
	var sel []string
	for _, c := range row {
		switch c := c.(type) {
		case int:
			own = max(own, c+1)
			sel = append(sel, "column"+strconv.Itoa(c+1))
		case shared:
			sel = append(sel, "?")
		case string:
			sel = append(sel, c)
		}
	}
	var b strings.Builder
	// WHERE true tells the parser that ON CONFLICT is the upsert's.
	b.WriteString("INSERT INTO " + table + " (" + cols + ") SELECT " + strings.Join(sel, ", ") + " FROM (VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + placeholders(own) + ")")
	}
	b.WriteString(") WHERE true\n" + conflict)
	return b.String()
}

// sharedArgs returns the shared values in the order tmpl's SELECT list
// binds them.
func sharedArgs(args []any, tmpl []any, shr []any) []any {
	for _, c := range tmpl {
		if c, ok := c.(shared); ok {
			args = append(args, shr[c])
		}
	}
	return args
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func (x *tx) prepare() error {
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = x.tx.PrepareContext(x.ctx, x.s.rebind(q))
		return st
	}
	x.insFinding = prep(upsert("findings", findingCols, findingRow, 1, findingConflict))
	x.insFindingN = prep(upsert("findings", findingCols, findingRow, batchRows, findingConflict))
	x.touchAsset = prep(`INSERT INTO assets (key, kind, name, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET last_seen = excluded.last_seen`)
	if err != nil {
		return fmt.Errorf("prepare ingest: %w", err)
	}
	return nil
}

// scanTime returns a time for a new scan, strictly after the previous one
// of this transaction, so that "first seen in this scan" is exact.
func (x *tx) scanTime() time.Time {
	now := x.s.now().UTC().Truncate(time.Microsecond)
	if n := now.UnixMicro(); n <= x.lastTime {
		now = time.UnixMicro(x.lastTime + 1).UTC()
	}
	x.lastTime = now.UnixMicro()
	return now
}

// BeginScan starts a scan.
func (x *tx) BeginScan(s model.Scan) error {
	if err := x.flush(); err != nil {
		return err
	}
	if s.Tool == "" || s.Target == "" {
		return fmt.Errorf("scan needs a tool and a target (tool %q, target %q)", s.Tool, s.Target)
	}
	// A scan of the same (tool, target) begun earlier in this input is
	// resumed, not started again: a report that lists one account's
	// findings in two places must not have its second part fix the first.
	for _, p := range x.pending {
		if p.Tool == s.Tool && p.Target == s.Target {
			x.setCur(p)
			return nil
		}
	}
	s.StartedAt = x.scanTime()
	s.ID = model.Hash("scan", s.Tool, s.Target, s.StartedAt.Format(time.RFC3339Nano))[:16]
	seq := x.nextSeq
	x.nextSeq++
	if s.Asset != "" {
		if err := x.ensureAsset(s.Asset, s.StartedAt); err != nil {
			return err
		}
	}
	_, err := x.tx.ExecContext(x.ctx, x.s.rebind(`INSERT INTO scans (id, seq, tool, tool_version, format, target, asset, input, digest, started_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), s.ID, seq, s.Tool, s.ToolVersion, s.Format, s.Target, s.Asset, s.Input, s.Digest, micros(s.StartedAt))
	if err != nil {
		return fmt.Errorf("record scan: %w", err)
	}
	sc := s
	x.setCur(&sc)
	x.pending = append(x.pending, &sc)
	return nil
}

// setCur makes s the scan findings go to.
func (x *tx) setCur(s *model.Scan) {
	x.cur = s
	at := micros(s.StartedAt)
	x.fShared = []any{s.Target, s.ID, at}
}

func (x *tx) ensureAsset(key string, at time.Time) error {
	if x.assets[key] {
		return nil
	}
	name := key
	if _, rest, ok := strings.Cut(key, ":"); ok && !strings.HasPrefix(key, "arn:") && !strings.HasPrefix(key, "pkg:") {
		name = rest
	}
	if err := x.enqueue(x.touchAsset, key, string(model.KindOfKey(key)), name, micros(at), micros(at)); err != nil {
		return fmt.Errorf("record asset %s: %w", key, err)
	}
	x.assets[key] = true
	return nil
}

// Asset records an asset; non-empty fields override what is stored, and
// labels merge.
func (x *tx) Asset(a model.Asset) error {
	if err := x.flush(); err != nil {
		return err
	}
	if a.Key == "" {
		return errors.New("asset without a key")
	}
	if a.Kind == "" {
		a.Kind = model.KindOfKey(a.Key)
	}
	if a.Name == "" {
		a.Name = a.Key
	}
	now := time.Now().UTC()
	if x.cur != nil {
		now = x.cur.StartedAt
	}
	labels := "{}"
	if len(a.Labels) > 0 {
		var old string
		err := x.tx.QueryRowContext(x.ctx, x.s.rebind(`SELECT labels FROM assets WHERE key = ?`), a.Key).Scan(&old)
		merged := map[string]string{}
		if err == nil {
			_ = json.Unmarshal([]byte(old), &merged)
		}
		maps.Copy(merged, a.Labels)
		b, _ := json.Marshal(merged)
		labels = string(b)
	}
	_, err := x.tx.ExecContext(x.ctx, x.s.rebind(`INSERT INTO assets (key, kind, name, labels, environment, owner, criticality, source, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
  kind = excluded.kind, name = excluded.name,
  labels = CASE WHEN excluded.labels <> '{}' THEN excluded.labels ELSE assets.labels END,
  environment = CASE WHEN excluded.environment <> '' THEN excluded.environment ELSE assets.environment END,
  owner = CASE WHEN excluded.owner <> '' THEN excluded.owner ELSE assets.owner END,
  criticality = CASE WHEN excluded.criticality <> '' THEN excluded.criticality ELSE assets.criticality END,
  source = CASE WHEN excluded.source <> '' THEN excluded.source ELSE assets.source END,
  last_seen = excluded.last_seen`),
		a.Key, string(a.Kind), a.Name, labels, a.Environment, a.Owner, a.Criticality, a.Source, micros(now), micros(now))
	if err != nil {
		return fmt.Errorf("record asset %s: %w", a.Key, err)
	}
	x.assets[a.Key] = true
	return nil
}

// Relation records an edge; both ends become assets if unknown.
func (x *tx) Relation(r model.Relation) error {
	if err := x.flush(); err != nil {
		return err
	}
	if r.From == "" || r.To == "" || r.Type == "" {
		return fmt.Errorf("relation needs two ends and a type (%q -%s-> %q)", r.From, r.Type, r.To)
	}
	now := time.Now().UTC()
	if x.cur != nil {
		now = x.cur.StartedAt
	}
	for _, k := range []string{r.From, r.To} {
		if err := x.ensureAsset(k, now); err != nil {
			return err
		}
	}
	_, err := x.tx.ExecContext(x.ctx, x.s.rebind(`INSERT INTO relations (from_key, to_key, type, action, source, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (from_key, to_key, type, action, source) DO UPDATE SET last_seen = excluded.last_seen`),
		r.From, r.To, string(r.Type), r.Action, r.Source, micros(now), micros(now))
	if err != nil {
		return fmt.Errorf("record relation: %w", err)
	}
	return nil
}

// Evidence records a fact; the same fact from the same source is updated.
func (x *tx) Evidence(e model.Evidence) error {
	if err := x.flush(); err != nil {
		return err
	}
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	_, err := x.tx.ExecContext(x.ctx, x.s.rebind(`INSERT INTO evidence (kind, asset, vuln_id, finding_id, source, detail, at)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, asset, vuln_id, finding_id, source) DO UPDATE SET detail = excluded.detail, at = excluded.at`),
		string(e.Kind), e.Asset, model.NormalizeVulnID(e.VulnID), e.FindingID, e.Source, e.Detail, micros(e.At))
	if err != nil {
		return fmt.Errorf("record evidence: %w", err)
	}
	return nil
}

// Finding records one finding of the current scan.
func (x *tx) Finding(f *model.Finding) error {
	if x.cur == nil {
		return errors.New("finding before any scan began")
	}
	if f.Tool == "" {
		f.Tool = x.cur.Tool
	}
	if f.Asset == "" {
		f.Asset = x.cur.Asset
	}
	if f.Asset == "" {
		return fmt.Errorf("finding %q names no asset", f.RuleID)
	}
	f.Normalize()
	at := x.cur.StartedAt
	if err := x.ensureAsset(f.Asset, at); err != nil {
		return err
	}
	cvss := ""
	if len(f.CVSS) > 0 {
		b, _ := json.Marshal(f.CVSS)
		cvss = string(b)
	}
	sev := f.Severity.Rank()
	vulnIDs, cwes := joinList(cleanList(f.VulnIDs)), joinList(cleanList(f.CWEs))
	err := x.enqueueRow(x.findings, x.fShared,
		f.ID, f.Tool, string(f.Kind), f.RuleID, vulnIDs, cwes, sev, f.Title,
		f.Asset, f.Package.Name, f.Package.Version, f.Package.FixedVersion, f.Package.PURL,
		f.Location.Path, f.Location.Line, f.Location.URL, f.Location.Component,
		string(f.Status), f.Fingerprint, f.SecretHash, f.ExposureID, packExtra(f, cvss))
	if err != nil {
		return err
	}
	return nil
}

// cleanList keeps list items free of the separator.
func cleanList(xs []string) []string {
	out := xs[:0:0]
	for _, s := range xs {
		out = append(out, strings.ReplaceAll(s, ",", ";"))
	}
	return out
}

// EndInput closes the pending scans: lifecycle, counts, input name.
func (x *tx) EndInput(ctx context.Context, input, digest string) ([]model.Scan, error) {
	if err := x.flush(); err != nil {
		return nil, err
	}
	var out []model.Scan
	for _, s := range x.pending {
		s.Input, s.Digest = input, digest
		if err := x.lifecycle(ctx, s); err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	x.pending, x.cur = nil, nil
	if err := x.applyVEX(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// applyVEX marks not_affected every open exposure that a VEX statement
// (evidence vex-not-affected, from OpenVEX or CycloneDX) says is not
// affected: the same canonical vulnerability id (CVE when there is one;
// the join uses the exposures' vuln_id index, so a statement costs one
// lookup whatever the size of the database) and the
// statement's product is the exposure's asset or its package (purl, with
// or without qualifiers), or names no product. It runs after every input,
// since statements and findings may arrive in either order, and after the
// lifecycle, which recomputes statuses from findings.
func (x *tx) applyVEX(ctx context.Context) error {
	_, err := x.tx.ExecContext(ctx, `UPDATE exposures SET status = 'not_affected'
WHERE status = 'open' AND id IN (
  SELECT x.id FROM evidence e JOIN exposures x ON x.vuln_id = e.vuln_id
  WHERE e.kind = 'vex-not-affected' AND e.vuln_id <> ''
    AND (e.asset = '' OR e.asset = x.asset OR e.asset = x.pkg_purl
         OR (x.pkg_purl <> '' AND x.pkg_purl LIKE e.asset || '?%')))`)
	if err != nil {
		return fmt.Errorf("apply VEX: %w", err)
	}
	return nil
}

// earlierScans selects the other scans of a (tool, target). A finding's
// scan_id is the last scan that reported it, so the findings of a (tool,
// target) that a scan did not report are those whose scan_id is one of
// these.
const earlierScans = `SELECT id FROM scans WHERE tool = ? AND target = ? AND id <> ?`

// lifecycle applies one finished scan to the findings of its (tool,
// target): what comes back is reopened, what is missing is fixed, and the
// exposures of every finding touched are brought up to date.
func (x *tx) lifecycle(ctx context.Context, s *model.Scan) error {
	q := func(query string, args ...any) (sql.Result, error) {
		return x.tx.ExecContext(ctx, x.s.rebind(query), args...)
	}
	now := micros(s.StartedAt)
	if _, err := q(exposuresOf, now, now, s.ID); err != nil {
		return fmt.Errorf("record exposures: %w", err)
	}
	// Reopen what an earlier scan had fixed.
	if _, err := q(`INSERT INTO finding_events (finding_id, from_status, to_status, at, scan_id)
SELECT id, 'fixed', reported_status, ?, ? FROM findings WHERE scan_id = ? AND status = 'fixed' AND reported_status <> 'fixed'`, now, s.ID, s.ID); err != nil {
		return fmt.Errorf("record reopened findings: %w", err)
	}
	res, err := q(`UPDATE findings SET status = reported_status, fixed_at = 0 WHERE scan_id = ? AND status = 'fixed' AND reported_status <> 'fixed'`, s.ID)
	if err != nil {
		return fmt.Errorf("reopen findings: %w", err)
	}
	n, _ := res.RowsAffected()
	s.Reopened = int(n)
	// Fix what this scan no longer reports.
	if _, err := q(`INSERT INTO finding_events (finding_id, from_status, to_status, at, scan_id)
SELECT id, status, 'fixed', ?, ? FROM findings WHERE scan_id IN (`+earlierScans+`) AND status <> 'fixed'`, now, s.ID, s.Tool, s.Target, s.ID); err != nil {
		return fmt.Errorf("record fixed findings: %w", err)
	}
	res, err = q(`UPDATE findings SET status = 'fixed', fixed_at = ? WHERE scan_id IN (`+earlierScans+`) AND status <> 'fixed'`, now, s.Tool, s.Target, s.ID)
	if err != nil {
		return fmt.Errorf("fix findings: %w", err)
	}
	n, _ = res.RowsAffected()
	s.Fixed = int(n)
	// Exposures took the status and severity of the findings this scan
	// reported (exposuresOf); what a status change of a finding can
	// lower is recomputed here, for the exposures of the findings this
	// scan fixed or reopened only, so an identical rescan costs nothing.
	// One aggregate over each exposure's findings (one range of their
	// primary key) gives all four values.
	if _, err := q(`UPDATE exposures SET (status, sev, last_seen, fixed_at) = (
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
WHERE id IN (SELECT f.exposure_id FROM finding_events e JOIN findings f ON f.id = e.finding_id WHERE e.scan_id = ?)`, s.ID); err != nil {
		return fmt.Errorf("update exposures: %w", err)
	}
	// Counts.
	if err := x.tx.QueryRowContext(ctx, x.s.rebind(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN first_seen = ? THEN 1 ELSE 0 END), 0) FROM findings WHERE scan_id = ?`), now, s.ID).Scan(&s.Findings, &s.New); err != nil {
		return fmt.Errorf("count scan findings: %w", err)
	}
	if _, err := q(`UPDATE scans SET input = ?, digest = ?, findings = ?, new = ?, fixed = ?, reopened = ? WHERE id = ?`,
		s.Input, s.Digest, s.Findings, s.New, s.Fixed, s.Reopened, s.ID); err != nil {
		return fmt.Errorf("update scan: %w", err)
	}
	return nil
}

// Commit makes the ingest visible.
func (x *tx) Commit() error {
	if x.done {
		return errors.New("ingest already ended")
	}
	if err := x.flush(); err != nil {
		x.Rollback()
		return err
	}
	x.stop()
	x.done = true
	if err := x.tx.Commit(); err != nil {
		return fmt.Errorf("commit ingest: %w", err)
	}
	return nil
}

// Rollback discards the ingest. It is safe to call after Commit.
func (x *tx) Rollback() error {
	if x.done {
		return nil
	}
	x.stop()
	x.done = true
	return x.tx.Rollback()
}
