// Package s3blob implements depot.BlobStore on an S3-compatible object store
// (AWS S3, MinIO, Ceph RGW, ...) through minio-go.
//
// Layout, under the configured prefix:
//
//	blobs/sha256/<first two hex digits>/<digest>   a committed blob, or a link to its data object
//	data/<random>                                  a linked blob's bytes (or an upload's, until Commit)
//	tmp/<random>                                   an upload's staging object, or a linked upload's marker
//	tmp/<random>.copy-<digest>                     marks a multipart copy into <digest>
//
// An upload of declared size up to Config.LinkSize streams into its staging
// object with a PutObject, and Commit copies the staging object to the blob's
// key on the server (a multipart UploadPartCopy above Config.CopyPartSize,
// since a single CopyObject stops at 5 GiB) and removes it. A larger upload,
// or one of unknown size, streams into data/<random> as a multipart upload
// holding two parts in memory, and Commit puts an empty link object at the
// blob's key naming it (see link.go): the bytes are written once. Either way,
// if the blob exists, the upload's bytes are only removed.
//
// Everything that is not a committed blob is findable under tmp/: NewUpload
// writes an empty staging object before it starts the PutObject, and a
// multipart copy writes its marker first, so a garbage collector that lists
// tmp/ finds every key that may have an unfinished multipart upload, even on
// MinIO, whose ListMultipartUploads answers only for an exact key. CleanTemp
// is that collector; TempUploads lists what it would look at.
package s3blob

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/depot-registry/depot/internal/depot"
)

// cleanupTimeout bounds the requests of Close, which has no context.
const cleanupTimeout = time.Minute

// Store is a depot.BlobStore on an S3 bucket. It is safe for concurrent use.
type Store struct {
	client       *minio.Client
	core         minio.Core
	bucket       string
	prefix       string
	partSize     int64
	copyPartSize int64
	linkSize     int64 // largest declared size that is copied; -1: all are
	// signedPayload: uploads sign their bytes (Config.SignedPayload).
	signedPayload bool
	// plainHTTP: the endpoint is http://, so a download's bytes can be
	// spliced from its connection (reader.Socket).
	plainHTTP bool

	// trackKey, when not nil, is called with every key on which the store
	// starts a multipart upload (tests check those keys for leftovers).
	trackKey func(key string)
}

var (
	_ depot.BlobStore  = (*Store)(nil)
	_ depot.BlobLinker = (*Store)(nil)
)

// New connects to the bucket c describes and checks that it exists and the
// credentials may read it. The error names what is wrong: a setting, a
// missing bucket, refused credentials or an unreachable endpoint.
func New(ctx context.Context, c Config) (*Store, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	host, secure, where := "s3.amazonaws.com", true, "AWS S3"
	if c.Endpoint != "" {
		host, secure, _ = parseEndpoint(c.Endpoint)
		where = c.Endpoint
	}
	var creds *credentials.Credentials
	if c.AccessKey != "" {
		creds = credentials.NewStaticV4(c.AccessKey, c.SecretKey, "")
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.EnvMinio{},
			&credentials.FileAWSCredentials{},
			&credentials.IAM{},
		})
	}
	lookup := minio.BucketLookupAuto
	if c.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(host, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Region:       c.Region,
		BucketLookup: lookup,
		Transport:    c.Transport,
		// CRC32C checksums of parts (see Config.SignedPayload).
		TrailingHeaders: !c.SignedPayload,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", where, err)
	}
	ok, err := client.BucketExists(ctx, c.Bucket)
	switch code := errCode(err); {
	case code == "AccessDenied" || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "InvalidToken" || code == "ExpiredToken":
		return nil, fmt.Errorf("s3 bucket %q at %s: credentials refused (%s): check the access key and secret key: %w", c.Bucket, where, code, err)
	case err != nil:
		return nil, fmt.Errorf("s3 bucket %q at %s: %w", c.Bucket, where, err)
	case !ok:
		return nil, fmt.Errorf("s3 bucket %q does not exist at %s", c.Bucket, where)
	}
	return &Store{
		client:        client,
		core:          minio.Core{Client: client},
		bucket:        c.Bucket,
		prefix:        c.Prefix,
		partSize:      c.PartSize,
		copyPartSize:  c.CopyPartSize,
		linkSize:      c.LinkSize,
		signedPayload: c.SignedPayload,
		plainHTTP:     !secure,
	}, nil
}

// errCode returns the S3 error code of err, "" if err is not an S3 error
// response.
func errCode(err error) string {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code
	}
	return ""
}

// errFull is what a write to a full object store answers.
var errFull = &depot.Error{Kind: depot.ErrInsufficientStorage, Message: "insufficient storage: the object store is full"}

