package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// copyBatchRows is how many findings one COPY writes (Dialect.CopyFrom):
// a round trip and a statement per thousands of rows instead of per 32.
const copyBatchRows = 4096

// The COPY path (PostgreSQL): the ingest's findings are copied into a
// temporary table of the transaction, then upserted from it in one
// statement, whose RETURNING feeds finding_vulns as the multi-row
// INSERT's does (execRows). COPY needs the connection the transaction
// runs on, so such an ingest holds a *sql.Conn of its own.

// copyFindings writes the batch's rows with COPY and the upsert, and
// returns the upsert's rows.
func (x *tx) copyFindings(b *batch) (*sql.Rows, []any, error) {
	if !x.staged {
		if _, err := x.tx.ExecContext(x.ctx, `CREATE TEMP TABLE findings_in (LIKE findings) ON COMMIT DROP`); err != nil {
			return nil, nil, fmt.Errorf("stage findings: %w", err)
		}
		x.staged = true
	} else if _, err := x.tx.ExecContext(x.ctx, `TRUNCATE findings_in`); err != nil {
		return nil, nil, fmt.Errorf("stage findings: %w", err)
	}
	// The batch's arguments: the shared values, then each row's own.
	k := len(sharedArgs(nil, b.tmpl, b.shared))
	n := 0
	for _, c := range b.tmpl {
		if c, ok := c.(int); ok {
			n = max(n, c+1)
		}
	}
	own := b.args[k:]
	rows := make([][]any, 0, b.rows)
	flat := make([]any, 0, b.rows)
	for i := 0; i+n <= len(own); i += n {
		r := make([]any, 0, len(b.tmpl))
		for _, c := range b.tmpl {
			switch c := c.(type) {
			case int:
				r = append(r, own[i+c])
			case shared:
				r = append(r, b.shared[c])
			case string:
				v, err := strconv.ParseInt(c, 10, 64)
				if err != nil {
					return nil, nil, fmt.Errorf("stage findings: template value %q is not a number", c)
				}
				r = append(r, v)
			}
		}
		rows = append(rows, r)
		flat = append(flat, own[i:i+n]...)
	}
	cols := strings.Split(strings.Join(strings.Fields(findingInsertCols), ""), ",")
	err := x.conn.Raw(func(dc any) error {
		_, err := x.s.d.CopyFrom(x.ctx, dc, "findings_in", cols, rows)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("stage findings: %w", err)
	}
	list := strings.Join(cols, ", ")
	res, err := x.tx.QueryContext(x.ctx, `INSERT INTO findings (`+list+`) SELECT `+list+` FROM findings_in WHERE true
`+findingConflict)
	if err != nil {
		return nil, nil, err
	}
	// execRows reads each row's own values from here, after k shared.
	return res, append(make([]any, k), flat...), nil
}

// beginConn starts the ingest's transaction on a connection of its own
// when the dialect copies (see copyFindings).
func (s *DB) beginConn(ctx context.Context) (*sql.Conn, *sql.Tx, error) {
	if s.d.CopyFrom == nil {
		t, err := s.db.BeginTx(ctx, nil)
		return nil, t, err
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	t, err := c.BeginTx(ctx, nil)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, t, nil
}
