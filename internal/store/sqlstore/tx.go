package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
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
	// conn is the connection tx runs on when the dialect copies rows
	// (copy.go), and staged is true once the staging table exists.
	conn   *sql.Conn
	staged bool

	cur      *model.Scan   // the scan findings go to
	fShared  []any         // cur's values shared by every finding row: target, scan id, time
	pending  []*model.Scan // scans begun since the last EndInput
	lastTime int64         // the last scan time handed out, to keep them distinct
	nextSeq  int64

	assets map[string]bool         // asset keys written in this transaction
	facts  map[model.Evidence]bool // evidence written, At and Detail cleared (see TouchedAssets)

	insFinding, touchAsset *sql.Stmt
	insFindingN            *sql.Stmt // batchRows rows each
	findings               *batch
	// seen holds the ids of the findings each pending scan reported, by
	// scan id (see seenSet): an unchanged finding's row is not written
	// again, so the lifecycle learns what a scan reported from here.
	seen map[string]*seenSet

	// The writer's: rows the last findings statement wrote, those of
	// them that existed before, and finding_vulns rows to write.
	written, changed              []string
	vulnArgs                      []any
	insVulns, insVulnsN, delVulns *sql.Stmt
	done                          bool
	// deferred is true when Begin dropped the deferred indexes, which
	// Commit builds again.
	deferred bool

	// Findings are written by a writer goroutine, so that parsing and
	// fingerprinting (on the caller's goroutine) overlap with SQLite's
	// work: on two cores this is most of the gain. Every other operation
	// first waits for the queue to drain (flush), so order is kept.
	jobs    chan job
	writer  sync.WaitGroup
	failed  atomic.Bool
	werr    error // the writer's first error; read after flush
	stopped bool

	// scanIDs are the scans begun in this transaction, in order, and
	// firstSeq the sequence number of the first (see FirstSeq).
	scanIDs  []string
	keys     []store.ScanKey
	firstSeq int64
	// Parallel ingests (Dialect.IngestBeginSQL, see parallel.go): the
	// (tool, target) locks held, and the assets and relations held back
	// until the input ends.
	par  bool
	held *heldRows
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
	max       int // rows a statement writes at most
}

var _ store.Tx = (*tx)(nil)

// Begin starts an ingest transaction.
func (s *DB) Begin(ctx context.Context) (store.Tx, error) {
	c, t, err := s.beginConn(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin ingest: %w", err)
	}
	x := &tx{s: s, ctx: ctx, tx: t, conn: c, assets: map[string]bool{}}
	fail := func(err error) (store.Tx, error) {
		t.Rollback()
		x.release()
		return nil, err
	}
	switch {
	case s.d.IngestBeginSQL != "":
		if err := x.beginParallel(); err != nil {
			return fail(err)
		}
	case s.d.BeginSQL != "":
		if _, err := t.ExecContext(ctx, s.d.BeginSQL); err != nil {
			return fail(fmt.Errorf("begin ingest: %w", err))
		}
	}
	if !x.par {
		if err := t.QueryRowContext(ctx, `SELECT (`+maxSeq+`) + 1`).Scan(&x.nextSeq); err != nil {
			return fail(fmt.Errorf("begin ingest: %w", err))
		}
	}
	if err := x.deferIndexes(); err != nil {
		return fail(err)
	}
	if err := x.prepare(); err != nil {
		return fail(err)
	}
	x.findings = &batch{one: x.insFinding, many: x.insFindingN, tmpl: findingRow, keys: map[any]bool{}, max: batchRows}
	if s.d.CopyFrom != nil {
		x.findings.max = copyBatchRows
	}
	x.seen = map[string]*seenSet{}
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
			x.addRow(j.batch, j.shared, j.args)
		default:
			x.exec(j.stmt, j.args)
		}
	}
	x.flushBatches()
}

