package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

var _ store.KPIHistory = (*DB)(nil)

// stepEvidence is what validatedBy reads of a stored step (package
// graph's Step contract).
type stepEvidence struct {
	Evidence []string `json:"evidence"`
}

// validatedBy returns the column validated_by of a path: its kinds of
// validating evidence, comma-separated, from p.ValidatedBy or else its
// steps; "" for a path not validated.
func validatedBy(p store.StoredPath) string {
	if !p.Validated {
		return ""
	}
	kinds := p.ValidatedBy
	if kinds == nil {
		var ss []stepEvidence
		if json.Unmarshal([]byte(p.Steps), &ss) != nil {
			return ""
		}
		evs := make([][]string, len(ss))
		for i, st := range ss {
			evs[i] = st.Evidence
		}
		kinds = store.ValidatingKinds(evs)
	}
	return strings.Join(kinds, ",")
}

// recordKPIs writes the analysis's KPI snapshot from the paths open
// after it (in tx, so after recordPaths), and raises the exposures'
// priority peaks. It reads the open paths once. nx is the number of
// exposures on an open path when recordPaths knows it, else -1: it is
// then counted here.
func (s *DB) recordKPIs(ctx context.Context, tx *sql.Tx, a store.Analysis, r *store.AnalysisRecord, nx int) error {
	type agg struct{ open, valid, risk float64 }
	var whole agg
	jewels := map[string]*agg{}
	kinds := map[string]float64{}
	// Two aggregates over the open paths (paths_open and paths_jewel
	// index them), not a read of every path's steps: 0.45 s at 10,000
	// open paths when they were decoded.
	rows, err := tx.QueryContext(ctx, `SELECT jewel, COUNT(*), SUM(validated), SUM(risk) FROM paths WHERE status = 'open' GROUP BY jewel`)
	if err != nil {
		return fmt.Errorf("record kpis: %w", err)
	}
	for rows.Next() {
		var jewel string
		var g agg
		if err := rows.Scan(&jewel, &g.open, &g.valid, &g.risk); err != nil {
			rows.Close()
			return fmt.Errorf("record kpis: %w", err)
		}
		jewels[jewel] = &g
		whole.open += g.open
		whole.valid += g.valid
		whole.risk += g.risk
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("record kpis: %w", err)
	}
	rows, err = tx.QueryContext(ctx, `SELECT validated_by, COUNT(*) FROM paths WHERE status = 'open' AND validated <> 0 GROUP BY validated_by`)
	if err != nil {
		return fmt.Errorf("record kpis: %w", err)
	}
	for rows.Next() {
		var by string
		var n float64
		if err := rows.Scan(&by, &n); err != nil {
			rows.Close()
			return fmt.Errorf("record kpis: %w", err)
		}
		for _, k := range strings.Split(by, ",") {
			if k != "" {
				kinds[k] += n
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("record kpis: %w", err)
	}
	if nx < 0 {
		// path_exposures holds the links of open paths only (a path's are
		// deleted when it closes, migration 00022): grouped in the order
		// of its primary key, with no look-up of each link's path, which
		// was 0.6 s of a re-analysis at 200k links (and a second more when
		// a join read each path's row).
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT exposure_id FROM path_exposures GROUP BY exposure_id) g`).Scan(&nx); err != nil {
			return fmt.Errorf("record kpis: %w", err)
		}
	}
	at := micros(a.At)
	var out [][]any
	add := func(dim, key, metric string, v float64) {
		out = append(out, []any{a.ID, at, dim, key, metric, v})
	}
	add(store.KPIWhole, "", store.MetricOpenPaths, whole.open)
	add(store.KPIWhole, "", store.MetricValidatedPaths, whole.valid)
	add(store.KPIWhole, "", store.MetricRisk, whole.risk)
	add(store.KPIWhole, "", store.MetricPathExposures, float64(nx))
	for _, j := range slices.Sorted(maps.Keys(jewels)) {
		g := jewels[j]
		add(store.KPIJewel, j, store.MetricOpenPaths, g.open)
		add(store.KPIJewel, j, store.MetricValidatedPaths, g.valid)
		add(store.KPIJewel, j, store.MetricRisk, g.risk)
	}
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		add(store.KPIEvidence, k, store.MetricValidatedPaths, kinds[k])
	}
	if err := s.insertRows(ctx, tx, `INSERT INTO kpi_snapshots (analysis_id, at, dim, key, metric, value) VALUES `, out, ` ON CONFLICT DO NOTHING`); err != nil {
		return fmt.Errorf("record kpis: %w", err)
	}
	var peaks [][]any
	seen := map[string]bool{}
	for _, p := range r.Priorities {
		if !seen[p.ExposureID] && p.RiskRemoved > 0 {
			seen[p.ExposureID] = true
			peaks = append(peaks, []any{p.ExposureID, p.RiskRemoved, a.ID})
		}
	}
	// CASE, not GREATEST or a two-argument MAX: the same in both
	// databases.
	if err := s.insertRows(ctx, tx, `INSERT INTO priority_peaks (exposure_id, risk_removed, analysis_id) VALUES `, peaks,
		` ON CONFLICT (exposure_id) DO UPDATE SET
  analysis_id = CASE WHEN excluded.risk_removed > priority_peaks.risk_removed THEN excluded.analysis_id ELSE priority_peaks.analysis_id END,
  risk_removed = CASE WHEN excluded.risk_removed > priority_peaks.risk_removed THEN excluded.risk_removed ELSE priority_peaks.risk_removed END`); err != nil {
		return fmt.Errorf("record priority peaks: %w", err)
	}
	return nil
}

// KPISnapshots lists the recorded figures at or after since.
func (s *DB) KPISnapshots(ctx context.Context, since time.Time) iter.Seq2[store.KPIValue, error] {
	q := s.rebind(`SELECT analysis_id, at, dim, key, metric, value FROM kpi_snapshots WHERE at >= ? ORDER BY analysis_id, dim, key, metric`)
	return rowsSeq(ctx, s.db, q, []any{micros(since)}, func(rows *sql.Rows) (store.KPIValue, error) {
		var v store.KPIValue
		var at int64
		if err := rows.Scan(&v.AnalysisID, &at, &v.Dim, &v.Key, &v.Metric, &v.Value); err != nil {
			return v, fmt.Errorf("read kpi snapshot: %w", err)
		}
		v.At = fromMicros(at)
		return v, nil
	})
}

// PriorityPeaks returns each exposure's highest recorded priority.
func (s *DB) PriorityPeaks(ctx context.Context) (map[string]float64, error) {
	out := map[string]float64{}
	for v, err := range rowsSeq(ctx, s.db, `SELECT exposure_id, risk_removed FROM priority_peaks`, nil, func(rows *sql.Rows) (peak, error) {
		var v peak
		err := rows.Scan(&v.id, &v.r)
		return v, err
	}) {
		if err != nil {
			return nil, fmt.Errorf("read priority peaks: %w", err)
		}
		out[v.id] = v.r
	}
	return out, nil
}

// peak is a row of priority_peaks.
type peak struct {
	id string
	r  float64
}
