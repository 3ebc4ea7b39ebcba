// Package fsblob implements depot.BlobStore on a local directory.
//
// Layout: blobs live at <root>/sha256/<first two hex digits>/<digest>;
// uploads in progress live in <root>/tmp with random names. An upload is
// written to its temporary file, fsynced, then renamed into place (same file
// system, so the rename is atomic and no byte is copied twice) and the
// directory is fsynced. Temporary files of a Store whose process is gone
// (see "Owners" in owner.go), and temporary files without an owner older than
// a cutoff, are garbage that a crashed process left; Walk does not report
// them and CleanTemp removes them.
package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// Store is a depot.BlobStore on a directory.
type Store struct {
	root string
	// owner is this Store's owner id and lock its locked lock file; ""
	// and nil where flock is missing (temporary files then have no owner).
	owner string
	lock  *os.File
}

var _ depot.BlobStore = (*Store)(nil)

// New returns a Store rooted at dir, creating the directory if needed.
func New(dir string) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, "sha256"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("create blob directory: %w", err)
		}
	}
	s := &Store{root: dir}
	// A full disk must not keep a server from starting (downloads still
	// work): its temporary files then have no owner and keep the age rule.
	switch id, f, err := claimOwner(dir); {
	case err == nil:
		s.owner, s.lock = id, f
	case tryLockWorks && !errors.Is(err, depot.ErrInsufficientStorage):
		return nil, err
	}
	return s, nil
}

// Close releases the Store's owner id: its lock file is removed. Uploads
// must have ended.
func (s *Store) Close() error {
	if s.lock == nil {
		return nil
	}
	err := os.Remove(filepath.Join(s.root, "owners", s.owner+".lock"))
	err = errors.Join(err, s.lock.Close())
	s.lock = nil
	return err
}

func (s *Store) path(digest string) (string, error) {
	if !depot.ValidSHA256(digest) {
		return "", depot.Errorf(depot.ErrInvalid, "invalid sha256 digest %q", digest)
	}
	return filepath.Join(s.root, "sha256", digest[:2], digest), nil
}

func translate(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %v", depot.ErrNotFound, err)
	}
	return full(err)
}

// errFull is what a write to a full blob directory answers.
var errFull = &depot.Error{Kind: depot.ErrInsufficientStorage, Message: "insufficient storage: the blob storage is full"}

// full gives a write that failed for want of space (ENOSPC, or EDQUOT for a
// user's quota) the kind ErrInsufficientStorage, keeping err for the log.
func full(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", errFull, err)
	}
	return err
}

// NewUpload implements depot.BlobStore.
func (s *Store) NewUpload(ctx context.Context, size int64) (depot.BlobUpload, error) {
	pattern := "upload-*"
	if s.owner != "" {
		pattern = "upload-" + s.owner + "-*"
	}
	f, err := os.CreateTemp(filepath.Join(s.root, "tmp"), pattern)
	if err != nil {
		return nil, full(fmt.Errorf("create temporary file: %w", err))
	}
	return &upload{s: s, f: f}, nil
}

type upload struct {
	s         *Store
	f         *os.File
	completed bool
	committed bool
	renamed   bool // the temporary file became the blob
	// written counts the bytes written; flushed, those whose writeback
	// was started.
	written, flushed int64
}

// writebackWindow is how many written bytes an upload lets accumulate
// before it asks the kernel to start writing them to disk. Without it a
// large upload stays in the page cache until Complete's fsync, which then
// writes it all while the client waits; with it the disk works while the
// body is still arriving, and the fsync has little left to do.
const writebackWindow = 8 << 20

func (u *upload) Write(p []byte) (int, error) {
	n, err := u.f.Write(p)
	u.written += int64(n)
	if u.written-u.flushed >= writebackWindow {
		startWriteback(u.f, u.flushed, u.written-u.flushed)
		u.flushed = u.written
	}
	return n, full(err)
}

func (u *upload) Complete(ctx context.Context) error {
	if u.completed {
		return nil
	}
	if err := u.f.Sync(); err != nil {
		return full(fmt.Errorf("sync upload: %w", err))
	}
	u.completed = true
	return nil
}

func (u *upload) Commit(ctx context.Context, digest string) error {
	if u.committed {
		return nil
	}
	dst, err := u.s.path(digest)
	if err != nil {
		return err
	}
	if err := u.Complete(ctx); err != nil {
		return err
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return full(fmt.Errorf("create blob directory: %w", err))
	}
	if _, err := os.Stat(dst); err == nil {
		// Same digest, same bytes: keep the existing blob.
		u.committed = true
		return nil
	}
	if err := os.Rename(u.f.Name(), dst); err != nil {
		return full(fmt.Errorf("move blob into place: %w", err))
	}
	u.committed, u.renamed = true, true
	return full(syncDir(dir))
}

