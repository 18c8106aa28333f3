package sqlite

import (
	"context"
	"database/sql"
)

// MigrateDownTo undoes the migrations after version v, for tests that
// need a database as an older ctem left it.
func MigrateDownTo(ctx context.Context, db *sql.DB, v int64) error {
	p, err := provider(db)
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, v)
	return err
}
