package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// where builds a WHERE clause from conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// in adds "col IN (?, ...)" for a non-empty list.
func (w *where) in(col string, vals []string) {
	if len(vals) == 0 {
		return
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	w.add(col+" IN ("+placeholders(len(vals))+")", args...)
}

// keys adds a match on a key column: exact, or a prefix for "x*". A
// prefix is a range of the column (not LIKE, whose case folding differs
// between SQLite and PostgreSQL and which SQLite's planner will not use an
// index for).
func (w *where) keys(col string, vals []string) {
	if len(vals) == 0 {
		return
	}
	var ors []string
	var args []any
	for _, v := range vals {
		if p, ok := strings.CutSuffix(v, "*"); ok {
			ors = append(ors, "("+col+" >= ? AND "+col+" < ?)")
			args = append(args, p, prefixUpper(p))
		} else {
			ors = append(ors, col+" = ?")
			args = append(args, v)
		}
	}
	w.add("("+strings.Join(ors, " OR ")+")", args...)
}

// ids adds a match on an id column: exact, or a prefix of four or more.
// Whole ids (idLen characters) are matched with IN, which searches the
// primary key; a LIKE per id would scan the table once per query.
func (w *where) ids(col string, vals []string) {
	var exact, pref []string
	for _, v := range vals {
		if len(v) == idLen {
			exact = append(exact, v)
		} else {
			pref = append(pref, v+"*")
		}
	}
	switch {
	case len(pref) == 0:
		w.in(col, exact)
	case len(exact) == 0:
		w.keys(col, pref)
	default:
		w.keys(col, append(exact, pref...))
	}
}

// idLen is the length of finding, exposure and scan ids.
const idLen = 16

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func sevRanks(ss []model.Severity) []string {
	var out []string
	for _, s := range ss {
		out = append(out, fmt.Sprint(s.Rank()))
	}
	return out
}

func statuses(ss []model.Status) []string {
	var out []string
	for _, s := range ss {
		out = append(out, string(s))
	}
	return out
}

func limit(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" LIMIT %d", n)
}

// rowsSeq runs a query and yields each row scanned by scan.
func rowsSeq[T any](ctx context.Context, db *sql.DB, q string, args []any, scan func(*sql.Rows) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			yield(zero, err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				yield(zero, err)
				return
			}
			if !yield(v, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(zero, err)
		}
	}
}

