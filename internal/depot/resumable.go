package depot

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// Resumable uploads: a file's bytes arrive over several requests (the IETF
// resumable upload draft; the protocol is internal/resumable's) into a
// staging area, and once the last byte is in they are committed through
// UploadFile or UploadGitLabFile, exactly as a plain PUT's body would be.
// The rules here: who may create and continue an upload, its limits and
// expiry, and that the staged bytes are the ones that were acknowledged.

// DefaultUploadExpiry is how long an unfinished resumable upload lives when
// Options.UploadExpiry is zero.
const DefaultUploadExpiry = 24 * time.Hour

// Dialects a resumable upload may be created in; its completion answers as
// that dialect's PUT would have.
const (
	DialectGitea  = "gitea"
	DialectGitLab = "gitlab"
)

// ResumableUpload is the state of one resumable upload, kept in the Store so
// that any replica can continue it.
type ResumableUpload struct {
	ID int64
	// Token is the upload resource's secret name (32 hex digits).
	Token string
	// Dialect is DialectGitea or DialectGitLab.
	Dialect string
	// ActorID is the user who created it; only that user may continue it.
	ActorID int64
	// Owner is the Gitea owner, or the GitLab project id as given.
	Owner, Package, Version string
	// File is the Gitea file name, or the GitLab file path.
	File string
	// Status is the GitLab package status asked for ("" for none).
	Status string
	// Length is the total length when known, else -1.
	Length int64
	// MaxSize is the largest the upload may grow (the limits of a plain
	// PUT when it was created), -1 for none.
	MaxSize int64
	// Offset is how many bytes are staged.
	Offset int64
	// Complete is set once the file was committed.
	Complete bool
	// HashState is the marshalled sha256 of the staged bytes (nil: none
	// staged yet).
	HashState []byte
	// ReprSHA256 is the sha256 (hex) the client declared with Repr-Digest,
	// "" if none.
	ReprSHA256 string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// ResumableStore keeps resumable uploads' state.
type ResumableStore interface {
	// CreateResumableUpload inserts u and sets its ID. ErrConflict if the
	// token is taken.
	CreateResumableUpload(ctx context.Context, u *ResumableUpload) error
	// ResumableUploadByToken returns an upload. ErrNotFound.
	ResumableUploadByToken(ctx context.Context, token string) (*ResumableUpload, error)
	// AdvanceResumableUpload moves an incomplete upload's offset from
	// from to to with its new hash state and length, and marks it
	// complete if complete is set, atomically: ErrConflict when its
	// offset is not from or it is complete (another request moved it),
	// ErrNotFound when it does not exist.
	AdvanceResumableUpload(ctx context.Context, token string, from, to int64, hashState []byte, length int64, complete bool) error
	// DeleteResumableUpload removes an upload's state. ErrNotFound.
	DeleteResumableUpload(ctx context.Context, token string) error
	// ExpiredResumableUploads returns up to limit uploads that expired
	// before now, oldest first.
	ExpiredResumableUploads(ctx context.Context, now time.Time, limit int) ([]*ResumableUpload, error)
}

// UploadStaging holds the bytes of resumable uploads until they are
// committed, where every replica can reach them (beside the blobs: a
// directory on disk, objects on S3). Implementations must be safe for
// concurrent use; the Service serialises writes to one upload.
type UploadStaging interface {
	// Append stages p as the bytes of upload token from offset on,
	// dropping any staged beyond offset (an append whose state was never
	// recorded). p is not retained.
	Append(ctx context.Context, token string, offset int64, p []byte) error
	// Open returns the first size bytes staged for token. ErrNotFound
	// when fewer are staged.
	Open(ctx context.Context, token string, size int64) (io.ReadCloser, error)
	// Remove discards everything staged for token; nothing staged is not
	// an error.
	Remove(ctx context.Context, token string) error
}

// appendChunk is the most bytes of an append held in memory and staged in
// one UploadStaging.Append (an S3 object each).
const appendChunk = 8 << 20

// ResumableEnabled reports whether resumable uploads are configured.
func (s *Service) ResumableEnabled() bool { return s.opts.Staging != nil }

func (s *Service) uploadExpiry() time.Duration {
	if s.opts.UploadExpiry > 0 {
		return s.opts.UploadExpiry
	}
	return DefaultUploadExpiry
}

// NewUploadTarget is where a resumable upload goes and what the client
// said about it at creation.
type NewUploadTarget struct {
	Dialect                       string
	Owner, Package, Version, File string
	Status                        string
	// Length is the total length when known, else -1.
	Length int64
	// ReprSHA256 is the declared sha256 (hex), "" if none.
	ReprSHA256 string
}

// BeginResumableUpload checks everything a PUT of t would check before its
// body (names, access, duplicates, immutability, declared size against
// the size limits and quotas) and records a new upload. ErrUnavailable
// when resumable uploads are not configured; the errors of UploadFile and
// UploadGitLabFile otherwise.
func (s *Service) BeginResumableUpload(ctx context.Context, a *Actor, t NewUploadTarget) (*ResumableUpload, error) {
	if s.opts.Staging == nil {
		return nil, Errorf(ErrUnavailable, "resumable uploads are not configured")
	}
	var maxSize int64
	var err error
	switch t.Dialect {
	case DialectGitea:
		maxSize, err = s.checkGiteaUpload(ctx, a, FileRef{Owner: t.Owner, Type: TypeGeneric, Package: t.Package, Version: t.Version, File: t.File}, t.Length)
	case DialectGitLab:
		maxSize, err = s.checkGitLabUpload(ctx, a, GitLabFileRef{Project: t.Owner, Package: t.Package, Version: t.Version, Path: t.File}, PackageStatus(t.Status), t.Length)
	default:
		return nil, fmt.Errorf("unknown dialect %q", t.Dialect)
	}
	if err != nil {
		return nil, err
	}
	if a.IsAnonymous() {
		return nil, Errorf(ErrUnauthenticated, "authentication required")
	}
	tok, err := s.randomHex(16)
	if err != nil {
		return nil, err
	}
	now := s.now()
	u := &ResumableUpload{Token: tok, Dialect: t.Dialect, ActorID: a.User.ID, Owner: t.Owner, Package: t.Package,
		Version: t.Version, File: t.File, Status: t.Status, Length: t.Length, MaxSize: maxSize,
		ReprSHA256: t.ReprSHA256, CreatedAt: now, ExpiresAt: now.Add(s.uploadExpiry())}
	if err := s.store.CreateResumableUpload(ctx, u); err != nil {
		return nil, fmt.Errorf("record upload: %w", err)
	}
	return u, nil
}

func (s *Service) randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.opts.Rand, b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// checkGiteaUpload is UploadFile's checks before the body; it returns the
// most bytes the body may have (-1: no bound).
func (s *Service) checkGiteaUpload(ctx context.Context, a *Actor, ref FileRef, size int64) (int64, error) {
	if err := ValidateFileRef(ref); err != nil {
		return 0, err
	}
	owner, err := s.uploadOwner(ctx, a, ref.Owner, ref.Package)
	if err != nil {
		return 0, err
	}
	if _, err := s.store.FileByName(ctx, owner.ID, ref.Type, ref.Package, ref.Version, ref.File); err == nil {
		return 0, Errorf(ErrConflict, "file %q already exists in version %q", ref.File, ref.Version)
	} else if !errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("look up file: %w", err)
	}
	if err := s.checkMutable(ctx, a, owner, ref.Type, ref.Package, ref.Version, "adding a file"); err != nil {
		return 0, err
	}
	hard := int64(-1)
	if s.opts.MaxUploadSize > 0 {
		hard = s.opts.MaxUploadSize
	}
	quota, err := s.quotaFor(ctx, a, owner)
	if err != nil {
		return 0, err
	}
	lim, err := s.limitUpload(ctx, quota, owner.ID, VersionRef{Owner: ref.Owner, Type: ref.Type, Package: ref.Package, Version: ref.Version}, size, hard)
	if err != nil {
		return 0, err
	}
	return lim.n(), nil
}

