package depot

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/digest"
)

// PasswordHasher hashes and checks passwords with a slow KDF.
type PasswordHasher interface {
	// Hash returns an encoded hash of password.
	Hash(password string) (string, error)
	// Verify returns nil if password matches hash, ErrUnauthenticated if not.
	Verify(hash, password string) error
}

// Service holds depot's rules: validation, authentication, authorization,
// hashing, deduplication and limits. Every adapter (HTTP dialects, CLI, web
// UI) goes through it; none talks to the stores on its own.
type Service struct {
	store      Store
	blobs      BlobStore
	passwords  PasswordHasher
	opts       Options
	tokens     *tokenCache // nil when disabled
	owners     *ownerCache // nil when disabled
	smallBlobs *blobCache
	later      *digestJobs // nil when digests are not deferred
	authWatch  *authWatch  // nil until WatchAuth starts it
	downloads  downloads
	damage     damageSet
}

// Options tune a Service. The zero value is usable.
type Options struct {
	// MaxUploadSize is the largest file accepted, in bytes; 0 means no limit.
	// Unlike Limits.SizeGeneric it holds for site admins too and is
	// answered 413: it is the server's bound on a request body.
	MaxUploadSize int64
	// Limits are Gitea's package limits; nil means none (see Limits).
	Limits *Limits
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Rand is the source of token secrets; nil means crypto/rand.
	Rand io.Reader
	// Logger receives operational messages; nil means slog.Default().
	Logger *slog.Logger
	// TokenCacheTTL is how long a verified token is trusted without asking
	// the store again: zero means DefaultTokenCacheTTL, negative disables
	// the cache. RevokeToken takes effect at once in this process; a
	// revocation by another process sharing the store takes effect at once
	// too when the store is an AuthWatcher (PostgreSQL), else up to this
	// long.
	// Owners looked up by name are cached as long (see ownerCache).
	TokenCacheTTL time.Duration
	// DeferDigests computes the md5, sha1 and sha512 of uploads over 8 MiB
	// after they are stored, by reading the blob back, so the client waits
	// only for the sha256 (the content address). It needs a Store that is a
	// DigestStore and suits blob stores that read back cheaply (a local
	// disk, whose page cache still holds the bytes). See CompleteDigests.
	DeferDigests bool
	// LinkExpiry, when positive and the blob store is a BlobLinker, makes
	// FileLink hand out URLs valid this long, so clients download straight
	// from blob storage. Zero means depot streams every download itself.
	LinkExpiry time.Duration
	// VerifyDownloads hashes every whole download of a file over 16 KiB on
	// the way and cuts it short before its last bytes when the content does
	// not match the file's sha256 (a client sees a failed transfer, never a
	// complete wrong file). It costs the sendfile path: the bytes then pass
	// through depot. Off, a download is refused only when its blob is known
	// damaged, missing or of the wrong size; small files are always hashed.
	VerifyDownloads bool
	// Verifier verifies CI systems' ID tokens for trusted publishing; nil
	// turns trusted publishing off.
	Verifier IDTokenVerifier
	// PublisherTokenTTL is how long a token minted for a trusted publisher
	// lasts: zero means DefaultPublisherTokenTTL, at most
	// MaxPublisherTokenTTL.
	PublisherTokenTTL time.Duration
	// BaseURL is the server's public URL: the audience a trusted
	// publisher without one expects.
	BaseURL string
	// HookTargets, when set, limits the hosts webhooks may target
	// (checked when a hook is created or edited; the delivery worker
	// checks again when it connects).
	HookTargets HookTargets
	// Events, when set, is told after every change that may have recorded
	// webhook events.
	Events EventNotifier
	// Audit receives the audit log's events; nil writes each to the store
	// at once (see internal/audit for a batching, pruning one).
	Audit Auditor
	// Staging, when set, holds resumable uploads' bytes and turns
	// resumable uploads on (see BeginResumableUpload).
	Staging UploadStaging
	// UploadExpiry is how long an unfinished resumable upload lives: zero
	// means DefaultUploadExpiry.
	UploadExpiry time.Duration
	// InlineBlobMax is the largest upload, in bytes, whose content is kept
	// inside the metadata database instead of blob storage (see
	// InlineStore): zero means DefaultInlineBlobMax, negative none, and
	// it is at most MaxInlineBlob (ValidateInlineBlobMax).
	InlineBlobMax int64
}

