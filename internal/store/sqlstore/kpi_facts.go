package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

var (
	_ store.KPIFacts    = (*DB)(nil)
	_ store.KPIKEVFacts = (*DB)(nil)
)

const (
	// kpiTriaged is 1 for an exposure triaged out of the open count.
	kpiTriaged = `CASE WHEN status IN ('accepted', 'not_affected', 'false_positive') THEN 1 ELSE 0 END`
	// kpiBucket is the week of first sighting (parameters: from, from,
	// the week in microseconds), -1 before from: integer division and
	// CASE are the same in SQLite and PostgreSQL.
	kpiBucket = `CASE WHEN first_seen < ? THEN -1 ELSE (first_seen - ?) / ? END`
)

// Weeks of the kpi_weeks table (migration 00018): weekEpoch is the
// first Monday after the Unix epoch, in microseconds, weekMicros a week.
const (
	weekEpoch  = 345600000000
	weekMicros = 604800000000
)

// KPIGroups counts the exposures by asset, triage state and week of
// first sighting. When the weeks are kpi_weeks' (seven days from a
// Monday 00:00 UTC) it reads that table, which triggers keep, for the
// weeks before the one holding q.Now, and the exposures of that week
// (an index range of exposures_newest); otherwise it aggregates the
// exposures table.
func (s *DB) KPIGroups(ctx context.Context, q store.KPIQuery) iter.Seq2[store.KPIGroup, error] {
	from, week, now := micros(q.From), q.Week.Microseconds(), micros(q.Now)
	scan := func(rows *sql.Rows) (store.KPIGroup, error) {
		var g store.KPIGroup
		var tri int
		if err := rows.Scan(&g.Asset, &tri, &g.Bucket, &g.Count); err != nil {
			return g, fmt.Errorf("read kpi groups: %w", err)
		}
		g.Triaged = tri != 0
		return g, nil
	}
	if week != weekMicros || (from-weekEpoch)%weekMicros != 0 || from < weekEpoch || now < from {
		// Grouped over a derived table: PostgreSQL takes two parameterised
		// expressions for different ones, so the bucket is named once.
		query := s.rebind(`SELECT asset, tri, b, COUNT(*) FROM (SELECT asset, ` + kpiTriaged + ` AS tri, ` + kpiBucket + ` AS b
FROM exposures WHERE first_seen <= ?) g GROUP BY asset, tri, b`)
		return rowsSeq(ctx, s.db, query, []any{from, from, week, now}, scan)
	}
	fromWeek, nowWeek := (from-weekEpoch)/weekMicros, (now-weekEpoch)/weekMicros
	return func(yield func(store.KPIGroup, error) bool) {
		past := s.rebind(`SELECT asset, tri, b, SUM(n) FROM (SELECT asset, tri, CASE WHEN week < ? THEN -1 ELSE week - ? END AS b, n
FROM kpi_weeks WHERE week < ? AND n <> 0) g GROUP BY asset, tri, b`)
		for g, err := range rowsSeq(ctx, s.db, past, []any{fromWeek, fromWeek, nowWeek}, scan) {
			if !yield(g, err) || err != nil {
				return
			}
		}
		start := weekEpoch + nowWeek*weekMicros
		current := s.rebind(`SELECT asset, tri, ` + fmt.Sprint(nowWeek-fromWeek) + `, COUNT(*) FROM (SELECT COALESCE(asset, '') AS asset, ` + kpiTriaged + ` AS tri
FROM exposures WHERE first_seen >= ? AND first_seen <= ?) g GROUP BY asset, tri`)
		for g, err := range rowsSeq(ctx, s.db, current, []any{start, now}, scan) {
			if !yield(g, err) || err != nil {
				return
			}
		}
	}
}

// KPIVulns lists the untriaged exposures' vulnerability ids and weeks.
func (s *DB) KPIVulns(ctx context.Context, q store.KPIQuery) iter.Seq2[store.KPIGroup, error] {
	from, week := micros(q.From), q.Week.Microseconds()
	query := s.rebind(`SELECT vuln_ids, ` + kpiBucket + ` FROM exposures WHERE first_seen <= ? AND ` + kpiTriaged + ` = 0`)
	return rowsSeq(ctx, s.db, query, []any{from, from, week, micros(q.Now)}, scanKPIVulns)
}

func scanKPIVulns(rows *sql.Rows) (store.KPIGroup, error) {
	g := store.KPIGroup{Count: 1}
	var vs string
	if err := rows.Scan(&vs, &g.Bucket); err != nil {
		return g, fmt.Errorf("read kpi vulnerabilities: %w", err)
	}
	g.VulnIDs = splitList(vs)
	return g, nil
}

