package sqlite

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// fileCache keeps the files FileByName found, the lookup every download
// makes: a third of a small download's CPU went to it (a read transaction,
// its shared-memory locks, the query).
//
// It is exact for writes made through this Store: every write transaction
// clears it once it has committed (or failed), and a lookup that ran while
// a write committed does not fill it. Writes by another process sharing the
// database file show after at most fileCacheTTL; today no other process
// writes files (the admin CLI manages accounts and settings, gc removes
// only blobs no record describes). Only files found are kept. PostgreSQL,
// which several replicas share, caches no files.
type fileCache struct {
	mu      sync.Mutex
	gen     uint64 // bumped by every write
	entries map[string]cachedFile
}

type cachedFile struct {
	f   depot.File
	gen uint64
	at  time.Time
}

const (
	fileCacheSize = 4096
	fileCacheTTL  = time.Second
)

func fileKey(ownerID int64, typ depot.PackageType, pkg, version, file string) string {
	var b strings.Builder
	b.Grow(24 + len(typ) + len(pkg) + len(version) + len(file))
	b.WriteString(strconv.FormatInt(ownerID, 10))
	for _, s := range []string{string(typ), pkg, version, file} {
		b.WriteByte(0)
		b.WriteString(strings.ToLower(s))
	}
	return b.String()
}

// get returns a copy of the cached file, and the generation a lookup made
// now must pass to put.
func (c *fileCache) get(key string) (*depot.File, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || e.gen != c.gen || time.Since(e.at) > fileCacheTTL {
		return nil, c.gen
	}
	f := e.f
	return &f, c.gen
}

// put keeps f, found by a lookup that started at generation gen, unless a
// write committed since.
func (c *fileCache) put(key string, f *depot.File, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.entries == nil {
		c.entries = make(map[string]cachedFile)
	}
	if len(c.entries) >= fileCacheSize {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = cachedFile{f: *f, gen: gen, at: time.Now()}
}

// invalidate forgets every file; called after each write transaction.
func (c *fileCache) invalidate() {
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.mu.Unlock()
}
