package app

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/ingest/ingesttest"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
	"github.com/ctem-dev/ctem/internal/store/storetest"
)

// TestIngestRetriedAfterDeadlock forces a real deadlock on PostgreSQL
// between an ingest transaction and another session, which the server
// breaks by aborting the ingest (SQLSTATE 40P01), and checks that the
// ingest is run again and stores its rows exactly once: the same rows
// as the same ingest into a fresh database. The other session holds the
// commit lock (Dialect.CommitLockSQL) that a parallel ingest takes when
// it commits; once the ingest waits for it, the session asks for the
// write lock (Dialect.BeginSQL) that the ingest holds shared since it
// began. Its own deadlock_timeout is long, so the server's deadlock
// check runs in the ingest's session and aborts the ingest.
func TestIngestRetriedAfterDeadlock(t *testing.T) {
	t.Parallel()
	if storetest.Backend() != "postgres" {
		t.Skipf("a deadlock between two sessions needs PostgreSQL: set %s", storetest.EnvPostgres)
	}
	ctx := t.Context()
	st := storetest.Open(t)
	a := &App{Store: st, Formats: newApp(t, st).Formats}
	var mu sync.Mutex
	var logged []string
	a.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(format, args...))
	}
	d := st.Dialect()
	other, err := st.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var otherPID int
	if err := other.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&otherPID); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`BEGIN`, `SET LOCAL deadlock_timeout = '60s'`, d.CommitLockSQL} {
		if _, err := other.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	inputs := demoInputs(t)[4:5]
	done := make(chan error, 1)
	var res *IngestResult
	go func() {
		var err error
		res, err = a.Ingest(ctx, IngestRequest{Inputs: inputs, NoAnalyze: true})
		done <- err
	}()
	// The ingest waits for the commit lock...
	waiting := func() bool {
		var n int
		err := st.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> $1 AND wait_event_type = 'Lock' AND wait_event = 'advisory'`, otherPID).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	for deadline := time.Now().Add(30 * time.Second); !waiting(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the ingest never waited for the commit lock")
		}
	}
	// ...and this session for the write lock the ingest holds: the
	// server aborts the ingest, and this session gets the lock.
	if _, err := other.ExecContext(ctx, d.BeginSQL); err != nil {
		t.Fatalf("the other session: %v, want the ingest aborted instead", err)
	}
	if _, err := other.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Ingest after a deadlock = %v, want it run again and stored", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the ingest did not end")
	}
	mu.Lock()
	retried := strings.Join(logged, "\n")
	mu.Unlock()
	if !strings.Contains(retried, "ingest aborted by the database") || !strings.Contains(retried, "40P01") {
		t.Errorf("Ingest logged %q, want an abort for a deadlock (40P01) and a second attempt", retried)
	}
	if len(res.Scans) != 1 || res.Scans[0].Findings == 0 {
		t.Fatalf("Ingest recorded %d scans (%+v), want one with findings", len(res.Scans), res.Scans)
	}
	// Exactly once: the rows of every table are those of the same
	// ingest into a fresh database (but for times and ids of scans).
	fresh := storetest.Open(t)
	b := &App{Store: fresh, Formats: a.Formats}
	if _, err := b.Ingest(context.Background(), IngestRequest{Inputs: demoInputs(t)[4:5], NoAnalyze: true}); err != nil {
		t.Fatal(err)
	}
	if got, want := ingesttest.Count(t, st), ingesttest.Count(t, fresh); got != want {
		t.Errorf("counts after the retried ingest = %+v, want %+v (one clean ingest)", got, want)
	}
	if diff := cmp.Diff(findingKeys(t, st), findingKeys(t, fresh)); diff != "" {
		t.Errorf("findings after the retried ingest differ from one clean ingest (-got +want):\n%s", diff)
	}
}

// findingKeys lists each finding's id, exposure and status.
func findingKeys(t *testing.T, st *sqlstore.DB) []string {
	t.Helper()
	rows, err := st.SQL().Query(`SELECT id, exposure_id, status FROM findings ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, x, s string
		if err := rows.Scan(&id, &x, &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, id+" "+x+" "+s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
