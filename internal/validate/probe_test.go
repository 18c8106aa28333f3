package validate

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// countingListener counts the connections it accepts and closes them
// after reading a little.
type countingListener struct {
	ln    net.Listener
	count atomic.Int64
}

func listen(t *testing.T, addr string) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	cl := &countingListener{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cl.count.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return cl
}

// closedPort returns a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func loopback(t *testing.T) Allow {
	t.Helper()
	al, err := ParseAllow([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return al
}

// countingLimiter lets every probe go at once and counts the waits.
type countingLimiter struct{ n atomic.Int64 }

func (l *countingLimiter) Wait(context.Context) error { l.n.Add(1); return nil }

// TestProbeStates: an open HTTPS entry answers its handshake and HEAD
// (the redirect is reported, not followed); a closed port is closed.
func TestProbeStates(t *testing.T) {
	t.Parallel()
	var heads, followed atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			followed.Add(1)
		}
		if r.Method == http.MethodHead {
			heads.Add(1)
		}
		w.Header().Set("Server", "nginx/1.25.3")
		http.Redirect(w, r, "https://login.example.com/next", http.StatusFound)
	}))
	defer srv.Close()
	open := strings.TrimPrefix(srv.URL, "https://")
	closed := closedPort(t)
	lim := &countingLimiter{}
	rs, err := Probe(t.Context(), []Target{
		{Asset: "lb", Address: open, TLS: true, HTTP: true},
		{Asset: "gone", Address: closed, HTTP: true},
	}, Options{Allow: loopback(t), Limiter: lim, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	if !r.Contacted || !r.Open || r.State != StateOpen || r.TLS == nil || r.TLS.Version == "" || r.TLS.Subject == "" || r.HTTP == nil ||
		r.HTTP.Status != http.StatusFound || r.HTTP.Server != "nginx/1.25.3" || r.HTTP.Location != "https://login.example.com/next" {
		t.Errorf("Probe(open) = %+v (tls %+v, http %+v), want open with TLS and a 302 to the login page", r, r.TLS, r.HTTP)
	}
	if heads.Load() != 1 || followed.Load() != 0 {
		t.Errorf("Probe(open): %d HEAD requests, %d redirects followed; want 1 and 0", heads.Load(), followed.Load())
	}
	if r := rs[1]; !r.Contacted || r.Open || r.State != StateClosed {
		t.Errorf("Probe(closed) = %+v, want closed", r)
	}
	if lim.n.Load() != 2 {
		t.Errorf("Probe: limiter waited %d times, want 2 (one per contacted target)", lim.n.Load())
	}
}

// TestProbeNeverLeavesAllowList: an address outside the allow list is
// never contacted, as an IP literal or as a name that resolves to it, and
// a dry run contacts nothing at all.
func TestProbeNeverLeavesAllowList(t *testing.T) {
	t.Parallel()
	// 127.0.0.2 is loopback on Linux too, and outside 127.0.0.1/32.
	outside := listen(t, "127.0.0.2:0")
	inside := listen(t, "127.0.0.1:0")
	_, port, _ := net.SplitHostPort(outside.ln.Addr().String())
	_, inPort, _ := net.SplitHostPort(inside.ln.Addr().String())
	resolve := func(_ context.Context, host string) ([]netip.Addr, error) {
		if host == "shop.example.com" {
			return []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("::1")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	ts := []Target{
		{Asset: "a", Address: outside.ln.Addr().String(), HTTP: true},
		{Asset: "b", Address: net.JoinHostPort("shop.example.com", port), TLS: true},
		{Asset: "c", Address: net.JoinHostPort("127.0.0.1", inPort)},
	}
	opt := Options{Allow: loopback(t), Limiter: &countingLimiter{}, Resolve: resolve, Timeout: 5 * time.Second}
	dry, err := DryRun(ts, opt)
	if err != nil {
		t.Fatal(err)
	}
	if outside.count.Load() != 0 || inside.count.Load() != 0 {
		t.Fatalf("DryRun contacted %d outside and %d inside, want none", outside.count.Load(), inside.count.Load())
	}
	if dry[0].State != StateNotAllowed || dry[2].State != StateDryRun || !strings.Contains(dry[1].Detail, "would resolve") {
		t.Errorf("DryRun() = %+v", dry)
	}
	rs, err := Probe(t.Context(), ts, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{StateNotAllowed, StateNotAllowed, StateOpen} {
		if rs[i].State != want || rs[i].Contacted != (want == StateOpen) {
			t.Errorf("Probe(%s).State = %s (contacted %v), want %s", ts[i].Address, rs[i].State, rs[i].Contacted, want)
		}
	}
	// The accept loop counts asynchronously: wait for the one allowed
	// connection before checking that it was the only one.
	for inside.count.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if outside.count.Load() != 0 || inside.count.Load() != 1 {
		t.Errorf("Probe contacted %d outside the allow list and %d inside, want 0 and 1", outside.count.Load(), inside.count.Load())
	}
}

// TestLimiterPaces: at 10 probes a second, five waits span 0.4 s of the
// bubble's fake clock, and no two start closer than 0.1 s.
func TestLimiterPaces(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(10)
		start := time.Now()
		var mu sync.Mutex
		var at []time.Duration
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if err := l.Wait(t.Context()); err != nil {
					t.Error(err)
				}
				mu.Lock()
				at = append(at, time.Since(start))
				mu.Unlock()
			})
		}
		wg.Wait()
		slices.Sort(at)
		for i, d := range at {
			if want := time.Duration(i) * 100 * time.Millisecond; d != want {
				t.Errorf("wait %d ended at %v, want %v", i, d, want)
			}
		}
	})
}

// TestParseAllow: addresses and prefixes are read, anything else is an
// error naming it.
func TestParseAllow(t *testing.T) {
	t.Parallel()
	al, err := ParseAllow([]string{"10.0.0.0/8", "192.0.2.7", "::ffff:198.51.100.1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		addr string
		want bool
	}{{"10.1.2.3", true}, {"11.0.0.1", false}, {"192.0.2.7", true}, {"192.0.2.8", false}, {"198.51.100.1", true}, {"::ffff:10.0.0.1", true}} {
		if got := al.Contains(netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("Allow.Contains(%s) = %v, want %v", c.addr, got, c.want)
		}
	}
	if _, err := ParseAllow([]string{"shop.example.com"}); err == nil || !strings.Contains(err.Error(), "shop.example.com") {
		t.Errorf("ParseAllow(name) = %v, want an error naming it", err)
	}
}
