package fsblob

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Owners. Every Store claims an owner id when it is created: a random id
// whose lock file <root>/owners/<id>.lock it holds an exclusive flock(2) on
// while it is open. Its temporary files are named upload-<id>-<random>. The
// kernel releases a process's flocks when it dies, however it dies, so a
// lock file that another Store can lock belongs to a process that is gone,
// and so do its temporary files: CleanTemp removes them at once, whatever
// their age. The lock file appears (by a rename, already locked) before the
// first temporary file of its owner, so a temporary file whose owner has no
// lock file is an orphan too. Temporary files without an owner id (written
// before owners existed) keep the age rule.

// ownerIDLen is the length of an owner id in hex digits.
const ownerIDLen = 16

// claimOwner creates and locks a new owner's lock file in root/owners and
// returns the id and the locked file, which must stay open.
func claimOwner(root string) (string, *os.File, error) {
	dir := filepath.Join(root, "owners")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", nil, full(fmt.Errorf("create owners directory: %w", err))
	}
	f, err := os.CreateTemp(dir, "claim-*")
	if err != nil {
		return "", nil, full(fmt.Errorf("create owner lock: %w", err))
	}
	fail := func(err error) (string, *os.File, error) {
		f.Close()
		os.Remove(f.Name())
		return "", nil, err
	}
	if ok, err := tryLock(f); err != nil || !ok {
		return fail(fmt.Errorf("lock owner file: %v", err))
	}
	b := make([]byte, ownerIDLen/2)
	rand.Read(b)
	id := hex.EncodeToString(b)
	if err := os.Rename(f.Name(), filepath.Join(dir, id+".lock")); err != nil {
		return fail(fmt.Errorf("claim owner id: %w", err))
	}
	return id, f, nil
}

// ownerOf returns the owner id in a temporary file's name, "" if it has none.
func ownerOf(name string) string {
	rest, ok := strings.CutPrefix(name, "upload-")
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, "-")
	if !ok || len(id) != ownerIDLen || strings.Trim(id, "0123456789abcdef") != "" {
		return ""
	}
	return id
}

// owners tells, during one CleanTemp, which owner ids belong to live
// Stores. It holds the locks of the dead owners it found until release,
// which removes their lock files.
type owners struct {
	dir  string
	self string
	live map[string]bool
	dead map[string]*os.File // nil: no lock file at all
}

func (s *Store) owners() *owners {
	return &owners{dir: filepath.Join(s.root, "owners"), self: s.owner, live: map[string]bool{}, dead: map[string]*os.File{}}
}

// gone reports whether the Store that owns id is gone.
func (o *owners) gone(id string) bool {
	if id == o.self || o.live[id] {
		return false
	}
	if _, ok := o.dead[id]; ok {
		return true
	}
	f, err := os.Open(filepath.Join(o.dir, id+".lock"))
	if errors.Is(err, fs.ErrNotExist) {
		o.dead[id] = nil
		return true
	} else if err != nil {
		o.live[id] = true // unknown: keep its files
		return false
	}
	if ok, err := tryLock(f); err != nil || !ok {
		f.Close()
		o.live[id] = true
		return false
	}
	o.dead[id] = f
	return true
}

// sweepLocks looks at every lock file, so that the lock files of dead
// owners with no temporary file left are removed too, and removes claims
// that never became a lock file (a crash between the two steps).
func (o *owners) sweepLocks(isStale func(fs.DirEntry) bool) {
	entries, _ := os.ReadDir(o.dir)
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".lock"); ok && len(id) == ownerIDLen {
			o.gone(id)
		} else if strings.HasPrefix(e.Name(), "claim-") && isStale(e) {
			os.Remove(filepath.Join(o.dir, e.Name()))
		}
	}
}

// release removes the lock files of the dead owners found and unlocks them.
func (o *owners) release() {
	for id, f := range o.dead {
		if f == nil {
			continue
		}
		os.Remove(filepath.Join(o.dir, id+".lock"))
		f.Close()
	}
}
