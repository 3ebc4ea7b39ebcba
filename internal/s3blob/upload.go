package s3blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/depot-registry/depot/internal/depot"
)

// copyThreads is how many UploadPartCopy requests a multipart copy runs at
// once. They copy on the server, so they cost no memory here.
const copyThreads = 4

// smallUpload is the largest declared size of an upload kept in memory and
// written with one PUT at its blob's key by Commit: no staging object, no
// copy, nothing to clean up (two requests instead of five).
const smallUpload = 1 << 20

// uploadThreads is how many parts of a multipart upload are in memory (and
// in flight) at once: an upload holds uploadThreads parts.
const uploadThreads = 2

// errUploadClosed ends the PutObject of an upload closed before Complete.
var errUploadClosed = errors.New("s3blob: upload closed before Complete")

// NewUpload implements depot.BlobStore. It writes the upload's empty staging
// object (so tmp/ shows the upload from its start), then starts a PutObject
// of the staging object that reads what Write writes through a pipe. With a
// known size the PutObject sends exactly that many bytes, in parts of
// Config.PartSize or larger so no more than 10000 are needed; with size -1 it
// sends parts of Config.PartSize until Complete. Either way it holds one part
// in memory. A size above 5 TiB is ErrTooLarge. The PutObject runs with ctx:
// canceling ctx aborts the upload.
func (s *Store) NewUpload(ctx context.Context, size int64) (depot.BlobUpload, error) {
	switch {
	case size < -1:
		return nil, depot.Errorf(depot.ErrInvalid, "invalid upload size %d", size)
	case size > maxObjectLen:
		return nil, depot.Errorf(depot.ErrTooLarge, "upload of %d bytes is larger than S3's 5 TiB limit", size)
	}
	if size >= 0 && size <= smallUpload {
		return &memUpload{s: s, size: size, buf: make([]byte, 0, size)}, nil
	}
	key := s.tmpPrefix() + rand.Text()
	if _, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
		return nil, fmt.Errorf("create staging object: %w", translate(err))
	}
	putKey := key
	u := &upload{s: s, key: key, size: size}
	if s.linkSize >= 0 && (size < 0 || size > s.linkSize) {
		u.data = s.dataKeyOf(key)
		putKey = u.data
	}
	if s.trackKey != nil {
		s.trackKey(putKey)
	}
	pr, pw := io.Pipe()
	putCtx, cancel := context.WithCancel(ctx)
	u.pw, u.cancel, u.done = pw, cancel, make(chan struct{})
	partSize := s.uploadPartSize(size)
	opts := minio.PutObjectOptions{
		ContentType:          "application/octet-stream",
		PartSize:             uint64(partSize),
		NumThreads:           1,
		DisableContentSha256: !s.signedPayload,
	}
	if size < 0 || size > partSize {
		// A multipart upload: uploadThreads part buffers, so the next part
		// fills while the last one is sent.
		opts.ConcurrentStreamParts = true
		opts.NumThreads = uploadThreads
	}
	go func() {
		defer close(u.done)
		_, err := s.client.PutObject(putCtx, s.bucket, putKey, pr, size, opts)
		err = translate(err)
		u.putErr = err
		if err == nil {
			err = errors.New("s3blob: upload already complete")
		}
		// Unblocks and fails a Write waiting for a reader that is gone.
		pr.CloseWithError(err)
	}()
	return u, nil
}

// uploadPartSize returns the part size for an upload of size bytes (-1 if
// unknown): Config.PartSize, or the smallest whole number of MiB that fits
// size into 10000 parts if that is larger.
func (s *Store) uploadPartSize(size int64) int64 {
	return max(s.partSize, partSizeFor(size))
}

// partSizeFor returns the smallest whole number of MiB that splits size
// bytes into at most 10000 parts.
func partSizeFor(size int64) int64 {
	if size <= 0 {
		return 0
	}
	need := (size + maxParts - 1) / maxParts
	return (need + mib - 1) / mib * mib
}