// NewService returns a Service over the given stores. opts may be nil.
func NewService(store Store, blobs BlobStore, passwords PasswordHasher, opts *Options) *Service {
	s := &Service{store: store, blobs: blobs, passwords: passwords}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	if s.opts.Rand == nil {
		s.opts.Rand = rand.Reader
	}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.Default()
	}
	s.tokens = newTokenCache(s.opts.TokenCacheTTL)
	s.owners = newOwnerCache(s.opts.TokenCacheTTL)
	s.smallBlobs = newBlobCache()
	s.later = newDigestJobs(store, s.opts.DeferDigests)
	return s
}

// MaxUploadSize returns the configured limit in bytes (0: none).
func (s *Service) MaxUploadSize() int64 { return s.opts.MaxUploadSize }

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

// ownerFor returns the owner named name if actor may act on it with role
// need. It reports a missing owner and an owner the actor may not see the
// same way (ErrOwnerNotFound, an ErrNotFound), so private owners stay
// invisible; API adapters answer it to anonymous callers with a 401
// challenge (httpapi.ChallengeAnonymous). An actor that may
// see the owner but lacks the role gets ErrUnauthenticated when anonymous and
// ErrForbidden otherwise; a token without the package scope gets ErrForbidden.
func (s *Service) ownerFor(ctx context.Context, a *Actor, name string, need Role) (*Owner, error) {
	owner, role, err := s.ownerWithRole(ctx, a, name)
	if err != nil {
		return nil, err
	}
	scope := ScopeReadPackage
	if need >= AccessWrite {
		scope = ScopeWritePackage
	}
	if err := requireScope(a, scope); err != nil {
		return nil, err
	}
	if role < need {
		if a.IsAnonymous() {
			return nil, Errorf(ErrUnauthenticated, "authentication required")
		}
		if a.Publisher != nil {
			return nil, errPublisherUploadOnly
		}
		return nil, Errorf(ErrForbidden, "user %q has no %s access to %q", a.User.Name, need, owner.Name)
	}
	return owner, nil
}

// ownerWithRole returns the owner named name and a's role on it; a missing
// owner and one a may not see are both ErrNotFound.
func (s *Service) ownerWithRole(ctx context.Context, a *Actor, name string) (*Owner, Role, error) {
	owner, err := s.ownerByName(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil, AccessNone, Errorf(ErrOwnerNotFound, "owner %q not found", name)
	} else if err != nil {
		return nil, AccessNone, fmt.Errorf("look up owner: %w", err)
	}
	role, err := s.Access(ctx, a, owner)
	if err != nil {
		return nil, AccessNone, err
	}
	if role == AccessNone {
		return nil, AccessNone, Errorf(ErrOwnerNotFound, "owner %q not found", name)
	}
	return owner, role, nil
}

// requireScope returns ErrForbidden, with Gitea's message, when a is
// authenticated by a token that does not grant every scope of want (Gitea's
// routes of two groups, such as /users/{username}/orgs, need both).
// Anonymous actors and password sign-ins pass: their limits are roles, not
// scopes.
func requireScope(a *Actor, want ...Scope) error {
	if a.IsAnonymous() || a.Scopes == nil {
		return nil
	}
	for _, w := range want {
		if !a.Scopes.Has(w) {
			names := make([]string, len(want))
			for i, w := range want {
				names[i] = string(w)
			}
			return Errorf(ErrForbidden, "token does not have at least one of required scope(s), required=[%s], token scope=%s", strings.Join(names, " "), a.Scopes)
		}
	}
	return nil
}

// ownerByName is Store.OwnerByName through the owner cache.
func (s *Service) ownerByName(ctx context.Context, name string) (*Owner, error) {
	now := s.opts.Now()
	if o, ok := s.owners.get(name, now); ok {
		return o, nil
	}
	o, err := s.store.OwnerByName(ctx, name)
	if err == nil {
		s.owners.put(o, now)
	}
	return o, err
}

