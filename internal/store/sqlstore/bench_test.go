package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/synth"
)

// BenchmarkIngestTrivy measures a whole ingest of a synthetic Trivy report
// of 100,000 findings into a fresh SQLite database: parse, fingerprint,
// store, lifecycle. Divide ns/op by 100,000 for the cost of one finding.
func BenchmarkIngestTrivy(b *testing.B) {
	dir := b.TempDir()
	path := writeTrivy(b, dir, "bench.json", synth.Trivy{Image: "shop/api:1", Results: 10, Findings: 100_000})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		st := ingesttest.OpenStore(b)
		b.StartTimer()
		scans, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, path)
		if err != nil || scans[0].Findings != 100_000 {
			b.Fatalf("ingest: %v, %+v", err, scans)
		}
		i++
	}
	_ = filepath.Join
}

// BenchmarkReingestTrivy measures a rescan: the same 100,000 findings
// ingested again into a database that holds them.
func BenchmarkReingestTrivy(b *testing.B) {
	dir := b.TempDir()
	path := writeTrivy(b, dir, "bench.json", synth.Trivy{Image: "shop/api:1", Results: 10, Findings: 100_000})
	st := ingesttest.OpenStore(b)
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, path); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, path); err != nil {
			b.Fatal(err)
		}
	}
}
