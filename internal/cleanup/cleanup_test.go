package cleanup_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/cleanup"
	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/fsblob"
	"github.com/depot-registry/depot/internal/sqlite"
)

type plainPasswords struct{}

func (plainPasswords) Hash(p string) (string, error) { return p, nil }
func (plainPasswords) Verify(hash, p string) error {
	if hash != p {
		return depot.ErrUnauthenticated
	}
	return nil
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// blobs counts deletes and calls onDelete after each.
type blobs struct {
	depot.BlobStore
	deletes  atomic.Int32
	onDelete func(n int32)
}

func (b *blobs) Delete(ctx context.Context, sha string) error {
	err := b.BlobStore.Delete(ctx, sha)
	if n := b.deletes.Add(1); b.onDelete != nil {
		b.onDelete(n)
	}
	return err
}

type env struct {
	svc   *depot.Service
	clock *clock
	blobs *blobs
	alice *depot.Actor
}

// newEnv returns a service over SQLite and disk whose user alice has
// package app with versions 1..n, a day apart, and a rule keeping 2.
func newEnv(t *testing.T, n int) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "depot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	fs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{clock: &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, blobs: &blobs{BlobStore: fs}}
	e.svc = depot.NewService(store, e.blobs, plainPasswords{}, &depot.Options{Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	u, err := e.svc.CreateUser(ctx, depot.NewUser{Username: "alice", Email: "a@example.com", Password: "pw-alice-123"})
	if err != nil {
		t.Fatal(err)
	}
	a := &depot.Actor{User: u}
	e.alice = a
	for i := 1; i <= n; i++ {
		e.clock.Set(time.Date(2026, 1, i, 0, 0, 0, 0, time.UTC))
		body := fmt.Sprintf("content %d", i)
		if _, err := e.svc.UploadFile(ctx, a, depot.FileRef{Owner: "alice", Type: depot.TypeGeneric, Package: "app", Version: fmt.Sprintf("1.0.%d", i), File: "f"}, int64(len(body)), strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.CreateCleanupRule(ctx, a, "alice", depot.CleanupRule{Enabled: true, KeepCount: 2}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	return e
}

func (e *env) versions(t *testing.T) int {
	t.Helper()
	page, err := e.svc.ListVersions(context.Background(), e.alice, depot.PackageQuery{Owner: "alice", Type: depot.TypeGeneric, Name: "app", ExactName: true})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Versions)
}

func (e *env) scheduler(t *testing.T, holder string) *cleanup.Scheduler {
	t.Helper()
	return e.schedulerLease(t, holder, 10*time.Minute)
}

func (e *env) schedulerLease(t *testing.T, holder string, lease time.Duration) *cleanup.Scheduler {
	t.Helper()
	s, err := cleanup.New(e.svc, cleanup.Options{Interval: time.Hour, Lease: lease, Holder: holder, Now: e.clock.Now,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOnePassPerSlot: replicas asking at once run a slot's pass once; the
// next slot runs again (finding nothing left to delete).
func TestOnePassPerSlot(t *testing.T) {
	e := newEnv(t, 6)
	ctx := context.Background()
	var ran atomic.Int32
	var deleted atomic.Int64
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.scheduler(t, fmt.Sprint("replica-", i)).TryPass(ctx)
			if err != nil {
				t.Errorf("TryPass: %v", err)
			}
			if r.Ran {
				ran.Add(1)
				deleted.Add(r.Deleted)
			}
		}()
	}
	wg.Wait()
	if ran.Load() != 1 || deleted.Load() != 4 {
		t.Fatalf("%d replicas ran the pass, deleting %d; want 1 deleting 4", ran.Load(), deleted.Load())
	}
	if n := e.versions(t); n != 2 {
		t.Errorf("%d versions left, want 2", n)
	}
	if r, _ := e.scheduler(t, "late").TryPass(ctx); r.Ran {
		t.Error("a second pass ran in the same slot")
	}
	e.clock.Set(e.clock.Now().Add(time.Hour))
	r, err := e.scheduler(t, "next").TryPass(ctx)
	if err != nil || !r.Ran || r.Deleted != 0 {
		t.Errorf("next slot: ran %v deleted %d err %v; want a pass deleting nothing", r.Ran, r.Deleted, err)
	}
	ps, err := e.svc.CleanupPasses(ctx, 10)
	if err != nil || len(ps) != 2 || ps[0].FinishedAt == nil || ps[1].Deleted != 4 {
		t.Errorf("passes = %+v, %v", ps, err)
	}
}

// TestCrashMidPass: a pass stopped after its first delete leaves the
// registry consistent (every version whole or gone, blobs with it) and its
// row unfinished; its lease keeps the next slot's pass off until it runs
// out, and then that pass deletes the rest.
func TestCrashMidPass(t *testing.T) {
	e := newEnv(t, 6)
	ctx, cancel := context.WithCancel(context.Background())
	e.blobs.onDelete = func(int32) { cancel() }
	r, err := e.schedulerLease(t, "dies", 3*time.Hour).TryPass(ctx)
	if !errors.Is(err, context.Canceled) || !r.Ran {
		t.Fatalf("TryPass = %+v, %v; want a pass interrupted", r, err)
	}
	e.blobs.onDelete = nil
	if n := e.versions(t); n != 5 {
		t.Fatalf("%d versions after the interrupted pass, want 5 (one deleted)", n)
	}
	if n := e.blobs.deletes.Load(); n != 1 {
		t.Fatalf("%d blobs deleted, want 1", n)
	}
	bg := context.Background()
	ps, _ := e.svc.CleanupPasses(bg, 1)
	if len(ps) != 1 || ps[0].FinishedAt != nil {
		t.Fatalf("interrupted pass = %+v, want unfinished", ps)
	}
	// Next slot, lease not out yet: blocked.
	e.clock.Set(e.clock.Now().Add(time.Hour))
	if r, _ := e.scheduler(t, "early").TryPass(bg); r.Ran {
		t.Error("a pass ran while the dead pass's lease held")
	}
	e.clock.Set(r.Pass.LeaseUntil.Add(time.Minute))
	r2, err := e.scheduler(t, "next").TryPass(bg)
	if err != nil || !r2.Ran || r2.Deleted != 3 {
		t.Fatalf("pass after the lease ran out: %+v, %v; want it to delete the other 3", r2, err)
	}
	if n := e.versions(t); n != 2 {
		t.Errorf("%d versions left, want 2", n)
	}
	if n := e.blobs.deletes.Load(); n != 4 {
		t.Errorf("%d blobs deleted in all, want 4", n)
	}
}

// TestRunStopsWithContext: Run polls and returns when its context ends.
func TestRunStopsWithContext(t *testing.T) {
	e := newEnv(t, 3)
	ticks := make(chan time.Time)
	after := func(d time.Duration) <-chan time.Time {
		if d == time.Minute { // the poll; the lease's wait never ends
			return ticks
		}
		return nil
	}
	s, err := cleanup.New(e.svc, cleanup.Options{Interval: time.Hour, Poll: time.Minute, Now: e.clock.Now, After: after,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	ticks <- time.Time{} // the first pass has run when Run waits again
	if n := e.versions(t); n != 2 {
		t.Errorf("%d versions after Run's first pass, want 2", n)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := cleanup.New(e.svc, cleanup.Options{}); err == nil {
		t.Error("New with no interval succeeded")
	}
}