// checkGitLabUpload is UploadGitLabFile's checks before the body.
func (s *Service) checkGitLabUpload(ctx context.Context, a *Actor, ref GitLabFileRef, status PackageStatus, size int64) (int64, error) {
	if err := ValidateGitLabPackageName(ref.Package); err != nil {
		return 0, err
	}
	if err := ValidateGitLabVersion(ref.Version); err != nil {
		return 0, err
	}
	name, err := GitLabFileName(ref.Path)
	if err != nil {
		return 0, err
	}
	if status != "" && status != StatusDefault && status != StatusHidden {
		return 0, Errorf(ErrInvalid, "status does not have a valid value")
	}
	p, owner, role, err := s.GitLabProject(ctx, a, ref.Project)
	if err != nil {
		return 0, err
	}
	if a != nil && a.Publisher != nil && role >= AccessRead {
		err = publisherUpload(a, owner, ref.Package)
	} else {
		err = need(a, role, AccessWrite)
	}
	if err != nil {
		return 0, err
	}
	if err := s.checkMutable(ctx, a, owner, TypeGeneric, ref.Package, ref.Version, "adding or replacing a file"); err != nil {
		return 0, err
	}
	hard := int64(GitLabMaxFileSize)
	if m := s.opts.MaxUploadSize; m > 0 && m < hard {
		hard = m
	}
	if size > hard {
		return 0, Errorf(ErrTooLarge, "File is too large")
	}
	quota, err := s.quotaFor(ctx, a, owner)
	if err != nil {
		return 0, err
	}
	lim, err := s.limitUpload(ctx, quota, owner.ID, VersionRef{Owner: owner.Name, Type: TypeGeneric, Package: ref.Package, Version: ref.Version}, size, hard)
	if err != nil {
		return 0, err
	}
	if pkg, err := s.store.PackageByName(ctx, owner.ID, TypeGeneric, ref.Package); err == nil && pkg.ProjectID != 0 && pkg.ProjectID != p.ID {
		return 0, Errorf(ErrInvalid, "package %q belongs to another project of %s", ref.Package, owner.Name)
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("look up package: %w", err)
	}
	allow, err := s.duplicatesAllowed(ctx, owner.ID, ref.Package, ref.Version)
	if err != nil {
		return 0, err
	}
	if !allow {
		if _, err := s.store.FileByName(ctx, owner.ID, TypeGeneric, ref.Package, ref.Version, name); err == nil {
			return 0, ErrDuplicatePackage
		} else if !errors.Is(err, ErrNotFound) {
			return 0, fmt.Errorf("look up file: %w", err)
		}
	}
	return lim.n(), nil
}

