package postgres

import (
	"context"
	"database/sql"
)

// MigrateUp migrates db to the latest schema.
func MigrateUp(ctx context.Context, db *sql.DB) error { return migrate(ctx, db) }

// MigrateDownTo undoes the migrations after version v, for tests.
func MigrateDownTo(ctx context.Context, db *sql.DB, v int64) error {
	p, err := provider(db)
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, v)
	return err
}