// Access returns the role actor has on owner: site admins and a user on
// itself have admin; organization members their role; anyone may read a
// public owner; nobody else has access.
func (s *Service) Access(ctx context.Context, a *Actor, owner *Owner) (Role, error) {
	role := AccessNone
	if owner.Visibility == Public {
		role = AccessRead
	}
	if a.IsAnonymous() {
		return role, nil
	}
	if a.Publisher != nil {
		// Reads of its own owner; writes only through publisherUpload.
		if a.Publisher.Exchange.OwnerID == owner.ID {
			role = AccessRead
		}
		return role, nil
	}
	if a.User.IsAdmin || a.User.ID == owner.ID {
		return AccessAdmin, nil
	}
	if owner.Kind == KindOrg {
		member, err := s.store.MemberRole(ctx, owner.ID, a.User.ID)
		if err != nil {
			return AccessNone, fmt.Errorf("look up membership: %w", err)
		}
		role = max(role, member)
	}
	return role, nil
}

// PutFile stores body as ref's file. It decides everything it can before
// reading the body (validation, access, declared size, an existing file), so
// a refused upload costs no transfer; up.Size is the declared length or -1.
// The body is streamed to blob storage while its digests are computed and
// compared with up.Expect; nothing is visible until the file is recorded,
// and nothing is left behind when a check fails. With up.Deploy the file is
// made from stored content instead (see FileUpload). With
// Options.DeferDigests, a large file's md5, sha1 and sha512 are computed
// right after it is recorded (unless up.Expect declares one of them), and
// the returned File lacks them (CompleteDigests fills them). An existing
// file of that name is an *ExistingFileError. ErrInvalid, ErrNotFound,
// ErrUnauthenticated, ErrForbidden, ErrTooLarge, ErrConflict.
func (s *Service) PutFile(ctx context.Context, a *Actor, ref FileRef, up FileUpload, body io.Reader) (*File, error) {
	if err := ValidateFileRef(ref); err != nil {
		return nil, err
	}
	owner, err := s.uploadOwner(ctx, a, ref.Owner, ref.Package)
	if err != nil {
		return nil, err
	}
	if f, err := s.store.FileByName(ctx, owner.ID, ref.Type, ref.Package, ref.Version, ref.File); err == nil {
		return nil, s.existingFile(ctx, f, up, body, existsError(ref))
	} else if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("look up file: %w", err)
	}
	if err := s.checkMutable(ctx, a, owner, ref.Type, ref.Package, ref.Version, "adding a file"); err != nil {
		return nil, err
	}
	var deployed *Blob
	if up.Deploy {
		b, err := s.deploySource(ctx, a, up, body)
		if err != nil {
			return nil, err
		}
		deployed, up.Size = &b, b.Size
	}
	hard := int64(-1)
	if s.opts.MaxUploadSize > 0 {
		hard = s.opts.MaxUploadSize
	}
	quota, err := s.quotaFor(ctx, a, owner)
	if err != nil {
		return nil, err
	}
	lim, err := s.limitUpload(ctx, quota, owner.ID, VersionRef{Owner: ref.Owner, Type: ref.Type, Package: ref.Package, Version: ref.Version}, up.Size, hard)
	if err != nil {
		return nil, err
	}

	c, err := s.obtain(ctx, up, deployed, body, lim)
	if err != nil {
		return nil, err
	}
	defer c.close()
	blob := c.blob
	detail := uploadDetail(blob, "gitea")
	if deployed != nil {
		detail["deployed"] = true
	}
	ev := s.auditEvent(ctx, a, AuditFileUpload, owner.Name, fileTarget(ref.Type, ref.Package, ref.Version, ref.File), detail)
	f, err := s.store.CreateFile(ctx, NewFile{
		OwnerID: owner.ID, Type: ref.Type, Package: ref.Package, Version: ref.Version, File: ref.File,
		Blob: blob, Content: c.inline, CreatorID: a.User.ID, CreatedAt: blob.CreatedAt, ExchangeID: exchangeID(a), Quota: quota, Audit: &ev,
	}, c.commit)
	if errors.Is(err, ErrQuotaTotalSize) || errors.Is(err, ErrQuotaTotalCount) {
		return nil, err
	}
	if errors.Is(err, ErrConflict) {
		// Another upload took the name meanwhile: compare with it.
		if other, lerr := s.store.FileByName(ctx, owner.ID, ref.Type, ref.Package, ref.Version, ref.File); lerr == nil {
			same := other.Blob.SHA256 == blob.SHA256
			return nil, &ExistingFileError{Err: existsError(ref)(same), Identical: same, SHA256: other.Blob.SHA256}
		}
		return nil, Errorf(ErrConflict, "file %q already exists in version %q", ref.File, ref.Version)
	} else if errors.Is(err, ErrNotFound) && deployed != nil {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("record file: %w", err)
	}
	c.recorded(ctx)
	s.notifyEvents()
	return f, nil
}