// Findings lists findings.
func (s *DB) Findings(ctx context.Context, f store.Filter) iter.Seq2[model.Finding, error] {
	sort, err := sortOf(f, "findings", store.Sorts...)
	if err != nil {
		return failed[model.Finding](err)
	}
	o := findingOrders[sort]
	return func(yield func(model.Finding, error) bool) {
		l := listing{o: o}
		if len(f.Severities) > 0 {
			l.terms = append(l.terms, inTerm("findings", "sev", sevRanks(f.Severities)))
		}
		ft, ok, err := s.filterTerm(ctx, "findings", statuses(f.Statuses), f.Kinds, f.Tools)
		if err != nil {
			yield(model.Finding{}, err)
			return
		}
		if ok {
			l.terms = append(l.terms, ft)
		}
		if len(f.Assets) > 0 {
			t := keysTerm("findings", "asset", f.Assets)
			if len(f.Assets) == 1 && !strings.HasSuffix(f.Assets[0], "*") {
				t.leads = findingOrders[store.SortSeverity]
			}
			l.terms = append(l.terms, t)
		}
		if len(f.VulnIDs) > 0 {
			args := make([]any, len(f.VulnIDs))
			for i, id := range f.VulnIDs {
				args[i] = model.NormalizeVulnID(id)
			}
			l.terms = append(l.terms, vulnTerm("", args, s.d.Name == "postgres"))
		}
		if len(f.IDs) > 0 {
			var p, h where
			p.ids("id", f.IDs)
			h.ids(hide("id"), f.IDs)
			l.terms = append(l.terms, term{plain: p.conds[0], hidden: h.conds[0], plainArgs: p.args, hiddenArgs: h.args, table: "findings", col: "id"})
		}
		if !f.Since.IsZero() {
			l.terms = append(l.terms, term{plain: "first_seen >= ?", hidden: hide("first_seen") + " >= ?",
				plainArgs: []any{micros(f.Since)}, hiddenArgs: []any{micros(f.Since)}, table: "findings", col: "first_seen"})
		}
		if f.ScanID != "" {
			cond, args, err := s.scanCond(ctx, "findings", f.ScanID, false)
			if err != nil {
				yield(model.Finding{}, err)
				return
			}
			hcond, _, err := s.scanCond(ctx, "findings", f.ScanID, true)
			if err != nil {
				yield(model.Finding{}, err)
				return
			}
			l.terms = append(l.terms, term{plain: cond, hidden: hcond, plainArgs: args, hiddenArgs: args, table: "findings"})
		}
		if err := s.choose(ctx, &l); err != nil {
			yield(model.Finding{}, err)
			return
		}
		w, lo := l.where(), l.order()
		if err := s.page(ctx, w, f, 'f', "findings", "id", lo); err != nil {
			yield(model.Finding{}, err)
			return
		}
		q, args := `SELECT `+findingCols+` FROM findings`+w.sql()+lo.sql()+limit(f.Limit), w.args
		if tools := slices.Compact(slices.Sorted(slices.Values(f.Tools))); len(tools) > 1 && l.first < 0 && (sort == store.SortNewest || sort == store.SortSeverity) {
			// Several tools, none rare, newest first or by severity: a
			// page of each tool's findings from findings_tool_newest or
			// findings_tool_severity (one range each), and the union,
			// disjoint (a finding has one tool), cut to a page;
			// PostgreSQL sorted every finding of the tools instead (1.8 s
			// at 10M findings for two tools).
			arms := make([]string, len(tools))
			args = nil
			for i, tool := range tools {
				arms[i] = `SELECT * FROM (SELECT ` + findingCols + ` FROM findings` + w.sql() + ` AND tool = ?` + lo.sql() + limit(f.Limit) + `) a` + strconv.Itoa(i)
				args = append(append(args, w.args...), tool)
			}
			q = `SELECT ` + findingCols + ` FROM (` + strings.Join(arms, " UNION ALL ") + `) u` + l.o.sql() + limit(f.Limit)
		}
		ls := newLastSeen(s)
		for x, err := range rowsSeq(ctx, s.db, s.rebind(q), args, scanFinding) {
			if err == nil {
				err = ls.finding(ctx, &x)
			}
			if !yield(x, err) || err != nil {
				return
			}
		}
	}
}

// vulnTerm is the match of findings (columns prefixed by p) that have
// any of ids among their vulnerability ids: the first in their vuln_id
// (findings_vuln), the others in finding_vulns. Its probe is the plain
// condition on findings. With union (PostgreSQL) the two are one list
// of ids: PostgreSQL's planner does not search two indexes for an OR
// whose one side is a subquery, and walked the whole listing index
// instead (16 s for a CVE at 1M findings, 0.3 ms as a union).
func vulnTerm(p string, ids []any, union bool) term {
	in := " IN (" + placeholders(len(ids)) + ")"
	cond := func(vuln, id string) string {
		if union {
			return "(" + id + " IN (SELECT id FROM findings WHERE vuln_id" + in + " UNION ALL SELECT finding_id FROM finding_vulns WHERE vuln_id" + in + "))"
		}
		return "(" + vuln + in + " OR " + id + " IN (SELECT finding_id FROM finding_vulns WHERE vuln_id" + in + "))"
	}
	args := append(append([]any{}, ids...), ids...)
	return term{plain: cond(p+"vuln_id", p+"id"), hidden: cond(hide(p+"vuln_id"), hide(p+"id")),
		plainArgs: args, hiddenArgs: args, table: "findings", probe: cond(p+"vuln_id", p+"id"), probeArgs: args}
}

// findingOrders are the orders of the findings listing by sort.
var findingOrders = map[store.Sort]order{
	store.SortSeverity: {{"sev", true}, {"asset", false}, {"rule_id", false}, {"id", false}},
	store.SortID:       {{"id", false}},
	store.SortNewest:   {{"first_seen", true}, {"id", false}},
}

