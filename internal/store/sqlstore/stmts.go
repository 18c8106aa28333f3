package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxStmts bounds the prepared statements a DB keeps; queries beyond it
// are prepared for each use, as any other.
const maxStmts = 256

// stmtCache keeps the hot read statements prepared, by their text. On
// SQLite, preparing (parsing and planning) a listing's statements cost
// about a tenth of a page's CPU under load; a prepared *sql.Stmt is
// prepared once on each connection that runs it. PostgreSQL's driver
// (pgx) keeps its own per-connection statement cache, so the cache is
// used on SQLite only.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// stmt returns the prepared statement of q, preparing it when needed, or
// nil when statements are not cached (not SQLite, or the cache is full).
func (s *DB) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if s.d.Name != "sqlite" {
		return nil, nil
	}
	c := &s.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st, nil
	}
	if len(c.m) >= maxStmts {
		return nil, nil
	}
	// Prepared without the caller's context: the statement outlives the
	// request that first needs it.
	st, err := s.db.PrepareContext(context.WithoutCancel(ctx), q)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = st
	return st, nil
}

// query runs the read q (already rebound) through its prepared
// statement.
func (s *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return s.db.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

// queryRow is query for one row.
func (s *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := s.stmt(ctx, q)
	if err != nil || st == nil {
		// An error preparing is the query's error: QueryRowContext
		// reports it through Scan.
		return s.db.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// closeStmts closes the cached statements.
func (s *DB) closeStmts() {
	c := &s.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}
