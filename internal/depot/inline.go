package depot

import (
	"context"
	"errors"
	"fmt"
)

// InlineStore is the part of Store that keeps small blobs inside the
// metadata database (NewFile.Content), so that recording a small upload
// costs one transaction and no blob storage at all: over SQLite the WAL
// fsync of a group commit makes a whole batch of files durable, bytes and
// records together.
//
// A blob record has its bytes inline, in blob storage, or (when an upload
// of the same content took the other path) both; reads use the inline
// bytes when there are any (Service.openBlob). Inline bytes go with their
// blob record, in the transaction that deletes it; that transaction still
// calls removeBlob, which removes a copy in blob storage if there is one.
type InlineStore interface {
	// InlineBlob returns the content kept inline under a digest.
	// ErrNotFound when there is none: no such blob record, or its bytes
	// are in blob storage only.
	InlineBlob(ctx context.Context, sha256 string) ([]byte, error)
}

// Inline blob sizes: DefaultInlineBlobMax is what Options.InlineBlobMax 0
// means, MaxInlineBlob the most it may be. Blobs up to MaxInlineBlob bytes
// are looked up inline first whatever the setting, so lowering it (or
// turning it off) keeps the blobs stored inline before readable.
const (
	DefaultInlineBlobMax = 16 << 10
	MaxInlineBlob        = 64 << 10
)

// ValidateInlineBlobMax checks an Options.InlineBlobMax value: negative
// (off), 0 (the default) or a size up to MaxInlineBlob. ErrInvalid.
func ValidateInlineBlobMax(n int64) error {
	if n > MaxInlineBlob {
		return Errorf(ErrInvalid, "the inline blob limit is at most %d bytes, not %d", MaxInlineBlob, n)
	}
	return nil
}

// inlineMax is the largest upload kept inline, -1 when none is.
func (s *Service) inlineMax() int64 {
	switch n := s.opts.InlineBlobMax; {
	case n == 0:
		return DefaultInlineBlobMax
	case n < 0:
		return -1
	default:
		return min(n, MaxInlineBlob)
	}
}

// inlineBytes returns f's blob's inline content, or nil (and no error)
// when the blob is larger than any inline blob or its bytes are in blob
// storage.
func (s *Service) inlineBytes(ctx context.Context, f *File) ([]byte, error) {
	if f.Blob.Size > MaxInlineBlob {
		return nil, nil
	}
	b, err := s.store.InlineBlob(ctx, f.Blob.SHA256)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read inline blob %s: %w", f.Blob.SHA256, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// smallUpload is the blob upload of a body that may be kept inline: it
// holds up to max bytes in memory and starts a blob store upload only when
// the body turns out larger (it spills), writing what it held first. Kept
// in memory, it never touches blob storage: Complete and Commit do
// nothing, and inline returns the bytes for NewFile.Content.
type smallUpload struct {
	ctx   context.Context
	blobs BlobStore
	size  int64 // declared size, for the spill's NewUpload
	max   int
	buf   []byte
	big   BlobUpload // after a spill
}

func (s *Service) newSmallUpload(ctx context.Context, size int64, max int64) *smallUpload {
	c := max
	if size >= 0 && size <= max {
		c = size
	}
	return &smallUpload{ctx: ctx, blobs: s.blobs, size: size, max: int(max), buf: make([]byte, 0, c)}
}

func (u *smallUpload) Write(p []byte) (int, error) {
	if u.big == nil && len(u.buf)+len(p) <= u.max {
		u.buf = append(u.buf, p...)
		return len(p), nil
	}
	if u.big == nil {
		big, err := u.blobs.NewUpload(u.ctx, u.size)
		if err != nil {
			return 0, fmt.Errorf("start blob upload: %w", err)
		}
		u.big = big
		if _, err := big.Write(u.buf); err != nil {
			return 0, err
		}
		u.buf = nil
	}
	return u.big.Write(p)
}

// inline returns the content held in memory, nil after a spill.
func (u *smallUpload) inline() []byte {
	if u.big != nil {
		return nil
	}
	return u.buf
}

// Complete implements BlobUpload.
func (u *smallUpload) Complete(ctx context.Context) error {
	if u.big != nil {
		return u.big.Complete(ctx)
	}
	return nil
}

// Commit implements BlobUpload.
func (u *smallUpload) Commit(ctx context.Context, sha256 string) error {
	if u.big != nil {
		return u.big.Commit(ctx, sha256)
	}
	return nil
}

// Close implements BlobUpload.
func (u *smallUpload) Close() error {
	if u.big != nil {
		return u.big.Close()
	}
	u.buf = nil
	return nil
}
