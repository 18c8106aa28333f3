package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/open"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
	"github.com/ctem-dev/ctem/internal/synth"
)

// BenchmarkListingLatency measures the latency of API listing pages (100
// findings or exposures, the first page and one after a cursor, with
// several filters and each sort order) on the PostgreSQL database of
// CTEM_BENCH_DB, and reports each case's p50, p99 and maximum over
// CTEM_BENCH_SAMPLES requests (default 100) as well as the worst p99.
//
// With CTEM_BENCH_FILL=N (PostgreSQL only) an empty database is first
// filled to N×100,000 findings (N=100 for the 10M): one synthetic
// Trivy report of 100,000 findings is ingested as ctem ingests it, and
// its rows (scan, findings, their vulnerability ids, exposures) are
// copied N-1 times on the server (INSERT ... SELECT over generate_series)
// as other images, with ids made the way ingest makes them (a finding's
// id begins with its exposure's), a fifth of the copies fixed, the
// secondary indexes built once after, then ANALYZE.
func BenchmarkListingLatency(b *testing.B) {
	ctx := context.Background()
	dsn := os.Getenv("CTEM_BENCH_DB")
	if !open.IsPostgres(dsn) {
		b.Fatal("BenchmarkListingLatency needs CTEM_BENCH_DB set to a postgres:// URL")
	}
	st, err := open.Open(ctx, dsn, open.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if n, _ := strconv.Atoi(os.Getenv("CTEM_BENCH_FILL")); n > 0 {
		fillCopies(b, st, n)
	}
	c, err := st.Counts(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d findings, %d exposures", c.Findings, c.Exposures)
	samples := 100
	if n, _ := strconv.Atoi(os.Getenv("CTEM_BENCH_SAMPLES")); n > 0 {
		samples = n
	}
	some := collect(b, st.Findings(ctx, store.Filter{Sort: store.SortID, Limit: 1}))[0]
	filters := []struct {
		name string
		f    store.Filter
	}{
		{"none", store.Filter{}},
		{"severity", store.Filter{Severities: []model.Severity{model.SeverityCritical}}},
		{"tool", store.Filter{Tools: []string{"trivy"}}},
		{"asset", store.Filter{Assets: []string{some.Asset}}},
		{"asset-prefix", store.Filter{Assets: []string{"image:*"}}},
		{"status-open", store.Filter{Statuses: []model.Status{model.StatusOpen}}},
		{"status-fixed", store.Filter{Statuses: []model.Status{model.StatusFixed}}},
		{"cve", store.Filter{VulnIDs: []string{some.VulnIDs[0]}}},
		{"combined", store.Filter{Tools: []string{"trivy"}, Severities: []model.Severity{model.SeverityHigh}, Statuses: []model.Status{model.StatusOpen}}},
	}
	worst, worstName := time.Duration(0), ""
	var all []time.Duration
	for b.Loop() {
		for _, s := range store.Sorts {
			for _, fc := range filters {
				for _, deep := range []bool{false, true} {
					for _, what := range []string{"findings", "exposures"} {
						f := fc.f
						f.Sort, f.Limit = s, 100
						list := func(f store.Filter) int {
							if what == "findings" {
								return len(collect(b, st.Findings(ctx, f)))
							}
							return len(collect(b, st.Exposures(ctx, f)))
						}
						if deep {
							// The cursor of the 1,000th record.
							g := f
							g.Limit = 1000
							if what == "findings" {
								fs := collect(b, st.Findings(ctx, g))
								if len(fs) == 0 {
									continue
								}
								f.After = store.Cursor(fs[len(fs)-1])
							} else {
								xs := collect(b, st.Exposures(ctx, g))
								if len(xs) == 0 {
									continue
								}
								f.After = store.Cursor(xs[len(xs)-1])
							}
						}
						d := make([]time.Duration, samples)
						for i := range d {
							t := time.Now()
							list(f)
							d[i] = time.Since(t)
						}
						all = append(all, d...)
						slices.Sort(d)
						p99 := d[(len(d)*99+99)/100-1]
						name := fmt.Sprintf("%s sort=%s filter=%s deep=%v", what, s, fc.name, deep)
						// Printed as each case ends: a slow case shows before
						// the whole run does.
						fmt.Fprintf(os.Stderr, "%-55s p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms\n", name, ms(d[len(d)/2]), ms(p99), ms(d[len(d)-1]))
						if p99 > worst {
							worst, worstName = p99, name
						}
					}
				}
			}
		}
	}
	slices.Sort(all)
	b.Logf("worst p99 %.1f ms (%s); p99 of all %d requests %.1f ms", ms(worst), worstName, len(all), ms(all[(len(all)*99+99)/100-1]))
	b.ReportMetric(ms(worst), "worst-p99-ms")
	b.ReportMetric(ms(all[(len(all)*99+99)/100-1]), "p99-ms")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// fillCopies fills an empty store to n copies of a 100,000-finding
// ingest (see BenchmarkListingLatency); a store that holds findings is
// left as it is.
func fillCopies(b *testing.B, st *sqlstore.DB, n int) {
	b.Helper()
	ctx := context.Background()
	c, err := st.Counts(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if c.Findings > 0 {
		b.Logf("the database holds %d findings already; not filled", c.Findings)
		return
	}
	start := time.Now()
	p := writeTrivy(b, b.TempDir(), "fill.json", synth.Trivy{Image: "registry.example.com/shop/app:1.0", Results: 10, Findings: 100_000, Seed: 7})
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, p); err != nil {
		b.Fatal(err)
	}
	b.Logf("ingested 100,000 findings in %v", time.Since(start))
	// One connection: the session's settings hold for every statement.
	db, err := st.SQL().Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) {
		t := time.Now()
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
		b.Logf("%v: %.80s", time.Since(t).Round(time.Millisecond), strings.Join(strings.Fields(q), " "))
	}
	// The secondary indexes of the copied tables, built again after.
	rows, err := db.QueryContext(ctx, `SELECT indexname, indexdef FROM pg_indexes
WHERE tablename IN ('findings', 'exposures', 'finding_vulns') AND indexname NOT LIKE '%_pkey'`)
	if err != nil {
		b.Fatal(err)
	}
	var defs [][2]string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			b.Fatal(err)
		}
		defs = append(defs, [2]string{name, def})
	}
	rows.Close()
	for _, d := range defs {
		exec(`DROP INDEX ` + d[0])
	}
	copies := fmt.Sprintf(`generate_series(1, %d) k`, n-1)
	// Copy k is image app<k>: its own scan, assets, exposures and
	// findings; a fifth of the copies are fixed.
	exec(`INSERT INTO scans (id, seq, tool, tool_version, format, parser_version, target, asset, input, digest, started_at, findings, new, fixed, reopened)
SELECT substr(md5(s.id || ':' || k), 1, 16), s.seq + k, s.tool, s.tool_version, s.format, s.parser_version, replace(s.target, 'app:', 'app' || k || ':'),
  replace(s.asset, 'app:', 'app' || k || ':'), s.input, s.digest, s.started_at + k, s.findings, s.new, s.fixed, s.reopened
FROM scans s, ` + copies)
	exec(`INSERT INTO assets (key, kind, name, labels, environment, owner, criticality, source, first_seen, last_seen)
SELECT replace(a.key, 'app:', 'app' || k || ':'), a.kind, replace(a.name, 'app:', 'app' || k || ':'), a.labels, a.environment, a.owner, a.criticality, a.source, a.first_seen + k, a.last_seen + k
FROM assets a, ` + copies + ` WHERE a.key LIKE '%app:%' ON CONFLICT (key) DO NOTHING`)
	fixed := func(col string) string { return `CASE WHEN k % 5 = 4 THEN 'fixed' ELSE ` + col + ` END` }
	exec(`INSERT INTO exposures (id, kind, rule_id, vuln_id, vuln_ids, cwes, sev, title, asset, pkg_name, pkg_version, pkg_fixed, pkg_purl, path, line, url, component, status, first_seen, last_seen, fixed_at)
SELECT substr(md5(x.id || ':' || k), 1, 16), x.kind, x.rule_id, x.vuln_id, x.vuln_ids, x.cwes, x.sev, x.title, replace(x.asset, 'app:', 'app' || k || ':'),
  x.pkg_name, x.pkg_version, x.pkg_fixed, x.pkg_purl, x.path, x.line, x.url, x.component, ` + fixed("x.status") + `, x.first_seen + k, x.last_seen + k,
  CASE WHEN k % 5 = 4 THEN x.last_seen + k ELSE 0 END
FROM exposures x, ` + copies)
	exec(`INSERT INTO findings (id, tool, target, kind, rule_id, vuln_ids, cwes, sev, title, asset, pkg_name, pkg_version, pkg_fixed, pkg_purl, path, line, url, component,
  status, reported_status, fingerprint, secret_hash, exposure_id, extra, scan_id, first_seen, last_seen, fixed_at, vuln_id)
SELECT substr(md5(f.exposure_id || ':' || k), 1, 8) || substr(md5(f.id || ':' || k), 1, 8), f.tool, replace(f.target, 'app:', 'app' || k || ':'), f.kind, f.rule_id, f.vuln_ids, f.cwes, f.sev, f.title,
  replace(f.asset, 'app:', 'app' || k || ':'), f.pkg_name, f.pkg_version, f.pkg_fixed, f.pkg_purl, f.path, f.line, f.url, f.component,
  ` + fixed("f.status") + `, f.reported_status, f.fingerprint, f.secret_hash, substr(md5(f.exposure_id || ':' || k), 1, 16), f.extra,
  substr(md5(f.scan_id || ':' || k), 1, 16), f.first_seen + k, f.last_seen + k, CASE WHEN k % 5 = 4 THEN f.last_seen + k ELSE 0 END, f.vuln_id
FROM findings f, ` + copies)
	exec(`INSERT INTO finding_vulns (finding_id, vuln_id)
SELECT substr(md5(f.exposure_id || ':' || k), 1, 8) || substr(md5(f.id || ':' || k), 1, 8), v.vuln_id
FROM finding_vulns v JOIN findings f ON f.id = v.finding_id, ` + copies + ` WHERE f.scan_id IN (SELECT id FROM scans WHERE seq = 1)`)
	exec(`SET maintenance_work_mem = '512MB'`)
	for _, d := range defs {
		exec(d[1])
	}
	exec(`ANALYZE`)
	b.Logf("filled to %d copies in %v", n, time.Since(start))
}
