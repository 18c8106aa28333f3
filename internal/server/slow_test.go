package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSlowClient sends a request's headers a byte at a time: the server
// drops the connection after its header timeout, and answers another
// client meanwhile.
func TestSlowClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, false)
	// A server of its own, with a short header timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	srv, err := New(Config{App: f.app, Store: f.st, SpoolDir: f.dir + "/spool2"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- srv.Serve(ctx, ln, ListenConfig{Addr: ln.Addr().String(), ReadHeaderTimeout: 300 * time.Millisecond, ShutdownGrace: time.Second})
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-srv.Ready()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		req := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200) + "\r\n\r\n"
		for i := range len(req) {
			if _, err := conn.Write([]byte{req[i]}); err != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		closed <- time.Since(start)
	}()
	// Meanwhile another client is served at once.
	for range 5 {
		t0 := time.Now()
		res, err := http.Get("http://" + ln.Addr().String() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || time.Since(t0) > 2*time.Second {
			t.Errorf("GET /healthz beside a slow client = %d in %v, want 200 at once", res.StatusCode, time.Since(t0))
		}
	}
	// The slow client's connection is closed long before it finishes
	// its headers (about 4.5 s at this pace).
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err == nil && !strings.Contains(line, " 408 ") && !strings.Contains(line, " 400 ") {
		t.Errorf("slow client read %q, want the connection closed, or 408 or 400", line)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("slow client's connection lasted %v, want it closed after the 300 ms header timeout", d)
	}
}

// TestMetrics checks that requests are counted by route and status, and
// that /metrics needs a token.
func TestMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, false)
	f.do(t, "GET", "/api/v1/exposures", "viewer", "", nil)
	f.do(t, "GET", "/api/v1/exposures", "uploader", "", nil)
	if res := f.do(t, "GET", "/metrics", "", "", nil); res.status != http.StatusUnauthorized {
		t.Errorf("GET /metrics without a token = %d, want 401", res.status)
	}
	res := f.do(t, "GET", "/metrics", "viewer", "", nil)
	for _, want := range []string{
		`ctem_http_requests_total{method="GET",route="exposures",status="200"} 1`,
		`ctem_http_requests_total{method="GET",route="exposures",status="403"} 1`,
		`ctem_http_request_duration_seconds_bucket{route="exposures"`,
		`ctem_job_queue_depth 0`,
	} {
		if !strings.Contains(string(res.body), want) {
			t.Errorf("GET /metrics lacks %s", want)
		}
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, false)
	srv, err := New(Config{App: f.app, Store: f.st, SpoolDir: f.dir + "/spool3", RateLimit: 1, RateBurst: 3})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptestServer(t, srv)
	var got []int
	for _, tok := range []string{"viewer", "viewer", "viewer", "viewer", "analyst"} {
		req, _ := http.NewRequest("GET", ts+"/api/v1/scans", nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens[tok])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got = append(got, res.StatusCode)
		if res.StatusCode == http.StatusTooManyRequests && res.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
	}
	want := []int{200, 200, 200, 429, 200}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("statuses of 4 requests by one token then 1 by another, burst 3 = %v, want %v", got, want)
	}
}

// httptestServer serves srv's handler on loopback for the test.
func httptestServer(t *testing.T, srv *Server) string {
	t.Helper()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestAnonymousRateLimit checks that requests without a valid token,
// each of which writes an audit entry, are limited per client address.
func TestAnonymousRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, false)
	srv, err := New(Config{App: f.app, Store: f.st, SpoolDir: f.dir + "/spool6", RateLimit: 1, RateBurst: 2})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptestServer(t, srv)
	var got []int
	for range 4 {
		res, err := http.Get(ts + "/api/v1/scans")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got = append(got, res.StatusCode)
	}
	if want := []int{401, 401, 429, 429}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("4 anonymous requests, burst 2 = %v, want %v", got, want)
	}
	n := 0
	for e, err := range f.st.AuditLog(context.Background(), 0, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Action == "denied" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("audit entries of refused anonymous requests = %d, want 2 (the limited ones are not written)", n)
	}
}