// exposureOrders are the orders of the exposures listing by sort.
var exposureOrders = map[store.Sort]order{
	store.SortSeverity: {{"sev", true}, {"asset", false}, {"vuln_id", false}, {"rule_id", false}, {"id", false}},
	store.SortID:       {{"id", false}},
	store.SortNewest:   {{"first_seen", true}, {"id", false}},
}

func scanFinding(r *sql.Rows) (model.Finding, error) {
	var f model.Finding
	var kind, vulns, cwes, extra, status, reported, target string
	var sev int
	var first, last, fixed int64
	err := r.Scan(&f.ID, &f.Tool, &target, &kind, &f.RuleID, &vulns, &cwes, &sev, &f.Title,
		&f.Asset, &f.Package.Name, &f.Package.Version, &f.Package.FixedVersion, &f.Package.PURL,
		&f.Location.Path, &f.Location.Line, &f.Location.URL, &f.Location.Component,
		&status, &reported, &f.Fingerprint, &f.SecretHash, &f.ExposureID, &extra, &f.ScanID, &first, &last, &fixed)
	if err != nil {
		return f, fmt.Errorf("read finding: %w", err)
	}
	cvss, err := unpackExtra(extra, &f)
	if err != nil {
		return f, fmt.Errorf("read finding %s: %w", f.ID, err)
	}
	f.Kind, f.Status, f.Severity = model.FindingKind(kind), model.Status(status), model.SeverityFromRank(sev)
	f.VulnIDs, f.CWEs = splitList(vulns), splitList(cwes)
	if cvss != "" {
		_ = json.Unmarshal([]byte(cvss), &f.CVSS)
	}
	f.FirstSeen, f.LastSeen, f.FixedAt = fromMicros(first), fromMicros(last), fromMicros(fixed)
	return f, nil
}

