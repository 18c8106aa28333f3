package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
)

// exposureReadCols are the exposure and finding columns an analysis reads.
const exposureReadCols = `e.id, e.kind, e.rule_id, e.vuln_ids, e.cwes, e.sev, e.title, e.asset,
  e.pkg_name, e.pkg_version, e.pkg_fixed, e.pkg_purl, e.path, e.line, e.url, e.component, e.status, e.first_seen, e.last_seen, e.fixed_at,
  f.id, f.tool, f.vuln_ids, f.cwes, f.status, f.extra, f.scan_id`

// maxCVSSCache bounds the decoded CVSS lists AnalysisExposures keeps by
// their packed text: many findings share a vector list (one CVE on many
// images), and decoding JSON per finding was most of the read.
const maxCVSSCache = 1 << 14

// AnalysisExposures streams the open and accepted exposures on the asset keys assets
// (exact keys, or prefixes "x*"; every open exposure when assets is
// empty) whose ids are from from (inclusive) to to (exclusive; "" is no
// bound), in id order, each as Exposures gives it without History: its
// finding ids and tools (in tool and id order), the union of its
// findings' vulnerability ids and CWEs, the CVSS vectors of its findings
// that are not fixed, and when it was last seen. It is one query that
// joins each exposure with its findings along the primary key, instead of
// Exposures' query per 500 exposures, and it scans the finding columns
// without copying what it does not keep.
func (s *DB) AnalysisExposures(ctx context.Context, assets []string, from, to string) iter.Seq2[model.Exposure, error] {
	var w where
	// Accepted risk is still a step an attacker can take: it stays on its
	// paths and leaves only the priority list (see analyze.Build).
	w.in("e.status", []string{string(model.StatusOpen), string(model.StatusAccepted)})
	exact := exactKeys(assets)
	from0 := `exposures e`
	var args []any
	if exact != nil {
		// The exposures of a few components (a re-analysis): each key
		// searched in the asset index. Written as a filter, the planner
		// walked every exposure in id order, or every open one by the
		// status index, to keep those on the keys.
		from0 = `a JOIN exposures e ON e.asset = a.k`
		for _, k := range exact {
			args = append(args, k)
		}
	} else {
		w.keys("e.asset", assets)
	}
	if from != "" {
		w.add("e.id >= ?", from)
	}
	if to != "" {
		w.add("e.id < ?", to)
	}
	q := `SELECT ` + exposureReadCols + ` FROM ` + from0 + ` LEFT JOIN findings f ON ` + ofExposure("f", "e.id") + w.sql()
	if exact != nil {
		q = `WITH a (k) AS (VALUES ` + strings.TrimSuffix(strings.Repeat("(?), ", len(exact)), ", ") + `) ` + q
		seq := s.analysisExposures(ctx, s.rebind(q), append(args, w.args...))
		return func(yield func(model.Exposure, error) bool) {
			var xs []model.Exposure
			for x, err := range seq {
				if err != nil {
					yield(x, err)
					return
				}
				xs = append(xs, x)
			}
			slices.SortFunc(xs, func(a, b model.Exposure) int { return strings.Compare(a.ID, b.ID) })
			for _, x := range xs {
				if !yield(x, nil) {
					return
				}
			}
		}
	}
	// An exposure's findings come in id order: SQLite's range over the
	// findings' primary key gives them so; PostgreSQL's join gives them in
	// any order unless asked, and their order decides the order of the
	// merged CWEs and CVSS vectors.
	order := ` ORDER BY e.id`
	if s.d.Name == "postgres" {
		order += `, f.id`
	}
	return s.analysisExposures(ctx, s.rebind(q+order), w.args)
}

// exactKeys returns the distinct keys of assets, sorted, when there are
// some and none is a prefix ("x*"); else nil.
func exactKeys(assets []string) []string {
	if len(assets) == 0 {
		return nil
	}
	for _, a := range assets {
		if strings.HasSuffix(a, "*") {
			return nil
		}
	}
	out := slices.Clone(assets)
	slices.Sort(out)
	return slices.Compact(out)
}