// Salvage implements depot.SalvageableUpload. Into the staging area beside
// the blobs (NewStaging on the same root) the temporary file itself
// becomes the staging file, a rename: no byte is copied. Any other staging
// area gets a copy.
func (u *upload) Salvage(ctx context.Context, st depot.UploadStaging, token string) (int64, error) {
	if u.committed || u.renamed {
		return 0, errors.New("fsblob: salvage of a committed upload")
	}
	if own, ok := st.(*Staging); ok && own.dir == filepath.Join(u.s.root, "uploads") {
		dst, err := own.path(token)
		if err != nil {
			return 0, err
		}
		if err := os.Rename(u.f.Name(), dst); err != nil {
			return 0, full(fmt.Errorf("move upload into staging: %w", err))
		}
		u.renamed = true
		return u.written, nil
	}
	if _, err := u.f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	buf := make([]byte, min(u.written, salvageChunk))
	var off int64
	for off < u.written {
		n, err := io.ReadFull(u.f, buf[:min(int64(len(buf)), u.written-off)])
		if err != nil {
			return off, fmt.Errorf("read upload back: %w", err)
		}
		if err := st.Append(ctx, token, off, buf[:n]); err != nil {
			return off, err
		}
		off += int64(n)
	}
	return off, nil
}

// AdoptStaged implements depot.StagedAdopter for the staging area beside
// the blobs: the staging file is renamed to a temporary upload's name and
// becomes that upload, cut to size (an append that was never recorded may
// have left more).
func (s *Store) AdoptStaged(ctx context.Context, st depot.UploadStaging, token string, size int64) (depot.SalvageableUpload, bool, error) {
	own, ok := st.(*Staging)
	if !ok || own.dir != filepath.Join(s.root, "uploads") {
		return nil, false, nil
	}
	src, err := own.path(token)
	if err != nil {
		return nil, false, err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, false, translate(err)
	}
	if fi.Size() < size {
		return nil, false, fmt.Errorf("staging file holds %d bytes, the upload %d: %w", fi.Size(), size, depot.ErrNotFound)
	}
	up, err := s.NewUpload(ctx, size)
	if err != nil {
		return nil, false, err
	}
	u := up.(*upload)
	name := u.f.Name()
	u.f.Close()
	if err := os.Rename(src, name); err != nil {
		os.Remove(name)
		return nil, false, full(fmt.Errorf("move staged upload: %w", err))
	}
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err == nil && fi.Size() > size {
		err = f.Truncate(size)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		if rerr := os.Rename(name, src); rerr != nil {
			os.Remove(name)
		}
		return nil, false, full(fmt.Errorf("adopt staged upload: %w", err))
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		f.Close()
		os.Rename(name, src)
		return nil, false, err
	}
	u.f, u.written, u.flushed = f, size, size
	startWriteback(f, 0, size)
	return u, true, nil
}

// salvageChunk is the most bytes Salvage stages in one Append of a staging
// area elsewhere.
const salvageChunk = 8 << 20

func (u *upload) Close() error {
	err := u.f.Close()
	if !u.renamed {
		if rerr := os.Remove(u.f.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// Open implements depot.BlobStore. The reader is an *os.File, so
// http.ServeContent can send it with sendfile.
func (s *Store) Open(ctx context.Context, digest string) (depot.BlobReader, error) {
	p, err := s.path(digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, translate(err)
	}
	return f, nil
}

// Stat implements depot.BlobStore.
func (s *Store) Stat(ctx context.Context, digest string) (int64, error) {
	p, err := s.path(digest)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, translate(err)
	}
	return fi.Size(), nil
}

// Delete implements depot.BlobStore.
func (s *Store) Delete(ctx context.Context, digest string) error {
	p, err := s.path(digest)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return translate(err)
	}
	return nil
}

// Walk implements depot.BlobStore.
func (s *Store) Walk(ctx context.Context, fn func(string) error) error {
	return filepath.WalkDir(filepath.Join(s.root, "sha256"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.Type().IsRegular() && depot.ValidSHA256(d.Name()) {
			return fn(d.Name())
		}
		return nil
	})
}

// CleanTemp removes the temporary upload files whose owner is gone (a
// process that died: see "Owners" in owner.go), whatever their age, and
// those without an owner last modified before cutoff, and returns how many
// it removed. Only a crash leaves either behind.
func (s *Store) CleanTemp(cutoff time.Time) (int, error) {
	dir := filepath.Join(s.root, "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	stale := func(e fs.DirEntry) bool {
		fi, err := e.Info()
		return err == nil && fi.ModTime().Before(cutoff)
	}
	o := s.owners()
	defer o.release()
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "upload-") {
			continue
		}
		if id := ownerOf(e.Name()); id != "" && !o.gone(id) || id == "" && !stale(e) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err == nil {
			n++
		}
	}
	o.sweepLocks(stale)
	return n, nil
}

// TempUploads lists the temporary files of uploads in progress (or left by a
// crash).
func (s *Store) TempUploads() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "tmp"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out, nil
}
