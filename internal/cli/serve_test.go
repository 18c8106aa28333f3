package cli

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeRefusesPlainHTTPBeyondLoopback checks that ctem serve will
// not listen in plain HTTP on another address than loopback.
func TestServeRefusesPlainHTTPBeyondLoopback(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ctem.db")
	for _, args := range [][]string{
		{"serve", "--addr", "0.0.0.0:0"},
		{"serve", "--addr", ":0"},
		{"serve", "--addr", "127.0.0.1:0", "--tls-cert", "c.pem"},
	} {
		var out, errb bytes.Buffer
		code := Run(context.Background(), append([]string{"--db", db}, args...), strings.NewReader(""), &out, &errb)
		if code != ExitInput || !strings.Contains(errb.String(), "tls") {
			t.Errorf("ctem %v = %d %q, want %d and a message naming TLS", args, code, errb.String(), ExitInput)
		}
	}
}

// TestServeNoAPIWithoutJobs checks that ctem serve refuses to run neither
// the API nor the jobs.
func TestServeNoAPIWithoutJobs(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ctem.db")
	args := []string{"--db", db, "serve", "--no-api", "--jobs=false"}
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	if code != ExitInput || !strings.Contains(errb.String(), "--no-api") {
		t.Errorf("ctem %v = %d %q, want %d and a message naming --no-api", args, code, errb.String(), ExitInput)
	}
}

// TestServeNoAPI runs the worker of a split deployment: it serves no
// HTTP (its --addr is held by another listener, which a server would
// fail to bind), runs until its context ends, and exits cleanly.
func TestServeNoAPI(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	args := []string{"--db", filepath.Join(dir, "ctem.db"), "serve", "--no-api", "--addr", ln.Addr().String(), "--shutdown-grace", "5s"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, strings.NewReader(""), &out, &errb) }()
	// Running once it logs so (opening and migrating the database
	// first can take seconds under -race on a loaded machine), and still
	// running half a second later.
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(errb.String(), "running jobs"); {
		select {
		case code := <-done:
			t.Fatalf("ctem %v = %d %q before it was stopped, want it running", args, code, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("ctem %v: no log of running jobs within 60 s: %q", args, errb.String())
		}
	}
	select {
	case code := <-done:
		t.Fatalf("ctem %v = %d %q before it was stopped, want it running", args, code, errb.String())
	case <-time.After(500 * time.Millisecond):
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(errb.String(), "running jobs") {
			t.Errorf("ctem %v = %d %q, want 0 and a log of running jobs", args, code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("ctem %v did not stop within 30 s of its context's end", args)
	}
}
