package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/depot-registry/depot/internal/depot"
)

// Staging is a depot.UploadStaging in a directory (uploads/ beside the
// blobs): one file per upload, appended to in place. Its files are not
// blobs: Walk and the temporary-file collector never see them; expired
// uploads are removed through the Service (admin gc).
type Staging struct {
	dir string
}

var _ depot.UploadStaging = (*Staging)(nil)

// NewStaging returns the staging area under root (a blob directory),
// creating it if needed.
func NewStaging(root string) (*Staging, error) {
	dir := filepath.Join(root, "uploads")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create upload staging directory: %w", err)
	}
	return &Staging{dir: dir}, nil
}

// UploadStaging returns the staging area beside s's blobs.
func (s *Store) UploadStaging() (depot.UploadStaging, error) { return NewStaging(s.root) }

// path returns the staging file of token, which the Service makes (32 hex
// digits); anything else is refused rather than joined into a path.
func (s *Staging) path(token string) (string, error) {
	if len(token) != 32 {
		return "", depot.Errorf(depot.ErrInvalid, "invalid upload token")
	}
	for _, c := range token {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", depot.Errorf(depot.ErrInvalid, "invalid upload token")
		}
	}
	return filepath.Join(s.dir, token), nil
}

// Append implements depot.UploadStaging. It writes without fsync: the
// Service checks the staged bytes against the recorded sha256 state when
// it commits them, so bytes a machine crash lost fail that upload instead
// of being stored.
func (s *Staging) Append(ctx context.Context, token string, offset int64, p []byte) error {
	path, err := s.path(token)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o640)
	if err != nil {
		return full(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < offset {
		return fmt.Errorf("staging file holds %d bytes, the upload %d: %w", fi.Size(), offset, depot.ErrNotFound)
	}
	if fi.Size() > offset {
		if err := f.Truncate(offset); err != nil {
			return err
		}
	}
	if _, err := f.WriteAt(p, offset); err != nil {
		return full(err)
	}
	// Committing fsyncs the staged bytes (in place, see Store.AdoptStaged):
	// have the disk write them while the upload goes on.
	startWriteback(f, offset, int64(len(p)))
	return f.Close()
}

// Open implements depot.UploadStaging.
func (s *Staging) Open(ctx context.Context, token string, size int64) (io.ReadCloser, error) {
	path, err := s.path(token)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && size == 0 {
		return io.NopCloser(eofReader{}), nil
	} else if err != nil {
		return nil, translate(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size() < size {
		f.Close()
		return nil, fmt.Errorf("staging file holds %d bytes, the upload %d: %w", fi.Size(), size, depot.ErrNotFound)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, size), f}, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// Remove implements depot.UploadStaging.
func (s *Staging) Remove(ctx context.Context, token string) error {
	path, err := s.path(token)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
