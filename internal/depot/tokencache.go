package depot

import (
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultTokenCacheTTL is how long a verified token is trusted without
// asking the store again, when Options.TokenCacheTTL is zero.
const DefaultTokenCacheTTL = 10 * time.Second

// tokenCacheSize bounds the number of cached tokens; a full cache drops an
// arbitrary entry for each new one.
const tokenCacheSize = 4096

// tokenCache remembers the actors of recently verified tokens, so a client
// that sends its token on every request costs one sha256 and a map lookup
// instead of two queries. It caches only successes: a stream of wrong tokens
// cannot fill it, and each still costs its queries.
//
// An entry lives at most ttl. A token's own expiry is checked on every hit.
// RevokeToken in this process drops the user's entries at once; a revocation
// by another process sharing the database (the admin CLI, another replica)
// takes effect here within ttl.
type tokenCache struct {
	ttl time.Duration
	mu  sync.RWMutex
	m   map[[sha256.Size]byte]tokenEntry
	// gen counts invalidations, so that a lookup that raced with one does
	// not put back what was just dropped.
	gen uint64
}

type tokenEntry struct {
	actor   *Actor
	expires *time.Time // the token's own expiry; nil means never
	until   time.Time  // when the entry must be verified again
}

func newTokenCache(ttl time.Duration) *tokenCache {
	if ttl < 0 {
		return nil
	}
	if ttl == 0 {
		ttl = DefaultTokenCacheTTL
	}
	return &tokenCache{ttl: ttl, m: make(map[[sha256.Size]byte]tokenEntry)}
}

// get returns the cached entry for a token's hash, if any and still fresh,
// and the generation to pass to put after a miss.
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (tokenEntry, uint64, bool) {
	if c == nil {
		return tokenEntry{}, 0, false
	}
	c.mu.RLock()
	e, ok := c.m[key]
	gen := c.gen
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return tokenEntry{}, gen, false
	}
	return e, gen, true
}

// put caches a verified token, unless an invalidation happened since the
// get that returned gen.
func (c *tokenCache) put(key [sha256.Size]byte, a *Actor, expires *time.Time, now time.Time, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= tokenCacheSize {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = tokenEntry{actor: a, expires: expires, until: now.Add(c.ttl)}
}

// dropUser forgets every cached token of a user.
func (c *tokenCache) dropUser(userID int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.m {
		if e.actor.User.ID == userID {
			delete(c.m, k)
		}
	}
}

// dropAll forgets every cached token.
func (c *tokenCache) dropAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}
