package verify_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/fsblob"
	"github.com/depot-registry/depot/internal/sqlite"
	"github.com/depot-registry/depot/internal/storetest"
	"github.com/depot-registry/depot/internal/verify"
)

// registry is a real SQLite store and blob directory.
type registry struct {
	store depot.Store
	blobs *fsblob.Store
	dir   string
	users map[string]*depot.User
}

func newRegistry(t *testing.T) *registry {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "depot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return &registry{store: store, blobs: blobs, dir: dir, users: map[string]*depot.User{}}
}

// put stores a file of owner with content, blob and record.
func (r *registry) put(t *testing.T, owner, pkg, version, file, content string) depot.Blob {
	t.Helper()
	u := r.users[owner]
	if u == nil {
		u = storetest.MustCreateUser(t, r.store, owner)
		r.users[owner] = u
	}
	ctx := context.Background()
	nf := storetest.NewFile(u, pkg, version, file, content)
	up, err := r.blobs.NewUpload(ctx, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	if _, err := up.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.CreateFile(ctx, nf, func(ctx context.Context) error { return up.Commit(ctx, nf.Blob.SHA256) }); err != nil {
		t.Fatal(err)
	}
	return nf.Blob
}

func (r *registry) path(sha string) string {
	return filepath.Join(r.dir, "blobs", "sha256", sha[:2], sha)
}

func run(t *testing.T, v *verify.Verifier) verify.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := v.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return sum
}

// collect returns options that gather every result.
func collect(opts verify.Options) (*verify.Options, *[]verify.Result) {
	var out []verify.Result
	opts.OnResult = func(r verify.Result) { out = append(out, r) }
	return &opts, &out
}

func TestIntact(t *testing.T) {
	r := newRegistry(t)
	var bytes int64
	for i := range 20 {
		b := r.put(t, "alice", "app", fmt.Sprint(i), "f.bin", fmt.Sprintf("content %d %s", i, string(make([]byte, i*1000))))
		bytes += b.Size
	}
	r.put(t, "alice", "app", "0", "empty", "")
	opts, results := collect(verify.Options{Workers: 3, PageSize: 4, Record: true})
	sum := run(t, verify.New(r.store, r.blobs, opts))
	if sum.Blobs != 21 || sum.Intact != 21 || sum.Damaged() != 0 || sum.Unreadable != 0 || sum.Bytes != bytes {
		t.Errorf("summary %+v, want 21 intact blobs of %d bytes", sum, bytes)
	}
	seen := map[string]bool{}
	for _, res := range *results {
		if seen[res.Blob.SHA256] {
			t.Errorf("blob %s checked twice", res.Blob.SHA256)
		}
		seen[res.Blob.SHA256] = true
		if res.SHA256 != res.Blob.SHA256 {
			t.Errorf("blob %s hashed to %q", res.Blob.SHA256, res.SHA256)
		}
	}
	if d, _ := r.store.DamagedBlobs(context.Background()); len(d) != 0 {
		t.Errorf("an intact registry recorded damage: %v", d)
	}
}

