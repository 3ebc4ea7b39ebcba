package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// The races below matter to backends with concurrent writers (PostgreSQL,
// several replicas on one database); a backend that serialises writers
// (SQLite) passes them trivially. Each is bounded in rounds and in time.

// raceDelay is how long the blob callbacks take, so that transactions hold
// their locks long enough for the others to run into them.
const raceDelay = time.Millisecond

// raceBudget bounds the time each race test spends looping.
const raceBudget = 5 * time.Second

// blobModel stands in for blob storage in the race tests: it knows which
// digests have bytes and which files the test knows to exist, and records
// every callback that breaks the store's promises.
type blobModel struct {
	mu       sync.Mutex
	present  map[string]bool // bytes stored
	live     map[string]int  // files known to exist and not being deleted
	commits  int
	removes  int
	problems []string
}

func newBlobModel() *blobModel {
	return &blobModel{present: map[string]bool{}, live: map[string]int{}}
}

func (m *blobModel) problem(format string, args ...any) {
	m.problems = append(m.problems, fmt.Sprintf(format, args...))
}

// commit returns CreateFile's commitBlob for sha: it stores the bytes.
func (m *blobModel) commit(sha string) func(context.Context) error {
	return func(context.Context) error {
		time.Sleep(raceDelay)
		m.mu.Lock()
		defer m.mu.Unlock()
		m.present[sha] = true
		m.commits++
		return nil
	}
}

// remove is DeleteFile's and DeleteVersion's removeBlob: it deletes the
// bytes, which must not happen while a file references them, nor twice
// without a commit in between (a blob store answers ErrNotFound then).
func (m *blobModel) remove(_ context.Context, sha string) error {
	m.mu.Lock()
	if n := m.live[sha]; n > 0 {
		m.problem("removeBlob(%.12s…) while %d files reference it", sha, n)
	}
	if !m.present[sha] {
		m.problem("removeBlob(%.12s…) of a blob already removed", sha)
	}
	m.present[sha] = false
	m.removes++
	m.mu.Unlock()
	time.Sleep(raceDelay)
	return nil
}

// created records that a file referencing sha exists; its bytes must be
// there.
func (m *blobModel) created(sha string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.live[sha]++
	if !m.present[sha] {
		m.problem("CreateFile returned but blob %.12s… has no bytes", sha)
	}
}

// deleting records that a file referencing sha is about to be deleted.
func (m *blobModel) deleting(sha string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.live[sha]--
}

func (m *blobModel) isPresent(sha string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.present[sha]
}

func (m *blobModel) counts() (commits, removes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.commits, m.removes
}

// check reports the problems recorded so far.
func (m *blobModel) check(tb testing.TB) {
	tb.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.problems {
		tb.Error(p)
	}
	m.problems = nil
}

// wantConsistent checks that sha's record exists exactly when want says a
// file references it, and that its bytes exist exactly when its record does.
func (m *blobModel) wantConsistent(tb testing.TB, s depot.Store, sha string, want bool) {
	tb.Helper()
	wantBlob(tb, s, sha, want)
	if got := m.isPresent(sha); got != want {
		tb.Errorf("blob %.12s… has bytes = %v, want %v (as its record)", sha, got, want)
	}
}

