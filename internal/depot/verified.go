package depot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/depot-registry/depot/internal/digest"
)

// Verified uploads: an upload may declare the digests of its content
// (digest.Set, parsed at the edge); the service checks them inside the
// streaming hash, before the file is recorded, so a mismatch leaves nothing
// behind. An upload may also ask to be made from content already stored
// (deploy by checksum), and a refused upload to an existing name says
// whether the stored content is the same (ExistingFileError).

// FileUpload is how a file is uploaded besides its body.
type FileUpload struct {
	// Size is the declared length, -1 if unknown.
	Size int64
	// Expect are the digests the client declared; each must match the
	// content, or nothing is stored (ErrInvalid naming the algorithm, the
	// expected and the actual digest).
	Expect digest.Set
	// Deploy makes the file from stored content whose sha256 Expect
	// declares, without reading a body (Artifactory's X-Checksum-Deploy),
	// when the actor may read a file with that content; otherwise
	// ErrNotFound and the client uploads the body.
	Deploy bool
}

// ExistingFileError is the ErrConflict of an upload to a file name that is
// taken. Identical tells whether the upload's content is the stored
// content: decided from a declared digest when there is one (the body is
// then not read), else from the size and, when the sizes agree, the body's
// sha256 (the body is read, hashed and discarded).
type ExistingFileError struct {
	// Err is the conflict as the dialect words it (an *Error of kind
	// ErrConflict, or ErrDuplicatePackage).
	Err       error
	Identical bool
	// SHA256 is the stored file's.
	SHA256 string
}

func (e *ExistingFileError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *ExistingFileError) Unwrap() error { return e.Err }

// DigestMismatchError is the ErrInvalid of an upload whose content does not
// have a declared digest. Mismatch names the header, the algorithm and
// both digests.
type DigestMismatchError struct {
	Mismatch *digest.MismatchError
}

func (e *DigestMismatchError) Error() string {
	return e.Mismatch.Error() + "; nothing was stored"
}

// Unwrap returns the kind and the mismatch, so errors.Is(err, ErrInvalid)
// and errors.As(err, **digest.MismatchError) both hold.
func (e *DigestMismatchError) Unwrap() []error {
	return []error{&Error{Kind: ErrInvalid, Message: e.Error()}, e.Mismatch}
}

// UploadFile stores body as ref's file; it is PutFile with only a declared
// size.
func (s *Service) UploadFile(ctx context.Context, a *Actor, ref FileRef, size int64, body io.Reader) (*File, error) {
	return s.PutFile(ctx, a, ref, FileUpload{Size: size}, body)
}

// blobHex returns b's digests by algorithm, for digest.Set.CheckHex.
func blobHex(b Blob) map[digest.Algorithm]string {
	return map[digest.Algorithm]string{digest.SHA256: b.SHA256, digest.SHA512: b.SHA512, digest.SHA1: b.SHA1, digest.MD5: b.MD5}
}

// onlySHA256 reports whether checking expect needs no digest but the
// sha256 (so the others of a large upload may still be deferred).
func onlySHA256(expect digest.Set) bool {
	return !slices.ContainsFunc(expect.Algorithms(), func(a digest.Algorithm) bool { return a != digest.SHA256 })
}

// checkExpected compares a received blob with the declared digests.
func checkExpected(expect digest.Set, b Blob) error {
	if err := expect.CheckHex(blobHex(b)); err != nil {
		var m *digest.MismatchError
		if errors.As(err, &m) {
			return &DigestMismatchError{Mismatch: m}
		}
		return err
	}
	return nil
}

// identical tells whether an upload to the name of the stored file f has
// f's content (see ExistingFileError). It reads the body only when no
// digest is declared and the sizes do not already differ, and then at most
// f's size plus one byte.
func (s *Service) identical(ctx context.Context, f *File, up FileUpload, body io.Reader) (bool, error) {
	if sum, ok := up.Expect.Sum(digest.SHA256); ok {
		return hex.EncodeToString(sum) == f.Blob.SHA256 && (up.Size < 0 || up.Size == f.Blob.Size || up.Deploy), nil
	}
	if len(up.Expect) > 0 {
		b := f.Blob
		if err := s.CompleteDigests(ctx, &b); err != nil {
			return false, err
		}
		return up.Expect.CheckHex(blobHex(b)) == nil, nil
	}
	if up.Deploy || body == nil || (up.Size >= 0 && up.Size != f.Blob.Size) {
		return false, nil
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(body, f.Blob.Size+1))
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, &Error{Kind: ErrInvalid, Message: "request body ended before it was complete"}
		}
		return false, fmt.Errorf("read body to compare: %w", err)
	}
	return n == f.Blob.Size && hex.EncodeToString(h.Sum(nil)) == f.Blob.SHA256, nil
}

// existingFile returns the conflict of an upload to the name of f, worded
// by conflict, with whether the content is identical.
func (s *Service) existingFile(ctx context.Context, f *File, up FileUpload, body io.Reader, conflict func(identical bool) error) error {
	same, err := s.identical(ctx, f, up, body)
	if err != nil {
		return err
	}
	return &ExistingFileError{Err: conflict(same), Identical: same, SHA256: f.Blob.SHA256}
}

func existsError(ref FileRef) func(bool) error {
	return func(same bool) error {
		if same {
			return Errorf(ErrConflict, "file %q already exists in version %q, with identical content", ref.File, ref.Version)
		}
		return Errorf(ErrConflict, "file %q already exists in version %q, with different content", ref.File, ref.Version)
	}
}

