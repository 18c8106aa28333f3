package kpi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/grype"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/kpi"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
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