// upload is a blob being written to its staging object. It is used by one
// goroutine at a time, as depot.BlobUpload's contract implies.
type upload struct {
	s      *Store
	key    string // the staging object (the marker, for a linked upload)
	data   string // a linked upload's data object, "" for a copied one
	size   int64  // declared size, -1 if unknown
	pw     *io.PipeWriter
	cancel context.CancelFunc // cancels the PutObject
	done   chan struct{}      // closed when the PutObject returned
	putErr error              // what it returned; read after done

	written    int64
	pipeClosed bool  // Complete or Close ended the stream
	err        error // why the upload failed, once it did
	completed  bool  // the staging object holds the bytes
	committed  bool
	closed     bool

	stagingGone bool   // the staging object was removed
	linked      bool   // Commit put the link to data: data is a blob's now
	dataGone    bool   // the data object was removed
	copyMarker  string // the marker of a multipart copy, until removed
	// An unfinished multipart upload may remain on the staging key (or the
	// blob key of the copy marker): keep the object that leads a collector
	// to it.
	keepStaging, keepMarker bool
}

func (u *upload) Write(p []byte) (int, error) {
	switch {
	case u.closed:
		return 0, errors.New("s3blob: write after Close")
	case u.err != nil:
		return 0, u.err
	case u.pipeClosed:
		return 0, errors.New("s3blob: write after Complete")
	case u.size >= 0 && u.written+int64(len(p)) > u.size:
		u.fail(depot.Errorf(depot.ErrInvalid, "upload is longer than its declared %d bytes", u.size))
		return 0, u.err
	}
	n, err := u.pw.Write(p)
	u.written += int64(n)
	if err != nil {
		u.err = fmt.Errorf("upload to s3: %w", err)
		return n, u.err
	}
	return n, nil
}

// fail records err as the reason the upload failed and ends the PutObject
// with it.
func (u *upload) fail(err error) {
	if u.err == nil {
		u.err = err
	}
	u.pipeClosed = true
	u.pw.CloseWithError(u.err)
}

// Complete ends the stream and waits for the PutObject to finish: the
// staging object then holds every byte written. With a known size, fewer
// bytes than declared is ErrInvalid.
func (u *upload) Complete(ctx context.Context) error {
	if u.completed {
		return nil
	}
	if u.closed {
		return errors.New("s3blob: Complete after Close")
	}
	if !u.pipeClosed {
		if u.size >= 0 && u.written != u.size {
			u.fail(depot.Errorf(depot.ErrInvalid, "upload ended after %d of its declared %d bytes", u.written, u.size))
		} else {
			u.pipeClosed = true
			u.pw.Close()
		}
	}
	select {
	case <-u.done:
	case <-ctx.Done():
		return fmt.Errorf("wait for upload to s3: %w", ctx.Err())
	}
	if u.err != nil {
		return u.err
	}
	if u.putErr != nil {
		u.err = fmt.Errorf("upload to s3: %w", u.putErr)
		return u.err
	}
	u.completed = true
	return nil
}

// Commit completes the upload if needed, then, unless the blob exists, copies
// the staging object to the blob's key on the server, and removes the
// staging object.
func (u *upload) Commit(ctx context.Context, digest string) error {
	if u.committed {
		return nil
	}
	dst, exists, err := u.s.prepareCommit(ctx, u.closed, digest, u.Complete)
	switch {
	case err != nil:
		return err
	case exists:
		// Same digest, same bytes: keep the existing blob.
	case u.data != "":
		if err := u.link(ctx, dst, digest); err != nil {
			return fmt.Errorf("commit blob %s: %w", digest, err)
		}
	default:
		if err := u.copyTo(ctx, dst, digest); err != nil {
			return fmt.Errorf("commit blob %s: %w", digest, translate(err))
		}
	}
	u.committed = true
	if u.data != "" && !u.linked {
		// Deduplicated: the data object is not needed. A failure leaves
		// it (and the marker) for Close, then CleanTemp.
		if err := u.s.client.RemoveObject(ctx, u.s.bucket, u.data, minio.RemoveObjectOptions{}); err != nil {
			return nil
		}
		u.dataGone = true
	}
	// A failure here leaves the staging object for Close to try again.
	if err := u.s.client.RemoveObject(ctx, u.s.bucket, u.key, minio.RemoveObjectOptions{}); err == nil {
		u.stagingGone = true
	}
	return nil
}