// translate gives S3 errors that mean a missing object, or a full store
// (MinIO's XMinioStorageFull, below its free-space threshold, and its bucket
// quota; StorageFull of other S3 servers), their depot kinds, by error code.
func translate(err error) error {
	switch errCode(err) {
	case minio.NoSuchKey:
		return fmt.Errorf("%w: %v", depot.ErrNotFound, err)
	case "XMinioStorageFull", "StorageFull", "XMinioAdminBucketQuotaExceeded":
		return fmt.Errorf("%w: %w", errFull, err)
	}
	return err
}

func (s *Store) blobsPrefix() string { return s.prefix + "blobs/sha256/" }
func (s *Store) tmpPrefix() string   { return s.prefix + "tmp/" }

// blobKey returns the key of the blob digest. ErrInvalid.
func (s *Store) blobKey(digest string) (string, error) {
	if !depot.ValidSHA256(digest) {
		return "", depot.Errorf(depot.ErrInvalid, "invalid sha256 digest %q", digest)
	}
	return s.blobsPrefix() + digest[:2] + "/" + digest, nil
}

// digestOf returns the digest of a blob key, false for any other key.
func (s *Store) digestOf(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, s.blobsPrefix())
	if !ok || len(rest) != 3+64 || rest[2] != '/' {
		return "", false
	}
	d := rest[3:]
	return d, depot.ValidSHA256(d) && d[:2] == rest[:2]
}

// Open implements depot.BlobStore. It checks that the blob exists (one HEAD);
// reads are ranged GETs from the reader's offset, made by the first Read
// after Open or a Seek, with ctx. So http.ServeContent answers a Range
// request with one GET of that range onwards, not a read from the start.
func (s *Store) Open(ctx context.Context, digest string) (depot.BlobReader, error) {
	key, size, err := s.resolve(ctx, digest)
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", digest, err)
	}
	return &reader{ctx: ctx, s: s, key: key, size: size}, nil
}

// reader is a blob being read. body, when not nil, is a GET response
// positioned at off.
type reader struct {
	ctx    context.Context
	s      *Store
	key    string
	size   int64
	off    int64
	body   io.ReadCloser
	sock   net.Conn // a GET of Socket's, closed by Close
	stop   func() bool
	closed bool
}

func (r *reader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errors.New("s3blob: read after Close")
	}
	if r.off >= r.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.body == nil {
		var opts minio.GetObjectOptions
		if r.off > 0 {
			if err := opts.SetRange(r.off, 0); err != nil {
				return 0, err
			}
		}
		body, _, _, err := r.s.core.GetObject(r.ctx, r.s.bucket, r.key, opts)
		if err != nil {
			return 0, fmt.Errorf("read blob: %w", translate(err))
		}
		r.body = body
	}
	n, err := r.body.Read(p)
	r.off += int64(n)
	switch {
	case err == io.EOF && r.off < r.size:
		err = fmt.Errorf("read blob: %w after %d of %d bytes", io.ErrUnexpectedEOF, r.off, r.size)
	case err != nil && err != io.EOF:
		err = fmt.Errorf("read blob: %w", err)
	default:
		return n, err
	}
	// A failed GET is done: another Read starts a new one at the offset.
	r.body.Close()
	r.body = nil
	return n, err
}

// Seek moves the offset; the next Read starts a new GET there unless the
// offset did not change.
func (r *reader) Seek(offset int64, whence int) (int64, error) {
	if r.closed {
		return 0, errors.New("s3blob: seek after Close")
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.size + offset
	default:
		return 0, fmt.Errorf("s3blob: seek: invalid whence %d", whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("s3blob: seek to negative offset %d", abs)
	}
	if abs != r.off && r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.off = abs
	return abs, nil
}

func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.sock != nil {
		r.stop()
		r.sock.Close()
		r.sock = nil
	}
	if r.body != nil {
		// Closing a response early is how a reader stops a GET; its error
		// says nothing about the blob.
		r.body.Close()
		r.body = nil
	}
	return nil
}