// addRow adds one row to a batch, writing the batch first when the row's
// key is in it already or the row belongs to another scan.
func (x *tx) addRow(b *batch, shared, args []any) {
	if b.keys[args[0]] || (b.rows > 0 && &b.shared[0] != &shared[0]) {
		x.flushBatch(b)
	}
	if b.rows == 0 {
		b.shared = shared
		b.args = sharedArgs(b.args[:0], b.tmpl, shared)
	}
	b.args = append(b.args, args...)
	b.keys[args[0]] = true
	b.rows++
	if b.rows == b.max {
		x.flushBatch(b)
	}
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
	if b == x.findings && x.s.d.CopyFrom != nil {
		if b.rows > 0 {
			x.execRows(b, nil, b.args, 0)
		}
	} else if b.rows == batchRows {
		x.execRows(b, b.many, b.args, 0)
	} else if b.rows > 0 {
		k := len(sharedArgs(nil, b.tmpl, b.shared))
		n := (len(b.args) - k) / b.rows
		one := make([]any, k+n)
		copy(one, b.args[:k])
		for i := 0; i < b.rows; i++ {
			copy(one[k:], b.args[k+i*n:k+(i+1)*n])
			x.execRows(b, b.one, one, 0)
		}
	}
	b.args, b.rows = b.args[:0], 0
	clear(b.keys)
}

