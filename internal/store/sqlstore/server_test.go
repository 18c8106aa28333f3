package sqlstore_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlstore"
	"github.com/ctem-dev/ctem/internal/store/storetest"
)

func openServerDB(t *testing.T) *sqlstore.DB {
	t.Helper()
	return storetest.Open(t)
}

// TestJobQueue claims jobs oldest first, finishes them, and at a restart
// queues again the jobs left running, failing those tried too often.
func TestJobQueue(t *testing.T) {
	t.Parallel()
	st := openServerDB(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{"b", "a", "c"} {
		if err := st.EnqueueJob(ctx, store.Job{ID: id, Kind: "ingest", CreatedAt: t0.Add(time.Duration(i) * time.Second), Params: json.RawMessage(`{"n":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	var order []string
	for range 3 {
		j, ok, err := st.ClaimJob(ctx, t0)
		if err != nil || !ok {
			t.Fatalf("ClaimJob() = %v, %v", ok, err)
		}
		order = append(order, j.ID)
	}
	if diff := cmp.Diff(order, []string{"b", "a", "c"}); diff != "" {
		t.Errorf("claim order (-got +want):\n%s", diff)
	}
	if _, ok, err := st.ClaimJob(ctx, t0); ok || err != nil {
		t.Errorf("ClaimJob() on an empty queue = %v, %v, want false, nil", ok, err)
	}
	if err := st.FinishJob(ctx, "b", store.JobSucceeded, json.RawMessage(`{"scans":[]}`), "", t0); err != nil {
		t.Fatal(err)
	}
	if n, err := st.QueueDepth(ctx); err != nil || n != 2 {
		t.Errorf("QueueDepth() = %d, %v, want 2", n, err)
	}
	// "a" and "c" were left running by a process that stopped: each
	// restart queues them again, and they are claimed again, until their
	// third attempt, after which a restart fails them.
	var got []int
	for range 3 {
		n, err := st.RequeueRunning(ctx, 3, t0)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
		for range n {
			if _, _, err := st.ClaimJob(ctx, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
	if diff := cmp.Diff(got, []int{2, 2, 0}); diff != "" {
		t.Errorf("jobs requeued at three restarts (-got +want):\n%s", diff)
	}
	for id, want := range map[string]string{"a": store.JobFailed, "b": store.JobSucceeded, "c": store.JobFailed} {
		j, err := st.Job(ctx, id)
		if err != nil || j.State != want {
			t.Errorf("Job(%s) = %s (%v), want %s", id, j.State, err, want)
		}
	}
	if _, err := st.Job(ctx, "zz"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Job(zz) = %v, want ErrNotFound", err)
	}
}

// TestTokens stores tokens by the hash of their secret, revokes them
// once and records their last use.
func TestTokens(t *testing.T) {
	t.Parallel()
	st := openServerDB(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok := store.Token{ID: "t1", Name: "ci", Role: "uploader", CreatedAt: t0}
	if err := st.CreateToken(ctx, tok, "hash1"); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateToken(ctx, store.Token{ID: "t2", Name: "x", Role: "viewer", CreatedAt: t0}, "hash1"); err == nil {
		t.Errorf("CreateToken() with a hash already stored = nil, want an error")
	}
	if _, err := st.TokenByHash(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenByHash(nope) = %v, want ErrNotFound", err)
	}
	if err := st.TouchTokens(ctx, map[string]time.Time{"t1": t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := st.TouchTokens(ctx, map[string]time.Time{"t1": t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	r1, err := st.RevokeToken(ctx, "t1", t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := st.RevokeToken(ctx, "t1", t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.TokenByHash(ctx, "hash1")
	if err != nil {
		t.Fatal(err)
	}
	want := tok
	want.LastUsedAt, want.RevokedAt = t0.Add(time.Hour), t0.Add(2*time.Hour)
	if diff := cmp.Diff(got, want); diff != "" || r1 != want || r2 != want {
		t.Errorf("token after use and two revocations (-got +want):\n%s", diff)
	}
	if _, err := st.RevokeToken(ctx, "zz", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeToken(zz) = %v, want ErrNotFound", err)
	}
}

// TestRecentJobs lists jobs newest first, by kind, state and creator,
// and pages through them with the last job's time and id.
func TestRecentJobs(t *testing.T) {
	t.Parallel()
	st := openServerDB(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	jobs := []store.Job{
		{ID: "j1", Kind: "ingest", CreatedBy: "user:ann", CreatedAt: t0},
		{ID: "j2", Kind: "ingest", CreatedBy: "user:bob", CreatedAt: t0.Add(time.Second)},
		{ID: "j3", Kind: "sla", CreatedAt: t0.Add(time.Second)},
		{ID: "j4", Kind: "ingest", CreatedBy: "user:ann", CreatedAt: t0.Add(2 * time.Second)},
	}
	for _, j := range jobs {
		if err := st.EnqueueJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.FinishJob(ctx, "j1", store.JobFailed, nil, "cut short", t0); err != nil {
		t.Fatal(err)
	}
	ids := func(q store.JobQuery) []string {
		t.Helper()
		js, err := st.RecentJobs(ctx, q)
		if err != nil {
			t.Fatalf("RecentJobs(%+v): %v", q, err)
		}
		out := []string{}
		for _, j := range js {
			out = append(out, j.ID)
		}
		return out
	}
	tests := []struct {
		name string
		q    store.JobQuery
		want []string
	}{
		{"all", store.JobQuery{}, []string{"j4", "j3", "j2", "j1"}},
		{"kind", store.JobQuery{Kind: "ingest"}, []string{"j4", "j2", "j1"}},
		{"creator", store.JobQuery{CreatedBy: "user:ann"}, []string{"j4", "j1"}},
		{"state", store.JobQuery{State: store.JobFailed}, []string{"j1"}},
		{"limit", store.JobQuery{Limit: 2}, []string{"j4", "j3"}},
		{"after j3", store.JobQuery{BeforeAt: t0.Add(time.Second), BeforeID: "j3", Limit: 2}, []string{"j2", "j1"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(ids(tt.q), tt.want); diff != "" {
			t.Errorf("RecentJobs(%s) (-got +want):\n%s", tt.name, diff)
		}
	}
	js, err := st.RecentJobs(ctx, store.JobQuery{State: store.JobFailed})
	if err != nil || len(js) != 1 || js[0].Error != "cut short" {
		t.Errorf("RecentJobs(failed) = %+v, %v, want j1 with its error", js, err)
	}
}
