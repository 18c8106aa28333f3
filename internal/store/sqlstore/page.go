package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"strings"
	"unicode/utf8"

	"github.com/ctem-dev/ctem/internal/store"
)

// ord is one column of a listing's order.
type ord struct {
	col  string
	desc bool
}

// order is a listing's ORDER BY; its last column is unique, so the
// order is total and a cursor names one place in it.
type order []ord

func (o order) sql() string {
	parts := make([]string, len(o))
	for i, k := range o {
		parts[i] = k.col
		if k.desc {
			parts[i] += " DESC"
		}
	}
	return " ORDER BY " + strings.Join(parts, ", ")
}

func (o order) cols() string {
	parts := make([]string, len(o))
	for i, k := range o {
		parts[i] = k.col
	}
	return strings.Join(parts, ", ")
}

// after adds the condition that a row comes after the row whose sort key
// is vals, in order o: (k1 < v1) OR (k1 = v1 AND (k2 > v2 OR ...)) with
// < for descending columns. It is written out rather than as a row-value
// comparison, which cannot mix directions. With two columns or more it
// begins with the bound k1 <= v1 (>= ascending), which the disjunction
// implies and which PostgreSQL's planner can start an index range at:
// without it, a page after a cursor walked the order's index from its
// start, through every row before the cursor.
func (w *where) after(o order, vals []any) {
	var b strings.Builder
	var args []any
	if len(o) > 1 {
		op := " >= ?"
		if o[0].desc {
			op = " <= ?"
		}
		b.WriteString(o[0].col + op + " AND ")
		args = append(args, vals[0])
	}
	for i, k := range o {
		op := " > ?"
		if k.desc {
			op = " < ?"
		}
		b.WriteString("(" + k.col + op)
		args = append(args, vals[i])
		if i < len(o)-1 {
			b.WriteString(" OR (" + k.col + " = ? AND ")
			args = append(args, vals[i])
		}
	}
	for i := range o {
		if i < len(o)-1 {
			b.WriteString("))")
		} else {
			b.WriteString(")")
		}
	}
	w.add(b.String(), args...)
}

// cursorKey reads the sort key, in order o, of the row of table whose
// keyCol the cursor c (of kind) names.
func (s *DB) cursorKey(ctx context.Context, c string, kind byte, table, keyCol string, o order) ([]any, error) {
	id, err := store.ParseCursor(c, kind)
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(o))
	ptrs := make([]any, len(o))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	err = s.queryRow(ctx, s.rebind(`SELECT `+o.cols()+` FROM `+table+` WHERE `+keyCol+` = ?`), id).Scan(ptrs...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("cursor %q names no record of this listing: %w", c, store.ErrInvalid)
	}
	if err != nil {
		return nil, fmt.Errorf("read cursor: %w", err)
	}
	for i, v := range vals {
		if b, ok := v.([]byte); ok {
			vals[i] = string(b)
		}
	}
	return vals, nil
}

// page adds f.After's condition for a listing of table in order o.
func (s *DB) page(ctx context.Context, w *where, f store.Filter, kind byte, table, keyCol string, o order) error {
	if f.After == "" {
		return nil
	}
	vals, err := s.cursorKey(ctx, f.After, kind, table, keyCol, o)
	if err != nil {
		return err
	}
	w.after(o, vals)
	return nil
}

// failed is a listing that yields err.
func failed[T any](err error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		yield(zero, err)
	}
}

// sortOf returns f's sort, ByID read as SortID, and refuses a sort the
// listing does not offer.
func sortOf(f store.Filter, what string, offered ...store.Sort) (store.Sort, error) {
	s := f.Sort
	if s == "" && f.ByID {
		s = store.SortID
	}
	if s == "" {
		return offered[0], nil
	}
	for _, o := range offered {
		if o == s {
			return s, nil
		}
	}
	return "", fmt.Errorf("%s: no sort %q (%v): %w", what, s, offered, store.ErrInvalid)
}

// prefixUpper is a bound above every text that begins with a prefix: the
// prefix followed by the highest code point, whose UTF-8 sorts after any
// other character's in the binary order both databases compare keys in.
func prefixUpper(p string) string { return p + string(utf8.MaxRune) }

// refuse returns an error wrapping store.ErrInvalid when f sets a filter
// the listing what has no meaning for: a filter is never ignored.
func refuse(f store.Filter, what string) error {
	var set []string
	for _, c := range []struct {
		name string
		on   bool
	}{
		{"severity", len(f.Severities) > 0}, {"tool", len(f.Tools) > 0}, {"asset", len(f.Assets) > 0},
		{"status", len(f.Statuses) > 0}, {"vulnerability id", len(f.VulnIDs) > 0}, {"kind", len(f.Kinds) > 0},
		{"scan", f.ScanID != ""}, {"id", len(f.IDs) > 0}, {"since", !f.Since.IsZero()},
	} {
		if c.on {
			set = append(set, c.name)
		}
	}
	return fmt.Errorf("%s cannot be filtered by %s: %w", what, strings.Join(set, ", "), store.ErrInvalid)
}
