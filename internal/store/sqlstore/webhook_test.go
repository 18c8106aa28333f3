package sqlstore_test

import (
	"errors"
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
