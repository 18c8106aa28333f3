package server

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

// TestGracefulShutdown stops a server while its job ingests: the job
// finishes within the grace period, Serve returns without error, and the
// listener is closed.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{App: f.app, Store: f.st, SpoolDir: f.dir + "/spool4"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- srv.Serve(ctx, ln, ListenConfig{Addr: ln.Addr().String(), ShutdownGrace: 2 * time.Minute})
	}()
	<-srv.Ready()
	base := "http://" + ln.Addr().String()
	req, _ := http.NewRequest("POST", base+"/api/v1/ingest?name=mid.json", bytes.NewReader(syntheticReport(t, 7, 20000/scale)))
	req.Header.Set("Authorization", "Bearer "+f.tokens["uploader"])
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/v1/ingest = %d, want 202", res.StatusCode)
	}
	id := strings.TrimPrefix(res.Header.Get("Location"), "/api/v1/jobs/")
	for {
		j, err := f.st.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != store.JobQueued {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve() after shutdown = %v, want nil", err)
	}
	j, err := f.st.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != store.JobSucceeded {
		t.Errorf("job after a graceful shutdown = %s (%s), want succeeded within the grace period", j.State, j.Error)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("GET /healthz after shutdown succeeded, want the listener closed")
	}
}

// TestShutdownAbandonsJob stops a server whose job cannot finish within
// the grace period: the ingest is cancelled, nothing of it is stored,
// and the job is left for the next start to run again.
func TestShutdownAbandonsJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, false)
	before := f.counts(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{App: f.app, Store: f.st, SpoolDir: f.dir + "/spool5"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- srv.Serve(ctx, ln, ListenConfig{Addr: ln.Addr().String(), ShutdownGrace: 50 * time.Millisecond})
	}()
	<-srv.Ready()
	req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/api/v1/ingest?name=big.json", bytes.NewReader(syntheticReport(t, 8, bigUpload)))
	req.Header.Set("Authorization", "Bearer "+f.tokens["uploader"])
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	id := strings.TrimPrefix(res.Header.Get("Location"), "/api/v1/jobs/")
	for {
		j, err := f.st.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != store.JobQueued {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve() after shutdown = %v, want nil", err)
	}
	j, err := f.st.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != store.JobRunning {
		t.Errorf("job abandoned by a shutdown = %s, want running (queued again at the next start)", j.State)
	}
	if got := f.counts(t); got != before {
		t.Errorf("after an abandoned ingest, counts = %+v, want %+v as before", got, before)
	}
}

// TestExpiry checks that the worker reopens an acceptance that expired
// and audits it.
func TestExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, true)
	x := demoExposure(t, f, "team-orders")
	at := time.Now().Add(-48 * time.Hour).UTC()
	if _, err := f.st.Triage(context.Background(), store.Decision{ExposureID: x.ID, Status: "accepted", Reason: "r", By: "alice", Approver: "ciso", Expires: at.Add(time.Hour), At: at}); err != nil {
		t.Fatal(err)
	}
	f.srv.expireAcceptances(context.Background(), time.Now())
	got, err := f.st.Exposure(context.Background(), x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "open" {
		t.Errorf("status after the acceptance expired = %s, want open", got.Status)
	}
	var actions []string
	for e, err := range f.st.AuditLog(context.Background(), 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		actions = append(actions, e.Action+" "+e.Target)
	}
	if !slices.Contains(actions, "triage.expire "+x.ID) {
		t.Errorf("audit log = %v, want triage.expire %s", actions, x.ID)
	}
}
