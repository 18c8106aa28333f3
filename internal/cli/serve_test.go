package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
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
