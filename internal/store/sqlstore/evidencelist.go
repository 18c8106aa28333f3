package sqlstore

import (
	"context"
	"iter"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

var _ store.EvidenceLister = (*DB)(nil)

// EvidencePage lists the facts q selects in the order of the evidence
// table's primary key, after q.After by a row-value comparison on that
// key (one index range on both SQLite and PostgreSQL, whose text columns
// compare byte by byte).
func (s *DB) EvidencePage(ctx context.Context, q store.EvidenceQuery) iter.Seq2[model.Evidence, error] {
	where := []string{"(kind, asset, vuln_id, finding_id, source) > (?, ?, ?, ?, ?)"}
	args := []any{q.After[0], q.After[1], q.After[2], q.After[3], q.After[4]}
	for _, f := range []struct {
		col  string
		vals []string
	}{{"kind", q.Kinds}, {"source", q.Sources}, {"asset", q.Assets}} {
		if len(f.vals) == 0 {
			continue
		}
		where = append(where, f.col+" IN ("+placeholders(len(f.vals))+")")
		for _, v := range f.vals {
			args = append(args, v)
		}
	}
	sql := `SELECT kind, asset, vuln_id, finding_id, source, detail, at FROM evidence WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY kind, asset, vuln_id, finding_id, source`
	if q.Limit > 0 {
		sql += " LIMIT " + strconv.Itoa(q.Limit)
	}
	return rowsSeq(ctx, s.db, s.rebind(sql), args, scanEvidence)
}
