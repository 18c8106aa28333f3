// Package sqlite opens ctem's embedded store: a SQLite database file in WAL
// mode, through the pure-Go modernc.org/sqlite driver, migrated to the
// schema embedded in the binary.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/ctem-dev/ctem/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is SQLite's dialect. Write transactions begin IMMEDIATE (see
// the DSN), so concurrent ingests queue on the write lock instead of
// failing when a reader would upgrade. A first ingest builds the listing
// indexes at its end (sqlstore.Dialect.DeferIndexes): readers of the
// empty store see its snapshot until the commit.
//
// A bulk read of a whole table (sqlstore.Dialect.ScanSQL) runs with no
// memory map and a small page cache: each page is read once, and what a
// connection maps or caches stays resident in the process until the
// connection lets it go (2.1 GB of the 4.3 GB peak RSS of an analysis
// of a 1.7 GB database of 1M findings).
var Dialect = sqlstore.Dialect{Name: "sqlite", DeferIndexes: true,
	ScanSQL:    []string{"PRAGMA mmap_size = 0", fmt.Sprintf("PRAGMA cache_size = %d", scanCacheKiB)},
	ScanEndSQL: []string{fmt.Sprintf("PRAGMA mmap_size = %d", mmapSize), fmt.Sprintf("PRAGMA cache_size = %d", cacheKiB)},
}

// cacheKiB is each connection's page cache, in KiB as a negative
// cache_size (see Open), and scanCacheKiB that of a bulk read.
const (
	cacheKiB     = -65536
	scanCacheKiB = -2048
)

// busyTimeoutMS is how long a writer waits for another writer to finish
// before it gives up: long enough for a large ingest by another process.
const busyTimeoutMS = 10 * 60 * 1000

// mmapSize is how much of the database file each connection maps (see
// Open): address space, not memory; SQLite's own bound may be lower.
const mmapSize = 64 << 30

// Open opens (creating if needed) the database file at path and migrates
// it to the latest schema.
func Open(ctx context.Context, path string) (*sqlstore.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open database %s: %w", path, err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	// 16 KiB pages (for new databases; the default is 4 KiB): fewer,
	// shallower b-tree pages and fewer page writes in bulk ingests. The
	// page size only applies before the database file is first written,
	// and switching to WAL writes it; the driver runs the _pragma list
	// sorted by name (journal_mode before page_size), so WAL is asked for
	// with the _journal_mode key, which the driver applies after the list.
	q.Add("_pragma", "page_size(16384)")
	q.Add("_journal_mode", "WAL")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// A 64 MiB page cache per connection (the default is 2 MiB): bulk
	// ingests into large tables spend most of their time in index b-trees.
	q.Add("_pragma", fmt.Sprintf("cache_size(%d)", cacheKiB))
	// Temporary tables and sorts stay in files (the default), not in
	// memory: the end of a large ingest sorts every exposure of the scan
	// (sqlstore's exposuresOf), a few hundred MB for a million findings.
	// No automatic indexes: without statistics the planner would rather
	// build a temporary index over every finding than search the primary
	// key by range (see sqlstore.ofExposure); the schema's indexes are
	// the ones the queries are written for.
	q.Add("_pragma", "automatic_index(0)")
	// Reads map the database file (up to mmapSize) instead of copying
	// each page into the connection's cache with a read call: under
	// ingests, every commit empties the other connections' caches, and a
	// listing of a large database then spent a third of its CPU in read
	// calls and in allocating and freeing cache pages.
	q.Add("_pragma", fmt.Sprintf("mmap_size(%d)", mmapSize))
	q.Add("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate database %s: %w", path, err)
	}
	return sqlstore.New(db, Dialect), nil
}

func provider(db *sql.DB) (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectSQLite3, db, sub)
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
