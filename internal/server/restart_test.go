package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/app"
	"github.com/ctem-dev/ctem/internal/inputs"
	"github.com/ctem-dev/ctem/internal/store"
	"github.com/ctem-dev/ctem/internal/store/sqlite"
)

// TestMain lets the test binary serve as a child process: the SIGKILL
// test starts it, kills it mid-ingest and starts it again.
func TestMain(m *testing.M) {
	if dir := os.Getenv("CTEM_TEST_SERVE_DIR"); dir != "" {
		if err := serveChild(dir, os.Getenv("CTEM_TEST_SERVE_ADDR")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	if dir := os.Getenv("CTEM_TEST_WORKER_DIR"); dir != "" {
		if err := workerChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// workerChild runs the jobs of the database in dir (RunJobs) until
// SIGTERM or SIGINT: the worker process of BenchmarkLoad/split.
func workerChild(dir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ctem.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	a := &app.App{Store: st, Formats: inputs.All()}
	// The periodic SLA check off, as in the fixture of the one-process
	// deployment.
	srv, err := New(Config{App: a, Store: st, SpoolDir: filepath.Join(dir, "spool"), Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Schedule: Schedule{SLA: -1}})
	if err != nil {
		return err
	}
	return srv.RunJobs(ctx, 5*time.Second)
}

func serveChild(dir, addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ctem.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	a := &app.App{Store: st, Formats: inputs.All()}
	srv, err := New(Config{App: a, Store: st, SpoolDir: filepath.Join(dir, "spool"), Log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return srv.Serve(ctx, ln, ListenConfig{Addr: addr})
}

// TestKilledMidIngest kills a server (SIGKILL) while its job ingests a
// large upload: the database holds nothing of it, and the restarted
// server ingests it again to the end.
func TestKilledMidIngest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, _ := newStore(t, dir)
	_, secret, err := CreateToken(context.Background(), st, TokenRequest{Name: "ci", Role: "uploader"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	before, err := st.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CTEM_TEST_SERVE_DIR="+dir, "CTEM_TEST_SERVE_ADDR="+addr)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		for range 500 {
			if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
				res.Body.Close()
				return cmd
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("the child server did not start: %s", errb.String())
		return nil
	}
	child := start()
	report := syntheticReport(t, 1, bigUpload)
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/ingest?name=big.json", bytes.NewReader(report))
	req.Header.Set("Authorization", "Bearer "+secret)
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
	// Kill it once the job runs, a little into the ingest.
	for {
		j, err := st.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == store.JobRunning {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	j, err := st.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != store.JobRunning {
		t.Fatalf("job after SIGKILL = %s, want running (the ingest was not over: make the upload larger)", j.State)
	}
	if got, err := st.Counts(context.Background()); err != nil || got != before {
		t.Fatalf("after SIGKILL mid-ingest, counts = %+v (%v), want %+v as before", got, err, before)
	}
	start()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j, err = st.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == store.JobSucceeded || j.State == store.JobFailed || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if j.State != store.JobSucceeded || j.Attempts != 2 {
		t.Fatalf("job after restart = %s after %d attempts (%s), want succeeded after 2", j.State, j.Attempts, j.Error)
	}
	got, err := st.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Findings != before.Findings+bigUpload {
		t.Errorf("findings after the restarted ingest = %d, want %d", got.Findings, before.Findings+bigUpload)
	}
	if _, err := os.Stat(filepath.Join(dir, "spool", id+".upload")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the upload's spool file is left after its job: %v", err)
	}
}

// bigUpload is the number of findings of an upload whose ingest takes
// long enough to be interrupted.
const bigUpload = 60000 / scale