// errNoUpload answers every request for an upload the caller may not
// touch, as for one that does not exist.
var errNoUpload = Errorf(ErrNotFound, "no such upload")

// ResumableUploadAs returns the upload named token if a created it and it
// has not expired. ErrNotFound otherwise (also for another user's upload).
func (s *Service) ResumableUploadAs(ctx context.Context, a *Actor, token string) (*ResumableUpload, error) {
	if len(token) != 32 {
		return nil, errNoUpload
	}
	u, err := s.store.ResumableUploadByToken(ctx, token)
	if errors.Is(err, ErrNotFound) {
		return nil, errNoUpload
	} else if err != nil {
		return nil, fmt.Errorf("look up upload: %w", err)
	}
	if a.IsAnonymous() || a.User.ID != u.ActorID || !s.now().Before(u.ExpiresAt) {
		return nil, errNoUpload
	}
	return u, nil
}

// ResumableUploadDialect returns the dialect an upload was created in, so
// its requests are authenticated as that dialect's. ErrNotFound.
func (s *Service) ResumableUploadDialect(ctx context.Context, token string) (string, error) {
	if len(token) != 32 {
		return "", errNoUpload
	}
	u, err := s.store.ResumableUploadByToken(ctx, token)
	if errors.Is(err, ErrNotFound) {
		return "", errNoUpload
	} else if err != nil {
		return "", fmt.Errorf("look up upload: %w", err)
	}
	return u.Dialect, nil
}

// ErrOffsetMismatch is the kind of an append at another offset than the
// upload's (an ErrConflict).
var ErrOffsetMismatch = fmt.Errorf("%w: offset mismatch", ErrConflict)

