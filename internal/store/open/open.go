// Package open opens the store a name points at: a PostgreSQL database
// for a postgres:// or postgresql:// connection URL, a SQLite file for
// anything else. The CLI and the server open their store through it.
package open

import (
	"context"

	"github.com/ctem-dev/ctem/internal/store/postgres"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
)

// Options tune the store opened.
type Options struct {
	// PoolSize caps the open connections to PostgreSQL
	// (postgres.DefaultPoolSize when zero); SQLite ignores it.
	PoolSize int
}

// IsPostgres reports whether name is a PostgreSQL connection URL.
func IsPostgres(name string) bool { return postgres.IsDSN(name) }

// Open opens and migrates the store named by name.
func Open(ctx context.Context, name string, o Options) (*sqlstore.DB, error) {
	if postgres.IsDSN(name) {
		return postgres.Open(ctx, name, postgres.Options{PoolSize: o.PoolSize})
	}
	return sqlite.Open(ctx, name)
}

// Describe returns name as it may be shown: a connection URL without its
// password.
func Describe(name string) string {
	if postgres.IsDSN(name) {
		return postgres.Redact(name)
	}
	return name
}
