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
// With CTEM_BENCH_FILL_ONLY set it fills (below) and stops.
//
// With CTEM_BENCH_FILL=N (PostgreSQL only) an empty database is first
// filled to about N×100,000 findings and as many exposures (N=100 for
// the 10M; see fillCopies); the filled database is kept, so
// that measuring again costs no fill. A slow case stops sampling after
// 10 s (at least 3 samples).
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
	if os.Getenv("CTEM_BENCH_FILL_ONLY") != "" {
		return
	}
	samples := 100
	if n, _ := strconv.Atoi(os.Getenv("CTEM_BENCH_SAMPLES")); n > 0 {
		samples = n
	}
	some := collect(b, st.Findings(ctx, store.Filter{Sort: store.SortID, Limit: 1}))[0]
	// A scan of an image copied by the fill (some 100 findings), and
	// the alias a grype finding names.
	scan := collect(b, st.Scans(ctx, store.Filter{Limit: 1}))[0]
	alias := some.VulnIDs[0]
	if gs := collect(b, st.Findings(ctx, store.Filter{Tools: []string{"grype"}, Limit: 1})); len(gs) > 0 && len(gs[0].VulnIDs) > 1 {
		alias = gs[0].VulnIDs[1]
	}
	filters := []struct {
		name string
		f    store.Filter
	}{
		{"none", store.Filter{}},
		{"severity", store.Filter{Severities: []model.Severity{model.SeverityCritical}}},
		{"tool", store.Filter{Tools: []string{"trivy"}}},
		{"tool-snyk", store.Filter{Tools: []string{"snyk"}}},
		{"tool-grype-osv", store.Filter{Tools: []string{"grype", "osv-scanner"}}},
		{"tool-absent", store.Filter{Tools: []string{"no-such-tool"}}},
		{"scan", store.Filter{ScanID: scan.ID}},
		{"alias", store.Filter{VulnIDs: []string{alias}}},
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
						// A slow case stops sampling after 10 s (at least 3
						// samples): its p99 is then its maximum.
						d := make([]time.Duration, 0, samples)
						for caseStart := time.Now(); len(d) < samples && (len(d) < 3 || time.Since(caseStart) < 10*time.Second); {
							t := time.Now()
							list(f)
							d = append(d, time.Since(t))
						}
						all = append(all, d...)
						slices.Sort(d)
						p99 := d[(len(d)*99+99)/100-1]
						name := fmt.Sprintf("%s sort=%s filter=%s deep=%v", what, s, fc.name, deep)
						// Printed as each case ends: a slow case shows before
						// the whole run does.
						fmt.Fprintf(os.Stderr, "%-58s p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms  n %d\n", name, ms(d[len(d)/2]), ms(p99), ms(d[len(d)-1]), len(d))
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

// fillSeed is the size of the ingested report fillCopies copies.
const fillSeed = 100_000

// fillGroups is how many images each copy of the seed is spread over:
// 1,000 images of some 100 findings each, 100,000 at 10M findings.
const fillGroups = 1000

// fillCopies fills an empty store to about n×100,000 findings and as
// many exposures (see BenchmarkListingLatency). One synthetic Trivy
// report of 100,000 findings on one image is ingested as ctem ingests
// it; copy k (1 to n-1) of its rows is made on the server, in one
// transaction of INSERT ... SELECT over generate_series, as 1,000 images
// (its exposures spread by their ids), each with its own asset and its
// own scan, so that the store holds some 100,000 images of 100
// findings. Copies are made the way ingest makes rows: new ids from the
// seed's (a finding's id begins with its exposure's eight first
// digits), every finding's scan present, every exposure's tools in
// exposure_tools. Copies are reported by several tools: a tenth each by
// grype (with a GHSA alias for each CVE, in finding_vulns as ingest
// writes it), osv-scanner and snyk, the rest by trivy; in a tenth of
// the copies grype also reports every other image's vulnerabilities
// again (two findings, one exposure, two tools). A fifth of the images
// are fixed (their findings and exposures). The tables' keys and
// indexes are dropped first and built once after, then the tables are
// vacuumed and analysed. A store holding only the seed (an earlier fill
// that failed while copying) is copied; one holding more is left as it
// is.
func fillCopies(b *testing.B, st *sqlstore.DB, n int) {
	b.Helper()
	ctx := context.Background()
	c, err := st.Counts(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if c.Findings > fillSeed {
		b.Logf("the database holds %d findings already; not filled", c.Findings)
		return
	}
	start := time.Now()
	if c.Findings == 0 {
		p := writeTrivy(b, b.TempDir(), "fill.json", synth.Trivy{Image: "registry.example.com/shop/app:1.0", Results: 10, Findings: fillSeed, Seed: 7})
		if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, p); err != nil {
			b.Fatal(err)
		}
		b.Logf("ingested %d findings in %v", fillSeed, time.Since(start))
	} else if c.Findings != fillSeed {
		b.Fatalf("the database holds %d findings: neither empty nor the %d of the seed", c.Findings, fillSeed)
	}
	if n < 2 {
		return
	}
	// One connection: the transaction and the session's settings hold
	// for every statement.
	db, err := st.SQL().Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) {
		t := time.Now()
		if _, err := db.ExecContext(ctx, q); err != nil {
			_, _ = db.ExecContext(ctx, `ROLLBACK`)
			b.Fatalf("%s: %v", q, err)
		}
		// On stderr as each statement ends (the benchmark's log is cut).
		fmt.Fprintf(os.Stderr, "fill %v: %.100s\n", time.Since(t).Round(time.Millisecond), strings.Join(strings.Fields(q), " "))
	}
	queryPairs := func(q string) [][2]string {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		defer rows.Close()
		var out [][2]string
		for rows.Next() {
			var a, c string
			if err := rows.Scan(&a, &c); err != nil {
				b.Fatal(err)
			}
			out = append(out, [2]string{a, c})
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		return out
	}
	tables := `('findings', 'exposures', 'finding_vulns', 'exposure_tools')`
	exec(`BEGIN`)
	exec(`SET LOCAL maintenance_work_mem = '1GB'`)
	exec(`SET LOCAL work_mem = '256MB'`)
	// The keys and secondary indexes of the copied tables, built again
	// after.
	keys := queryPairs(`SELECT conrelid::regclass::text || ' ADD CONSTRAINT ' || conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE contype = 'p' AND conrelid::regclass::text IN ` + tables)
	indexes := queryPairs(`SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ` + tables + ` AND indexname NOT LIKE '%\_pkey'`)
	for _, ix := range indexes {
		exec(`DROP INDEX ` + ix[0])
	}
	for _, k := range keys {
		table, name, _ := strings.Cut(k[0], " ADD CONSTRAINT ")
		exec(`ALTER TABLE ` + table + ` DROP CONSTRAINT ` + name)
	}
	// The seed's rows, each exposure with its image (group) in a copy.
	exec(`CREATE TEMP TABLE seed_f ON COMMIT DROP AS SELECT f.*, ('x' || substr(f.exposure_id, 1, 5))::bit(20)::int % ` + fmt.Sprint(fillGroups) + ` AS g FROM findings f`)
	exec(`CREATE TEMP TABLE seed_x ON COMMIT DROP AS SELECT x.*, ('x' || substr(x.id, 1, 5))::bit(20)::int % ` + fmt.Sprint(fillGroups) + ` AS g FROM exposures x`)
	exec(fmt.Sprintf(`CREATE TEMP TABLE fill_k ON COMMIT DROP AS SELECT k,
  CASE k %% 10 WHEN 1 THEN 'grype' WHEN 2 THEN 'osv-scanner' WHEN 3 THEN 'snyk' ELSE 'trivy' END AS tool,
  k %% 10 = 5 AS twice FROM generate_series(1, %d) k`, n-1))
	// The images: copy k, group g is image app<k>-<g>, scanned once by
	// the copy's tool and, in the copies reported twice, by grype for
	// the even groups. Each has a seq and a time of its own.
	img := func(col, g string) string {
		return `replace(` + col + `, 'app:', 'app' || k.k || '-' || ` + g + ` || ':')`
	}
	scanID := func(tool, g string) string {
		return `substr(md5('scan:' || ` + tool + ` || ':' || k.k || ':' || ` + g + `), 1, 16)`
	}
	at := func(col, g string) string { return col + ` + k.k * ` + fmt.Sprint(fillGroups) + ` + ` + g }
	exec(`INSERT INTO scans (id, seq, tool, tool_version, format, parser_version, target, asset, input, digest, started_at, findings, new, fixed, reopened)
SELECT ` + scanID("t.tool", "g") + `, s.seq + k.k * ` + fmt.Sprint(2*fillGroups) + ` + g * 2 + t.second, t.tool, s.tool_version, t.tool, s.parser_version,
  ` + img("s.target", "g") + `, ` + img("s.asset", "g") + `, s.input, s.digest, ` + at("s.started_at", "g") + ` + t.second,
  s.findings / ` + fmt.Sprint(fillGroups) + `, s.new / ` + fmt.Sprint(fillGroups) + `, 0, 0
FROM scans s, fill_k k, generate_series(0, ` + fmt.Sprint(fillGroups-1) + `) g,
  LATERAL (SELECT k.tool, 0 AS second UNION ALL SELECT 'grype', 1 WHERE k.twice AND g % 2 = 0) t`)
	exec(`INSERT INTO assets (key, kind, name, labels, environment, owner, criticality, source, first_seen, last_seen)
SELECT ` + img("a.key", "g") + `, a.kind, ` + img("a.name", "g") + `, a.labels, a.environment, a.owner, a.criticality, a.source, ` + at("a.first_seen", "g") + `, ` + at("a.last_seen", "g") + `
FROM assets a, fill_k k, generate_series(0, ` + fmt.Sprint(fillGroups-1) + `) g WHERE a.key LIKE '%app:%'`)
	// A grype or osv-scanner finding names a GHSA alias after the CVE.
	alias := `'GHSA-' || substr(md5(f.vuln_id), 1, 4) || '-' || substr(md5(f.vuln_id), 5, 4) || '-' || substr(md5(f.vuln_id), 9, 4)`
	aliased := `(t.tool IN ('grype', 'osv-scanner') AND f.vuln_id <> '')`
	fixed := `f.g % 5 = 4`
	exec(`INSERT INTO findings (id, tool, target, kind, rule_id, vuln_ids, cwes, sev, title, asset, pkg_name, pkg_version, pkg_fixed, pkg_purl, path, line, url, component,
  status, reported_status, fingerprint, secret_hash, exposure_id, extra, scan_id, first_seen, last_seen, fixed_at, vuln_id)
SELECT substr(md5(f.exposure_id || ':' || k.k), 1, 8) || substr(md5(f.id || ':' || t.tool || ':' || k.k), 1, 8), t.tool, ` + img("f.target", "f.g") + `, f.kind, f.rule_id,
  CASE WHEN ` + aliased + ` THEN ',' || f.vuln_id || ',' || ` + alias + ` || ',' ELSE f.vuln_ids END, f.cwes, f.sev, f.title,
  ` + img("f.asset", "f.g") + `, f.pkg_name, f.pkg_version, f.pkg_fixed, f.pkg_purl, f.path, f.line, f.url, f.component,
  CASE WHEN ` + fixed + ` THEN 'fixed' ELSE f.status END, f.reported_status, f.fingerprint, f.secret_hash, substr(md5(f.exposure_id || ':' || k.k), 1, 16), f.extra,
  ` + scanID("t.tool", "f.g") + `, ` + at("f.first_seen", "f.g") + ` + t.second, ` + at("f.last_seen", "f.g") + ` + t.second,
  CASE WHEN ` + fixed + ` THEN ` + at("f.last_seen", "f.g") + ` + 2 ELSE 0 END, f.vuln_id
FROM seed_f f, fill_k k, LATERAL (SELECT k.tool, 0 AS second UNION ALL SELECT 'grype', 1 WHERE k.twice AND f.g % 2 = 0) t`)
	exec(`INSERT INTO finding_vulns (finding_id, vuln_id)
SELECT substr(md5(f.exposure_id || ':' || k.k), 1, 8) || substr(md5(f.id || ':' || t.tool || ':' || k.k), 1, 8), ` + alias + `
FROM seed_f f, fill_k k, LATERAL (SELECT k.tool UNION ALL SELECT 'grype' WHERE k.twice AND f.g % 2 = 0) t(tool) WHERE ` + aliased)
	exec(`INSERT INTO exposures (id, kind, rule_id, vuln_id, vuln_ids, cwes, sev, title, asset, pkg_name, pkg_version, pkg_fixed, pkg_purl, path, line, url, component, status, first_seen, last_seen, fixed_at)
SELECT substr(md5(f.id || ':' || k.k), 1, 16), f.kind, f.rule_id, f.vuln_id,
  CASE WHEN k.tool IN ('grype', 'osv-scanner') AND f.vuln_id <> '' THEN ',' || f.vuln_id || ',' || ` + alias + ` || ',' ELSE f.vuln_ids END,
  f.cwes, f.sev, f.title, ` + img("f.asset", "f.g") + `,
  f.pkg_name, f.pkg_version, f.pkg_fixed, f.pkg_purl, f.path, f.line, f.url, f.component, CASE WHEN ` + fixed + ` THEN 'fixed' ELSE f.status END,
  ` + at("f.first_seen", "f.g") + `, ` + at("f.last_seen", "f.g") + ` + CASE WHEN k.twice AND f.g % 2 = 0 THEN 1 ELSE 0 END,
  CASE WHEN ` + fixed + ` THEN ` + at("f.last_seen", "f.g") + ` + 2 ELSE 0 END
FROM seed_x f, fill_k k`)
	exec(`INSERT INTO exposure_tools (tool, exposure_id, exposure_first_seen, exposure_sev, exposure_asset, exposure_vuln_id, exposure_rule_id)
SELECT t.tool, substr(md5(x.id || ':' || k.k), 1, 16), ` + at("x.first_seen", "x.g") + `,
  x.sev, ` + img("x.asset", "x.g") + `, x.vuln_id, x.rule_id
FROM seed_x x, fill_k k, LATERAL (SELECT k.tool UNION SELECT 'grype' WHERE k.twice AND x.g % 2 = 0) t(tool)`)
	exec(`SET LOCAL max_parallel_maintenance_workers = 1`)
	for _, k := range keys {
		exec(`ALTER TABLE ` + k[0] + ` ` + k[1])
	}
	for _, ix := range indexes {
		exec(ix[1])
	}
	exec(`COMMIT`)
	for _, t := range []string{"findings", "exposures", "finding_vulns", "exposure_tools", "scans", "assets"} {
		exec(`VACUUM (ANALYZE) ` + t)
	}
	fmt.Fprintf(os.Stderr, "filled to %d copies in %v\n", n, time.Since(start))
	// What the store's invariants ask, checked on the whole store.
	var bad int
	for _, q := range []struct{ what, sql string }{
		{"findings whose scan is missing", `SELECT COUNT(*) FROM findings f WHERE NOT EXISTS (SELECT 1 FROM scans s WHERE s.id = f.scan_id)`},
		{"findings whose exposure is missing", `SELECT COUNT(*) FROM findings f WHERE NOT EXISTS (SELECT 1 FROM exposures x WHERE x.id = f.exposure_id)`},
		{"findings whose id does not begin with their exposure's", `SELECT COUNT(*) FROM findings WHERE substr(id, 1, 8) <> substr(exposure_id, 1, 8)`},
		{"exposures without a finding", `SELECT COUNT(*) FROM exposures x WHERE NOT EXISTS (SELECT 1 FROM findings f WHERE f.exposure_id = x.id)`},
		{"exposure_tools rows that differ from the findings' (tool, exposure) pairs",
			`SELECT COUNT(*) FROM ((SELECT tool, exposure_id FROM exposure_tools EXCEPT SELECT tool, exposure_id FROM findings)
  UNION ALL (SELECT tool, exposure_id FROM findings EXCEPT SELECT tool, exposure_id FROM exposure_tools)) d`},
		{"exposure_tools rows whose first sighting is not their exposure's",
			`SELECT COUNT(*) FROM exposure_tools t JOIN exposures x ON x.id = t.exposure_id WHERE t.exposure_first_seen <> x.first_seen`},
		{"exposure_tools rows whose severity order's keys are not their exposure's (migration 00024)",
			`SELECT COUNT(*) FROM exposure_tools t JOIN exposures x ON x.id = t.exposure_id
  WHERE t.exposure_sev IS DISTINCT FROM x.sev OR t.exposure_asset IS DISTINCT FROM x.asset OR t.exposure_vuln_id IS DISTINCT FROM x.vuln_id OR t.exposure_rule_id IS DISTINCT FROM x.rule_id`},
		{"exposures open without an open finding or fixed with one", `SELECT COUNT(*) FROM exposures x WHERE (x.status = 'fixed') = EXISTS (SELECT 1 FROM findings f WHERE f.exposure_id = x.id AND f.status <> 'fixed')`},
	} {
		t := time.Now()
		var got int
		if err := db.QueryRowContext(ctx, q.sql).Scan(&got); err != nil {
			b.Fatalf("%s: %v", q.what, err)
		}
		fmt.Fprintf(os.Stderr, "check %v: %d %s\n", time.Since(t).Round(time.Millisecond), got, q.what)
		bad += got
	}
	if bad > 0 {
		b.Fatalf("the filled store breaks the store's invariants (see above)")
	}
}
