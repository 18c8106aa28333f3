package server

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/examples"
	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// TestAPIServerAndWorker splits a deployment in two over one SQLite
// file: API servers started with NoJobs queue uploads but run none, and
// leave alone a job that the worker runs; the worker (RunJobs, with its
// own connections) queues again the job its last stop interrupted, runs
// the queued ingests, and the API serves what they stored.
func TestAPIServerAndWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixtureWith(t, Limits{}, false, func(c *Config) { c.NoJobs = true })
	report, err := examples.Files.ReadFile("reports/shop-api-image.trivy.json")
	if err != nil {
		t.Fatal(err)
	}
	up := f.do(t, "POST", "/api/v1/ingest?name=api.json", "uploader", "application/json", bytes.NewReader(report))
	if up.status != http.StatusAccepted {
		t.Fatalf("POST ingest = %d %s, want 202", up.status, up.body)
	}
	var queued store.Job
	up.decode(t, &queued)
	// A worker claims the job and stops without finishing it (as if
	// killed); a second API server starting meanwhile must not queue it
	// again, as the job may be running.
	claimed, ok, err := f.st.ClaimJobOf(ctx, time.Now(), workerKinds...)
	if err != nil || !ok || claimed.ID != queued.ID {
		t.Fatalf("ClaimJobOf() = %s, %v, %v, want job %s", claimed.ID, ok, err, queued.ID)
	}
	second, err := New(Config{App: f.app, Store: f.st, SpoolDir: filepath.Join(f.dir, "spool"), NoJobs: true})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- second.Serve(sctx, ln, ListenConfig{Addr: ln.Addr().String(), ShutdownGrace: 5 * time.Second})
	}()
	<-second.Ready()
	if j, err := f.st.Job(ctx, queued.ID); err != nil || j.State != store.JobRunning {
		t.Errorf("Job(%s) after an API server's start = %q, %v, want %q", queued.ID, j.State, err, store.JobRunning)
	}
	stop()
	if err := <-served; err != nil && err != http.ErrServerClosed {
		t.Errorf("Serve() = %v", err)
	}
	// A second upload stays queued: no API server runs it.
	up2 := f.do(t, "POST", "/api/v1/ingest?name=api2.json", "uploader", "application/json", bytes.NewReader(report))
	var queued2 store.Job
	up2.decode(t, &queued2)
	if j, err := f.st.Job(ctx, queued2.ID); err != nil || j.State != store.JobQueued {
		t.Errorf("Job(%s) on API servers only = %q, %v, want %q", queued2.ID, j.State, err, store.JobQueued)
	}

	// The worker: its own connections to the file.
	wst, err := sqlite.Open(ctx, filepath.Join(f.dir, "ctem.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer wst.Close()
	worker, err := New(Config{App: &app.App{Store: wst, Formats: inputs.All()}, Store: wst, SpoolDir: filepath.Join(f.dir, "spool")})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stopWorker := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- worker.RunJobs(wctx, 5*time.Second) }()
	for _, id := range []string{queued.ID, queued2.ID} {
		if j := f.waitJob(t, id, "uploader"); j.State != store.JobSucceeded {
			t.Errorf("job %s run by the worker = %q (%s), want %q", id, j.State, j.Error, store.JobSucceeded)
		}
	}
	var page struct {
		Items []map[string]any `json:"items"`
	}
	f.do(t, "GET", "/api/v1/exposures?limit=5", "viewer", "", nil).decode(t, &page)
	if len(page.Items) == 0 {
		t.Errorf("GET /api/v1/exposures after the worker's ingests = no exposure, want the report's")
	}
	stopWorker()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("RunJobs() = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("RunJobs() did not return after its context ended")
	}
}