// KPIVulnsOn finds the exposures on one of ids through the indexes of
// the findings' vulnerability ids (findings_vuln, finding_vulns_vuln) and
// the exposures' (exposures_vuln), then reads the untriaged ones by id.
func (s *DB) KPIVulnsOn(ctx context.Context, q store.KPIQuery, ids []string) iter.Seq2[store.KPIGroup, error] {
	return func(yield func(store.KPIGroup, error) bool) {
		const chunk = 500
		seen := map[string]bool{}
		var xs []string
		for part := range slices.Chunk(ids, chunk) {
			in := placeholders(len(part))
			args := make([]any, 0, 3*len(part))
			for range 3 {
				for _, id := range part {
					args = append(args, id)
				}
			}
			query := s.rebind(`SELECT exposure_id FROM findings WHERE vuln_id IN (` + in + `)
UNION SELECT f.exposure_id FROM finding_vulns v JOIN findings f ON f.id = v.finding_id WHERE v.vuln_id IN (` + in + `)
UNION SELECT id FROM exposures WHERE vuln_id IN (` + in + `)`)
			for id, err := range rowsSeq(ctx, s.db, query, args, func(rows *sql.Rows) (string, error) {
				var id sql.NullString
				if err := rows.Scan(&id); err != nil {
					return "", fmt.Errorf("read kpi exposures on vulnerabilities: %w", err)
				}
				return id.String, nil
			}) {
				if err != nil {
					yield(store.KPIGroup{}, err)
					return
				}
				if id != "" && !seen[id] {
					seen[id] = true
					xs = append(xs, id)
				}
			}
		}
		slices.Sort(xs)
		from, week := micros(q.From), q.Week.Microseconds()
		for part := range slices.Chunk(xs, chunk) {
			args := []any{from, from, week}
			for _, id := range part {
				args = append(args, id)
			}
			args = append(args, micros(q.Now))
			query := s.rebind(`SELECT vuln_ids, ` + kpiBucket + ` FROM exposures WHERE id IN (` + placeholders(len(part)) + `) AND first_seen <= ? AND ` + kpiTriaged + ` = 0`)
			for g, err := range rowsSeq(ctx, s.db, query, args, scanKPIVulns) {
				if !yield(g, err) || err != nil {
					return
				}
			}
		}
	}
}

// KPIChanges reads the events that fix a finding or reopen a fixed one
// (the finding events, as kpi_fixes keeps them with their exposure, then
// the status changes people made, each exposure's in time order as
// Exposures gives its History), then the exposures they belong to in
// batches. Memory grows with the exposures that changed,
// not with the whole table.
func (s *DB) KPIChanges(ctx context.Context) iter.Seq2[store.KPIChanged, error] {
	return func(yield func(store.KPIChanged, error) bool) {
		evs := map[string][]model.Event{}
		fixed := string(model.StatusFixed)
		for v, err := range rowsSeq(ctx, s.db, `SELECT exposure_id, finding_id, from_status, to_status, at, scan_id FROM kpi_fixes`, nil, scanKPIEvent) {
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
		for id, h := range evs {
			ids = append(ids, id)
			// The finding events came unsorted (a sort of every event
			// in the database costs more than these small ones): in time
			// order, then by finding, as Exposures orders them; the
			// status changes after them in their order (seq).
			n := 0
			for n < len(h) && h[n].FindingID != "" {
				n++
			}
			slices.SortFunc(h[:n], func(a, b model.Event) int {
				if c := a.At.Compare(b.At); c != 0 {
					return c
				}
				return strings.Compare(a.FindingID, b.FindingID)
			})
		}
		slices.Sort(ids)
		const chunk = 500
		for part := range slices.Chunk(ids, chunk) {
			args := make([]any, len(part))
			for i, id := range part {
				args[i] = id
			}
			// The findings of an exposure are counted from the primary
			// key alone when one finding only has the prefix of ids its
			// findings share (ofExposure): that one is the exposure's,
			// which has at least one (RemoveScan deletes an exposure left
			// without). Only when several have it are their rows read to
			// tell the exposure's apart: at a million findings, a third
			// of the CPU time and a tenth of the reads of counting every
			// exposure's from its rows.
			q := s.rebind(`SELECT x.id, x.asset, x.status, x.sev, x.first_seen, x.vuln_ids,
  CASE WHEN (SELECT COUNT(*) FROM findings f WHERE f.id >= substr(x.id, 1, 8) AND f.id < substr(x.id, 1, 8) || 'g') = 1 THEN 1
  ELSE (SELECT COUNT(*) FROM findings f WHERE ` + ofExposure("f", "x.id") + `) END
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
