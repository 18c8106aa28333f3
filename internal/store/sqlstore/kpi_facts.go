package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"slices"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

var _ store.KPIFacts = (*DB)(nil)

// KPIGroups counts the exposures by asset, triage state, vulnerability
// ids (when asked) and week of first sighting, in one aggregate over the
// exposures table: integer division, CASE and GROUP BY are the same in
// SQLite and PostgreSQL.
func (s *DB) KPIGroups(ctx context.Context, q store.KPIQuery) iter.Seq2[store.KPIGroup, error] {
	vulns := "''"
	if q.Vulns {
		vulns = "vuln_ids"
	}
	triaged := `CASE WHEN status IN ('` + string(model.StatusAccepted) + `', '` + string(model.StatusNotAffected) + `', '` + string(model.StatusFalsePositive) + `') THEN 1 ELSE 0 END`
	bucket := `CASE WHEN first_seen < ? THEN -1 ELSE (first_seen - ?) / ? END`
	group := "asset, " + triaged + ", " + bucket
	if q.Vulns {
		group += ", vuln_ids"
	}
	from, week := micros(q.From), q.Week.Microseconds()
	// The bucket's parameters appear in the SELECT list and again in the
	// GROUP BY (PostgreSQL groups by expressions, not by the ordinals of
	// parameterised ones).
	query := s.rebind(`SELECT asset, ` + triaged + `, ` + vulns + `, ` + bucket + `, COUNT(*) FROM exposures WHERE first_seen <= ? GROUP BY ` + group)
	args := []any{from, from, week, micros(q.Now), from, from, week}
	return rowsSeq(ctx, s.db, query, args, func(rows *sql.Rows) (store.KPIGroup, error) {
		var g store.KPIGroup
		var tri int
		var vs string
		if err := rows.Scan(&g.Asset, &tri, &vs, &g.Bucket, &g.Count); err != nil {
			return g, fmt.Errorf("read kpi groups: %w", err)
		}
		g.Triaged, g.VulnIDs = tri != 0, splitList(vs)
		return g, nil
	})
}

// KPIChanges reads the events that fix a finding or reopen a fixed one
// (finding events, then the status changes people made, each exposure's
// in time order as Exposures gives its History), then the exposures they
// belong to in batches. Memory grows with the exposures that changed,
// not with the whole table.
func (s *DB) KPIChanges(ctx context.Context) iter.Seq2[store.KPIChanged, error] {
	return func(yield func(store.KPIChanged, error) bool) {
		evs := map[string][]model.Event{}
		fixed := string(model.StatusFixed)
		for v, err := range rowsSeq(ctx, s.db, s.rebind(`SELECT f.exposure_id, e.finding_id, e.from_status, e.to_status, e.at, e.scan_id
FROM finding_events e JOIN findings f ON f.id = e.finding_id WHERE e.to_status = ? OR e.from_status = ? ORDER BY e.at, e.finding_id`), []any{fixed, fixed}, scanKPIEvent) {
			if err != nil {
				yield(store.KPIChanged{}, err)
				return
			}
			evs[v.id] = append(evs[v.id], v.ev)
		}
		for v, err := range rowsSeq(ctx, s.db, s.rebind(`SELECT exposure_id, '', from_status, to_status, at, scan_id
FROM status_events WHERE to_status = ? OR from_status = ? ORDER BY seq`), []any{fixed, fixed}, scanKPIEvent) {
			if err != nil {
				yield(store.KPIChanged{}, err)
				return
			}
			evs[v.id] = append(evs[v.id], v.ev)
		}
		ids := make([]string, 0, len(evs))
		for id := range evs {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		const chunk = 500
		for part := range slices.Chunk(ids, chunk) {
			args := make([]any, len(part))
			for i, id := range part {
				args[i] = id
			}
			q := s.rebind(`SELECT x.id, x.asset, x.status, x.sev, x.first_seen, x.vuln_ids, (SELECT COUNT(*) FROM findings f WHERE `+ofExposure("f", "x.id")+`)
FROM exposures x WHERE x.id IN (` + placeholders(len(part)) + `) ORDER BY x.id`)
			for c, err := range rowsSeq(ctx, s.db, q, args, func(rows *sql.Rows) (store.KPIChanged, error) {
				var c store.KPIChanged
				var status, vulns string
				var sev int
				var first int64
				if err := rows.Scan(&c.ID, &c.Asset, &status, &sev, &first, &vulns, &c.Findings); err != nil {
					return c, fmt.Errorf("read kpi changes: %w", err)
				}
				c.Status, c.Severity, c.FirstSeen, c.VulnIDs = model.Status(status), model.SeverityFromRank(sev), fromMicros(first), splitList(vulns)
				return c, nil
			}) {
				if err != nil {
					yield(store.KPIChanged{}, err)
					return
				}
				c.History = evs[c.ID]
				slices.SortStableFunc(c.History, func(a, b model.Event) int { return a.At.Compare(b.At) })
				if !yield(c, nil) {
					return
				}
			}
		}
	}
}

// kpiEvent is one event of KPIChanges with its exposure's id.
type kpiEvent struct {
	id string
	ev model.Event
}

func scanKPIEvent(rows *sql.Rows) (kpiEvent, error) {
	var v kpiEvent
	var from, to string
	var at int64
	if err := rows.Scan(&v.id, &v.ev.FindingID, &from, &to, &at, &v.ev.ScanID); err != nil {
		return v, fmt.Errorf("read kpi events: %w", err)
	}
	v.ev.From, v.ev.To, v.ev.At = model.Status(from), model.Status(to), fromMicros(at)
	return v, nil
}

