package sqlstore_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
	"github.com/ctem-dev/ctem/internal/store/storetest"
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

// BenchmarkIngestTwoInstances measures the ingest of two synthetic Trivy
// reports of 100,000 findings each, of different images (so different
// (tool, target)), into a fresh database: "one" ingests them one after
// the other through one store, "two" at once through two stores opened on
// the same database, as two ctem serve instances would. On SQLite the
// single writer serialises them; on PostgreSQL (CTEM_TEST_POSTGRES) they
// run in parallel (Dialect.IngestBeginSQL: a lock per (tool, target)), so
// "two" shows what running a second instance gains for ingest. Divide
// ns/op by 200,000 for the cost of one finding.
func BenchmarkIngestTwoInstances(b *testing.B) {
	dir := b.TempDir()
	paths := []string{
		writeTrivy(b, dir, "a.json", synth.Trivy{Image: "shop/api:1", Results: 10, Findings: 100_000, Seed: 1}),
		writeTrivy(b, dir, "b.json", synth.Trivy{Image: "shop/web:1", Results: 10, Findings: 100_000, Seed: 2}),
	}
	for _, two := range []bool{false, true} {
		name := "one"
		if two {
			name = "two"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				db := storetest.Name(b)
				sts := []*sqlstore.DB{storetest.OpenName(b, db)}
				if two {
					sts = append(sts, storetest.OpenName(b, db))
				}
				b.StartTimer()
				errs := make([]error, len(paths))
				if two {
					var wg sync.WaitGroup
					for i, p := range paths {
						wg.Go(func() { _, errs[i] = ingesttest.Ingest(sts[i], trivy.Format, ingest.Options{}, p) })
					}
					wg.Wait()
				} else {
					for i, p := range paths {
						_, errs[i] = ingesttest.Ingest(sts[0], trivy.Format, ingest.Options{}, p)
					}
				}
				b.StopTimer()
				for _, err := range errs {
					if err != nil {
						b.Fatalf("ingest: %v", err)
					}
				}
				if c, err := sts[0].Counts(context.Background()); err != nil || c.Findings != 200_000 {
					b.Fatalf("Counts() = %+v, %v, want 200000 findings", c, err)
				}
				b.StartTimer()
			}
		})
	}
}
