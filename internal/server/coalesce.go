package server

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

// maxShared is the largest response the coalescer shares.
const maxShared = 8 << 20

// coalescer shares one computation of a read among the identical reads
// that arrive while it runs: under load, many clients asking for the
// same page (a dashboard's first page of exposures) cost one listing,
// not one each. Nothing is kept once the computation ends, so a read
// never returns data older than the reads already in flight when it
// arrived; and the key holds a generation that every change made
// through this server bumps, so a read that follows a change (a triage,
// an ingest job's end) never shares a computation begun before it.
type coalescer struct {
	gen   atomic.Uint64
	mu    sync.Mutex
	calls map[string]*sharedCall
}

// sharedCall is one computation in flight and, once done is closed, its
// response: ok when it may be shared (a 200 under maxShared bytes).
type sharedCall struct {
	done  chan struct{}
	ok    bool
	ctype string
	body  []byte
	// waiters counts the reads that waited for it.
	waiters atomic.Int64
}

// bump records a change: reads from now on compute afresh.
func (c *coalescer) bump() { c.gen.Add(1) }

// key names a read: what it asks (the path and query) and what it may
// see (the principal's team; read routes answer the same to every role
// that may read).
func (c *coalescer) key(r *http.Request, p *Principal) string {
	team := ""
	if p != nil {
		team = p.Team
	}
	return strconv.FormatUint(c.gen.Load(), 10) + "\x00" + team + "\x00" + r.URL.RequestURI()
}

// serve answers r from the computation in flight under key when there
// is one and it succeeds, else runs h, sharing its response with the
// reads that arrive meanwhile.
func (c *coalescer) serve(key string, w http.ResponseWriter, r *http.Request, h http.Handler) {
	c.mu.Lock()
	if c.calls == nil {
		c.calls = map[string]*sharedCall{}
	}
	if call, ok := c.calls[key]; ok {
		c.mu.Unlock()
		call.waiters.Add(1)
		select {
		case <-call.done:
		case <-r.Context().Done():
			return
		}
		if call.ok {
			w.Header().Set("Content-Type", call.ctype)
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(call.body)
			return
		}
		h.ServeHTTP(w, r)
		return
	}
	call := &sharedCall{done: make(chan struct{})}
	c.calls[key] = call
	c.mu.Unlock()
	tee := &teeWriter{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		c.mu.Lock()
		delete(c.calls, key)
		c.mu.Unlock()
		call.ok = tee.status == http.StatusOK && !tee.over
		call.ctype, call.body = tee.Header().Get("Content-Type"), tee.buf.Bytes()
		close(call.done)
	}()
	h.ServeHTTP(tee, r)
}

// teeWriter writes a response and keeps a copy of it, up to maxShared.
type teeWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
	over   bool
}

func (t *teeWriter) WriteHeader(code int) {
	t.status = code
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(b []byte) (int, error) {
	if !t.over {
		if t.buf.Len()+len(b) > maxShared {
			t.over = true
			t.buf = bytes.Buffer{}
		} else {
			t.buf.Write(b)
		}
	}
	return t.ResponseWriter.Write(b)
}

func (t *teeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