// Socket implements depot.SocketSource for an endpoint over plain HTTP: it
// sends a presigned GET of the n bytes at the offset on a connection of
// its own (minio-go's transport does not hand out its connections) and
// returns that connection after the answer's header. The bytes then cross
// depot in the kernel (splice), not through a buffer: on loopback that
// was two of the download's four copies. Canceling the reader's context
// closes the connection.
func (r *reader) Socket(n int64) ([]byte, net.Conn, error) {
	switch {
	case r.closed:
		return nil, nil, errors.New("s3blob: read after Close")
	case !r.s.plainHTTP || r.sock != nil || n < socketMin || r.off+n > r.size:
		return nil, nil, nil
	}
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	u, err := r.s.client.PresignedGetObject(r.ctx, r.s.bucket, r.key, socketExpiry, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("read blob: presign: %w", err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	d := net.Dialer{Timeout: socketDialTimeout}
	conn, err := d.DialContext(r.ctx, "tcp", host)
	if err != nil {
		return nil, nil, fmt.Errorf("read blob: %w", err)
	}
	stop := context.AfterFunc(r.ctx, func() { conn.Close() })
	fail := func(err error) ([]byte, net.Conn, error) {
		stop()
		conn.Close()
		return nil, nil, fmt.Errorf("read blob: %w", err)
	}
	rng := "" // the whole object: a plain GET (MinIO serves it more cheaply)
	if r.off > 0 || n < r.size {
		rng = fmt.Sprintf("Range: bytes=%d-%d\r\n", r.off, r.off+n-1)
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n%sUser-Agent: depot\r\nConnection: close\r\n\r\n",
		u.RequestURI(), u.Host, rng); err != nil {
		return fail(err)
	}
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fail(err)
	}
	if want := http.StatusPartialContent; rng == "" && resp.StatusCode != http.StatusOK || rng != "" && resp.StatusCode != want {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		er := minio.ErrorResponse{StatusCode: resp.StatusCode}
		if xml.Unmarshal(body, &er) != nil || er.Code == "" {
			er.Code = resp.Status
		}
		return fail(translate(er))
	}
	if resp.ContentLength != n {
		return fail(fmt.Errorf("GET of %d bytes answered %d", n, resp.ContentLength))
	}
	head := make([]byte, min(int64(br.Buffered()), n))
	if _, err := io.ReadFull(br, head); err != nil {
		return fail(err)
	}
	r.sock, r.stop = conn, stop
	r.off += n
	return head, conn, nil
}

const (
	// socketExpiry is how long the URL of a Socket GET is valid: only
	// until the request is sent.
	socketExpiry = 5 * time.Minute
	// socketMin is the least a Socket GET moves: below it a connection
	// of its own (minio-go's are kept alive) costs more than it saves.
	socketMin         = 1 << 20
	socketDialTimeout = 10 * time.Second
)

// Stat implements depot.BlobStore.
func (s *Store) Stat(ctx context.Context, digest string) (int64, error) {
	_, size, err := s.resolve(ctx, digest)
	if err != nil {
		return 0, fmt.Errorf("stat blob %s: %w", digest, err)
	}
	return size, nil
}

// Delete implements depot.BlobStore. S3 deletes missing keys without
// complaint, so Delete asks first (a HEAD) to answer ErrNotFound.
func (s *Store) Delete(ctx context.Context, digest string) error {
	key, err := s.blobKey(digest)
	if err != nil {
		return err
	}
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return fmt.Errorf("delete blob %s: %w", digest, translate(err))
	}
	if data, ok := s.linkTarget(info); ok {
		return s.deleteLinked(ctx, digest, key, data)
	}
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete blob %s: %w", digest, translate(err))
	}
	return nil
}

// Walk implements depot.BlobStore. It lists the blobs/ keys and ignores any
// that is not a blob's.
func (s *Store) Walk(ctx context.Context, fn func(string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing when fn fails
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.blobsPrefix(), Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("list blobs: %w", obj.Err)
		}
		if d, ok := s.digestOf(obj.Key); ok {
			if err := fn(d); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// Longest and shortest lifetimes of a presigned URL (SigV4's limits).
const (
	minPresignExpiry = time.Second
	maxPresignExpiry = 7 * 24 * time.Hour
)

// PresignGet implements depot.BlobLinker: a URL valid for expiry (1 second to
// 7 days, else ErrInvalid) whose GET answers the blob with
// Content-Disposition: attachment; filename=... It makes one HEAD, to sign
// the data object of a linked blob; with Config.Region set, no other request.
func (s *Store) PresignGet(ctx context.Context, digest string, expiry time.Duration, filename string) (string, error) {
	key, err := s.blobKey(digest)
	if err != nil {
		return "", err
	}
	if expiry < minPresignExpiry || expiry > maxPresignExpiry {
		return "", depot.Errorf(depot.ErrInvalid, "link expiry %v: want 1s to 7 days", expiry)
	}
	// The blob may be a link (one HEAD): sign its data object's key. A
	// missing blob gets a URL of its own key, which answers 404.
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	switch {
	case err == nil:
		if data, ok := s.linkTarget(info); ok {
			key = data
		}
	case errCode(err) != minio.NoSuchKey:
		return "", fmt.Errorf("presign blob %s: %w", digest, err)
	}
	params := url.Values{}
	disposition := "attachment"
	if filename != "" {
		// FormatMediaType quotes the name, or encodes it as RFC 2231
		// (filename*=utf-8''...) when it is not ASCII.
		if disposition = mime.FormatMediaType("attachment", map[string]string{"filename": filename}); disposition == "" {
			return "", depot.Errorf(depot.ErrInvalid, "file name %q cannot be a Content-Disposition", filename)
		}
	}
	params.Set("response-content-disposition", disposition)
	u, err := s.client.PresignedGetObject(ctx, s.bucket, key, expiry, params)
	if err != nil {
		return "", fmt.Errorf("presign blob %s: %w", digest, err)
	}
	return u.String(), nil
}
