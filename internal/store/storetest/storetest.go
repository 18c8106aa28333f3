// Package storetest gives tests a fresh store on the backend under test:
// a SQLite file in the test's temporary directory, or, when the
// environment variable CTEM_TEST_POSTGRES holds a connection URL to a
// PostgreSQL server, a new database on that server, dropped when the
// test ends. The same tests so run against both stores.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ctem-dev/ctem/internal/store/postgres"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
)

// EnvPostgres names the variable holding the connection URL of the
// PostgreSQL server to test against (its user must be allowed to
// create databases). Unset, tests use SQLite.
const EnvPostgres = "CTEM_TEST_POSTGRES"

// Backend returns "postgres" when the tests run against PostgreSQL, else
// "sqlite".
func Backend() string {
	if os.Getenv(EnvPostgres) != "" {
		return "postgres"
	}
	return "sqlite"
}

var announce sync.Once

// Open returns a fresh, migrated store for t, closed when t ends.
func Open(t testing.TB) *sqlstore.DB {
	t.Helper()
	return OpenName(t, Name(t))
}

// OpenName opens the store named by name (from Name) once more, closed
// when t ends.
func OpenName(t testing.TB, name string) *sqlstore.DB {
	t.Helper()
	var st *sqlstore.DB
	var err error
	if postgres.IsDSN(name) {
		st, err = postgres.Open(context.Background(), name, postgres.Options{})
	} else {
		st, err = sqlite.Open(context.Background(), name)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Name returns the name of a fresh database for t, as ctem's --db takes
// it: a file path in t's temporary directory for SQLite, or the
// connection URL of a new PostgreSQL database, already migrated and
// dropped when t ends.
func Name(t testing.TB) string {
	t.Helper()
	announce.Do(func() { fmt.Fprintf(os.Stderr, "storetest: store tests run on %s\n", Backend()) })
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		return filepath.Join(t.TempDir(), "ctem.db")
	}
	name, err := create(admin, t.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// NameFor is Name for callers without a testing.TB of their own (a
// testscript's Setup): the database is dropped by cleanup, and an error
// is returned rather than reported.
func NameFor(dir string, cleanup func(func())) (string, error) {
	announce.Do(func() { fmt.Fprintf(os.Stderr, "storetest: store tests run on %s\n", Backend()) })
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		return filepath.Join(dir, "ctem.db"), nil
	}
	return create(admin, cleanup)
}

// create makes a new database from the template and returns its
// connection URL.
func create(admin string, cleanup func(func())) (string, error) {
	ctx := context.Background()
	db, err := adminDB(admin)
	if err != nil {
		return "", err
	}
	tmpl, err := template(ctx, db, admin)
	if err != nil {
		return "", err
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := "ctem_test_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE `+tmpl); err != nil {
		return "", fmt.Errorf("create test database: %w", err)
	}
	cleanup(func() {
		if _, err := db.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			fmt.Fprintf(os.Stderr, "storetest: drop test database %s: %v\n", name, err)
		}
	})
	return withDatabase(admin, name)
}

// withDatabase returns the connection URL dsn with its database replaced.
func withDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("%s: %w", EnvPostgres, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

var (
	adminOnce sync.Once
	adminConn *sql.DB
	adminErr  error
	tmplMu    sync.Mutex
	tmplName  string
)

func adminDB(dsn string) (*sql.DB, error) {
	adminOnce.Do(func() {
		adminConn, adminErr = sql.Open("pgx", dsn)
		if adminErr == nil {
			adminConn.SetMaxOpenConns(4)
			adminErr = adminConn.Ping()
		}
		if adminErr != nil {
			adminErr = fmt.Errorf("%s: %w", EnvPostgres, adminErr)
		}
	})
	return adminConn, adminErr
}

// template returns the name of a migrated database that test databases
// are copied from (CREATE DATABASE ... TEMPLATE, a file copy, instead of
// running every migration per test). It is named after the digest of
// the migrations, so that it is made once per schema and server, and
// kept; byte-wise collation as the migrations' columns have.
func template(ctx context.Context, db *sql.DB, admin string) (string, error) {
	tmplMu.Lock()
	defer tmplMu.Unlock()
	if tmplName != "" {
		return tmplName, nil
	}
	h := sha256.New()
	err := fs.WalkDir(postgres.Migrations, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(postgres.Migrations, p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	if err != nil {
		return "", err
	}
	name := "ctem_template_" + hex.EncodeToString(h.Sum(nil))[:12]
	// Test processes of several packages may get here at once: one
	// makes the template under a server-wide lock, the others find it.
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7411)`); err != nil {
		return "", err
	}
	defer conn.ExecContext(ctx, `SELECT pg_advisory_unlock(7411)`)
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		return "", err
	}
	if n == 0 {
		build := name + "_build"
		conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+build+` WITH (FORCE)`)
		if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+build+` TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`); err != nil {
			return "", fmt.Errorf("create template database: %w", err)
		}
		dsn, err := withDatabase(admin, build)
		if err != nil {
			return "", err
		}
		st, err := postgres.Open(ctx, dsn, postgres.Options{PoolSize: 1})
		if err != nil {
			return "", err
		}
		st.Close()
		if _, err := conn.ExecContext(ctx, `ALTER DATABASE `+build+` RENAME TO `+name); err != nil {
			return "", fmt.Errorf("create template database: %w", err)
		}
	}
	tmplName = name
	return name, nil
}

// Tables lists the tables of db, a database of the given dialect
// ("sqlite" or "postgres"), sorted by name.
func Tables(t testing.TB, db *sql.DB, dialect string) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`
	if dialect == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
