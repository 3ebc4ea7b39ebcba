package fsblob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/blobtest"
	"github.com/depot-registry/depot/internal/depot"
)

func newStore(t *testing.T) depot.BlobStore {
	t.Helper()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// leftovers lists every file under the root that is not a committed blob:
// temporary uploads, and anything else that does not belong.
func leftovers(ctx context.Context, bs depot.BlobStore) ([]string, error) {
	root := bs.(*Store).root
	ownLock := filepath.Join("owners", bs.(*Store).owner+".lock")
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel == ownLock {
			return nil // the store's own owner lock, held while it is open
		}
		if dir, name := filepath.Split(rel); depot.ValidSHA256(name) && dir == filepath.Join("sha256", name[:2])+string(filepath.Separator) {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	return out, err
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, newStore, leftovers)
}

func TestNewCreatesDirectories(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s, err := New(dir)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	d := blobtest.MustPut(t, s, []byte("x"))
	if _, err := os.Stat(filepath.Join(dir, "sha256", d[:2], d)); err != nil {
		t.Errorf("blob is not where the layout says: %v", err)
	}
}

func TestOpenIsOSFile(t *testing.T) {
	s := newStore(t)
	d := blobtest.MustPut(t, s, []byte("sendfile"))
	r, err := s.Open(context.Background(), d)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	if _, ok := r.(*os.File); !ok {
		t.Errorf("Open returned %T, want *os.File (so downloads can use sendfile)", r)
	}
}

func TestCleanTemp(t *testing.T) {
	ctx := context.Background()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tmp := filepath.Join(s.root, "tmp")
	now := time.Now()
	cutoff := now.Add(-24 * time.Hour)
	mk := func(name string, mod time.Time) {
		t.Helper()
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	mk("upload-old1", now.Add(-48*time.Hour))
	mk("upload-old2", cutoff.Add(-time.Second))
	mk("upload-fresh", now)
	mk("upload-at-cutoff", cutoff)
	mk("not-an-upload", now.Add(-48*time.Hour))

	// An upload in progress is fresh and must survive.
	up, err := s.NewUpload(ctx, -1)
	if err != nil {
		t.Fatalf("NewUpload: %v", err)
	}
	if _, err := up.Write([]byte("in progress")); err != nil {
		t.Fatal(err)
	}
	committed := blobtest.MustPut(t, s, []byte("committed"))

	n, err := s.CleanTemp(cutoff)
	if err != nil {
		t.Fatalf("CleanTemp: %v", err)
	}
	if n != 2 {
		t.Errorf("CleanTemp removed %d files, want 2", n)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	for _, want := range []string{"upload-fresh", "upload-at-cutoff", "not-an-upload", filepath.Base(up.(*upload).f.Name())} {
		if !slices.Contains(names, want) {
			t.Errorf("CleanTemp removed %s; left %q", want, names)
		}
	}
	for _, gone := range []string{"upload-old1", "upload-old2"} {
		if slices.Contains(names, gone) {
			t.Errorf("CleanTemp kept %s", gone)
		}
	}

	// The upload in progress still commits.
	content := []byte("in progress")
	if err := up.Commit(ctx, blobtest.Digest(content)); err != nil {
		t.Fatalf("Commit after CleanTemp: %v", err)
	}
	if err := up.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := blobtest.MustWalk(t, s); !slices.Equal(got, slices.Sorted(slices.Values([]string{committed, blobtest.Digest(content)}))) {
		t.Errorf("Walk = %q", got)
	}
}

func TestStagingConformance(t *testing.T) {
	blobtest.RunStaging(t, func(t *testing.T) (depot.UploadStaging, func() ([]string, error)) {
		s := newStore(t)
		st, err := s.(*Store).UploadStaging()
		if err != nil {
			t.Fatal(err)
		}
		return st, func() ([]string, error) { return leftovers(context.Background(), s) }
	})
}

// TestSalvageIntoOtherStaging checks the copy Salvage makes into a staging
// area that is not beside the store's blobs (the rename path is the
// conformance suite's), and that the upload's temporary file goes.
func TestSalvageIntoOtherStaging(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	other, err := NewStaging(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	content := make([]byte, salvageChunk+12345)
	for i := range content {
		content[i] = byte(i * 7)
	}
	up, err := s.NewUpload(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write(content); err != nil {
		t.Fatal(err)
	}
	const token = "fedcba9876543210fedcba9876543210"
	n, err := up.(depot.SalvageableUpload).Salvage(ctx, other, token)
	if err != nil || n != int64(len(content)) {
		t.Fatalf("Salvage = %d, %v; want %d bytes", n, err, len(content))
	}
	if err := up.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := other.Open(ctx, token, n)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("staged %d bytes (%v), want the %d written", len(got), err, len(content))
	}
	if left, err := leftovers(ctx, s); err != nil || len(left) > 0 {
		t.Errorf("left behind in the store: %q (%v)", left, err)
	}
}

// TestAdoptStaged checks that a resumable upload's staged bytes become an
// upload without a copy: committed they are the blob (cut to the size
// recorded, though an unrecorded append left more), the staging area
// then holds nothing for the token; and an adopted upload whose commit
// failed puts them back with Salvage.
func TestAdoptStaged(t *testing.T) {
	ctx := context.Background()
	s := newStore(t).(*Store)
	st, err := s.UploadStaging()
	if err != nil {
		t.Fatal(err)
	}
	const token = "00112233445566778899aabbccddeeff"
	content := bytes.Repeat([]byte("adopted "), 40000)
	if err := st.Append(ctx, token, 0, content[:100000]); err != nil {
		t.Fatal(err)
	}
	if err := st.Append(ctx, token, 100000, append(content[100000:], "unrecorded tail"...)); err != nil {
		t.Fatal(err)
	}
	size := int64(len(content))
	if _, ok, err := s.AdoptStaged(ctx, st, token, size+1000); ok || !errors.Is(err, depot.ErrNotFound) {
		t.Fatalf("AdoptStaged of more than is staged: ok %v, error %v; want ErrNotFound", ok, err)
	}
	if _, ok, err := s.AdoptStaged(ctx, &Staging{dir: t.TempDir()}, token, size); ok || err != nil {
		t.Fatalf("AdoptStaged from another staging area: ok %v, error %v; want neither", ok, err)
	}

	// Failed commit: the bytes go back.
	up, ok, err := s.AdoptStaged(ctx, st, token, size)
	if err != nil || !ok {
		t.Fatalf("AdoptStaged: ok %v, error %v", ok, err)
	}
	if n, err := up.Salvage(ctx, st, token); err != nil || n != size {
		t.Fatalf("Salvage of an adopted upload = %d, %v; want %d", n, err, size)
	}
	if err := up.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := st.Open(ctx, token, size)
	if err != nil {
		t.Fatalf("staged bytes after the adopted upload gave them back: %v", err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, content) {
		t.Fatalf("staged bytes after Salvage: %d bytes, want the %d adopted", len(got), len(content))
	}

	// Committed: the bytes are the blob.
	up, ok, err = s.AdoptStaged(ctx, st, token, size)
	if err != nil || !ok {
		t.Fatalf("AdoptStaged: ok %v, error %v", ok, err)
	}
	d := blobtest.Digest(content)
	if err := up.Commit(ctx, d); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := up.Close(); err != nil {
		t.Fatal(err)
	}
	if got := blobtest.MustRead(t, s, d); !bytes.Equal(got, content) {
		t.Errorf("committed blob: %d bytes, want %d", len(got), len(content))
	}
	if _, err := st.Open(ctx, token, 1); !errors.Is(err, depot.ErrNotFound) {
		t.Errorf("staging after adoption: error %v, want ErrNotFound", err)
	}
	if left, err := leftovers(ctx, s); err != nil || len(left) > 0 {
		t.Errorf("left behind: %q (%v)", left, err)
	}
}
