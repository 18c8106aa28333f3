package server

import (
	"sync"
	"time"

	"github.com/ctem-dev/ctem/internal/store"
)

// DefaultTokenCacheTTL is how long a server trusts a token it read from
// the database before reading it again, when Config.TokenCacheTTL is 0.
//
// A token revoked through this server is refused at once (the revocation
// empties the cache); one revoked by another process sharing the database
// (`ctem token revoke`, a second server) is refused at most this long
// after.
const DefaultTokenCacheTTL = 5 * time.Second

// maxCachedTokens bounds the token cache: beyond it, entries past their
// lifetime are dropped, and if none is, the whole cache.
const maxCachedTokens = 4096

// tokenCache keeps the tokens recently read by the digest of their
// secret, so that a request does not read its token from the database
// (a statement for every request, about 15% of a page's CPU under load).
// Only tokens found are kept: an unknown digest is looked up every time.
type tokenCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedToken
	// gen counts invalidations: a lookup begun before one does not store
	// what it read (it may be the token before its revocation).
	gen uint64
}

type cachedToken struct {
	t  store.Token
	at time.Time
}

// get returns the token cached under hash when it was read less than the
// cache's lifetime before now, and the generation a lookup that misses
// must hand to put.
func (c *tokenCache) get(hash string, now time.Time) (store.Token, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[hash]; ok && c.ttl > 0 && now.Sub(e.at) < c.ttl && !now.Before(e.at) {
		return e.t, true, c.gen
	}
	return store.Token{}, false, c.gen
}

// put keeps t, read at time at, under hash, unless the cache was
// invalidated since gen.
func (c *tokenCache) put(hash string, t store.Token, at time.Time, gen uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil {
		c.m = map[string]cachedToken{}
	}
	if len(c.m) >= maxCachedTokens {
		for k, e := range c.m {
			if at.Sub(e.at) >= c.ttl {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCachedTokens {
			clear(c.m)
		}
	}
	c.m[hash] = cachedToken{t, at}
}

// invalidate forgets every cached token: called when a token changes
// through this server (a revocation).
func (c *tokenCache) invalidate() {
	c.mu.Lock()
	clear(c.m)
	c.gen++
	c.mu.Unlock()
}
