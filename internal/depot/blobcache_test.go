package depot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync/atomic"
	"testing"
)

// fileStore serves one file record.
type fileStore struct {
	ownerStore
	file *File
}

func (s *fileStore) FileByName(ctx context.Context, ownerID int64, typ PackageType, pkg, version, file string) (*File, error) {
	if file != s.file.Name {
		return nil, ErrNotFound
	}
	f := *s.file
	return &f, nil
}

// BlobExists answers for the one file's blob.
func (s *fileStore) BlobExists(ctx context.Context, sha256 string) (bool, error) {
	return s.file != nil && s.file.Blob.SHA256 == sha256, nil
}

// MarkBlobDamaged records nothing.
func (s *fileStore) MarkBlobDamaged(ctx context.Context, d BlobDamage) error { return nil }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// countingBlobs holds blobs in memory and counts opens.
type countingBlobs struct {
	BlobStore
	data  map[string][]byte
	opens atomic.Int64
}

func (b *countingBlobs) Open(ctx context.Context, sha256 string) (BlobReader, error) {
	b.opens.Add(1)
	p, ok := b.data[sha256]
	if !ok {
		return nil, ErrNotFound
	}
	return memBlob{bytes.NewReader(p)}, nil
}

func TestSmallBlobCache(t *testing.T) {
	small, large := []byte("small content"), bytes.Repeat([]byte{'x'}, smallBlobMax+1)
	shaSmall, shaLarge := sha256Hex(small), sha256Hex(large)
	blobs := &countingBlobs{data: map[string][]byte{shaSmall: small, shaLarge: large}}
	st := &fileStore{ownerStore: ownerStore{tokenStore: tokenStore{user: &User{Owner: Owner{ID: 7, Name: "alice", Kind: KindUser, Visibility: Public}}}}}
	s := NewService(st, blobs, nil, nil)
	read := func(name, sha string, want []byte) {
		t.Helper()
		st.file = &File{Name: name, Blob: Blob{SHA256: sha, Size: int64(len(want))}}
		_, r, err := s.OpenFile(t.Context(), nil, FileRef{Owner: "alice", Type: TypeGeneric, Package: "p", Version: "1", File: name})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: read %d bytes (%v), want %d", name, len(got), err, len(want))
		}
	}
	for range 3 {
		read("small.txt", shaSmall, small)
	}
	if n := blobs.opens.Load(); n != 1 {
		t.Errorf("3 downloads of a small file opened its blob %d times, want 1", n)
	}
	for range 2 {
		read("large.bin", shaLarge, large)
	}
	if n := blobs.opens.Load(); n != 3 {
		t.Errorf("after 2 downloads of a large file: %d opens, want 3 (large blobs are not cached)", n)
	}
	if err := s.removeBlob(t.Context(), shaSmall); err != nil {
		t.Fatal(err)
	}
	delete(blobs.data, shaSmall)
	st.file = &File{Name: "small.txt", Blob: Blob{SHA256: shaSmall, Size: int64(len(small))}}
	if _, _, err := s.OpenFile(t.Context(), nil, FileRef{Owner: "alice", Type: TypeGeneric, Package: "p", Version: "1", File: "small.txt"}); err == nil {
		t.Error("download of a removed blob's record succeeded: the cache kept it")
	}
}

func (b *countingBlobs) Delete(ctx context.Context, sha256 string) error {
	delete(b.data, sha256)
	return nil
}

// InlineBlob keeps nothing inline.
func (s *fileStore) InlineBlob(ctx context.Context, sha256 string) ([]byte, error) {
	return nil, ErrNotFound
}
