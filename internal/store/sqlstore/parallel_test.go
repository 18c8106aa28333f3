package sqlstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest"
	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/ingest/trivy"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
	"github.com/ctem-dev/ctem/internal/store/storetest"
	"github.com/ctem-dev/ctem/internal/synth"
)

// TestParallelIngestSeqs ingests reports of six images at once through
// two handles on one database (in parallel on PostgreSQL, one at a time
// on SQLite) while a reader reads the scans' sequence numbers over and
// over: every read sees 1 to n for some n, never a gap (a number whose
// lower numbers are not yet committed would let an analysis that read n
// miss them), and at the end the numbers are 1 to 6, each once.
func TestParallelIngestSeqs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	name := storetest.Name(t)
	sts := []*sqlstore.DB{storetest.OpenName(t, name), storetest.OpenName(t, name)}
	dir := t.TempDir()
	read := func() []int64 {
		t.Helper()
		rows, err := sts[0].SQL().QueryContext(ctx, `SELECT seq FROM scans ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var seqs []int64
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, seq)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return seqs
	}
	prefix := func(seqs []int64) bool {
		for i, s := range seqs {
			if s != int64(i+1) {
				return false
			}
		}
		return true
	}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		p := writeTrivy(t, dir, fmt.Sprintf("r%d.json", i), synth.Trivy{Image: fmt.Sprintf("shop/svc%d:1", i), Findings: 200, Seed: uint64(i)})
		wg.Go(func() { _, errs[i] = ingesttest.Ingest(sts[i%2], trivy.Format, ingest.Options{}, p) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	reads := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		if seqs := read(); !prefix(seqs) {
			t.Errorf("scan seqs read during the ingests = %v, want 1 to n", seqs)
		}
		reads++
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Ingest(r%d.json) = %v", i, err)
		}
	}
	if got, want := read(), []int64{1, 2, 3, 4, 5, 6}; !slices.Equal(got, want) {
		t.Errorf("scan seqs = %v, want %v", got, want)
	}
	t.Logf("%d reads during the ingests", reads)
}

// TestClaimJobLanes claims jobs with lanes: a job waits for the older
// jobs of its lane and for older jobs of lane "*", a "*" job for every
// older job with a lane, and jobs without a lane for nothing.
func TestClaimJobLanes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.Open(t)
	t0 := time.Unix(1_700_000_000, 0)
	for i, j := range []struct{ id, lane string }{
		{"a1", "trivy\nimg-a"}, {"a2", "trivy\nimg-a"}, {"b1", "trivy\nimg-b"}, {"s1", "*"}, {"c1", "grype\nimg-c"}, {"w1", ""},
	} {
		if err := st.EnqueueJob(ctx, store.Job{ID: j.id, Kind: "ingest", CreatedAt: t0.Add(time.Duration(i) * time.Second), Lane: j.lane}); err != nil {
			t.Fatal(err)
		}
	}
	at := t0.Add(time.Minute)
	claim := func() string {
		t.Helper()
		j, ok, err := st.ClaimJobOf(ctx, at, "ingest")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return ""
		}
		return j.ID
	}
	finish := func(id string) {
		t.Helper()
		if err := st.FinishJob(ctx, id, store.JobSucceeded, nil, "", at); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	step := func() {
		var ids []string
		for id := claim(); id != ""; id = claim() {
			ids = append(ids, id)
		}
		got = append(got, fmt.Sprint(ids))
		for _, id := range ids {
			finish(id)
		}
	}
	for range 4 {
		step()
	}
	// a2 waits for a1; s1 for a1, a2 and b1; c1 for s1; w1 for nothing.
	want := []string{"[a1 b1 w1]", "[a2]", "[s1]", "[c1]"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("claims, round by round (-got +want):\n%s", diff)
	}
}
