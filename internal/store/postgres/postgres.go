// Package postgres opens ctem's shared store: a PostgreSQL database,
// through pgx's database/sql driver, migrated to the schema embedded in
// the binary. Several ctem processes may share one database.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/ctem-dev/ctem/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations holds the schema's goose migrations, one file each.
var Migrations = must(fs.Sub(migrations, "migrations"))

func must(f fs.FS, err error) fs.FS {
	if err != nil {
		panic(err) // the embedded folder exists at build time
	}
	return f
}

// writeLock is the key of the advisory lock every write transaction
// takes first (Dialect.BeginSQL): writers queue on it as they queue on
// SQLite's write lock, so that the sequences handed out as the last
// value plus one (analysis id, removal seq) never collide between
// processes and re-analyses record one at a time. Ingests take it shared
// (Dialect.IngestBeginSQL): they run beside each other, not beside the
// other writers. Readers never wait for it.
const writeLock = 0x6374656d // "ctem"

// commitLock is the key of the advisory lock held from the numbering of
// what is numbered in commit order (scan seq, audit seq) to the commit.
const commitLock = 0x6374656e

// keyLock is the first key of the advisory locks of (tool, target)s,
// the second being the hash of the lane (store.ScanKey.Lane). A hash
// collision serialises two keys, which costs time, never correctness.
const keyLock = 7413

// Dialect is PostgreSQL's dialect: numbered placeholders, the write lock
// taken at the start of every write transaction (shared by ingests, which
// run in parallel, serialised per (tool, target)), the job queue claimed
// with FOR UPDATE SKIP LOCKED, and bulk rows written with COPY.
var Dialect = sqlstore.Dialect{
	Name:           "postgres",
	Numbered:       true,
	BeginSQL:       fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", writeLock),
	IngestBeginSQL: fmt.Sprintf("SELECT pg_advisory_xact_lock_shared(%d)", writeLock),
	KeyLockSQL:     fmt.Sprintf("SELECT pg_advisory_xact_lock(%d, hashtext(?))", keyLock),
	CommitLockSQL:  fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", commitLock),
	SkipLocked:     true,
	CopyFrom:       copyFrom,
}

// DefaultPoolSize is how many connections one process opens at most
// when Options.PoolSize is zero.
const DefaultPoolSize = 10

// Options tune a connection.
type Options struct {
	// PoolSize caps the process's open connections (DefaultPoolSize
	// when zero). Each ctem serve instance holds up to this many, so
	// instances times PoolSize must stay under the server's
	// max_connections.
	PoolSize int
}

// IsDSN reports whether name is a PostgreSQL connection URL
// (postgres:// or postgresql://) rather than a file path.
func IsDSN(name string) bool {
	return strings.HasPrefix(name, "postgres://") || strings.HasPrefix(name, "postgresql://")
}

// Open connects to the database named by the connection URL dsn and
// migrates it to the latest schema. Migrations of several processes
// starting at once run one at a time (a session advisory lock).
func Open(ctx context.Context, dsn string, o Options) (*sqlstore.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", Redact(dsn), err)
	}
	// No JIT compilation unless the URL asks for it: ctem's queries
	// are short, and compiling cost 50 to 100 ms on listings whose
	// estimated cost crossed the threshold.
	if _, ok := cfg.RuntimeParams["jit"]; !ok {
		cfg.RuntimeParams["jit"] = "off"
	}
	// Parallel workers only for queries that cost much more than a
	// listing page, unless the URL says otherwise: a page of a tool's
	// high exposures at 10M whose whole result was estimated large went
	// to a parallel Gather Merge, and starting its workers took 65 to 95
	// ms of a 96 ms page (1 ms without them); aggregates over millions
	// of rows still go parallel. PostgreSQL's default is 1000.
	if _, ok := cfg.RuntimeParams["parallel_setup_cost"]; !ok {
		cfg.RuntimeParams["parallel_setup_cost"] = "10000"
	}
	db := stdlib.OpenDB(*cfg)
	n := o.PoolSize
	if n <= 0 {
		n = DefaultPoolSize
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", Redact(dsn), err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate database %s: %w", Redact(dsn), err)
	}
	return sqlstore.New(db, Dialect), nil
}

// Redact returns dsn with its password replaced by "xxxxx", for
// messages.
func Redact(dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil || cfg.Password == "" {
		return dsn
	}
	return strings.Replace(dsn, ":"+cfg.Password+"@", ":xxxxx@", 1)
}

func provider(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, Migrations, goose.WithSessionLocker(locker))
}

func migrate(ctx context.Context, db *sql.DB) error {
	p, err := provider(db)
	if err != nil {
		return err
	}
	cur, target, err := p.GetVersions(ctx)
	if err == nil && cur == target {
		return nil
	}
	_, err = p.Up(ctx)
	return err
}

// copyFrom writes rows into table with COPY over the driver connection
// dc (database/sql's Conn.Raw), inside whatever transaction is open on
// it. PostgreSQL's text cannot hold a NUL, which a report's strings may
// (JSON's \u0000): it becomes ASCII SUB (0x1a, one byte, so that the
// packed fields' lengths hold), so that such a report ingests as it
// does into SQLite rather than failing.
func copyFrom(ctx context.Context, dc any, table string, cols []string, rows [][]any) (int64, error) {
	c, ok := dc.(*stdlib.Conn)
	if !ok {
		return 0, fmt.Errorf("copy into %s: connection is a %T, not pgx's", table, dc)
	}
	for _, r := range rows {
		for i, v := range r {
			if s, ok := v.(string); ok && strings.IndexByte(s, 0) >= 0 {
				r[i] = strings.ReplaceAll(s, "\x00", "\x1a")
			}
		}
	}
	return c.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
}
