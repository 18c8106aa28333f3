package server

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestCoalescer runs identical reads while one is in flight: they share
// its response, one computation in all; a read under another team, or
// after a change, computes its own; a failed computation is not shared.
func TestCoalescer(t *testing.T) {
	t.Parallel()
	var c coalescer
	var runs atomic.Int32
	release := make(chan struct{})
	status := http.StatusOK
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := runs.Add(1)
		if n == 1 {
			<-release
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"n":1}`))
	})
	read := func(team string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/api/v1/exposures?limit=100", nil)
		w := httptest.NewRecorder()
		c.serve(c.key(r, &Principal{Team: team}), w, r, h)
		return w
	}
	var wg sync.WaitGroup
	results := make([]*httptest.ResponseRecorder, 10)
	wg.Go(func() { results[0] = read("") })
	for runs.Load() == 0 {
		// wait for the first read to be in flight
	}
	for i := 1; i < len(results); i++ {
		wg.Go(func() { results[i] = read("") })
	}
	c.mu.Lock()
	call := c.calls[c.key(httptest.NewRequest("GET", "/api/v1/exposures?limit=100", nil), &Principal{})]
	c.mu.Unlock()
	if call == nil {
		t.Fatal("no computation in flight")
	}
	for call.waiters.Load() < int64(len(results)-1) {
		// the followers queue behind it before it ends
	}
	other := read("team-web") // another team: its own computation
	close(release)
	wg.Wait()
	for i, w := range results {
		if w.Code != 200 || w.Body.String() != `{"n":1}` || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("read %d = %d %q %q, want the shared 200", i, w.Code, w.Body, w.Header().Get("Content-Type"))
		}
	}
	if other.Code != 200 {
		t.Errorf("read of another team = %d, want 200", other.Code)
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("computations = %d, want 2 (one shared by %d reads, one for the other team)", n, len(results))
	}
	// A failed computation is not shared: each read makes its own.
	status = http.StatusInternalServerError
	if w := read(""); w.Code != http.StatusInternalServerError {
		t.Errorf("read = %d, want 500", w.Code)
	}
	before := c.key(httptest.NewRequest("GET", "/x", nil), nil)
	c.bump()
	if after := c.key(httptest.NewRequest("GET", "/x", nil), nil); after == before {
		t.Errorf("key after bump = %q, want another than %q", after, before)
	}
	c.mu.Lock()
	left := len(c.calls)
	c.mu.Unlock()
	if left != 0 {
		t.Errorf("computations kept after they ended = %d, want 0", left)
	}
}
