package kpi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/grype"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/synth"
)

// grypeReport writes a Grype report of n matches made from the real
// report's first match, each on its own CVE id and package, keeping those
// for which keep(i) holds.
func grypeReport(b *testing.B, path string, n int, keep func(int) bool) {
	b.Helper()
	data, err := os.ReadFile("testdata/same_cve_different_paths.json")
	if err != nil {
		b.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		b.Fatal(err)
	}
	tmpl, err := json.Marshal(doc["matches"].([]any)[0])
	if err != nil {
		b.Fatal(err)
	}
	var matches []any
	for i := range n {
		if !keep(i) {
			continue
		}
		var m map[string]any
		json.Unmarshal(tmpl, &m)
		m["vulnerability"].(map[string]any)["id"] = fmt.Sprintf("CVE-2099-%d", 10000+i)
		m["relatedVulnerabilities"] = []any{}
		m["artifact"].(map[string]any)["name"] = fmt.Sprintf("lib%d", i)
		m["artifact"].(map[string]any)["purl"] = fmt.Sprintf("pkg:deb/debian/lib%d@1.0", i)
		matches = append(matches, m)
	}
	doc["matches"] = matches
	out, err := json.Marshal(doc)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCompute measures the KPIs of a database holding 20,000
// exposures with twelve weeks of history: each week a rescan fixes a
// twelfth of what the first scan reported.
func BenchmarkCompute(b *testing.B) {
	const n, weeks = 20000, 12
	ctx := context.Background()
	dir := b.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ctem.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var clock time.Time
	st.Now = func() time.Time { return clock }
	for w := range weeks {
		clock = base.AddDate(0, 0, 7*w+1)
		p := filepath.Join(dir, fmt.Sprintf("week%d.json", w))
		grypeReport(b, p, n, func(i int) bool { return i%weeks >= w })
		if _, err := ingesttest.Ingest(st, grype.Format, ingest.Options{Target: "registry.example.com/big:1"}, p); err != nil {
			b.Fatal(err)
		}
	}
	now := base.AddDate(0, 0, 7*weeks)
	var r *kpi.Report
	for b.Loop() {
		if r, err = kpi.Compute(ctx, st, kpi.Options{Now: now, Since: 13 * kpi.Week}); err != nil {
			b.Fatal(err)
		}
	}
	fixed := 0
	for _, p := range r.Periods {
		fixed += p.Fixed
	}
	if want := n * (weeks - 1) / weeks; fixed < want-weeks || fixed > want+weeks {
		b.Fatalf("Compute() fixed %d, want about %d", fixed, want)
	}
	b.ReportMetric(n, "exposures")
}

// BenchmarkComputeSynth measures the KPIs of a synthetic database: an
// image of $CTEM_KPI_BENCH_FINDINGS Trivy findings (100,000 by default;
// 1000000 for the size), with the embedded KEV catalog, scanned
// in week 0, rescanned in week 3
// with every tenth fixed, and in week 6 with all back (reopened). The
// database is kept at $CTEM_KPI_BENCH_DB when set (made once, reused).
func BenchmarkComputeSynth(b *testing.B) {
	total := 100_000
	if v, err := strconv.Atoi(os.Getenv("CTEM_KPI_BENCH_FINDINGS")); err == nil && v > 0 {
		total = v
	}
	ctx := context.Background()
	dir := b.TempDir()
	path := os.Getenv("CTEM_KPI_BENCH_DB")
	if path == "" {
		path = filepath.Join(dir, "ctem.db")
	}
	_, statErr := os.Stat(path)
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if statErr != nil {
		var clock time.Time
		st.Now = func() time.Time { return clock }
		for i, drop := range []int{0, 10, 0} {
			clock = base.AddDate(0, 0, 7*3*i+1)
			p := filepath.Join(dir, fmt.Sprintf("scan%d.json", i))
			f, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			if err := synth.WriteTrivy(f, synth.Trivy{Image: "registry.example.com/bench/app:1.0", Results: 10, Findings: total, Drop: drop}); err != nil {
				b.Fatal(err)
			}
			f.Close()
			if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, p); err != nil {
				b.Fatal(err)
			}
		}
	}
	now := base.AddDate(0, 0, 7*8)
	// The embedded KEV catalog, as ctem kpi passes it: its CVE ids let
	// the store read only the exposures on them (KPIVulnsOn).
	kevCVEs := catalog.CVEs()
	var r *kpi.Report
	for b.Loop() {
		if r, err = kpi.Compute(ctx, st, kpi.Options{Now: now, Since: 10 * kpi.Week, KEVCVEs: kevCVEs, KEVDue: func(cve string) (time.Time, bool) {
			e, ok := catalog.Lookup(cve)
			return e.DueDate, ok && !e.DueDate.IsZero()
		}}); err != nil {
			b.Fatal(err)
		}
	}
	fixed := 0
	for _, p := range r.Periods {
		fixed += p.Fixed
	}
	if fixed == 0 || r.Open == 0 {
		b.Fatalf("Compute() fixed %d, open %d: want some of each", fixed, r.Open)
	}
	b.ReportMetric(float64(r.Open), "open")
}
