package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// A listing page (findings or exposures, any filter, any sort) is read
// one of two ways, chosen by counting first:
//
//   - order first: the rows are walked in the sort's index (the
//     severity indexes, the primary key, the newest indexes of migration
//     00009) and filtered, and the walk stops after a page. Fast when the
//     filters keep many rows, hopeless when they keep few: an absent tool
//     reads every row (16 to 26 s at 1M findings).
//   - filter first: the rows one filter selects are read through that
//     filter's index and sorted. Fast when the filter keeps few rows.
//
// Each filter with an index is probed with a count that stops at
// probeCap (an index range, at most probeCap entries read); the filter
// that keeps the fewest rows, when fewer than probeCap, is read first.
// The other way is forced by writing the columns whose indexes must not
// be used as expressions (col || '' for text, col + 0 for numbers),
// which mean the same in SQLite and PostgreSQL and which neither
// planner searches an index for: SQLite's planner, without statistics,
// cannot tell a tool that holds half the rows from one that holds none.

// defaultProbeCap is the count below which a filter is read first: a
// sort of that many rows takes a few milliseconds, and a filter that
// keeps more keeps one row in 500 or more, so an ordered walk finds a
// page after some 50,000 index entries at worst when the rows it keeps
// are spread over the order.
const defaultProbeCap = 2000

// numericCols are the integer columns a listing filters or sorts on.
var numericCols = map[string]bool{"sev": true, "first_seen": true, "last_seen": true, "line": true}

// hide returns col written so that no index is searched for it.
func hide(col string) string {
	if numericCols[col] {
		return "(" + col + " + 0)"
	}
	return "(" + col + " || '')"
}

// term is one filter condition of a listing, written two ways: plain,
// so that its index is searched, and hidden, so that none is.
type term struct {
	plain, hidden         string
	plainArgs, hiddenArgs []any
	// table, when set, is the table whose index the plain condition
	// (or probe, when set) searches; the probe counts the rows it keeps
	// there.
	table, probe string
	probeArgs    []any
	// leads is the sort whose index begins with this term's column
	// (findings_asset: an asset, then severity order), so that an
	// ordered walk keeps the term plain.
	leads order
	// col is the column the term is on, if one: an ordered walk keeps
	// the term plain when the order begins with it (a severity is a range
	// of the severity order's index, a time one of the newest order's).
	col string
}

// listing is the plan of one page of a listing: its terms and order.
type listing struct {
	terms []term
	o     order
	// first is the index of the term read first, or -1 for the order.
	first int
	// plain is true when every term is written plain, whichever is read
	// first (PostgreSQL): its planner estimates them from statistics,
	// and the hidden forms, which it cannot estimate, made it sort every
	// matching row instead of walking the order's index (3 to 6 s a page
	// of three common filters at 1M findings). The order is still
	// hidden when a rare term is read first, so that it does not walk
	// the order's index looking for rows that are not there.
	plain bool
}

// choose probes the terms and picks the way to read (see above).
func (s *DB) choose(ctx context.Context, l *listing) error {
	l.first = -1
	l.plain = s.d.Name == "postgres"
	limit := s.probeCap
	if limit == 0 {
		limit = defaultProbeCap
	}
	best := limit
	for i, t := range l.terms {
		if t.table == "" {
			continue
		}
		var n int
		cond, args := t.plain, t.plainArgs
		if t.probe != "" {
			cond, args = t.probe, t.probeArgs
		}
		args = append(append([]any{}, args...), limit)
		if err := s.queryRow(ctx, s.rebind(`SELECT COUNT(*) FROM (SELECT 1 FROM `+t.table+` WHERE `+cond+` LIMIT ?) p`), args...).Scan(&n); err != nil {
			return fmt.Errorf("plan listing: %w", err)
		}
		if n < best {
			best, l.first = n, i
		}
	}
	return nil
}

// where returns the listing's WHERE conditions in the chosen way: the
// term read first (or, order first, a term whose index is the order's)
// plain and the others hidden.
func (l *listing) where() *where {
	w := &where{}
	for i, t := range l.terms {
		walk := l.first < 0 && ((t.leads != nil && slices.Equal(t.leads, l.o)) || (t.col != "" && t.col == l.o[0].col))
		if i == l.first || walk || l.plain {
			w.add(t.plain, t.plainArgs...)
		} else {
			w.add(t.hidden, t.hiddenArgs...)
		}
	}
	return w
}

