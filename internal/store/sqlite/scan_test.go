package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/model"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// exposures is a store.ExposureSink that keeps what it is given.
type exposures []model.Exposure

func (s *exposures) Grow(int) {}

func (s *exposures) Add(x model.Exposure) int { *s = append(*s, x); return len(*s) - 1 }

func (s *exposures) At(i int) *model.Exposure { return &(*s)[i] }

// TestScanRestoresConnection checks that the analysis's bulk read, which
// runs with no memory map and a small page cache (Dialect.ScanSQL), reads
// every open exposure and leaves its connection mapping the file and
// caching pages as Open set it, for the reads that follow on it.
func TestScanRestoresConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	report := filepath.Join("..", "..", "ingest", "trivy", "testdata", "all_statuses.json")
	if _, err := ingesttest.Ingest(st, trivy.Format, ingest.Options{}, report); err != nil {
		t.Fatal(err)
	}
	// One connection: the pragmas read after are those of the connection
	// the bulk read used.
	db := st.SQL()
	db.SetMaxOpenConns(1)
	pragmas := func() (mmap, cache int64) {
		t.Helper()
		if err := db.QueryRowContext(ctx, `PRAGMA mmap_size`).Scan(&mmap); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
			t.Fatal(err)
		}
		return mmap, cache
	}
	mmap, cache := pragmas()
	if mmap == 0 || cache >= 0 {
		t.Fatalf("before the read: mmap_size %d, cache_size %d; want a memory map and a cache in KiB", mmap, cache)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM exposures WHERE status IN ('open', 'accepted')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	var got exposures
	if err := st.ReadAnalysisExposures(ctx, &got); err != nil {
		t.Fatalf("ReadAnalysisExposures = %v", err)
	}
	if len(got) != n || n == 0 {
		t.Errorf("ReadAnalysisExposures read %d exposures, want the %d open ones", len(got), n)
	}
	if m, c := pragmas(); m != mmap || c != cache {
		t.Errorf("after the read: mmap_size %d, cache_size %d; want %d, %d as before", m, c, mmap, cache)
	}
}
