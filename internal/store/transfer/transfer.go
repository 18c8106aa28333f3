// Package transfer copies one ctem database into another, table by
// table and row by row, so that a SQLite file can move to PostgreSQL
// (ctem migrate): every id, every event of history and the audit chain
// come across as they are, and each table's count and checksum are
// compared at the end.
package transfer

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/store/sqlstore"
)

// Table is what was copied of one table: its rows and a checksum of
// them that does not depend on their order (see Sum).
type Table struct {
	Name string
	Rows int64
	Sum  string
}

// ErrNotEmpty is returned when the destination holds data already.
var ErrNotEmpty = errors.New("the destination database is not empty")

// batchRows is how many rows one write to the destination takes.
const batchRows = 5000

// Copy copies every table of src into dst, whose schema must be the
// same migration version and whose tables must be empty, in one
// transaction of dst: on error nothing is written. progress, when not
// nil, is told of each table copied. It returns each table's count and
// checksum as read back from dst, after checking that they equal src's.
func Copy(ctx context.Context, dst, src *sqlstore.DB, progress func(Table)) ([]Table, error) {
	sv, err := version(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	dv, err := version(ctx, dst)
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	if sv != dv {
		return nil, fmt.Errorf("the source's schema is version %d and the destination's %d: run the same ctem on both", sv, dv)
	}
	tables, err := Tables(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	dtables, err := Tables(ctx, dst)
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	for _, t := range tables {
		if !slices.Contains(dtables, t) {
			return nil, fmt.Errorf("the destination has no table %s", t)
		}
		var one int
		err := dst.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM `+t+` LIMIT 1) t`).Scan(&one)
		if err != nil {
			return nil, fmt.Errorf("destination: %w", err)
		}
		if one > 0 {
			return nil, fmt.Errorf("%w: table %s has rows", ErrNotEmpty, t)
		}
	}
	conn, err := dst.SQL().Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	defer tx.Rollback()
	var out []Table
	for _, t := range tables {
		if t == "kpi_weeks" || t == "kpi_fixes" {
			// Triggers filled them as the exposures and events were
			// copied (migration 00018); the source's rows replace theirs,
			// so the checksums compare the same rows.
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
				return nil, fmt.Errorf("copy %s: %w", t, err)
			}
		}
		n, sum, err := copyTable(ctx, conn, tx, dst, src, t)
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", t, err)
		}
		out = append(out, Table{Name: t, Rows: n, Sum: sum})
		if progress != nil {
			progress(out[len(out)-1])
		}
	}
	if dst.Dialect().Name == "postgres" {
		// Identity columns (status_events.seq) go on after the largest
		// value copied, as SQLite's rowid does.
		if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('status_events', 'seq'), COALESCE((SELECT MAX(seq) FROM status_events), 0) + 1, false)`); err != nil {
			return nil, fmt.Errorf("copy status_events: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	for i, t := range out {
		n, sum, err := Sum(ctx, dst, t.Name)
		if err != nil {
			return out, fmt.Errorf("check %s: %w", t.Name, err)
		}
		if n != t.Rows || sum != t.Sum {
			return out, fmt.Errorf("check %s: the destination holds %d rows (checksum %s), the source %d (%s)", t.Name, n, sum, t.Rows, t.Sum)
		}
		out[i] = t
	}
	return out, nil
}

// copyTable copies one table's rows and returns their count and
// checksum as read from src.
func copyTable(ctx context.Context, conn *sql.Conn, tx *sql.Tx, dst, src *sqlstore.DB, table string) (int64, string, error) {
	rows, err := src.SQL().QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, "", err
	}
	var sum summer
	var n int64
	batch := make([][]any, 0, batchRows)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var err error
		if cp := dst.Dialect().CopyFrom; cp != nil {
			err = conn.Raw(func(dc any) error {
				_, err := cp(ctx, dc, table, cols, batch)
				return err
			})
		} else {
			err = insert(ctx, tx, dst, table, cols, batch)
		}
		batch = batch[:0]
		return err
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, "", err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		sum.add(vals)
		n++
		batch = append(batch, vals)
		if len(batch) == batchRows {
			if err := flush(); err != nil {
				return n, "", err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, "", err
	}
	if err := flush(); err != nil {
		return n, "", err
	}
	return n, sum.String(), nil
}

// insert writes rows with multi-row INSERTs (SQLite's limit on bound
// values allows about 32766 a statement).
func insert(ctx context.Context, tx *sql.Tx, dst *sqlstore.DB, table string, cols []string, rows [][]any) error {
	per := max(1, 30000/len(cols))
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for c := range slices.Chunk(rows, per) {
		args := make([]any, 0, len(c)*len(cols))
		for _, r := range c {
			args = append(args, r...)
		}
		q := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES ` + strings.TrimSuffix(strings.Repeat(one+", ", len(c)), ", ")
		if _, err := tx.ExecContext(ctx, dst.Rebind(q), args...); err != nil {
			return err
		}
	}
	return nil
}

// Sum returns the count of a table's rows and their checksum: the sum,
// lane by lane, of the SHA-256 of each row's values, so that it does not
// depend on the order the database returns them in.
func Sum(ctx context.Context, db *sqlstore.DB, table string) (int64, string, error) {
	rows, err := db.SQL().QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, "", err
	}
	var s summer
	var n int64
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, "", err
		}
		s.add(vals)
		n++
	}
	return n, s.String(), rows.Err()
}

// summer adds up row digests in four 64-bit lanes.
type summer [4]uint64

func (s *summer) add(vals []any) {
	h := sha256.New()
	for _, v := range vals {
		var b []byte
		switch v := v.(type) {
		case nil:
			b = []byte{0}
		case int64:
			b = strconv.AppendInt([]byte{1}, v, 10)
		case float64:
			if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
				b = strconv.AppendInt([]byte{1}, int64(v), 10)
			} else {
				b = strconv.AppendFloat([]byte{2}, v, 'g', -1, 64)
			}
		case string:
			b = append([]byte{3}, v...)
		case []byte:
			b = append([]byte{3}, v...)
		default:
			b = fmt.Appendf([]byte{4}, "%v", v)
		}
		var l [8]byte
		binary.BigEndian.PutUint64(l[:], uint64(len(b)))
		h.Write(l[:])
		h.Write(b)
	}
	d := h.Sum(nil)
	for i := range s {
		s[i] += binary.BigEndian.Uint64(d[i*8:])
	}
}

func (s *summer) String() string {
	return fmt.Sprintf("%016x%016x%016x%016x", s[0], s[1], s[2], s[3])
}

// version returns the goose schema version of db.
func version(ctx context.Context, db *sqlstore.DB) (int64, error) {
	var v int64
	err := db.SQL().QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v)
	return v, err
}

// Tables lists the tables of db that hold ctem's data (not the
// migrations' bookkeeping), sorted by name.
func Tables(ctx context.Context, db *sqlstore.DB) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if db.Dialect().Name == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	rows, err := db.SQL().QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		if n != "goose_db_version" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, rows.Err()
}
