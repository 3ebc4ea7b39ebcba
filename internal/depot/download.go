package depot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// BlobLinker is a BlobStore that can give a client a short-lived URL to read
// a blob straight from storage (an S3 presigned URL), so downloads need not
// stream through depot.
type BlobLinker interface {
	// PresignGet returns a URL valid for expiry from which a GET reads the
	// blob, answered with filename as an attachment. It does not check that
	// the blob exists.
	PresignGet(ctx context.Context, sha256 string, expiry time.Duration, filename string) (string, error)
}

// LinksDownloads reports whether FileLink hands out URLs: the service was
// configured with a LinkExpiry and its blob store can link.
func (s *Service) LinksDownloads() bool {
	_, ok := s.blobs.(BlobLinker)
	return ok && s.opts.LinkExpiry > 0
}

// FileLink returns ref's file and a short-lived URL to its bytes, checking
// access as OpenFile does. The URL is "" when the service does not link
// downloads (LinksDownloads), or the file's blob is kept inline (no URL of
// blob storage reaches it); the caller then serves the bytes through
// OpenFile. ErrNotFound, ErrUnauthenticated, ErrForbidden.
func (s *Service) FileLink(ctx context.Context, a *Actor, ref FileRef) (*File, string, error) {
	f, err := s.readableFile(ctx, a, ref)
	if err != nil {
		return nil, "", err
	}
	if !s.LinksDownloads() {
		return f, "", nil
	}
	if inline, err := s.keptInline(ctx, f); err != nil || inline {
		return f, "", err
	}
	if err := s.checkLinked(ctx, f); err != nil {
		return nil, "", err
	}
	url, err := s.blobs.(BlobLinker).PresignGet(ctx, f.Blob.SHA256, s.opts.LinkExpiry, f.Name)
	if err != nil {
		return nil, "", fmt.Errorf("link blob %s: %w", f.Blob.SHA256, err)
	}
	return f, url, nil
}

// keptInline reports whether f's blob is kept inline (InlineStore), where
// no URL of blob storage reaches it: such downloads are served by depot.
func (s *Service) keptInline(ctx context.Context, f *File) (bool, error) {
	b, err := s.inlineBytes(ctx, f)
	return b != nil, err
}

// readableFile returns ref's file if a may read it. ErrNotFound,
// ErrUnauthenticated, ErrForbidden.
func (s *Service) readableFile(ctx context.Context, a *Actor, ref FileRef) (*File, error) {
	owner, err := s.ownerFor(ctx, a, ref.Owner, AccessRead)
	if err != nil {
		return nil, err
	}
	f, err := s.store.FileByName(ctx, owner.ID, ref.Type, ref.Package, ref.Version, ref.File)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "file %q not found", ref.File)
	} else if err != nil {
		return nil, fmt.Errorf("look up file: %w", err)
	}
	return f, nil
}