// link puts the link to the upload's data object at the blob key dst,
// after writing the marker again with the digest (so a crash between the
// two leaves a marker that leads CleanTemp to the data object). A link
// already there (a lost race) leaves the upload unlinked, to be discarded.
func (u *upload) link(ctx context.Context, dst, digest string) error {
	if err := u.s.markFor(ctx, u.key, digest); err != nil {
		return err
	}
	exists, err := u.s.putLink(ctx, dst, u.data)
	if err != nil {
		return fmt.Errorf("put link: %w", err)
	}
	u.linked = !exists
	return nil
}

// copyTo copies the staging object to dst: one CopyObject up to
// Config.CopyPartSize, a multipart copy above.
func (u *upload) copyTo(ctx context.Context, dst, digest string) error {
	if u.written <= u.s.copyPartSize {
		_, err := u.s.client.CopyObject(ctx,
			minio.CopyDestOptions{Bucket: u.s.bucket, Object: dst},
			minio.CopySrcOptions{Bucket: u.s.bucket, Object: u.key})
		return err
	}
	// The marker lets a collector find dst's multipart upload if this
	// process dies before it completes or aborts it.
	u.copyMarker = u.key + ".copy-" + digest
	if _, err := u.s.client.PutObject(ctx, u.s.bucket, u.copyMarker, bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("create copy marker: %w", err)
	}
	if err := u.s.copyMultipart(ctx, u.key, dst, u.written); err != nil {
		if errors.Is(err, errAbortFailed) {
			u.keepMarker = true
		}
		return err
	}
	if err := u.s.client.RemoveObject(ctx, u.s.bucket, u.copyMarker, minio.RemoveObjectOptions{}); err == nil {
		u.copyMarker = ""
	}
	return nil
}

// errAbortFailed marks a multipart copy that failed and whose multipart
// upload could not be aborted either.
var errAbortFailed = errors.New("abort multipart upload failed")

// copyMultipart copies the size bytes of src to dst with a multipart upload
// of UploadPartCopy requests, and aborts it on failure.
func (s *Store) copyMultipart(ctx context.Context, src, dst string, size int64) (err error) {
	partSize := max(s.copyPartSize, partSizeFor(size))
	n := int((size + partSize - 1) / partSize)
	uploadID, err := s.core.NewMultipartUpload(ctx, s.bucket, dst, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return fmt.Errorf("start multipart copy: %w", err)
	}
	if s.trackKey != nil {
		s.trackKey(dst)
	}
	defer func() {
		if err == nil {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if aerr := s.core.AbortMultipartUpload(actx, s.bucket, dst, uploadID); aerr != nil && errCode(aerr) != minio.NoSuchUpload {
			err = errors.Join(err, fmt.Errorf("%w: %w", errAbortFailed, aerr))
		}
	}()

	parts := make([]minio.CompletePart, n)
	errs := make([]error, n)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, copyThreads)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		if cctx.Err() != nil {
			errs[i] = cctx.Err()
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			off := int64(i) * partSize
			parts[i], errs[i] = s.core.CopyObjectPart(cctx, s.bucket, src, s.bucket, dst, uploadID, i+1, off, min(partSize, size-off), nil)
			if errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("copy parts: %w", err)
	}
	slices.SortFunc(parts, func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, dst, uploadID, parts, minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("complete multipart copy: %w", err)
	}
	return nil
}

// Close discards an uncommitted upload: it ends the PutObject if it is still
// running (minio-go then aborts its multipart upload), aborts any multipart
// upload still on the staging key, and removes the staging object and copy
// marker. What it cannot remove stays under tmp/ for CleanTemp.
func (u *upload) Close() error {
	if u.closed {
		return nil
	}
	u.closed = true
	if !u.pipeClosed {
		u.pipeClosed = true
		u.pw.CloseWithError(errUploadClosed)
	}
	select {
	case <-u.done:
	default:
		u.cancel()
		<-u.done
	}
	u.cancel()

	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var errs []error
	putKey := u.key
	if u.data != "" {
		putKey = u.data
	}
	if u.putErr != nil {
		// minio-go aborts the multipart upload of a failed PutObject, but
		// only tries once.
		if err := u.s.abortUploads(ctx, putKey); err != nil {
			u.keepStaging = true
			errs = append(errs, fmt.Errorf("abort upload of staging object: %w", err))
		}
	}
	if u.data != "" && !u.linked && !u.dataGone && !u.keepStaging {
		// Not a blob's: the bytes go, then the marker that leads to them.
		if err := u.s.client.RemoveObject(ctx, u.s.bucket, u.data, minio.RemoveObjectOptions{}); err != nil {
			u.keepStaging = true
			errs = append(errs, fmt.Errorf("remove data object: %w", err))
		}
	}
	if !u.stagingGone && !u.keepStaging {
		if err := u.s.client.RemoveObject(ctx, u.s.bucket, u.key, minio.RemoveObjectOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("remove staging object: %w", err))
		}
	}
	if u.copyMarker != "" && !u.keepMarker {
		if err := u.s.client.RemoveObject(ctx, u.s.bucket, u.copyMarker, minio.RemoveObjectOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("remove copy marker: %w", err))
		}
	}
	return errors.Join(errs...)
}

