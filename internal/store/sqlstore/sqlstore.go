// Package sqlstore implements store.Store over database/sql with
// hand-written SQL that SQLite and PostgreSQL both accept. The database
// packages (store/sqlite, store/postgres) open the connection, run their
// migrations and hand it here with their Dialect.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// Dialect holds what differs between the SQL databases.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// Numbered is true when placeholders are $1, $2 (PostgreSQL) rather
	// than ?.
	Numbered bool
	// BeginSQL, when set, is run first in every write transaction (for
	// example to take a lock).
	BeginSQL string
	// IngestBeginSQL, when set, begins an ingest instead of BeginSQL,
	// and ingests run in parallel: it takes BeginSQL's lock in a shared
	// mode (ingests exclude the other writers, not each other), and
	// KeyLockSQL serialises the ingests of one (tool, target). Scans then
	// take their sequence numbers at commit, under CommitLockSQL, in
	// commit order (so that whoever reads the highest committed sequence
	// has every lower one), and assets and relations are written in the
	// order of their keys when an input ends, so that two ingests that
	// share them lock their rows in one order.
	IngestBeginSQL string
	// KeyLockSQL takes, until the transaction ends, the lock of one
	// (tool, target), given as one parameter (store.ScanKey.Lane).
	KeyLockSQL string
	// CommitLockSQL takes, until the transaction ends, the lock that
	// serialises what is numbered in commit order: scan sequence numbers
	// of parallel ingests and audit log entries. It is held only from
	// numbering to commit.
	CommitLockSQL string
	// DeferIndexes is true when a first ingest into an empty store may
	// drop the listing indexes and build them again at its end (see
	// deferredIndexes). SQLite's readers keep reading their snapshot
	// meanwhile; PostgreSQL's DROP INDEX would lock them out, so it
	// leaves this false.
	DeferIndexes bool
	// SkipLocked is true when several processes share the job queue
	// (PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED and advisory
	// locks, see sharedqueue.go): each job goes to one process, in
	// upload order, and the jobs of a process that died are taken over.
	SkipLocked bool
	// CopyFrom, when set, writes rows into table through the driver
	// connection dc (database/sql's Conn.Raw) in bulk (PostgreSQL's
	// COPY), inside the transaction open on it, and returns the count
	// written.
	CopyFrom func(ctx context.Context, dc any, table string, cols []string, rows [][]any) (int64, error)
	// ScanSQL, when set, is run on a connection before it reads a whole
	// table once in bulk (the analysis's read of every exposure and
	// finding), and ScanEndSQL after, to put the connection back as it
	// was. SQLite's turn off the memory map and shrink the page cache for
	// the read: a scan of a 1.7 GB database otherwise leaves every page
	// it read resident in the process, mapped or cached, though it is
	// read once.
	ScanSQL, ScanEndSQL []string
}

// DB is a store.Store over a database/sql handle.
type DB struct {
	db *sql.DB
	d  Dialect
	// Now is the clock that stamps scans; nil means time.Now. Tests of
	// history (KPIs over simulated weeks) set it.
	Now func() time.Time
	// IngestHook, when set, is called by an ingest transaction with
	// "begin" and a scan's (tool, target) once the scan has begun (and,
	// in a parallel ingest, holds its lock), and with "commit" and each
	// of its scans' keys just before it commits, still holding its
	// locks (so that an ingest waiting for them begins after). Tests use
	// it to see which ingests ran at once; it may block the ingest that
	// calls it.
	IngestHook func(event string, key store.ScanKey)
	// probeCap is the count under which a listing reads a filter first
	// (plan.go); zero means defaultProbeCap. Tests set it.
	probeCap int

	// The jobs this process runs from a shared queue, each holding its
	// connection (sharedqueue.go), and the attempts before an orphaned
	// job fails.
	qmu         sync.Mutex
	held        map[string]*sql.Conn
	maxAttempts int

	// stmts keeps the hot reads prepared (stmts.go).
	stmts stmtCache
}

// now reads the store's clock.
func (s *DB) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

var _ store.Store = (*DB)(nil)

// New returns a Store over db, whose schema must be migrated already.
func New(db *sql.DB, d Dialect) *DB { return &DB{db: db, d: d} }

// SQL returns the underlying handle.
func (s *DB) SQL() *sql.DB { return s.db }

// Dialect returns the dialect the store was opened with.
func (s *DB) Dialect() Dialect { return s.d }

// Rebind rewrites the ? placeholders of q for the store's database, for
// SQL written outside this package (tests, ctem migrate).
func (s *DB) Rebind(q string) string { return s.rebind(q) }

// Close closes the database.
func (s *DB) Close() error {
	s.closeStmts()
	return s.db.Close()
}

