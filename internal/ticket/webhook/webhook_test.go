package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/graph"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
	"github.com/ctem-dev/ctem/internal/ticket"
	"github.com/ctem-dev/ctem/internal/ticket/webhook"
)

func TestSyncSigned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	secret := []byte("s3cret")
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var events []string
	first := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if first {
			first = false
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		body, _ := io.ReadAll(r.Body)
		if !webhook.Verify(secret, r.Header.Get(webhook.HeaderTimestamp), body, r.Header.Get(webhook.HeaderSignature), now, 5*time.Minute) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var d webhook.Delivery
		if err := json.Unmarshal(body, &d); err != nil || d.Event != r.Header.Get(webhook.HeaderEvent) {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		events = append(events, d.Event+" "+d.Ticket.Key)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	client := &ticket.Client{HTTP: srv.Client(), Sleep: func(context.Context, time.Duration) error { return nil }}
	tr := &webhook.Tracker{URL: srv.URL, Secret: secret, Client: client, Now: func() time.Time { return now }}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	item := func(k string) ticket.Ticket {
		return ticket.FromPlanItem(graph.PlanItem{Action: graph.Action{Key: k, Title: "drop " + k}, RiskRemoved: 1}, nil, "", nil)
	}
	if _, err := ticket.Sync(ctx, tr, st, []ticket.Ticket{item("a"), item("b")}, false, now); err != nil {
		t.Fatal(err)
	}
	if _, err := ticket.Sync(ctx, tr, st, []ticket.Ticket{item("a"), item("b")}, false, now); err != nil {
		t.Fatal(err)
	}
	if _, err := ticket.Sync(ctx, tr, st, []ticket.Ticket{item("a")}, false, now); err != nil {
		t.Fatal(err)
	}
	if _, err := ticket.Sync(ctx, tr, st, []ticket.Ticket{item("a"), item("b")}, false, now); err != nil {
		t.Fatal(err)
	}
	want := []string{"ticket.created " + ticket.Key("a"), "ticket.created " + ticket.Key("b"), "ticket.closed " + ticket.Key("b"), "ticket.reopened " + ticket.Key("b")}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != len(want) {
		t.Fatalf("deliveries = %v, want %v", events, want)
	}
	for i := range want {
		if events[i] != want[i] {
			t.Errorf("delivery %d = %s, want %s", i, events[i], want[i])
		}
	}
	// A forged or stale delivery does not verify.
	body := []byte(`{"event":"ticket.created"}`)
	ts := "1796288400"
	if webhook.Verify(secret, ts, body, webhook.Sign([]byte("other"), ts, body), time.Unix(1796288400, 0), time.Minute) {
		t.Errorf("Verify(signed with another secret) = true")
	}
	if webhook.Verify(secret, ts, body, webhook.Sign(secret, ts, body), time.Unix(1796288400, 0).Add(time.Hour), time.Minute) {
		t.Errorf("Verify(an hour old) = true")
	}
}