// order returns the listing's order, its columns hidden when a term is
// read first.
func (l *listing) order() order {
	if l.first < 0 {
		return l.o
	}
	o := make(order, len(l.o))
	for i, k := range l.o {
		o[i] = ord{hide(k.col), k.desc}
	}
	return o
}

// inTerm is "col IN (vals)", counted through table's index on col when
// table is set.
func inTerm(table, col string, vals []string) term {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
		// A hidden numeric column is an expression without SQLite's
		// column affinity: it compares equal to numbers only.
		if n, err := strconv.Atoi(v); err == nil && numericCols[col] {
			args[i] = n
		}
	}
	in := " IN (" + placeholders(len(vals)) + ")"
	return term{plain: col + in, hidden: hide(col) + in, plainArgs: args, hiddenArgs: args, table: table, col: col}
}

// keysTerm is a match on a key column, exact or a prefix for "x*" (see
// where.keys), counted through table's index beginning with col.
func keysTerm(table, col string, vals []string) term {
	var p, h where
	p.keys(col, vals)
	h.keys(hide(col), vals)
	return term{plain: p.conds[0], hidden: h.conds[0], plainArgs: p.args, hiddenArgs: h.args, table: table}
}

// filterTerm is the match of the statuses, kinds and (for findings)
// tools asked, any of them empty for any, on table's index (status,
// kind[, tool]) (findings_filter, exposures_filter). Read first, the
// columns before the last one asked take every value present, so that
// the index is searched: a kind or a tool alone costs a search under
// each status (and kind) present. ok is false when nothing is asked.
func (s *DB) filterTerm(ctx context.Context, table string, statuses, kinds, tools []string) (t term, ok bool, err error) {
	if len(statuses)+len(kinds)+len(tools) == 0 {
		return term{}, false, nil
	}
	var h where
	h.in(hide("status"), statuses)
	h.in(hide("kind"), kinds)
	h.in(hide("tool"), tools)
	t.hidden, t.hiddenArgs = "("+strings.Join(h.conds, " AND ")+")", h.args
	ss, ks := statuses, kinds
	if len(ss) == 0 {
		if ss, err = s.present(ctx, table, "status", ""); err != nil {
			return term{}, false, err
		}
	}
	if len(ks) == 0 && len(tools) > 0 {
		seen := map[string]bool{}
		for _, st := range ss {
			vs, err := s.present(ctx, table, "kind", "status = ?", st)
			if err != nil {
				return term{}, false, err
			}
			for _, v := range vs {
				if !seen[v] {
					seen[v] = true
					ks = append(ks, v)
				}
			}
		}
	}
	// A value no row holds keeps the condition well formed and empty.
	if len(ss) == 0 {
		ss = []string{""}
	}
	if len(tools) > 0 && len(ks) == 0 {
		ks = []string{""}
	}
	var p where
	p.in("status", ss)
	p.in("kind", ks)
	p.in("tool", tools)
	t.plain, t.plainArgs = "("+strings.Join(p.conds, " AND ")+")", p.args
	t.table = table
	return t, true, nil
}

// present returns the distinct values of col in table under cond (on
// the columns before col in an index that has col next): a loose walk
// of the index, one search a value, instead of a read of every entry.
func (s *DB) present(ctx context.Context, table, col, cond string, args ...any) ([]string, error) {
	and := ""
	if cond != "" {
		and = " AND " + cond
	}
	var out []string
	q := `SELECT MIN(` + col + `) FROM ` + table + ` WHERE ` + col + ` IS NOT NULL` + and
	qa := args
	for {
		var v sql.NullString
		if err := s.db.QueryRowContext(ctx, s.rebind(q), qa...).Scan(&v); err != nil {
			return nil, fmt.Errorf("plan listing: %w", err)
		}
		if !v.Valid {
			return out, nil
		}
		out = append(out, v.String)
		q = `SELECT MIN(` + col + `) FROM ` + table + ` WHERE ` + col + ` > ?` + and
		qa = append([]any{v.String}, args...)
	}
}