// maxDeployCandidates bounds the files a deploy by checksum tries, in
// upload order, to find one the actor may read.
const maxDeployCandidates = 100

var errNoDeploySHA256 = &Error{Kind: ErrNotFound, Message: "deploy by checksum needs the sha256 (X-Checksum-Sha256 or Repr-Digest sha-256): upload the content instead"}

// deploySource returns the stored blob a deploy by checksum (whose body
// must be empty) makes its file from: that of a file the actor may read (as a download would allow)
// whose sha256 is the declared one, and whose other declared digests
// match. ErrNotFound, worded the same whether no file has that content or
// none the actor may read, so a deploy reveals nothing a download would
// not.
func (s *Service) deploySource(ctx context.Context, a *Actor, up FileUpload, body io.Reader) (Blob, error) {
	withBody := Errorf(ErrInvalid, "a deploy by checksum (X-Checksum-Deploy: true) takes no body")
	if up.Size > 0 {
		return Blob{}, withBody
	}
	if up.Size < 0 && body != nil {
		// A body of unknown length: it must be empty.
		if n, _ := io.ReadFull(body, make([]byte, 1)); n > 0 {
			return Blob{}, withBody
		}
	}
	sum, ok := up.Expect.Sum(digest.SHA256)
	if !ok {
		return Blob{}, errNoDeploySHA256
	}
	sha := hex.EncodeToString(sum)
	notFound := Errorf(ErrNotFound, "no file you may read has sha256 %s: upload the content instead", sha)
	if _, damaged := s.damage.get(sha); damaged {
		return Blob{}, notFound
	}
	files, err := s.store.BlobFiles(ctx, sha)
	if err != nil {
		return Blob{}, fmt.Errorf("look up files of blob: %w", err)
	}
	for i, bf := range files {
		if i == maxDeployCandidates {
			break
		}
		f, err := s.readableFile(ctx, a, FileRef{Owner: bf.Owner, Type: bf.Type, Package: bf.Package, Version: bf.Version, File: bf.File})
		if err != nil {
			var de *Error
			if errors.As(err, &de) {
				continue // not readable by a: try the next
			}
			return Blob{}, err
		}
		if f.Blob.SHA256 != sha {
			continue // a newer GitLab duplicate took the name
		}
		b := f.Blob
		if !onlySHA256(up.Expect) {
			if err := s.CompleteDigests(ctx, &b); err != nil {
				return Blob{}, err
			}
		}
		if err := checkExpected(up.Expect, b); err != nil {
			return Blob{}, err
		}
		return b, nil
	}
	return Blob{}, notFound
}

// content is an upload's content on its way to being recorded: received
// from the body into a blob upload, or (deploy by checksum) stored
// already.
type content struct {
	blob Blob
	up   BlobUpload // nil for a deploy
	// inline, when not nil, is the content to keep inline
	// (NewFile.Content): a small upload's body, or a deploy's source kept
	// inline already.
	inline    []byte
	deferRest bool
	s         *Service
}

// obtain receives the body, or for a deploy takes the stored blob found by
// deploySource (deployed), checking the declared digests either way.
func (s *Service) obtain(ctx context.Context, up FileUpload, deployed *Blob, body io.Reader, lim streamLimit) (*content, error) {
	if deployed != nil {
		b := *deployed
		b.CreatedAt = s.now()
		c := &content{blob: b, s: s}
		// A source kept inline travels with the new record, so a delete
		// of its last file meanwhile cannot leave the record without it.
		inl, err := s.inlineBytes(ctx, &File{Blob: b})
		if err != nil {
			return nil, err
		}
		if inl != nil {
			sum := sha256.Sum256(inl)
			if int64(len(inl)) != b.Size || hex.EncodeToString(sum[:]) != b.SHA256 {
				return nil, Errorf(ErrNotFound, "the content with sha256 %s is damaged here: upload it", b.SHA256)
			}
			c.inline = inl
		}
		return c, nil
	}
	bu, blob, deferRest, err := s.receiveBlob(ctx, up.Size, body, lim, up.Expect)
	if err != nil {
		return nil, err
	}
	c := &content{blob: blob, up: bu, deferRest: deferRest, s: s}
	if su, ok := bu.(*smallUpload); ok {
		c.inline = su.inline()
	}
	return c, nil
}

// commit is the CreateFile callback: the blob upload's commit (nothing for
// content kept inline), or for a deploy a check that the blob is still
// stored whole (a concurrent delete of its last file may have removed it;
// nothing is then recorded).
func (c *content) commit(ctx context.Context) error {
	if c.up != nil {
		return c.up.Commit(ctx, c.blob.SHA256)
	}
	if c.inline != nil {
		return nil // the bytes go with the record
	}
	n, err := c.s.blobs.Stat(ctx, c.blob.SHA256)
	if errors.Is(err, ErrNotFound) || err == nil && n != c.blob.Size {
		return Errorf(ErrNotFound, "the content with sha256 %s is no longer stored: upload it", c.blob.SHA256)
	}
	return err
}

func (c *content) close() {
	if c.up != nil {
		c.up.Close()
	}
}

// recorded does what follows a recorded upload.
func (c *content) recorded(ctx context.Context) {
	if c.up == nil {
		return
	}
	c.s.repaired(ctx, c.blob.SHA256)
	if c.deferRest {
		c.s.digestLater(c.blob.SHA256)
	}
}