// uploadDetail is an upload's audit detail. Uploads write their audit
// event in their own transaction (NewFile.Audit).
func uploadDetail(b Blob, dialect string) map[string]any {
	return map[string]any{"size": b.Size, "sha256": b.SHA256, "api": dialect}
}

// uploadOwner returns the owner the actor may upload pkg to: with write
// access, or as a trusted publisher of the owner whose patterns allow pkg.
func (s *Service) uploadOwner(ctx context.Context, a *Actor, name, pkg string) (*Owner, error) {
	if a == nil || a.Publisher == nil {
		return s.ownerFor(ctx, a, name, AccessWrite)
	}
	owner, err := s.ownerFor(ctx, a, name, AccessRead)
	if err != nil {
		return nil, err
	}
	if err := publisherUpload(a, owner, pkg); err != nil {
		return nil, err
	}
	return owner, nil
}

// exchangeID is the trusted publisher exchange behind a, 0 for none.
func exchangeID(a *Actor) int64 {
	if a == nil || a.Publisher == nil {
		return 0
	}
	return a.Publisher.Exchange.ID
}

// receiveBlob streams body into a new blob upload while computing its
// digests, refusing more than lim allows, a body whose length differs from
// size (-1: unknown) and one that does not have the digests expect declares
// (*DigestMismatchError). Over a DigestStore, a large upload computes only
// its sha256 now (unless expect declares another digest) and deferRest is
// set: the caller calls digestLater once the file is recorded. A body of
// at most inlineMax bytes (declared, or of unknown length and found so) is
// held in memory, never reaching blob storage: the upload is then a
// *smallUpload whose inline content goes into NewFile.Content. The caller
// commits the upload in its metadata transaction and must Close it; after
// an error nothing is left in blob storage.
func (s *Service) receiveBlob(ctx context.Context, size int64, body io.Reader, lim streamLimit, expect digest.Set) (up BlobUpload, blob Blob, deferRest bool, err error) {
	limit := lim.n()
	// Small ones are kept inline; the bytes of a resumable upload being
	// committed may be in place already (adopted: then they are only read
	// and hashed).
	var adopted *adoptedUpload
	if m := s.inlineMax(); m >= 0 && size <= m {
		up = s.newSmallUpload(ctx, size, m)
	} else if adopted, err = s.adoptStaged(ctx, size); err != nil {
		return nil, Blob{}, false, err
	} else if adopted != nil {
		up = adopted
	} else if up, err = s.blobs.NewUpload(ctx, size); err != nil {
		return nil, Blob{}, false, fmt.Errorf("start blob upload: %w", err)
	}
	tee := stagingTeeOf(ctx)
	if tee != nil {
		tee.receiving(up)
	}
	fail := func(err error) (BlobUpload, Blob, bool, error) {
		if tee != nil {
			tee.failed(up)
		}
		up.Close()
		return nil, Blob{}, false, err
	}
	src := body
	if limit >= 0 {
		src = io.LimitReader(body, limit+1)
	}
	var dst io.Writer = up
	if adopted != nil {
		dst = nil // the bytes are in place
	}
	deferRest = s.later != nil && size > deferDigestsAbove && onlySHA256(expect)
	if deferRest {
		blob, err = CopySHA256(dst, src, size)
	} else {
		blob, err = CopyDigest(dst, src, size)
	}
	n := blob.Size
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, io.ErrUnexpectedEOF) {
			return fail(&Error{Kind: ErrInvalid, Message: "request body ended before it was complete"})
		}
		return fail(fmt.Errorf("receive upload: %w", err))
	}
	if limit >= 0 && n > limit {
		return fail(lim.exceeded(n))
	}
	if size >= 0 && n != size {
		return fail(Errorf(ErrInvalid, "request body has %d bytes, Content-Length said %d", n, size))
	}
	if err := checkExpected(expect, blob); err != nil {
		return fail(err)
	}
	if err := up.Complete(ctx); err != nil {
		return fail(fmt.Errorf("complete blob upload: %w", err))
	}
	if err := s.prepareRepair(ctx, blob.SHA256); err != nil {
		return fail(err)
	}
	blob.CreatedAt = s.now()
	return up, blob, deferRest, nil
}