// analysisExposures runs AnalysisExposures' query q: each exposure's rows
// (one per finding) come together.
func (s *DB) analysisExposures(ctx context.Context, q string, args []any) iter.Seq2[model.Exposure, error] {
	return func(yield func(model.Exposure, error) bool) {
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			yield(model.Exposure{}, fmt.Errorf("read exposures: %w", err))
			return
		}
		defer rows.Close()
		ls := newLastSeen(s)
		cvssOf := map[string][]model.CVSS{}
		type frow struct{ tool, id string }
		var (
			cur   model.Exposure
			have  bool
			fs    []frow
			fvuln []string
		)
		// done finishes cur: its findings in the order Exposures gives
		// them (tool, then id).
		done := func() model.Exposure {
			slices.SortFunc(fs, func(a, b frow) int {
				if c := strings.Compare(a.tool, b.tool); c != 0 {
					return c
				}
				return strings.Compare(a.id, b.id)
			})
			for _, f := range fs {
				cur.FindingIDs = append(cur.FindingIDs, f.id)
				if !slices.Contains(cur.Tools, f.tool) {
					cur.Tools = append(cur.Tools, f.tool)
				}
			}
			cur.VulnIDs = model.SortVulnIDs(append(cur.VulnIDs, fvuln...))
			x := cur
			fs, fvuln = fs[:0], fvuln[:0]
			return x
		}
		var (
			id, kind, rule, vulns, cwes, title, asset, pn, pv, pf, pp, path, url, comp, status string
			sev, line                                                                          int
			first, last, fixed                                                                 int64
			fid, ftool, fstatus                                                                sql.NullString
			fvulns, fcwes, fextra, fscan                                                       sql.RawBytes
		)
		for rows.Next() {
			if err := rows.Scan(&id, &kind, &rule, &vulns, &cwes, &sev, &title, &asset, &pn, &pv, &pf, &pp, &path, &line, &url, &comp, &status,
				&first, &last, &fixed, &fid, &ftool, &fvulns, &fcwes, &fstatus, &fextra, &fscan); err != nil {
				yield(model.Exposure{}, fmt.Errorf("read exposure: %w", err))
				return
			}
			if !have || id != cur.ID {
				if have && !yield(done(), nil) {
					return
				}
				have = true
				cur = model.Exposure{ID: id, Kind: model.FindingKind(kind), RuleID: rule, Title: title, Asset: asset,
					Package:  model.Package{Name: pn, Version: pv, FixedVersion: pf, PURL: pp},
					Location: model.Location{Path: path, Line: line, URL: url, Component: comp},
					Status:   model.Status(status), Severity: model.SeverityFromRank(sev),
					VulnIDs: splitList(vulns), CWEs: splitList(cwes),
					FirstSeen: fromMicros(first), LastSeen: fromMicros(last), FixedAt: fromMicros(fixed),
					FindingIDs: []string{}, Tools: []string{}}
			}
			if !fid.Valid {
				continue // an exposure with no finding
			}
			if fstatus.String != string(model.StatusFixed) {
				if len(fscan) > 0 {
					t, ok := ls.m[string(fscan)]
					if !ok {
						t, err = ls.of(ctx, string(fscan))
					}
					if err != nil {
						yield(model.Exposure{}, err)
						return
					}
					if t.After(cur.LastSeen) {
						cur.LastSeen = t
					}
				}
				if cs := s.cvssOf(cvssOf, fextra); len(cs) > 0 {
					for _, c := range cs {
						if !slices.Contains(cur.CVSS, c) {
							cur.CVSS = append(cur.CVSS, c)
						}
					}
				}
			}
			fs = append(fs, frow{tool: ftool.String, id: fid.String})
			fvuln = append(fvuln, splitList(string(fvulns))...)
			if len(fcwes) > 2 {
				for _, c := range splitList(string(fcwes)) {
					if !slices.Contains(cur.CWEs, c) {
						cur.CWEs = append(cur.CWEs, c)
					}
				}
			}
		}
		if err := rows.Err(); err != nil {
			yield(model.Exposure{}, fmt.Errorf("read exposures: %w", err))
			return
		}
		if have {
			yield(done(), nil)
		}
	}
}

// cvssOf returns the CVSS vectors packed in a finding's extra column,
// decoded once per distinct packed text (up to maxCVSSCache of them).
func (s *DB) cvssOf(cache map[string][]model.CVSS, extra []byte) []model.CVSS {
	if len(extra) == 0 {
		return nil
	}
	raw := packedField(extra, 1)
	if len(raw) == 0 {
		return nil
	}
	if cs, ok := cache[string(raw)]; ok {
		return cs
	}
	var cs []model.CVSS
	if json.Unmarshal(raw, &cs) != nil {
		cs = nil
	}
	if len(cache) >= maxCVSSCache {
		clear(cache)
	}
	cache[string(raw)] = cs
	return cs
}