// execRows runs a batch's statement. For findings the statement returns
// the rows it wrote (inserted or changed; an unchanged finding is not
// written, see findingConflict), whose vulnerability ids then go to
// finding_vulns (those after the first, which is the finding's vuln_id).
// A nil statement copies the batch instead (copyFindings).
func (x *tx) execRows(b *batch, st *sql.Stmt, args []any, _ int) {
	if b != x.findings {
		x.exec(st, args)
		return
	}
	if x.failed.Load() {
		return
	}
	var rows *sql.Rows
	var err error
	if st == nil {
		rows, args, err = x.copyFindings(b)
	} else {
		rows, err = st.QueryContext(x.ctx, args...)
	}
	if err != nil {
		x.werr = err
		x.failed.Store(true)
		return
	}
	x.written = x.written[:0]
	x.changed = x.changed[:0]
	now := b.shared[2]
	for rows.Next() {
		var id string
		var first int64
		if err := rows.Scan(&id, &first); err != nil {
			rows.Close()
			x.werr = err
			x.failed.Store(true)
			return
		}
		x.written = append(x.written, id)
		if first != now {
			x.changed = append(x.changed, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		x.werr = err
		x.failed.Store(true)
		return
	}
	if len(x.written) == 0 {
		return
	}
	// The vulnerability ids of each written row, from the batch's
	// arguments: the shared values, then each row's own values, of which
	// the id is the first and the list the fifth (findingRow).
	k := len(sharedArgs(nil, b.tmpl, b.shared))
	n := 0
	for _, c := range b.tmpl {
		if c, ok := c.(int); ok {
			n = max(n, c+1)
		}
	}
	lists := make(map[string]string, (len(args)-k)/n)
	for i := k; i+n <= len(args); i += n {
		lists[args[i].(string)] = args[i+4].(string)
	}
	if len(x.changed) > 0 {
		// Rows gathered for a finding written earlier in this
		// transaction go first, so that the delete sees them.
		x.flushVulns()
	}
	for _, id := range x.changed {
		x.exec(x.delVulns, []any{id})
	}
	for _, id := range x.written {
		// The first id is the finding's vuln_id; finding_vulns holds
		// the others (migration 00009).
		vs := splitList(lists[id])
		if len(vs) < 2 {
			continue
		}
		first := vs[0]
		vs = slices.DeleteFunc(vs[1:], func(v string) bool { return v == first })
		slices.Sort(vs)
		for _, v := range slices.Compact(vs) {
			x.vulnArgs = append(x.vulnArgs, id, v)
			if len(x.vulnArgs) == 2*batchRows {
				x.exec(x.insVulnsN, x.vulnArgs)
				x.vulnArgs = x.vulnArgs[:0]
			}
		}
	}
}

// flushVulns writes the finding_vulns rows still gathered.
func (x *tx) flushVulns() {
	for i := 0; i+1 < len(x.vulnArgs); i += 2 {
		x.exec(x.insVulns, x.vulnArgs[i:i+2])
	}
	x.vulnArgs = x.vulnArgs[:0]
}

func (x *tx) flushBatches() {
	for _, b := range []*batch{x.findings} {
		if b != nil && b.rows > 0 {
			x.flushBatch(b)
		}
	}
	x.flushVulns()
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
	17, 17, 18, 19, 20, 21, shared(1), shared(2), shared(2), "0", 22}

// findingInsertCols are findingCols and the columns the ingest writes
// but listings do not read.
const findingInsertCols = findingCols + `, vuln_id`

const exposureCols = `id, kind, rule_id, vuln_id, vuln_ids, cwes, sev, title, asset, pkg_name, pkg_version,
pkg_fixed, pkg_purl, path, line, url, component, status, first_seen, last_seen, fixed_at`

// shared in a row template (findingRow) is the index of a value common
// to every row of the scan.
type shared int

// findingConflict updates a finding seen again when the report says
// something new of it, or when it was fixed (the lifecycle reopens it);
// a fixed one stays fixed until then. A finding reported as it is stored
// is not written at all: an unchanged rescan of a million findings
// rewrote every row, and every entry of the scan index, holding the
// write lock for the whole time. Its scan_id is therefore the last scan
// that changed it, and that a scan reported it is in the scan's seenSet;
// its last sighting is its target's last scan (see lastSeen).
const findingConflict = `ON CONFLICT (id) DO UPDATE SET
  target = excluded.target, rule_id = excluded.rule_id, vuln_ids = excluded.vuln_ids, vuln_id = excluded.vuln_id, cwes = excluded.cwes,
  sev = excluded.sev, title = excluded.title, pkg_fixed = excluded.pkg_fixed, pkg_purl = excluded.pkg_purl,
  line = excluded.line, extra = excluded.extra, reported_status = excluded.reported_status,
  status = CASE WHEN findings.status = 'fixed' THEN 'fixed' ELSE excluded.status END,
  scan_id = excluded.scan_id, last_seen = excluded.last_seen
WHERE findings.status = 'fixed' OR findings.target <> excluded.target OR findings.rule_id <> excluded.rule_id
  OR findings.vuln_ids <> excluded.vuln_ids OR findings.cwes <> excluded.cwes OR findings.sev <> excluded.sev
  OR findings.title <> excluded.title OR findings.pkg_fixed <> excluded.pkg_fixed OR findings.pkg_purl <> excluded.pkg_purl
  OR findings.line <> excluded.line OR findings.extra <> excluded.extra OR findings.reported_status <> excluded.reported_status
RETURNING id, first_seen`

// seenSet is the set of the findings a scan reported. A finding id is 16
// hex digits (model.Finding.Normalize), kept as its 64-bit value: 8
// bytes a finding, sorted once when the scan ends. (A temporary table
// cost a 1M-finding ingest 12 s of CPU in random b-tree inserts.)
type seenSet struct {
	ids    []uint64
	sorted bool
}

func (s *seenSet) add(id string) error {
	v, err := strconv.ParseUint(id, 16, 64)
	if err != nil || len(id) != 16 {
		return fmt.Errorf("finding id %q is not 16 hex digits", id)
	}
	s.ids = append(s.ids, v)
	s.sorted = false
	return nil
}

// seal sorts and dedups the set and returns its size.
func (s *seenSet) seal() int {
	if !s.sorted {
		slices.Sort(s.ids)
		s.ids = slices.Compact(s.ids)
		s.sorted = true
	}
	return len(s.ids)
}

// has reports whether id is in the sealed set.
func (s *seenSet) has(id string) bool {
	v, err := strconv.ParseUint(id, 16, 64)
	if err != nil {
		return false
	}
	_, ok := slices.BinarySearch(s.ids, v)
	return ok
}

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
  f.vuln_id,
  f.vuln_ids, f.cwes, f.sev, f.title, f.asset, f.pkg_name, f.pkg_version, f.pkg_fixed, f.pkg_purl,
  f.path, f.line, f.url, f.component, f.reported_status, ?, ?, 0
FROM findings f WHERE f.scan_id = ? ORDER BY f.exposure_id
` + exposureConflict

// exposuresOfGrouped is exposuresOf for PostgreSQL, which refuses an
// upsert that touches a row twice: one row per exposure, that of its
// first finding by id, with the aggregates that the successive updates
// of exposureConflict give (the highest severity, open when a finding
// is, the first title and package URL, a fixed version), so that the
// conflict clause then applies once.
const exposuresOfGrouped = `INSERT INTO exposures (` + exposureCols + `)
SELECT DISTINCT ON (f.exposure_id) f.exposure_id, f.kind, f.rule_id,
  f.vuln_id,
  f.vuln_ids, f.cwes, MAX(f.sev) OVER w, COALESCE(MIN(NULLIF(f.title, '')) OVER w, ''), f.asset, f.pkg_name, f.pkg_version,
  COALESCE(MAX(NULLIF(f.pkg_fixed, '')) OVER w, ''), COALESCE(MIN(NULLIF(f.pkg_purl, '')) OVER w, ''),
  f.path, f.line, f.url, f.component,
  CASE WHEN MAX(CASE WHEN f.reported_status = 'open' THEN 1 ELSE 0 END) OVER w = 1 THEN 'open' ELSE f.reported_status END,
  CAST(? AS BIGINT), CAST(? AS BIGINT), 0
FROM findings f WHERE f.scan_id = ? WINDOW w AS (PARTITION BY f.exposure_id) ORDER BY f.exposure_id, f.id
` + exposureConflict

// exposureToolsOf records that the scan's tool reports the exposures of
// the findings the scan wrote (migration 00021's exposure_tools, which
// the exposures listing's tool filter reads), with their first
// sighting and their keys of the severity order (migration 00024). A
// scan's findings are all of its tool; the rows go in key order, and
// those already there stay (a trigger keeps their severity). It runs
// after exposuresOf, which writes the exposures.
const exposureToolsOf = `INSERT INTO exposure_tools (tool, exposure_id, exposure_first_seen, exposure_sev, exposure_asset, exposure_vuln_id, exposure_rule_id)
SELECT CAST(? AS TEXT), x.id, x.first_seen, x.sev, x.asset, x.vuln_id, x.rule_id FROM exposures x
WHERE x.id IN (SELECT f.exposure_id FROM findings f WHERE f.scan_id = ?) ORDER BY x.id
ON CONFLICT (tool, exposure_id) DO NOTHING`

// exposuresOf returns the dialect's statement recording a scan's
// exposures.
func (s *DB) exposuresOf() string {
	if s.d.Name == "postgres" {
		return exposuresOfGrouped
	}
	return exposuresOf
}

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
	if x.s.d.CopyFrom == nil {
		x.insFinding = prep(upsert("findings", findingInsertCols, findingRow, 1, findingConflict))
		x.insFindingN = prep(upsert("findings", findingInsertCols, findingRow, batchRows, findingConflict))
	}
	x.insVulns = prep(`INSERT INTO finding_vulns (finding_id, vuln_id) VALUES (?, ?)`)
	x.insVulnsN = prep(`INSERT INTO finding_vulns (finding_id, vuln_id) VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?), ", batchRows), ", "))
	x.delVulns = prep(`DELETE FROM finding_vulns WHERE finding_id = ?`)
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
	if x.par {
		// Before the scan's time is taken: an ingest of the same
		// (tool, target) that holds the lock commits first, and this
		// scan comes after it.
		if err := x.lockKey(store.ScanKey{Tool: s.Tool, Target: s.Target}.Lane()); err != nil {
			return err
		}
	}
	s.StartedAt = x.scanTime()
	s.ID = model.Hash("scan", s.Tool, s.Target, s.StartedAt.Format(time.RFC3339Nano))[:16]
	// A parallel ingest's scans take their sequence numbers at commit
	// (numberScans); 0 until then, seen by no other transaction.
	var seq int64
	if !x.par {
		seq = x.nextSeq
		x.nextSeq++
		if len(x.scanIDs) == 0 {
			x.firstSeq = seq
		}
	}
	x.scanIDs = append(x.scanIDs, s.ID)
	if s.Asset != "" {
		if err := x.ensureAsset(s.Asset, s.StartedAt); err != nil {
			return err
		}
	}
	_, err := x.tx.ExecContext(x.ctx, x.s.rebind(`INSERT INTO scans (id, seq, tool, tool_version, format, parser_version, target, asset, input, digest, started_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), s.ID, seq, s.Tool, s.ToolVersion, s.Format, s.ParserVersion, s.Target, s.Asset, s.Input, s.Digest, micros(s.StartedAt))
	if err != nil {
		return fmt.Errorf("record scan: %w", err)
	}
	sc := s
	x.setCur(&sc)
	x.pending = append(x.pending, &sc)
	x.keys = append(x.keys, store.ScanKey{Tool: s.Tool, Target: s.Target})
	if h := x.s.IngestHook; h != nil {
		h("begin", x.keys[len(x.keys)-1])
	}
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
	if x.par {
		x.held.touch(key, micros(at))
		x.assets[key] = true
		return nil
	}
	if err := x.enqueue(x.touchAsset, key, string(model.KindOfKey(key)), assetName(key), micros(at), micros(at)); err != nil {
		return fmt.Errorf("record asset %s: %w", key, err)
	}
	x.assets[key] = true
	return nil
}

// assetName is the name of an asset known only by its key: the key
// without its kind's prefix (ARNs and package URLs whole).
func assetName(key string) string {
	if _, rest, ok := strings.Cut(key, ":"); ok && !strings.HasPrefix(key, "arn:") && !strings.HasPrefix(key, "pkg:") {
		return rest
	}
	return key
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
	x.assets[a.Key] = true
	if x.par {
		x.held.asset(a, micros(now))
		return nil
	}
	return x.writeAsset(a, micros(now), micros(now))
}

// writeAsset upserts an asset (see Asset): first is its first sighting
// when it is new, last its last.
func (x *tx) writeAsset(a model.Asset, first, last int64) error {
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
		a.Key, string(a.Kind), a.Name, labels, a.Environment, a.Owner, a.Criticality, a.Source, first, last)
	if err != nil {
		return fmt.Errorf("record asset %s: %w", a.Key, err)
	}
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
	if x.par {
		x.held.relation(r, micros(now))
		return nil
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
	x.noteFact(e)
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
	set := x.seen[x.cur.ID]
	if set == nil {
		set = &seenSet{}
		x.seen[x.cur.ID] = set
	}
	if err := set.add(f.ID); err != nil {
		return err
	}
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
	vulns := cleanList(f.VulnIDs)
	vulnIDs, cwes := joinList(vulns), joinList(cleanList(f.CWEs))
	first := ""
	if len(vulns) > 0 {
		first = vulns[0]
	}
	err := x.enqueueRow(x.findings, x.fShared,
		f.ID, f.Tool, string(f.Kind), f.RuleID, vulnIDs, cwes, sev, f.Title,
		f.Asset, f.Package.Name, f.Package.Version, f.Package.FixedVersion, f.Package.PURL,
		f.Location.Path, f.Location.Line, f.Location.URL, f.Location.Component,
		string(f.Status), f.Fingerprint, f.SecretHash, f.ExposureID, packExtra(f, cvss), first)
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
	if err := x.writeHeld(ctx); err != nil {
		return nil, err
	}
	var out []model.Scan
	var ids []string
	now := time.Now().UTC()
	for _, s := range x.pending {
		s.Input, s.Digest = input, digest
		if err := x.lifecycle(ctx, s); err != nil {
			return nil, err
		}
		out = append(out, *s)
		ids = append(ids, s.ID)
		now = s.StartedAt
	}
	if err := x.disproveFixes(ctx); err != nil {
		return nil, err
	}
	x.pending, x.cur = nil, nil
	clear(x.seen)
	if err := x.applyVEX(ctx); err != nil {
		return nil, err
	}
	// People's decisions hold over what the findings say (triage.go).
	if _, err := x.s.reconcile(ctx, x.tx, now, strings.Join(ids, " ")); err != nil {
		return nil, err
	}
	return out, nil
}

// applyVEX marks not_affected every open exposure that a VEX statement
// (evidence vex-not-affected, from OpenVEX or CycloneDX) is about, by
// store.EvidenceMatches. The candidates are the open exposures whose
// canonical vulnerability id is the statement's (CVE when there is one;
// the join uses the exposures' vuln_id index, so a statement costs one
// lookup whatever the size of the database). It runs after every input,
// since statements and findings may arrive in either order, and after
// the lifecycle, which recomputes statuses from findings.
//
// The statements are the outer loop (CROSS JOIN keeps SQLite's join
// order) and the exposures are searched by vuln_id, not status (the
// status is compared as an expression, which no index answers): SQLite's
// planner, without statistics, would otherwise read every open exposure
// and look each up among the statements, a walk through the whole table
// at the end of every input (1.5 s of CPU per upload of 200 findings
// into a database of a million, most of the server's CPU under
// ingests).
func (x *tx) applyVEX(ctx context.Context) error {
	rows, err := x.tx.QueryContext(ctx, `SELECT x.id, x.asset, x.pkg_purl, x.vuln_id, e.asset FROM evidence e CROSS JOIN exposures x
WHERE x.vuln_id = e.vuln_id AND e.kind = 'vex-not-affected' AND e.vuln_id <> '' AND x.status || '' = 'open'`)
	if err != nil {
		return fmt.Errorf("apply VEX: %w", err)
	}
	var hit []string
	for rows.Next() {
		var e model.Evidence
		var ex model.Exposure
		var vuln string
		if err := rows.Scan(&ex.ID, &ex.Asset, &ex.Package.PURL, &vuln, &e.Asset); err != nil {
			rows.Close()
			return fmt.Errorf("apply VEX: %w", err)
		}
		e.Kind, e.VulnID, ex.VulnIDs = model.EvidenceVEXNotAffected, vuln, []string{vuln}
		if store.EvidenceMatches(e, ex) {
			hit = append(hit, ex.ID)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("apply VEX: %w", err)
	}
	// In id order, as every writer of shared rows (see parallel.go).
	slices.Sort(hit)
	for c := range slices.Chunk(hit, 500) {
		args := make([]any, len(c))
		for i, id := range c {
			args[i] = id
		}
		if _, err := x.tx.ExecContext(ctx, x.s.rebind(`UPDATE exposures SET status = 'not_affected' WHERE status = 'open' AND id IN (`+placeholders(len(c))+`)`), args...); err != nil {
			return fmt.Errorf("apply VEX: %w", err)
		}
	}
	return nil
}

// disproveFixes opens the exposures a person marked fixed whose findings
// the pending scans reported open again (reconcile then records why): an
// unchanged finding's row is not written, so nothing else would.
func (x *tx) disproveFixes(ctx context.Context) error {
	// The decisions first, then each one's findings along the primary
	// key: joined in one statement, SQLite's planner read every finding
	// and looked each up among the decisions, a walk through the whole
	// table at the end of every scan (most of a first ingest of many
	// scans, O(scans × findings)).
	rows, err := x.tx.QueryContext(ctx, `SELECT exposure_id FROM triage WHERE status = 'fixed'`)
	if err != nil {
		return fmt.Errorf("read fixed decisions: %w", err)
	}
	var fixed []string
	for rows.Next() {
		var eid string
		if err := rows.Scan(&eid); err != nil {
			rows.Close()
			return fmt.Errorf("read fixed decisions: %w", err)
		}
		fixed = append(fixed, eid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read fixed decisions: %w", err)
	}
	var open []string
	q := x.s.rebind(`SELECT f.id FROM findings f WHERE ` + ofExposure("f", "?") + ` AND f.reported_status = 'open'`)
	for _, eid := range fixed {
		fids, err := x.tx.QueryContext(ctx, q, eid, eid, eid)
		if err != nil {
			return fmt.Errorf("read fixed decisions: %w", err)
		}
		hit := false
		for fids.Next() && !hit {
			var fid string
			if err := fids.Scan(&fid); err != nil {
				fids.Close()
				return fmt.Errorf("read fixed decisions: %w", err)
			}
			for _, p := range x.pending {
				if set := x.seen[p.ID]; set != nil && set.has(fid) {
					hit = true
					break
				}
			}
		}
		fids.Close()
		if err := fids.Err(); err != nil {
			return fmt.Errorf("read fixed decisions: %w", err)
		}
		if hit {
			open = append(open, eid)
		}
	}
	slices.Sort(open) // in id order, see parallel.go
	for _, eid := range open {
		if _, err := x.tx.ExecContext(ctx, x.s.rebind(`UPDATE exposures SET status = 'open' WHERE id = ? AND status = 'fixed'`), eid); err != nil {
			return fmt.Errorf("reopen %s: %w", eid, err)
		}
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
	if _, err := q(x.s.exposuresOf(), now, now, s.ID); err != nil {
		return fmt.Errorf("record exposures: %w", err)
	}
	if _, err := q(exposureToolsOf, s.Tool, s.ID); err != nil {
		return fmt.Errorf("record exposure tools: %w", err)
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
	// Fix what this scan no longer reports: the findings of the (tool,
	// target) that are not in the scan's seen set. Their last sighting
	// was the scan of the (tool, target) before this one.
	var prev int64
	if err := x.tx.QueryRowContext(ctx, x.s.rebind(`SELECT COALESCE(MAX(started_at), 0) FROM scans WHERE tool = ? AND target = ? AND id <> ?`), s.Tool, s.Target, s.ID).Scan(&prev); err != nil {
		return fmt.Errorf("read previous scan: %w", err)
	}
	seen := x.seen[s.ID]
	if seen == nil {
		seen = &seenSet{}
	}
	s.Findings = seen.seal()
	// The candidates are read first (an index range a scan of the
	// target, no table row) and the unseen written after, in chunks.
	var gone []string
	rows, err := x.tx.QueryContext(ctx, x.s.rebind(`SELECT id FROM findings WHERE scan_id IN (`+earlierScans+`) AND status <> 'fixed'`), s.Tool, s.Target, s.ID)
	if err != nil {
		return fmt.Errorf("read reported findings: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("read reported findings: %w", err)
		}
		if !seen.has(id) {
			gone = append(gone, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read reported findings: %w", err)
	}
	for c := range slices.Chunk(gone, 500) {
		in := ` AND id IN (` + placeholders(len(c)) + `)`
		args := make([]any, 0, len(c)+2)
		args = append(args, now, s.ID)
		for _, id := range c {
			args = append(args, id)
		}
		if _, err := q(`INSERT INTO finding_events (finding_id, from_status, to_status, at, scan_id)
SELECT id, status, 'fixed', ?, ? FROM findings WHERE status <> 'fixed'`+in, args...); err != nil {
			return fmt.Errorf("record fixed findings: %w", err)
		}
		args[1] = prev
		if _, err := q(`UPDATE findings SET status = 'fixed', fixed_at = ?, last_seen = ? WHERE status <> 'fixed'`+in, args...); err != nil {
			return fmt.Errorf("fix findings: %w", err)
		}
	}
	s.Fixed = len(gone)
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
	if err := x.tx.QueryRowContext(ctx, x.s.rebind(`SELECT COUNT(*) FROM findings WHERE scan_id = ? AND first_seen = ?`), s.ID, now).Scan(&s.New); err != nil {
		return fmt.Errorf("count new findings: %w", err)
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
	defer x.release()
	if err := x.writeHeld(x.ctx); err != nil {
		x.tx.Rollback()
		return err
	}
	if err := x.buildIndexes(); err != nil {
		x.tx.Rollback()
		return err
	}
	if err := x.numberScans(); err != nil {
		x.tx.Rollback()
		return err
	}
	if err := x.s.auditIn(x.ctx, x.tx, store.AuditIngest, nil); err != nil {
		x.tx.Rollback()
		return err
	}
	if h := x.s.IngestHook; h != nil {
		for _, k := range x.keys {
			h("commit", k)
		}
	}
	if err := x.tx.Commit(); err != nil {
		return fmt.Errorf("commit ingest: %w", err)
	}
	store.AuditUsed(x.ctx)
	return nil
}

// release returns the connection of a copying ingest to the pool.
func (x *tx) release() {
	if x.conn != nil {
		x.conn.Close()
		x.conn = nil
	}
}

// Rollback discards the ingest. It is safe to call after Commit.
func (x *tx) Rollback() error {
	if x.done {
		return nil
	}
	x.stop()
	x.done = true
	defer x.release()
	return x.tx.Rollback()
}

// deferredIndexes are the secondary indexes of findings, exposures and
// finding_vulns, and exposure_tools_severity, that no query of the
// ingest itself needs (migrations 00005, 00009, 00019, 00021, 00024 and
// 00026 define them;
// TestDeferredIndexesMatchSchema keeps the two alike). Their keys do not
// follow the order rows are written in, so filled row by row during a
// bulk ingest each row lands at a random place of each index: at 1M findings that took the first ingest from
// 40 s to 115 s of CPU. Built at the end of a first ingest, each is one
// sort.
var deferredIndexes = []struct{ name, def string }{
	{"findings_severity", "findings (sev DESC, asset, rule_id, id)"},
	{"exposures_severity", "exposures (sev DESC, asset, vuln_id, rule_id, id)"},
	{"finding_vulns_vuln", "finding_vulns (vuln_id, finding_id)"},
	{"finding_vulns_finding", "finding_vulns (finding_id)"},
	{"findings_vuln", "findings (vuln_id)"},
	{"findings_newest", "findings (first_seen DESC, id)"},
	{"exposures_newest", "exposures (first_seen DESC, id)"},
	{"findings_filter", "findings (status, kind, tool)"},
	{"findings_asset", "findings (asset, sev DESC, rule_id, id)"},
	{"exposures_filter", "exposures (status, kind)"},
	{"exposures_asset_sev", "exposures (asset, sev DESC, vuln_id, rule_id, id)"},
	{"findings_tool_newest", "findings (tool, first_seen DESC, id)"},
	{"exposure_tools_severity", "exposure_tools (tool, exposure_sev DESC, exposure_asset, exposure_vuln_id, exposure_rule_id, exposure_id)"},
	{"findings_tool_severity", "findings (tool, sev DESC, asset, rule_id, id)"},
}

// deferIndexes drops the deferred indexes when the store holds no
// finding yet and the dialect allows it: the first ingest is then a bulk
// load, and Commit builds the indexes once (buildIndexes). A rollback
// restores them with everything else.
func (x *tx) deferIndexes() error {
	if !x.s.d.DeferIndexes {
		return nil
	}
	var n int
	if err := x.tx.QueryRowContext(x.ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM findings LIMIT 1) f`).Scan(&n); err != nil {
		return fmt.Errorf("begin ingest: %w", err)
	}
	if n > 0 {
		return nil
	}
	for _, ix := range deferredIndexes {
		if _, err := x.tx.ExecContext(x.ctx, `DROP INDEX `+ix.name); err != nil {
			return fmt.Errorf("begin ingest: defer index %s: %w", ix.name, err)
		}
	}
	x.deferred = true
	return nil
}

// buildIndexes builds the indexes deferIndexes dropped.
func (x *tx) buildIndexes() error {
	if !x.deferred {
		return nil
	}
	for _, ix := range deferredIndexes {
		if _, err := x.tx.ExecContext(x.ctx, `CREATE INDEX `+ix.name+` ON `+ix.def); err != nil {
			return fmt.Errorf("commit ingest: build index %s: %w", ix.name, err)
		}
	}
	x.deferred = false
	return nil
}
