package server

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

// tokenID returns the id of the fixture's token named name.
func (f *fixture) tokenID(t testing.TB, name string) string {
	t.Helper()
	ts, err := f.st.ListTokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range ts {
		if tk.Name == name {
			return tk.ID
		}
	}
	t.Fatalf("no token named %q", name)
	return ""
}

// TestTokenCacheRevokedHere: a token revoked through the server is
// refused at the next request, though it was just read into the cache.
func TestTokenCacheRevokedHere(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, false)
	if r := f.do(t, "GET", "/api/v1/scans", "viewer", "", nil); r.status != http.StatusOK {
		t.Fatalf("GET /api/v1/scans before = %d, want 200", r.status)
	}
	if r := f.do(t, "DELETE", "/api/v1/tokens/"+f.tokenID(t, "viewer"), "admin", "", nil); r.status != http.StatusOK {
		t.Fatalf("DELETE token = %d %s, want 200", r.status, r.body)
	}
	if r := f.do(t, "GET", "/api/v1/scans", "viewer", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/scans after revocation = %d, want 401", r.status)
	}
}

// TestTokenCacheRevokedElsewhere: a token revoked by another process
// (straight in the database, as `ctem token revoke` does) is trusted
// until the cache's lifetime passes, then refused; with the cache off it
// is refused at once.
func TestTokenCacheRevokedElsewhere(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		// within is the status just after the revocation.
		within int
	}{
		{"cached", 10 * time.Second, http.StatusOK},
		{"off", -1, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var clock atomic.Int64
			clock.Store(time.Now().UnixNano())
			f := newFixtureWith(t, Limits{}, false, func(c *Config) {
				c.TokenCacheTTL = tc.ttl
				c.Now = func() time.Time { return time.Unix(0, clock.Load()) }
			})
			if r := f.do(t, "GET", "/api/v1/scans", "viewer", "", nil); r.status != http.StatusOK {
				t.Fatalf("GET before = %d, want 200", r.status)
			}
			if _, err := f.st.RevokeToken(context.Background(), f.tokenID(t, "viewer"), time.Unix(0, clock.Load())); err != nil {
				t.Fatal(err)
			}
			clock.Add(int64(time.Second))
			if r := f.do(t, "GET", "/api/v1/scans", "viewer", "", nil); r.status != tc.within {
				t.Errorf("GET 1 s after a revocation elsewhere = %d, want %d", r.status, tc.within)
			}
			clock.Add(int64(10 * time.Second))
			if r := f.do(t, "GET", "/api/v1/scans", "viewer", "", nil); r.status != http.StatusUnauthorized {
				t.Errorf("GET 11 s after a revocation elsewhere = %d, want 401", r.status)
			}
		})
	}
}

// TestTokenCacheGeneration: a lookup that began before an invalidation
// does not store what it read.
func TestTokenCacheGeneration(t *testing.T) {
	t.Parallel()
	c := tokenCache{ttl: time.Minute}
	now := time.Now()
	_, ok, gen := c.get("h", now)
	if ok {
		t.Fatal("get(h) on an empty cache found a token")
	}
	c.invalidate()
	c.put("h", tokenOf("a"), now, gen)
	if _, ok, _ := c.get("h", now); ok {
		t.Errorf("get(h) after a put begun before an invalidation = found, want not found")
	}
	_, _, gen = c.get("h", now)
	c.put("h", tokenOf("a"), now, gen)
	if got, ok, _ := c.get("h", now.Add(30*time.Second)); !ok || got.ID != "a" {
		t.Errorf("get(h) 30 s later = %q, %v, want a, true", got.ID, ok)
	}
	if _, ok, _ := c.get("h", now.Add(time.Minute)); ok {
		t.Errorf("get(h) a lifetime later = found, want not found")
	}
}

func tokenOf(id string) store.Token { return store.Token{ID: id} }

// TestReadsWhileWriting: with another connection holding SQLite's write
// lock (an ingest's transaction), reads still answer, authentication
// included (the token is not cached yet): readers use their own
// connections and never wait for the writer. A read that waited would
// wait for the busy timeout, minutes; the bound here is generous.
func TestReadsWhileWriting(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Limits{}, true)
	ctx := context.Background()
	tx, err := f.st.SQL().BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE jobs SET error = error WHERE id = ''`); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/exposures?limit=100", "/api/v1/paths", "/api/v1/scans"} {
		done := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest("GET", f.url+path, nil)
			req.Header.Set("Authorization", "Bearer "+f.tokens["analyst"])
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			res.Body.Close()
			done <- res.StatusCode
		}()
		select {
		case st := <-done:
			if st != http.StatusOK {
				t.Errorf("GET %s while a writer holds the lock = %d, want 200", path, st)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("GET %s waited for the writer", path)
		}
	}
}