// Exposures lists exposures with their findings' ids, tools and aliases.
func (s *DB) Exposures(ctx context.Context, f store.Filter) iter.Seq2[model.Exposure, error] {
	sort, err := sortOf(f, "exposures", store.Sorts...)
	if err != nil {
		return failed[model.Exposure](err)
	}
	o := exposureOrders[sort]
	return func(yield func(model.Exposure, error) bool) {
		l := listing{o: o}
		toolTerm := -1
		if len(f.Severities) > 0 {
			l.terms = append(l.terms, inTerm("exposures", "sev", sevRanks(f.Severities)))
		}
		xt, ok, err := s.filterTerm(ctx, "exposures", statuses(f.Statuses), f.Kinds, nil)
		if err != nil {
			yield(model.Exposure{}, err)
			return
		}
		if ok {
			l.terms = append(l.terms, xt)
		}
		if len(f.Assets) > 0 {
			l.terms = append(l.terms, keysTerm("exposures", "asset", f.Assets))
		}
		if len(f.Tools) > 0 {
			// The tools of each exposure are rows of exposure_tools
			// (migration 00021), keyed (tool, exposure): read first, a
			// tool's exposures are a range of the key; else each
			// exposure is checked with a lookup per tool asked.
			args := make([]any, len(f.Tools))
			for i, t := range f.Tools {
				args[i] = t
			}
			in := " IN (" + placeholders(len(f.Tools)) + ")"
			toolTerm = len(l.terms)
			l.terms = append(l.terms, term{
				plain:      "id IN (SELECT exposure_id FROM exposure_tools WHERE tool" + in + ")",
				plainArgs:  args,
				hidden:     "EXISTS (SELECT 1 FROM exposure_tools t WHERE t.tool" + in + " AND t.exposure_id = exposures.id)",
				hiddenArgs: args, table: "exposure_tools", probe: "tool" + in, probeArgs: args,
			})
		}
		if len(f.VulnIDs) > 0 {
			args := make([]any, len(f.VulnIDs))
			for i, id := range f.VulnIDs {
				args[i] = model.NormalizeVulnID(id)
			}
			union := s.d.Name == "postgres"
			t := vulnTerm("", args, union)
			in := " IN (SELECT x.exposure_id FROM findings x WHERE " + vulnTerm("x.", args, union).probe + ")"
			t.plain, t.hidden = "id"+in, hide("id")+in
			l.terms = append(l.terms, t)
		}
		if len(f.IDs) > 0 {
			var p, h where
			p.ids("id", f.IDs)
			h.ids(hide("id"), f.IDs)
			l.terms = append(l.terms, term{plain: p.conds[0], hidden: h.conds[0], plainArgs: p.args, hiddenArgs: h.args, table: "exposures", col: "id"})
		}
		if !f.Since.IsZero() {
			l.terms = append(l.terms, term{plain: "first_seen >= ?", hidden: hide("first_seen") + " >= ?",
				plainArgs: []any{micros(f.Since)}, hiddenArgs: []any{micros(f.Since)}, table: "exposures", col: "first_seen"})
		}
		if f.ScanID != "" {
			// Read first, the exposures of the scan's findings
			// (findings_scan); else each exposure's findings are
			// searched.
			cond, args, err := s.scanCond(ctx, "x", f.ScanID, false)
			if err != nil {
				yield(model.Exposure{}, err)
				return
			}
			probe, _, err := s.scanCond(ctx, "findings", f.ScanID, false)
			if err != nil {
				yield(model.Exposure{}, err)
				return
			}
			// Checked for each exposure, the scan is hidden: SQLite's
			// planner would read the scan's findings (findings_scan) for
			// each exposure instead of the exposure's (a key range).
			hcond, _, err := s.scanCond(ctx, "x", f.ScanID, true)
			if err != nil {
				yield(model.Exposure{}, err)
				return
			}
			l.terms = append(l.terms, term{
				plain: "id IN (SELECT x.exposure_id FROM findings x WHERE " + cond + ")", plainArgs: args,
				hidden: "EXISTS (SELECT 1 FROM findings x WHERE " + ofExposure("x", "exposures.id") + " AND " + hcond + ")", hiddenArgs: args,
				table: "findings", probe: probe, probeArgs: args,
			})
		}
		if err := s.choose(ctx, &l); err != nil {
			yield(model.Exposure{}, err)
			return
		}
		var q string
		var args []any
		if toolTerm >= 0 && l.first < 0 && toolOrders[sort] != nil {
			q, args, err = s.byTools(ctx, f, &l, toolTerm, sort)
		} else {
			w, lo := l.where(), l.order()
			err = s.page(ctx, w, f, 'x', "exposures", "id", lo)
			q, args = `SELECT `+exposureCols+` FROM exposures`+w.sql()+lo.sql()+limit(f.Limit), w.args
		}
		if err != nil {
			yield(model.Exposure{}, err)
			return
		}
		rows, err := s.query(ctx, s.rebind(q), args...)
		if err != nil {
			yield(model.Exposure{}, err)
			return
		}
		defer rows.Close()
		// Exposures are read in chunks; each chunk's findings are read
		// with one query.
		const chunk = 500
		batch := make([]model.Exposure, 0, chunk)
		ls := newLastSeen(s) // one scan lookup per listing, not per chunk
		flush := func() bool {
			if err := s.attachFindingsSeen(ctx, batch, f.History, ls); err != nil {
				yield(model.Exposure{}, err)
				return false
			}
			for _, e := range batch {
				if !yield(e, nil) {
					return false
				}
			}
			batch = batch[:0]
			return true
		}
		for rows.Next() {
			e, err := scanExposure(rows)
			if err != nil {
				yield(model.Exposure{}, err)
				return
			}
			batch = append(batch, e)
			if len(batch) == chunk && !flush() {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(model.Exposure{}, err)
			return
		}
		if len(batch) > 0 {
			flush()
		}
	}
}

// toolOrders are the orders of exposure_tools' keys (migration 00021)
// that are the exposures listing's orders, by sort: the newest first
// (exposure_tools_newest), by severity (exposure_tools_severity,
// migration 00024) and by id (its primary key).
var toolOrders = map[store.Sort]order{
	store.SortSeverity: {{"et.exposure_sev", true}, {"et.exposure_asset", false}, {"et.exposure_vuln_id", false}, {"et.exposure_rule_id", false}, {"et.exposure_id", false}},
	store.SortNewest:   {{"et.exposure_first_seen", true}, {"et.exposure_id", false}},
	store.SortID:       {{"et.exposure_id", false}},
}

// byTools returns the query of a page of exposures whose tool filter
// (term ti of l) keeps many rows and no term few, in an order of
// toolOrders: each tool's exposures are walked in that order through
// exposure_tools, joined to their rows and filtered by the other terms,
// a page from each tool, and the union (an exposure of two tools
// counted once) cut to a page. Walking exposures_newest instead reads
// the other tools' exposures too, which need not be spread evenly
// through the order (a tool's scans come when they come).
func (s *DB) byTools(ctx context.Context, f store.Filter, l *listing, ti int, sort store.Sort) (string, []any, error) {
	rest := *l
	rest.terms = slices.Delete(slices.Clone(l.terms), ti, ti+1)
	w := rest.where()
	to := toolOrders[sort]
	if sort == store.SortSeverity && len(f.Severities) > 0 {
		// The severity filter bounds the walk of exposure_tools_severity
		// too: checked only on the joined exposures, a page of a tool's
		// high exposures walked all of its critical ones first (12 s at
		// 10M exposures on PostgreSQL). exposure_sev is the exposure's
		// severity (migration 00024's trigger).
		w.in("et.exposure_sev", sevRanks(f.Severities))
	}
	if f.After != "" {
		vals, err := s.cursorKey(ctx, f.After, 'x', "exposures", "id", l.o)
		if err != nil {
			return "", nil, err
		}
		w.after(to, vals)
	}
	and := ""
	if len(w.conds) > 0 {
		and = " AND " + strings.Join(w.conds, " AND ")
	}
	cols := "exposures." + strings.ReplaceAll(strings.Join(strings.Fields(exposureCols), " "), ", ", ", exposures.")
	tools := slices.Compact(slices.Sorted(slices.Values(f.Tools)))
	arms := make([]string, len(tools))
	var args []any
	for i, tool := range tools {
		arms[i] = `SELECT * FROM (SELECT ` + cols + ` FROM exposure_tools et JOIN exposures ON exposures.id = et.exposure_id
WHERE et.tool = ?` + and + to.sql() + limit(f.Limit) + `) a` + strconv.Itoa(i)
		args = append(append(args, tool), w.args...)
	}
	return `SELECT ` + exposureCols + ` FROM (` + strings.Join(arms, " UNION ") + `) u` + l.o.sql() + limit(f.Limit), args, nil
}

func scanExposure(r *sql.Rows) (model.Exposure, error) {
	var e model.Exposure
	var kind, vulnID, vulns, cwes, status string
	var sev int
	var first, last, fixed int64
	err := r.Scan(&e.ID, &kind, &e.RuleID, &vulnID, &vulns, &cwes, &sev, &e.Title, &e.Asset,
		&e.Package.Name, &e.Package.Version, &e.Package.FixedVersion, &e.Package.PURL,
		&e.Location.Path, &e.Location.Line, &e.Location.URL, &e.Location.Component, &status, &first, &last, &fixed)
	if err != nil {
		return e, fmt.Errorf("read exposure: %w", err)
	}
	e.Kind, e.Status, e.Severity = model.FindingKind(kind), model.Status(status), model.SeverityFromRank(sev)
	e.VulnIDs, e.CWEs = splitList(vulns), splitList(cwes)
	e.FirstSeen, e.LastSeen, e.FixedAt = fromMicros(first), fromMicros(last), fromMicros(fixed)
	e.FindingIDs, e.Tools = []string{}, []string{}
	return e, nil
}

// attachFindings fills FindingIDs, Tools, the union of VulnIDs and CWEs,
// and optionally History, for a batch of exposures.
func (s *DB) attachFindings(ctx context.Context, batch []model.Exposure, history bool) error {
	return s.attachFindingsSeen(ctx, batch, history, newLastSeen(s))
}

// attachFindingsSeen is attachFindings with the last sightings of scans
// looked up through ls, which a listing keeps across its batches.
func (s *DB) attachFindingsSeen(ctx context.Context, batch []model.Exposure, history bool, ls *lastSeen) error {
	if len(batch) == 0 {
		return nil
	}
	idx := make(map[string]int, len(batch))
	args := make([]any, len(batch))
	for i, e := range batch {
		idx[e.ID] = i
		args[i] = e.ID
	}
	ids := `(VALUES ` + strings.TrimSuffix(strings.Repeat("(?), ", len(batch)), ", ") + `) v`
	rows, err := s.query(ctx, s.rebind(`SELECT f.exposure_id, f.id, f.tool, f.vuln_ids, f.cwes, f.status, f.extra, f.scan_id FROM `+ids+` JOIN findings f ON `+ofExposure("f", "v.column1")+` ORDER BY f.tool, f.id`), args...)
	if err != nil {
		return fmt.Errorf("read exposure findings: %w", err)
	}
	defer rows.Close()
	decoded := map[string][]model.CVSS{}
	for rows.Next() {
		var eid, id, tool, vulns, cwes, status, extra, scanID string
		if err := rows.Scan(&eid, &id, &tool, &vulns, &cwes, &status, &extra, &scanID); err != nil {
			return fmt.Errorf("read exposure findings: %w", err)
		}
		e := &batch[idx[eid]]
		if status != string(model.StatusFixed) {
			// An exposure was last seen when its latest open finding was.
			if t, err := ls.of(ctx, scanID); err != nil {
				return err
			} else if t.After(e.LastSeen) {
				e.LastSeen = t
			}
			if cvss := extraCVSS(extra); cvss != "" {
				// Findings of one vulnerability carry the same vectors:
				// each distinct text is decoded once per call.
				cs, ok := decoded[cvss]
				if !ok {
					if json.Unmarshal([]byte(cvss), &cs) != nil {
						cs = nil
					}
					decoded[cvss] = cs
				}
				for _, c := range cs {
					if !slices.Contains(e.CVSS, c) {
						e.CVSS = append(e.CVSS, c)
					}
				}
			}
		}
		e.FindingIDs = append(e.FindingIDs, id)
		if !slices.Contains(e.Tools, tool) {
			e.Tools = append(e.Tools, tool)
		}
		e.VulnIDs = append(e.VulnIDs, splitList(vulns)...)
		for _, c := range splitList(cwes) {
			if !slices.Contains(e.CWEs, c) {
				e.CWEs = append(e.CWEs, c)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range batch {
		batch[i].VulnIDs = model.SortVulnIDs(batch[i].VulnIDs)
	}
	if !history {
		return nil
	}
	hrows, err := s.db.QueryContext(ctx, s.rebind(`SELECT f.exposure_id, e.finding_id, e.from_status, e.to_status, e.at, e.scan_id
FROM `+ids+` JOIN findings f ON `+ofExposure("f", "v.column1")+` JOIN finding_events e ON e.finding_id = f.id
ORDER BY e.at, e.finding_id`), args...)
	if err != nil {
		return fmt.Errorf("read history: %w", err)
	}
	defer hrows.Close()
	for hrows.Next() {
		var eid, from, to string
		var ev model.Event
		var at int64
		if err := hrows.Scan(&eid, &ev.FindingID, &from, &to, &at, &ev.ScanID); err != nil {
			return fmt.Errorf("read history: %w", err)
		}
		ev.From, ev.To, ev.At = model.Status(from), model.Status(to), fromMicros(at)
		e := &batch[idx[eid]]
		e.History = append(e.History, ev)
	}
	if err := hrows.Err(); err != nil {
		return fmt.Errorf("read history: %w", err)
	}
	// People's decisions, and what ingests did to them.
	trows, err := s.db.QueryContext(ctx, s.rebind(`SELECT exposure_id, from_status, to_status, at, scan_id, actor, reason
FROM status_events WHERE exposure_id IN (`+placeholders(len(args))+`) ORDER BY seq`), args...)
	if err != nil {
		return fmt.Errorf("read status changes: %w", err)
	}
	defer trows.Close()
	for trows.Next() {
		var eid, from, to string
		var ev model.Event
		var at int64
		if err := trows.Scan(&eid, &from, &to, &at, &ev.ScanID, &ev.By, &ev.Reason); err != nil {
			return fmt.Errorf("read status changes: %w", err)
		}
		ev.From, ev.To, ev.At = model.Status(from), model.Status(to), fromMicros(at)
		e := &batch[idx[eid]]
		e.History = append(e.History, ev)
	}
	if err := trows.Err(); err != nil {
		return fmt.Errorf("read status changes: %w", err)
	}
	for i := range batch {
		slices.SortStableFunc(batch[i].History, func(a, b model.Event) int { return a.At.Compare(b.At) })
	}
	return nil
}

// Assets lists assets.
func (s *DB) Assets(ctx context.Context, f store.Filter) iter.Seq2[model.Asset, error] {
	var w where
	w.keys("key", f.Assets)
	w.in("kind", f.Kinds)
	if !f.Since.IsZero() {
		w.add("last_seen >= ?", micros(f.Since))
	}
	if len(f.Severities)+len(f.Tools)+len(f.Statuses)+len(f.VulnIDs)+len(f.IDs) > 0 || f.ScanID != "" {
		return failed[model.Asset](refuse(store.Filter{Severities: f.Severities, Tools: f.Tools, Statuses: f.Statuses, VulnIDs: f.VulnIDs, IDs: f.IDs, ScanID: f.ScanID}, "assets"))
	}
	if _, err := sortOf(f, "assets", store.SortID); err != nil {
		return failed[model.Asset](err)
	}
	o := order{{"key", false}}
	return func(yield func(model.Asset, error) bool) {
		if err := s.page(ctx, &w, f, 'a', "assets", "key", o); err != nil {
			yield(model.Asset{}, err)
			return
		}
		q := `SELECT ` + assetCols + ` FROM assets` + w.sql() + o.sql() + limit(f.Limit)
		rowsSeq(ctx, s.db, s.rebind(q), w.args, scanAsset)(yield)
	}
}

const assetCols = `key, kind, name, labels, environment, owner, criticality, source, first_seen, last_seen`

func scanAsset(r *sql.Rows) (model.Asset, error) {
	var a model.Asset
	var kind, labels string
	var first, last int64
	if err := r.Scan(&a.Key, &kind, &a.Name, &labels, &a.Environment, &a.Owner, &a.Criticality, &a.Source, &first, &last); err != nil {
		return a, fmt.Errorf("read asset: %w", err)
	}
	a.Kind = model.AssetKind(kind)
	if labels != "" && labels != "{}" {
		_ = json.Unmarshal([]byte(labels), &a.Labels)
	}
	a.FirstSeen, a.LastSeen = fromMicros(first), fromMicros(last)
	return a, nil
}

// Scans lists scans, newest first.
func (s *DB) Scans(ctx context.Context, f store.Filter) iter.Seq2[model.Scan, error] {
	var w where
	w.in("tool", f.Tools)
	w.keys("asset", f.Assets)
	w.ids("id", f.IDs)
	if !f.Since.IsZero() {
		w.add("started_at >= ?", micros(f.Since))
	}
	if len(f.Severities)+len(f.Statuses)+len(f.VulnIDs)+len(f.Kinds) > 0 || f.ScanID != "" {
		return failed[model.Scan](refuse(store.Filter{Severities: f.Severities, Statuses: f.Statuses, VulnIDs: f.VulnIDs, Kinds: f.Kinds, ScanID: f.ScanID}, "scans"))
	}
	if _, err := sortOf(f, "scans", store.SortNewest); err != nil {
		return failed[model.Scan](err)
	}
	o := order{{"seq", true}, {"id", false}}
	return func(yield func(model.Scan, error) bool) {
		if err := s.page(ctx, &w, f, 's', "scans", "id", o); err != nil {
			yield(model.Scan{}, err)
			return
		}
		q := `SELECT ` + scanCols + ` FROM scans` + w.sql() + o.sql() + limit(f.Limit)
		rowsSeq(ctx, s.db, s.rebind(q), w.args, scanScan)(yield)
	}
}

const scanCols = `id, tool, tool_version, format, parser_version, target, asset, input, digest, started_at, findings, new, fixed, reopened`

func scanScan(r *sql.Rows) (model.Scan, error) {
	var sc model.Scan
	var at int64
	if err := r.Scan(&sc.ID, &sc.Tool, &sc.ToolVersion, &sc.Format, &sc.ParserVersion, &sc.Target, &sc.Asset, &sc.Input, &sc.Digest, &at, &sc.Findings, &sc.New, &sc.Fixed, &sc.Reopened); err != nil {
		return sc, fmt.Errorf("read scan: %w", err)
	}
	sc.StartedAt = fromMicros(at)
	return sc, nil
}

// Relations lists relations touching the filter's asset keys.
func (s *DB) Relations(ctx context.Context, f store.Filter) iter.Seq2[model.Relation, error] {
	var w where
	if len(f.Assets) > 0 {
		var a, b where
		a.keys("from_key", f.Assets)
		b.keys("to_key", f.Assets)
		w.add("("+strings.Join(a.conds, "")+" OR "+strings.Join(b.conds, "")+")", append(a.args, b.args...)...)
	}
	q := `SELECT from_key, to_key, type, action, source FROM relations` + w.sql() + ` ORDER BY from_key, type, to_key, action, source` + limit(f.Limit)
	return rowsSeq(ctx, s.db, s.rebind(q), w.args, func(r *sql.Rows) (model.Relation, error) {
		var rel model.Relation
		var typ string
		if err := r.Scan(&rel.From, &rel.To, &typ, &rel.Action, &rel.Source); err != nil {
			return rel, fmt.Errorf("read relation: %w", err)
		}
		rel.Type = model.RelationType(typ)
		return rel, nil
	})
}

// Evidence lists the evidence about exposure x: the facts recorded for
// its findings or its vulnerability ids are read, and those that match
// by store.EvidenceMatches kept.
func (s *DB) Evidence(ctx context.Context, x model.Exposure) iter.Seq2[model.Evidence, error] {
	var ors []string
	var args []any
	if len(x.FindingIDs) > 0 {
		ors = append(ors, "finding_id IN ("+placeholders(len(x.FindingIDs))+")")
		for _, id := range x.FindingIDs {
			args = append(args, id)
		}
	}
	if len(x.VulnIDs) > 0 {
		ors = append(ors, "vuln_id IN ("+placeholders(len(x.VulnIDs))+")")
		for _, v := range x.VulnIDs {
			args = append(args, v)
		}
	}
	if len(ors) == 0 {
		return func(func(model.Evidence, error) bool) {}
	}
	q := s.rebind(`SELECT kind, asset, vuln_id, finding_id, source, detail, at FROM evidence WHERE ` + strings.Join(ors, " OR ") + ` ORDER BY kind, source`)
	return func(yield func(model.Evidence, error) bool) {
		for e, err := range rowsSeq(ctx, s.db, q, args, scanEvidence) {
			if err != nil {
				yield(e, err)
				return
			}
			if store.EvidenceMatches(e, x) && !yield(e, nil) {
				return
			}
		}
	}
}

// AllEvidence lists every fact.
func (s *DB) AllEvidence(ctx context.Context) iter.Seq2[model.Evidence, error] {
	return rowsSeq(ctx, s.db, `SELECT kind, asset, vuln_id, finding_id, source, detail, at FROM evidence ORDER BY kind, source`, nil, scanEvidence)
}

func scanEvidence(r *sql.Rows) (model.Evidence, error) {
	var e model.Evidence
	var kind string
	var at int64
	if err := r.Scan(&kind, &e.Asset, &e.VulnID, &e.FindingID, &e.Source, &e.Detail, &at); err != nil {
		return e, fmt.Errorf("read evidence: %w", err)
	}
	e.Kind, e.At = model.EvidenceKind(kind), fromMicros(at)
	return e, nil
}
