package depot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
)

// Small blobs are kept in memory once read, up to smallBlobCacheBytes in
// all: a download of one then costs no open, read or close. Blobs are
// addressed by their content, so an entry can never be stale; the file
// lookup that precedes every download still decides whether the file
// exists, and removeBlob drops the entry.
const (
	smallBlobMax        = 16 << 10
	smallBlobCacheBytes = 8 << 20
)

type blobCache struct {
	mu    sync.RWMutex
	m     map[string][]byte
	bytes int
}

func newBlobCache() *blobCache { return &blobCache{m: map[string][]byte{}} }

func (c *blobCache) get(sha256 string) ([]byte, bool) {
	c.mu.RLock()
	b, ok := c.m[sha256]
	c.mu.RUnlock()
	return b, ok
}

func (c *blobCache) put(sha256 string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[sha256]; ok {
		return
	}
	for k, v := range c.m {
		if c.bytes+len(b) <= smallBlobCacheBytes {
			break
		}
		delete(c.m, k)
		c.bytes -= len(v)
	}
	c.m[sha256] = b
	c.bytes += len(b)
}

func (c *blobCache) drop(sha256 string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.m[sha256]; ok {
		delete(c.m, sha256)
		c.bytes -= len(b)
	}
}

// memBlob is a cached blob as a BlobReader.
type memBlob struct{ *bytes.Reader }

func (memBlob) Close() error { return nil }

// openBlob opens a file's blob for a download, from memory when it is
// small, refusing a damaged one (see checkedBlob); a small blob is hashed
// when it is read, a large one on the way with Options.VerifyDownloads. It
// is the one place downloads read blobs: content kept inline (InlineStore)
// is read from the metadata store, any other from blob storage.
func (s *Service) openBlob(ctx context.Context, f *File) (BlobReader, error) {
	sha, size := f.Blob.SHA256, f.Blob.Size
	if size <= MaxInlineBlob {
		if r, err := s.openInline(ctx, f); r != nil || err != nil {
			return r, err
		}
	}
	if size > smallBlobMax {
		r, err := s.checkedBlob(ctx, f)
		if err != nil || !s.opts.VerifyDownloads {
			return r, err
		}
		return s.verifying(f, r), nil
	}
	if _, damaged := s.damage.get(sha); !damaged {
		if b, ok := s.smallBlobs.get(sha); ok {
			return memBlob{bytes.NewReader(b)}, nil
		}
	}
	r, err := s.checkedBlob(ctx, f)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read blob: %w", err)
	}
	if err := s.checkSmall(f, b); err != nil {
		return nil, err
	}
	s.smallBlobs.put(sha, b)
	return memBlob{bytes.NewReader(b)}, nil
}

// openInline opens f's blob from memory or from its inline content,
// checking the content's size and sha256 as a small blob's are checked;
// nil and no error when the blob's bytes are not kept inline.
func (s *Service) openInline(ctx context.Context, f *File) (BlobReader, error) {
	sha, size := f.Blob.SHA256, f.Blob.Size
	p, damaged := s.damage.get(sha)
	if !damaged && size <= smallBlobMax {
		if b, ok := s.smallBlobs.get(sha); ok {
			return memBlob{bytes.NewReader(b)}, nil
		}
	}
	b, err := s.inlineBytes(ctx, f)
	if err != nil || b == nil {
		return nil, err
	}
	if damaged {
		return nil, s.blobFault(f, faultKnown, p, "recorded damaged")
	}
	if n := int64(len(b)); n != size {
		problem := BlobTruncated
		if n > size {
			problem = BlobCorrupt
		}
		return nil, s.blobFault(f, faultSize, problem, fmt.Sprintf("%d bytes kept inline, %d recorded", n, size))
	}
	if err := s.checkSmall(f, b); err != nil {
		return nil, err
	}
	if size <= smallBlobMax {
		s.smallBlobs.put(sha, b)
	}
	return memBlob{bytes.NewReader(b)}, nil
}
