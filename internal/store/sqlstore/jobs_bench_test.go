package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/storetest"
)

// BenchmarkRecentJobs reads the scans page's 20 newest ingests, and an
// uploader's, from a table of 100,000 jobs (one in ten an ingest, the
// rest scheduled work), as the jobs table grows on a long-running server.
func BenchmarkRecentJobs(b *testing.B) {
	st := storetest.Open(b)
	ctx := b.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tx, err := st.SQL().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	insert := `INSERT INTO jobs (id, kind, state, created_by, created_at, result, error) VALUES (?, ?, ?, ?, ?, '', '')`
	if storetest.Backend() == "postgres" {
		insert = `INSERT INTO jobs (id, kind, state, created_by, created_at, result, error) VALUES ($1, $2, $3, $4, $5, '', '')`
	}
	for i := range 100_000 {
		kind, by := "delivery", ""
		if i%10 == 0 {
			kind, by = "ingest", fmt.Sprintf("user:u%d", i%7)
		}
		if _, err := tx.ExecContext(ctx, insert,
			fmt.Sprintf("%016x", i), kind, store.JobSucceeded, by, t0.Add(time.Duration(i)*time.Second).UnixMicro()); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	for _, q := range []store.JobQuery{{Kind: "ingest", Limit: 21}, {Kind: "ingest", CreatedBy: "user:u3", Limit: 21}} {
		b.Run(fmt.Sprintf("by=%q", q.CreatedBy), func(b *testing.B) {
			for b.Loop() {
				js, err := st.RecentJobs(ctx, q)
				if err != nil || len(js) != 21 {
					b.Fatalf("RecentJobs() = %d, %v", len(js), err)
				}
			}
		})
	}
}
