package s3blob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/depot-registry/depot/internal/depot"
)

// Staging is a depot.UploadStaging on the bucket of a Store: each append
// of a resumable upload is one object, uploads/<token>/<offset, 20
// digits>, of at most the Service's append chunk (8 MiB), so a cut request
// keeps every chunk it sent and any replica can continue. Open reads the
// chunks in order; committing then streams them through the Store's
// ordinary upload (one read pass), which also hashes them again. Objects
// under uploads/ are neither blobs nor temporary uploads: Walk and
// CleanTemp never see them; expired uploads are removed through the
// Service (admin gc).
//
// Chunk objects rather than one S3 multipart upload: a multipart upload
// needs parts of at least 5 MiB but a cut request ends anywhere, and its
// parts list would be state to keep beside the database's. Objects are
// simpler and every one is durable the moment it is written.
type Staging struct {
	s *Store
}

var _ depot.UploadStaging = (*Staging)(nil)

// UploadStaging returns the upload staging area on s's bucket.
func (s *Store) UploadStaging() (depot.UploadStaging, error) { return &Staging{s: s}, nil }

func (st *Staging) prefix(token string) (string, error) {
	if len(token) != 32 || strings.Trim(token, "0123456789abcdef") != "" {
		return "", depot.Errorf(depot.ErrInvalid, "invalid upload token")
	}
	return st.s.prefix + "uploads/" + token + "/", nil
}

// Append implements depot.UploadStaging. A chunk at an offset replaces the
// one an unrecorded earlier append left there; chunks beyond it that such
// an append left are skipped by Open (they start inside a chunk it reads).
func (st *Staging) Append(ctx context.Context, token string, offset int64, p []byte) error {
	pre, err := st.prefix(token)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("%s%020d", pre, offset)
	_, err = st.s.client.PutObject(ctx, st.s.bucket, key, bytes.NewReader(p), int64(len(p)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, translate(err))
	}
	return nil
}

type chunkInfo struct {
	offset, size int64
	key          string
}

// chunks lists token's chunk objects by offset.
func (st *Staging) chunks(ctx context.Context, token string) ([]chunkInfo, error) {
	pre, err := st.prefix(token)
	if err != nil {
		return nil, err
	}
	var out []chunkInfo
	for obj := range st.s.client.ListObjectsIter(ctx, st.s.bucket, minio.ListObjectsOptions{Prefix: pre, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list %s: %w", pre, translate(obj.Err))
		}
		off, err := strconv.ParseInt(strings.TrimPrefix(obj.Key, pre), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, chunkInfo{offset: off, size: obj.Size, key: obj.Key})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].offset < out[j].offset })
	return out, nil
}

// Open implements depot.UploadStaging.
func (st *Staging) Open(ctx context.Context, token string, size int64) (io.ReadCloser, error) {
	all, err := st.chunks(ctx, token)
	if err != nil {
		return nil, err
	}
	var use []chunkInfo
	var pos int64
	for _, c := range all {
		if pos >= size {
			break
		}
		if c.offset < pos {
			continue // left by an append that was not recorded
		}
		if c.offset > pos {
			return nil, fmt.Errorf("staged upload has no bytes at offset %d: %w", pos, depot.ErrNotFound)
		}
		use = append(use, c)
		pos += c.size
	}
	if pos < size {
		return nil, fmt.Errorf("staged upload holds %d bytes, not %d: %w", pos, size, depot.ErrNotFound)
	}
	return &chunkReader{ctx: ctx, st: st, chunks: use, left: size}, nil
}

// chunkReader reads chunk objects one after the other, up to left bytes.
type chunkReader struct {
	ctx    context.Context
	st     *Staging
	chunks []chunkInfo
	cur    io.ReadCloser
	left   int64
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for {
		if r.left <= 0 {
			return 0, io.EOF
		}
		if r.cur == nil {
			if len(r.chunks) == 0 {
				return 0, io.ErrUnexpectedEOF
			}
			obj, err := r.st.s.client.GetObject(r.ctx, r.st.s.bucket, r.chunks[0].key, minio.GetObjectOptions{})
			if err != nil {
				return 0, fmt.Errorf("get %s: %w", r.chunks[0].key, translate(err))
			}
			r.cur, r.chunks = obj, r.chunks[1:]
		}
		if int64(len(p)) > r.left {
			p = p[:r.left]
		}
		n, err := r.cur.Read(p)
		r.left -= int64(n)
		if err == io.EOF {
			r.cur.Close()
			r.cur = nil
			err = nil
		}
		if n > 0 || err != nil {
			if err != nil {
				err = fmt.Errorf("read staged upload: %w", translate(err))
			}
			return n, err
		}
	}
}

func (r *chunkReader) Close() error {
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}

// Remove implements depot.UploadStaging.
func (st *Staging) Remove(ctx context.Context, token string) error {
	all, err := st.chunks(ctx, token)
	if err != nil {
		return err
	}
	for _, c := range all {
		if err := st.s.client.RemoveObject(ctx, st.s.bucket, c.key, minio.RemoveObjectOptions{}); err != nil && errCode(err) != minio.NoSuchKey {
			return fmt.Errorf("remove %s: %w", c.key, translate(err))
		}
	}
	return nil
}