// ErrUploadCompleted is the kind of an append to a completed upload (an
// ErrInvalid).
var ErrUploadCompleted = fmt.Errorf("%w: upload completed", ErrInvalid)

// ErrInconsistentLength is the kind of an append whose bytes or declared
// length disagree with the upload's length (an ErrInvalid).
var ErrInconsistentLength = fmt.Errorf("%w: inconsistent upload length", ErrInvalid)

// AppendResumableUpload stages body at offset, which must be u's offset
// (ErrOffsetMismatch otherwise), up to u's limits (ErrTooLarge) and
// length. length is the total length this request declares (-1: none).
// final says the body ends the upload: then the length is what is staged
// when it ends. Bytes received before a body that breaks off are kept and
// counted, so the client can resume after them; the error is then the
// body's. It returns u as recorded afterwards; the caller commits a final
// upload (CommitResumableUpload). ErrUploadCompleted, ErrInconsistentLength.
func (s *Service) AppendResumableUpload(ctx context.Context, u *ResumableUpload, offset int64, body io.Reader, length int64, final bool) (*ResumableUpload, error) {
	if u.Complete {
		return u, &Error{Kind: ErrUploadCompleted, Message: "the upload is already complete"}
	}
	if offset != u.Offset {
		return u, &Error{Kind: ErrOffsetMismatch, Message: fmt.Sprintf("upload offset is %d, the request said %d", u.Offset, offset)}
	}
	if length >= 0 && u.Length >= 0 && length != u.Length || length >= 0 && length < u.Offset {
		return u, &Error{Kind: ErrInconsistentLength, Message: fmt.Sprintf("upload length %d disagrees with the upload's (%d, %d bytes received)", length, u.Length, u.Offset)}
	}
	if length < 0 {
		length = u.Length
	}
	if u.MaxSize >= 0 && length > u.MaxSize {
		return u, Errorf(ErrTooLarge, "upload length %d is larger than the limit of %d bytes", length, u.MaxSize)
	}
	h := sha256.New()
	if u.HashState != nil {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(u.HashState); err != nil {
			return u, fmt.Errorf("restore upload hash: %w", err)
		}
	}
	// The bytes may go up to the declared length, else the size limit;
	// one more is read to tell a body that passes it.
	bound := int64(-1)
	switch {
	case length >= 0:
		bound = length - u.Offset
	case u.MaxSize >= 0:
		bound = u.MaxSize - u.Offset
	}
	src := body
	if bound >= 0 {
		src = io.LimitReader(body, bound+1)
	}
	buf := make([]byte, appendChunk)
	pos := u.Offset
	var bodyErr error
	for bodyErr == nil {
		n, err := fill(src, buf)
		if err == io.EOF {
			err = nil
			bodyErr = io.EOF
		} else if err != nil {
			bodyErr = err
		}
		if bound >= 0 && pos+int64(n)-u.Offset > bound {
			// Keep what fits; refuse the rest.
			n = int(bound - (pos - u.Offset))
			if length >= 0 {
				bodyErr = &Error{Kind: ErrInconsistentLength, Message: fmt.Sprintf("the upload's bytes exceed its length of %d", length)}
			} else {
				bodyErr = Errorf(ErrTooLarge, "the upload is larger than the limit of %d bytes", u.MaxSize)
			}
		}
		if n == 0 {
			break
		}
		// A cut body still stages what arrived, with a context that
		// outlives the request's.
		if err := s.opts.Staging.Append(context.WithoutCancel(ctx), u.Token, pos, buf[:n]); err != nil {
			return u, s.recordAppend(ctx, u, pos, h, length, fmt.Errorf("stage upload bytes: %w", err))
		}
		h.Write(buf[:n])
		pos += int64(n)
	}
	if bodyErr == io.EOF {
		bodyErr = nil
	}
	if bodyErr != nil {
		if de := (*Error)(nil); !errors.As(bodyErr, &de) {
			// A cut connection, a read deadline: the body ended early.
			bodyErr = &Error{Kind: ErrInvalid, Message: "request body ended before it was complete"}
		}
		return u, s.recordAppend(ctx, u, pos, h, length, bodyErr)
	}
	if final {
		if length >= 0 && pos != length {
			return u, s.recordAppend(ctx, u, pos, h, length, &Error{Kind: ErrInconsistentLength, Message: fmt.Sprintf("the upload ended after %d bytes, its length is %d", pos, length)})
		}
		length = pos
	}
	return u, s.recordAppend(ctx, u, pos, h, length, nil)
}