// memUpload is a small upload of declared size, held in memory until Commit
// writes it at its blob's key with one PUT (after a HEAD: an existing blob
// is kept). Nothing exists in the bucket before Commit, so Close has nothing
// to remove. Complete only checks the length: the bytes become durable in
// Commit, before it returns.
type memUpload struct {
	s         *Store
	size      int64
	buf       []byte
	err       error
	completed bool
	committed bool
	closed    bool
}

func (u *memUpload) Write(p []byte) (int, error) {
	switch {
	case u.closed:
		return 0, errors.New("s3blob: write after Close")
	case u.err != nil:
		return 0, u.err
	case u.completed:
		return 0, errors.New("s3blob: write after Complete")
	case int64(len(u.buf))+int64(len(p)) > u.size:
		u.err = depot.Errorf(depot.ErrInvalid, "upload is longer than its declared %d bytes", u.size)
		return 0, u.err
	}
	u.buf = append(u.buf, p...)
	return len(p), nil
}

func (u *memUpload) Complete(ctx context.Context) error {
	switch {
	case u.completed:
		return nil
	case u.closed:
		return errors.New("s3blob: Complete after Close")
	case u.err != nil:
		return u.err
	case int64(len(u.buf)) != u.size:
		u.err = depot.Errorf(depot.ErrInvalid, "upload ended after %d of its declared %d bytes", len(u.buf), u.size)
		return u.err
	}
	u.completed = true
	return nil
}

func (u *memUpload) Commit(ctx context.Context, digest string) error {
	if u.committed {
		return nil
	}
	dst, exists, err := u.s.prepareCommit(ctx, u.closed, digest, u.Complete)
	switch {
	case err != nil:
		return err
	case exists:
		// Same digest, same bytes: keep the existing blob.
	default:
		if _, err := u.s.client.PutObject(ctx, u.s.bucket, dst, bytes.NewReader(u.buf), u.size,
			minio.PutObjectOptions{ContentType: "application/octet-stream"}); err != nil {
			return fmt.Errorf("commit blob %s: %w", digest, translate(err))
		}
	}
	u.committed = true
	return nil
}

// Salvage implements depot.SalvageableUpload: what the upload holds in
// memory is staged in one Append (it is at most smallUpload bytes).
func (u *memUpload) Salvage(ctx context.Context, st depot.UploadStaging, token string) (int64, error) {
	if u.committed || len(u.buf) == 0 {
		return 0, nil
	}
	if err := st.Append(ctx, token, 0, u.buf); err != nil {
		return 0, err
	}
	return int64(len(u.buf)), nil
}

func (u *memUpload) Close() error {
	u.closed = true
	u.buf = nil
	return nil
}

// prepareCommit is the start of every upload's Commit: refused after
// Close, the upload completed, then the blob key of digest and whether a
// blob is stored there already (dedup).
func (s *Store) prepareCommit(ctx context.Context, closed bool, digest string, complete func(context.Context) error) (dst string, exists bool, err error) {
	if closed {
		return "", false, errors.New("s3blob: Commit after Close")
	}
	if dst, err = s.blobKey(digest); err != nil {
		return "", false, err
	}
	if err := complete(ctx); err != nil {
		return "", false, err
	}
	_, err = s.client.StatObject(ctx, s.bucket, dst, minio.StatObjectOptions{})
	switch {
	case err == nil:
		return dst, true, nil
	case errCode(err) == minio.NoSuchKey:
		return dst, false, nil
	}
	return "", false, fmt.Errorf("commit blob %s: %w", digest, err)
}