// rebind rewrites ? placeholders to $n for numbered dialects. Queries
// here never hold a literal question mark.
func (s *DB) rebind(q string) string {
	if !s.d.Numbered {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// SecretKey returns the database's secret-hashing key, creating it on
// first use.
func (s *DB) SecretKey(ctx context.Context) ([]byte, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT value FROM meta WHERE key = ?`), "secret_key").Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, fmt.Errorf("make secret key: %w", err)
		}
		if _, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`), "secret_key", hex.EncodeToString(k)); err != nil {
			return nil, fmt.Errorf("store secret key: %w", err)
		}
		err = s.db.QueryRowContext(ctx, s.rebind(`SELECT value FROM meta WHERE key = ?`), "secret_key").Scan(&v)
	}
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	return hex.DecodeString(v)
}

// Counts returns the row counts of the main tables.
func (s *DB) Counts(ctx context.Context) (store.Counts, error) {
	var c store.Counts
	for _, t := range []struct {
		table string
		n     *int
	}{
		{"assets", &c.Assets}, {"relations", &c.Relations}, {"findings", &c.Findings},
		{"exposures", &c.Exposures}, {"scans", &c.Scans}, {"finding_events", &c.Events}, {"evidence", &c.Evidence},
	} {
		if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t.table).Scan(t.n); err != nil {
			return c, fmt.Errorf("count %s: %w", t.table, err)
		}
	}
	return c, nil
}

// micros converts a time to the stored form: microseconds since the epoch,
// 0 for the zero time.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(n).UTC()
}

// ofExposure is the condition that the finding aliased f belongs to the
// exposure whose id is the SQL expression e. A finding's id begins with
// the first eight hex digits of its exposure's (model.Finding.Normalize),
// so the condition is a range of the findings' primary key, which needs
// no index on exposure_id; the equality drops the rare other exposure
// that shares those digits. (SQLite would rather build a temporary index
// on exposure_id over every finding; store/sqlite turns its automatic
// indexes off, so this SQL needs no trick to prevent it.)
func ofExposure(f, e string) string {
	return f + ".id >= substr(" + e + ", 1, 8) AND " + f + ".id < substr(" + e + ", 1, 8) || 'g' AND " + f + ".exposure_id = " + e
}

// joinList stores a list as ",a,b," (filters use finding_vulns, not the
// list).
func joinList(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return "," + strings.Join(xs, ",") + ","
}

func splitList(s string) []string {
	s = strings.Trim(s, ",")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// packExtra packs the fields of a finding that no query filters on into
// one value: each field as its length in decimal, a colon and its bytes,
// in the order unpackExtra reads them. cvss is f.CVSS as JSON.
func packExtra(f *model.Finding, cvss string) string {
	fields := [...]string{f.ToolSeverity, cvss, f.Description, f.ToolStatus, f.ToolFingerprint, f.SecretHint, f.Pointer}
	n := 32
	for _, s := range fields {
		n += len(s) + 4
	}
	b := make([]byte, 0, n)
	for _, s := range fields {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	for _, v := range [...]int{f.Location.EndLine, f.Location.Column} {
		s := strconv.Itoa(v)
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	return string(b)
}

// unpackExtra sets the fields packExtra packed into s on f, and returns
// the CVSS JSON.
func unpackExtra(s string, f *model.Finding) (cvss string, err error) {
	next := func() string {
		i := strings.IndexByte(s, ':')
		if err != nil || i < 0 {
			err = errors.New("bad packed finding fields")
			return ""
		}
		n, perr := strconv.Atoi(s[:i])
		if perr != nil || n < 0 || n > len(s)-i-1 {
			err = errors.New("bad packed finding fields")
			return ""
		}
		v := s[i+1 : i+1+n]
		s = s[i+1+n:]
		return v
	}
	f.ToolSeverity, cvss, f.Description = next(), next(), next()
	f.ToolStatus, f.ToolFingerprint, f.SecretHint, f.Pointer = next(), next(), next(), next()
	f.Location.EndLine, _ = strconv.Atoi(next())
	f.Location.Column, _ = strconv.Atoi(next())
	return cvss, err
}

// extraCVSS returns the CVSS field of packed finding fields (see
// unpackExtra) without unpacking the others; "" when there is none or
// the fields are damaged.
func extraCVSS(s string) string {
	for k := 0; k < 2; k++ {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			return ""
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > len(s)-i-1 {
			return ""
		}
		if k == 1 {
			return s[i+1 : i+1+n]
		}
		s = s[i+1+n:]
	}
	return ""
}

// The small interfaces DB implements, each on its own so that a consumer
// may ask for no more than it uses.
var (
	_ store.IngestWriter    = (*DB)(nil)
	_ store.FindingReader   = (*DB)(nil)
	_ store.ExposureReader  = (*DB)(nil)
	_ store.AssetReader     = (*DB)(nil)
	_ store.ScanReader      = (*DB)(nil)
	_ store.AnalysisResults = (*DB)(nil)
	_ store.Events          = (*DB)(nil)
)