// recordAppend records u's new offset and hash state, and returns cause
// (or the recording's error when cause is nil).
func (s *Service) recordAppend(ctx context.Context, u *ResumableUpload, pos int64, h hash.Hash, length int64, cause error) error {
	if pos == u.Offset && length == u.Length {
		return cause
	}
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return errors.Join(cause, fmt.Errorf("save upload hash: %w", err))
	}
	err = s.store.AdvanceResumableUpload(context.WithoutCancel(ctx), u.Token, u.Offset, pos, state, length, false)
	if errors.Is(err, ErrConflict) {
		err = Errorf(ErrConflict, "another request appended to this upload meanwhile")
	}
	if err != nil {
		return errors.Join(cause, err)
	}
	u.Offset, u.HashState, u.Length = pos, state, length
	return cause
}

// StagedSHA256 returns the sha256 (hex) of u's staged bytes, from its
// recorded hash state: no byte is read.
func StagedSHA256(u *ResumableUpload) (string, error) {
	h := sha256.New()
	if u.HashState != nil {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(u.HashState); err != nil {
			return "", fmt.Errorf("restore upload hash: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ErrDigestMismatch is the kind of an upload whose bytes do not have the
// digest the client declared (an ErrInvalid).
var ErrDigestMismatch = fmt.Errorf("%w: digest mismatch", ErrInvalid)

// OpenResumableUpload checks that u's staged bytes have the sha256 the
// client declared (ErrDigestMismatch, from the recorded hash state, before
// any byte is read) and returns them for committing through UploadFile or
// UploadGitLabFile. The reader fails instead of ending when what it read
// does not hash to the recorded state (staging damaged or overwritten by a
// stale request), so such bytes are never recorded as the file. The caller
// closes it and, once the file is recorded, calls FinishResumableUpload.
func (s *Service) OpenResumableUpload(ctx context.Context, u *ResumableUpload) (io.ReadCloser, error) {
	staged, err := StagedSHA256(u)
	if err != nil {
		return nil, err
	}
	if u.ReprSHA256 != "" && u.ReprSHA256 != staged {
		return nil, &Error{Kind: ErrDigestMismatch, Message: fmt.Sprintf("Repr-Digest mismatch: expected sha-256 %s, received %s", u.ReprSHA256, staged)}
	}
	r, err := s.opts.Staging.Open(ctx, u.Token, u.Offset)
	if err != nil {
		return nil, fmt.Errorf("open staged upload: %w", err)
	}
	return &stagedReader{r: r, h: sha256.New(), want: staged}, nil
}

type stagedCommitKey struct{}

// CommitContext returns ctx for committing u's staged bytes, the body
// OpenResumableUpload returned: a blob store that can adopt staged bytes
// (StagedAdopter) then takes them as the new blob's instead of a copy, and
// the upload path only reads and hashes them.
func (s *Service) CommitContext(ctx context.Context, u *ResumableUpload) context.Context {
	return context.WithValue(ctx, stagedCommitKey{}, u)
}

// adoptStaged returns the upload holding the bytes of the resumable
// upload ctx commits (CommitContext), if the blob store adopts them and
// size is theirs; nil otherwise. The upload gives the bytes back to
// staging if it is closed uncommitted (adoptedUpload).
func (s *Service) adoptStaged(ctx context.Context, size int64) (*adoptedUpload, error) {
	u, _ := ctx.Value(stagedCommitKey{}).(*ResumableUpload)
	ad, ok := s.blobs.(StagedAdopter)
	if u == nil || !ok || s.opts.Staging == nil || size < 0 || size != u.Offset {
		return nil, nil
	}
	up, ok, err := ad.AdoptStaged(ctx, s.opts.Staging, u.Token, size)
	if err != nil {
		return nil, fmt.Errorf("adopt staged upload: %w", err)
	}
	if !ok {
		return nil, nil
	}
	return &adoptedUpload{SalvageableUpload: up, s: s, ctx: context.WithoutCancel(ctx), token: u.Token}, nil
}

// adoptedUpload is a blob upload made of a resumable upload's staged
// bytes. Closed without a Commit (the body failed its checks, or the
// file could not be recorded), it puts the bytes back into staging, so
// that a commit refused for a passing reason (a server error) can be
// retried; one refused for good is cancelled by its caller, which removes
// them.
type adoptedUpload struct {
	SalvageableUpload
	s         *Service
	ctx       context.Context
	token     string
	committed bool
}

// Commit implements BlobUpload.
func (u *adoptedUpload) Commit(ctx context.Context, sha256 string) error {
	err := u.SalvageableUpload.Commit(ctx, sha256)
	u.committed = err == nil
	return err
}

// Close implements BlobUpload.
func (u *adoptedUpload) Close() error {
	if !u.committed {
		if _, err := u.Salvage(u.ctx, u.s.opts.Staging, u.token); err != nil {
			u.s.opts.Logger.Warn("putting an upload's bytes back into staging", "upload", u.token, "err", err)
		}
	}
	return u.SalvageableUpload.Close()
}

// stagedReader fails at its end when what it read does not hash to want.
type stagedReader struct {
	r    io.ReadCloser
	h    hash.Hash
	want string
}

func (v *stagedReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return n, fmt.Errorf("staged upload bytes hash to %s, %s was received: %w", got, v.want, errors.New("staging damaged"))
		}
	}
	return n, err
}

func (v *stagedReader) Close() error { return v.r.Close() }

// FinishResumableUpload marks u complete (its file of size bytes was
// recorded) and discards its staged bytes; its state stays until it
// expires, so that a client that lost the final answer sees it complete.
func (s *Service) FinishResumableUpload(ctx context.Context, u *ResumableUpload, size int64) error {
	ctx = context.WithoutCancel(ctx)
	if err := s.store.AdvanceResumableUpload(ctx, u.Token, u.Offset, size, u.HashState, size, true); err != nil {
		return fmt.Errorf("mark upload complete: %w", err)
	}
	u.Complete, u.Offset, u.Length = true, size, size
	if err := s.opts.Staging.Remove(ctx, u.Token); err != nil {
		s.opts.Logger.Warn("removing staged upload", "upload", u.Token, "err", err)
	}
	return nil
}

// CancelResumableUpload discards u: its state and staged bytes.
func (s *Service) CancelResumableUpload(ctx context.Context, u *ResumableUpload) error {
	ctx = context.WithoutCancel(ctx)
	if err := s.opts.Staging.Remove(ctx, u.Token); err != nil {
		return fmt.Errorf("remove staged upload: %w", err)
	}
	if err := s.store.DeleteResumableUpload(ctx, u.Token); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("delete upload: %w", err)
	}
	return nil
}

// RemoveExpiredUploads removes the uploads that expired (state and staged
// bytes), or with apply false only counts them. admin gc calls it.
func (s *Service) RemoveExpiredUploads(ctx context.Context, apply bool) (int, error) {
	if s.opts.Staging == nil {
		return 0, nil
	}
	n := 0
	for range 1000 { // bounded: 1000 batches
		us, err := s.store.ExpiredResumableUploads(ctx, s.now(), 100)
		if err != nil {
			return n, fmt.Errorf("list expired uploads: %w", err)
		}
		if !apply {
			return len(us), nil
		}
		for _, u := range us {
			if err := s.CancelResumableUpload(ctx, u); err != nil {
				return n, err
			}
			n++
		}
		if len(us) < 100 {
			break
		}
	}
	return n, nil
}

// StagingTee is the body of an upload created with all its bytes
// (Upload-Complete: ?1, the draft's optimistic creation) on its way to the
// ordinary upload path, so that if the body breaks off the bytes that
// arrived can be resumed after (Record), while a body that arrives whole
// costs no second read, hash or copy. Bound to the request's context
// (Bind), it lets the blob upload that receives the body keep its bytes
// when the body breaks off (a SalvageableUpload: on disk, the temporary
// file becomes the staging file); with any other upload, or a body read
// before one starts, it stages what it reads as it goes.
type StagingTee struct {
	s        *Service
	ctx      context.Context
	u        *ResumableUpload
	body     io.Reader
	buf      []byte
	salvager SalvageableUpload // the upload that keeps the bytes, if any
	staged   int64             // bytes staged
	read     int64             // bytes read
	cut      bool              // the body failed (not io.EOF)
	err      error             // a staging failure: nothing can be recorded
}

// NewStagingTee returns a tee of body into u's staging (u has no bytes).
func (s *Service) NewStagingTee(ctx context.Context, u *ResumableUpload, body io.Reader) *StagingTee {
	return &StagingTee{s: s, ctx: context.WithoutCancel(ctx), u: u, body: body}
}

type stagingTeeKey struct{}

// Bind returns ctx carrying t, for the upload call that reads t: the blob
// upload receiving the body then keeps its bytes for t should it break
// off, instead of t staging a second copy as it reads.
func (t *StagingTee) Bind(ctx context.Context) context.Context {
	return context.WithValue(ctx, stagingTeeKey{}, t)
}

func stagingTeeOf(ctx context.Context) *StagingTee {
	t, _ := ctx.Value(stagingTeeKey{}).(*StagingTee)
	return t
}

// receiving tells t that up receives its body. Before any byte was read,
// an upload that can salvage its bytes takes over keeping them.
func (t *StagingTee) receiving(up BlobUpload) {
	if sv, ok := up.(SalvageableUpload); ok && t.read == 0 && t.salvager == nil {
		t.salvager = sv
	}
}

// failed tells t that up's upload failed and is about to be closed: if
// the body broke off, up's bytes become the staged ones.
func (t *StagingTee) failed(up BlobUpload) {
	if !t.cut || t.salvager == nil || BlobUpload(t.salvager) != up || t.err != nil {
		return
	}
	n, err := t.salvager.Salvage(t.ctx, t.s.opts.Staging, t.u.Token)
	t.salvager = nil
	if err != nil {
		t.err = err
		return
	}
	t.staged = n
}

// Read implements io.Reader.
func (t *StagingTee) Read(p []byte) (int, error) {
	n, err := t.body.Read(p)
	t.read += int64(n)
	if t.salvager == nil {
		t.stage(p[:n])
	}
	if err != nil && err != io.EOF {
		t.cut = true
	}
	return n, err
}

// stage buffers p and stages every full buffer.
func (t *StagingTee) stage(p []byte) {
	if t.buf == nil && len(p) > 0 {
		t.buf = make([]byte, 0, appendChunk)
	}
	for len(p) > 0 && t.err == nil {
		k := min(len(p), cap(t.buf)-len(t.buf))
		t.buf = append(t.buf, p[:k]...)
		p = p[k:]
		if len(t.buf) == cap(t.buf) {
			t.flush()
		}
	}
}

func (t *StagingTee) flush() {
	if len(t.buf) == 0 || t.err != nil {
		return
	}
	if err := t.s.opts.Staging.Append(t.ctx, t.u.Token, t.staged, t.buf); err != nil {
		t.err = err
		return
	}
	t.staged += int64(len(t.buf))
	t.buf = t.buf[:0]
}

// Size is how many bytes were read.
func (t *StagingTee) Size() int64 { return t.read }

// Cut reports whether the body broke off.
func (t *StagingTee) Cut() bool { return t.cut }

// Record stages what is still buffered and records the staged bytes as
// the upload's, with their sha256 state (read back once: only a broken
// body pays for it), so the client can resume after them.
func (t *StagingTee) Record() error {
	t.flush()
	if t.err != nil {
		return fmt.Errorf("stage upload bytes: %w", t.err)
	}
	if t.staged == 0 {
		return nil
	}
	r, err := t.s.opts.Staging.Open(t.ctx, t.u.Token, t.staged)
	if err != nil {
		return fmt.Errorf("read staged upload: %w", err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := copyHashed(nil, r, t.staged, h); err != nil {
		return fmt.Errorf("read staged upload: %w", err)
	}
	return t.s.recordAppend(t.ctx, t.u, t.staged, h, t.u.Length, nil)
}