// packedField returns field i (from 0) of a value packed by packExtra
// ("len:value" after one another), nil when it is malformed.
func packedField(b []byte, i int) []byte {
	for {
		c := bytes.IndexByte(b, ':')
		if c <= 0 {
			return nil
		}
		n := 0
		for _, d := range b[:c] {
			if d < '0' || d > '9' || n > len(b) {
				return nil
			}
			n = n*10 + int(d-'0')
		}
		if n > len(b)-c-1 {
			return nil
		}
		if i == 0 {
			return b[c+1 : c+1+n]
		}
		b, i = b[c+1+n:], i-1
	}
}

// evidenceChunk bounds the ids bound to one evidence query.
const evidenceChunk = 500

// EvidenceAbout lists the facts recorded for any of findingIDs, or for
// any of vulnIDs on one of the asset keys assets (see store.EvidenceKeys),
// by kind then source as AllEvidence gives them: every fact that may be
// about exposures with those findings, vulnerability ids and keys (see
// store.EvidenceMatches), so that an analysis of a few components reads
// their evidence only.
func (s *DB) EvidenceAbout(ctx context.Context, findingIDs, vulnIDs, assets []string) iter.Seq2[model.Evidence, error] {
	on := make(map[string]bool, len(assets))
	for _, a := range assets {
		on[a] = true
	}
	var onSQL string
	var onArgs []any
	if len(on) <= evidenceChunk {
		for a := range on {
			onArgs = append(onArgs, a)
		}
		onSQL = ` AND asset IN (` + placeholders(len(onArgs)) + `)`
	}
	return func(yield func(model.Evidence, error) bool) {
		type key struct{ kind, asset, vuln, finding, source string }
		seen := map[key]bool{}
		var out []model.Evidence
		for _, q := range []struct {
			col string
			ids []string
		}{{"finding_id", findingIDs}, {"vuln_id", vulnIDs}} {
			for i := 0; i < len(q.ids); i += evidenceChunk {
				chunk := q.ids[i:min(i+evidenceChunk, len(q.ids))]
				args := make([]any, len(chunk))
				for j, id := range chunk {
					args[j] = id
				}
				sq := `SELECT kind, asset, vuln_id, finding_id, source, detail, at FROM evidence WHERE ` + q.col + ` IN (` + placeholders(len(chunk)) + `)`
				if q.col == "vuln_id" && onSQL != "" {
					sq += onSQL
					args = append(args, onArgs...)
				}
				sq = s.rebind(sq)
				for e, err := range rowsSeq(ctx, s.db, sq, args, scanEvidence) {
					if err != nil {
						yield(e, err)
						return
					}
					k := key{string(e.Kind), e.Asset, e.VulnID, e.FindingID, e.Source}
					if q.col == "vuln_id" && !on[e.Asset] {
						continue
					}
					if !seen[k] {
						seen[k] = true
						out = append(out, e)
					}
				}
			}
		}
		slices.SortFunc(out, func(a, b model.Evidence) int {
			return cmp.Or(strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Source, b.Source),
				strings.Compare(a.Asset, b.Asset), strings.Compare(a.VulnID, b.VulnID), strings.Compare(a.FindingID, b.FindingID))
		})
		for _, e := range out {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// analysisFinding is what an analysis reads of one finding, kept until its
// exposure's findings are all read (see ReadAnalysisExposures).
type analysisFinding struct {
	// The exposure's id as a number (see hex16), or as a string when it
	// is not sixteen lowercase hexadecimal digits.
	xnum        uint64
	xstr        string
	id          string
	vulns, cwes string
	cvss        []model.CVSS // of a finding that is not fixed
}

// ReadAnalysisExposures reads every open and accepted exposure into sink,
// in no particular order, with what an analysis reads of it: each as
// AnalysisExposures gives it but for the severity, the location's line,
// URL and component, the times and the tools, which are left zero, and
// the finding ids, which are in id order. The SQLite driver costs some
// 200 ns per column and row read: at a million exposures each column
// read and not needed was a fifth of a second.
//
// It is two sequential scans, of the exposures and of the findings, run at
// once and joined in memory by exposure id, where AnalysisExposures walks
// the exposures in id order and looks up each one's findings: on a million
// exposures the B-tree descents per row were most of an analysis. Its
// memory is the exposures themselves, a map of their ids, and what is read
// of each finding until the join is done.
func (s *DB) ReadAnalysisExposures(ctx context.Context, sink store.ExposureSink) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM exposures WHERE status IN ('open', 'accepted')`).Scan(&n); err != nil {
		return fmt.Errorf("count exposures: %w", err)
	}
	sink.Grow(n)
	var (
		keys       exposureKeys
		fs         []analysisFinding
		xErr, fErr error
		wg         sync.WaitGroup
	)
	wg.Go(func() { fs, fErr = s.analysisFindings(ctx, n) })
	keys, xErr = s.analysisExposureRows(ctx, sink, n)
	wg.Wait()
	if err := cmp.Or(xErr, fErr); err != nil {
		return err
	}

	// A merge join on the ids as numbers: the exposures and the findings
	// each sorted by exposure id, then walked side by side (a sort of two
	// arrays of a million numbers, where filling and probing a map of a
	// million ids was 1.5 s). Each exposure's findings are merged in
	// finding id order, as AnalysisExposures merges them.
	byID := func(a, b numAt) int { return cmp.Or(cmp.Compare(a.num, b.num), cmp.Compare(a.at, b.at)) }
	slices.SortFunc(keys.nums, byID)
	if o, ok := sink.(store.ExposureOrderer); ok && len(keys.strs) == 0 {
		// Sixteen lowercase hexadecimal digits sort as their numbers.
		order := make([]int32, len(keys.nums))
		for k, x := range keys.nums {
			order[k] = x.at
		}
		o.Order(order)
	}
	fnums := make([]numAt, 0, len(fs))
	var fstrs map[int32][]int32 // by slot, the findings of exposures with other ids
	for k := range fs {
		f := &fs[k]
		if f.xstr == "" {
			fnums = append(fnums, numAt{f.xnum, int32(k)})
			continue
		}
		if i, ok := keys.strs[f.xstr]; ok {
			if fstrs == nil {
				fstrs = map[int32][]int32{}
			}
			fstrs[i] = append(fstrs[i], int32(k))
		}
	}
	slices.SortFunc(fnums, byID)
	// Each exposure's findings are a run of fnums: found by walking the
	// two sorted lists side by side, then merged in the sink's order, in
	// which the exposures lie in memory (in id order, each a random
	// access, the merge took three times as long).
	type run struct{ start, n int32 }
	runs := make([]run, len(keys.nums)+len(keys.strs))
	j := 0
	for _, x := range keys.nums {
		for j < len(fnums) && fnums[j].num < x.num {
			j++ // a finding of an exposure that is not open
		}
		start := j
		for j < len(fnums) && fnums[j].num == x.num {
			j++
		}
		runs[x.at] = run{int32(start), int32(j - start)}
	}
	var mine []analysisFinding
	lists := listCache{}
	for i, r := range runs {
		mine = mine[:0]
		for _, f := range fnums[r.start : r.start+r.n] {
			mine = append(mine, fs[f.at])
		}
		for _, k := range fstrs[int32(i)] {
			mine = append(mine, fs[k])
		}
		if len(mine) > 1 {
			slices.SortFunc(mine, func(a, b analysisFinding) int { return strings.Compare(a.id, b.id) })
		}
		mergeFindings(sink.At(i), mine, lists)
	}
	return nil
}

// numAt is a number and a position: an exposure id as a number (see
// hex16) and the exposure's number in the sink, or a finding's exposure
// id and the finding's position.
type numAt struct {
	num uint64
	at  int32
}

// exposureKeys are the ids of the exposures a bulk read gave the sink,
// each with the exposure's number: as numbers when they are sixteen
// lowercase hexadecimal digits, as the store makes ids, else as strings.
type exposureKeys struct {
	nums []numAt
	strs map[string]int32
}

// add records that the exposure of id is number i.
func (k *exposureKeys) add(id []byte, i int32) {
	if n, ok := model.HexID16(id); ok {
		k.nums = append(k.nums, numAt{n, i})
		return
	}
	if k.strs == nil {
		k.strs = map[string]int32{}
	}
	k.strs[string(id)] = i
}

// scanQuery runs the read q that goes once through a whole table, on a
// connection of its own set for it by the dialect's ScanSQL (see
// Dialect.ScanSQL). done closes the rows and puts the connection back,
// set as it was (ScanEndSQL), or closes it when that fails.
func (s *DB) scanQuery(ctx context.Context, q string, args ...any) (rows *sql.Rows, done func(), err error) {
	if len(s.d.ScanSQL) == 0 {
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, nil, err
		}
		return rows, func() { rows.Close() }, nil
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	// end puts the connection back as the others are, with no caller's
	// context (a read that was cancelled still restores it); one that
	// cannot be restored is closed rather than reused.
	end := func() {
		for _, q := range s.d.ScanEndSQL {
			if _, err := c.ExecContext(context.WithoutCancel(ctx), q); err != nil {
				c.Raw(func(any) error { return driver.ErrBadConn })
				break
			}
		}
		c.Close()
	}
	for _, q := range s.d.ScanSQL {
		if _, err := c.ExecContext(ctx, q); err != nil {
			end()
			return nil, nil, err
		}
	}
	if rows, err = c.QueryContext(ctx, q, args...); err != nil {
		end()
		return nil, nil, err
	}
	return rows, func() { rows.Close(); end() }, nil
}

// exposureFields are the columns of an exposure that a bulk read gets
// as one value, joined by fieldSep (see analysisExposureRows).
var exposureFields = [...]string{"kind", "rule_id", "vuln_ids", "cwes", "asset", "pkg_name", "pkg_version", "pkg_fixed", "pkg_purl", "path"}

// fieldSep separates the fields of a joined value.
const fieldSep = "\x1f"

// analysisExposureRows reads the open and accepted exposures into sink and
// returns the number sink gave each id. The short columns of a row come
// as one value, the fields joined by fieldSep: the driver's cost is per
// column (an allocation, a copy and locks for each), and ten columns in
// one took 1.3 s less CPU at a million exposures. A row whose fields hold
// fieldSep themselves (more fields than columns) is read again by its id
// once the scan is done, column by column.
func (s *DB) analysisExposureRows(ctx context.Context, sink store.ExposureSink, n int) (exposureKeys, error) {
	var joined strings.Builder
	args := make([]any, 0, len(exposureFields)-1)
	for i, c := range exposureFields {
		if i > 0 {
			joined.WriteString(" || ? || ")
			args = append(args, fieldSep)
		}
		joined.WriteString("COALESCE(" + c + ", '')")
	}
	rows, done, err := s.scanQuery(ctx, s.rebind(`SELECT id, title, `+joined.String()+`,
  CASE WHEN status = 'accepted' THEN 1 ELSE 0 END FROM exposures WHERE status IN ('open', 'accepted')`), args...)
	if err != nil {
		return exposureKeys{}, fmt.Errorf("read exposures: %w", err)
	}
	defer func() {
		if done != nil {
			done()
		}
	}()
	keys := exposureKeys{nums: make([]numAt, 0, n)}
	var (
		id, title string
		fields    sql.RawBytes
		accepted  int
		f         [len(exposureFields)][]byte
		again     []int // the sink's numbers of the rows to read again
	)
	// The asset, package and rule of an exposure repeat across a million
	// of them: one string each, not one per exposure.
	in := interner{}
	for rows.Next() {
		if err := rows.Scan(&id, &title, &fields, &accepted); err != nil {
			return exposureKeys{}, fmt.Errorf("read exposure: %w", err)
		}
		// The status as a number: a text column is a string the driver
		// allocates.
		st := model.StatusOpen
		if accepted != 0 {
			st = model.StatusAccepted
		}
		ok := splitFields(fields, f[:])
		x := int32(sink.Add(exposureOf(id, title, st, &f, in)))
		if !ok {
			again = append(again, int(x))
		}
		keys.add([]byte(id), x)
	}
	if err := rows.Err(); err != nil {
		return exposureKeys{}, fmt.Errorf("read exposures: %w", err)
	}
	done()
	done = nil
	for _, i := range again {
		x := sink.At(i)
		q := s.rebind(`SELECT ` + strings.Join(exposureFields[:], ", ") + ` FROM exposures WHERE id = ?`)
		var cols [len(exposureFields)]sql.NullString
		dest := make([]any, len(cols))
		for k := range cols {
			dest[k] = &cols[k]
		}
		err := s.db.QueryRowContext(ctx, q, x.ID).Scan(dest...)
		if errors.Is(err, sql.ErrNoRows) {
			continue // removed since: kept as the scan split it
		}
		if err != nil {
			return exposureKeys{}, fmt.Errorf("read exposure %s: %w", x.ID, err)
		}
		for k := range cols {
			f[k] = []byte(cols[k].String)
		}
		*x = exposureOf(x.ID, x.Title, x.Status, &f, in)
	}
	return keys, nil
}

// splitFields splits a value joined by fieldSep into f, and reports
// whether it had as many fields as f; when it had more, the last field
// keeps the rest.
func splitFields(b []byte, f [][]byte) bool {
	for k := range f {
		if k == len(f)-1 {
			f[k] = b
			return bytes.IndexByte(b, fieldSep[0]) < 0
		}
		i := bytes.IndexByte(b, fieldSep[0])
		if i < 0 {
			f[k] = b
			clear(f[k+1:])
			return false
		}
		f[k], b = b[:i], b[i+1:]
	}
	return true
}

// exposureOf is the exposure of the fields f (in the order of
// exposureFields) as a bulk read keeps it.
func exposureOf(id, title string, st model.Status, f *[len(exposureFields)][]byte, in interner) model.Exposure {
	return model.Exposure{ID: id, Kind: model.FindingKind(in.of(f[0])), RuleID: in.of(f[1]), Title: title, Asset: in.of(f[4]),
		Package:  model.Package{Name: in.of(f[5]), Version: in.of(f[6]), FixedVersion: in.of(f[7]), PURL: in.of(f[8])},
		Location: model.Location{Path: in.of(f[9])}, Status: st,
		VulnIDs: splitList(in.of(f[2])), CWEs: splitList(in.of(f[3])), FindingIDs: []string{}}
}

// interner gives one string for equal byte strings.
type interner map[string]string

// maxInterned bounds an interner's memory.
const maxInterned = 1 << 18

func (in interner) of(b []byte) string {
	if v, ok := in[string(b)]; ok {
		return v
	}
	if len(in) >= maxInterned {
		clear(in)
	}
	v := string(b)
	in[v] = v
	return v
}

// analysisFindings reads what an analysis needs of every finding (about n).
func (s *DB) analysisFindings(ctx context.Context, n int) ([]analysisFinding, error) {
	// The packed fields only of the findings that are not fixed (their
	// CVSS vectors count): a NULL costs the driver no string.
	rows, done, err := s.scanQuery(ctx, `SELECT exposure_id, id, vuln_ids, cwes, CASE WHEN status = 'fixed' THEN NULL ELSE extra END FROM findings`)
	if err != nil {
		return nil, fmt.Errorf("read findings: %w", err)
	}
	defer done()
	out := make([]analysisFinding, 0, n)
	cvssOf := map[string][]model.CVSS{}
	// Findings of one vulnerability on many images share their lists.
	in := interner{}
	var (
		fid                        string
		eid, fvulns, fcwes, fextra sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&eid, &fid, &fvulns, &fcwes, &fextra); err != nil {
			return nil, fmt.Errorf("read finding: %w", err)
		}
		if len(eid) == 0 {
			continue // a finding of no exposure, which no join could give
		}
		f := analysisFinding{id: fid, vulns: in.of(fvulns), cwes: in.of(fcwes)}
		if n, ok := model.HexID16(eid); ok {
			f.xnum = n
		} else {
			f.xstr = string(eid)
		}
		f.cvss = s.cvssOf(cvssOf, fextra)
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read findings: %w", err)
	}
	return out, nil
}

// mergeFindings completes x with its findings fs (in id order), as
// AnalysisExposures does but for the last sighting and the tools (see
// ReadAnalysisExposures). lists splits the findings' lists.
func mergeFindings(x *model.Exposure, fs []analysisFinding, lists listCache) {
	if len(fs) == 0 {
		x.VulnIDs = model.SortVulnIDs(x.VulnIDs)
		return
	}
	var fvuln []string
	for _, f := range fs {
		for _, c := range f.cvss {
			if !slices.Contains(x.CVSS, c) {
				x.CVSS = append(x.CVSS, c)
			}
		}
		fvuln = append(fvuln, lists.split(f.vulns)...)
		if len(f.cwes) > 2 {
			for _, c := range lists.split(f.cwes) {
				if !slices.Contains(x.CWEs, c) {
					x.CWEs = append(x.CWEs, c)
				}
			}
		}
	}
	for _, f := range fs {
		x.FindingIDs = append(x.FindingIDs, f.id)
	}
	x.VulnIDs = model.SortVulnIDs(append(x.VulnIDs, fvuln...))
}

// listCache splits stored lists (see splitList), each once: the lists
// of a million findings are a few thousand. The slices it returns are
// shared: they are read, never changed.
type listCache map[string][]string

func (c listCache) split(s string) []string {
	if v, ok := c[s]; ok {
		return v
	}
	if len(c) >= maxInterned {
		clear(c)
	}
	v := slices.Clip(splitList(s))
	c[s] = v
	return v
}
