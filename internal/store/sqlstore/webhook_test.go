package sqlstore_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ctem-dev/ctem/internal/store"
)

// TestScheduledJobs queues a keyed job once, claims only due jobs of the
// kinds asked, and queues a retried job again for its time.
func TestScheduledJobs(t *testing.T) {
	t.Parallel()
	st := openServerDB(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{"s1", "s2"} {
		ok, err := st.EnqueueJobOnce(ctx, store.Job{ID: id, Kind: "expire", Key: "expire:1", CreatedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
		if want := i == 0; ok != want {
			t.Errorf("EnqueueJobOnce(%s, key expire:1) = %v, want %v", id, ok, want)
		}
	}
	if err := st.EnqueueJob(ctx, store.Job{ID: "w1", Kind: "webhook", CreatedAt: t0, RunAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := st.ClaimJobOf(ctx, t0, "webhook"); err != nil || ok {
		t.Errorf("ClaimJobOf(t0, webhook) = %v, %v, want false (not due)", ok, err)
	}
	j, ok, err := st.ClaimJobOf(ctx, t0, "ingest", "expire")
	if err != nil || !ok || j.ID != "s1" {
		t.Fatalf("ClaimJobOf(t0, ingest, expire) = %v, %v, %v, want s1", j.ID, ok, err)
	}
	if _, ok, _ := st.ClaimJobOf(ctx, t0, "ingest", "expire"); ok {
		t.Errorf("ClaimJobOf again = true, want false: s1 is running")
	}
	j, ok, err = st.ClaimJobOf(ctx, t0.Add(time.Minute), "webhook")
	if err != nil || !ok || j.ID != "w1" || j.Attempts != 1 {
		t.Fatalf("ClaimJobOf(t0+1m, webhook) = %+v, %v, %v, want w1 attempt 1", j, ok, err)
	}
	if err := st.RetryJob(ctx, "w1", t0.Add(time.Hour), "status 500"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.ClaimJobOf(ctx, t0.Add(59*time.Minute), "webhook"); ok {
		t.Errorf("ClaimJobOf before the retry's time = true, want false")
	}
	j, ok, err = st.ClaimJobOf(ctx, t0.Add(time.Hour), "webhook")
	if err != nil || !ok || j.Attempts != 2 || j.Error != "status 500" {
		t.Errorf("ClaimJobOf at the retry's time = %+v, %v, %v, want w1 attempt 2 with its last error", j, ok, err)
	}
}

// TestWebhookRecords stores, lists and removes subscriptions and lists
// attempts newest first.
func TestWebhookRecords(t *testing.T) {
	t.Parallel()
	st := openServerDB(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := store.Webhook{ID: "h1", URL: "https://hooks.example.com/x", Events: []string{"path.opened", "sla.breach"}, Secret: "s", CreatedBy: "cli:me", CreatedAt: t0}
	if err := st.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	got, err := st.ListWebhooks(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, []store.Webhook{w}); diff != "" {
		t.Errorf("ListWebhooks(false) (-got +want):\n%s", diff)
	}
	for i, status := range []int{500, 200} {
		a := store.WebhookAttempt{JobID: "j1", Attempt: i + 1, WebhookID: "h1", Event: "path.opened", At: t0.Add(time.Duration(i) * time.Second), Status: status, Duration: 3 * time.Millisecond}
		if err := st.RecordWebhookAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	as, err := st.WebhookAttempts(ctx, "h1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].Status != 200 || as[1].Status != 500 || as[0].Duration != 3*time.Millisecond {
		t.Errorf("WebhookAttempts(h1) = %+v, want the 200 then the 500, 3 ms each", as)
	}
	if err := st.DeleteWebhook(ctx, "h1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteWebhook(ctx, "h1", t0.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteWebhook(h1) twice = %v, want ErrNotFound", err)
	}
	if got, _ := st.ListWebhooks(ctx, false); len(got) != 0 {
		t.Errorf("ListWebhooks(false) after delete = %v, want none", got)
	}
	if got, _ := st.ListWebhooks(ctx, true); len(got) != 1 || got[0].DeletedAt.IsZero() {
		t.Errorf("ListWebhooks(true) after delete = %v, want h1 with its deletion time", got)
	}
}

// TestPurgeJobs deletes finished jobs past their state's bound, in
// batches larger than one statement's, and keeps the younger ones, the
// queued and running ones, and every failed one when failures are kept;
// a purged unique job's key may be queued again.
func TestPurgeJobs(t *testing.T) {
	t.Parallel()
	st := openServerDB(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type job struct {
		id, state string
		age       time.Duration
	}
	jobs := []job{
		{"ok-old", store.JobSucceeded, 10 * 24 * time.Hour},
		{"ok-new", store.JobSucceeded, 24 * time.Hour},
		{"failed-old", store.JobFailed, 10 * 24 * time.Hour},
		{"failed-older", store.JobFailed, 40 * 24 * time.Hour},
		{"queued-old", store.JobQueued, 40 * 24 * time.Hour},
		{"running-old", store.JobRunning, 40 * 24 * time.Hour},
	}
	// More old successes than one purge statement deletes.
	for i := range 1100 {
		jobs = append(jobs, job{"bulk-" + strconv.Itoa(i), store.JobSucceeded, 20 * 24 * time.Hour})
	}
	for _, j := range jobs {
		at := t0.Add(-j.age)
		kind := "purge-test"
		if j.state == store.JobQueued {
			kind = "idle" // never claimed below
		}
		if err := st.EnqueueJob(ctx, store.Job{ID: j.id, Kind: kind, CreatedAt: at, Key: "k:" + j.id}); err != nil {
			t.Fatal(err)
		}
		if j.state == store.JobQueued {
			continue
		}
		if _, ok, err := st.ClaimJobOf(ctx, at, "purge-test"); err != nil || !ok {
			t.Fatalf("ClaimJobOf(%s) = %v, %v", j.id, ok, err)
		}
		if j.state == store.JobRunning {
			continue
		}
		if err := st.FinishJob(ctx, j.id, j.state, nil, "", at.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	n, m, err := st.PurgeJobs(ctx, t0.Add(-7*24*time.Hour), t0.Add(-30*24*time.Hour))
	if err != nil || n != 1101 || m != 1 {
		t.Errorf("PurgeJobs(7 d, 30 d) = %d, %d, %v, want 1101, 1", n, m, err)
	}
	var left []string
	for _, j := range jobs {
		if _, err := st.Job(ctx, j.id); err == nil {
			left = append(left, j.id)
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(left, []string{"ok-new", "failed-old", "queued-old", "running-old"}); diff != "" {
		t.Errorf("jobs left after the purge (-got +want):\n%s", diff)
	}
	if ok, err := st.EnqueueJobOnce(ctx, store.Job{ID: "again", Kind: "purge-test", CreatedAt: t0, Key: "k:ok-old"}); err != nil || !ok {
		t.Errorf("EnqueueJobOnce(key of a purged job) = %v, %v, want true", ok, err)
	}
	n, m, err = st.PurgeJobs(ctx, t0, time.Time{})
	if err != nil || n != 1 || m != 0 {
		t.Errorf("PurgeJobs(now, never) = %d, %d, %v, want 1, 0 (ok-new; failures kept)", n, m, err)
	}
}

// TestPurgeWebhookAttempts deletes the attempts made before the bound,
// in batches larger than one statement's, and keeps the later ones.
func TestPurgeWebhookAttempts(t *testing.T) {
	t.Parallel()
	st := openServerDB(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const old = 1100
	for i := range old + 2 {
		at := t0.Add(-40 * 24 * time.Hour)
		if i >= old {
			at = t0.Add(-time.Duration(i-old) * time.Hour) // t0 itself, and an hour before
		}
		if err := st.RecordWebhookAttempt(ctx, store.WebhookAttempt{JobID: "job-" + strconv.Itoa(i), Attempt: 1, WebhookID: "h", Event: "path.opened", At: at, Status: 500}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := st.PurgeWebhookAttempts(ctx, t0.Add(-30*24*time.Hour))
	if err != nil || n != old {
		t.Errorf("PurgeWebhookAttempts(30 d ago) = %d, %v, want %d", n, err, old)
	}
	left, err := st.WebhookAttempts(ctx, "h", 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range left {
		ids = append(ids, a.JobID)
	}
	if diff := cmp.Diff(ids, []string{"job-1100", "job-1101"}); diff != "" {
		t.Errorf("attempts left (-got +want):\n%s", diff)
	}
	if n, err := st.PurgeWebhookAttempts(ctx, t0); err != nil || n != 1 {
		t.Errorf("PurgeWebhookAttempts(t0) = %d, %v, want 1 (the one an hour before)", n, err)
	}
}

// TestCommitOutbox moves a cursor only from where it was read, queuing
// the deliveries in the same transaction, each once by key; a commit
// from a stale position queues nothing.
func TestCommitOutbox(t *testing.T) {
	t.Parallel()
	st := openServerDB(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pos, upTo, events, err := st.OutboxEvents(ctx, "webhooks", 10)
	if err != nil || pos != 0 || upTo != 0 || len(events) != 0 {
		t.Fatalf("OutboxEvents(fresh) = %d, %d, %d events, %v, want 0, 0, none", pos, upTo, len(events), err)
	}
	job := func(id, key string) store.Job {
		return store.Job{ID: id, Kind: "webhook", CreatedAt: t0, Key: key}
	}
	for _, c := range []struct {
		name     string
		from, to int64
		jobs     []store.Job
		want     bool
	}{
		{"first", 0, 3, []store.Job{job("a", "k1"), job("b", "k2")}, true},
		{"stale", 0, 4, []store.Job{job("c", "k3")}, false},
		{"next, a key queued already", 3, 5, []store.Job{job("d", "k1"), job("e", "k4")}, true},
		{"another cursor", 0, 2, nil, true},
	} {
		name := "webhooks"
		if c.name == "another cursor" {
			name = "other"
		}
		ok, err := st.CommitOutbox(ctx, name, c.from, c.to, c.jobs)
		if err != nil || ok != c.want {
			t.Errorf("CommitOutbox(%s: %s, %d -> %d) = %v, %v, want %v", c.name, name, c.from, c.to, ok, err, c.want)
		}
	}
	if pos, _, _, err := st.OutboxEvents(ctx, "webhooks", 10); err != nil || pos != 5 {
		t.Errorf("cursor after the commits = %d, %v, want 5", pos, err)
	}
	var queued []string
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		if _, err := st.Job(ctx, id); err == nil {
			queued = append(queued, id)
		}
	}
	if diff := cmp.Diff(queued, []string{"a", "b", "e"}); diff != "" {
		t.Errorf("jobs queued by the commits (-got +want):\n%s", diff)
	}
}