func TestDamage(t *testing.T) {
	r := newRegistry(t)
	ctx := context.Background()
	good := r.put(t, "alice", "app", "1.0", "good.bin", "all is well")
	corrupt := r.put(t, "alice", "app", "1.0", "corrupt.bin", "0123456789")
	r.put(t, "bob", "lib", "2.0", "same-bytes.bin", "0123456789") // two files, one blob
	truncated := r.put(t, "alice", "app", "1.0", "truncated.bin", "a longer content")
	longer := r.put(t, "alice", "app", "1.0", "longer.bin", "short")
	missing := r.put(t, "bob", "lib", "2.0", "missing.bin", "gone soon")

	if err := os.WriteFile(r.path(corrupt.SHA256), []byte("0123456788"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(r.path(truncated.SHA256), 3); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.path(longer.SHA256), []byte("short and more"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(r.path(missing.SHA256)); err != nil {
		t.Fatal(err)
	}
	opts, results := collect(verify.Options{Workers: 2, PageSize: 2, Record: true})
	sum := run(t, verify.New(r.store, r.blobs, opts))
	if sum.Blobs != 5 || sum.Intact != 1 || sum.Corrupt != 2 || sum.Truncated != 1 || sum.Missing != 1 {
		t.Errorf("summary %+v, want 5 blobs: 1 intact, 2 corrupt, 1 truncated, 1 missing", sum)
	}
	want := map[string]struct {
		problem depot.BlobProblem
		files   []string
	}{
		good.SHA256:      {"", nil},
		corrupt.SHA256:   {depot.BlobCorrupt, []string{"alice/generic/app/1.0/corrupt.bin", "bob/generic/lib/2.0/same-bytes.bin"}},
		truncated.SHA256: {depot.BlobTruncated, []string{"alice/generic/app/1.0/truncated.bin"}},
		longer.SHA256:    {depot.BlobCorrupt, []string{"alice/generic/app/1.0/longer.bin"}},
		missing.SHA256:   {depot.BlobMissing, []string{"bob/generic/lib/2.0/missing.bin"}},
	}
	for _, res := range *results {
		w := want[res.Blob.SHA256]
		var files []string
		for _, f := range res.Files {
			files = append(files, fmt.Sprintf("%s/%s/%s/%s/%s", f.Owner, f.Type, f.Package, f.Version, f.File))
		}
		if res.Problem != w.problem || !slices.Equal(files, w.files) || res.Err != nil {
			t.Errorf("blob %.12s: %q %v (err %v), want %q %v", res.Blob.SHA256, res.Problem, files, res.Err, w.problem, w.files)
		}
	}
	damaged, err := r.store.DamagedBlobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]depot.BlobProblem{}
	for _, d := range damaged {
		recorded[d.SHA256] = d.Problem
	}
	for sha, w := range want {
		if recorded[sha] != w.problem {
			t.Errorf("recorded %q for %.12s, want %q", recorded[sha], sha, w.problem)
		}
	}

	// Repaired, the next pass clears the record.
	if err := os.WriteFile(r.path(corrupt.SHA256), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum = run(t, verify.New(r.store, r.blobs, &verify.Options{Record: true}))
	if sum.Cleared != 1 || sum.Corrupt != 1 || sum.Intact != 2 {
		t.Errorf("after the repair: %+v, want 1 cleared, 2 intact, 1 corrupt", sum)
	}
	damaged, _ = r.store.DamagedBlobs(ctx)
	for _, d := range damaged {
		if d.SHA256 == corrupt.SHA256 {
			t.Errorf("the repaired blob is still recorded damaged")
		}
	}

	// Without Record, nothing is written.
	r2 := newRegistry(t)
	b := r2.put(t, "alice", "x", "1", "x", "xxxx")
	os.Remove(r2.path(b.SHA256))
	if sum := run(t, verify.New(r2.store, r2.blobs, nil)); sum.Missing != 1 {
		t.Errorf("summary %+v, want 1 missing", sum)
	}
	if d, _ := r2.store.DamagedBlobs(ctx); len(d) != 0 {
		t.Errorf("a pass without Record recorded %v", d)
	}
}

func TestOwner(t *testing.T) {
	r := newRegistry(t)
	r.put(t, "alice", "a", "1", "a", "alice's")
	r.put(t, "alice", "a", "1", "shared", "shared")
	r.put(t, "bob", "b", "1", "b", "bob's")
	r.put(t, "bob", "b", "1", "shared", "shared")
	r.put(t, "bob", "b", "1", "c", "bob's other")
	for owner, n := range map[string]int64{"alice": 2, "bob": 3} {
		sum := run(t, verify.New(r.store, r.blobs, &verify.Options{OwnerID: r.users[owner].ID}))
		if sum.Blobs != n || sum.Intact != n {
			t.Errorf("%s's blobs: %+v, want %d", owner, sum, n)
		}
	}
}

func TestSample(t *testing.T) {
	r := newRegistry(t)
	for i := range 200 {
		r.put(t, "alice", "app", "1", fmt.Sprint(i), fmt.Sprint("blob ", i))
	}
	var firsts []string
	for seed := range uint64(4) {
		opts, results := collect(verify.Options{Sample: verify.Sample{Count: 30}, PageSize: 7, Rand: rand.New(rand.NewPCG(seed, seed))})
		sum := run(t, verify.New(r.store, r.blobs, opts))
		seen := map[string]bool{}
		for _, res := range *results {
			seen[res.Blob.SHA256] = true
		}
		if sum.Blobs != 30 || len(seen) != 30 {
			t.Errorf("seed %d: %d blobs checked (%d distinct), want 30", seed, sum.Blobs, len(seen))
		}
		var got []string
		for sha := range seen {
			got = append(got, sha)
		}
		slices.Sort(got)
		firsts = append(firsts, got[0])
	}
	slices.Sort(firsts)
	if len(slices.Compact(slices.Clone(firsts))) < 2 {
		t.Errorf("four seeds sampled the same blobs: %v", firsts)
	}
	// More than there are: each once.
	if sum := run(t, verify.New(r.store, r.blobs, &verify.Options{Sample: verify.Sample{Count: 500}, PageSize: 9})); sum.Blobs != 200 {
		t.Errorf("a sample of 500 of 200 checked %d", sum.Blobs)
	}
	for seed := range uint64(4) {
		sum := run(t, verify.New(r.store, r.blobs, &verify.Options{Sample: verify.Sample{Fraction: 0.25}, PageSize: 9, Rand: rand.New(rand.NewPCG(seed, 1))}))
		if sum.Blobs < 20 || sum.Blobs > 90 {
			t.Errorf("seed %d: a 25%% sample of 200 checked %d", seed, sum.Blobs)
		}
	}
}

func TestParseSample(t *testing.T) {
	for in, want := range map[string]verify.Sample{"10": {Count: 10}, "25%": {Fraction: 0.25}, " 0.5 %": {Fraction: 0.005}, "100%": {}} {
		if got, err := verify.ParseSample(in); err != nil || got != want {
			t.Errorf("ParseSample(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-3", "0%", "101%", "ten", "5x"} {
		if _, err := verify.ParseSample(in); err == nil {
			t.Errorf("ParseSample(%q) accepted", in)
		}
	}
}

// countingBlobs records how many blobs are open at once.
type countingBlobs struct {
	verify.Blobs
	open, most atomic.Int32
}

type countedReader struct {
	depot.BlobReader
	c    *countingBlobs
	once sync.Once
}

func (r *countedReader) Close() error {
	r.once.Do(func() { r.c.open.Add(-1) })
	return r.BlobReader.Close()
}

func (c *countingBlobs) Open(ctx context.Context, sha string) (depot.BlobReader, error) {
	r, err := c.Blobs.Open(ctx, sha)
	if err != nil {
		return nil, err
	}
	n := c.open.Add(1)
	for {
		m := c.most.Load()
		if n <= m || c.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(5 * time.Millisecond)
	return &countedReader{BlobReader: r, c: c}, nil
}

func TestWorkersAndRate(t *testing.T) {
	r := newRegistry(t)
	for i := range 8 {
		r.put(t, "alice", "app", "1", fmt.Sprint(i), string(bytes.Repeat([]byte{byte(i)}, 128<<10)))
	}
	cb := &countingBlobs{Blobs: r.blobs}
	run(t, verify.New(r.store, cb, &verify.Options{Workers: 4}))
	if got := cb.most.Load(); got < 2 || got > 4 {
		t.Errorf("4 workers had %d blobs open at once", got)
	}
	cb = &countingBlobs{Blobs: r.blobs}
	run(t, verify.New(r.store, cb, &verify.Options{Workers: 1}))
	if got := cb.most.Load(); got != 1 {
		t.Errorf("1 worker had %d blobs open at once", got)
	}

	// 1 MiB at 1 MiB/s, of which the first chunk (256 KiB) is free: at
	// least 0.75 s.
	start := time.Now()
	sum := run(t, verify.New(r.store, r.blobs, &verify.Options{Workers: 4, Rate: 1 << 20}))
	if elapsed := time.Since(start); elapsed < 650*time.Millisecond || sum.Bytes != 1<<20 {
		t.Errorf("1 MiB at 1 MiB/s took %v (%d bytes), want at least 0.7 s", elapsed, sum.Bytes)
	}
	start = time.Now()
	run(t, verify.New(r.store, r.blobs, &verify.Options{Workers: 4}))
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Errorf("1 MiB without a limit took %v", elapsed)
	}
}

func TestRunEvery(t *testing.T) {
	r := newRegistry(t)
	b := r.put(t, "alice", "app", "1", "a", "aaaa")
	r.put(t, "alice", "app", "1", "b", "bbbb")
	ctx, cancel := context.WithCancel(context.Background())
	passes := make(chan verify.Summary, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		verify.New(r.store, r.blobs, &verify.Options{Record: true}).RunEvery(ctx, 20*time.Millisecond, func(s verify.Summary, err error) {
			if err != nil {
				t.Errorf("pass: %v", err)
			}
			select {
			case passes <- s:
			default:
			}
		})
	}()
	first := <-passes
	if first.Intact != 2 {
		t.Errorf("first pass %+v, want 2 intact", first)
	}
	os.Remove(r.path(b.SHA256))
	deadline := time.After(10 * time.Second)
	for found := false; !found; {
		select {
		case s := <-passes:
			found = s.Missing == 1
		case <-deadline:
			t.Fatal("no later pass found the missing blob")
		}
	}
	cancel()
	<-done
	if d, _ := r.store.DamagedBlobs(context.Background()); len(d) != 1 || d[0].SHA256 != b.SHA256 {
		t.Errorf("recorded %+v, want the missing blob", d)
	}
}

// leasedStore is a real store with a lease another server may hold.
type leasedStore struct {
	depot.Store
	held atomic.Bool
}

func (s *leasedStore) TryLease(ctx context.Context, name string) (func(), bool, error) {
	if name != "verify" || !s.held.CompareAndSwap(false, true) {
		return nil, false, nil
	}
	return func() { s.held.Store(false) }, true, nil
}

func TestRunEveryLeased(t *testing.T) {
	r := newRegistry(t)
	r.put(t, "alice", "app", "1", "a", "aaaa")
	ls := &leasedStore{Store: r.store}
	ls.held.Store(true) // another server verifies
	ctx, cancel := context.WithCancel(context.Background())
	var passes atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		verify.New(ls, r.blobs, nil).RunEvery(ctx, 10*time.Millisecond, func(verify.Summary, error) { passes.Add(1) })
	}()
	time.Sleep(100 * time.Millisecond)
	if n := passes.Load(); n != 0 {
		t.Errorf("%d passes while another server held the lease", n)
	}
	ls.held.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for passes.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if passes.Load() == 0 {
		t.Error("no pass once the lease was free")
	}
	if ls.held.Load() {
		t.Error("the lease was not released")
	}
}
