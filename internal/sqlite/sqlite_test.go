package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlite"
	"github.com/depot-registry/depot/internal/storetest"
)

// MustOpen opens the database at path and closes it when the test ends.
func MustOpen(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) depot.Store {
		return MustOpen(t, filepath.Join(t.TempDir(), "depot.db"))
	})
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "depot.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	alice := storetest.MustCreateUser(t, s, "alice")
	nf := storetest.NewFile(alice, "tool", "1.0", "tool.bin", "content")
	storetest.MustCreateFile(t, s, nf)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Migrations already applied are skipped; the data is still there.
	for i := range 2 {
		s := MustOpen(t, path)
		u, err := s.UserByName(ctx, "alice")
		if err != nil || u.ID != alice.ID {
			t.Fatalf("open #%d: UserByName = %v, %v; want alice %d", i+2, u, err, alice.ID)
		}
		if _, err := s.FileByName(ctx, alice.ID, nf.Type, nf.Package, nf.Version, nf.File); err != nil {
			t.Errorf("open #%d: FileByName: %v", i+2, err)
		}
	}
}

// TestTwoStores opens the database twice, as the admin CLI does while the
// server runs, and writes through both at once.
func TestTwoStores(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "depot.db")
	a := MustOpen(t, path)
	b := MustOpen(t, path)

	alice := storetest.MustCreateUser(t, a, "alice")
	if u, err := b.UserByName(ctx, "alice"); err != nil || u.ID != alice.ID {
		t.Fatalf("the other store: UserByName = %v, %v; want alice %d", u, err, alice.ID)
	}
	bob := storetest.MustCreateUser(t, b, "bob")
	if u, err := a.UserByID(ctx, bob.ID); err != nil || u.Name != "bob" {
		t.Fatalf("the first store: UserByID = %v, %v; want bob", u, err)
	}

	// Writers on both stores at once, into one new version.
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			nf := storetest.NewFile(alice, "tool", "1.0", fmt.Sprintf("part-%02d", i), fmt.Sprintf("part %d", i))
			if _, errs[i] = s.CreateFile(ctx, nf, func(context.Context) error { return nil }); errs[i] != nil {
				return
			}
			errs[i] = s.CreateToken(ctx, &depot.Token{
				UserID: bob.ID, Name: fmt.Sprintf("token-%02d", i), Hash: fmt.Sprintf("hash-%02d", i),
				LastEight: fmt.Sprintf("%08d", i), Scopes: depot.Scopes{depot.ScopeAll},
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	for _, s := range []*sqlite.Store{a, b} {
		if toks, err := s.ListTokens(ctx, bob.ID); err != nil || len(toks) != n {
			t.Errorf("ListTokens = %d tokens, %v; want %d", len(toks), err, n)
		}
	}
	for i := range n {
		for _, s := range []*sqlite.Store{a, b} {
			if _, err := s.FileByName(ctx, alice.ID, depot.TypeGeneric, "tool", "1.0", fmt.Sprintf("part-%02d", i)); err != nil {
				t.Errorf("FileByName(part-%02d): %v", i, err)
			}
		}
	}
}

// TestGroupCommit shows concurrent CreateFile calls sharing a transaction:
// their blob commits overlap, which one transaction per file (the single
// writer holding it across the commit) would not allow.
func TestGroupCommit(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "depot.db"))
	alice := storetest.MustCreateUser(t, s, "alice")
	const calls = 16
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, calls)
	for i := range calls {
		wg.Go(func() {
			<-start
			nf := storetest.NewFile(alice, "tool", "1.0", fmt.Sprintf("f%d", i), fmt.Sprint(i))
			_, errs[i] = s.CreateFile(context.Background(), nf, func(context.Context) error {
				n := inside.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(5 * time.Millisecond)
				inside.Add(-1)
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("CreateFile #%d: %v", i, err)
		}
	}
	if m := most.Load(); m < 2 {
		t.Errorf("at most %d blob commits ran at once, want several (calls grouped in one transaction)", m)
	}
}

// TestFileCacheOtherProcess shows a file deleted through another
// connection to the same database file (another process, as the admin CLI
// is) stops being found within the file cache's lifetime of a second.
func TestFileCacheOtherProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "depot.db")
	a, b := MustOpen(t, path), MustOpen(t, path)
	alice := storetest.MustCreateUser(t, a, "alice")
	nf := storetest.NewFile(alice, "tool", "1.0", "tool.bin", "content")
	storetest.MustCreateFile(t, a, nf)
	lookup := func() error {
		_, err := a.FileByName(ctx, nf.OwnerID, nf.Type, nf.Package, nf.Version, nf.File)
		return err
	}
	if err := lookup(); err != nil {
		t.Fatalf("FileByName: %v", err)
	}
	noop := func(context.Context, string) error { return nil }
	if err := b.DeleteFile(ctx, nf.OwnerID, nf.Type, nf.Package, nf.Version, nf.File, 0, noop); err != nil {
		t.Fatalf("DeleteFile through the other connection: %v", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := lookup()
		if errors.Is(err, depot.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatalf("FileByName: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the deleted file was still found 3 s after another connection deleted it")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