// OpenFile returns ref's file record and its content. The caller closes the
// reader. ErrNotFound, ErrUnauthenticated, ErrForbidden.
func (s *Service) OpenFile(ctx context.Context, a *Actor, ref FileRef) (*File, BlobReader, error) {
	f, err := s.readableFile(ctx, a, ref)
	if err != nil {
		return nil, nil, err
	}
	r, err := s.openBlob(ctx, f)
	if err != nil {
		// A record without its blob is damage, not a client error.
		return nil, nil, fmt.Errorf("open blob %s of file %d: %w", f.Blob.SHA256, f.ID, errors.Join(err, errors.New("blob missing")))
	}
	return f, r, nil
}

// DeleteFile deletes ref's file, its version if it was the last file, and its
// blob if no other file shares it. ErrNotFound, ErrUnauthenticated,
// ErrForbidden.
func (s *Service) DeleteFile(ctx context.Context, a *Actor, ref FileRef) error {
	owner, err := s.ownerFor(ctx, a, ref.Owner, AccessWrite)
	if err != nil {
		return err
	}
	if err := s.checkMutable(ctx, a, owner, ref.Type, ref.Package, ref.Version, "deleting a file"); err != nil {
		return err
	}
	err = s.store.DeleteFile(ctx, owner.ID, ref.Type, ref.Package, ref.Version, ref.File, a.User.ID, s.removeBlob)
	if errors.Is(err, ErrNotFound) {
		return Errorf(ErrNotFound, "file %q not found", ref.File)
	}
	s.notifyEvents()
	if err == nil {
		s.audit(ctx, a, AuditFileDelete, owner.Name, fileTarget(ref.Type, ref.Package, ref.Version, ref.File), nil)
	}
	return err
}

// DeleteVersion deletes a version with all its files. ErrNotFound,
// ErrUnauthenticated, ErrForbidden.
func (s *Service) DeleteVersion(ctx context.Context, a *Actor, ref VersionRef) error {
	owner, err := s.ownerFor(ctx, a, ref.Owner, AccessWrite)
	if err != nil {
		return err
	}
	return s.deleteVersion(ctx, a, owner, ref, Deletion{ActorID: a.User.ID})
}

// deleteVersion is the one path that deletes a version, for a user's
// DELETE and for cleanup rules: it checks immutability (a site admin
// bypasses it; a nil a, a cleanup, never does), deletes the version's rows
// and blobs no file references any more in one transaction, recording a
// PackageDeleted event sent by d.ActorID, and wakes webhook delivery.
func (s *Service) deleteVersion(ctx context.Context, a *Actor, owner *Owner, ref VersionRef, d Deletion) error {
	if err := s.checkMutable(ctx, a, owner, ref.Type, ref.Package, ref.Version, "deleting the version"); err != nil {
		return err
	}
	err := s.store.DeleteVersion(ctx, owner.ID, ref.Type, ref.Package, ref.Version, d.ActorID, s.removeBlob)
	if errors.Is(err, ErrNotFound) {
		return Errorf(ErrNotFound, "package %q version %q not found", ref.Package, ref.Version)
	}
	s.notifyEvents()
	if err == nil {
		s.recordDeletion(ctx, a, owner, ref, d)
	}
	return err
}

// recordDeletion records a version's deletion in the audit log: by a's
// user, or, for a cleanup (a nil), by the rule d names.
func (s *Service) recordDeletion(ctx context.Context, a *Actor, owner *Owner, ref VersionRef, d Deletion) {
	if d.Reason != "" {
		ctx = WithAuditActor(ctx, d.Reason)
		s.opts.Logger.Info("version deleted", "owner", owner.Name, "package", ref.Package, "version", ref.Version, "by", d.Reason)
	}
	s.audit(ctx, a, AuditVersionDelete, owner.Name, fileTarget(ref.Type, ref.Package, ref.Version), nil)
}

// removeBlob deletes a blob nobody references any more. A blob that is
// already gone is not an error: the goal is reached.
func (s *Service) removeBlob(ctx context.Context, sha256 string) error {
	s.smallBlobs.drop(sha256)
	if err := s.blobs.Delete(ctx, sha256); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("delete blob %s: %w", sha256, err)
	}
	return nil
}