// testConcurrentSharedBlob has workers create and delete files that all
// share one blob, in a few versions of two packages, so the blob record, the
// versions and the packages are deleted and recreated all the time. The
// blob's bytes must never be removed while a file references them, nor
// removed twice; a file must never vanish; in the end the record and the
// bytes exist exactly while some file references them.
func testConcurrentSharedBlob(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	const workers, rounds = 8, 25
	content := "shared by every worker"
	sha := BlobOf(content).SHA256
	m := newBlobModel()
	deadline := time.Now().Add(raceBudget)
	files := make([]depot.NewFile, workers)
	keeps := func(w int) bool { return w%2 == 0 } // ends with its file in place
	var creates atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range workers {
		// Two packages, so that deleters in one race creators in the other
		// on the blob alone; three versions each.
		files[w] = NewFile(alice, fmt.Sprintf("tool-%d", w%2), fmt.Sprintf("%d.0", w%3), fmt.Sprintf("worker-%d.bin", w), content)
		wg.Go(func() {
			<-start
			nf := files[w]
			for r := range rounds {
				last := r == rounds-1 || time.Now().After(deadline)
				if _, err := s.CreateFile(context.Background(), nf, m.commit(sha)); err != nil {
					t.Errorf("worker %d round %d: CreateFile: %v", w, r, err)
					return
				}
				creates.Add(1)
				m.created(sha)
				if _, err := fileByName(s, nf); err != nil {
					t.Errorf("worker %d round %d: FileByName of the file just created: %v", w, r, err)
					return
				}
				if last && keeps(w) {
					return
				}
				m.deleting(sha)
				if err := s.DeleteFile(context.Background(), nf.OwnerID, nf.Type, nf.Package, nf.Version, nf.File, 0, m.remove); err != nil {
					t.Errorf("worker %d round %d: DeleteFile: %v", w, r, err)
					return
				}
				if last {
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	m.check(t)
	if t.Failed() {
		return
	}
	commits, removes := m.counts()
	if n := int(creates.Load()); commits != n {
		t.Errorf("commitBlob called %d times for %d files created, want once each", commits, n)
	}
	for w, nf := range files {
		if keeps(w) {
			mustFile(t, s, nf)
		} else {
			wantNoFile(t, s, nf)
		}
	}
	m.wantConsistent(t, s, sha, true)

	// Deleting the remaining files removes the blob, once, with the last.
	for w, nf := range files {
		if keeps(w) {
			m.deleting(sha)
			if err := s.DeleteFile(context.Background(), nf.OwnerID, nf.Type, nf.Package, nf.Version, nf.File, 0, m.remove); err != nil {
				t.Fatalf("DeleteFile(worker %d): %v", w, err)
			}
		}
	}
	m.wantConsistent(t, s, sha, false)
	if _, after := m.counts(); after != removes+1 {
		t.Errorf("deleting the remaining files called removeBlob %d times, want 1", after-removes)
	}
	m.check(t)
}

// testConcurrentDeleteAndCreate races a delete that empties a version (or a
// package) against a CreateFile into that version (or package). The new file
// must survive unless the delete removed its very version; blob records and
// bytes must match the files that remain. Half the rounds give both files the
// same content, so they share a blob.
func testConcurrentDeleteAndCreate(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	for _, mode := range []struct {
		name string
		// newVersion is the version of the new file; the old one is 1.0.
		newVersion string
		// deleteVersion deletes version 1.0 instead of its only file.
		deleteVersion bool
	}{
		{"last file of the version", "1.0", false},
		{"last version of the package", "2.0", true},
		{"the version being added to", "1.0", true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			m := newBlobModel()
			deadline := time.Now().Add(raceBudget / 3)
			for r := 0; r < 20 && time.Now().Before(deadline); r++ {
				pkg := fmt.Sprintf("%s-%d", strings.ReplaceAll(mode.name, " ", "-"), r)
				old := NewFile(alice, pkg, "1.0", "old.bin", fmt.Sprintf("old %d", r))
				newContent := fmt.Sprintf("new %d", r)
				if r%2 == 0 {
					newContent = fmt.Sprintf("old %d", r)
				}
				nf := NewFile(alice, pkg, mode.newVersion, "new.bin", newContent)
				oldSHA, newSHA := old.Blob.SHA256, nf.Blob.SHA256
				if _, err := s.CreateFile(ctx, old, m.commit(oldSHA)); err != nil {
					t.Fatalf("round %d: CreateFile(old): %v", r, err)
				}

				var createErr, deleteErr error
				var wg sync.WaitGroup
				start := make(chan struct{})
				wg.Go(func() {
					<-start
					if r%3 == 1 {
						time.Sleep(raceDelay) // let the delete start first
					}
					_, createErr = s.CreateFile(ctx, nf, m.commit(newSHA))
				})
				wg.Go(func() {
					<-start
					if r%3 == 2 {
						time.Sleep(raceDelay) // let the create start first
					}
					if mode.deleteVersion {
						deleteErr = s.DeleteVersion(ctx, old.OwnerID, old.Type, old.Package, old.Version, 0, m.remove)
					} else {
						deleteErr = s.DeleteFile(ctx, old.OwnerID, old.Type, old.Package, old.Version, old.File, 0, m.remove)
					}
				})
				close(start)
				wg.Wait()
				if createErr != nil {
					t.Fatalf("round %d: CreateFile(new): %v", r, createErr)
				}
				if deleteErr != nil {
					t.Fatalf("round %d: delete: %v", r, deleteErr)
				}

				wantNoFile(t, s, old)
				_, err := fileByName(s, nf)
				exists := err == nil
				switch {
				case err != nil && !errors.Is(err, depot.ErrNotFound):
					t.Fatalf("round %d: FileByName(new): %v", r, err)
				case !exists && nf.Version != old.Version:
					t.Errorf("round %d: the new file was lost to a concurrent delete", r)
				}
				m.wantConsistent(t, s, newSHA, exists)
				if oldSHA != newSHA {
					m.wantConsistent(t, s, oldSHA, false)
				}
				m.check(t)
				if t.Failed() {
					return
				}
				if exists {
					if err := s.DeleteFile(ctx, nf.OwnerID, nf.Type, nf.Package, nf.Version, nf.File, 0, m.remove); err != nil {
						t.Fatalf("round %d: DeleteFile(new): %v", r, err)
					}
					m.wantConsistent(t, s, newSHA, false)
				}
			}
		})
	}
}

// testConcurrentDeletes races DeleteVersion against DeleteFile of one of the
// version's files: each file and each blob goes exactly once, and every
// other attempt finds nothing to delete.
func testConcurrentDeletes(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	m := newBlobModel()
	deadline := time.Now().Add(raceBudget)
	for r := 0; r < 10 && time.Now().Before(deadline); r++ {
		pkg := fmt.Sprintf("tool-%d", r)
		// a and b share a blob; c has its own.
		files := []depot.NewFile{
			NewFile(alice, pkg, "1.0", "a.bin", fmt.Sprintf("ab %d", r)),
			NewFile(alice, pkg, "1.0", "b.bin", fmt.Sprintf("ab %d", r)),
			NewFile(alice, pkg, "1.0", "c.bin", fmt.Sprintf("c %d", r)),
		}
		for _, nf := range files {
			if _, err := s.CreateFile(ctx, nf, m.commit(nf.Blob.SHA256)); err != nil {
				t.Fatalf("round %d: CreateFile: %v", r, err)
			}
		}
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				nf := files[0]
				if i%2 == 0 {
					errs[i] = s.DeleteVersion(ctx, nf.OwnerID, nf.Type, nf.Package, nf.Version, 0, m.remove)
				} else {
					errs[i] = s.DeleteFile(ctx, nf.OwnerID, nf.Type, nf.Package, nf.Version, nf.File, 0, m.remove)
				}
			})
		}
		close(start)
		wg.Wait()
		versions, fileDeletes := 0, 0
		for i, err := range errs {
			switch {
			case err == nil && i%2 == 0:
				versions++
			case err == nil:
				fileDeletes++
			case !errors.Is(err, depot.ErrNotFound):
				t.Errorf("round %d: delete #%d: error = %v, want nil or ErrNotFound", r, i, err)
			}
		}
		if versions != 1 || fileDeletes > 1 {
			t.Errorf("round %d: %d DeleteVersion and %d DeleteFile succeeded, want 1 and at most 1", r, versions, fileDeletes)
		}
		for _, nf := range files {
			wantNoFile(t, s, nf)
			m.wantConsistent(t, s, nf.Blob.SHA256, false)
		}
		m.check(t)
		if t.Failed() {
			return
		}
	}
}

// testConcurrentSameFileExistingVersion races uploads of one path into a
// version that already exists (ConcurrentSameFile does it for a new
// version): exactly one wins, the others get ErrConflict, and only the
// winner's blob is recorded.
func testConcurrentSameFileExistingVersion(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	MustCreateFile(t, s, NewFile(alice, "tool", "1.0", "other.bin", "other"))
	m := newBlobModel()
	contents := make([]string, concurrency)
	errs := make([]error, concurrency)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range concurrency {
		contents[i] = fmt.Sprintf("attempt %d", i)
		if i%4 == 3 {
			contents[i] = "other" // the existing file's blob
		}
		wg.Go(func() {
			<-start
			nf := NewFile(alice, "tool", "1.0", "tool.bin", contents[i])
			_, errs[i] = s.CreateFile(context.Background(), nf, m.commit(nf.Blob.SHA256))
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("CreateFile #%d and #%d both succeeded", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, depot.ErrConflict):
			t.Errorf("CreateFile #%d: error = %v, want ErrConflict", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no CreateFile succeeded")
	}
	if commits, _ := m.counts(); commits != 1 {
		t.Errorf("commitBlob called %d times, want 1", commits)
	}
	f := mustFile(t, s, NewFile(alice, "tool", "1.0", "tool.bin", ""))
	if want := BlobOf(contents[won]).SHA256; f.Blob.SHA256 != want {
		t.Errorf("file has blob %.12s…, want the winner's %.12s…", f.Blob.SHA256, want)
	}
	for i := range concurrency {
		if contents[i] != contents[won] && contents[i] != "other" {
			wantBlob(t, s, BlobOf(contents[i]).SHA256, false)
		}
	}
	wantBlob(t, s, BlobOf("other").SHA256, true)
}

// testConcurrentCreateFiles sends a burst of CreateFile calls at once, as
// many uploads finishing together do, with every outcome mixed in: new
// files, several calls for one name, blob commits that fail and callers
// that gave up. A store that groups concurrent calls into one transaction
// (SQLite) must still give each call the outcome it would have had alone.
func testConcurrentCreateFiles(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	boom := errors.New("blob storage is down")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	const rounds, calls = 3, 32
	for round := range rounds {
		type outcome struct {
			nf      depot.NewFile
			f       *depot.File
			err     error
			commits atomic.Int32
		}
		out := make([]*outcome, calls)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range calls {
			o := &outcome{}
			out[i] = o
			ctx := context.Background()
			commit := func(context.Context) error {
				o.commits.Add(1)
				time.Sleep(raceDelay)
				return nil
			}
			switch i % 8 {
			case 0: // four calls per round for one name
				o.nf = NewFile(alice, "tool", fmt.Sprint(round), "same.bin", fmt.Sprintf("same %d %d", round, i))
			case 1: // the blob commit fails
				commit = func(context.Context) error { o.commits.Add(1); return boom }
				o.nf = NewFile(alice, "tool", fmt.Sprint(round), fmt.Sprintf("fails-%d.bin", i), fmt.Sprintf("fails %d %d", round, i))
			case 2: // the caller gave up before the call
				ctx = cancelled
				o.nf = NewFile(alice, "tool", fmt.Sprint(round), fmt.Sprintf("gone-%d.bin", i), fmt.Sprintf("gone %d %d", round, i))
			default: // a new file, in a new or an existing package
				o.nf = NewFile(alice, fmt.Sprintf("pkg%d", i%3), fmt.Sprint(round), fmt.Sprintf("f%d.bin", i), fmt.Sprintf("new %d %d", round, i))
			}
			wg.Go(func() {
				<-start
				o.f, o.err = s.CreateFile(ctx, o.nf, commit)
			})
		}
		close(start)
		wg.Wait()
		sameWon := 0
		for i, o := range out {
			what := fmt.Sprintf("round %d call %d (%s/%s/%s)", round, i, o.nf.Package, o.nf.Version, o.nf.File)
			switch i % 8 {
			case 0:
				if o.err == nil {
					sameWon++
				} else if !errors.Is(o.err, depot.ErrConflict) {
					t.Errorf("%s: error = %v, want nil or ErrConflict", what, o.err)
				}
			case 1:
				wantErr(t, what, o.err, boom)
				wantNoFile(t, s, o.nf)
				wantBlob(t, s, o.nf.Blob.SHA256, false)
			case 2:
				if o.err == nil {
					t.Errorf("%s: succeeded with a cancelled context", what)
				}
				wantNoFile(t, s, o.nf)
				if n := o.commits.Load(); n != 0 {
					t.Errorf("%s: commitBlob called %d times with a cancelled context", what, n)
				}
			default:
				if o.err != nil {
					t.Errorf("%s: %v", what, o.err)
					continue
				}
				f := mustFile(t, s, o.nf)
				if f.ID != o.f.ID || f.VersionID != o.f.VersionID || f.Blob.SHA256 != o.nf.Blob.SHA256 {
					t.Errorf("%s: stored file %d (version %d, blob %.12s…), CreateFile said %d (version %d), blob %.12s…",
						what, f.ID, f.VersionID, f.Blob.SHA256, o.f.ID, o.f.VersionID, o.nf.Blob.SHA256)
				}
			}
			if o.err == nil && o.commits.Load() == 0 {
				t.Errorf("%s: recorded without calling commitBlob", what)
			}
		}
		if sameWon != 1 {
			t.Errorf("round %d: %d of the calls for one name succeeded, want 1", round, sameWon)
		}
		// Losers of the same name left no blob records; the winner's is there.
		for i, o := range out {
			if i%8 == 0 {
				wantBlob(t, s, o.nf.Blob.SHA256, o.err == nil)
			}
		}
	}
}
