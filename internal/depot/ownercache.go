package depot

import (
	"strings"
	"sync"
	"time"
)

// ownerCacheSize bounds the number of cached owners.
const ownerCacheSize = 4096

// ownerCache remembers owners (users and organizations: id, kind,
// visibility) looked up by name, for Options.TokenCacheTTL, so a download
// costs one query (the file) rather than two. Owners change rarely and no
// API of this process changes one that exists; another process sharing the
// database that changed an owner's visibility is seen within the TTL, as a
// revoked token is. Memberships are not cached: Access asks the store.
type ownerCache struct {
	ttl time.Duration
	mu  sync.RWMutex
	m   map[string]ownerEntry // by lower-case name
}

type ownerEntry struct {
	owner *Owner
	until time.Time
}

func newOwnerCache(ttl time.Duration) *ownerCache {
	if ttl < 0 {
		return nil
	}
	if ttl == 0 {
		ttl = DefaultTokenCacheTTL
	}
	return &ownerCache{ttl: ttl, m: make(map[string]ownerEntry)}
}

func (c *ownerCache) get(name string, now time.Time) (*Owner, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	e, ok := c.m[strings.ToLower(name)]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.owner, true
}

func (c *ownerCache) put(o *Owner, now time.Time) {
	if c == nil {
		return
	}
	key := strings.ToLower(o.Name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= ownerCacheSize {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = ownerEntry{owner: o, until: now.Add(c.ttl)}
}

// dropAll forgets every cached owner.
func (c *ownerCache) dropAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}
