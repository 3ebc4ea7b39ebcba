package depot

import (
	"context"
	"io"
	"net"
	"time"
)

// Store keeps metadata: accounts, tokens, packages, versions, files and the
// blob records files point to. Implementations must be safe for concurrent
// use, and every method is atomic. Names are matched case-insensitively
// (owner, package, version and file names), as Gitea does.
type Store interface {
	WebStore
	QuotaStore
	OwnerSettingsStore
	DownloadStore
	HookStore
	AuditStore
	CleanupRuleStore
	ResumableStore
	InlineStore
	// CreateUser inserts u and sets its ID and CreatedAt. ErrConflict if an
	// owner of that name exists.
	CreateUser(ctx context.Context, u *User) error
	// CreateOrg inserts org and makes admin its first member with the admin
	// role. ErrConflict if an owner of that name exists; ErrNotFound if the
	// admin user does not exist.
	CreateOrg(ctx context.Context, org *Owner, adminUserID int64) error
	// OwnerByName returns a user or organization. ErrNotFound.
	OwnerByName(ctx context.Context, name string) (*Owner, error)
	// UserByName returns a user. ErrNotFound (also for organizations).
	UserByName(ctx context.Context, name string) (*User, error)
	// UserByID returns a user. ErrNotFound.
	UserByID(ctx context.Context, id int64) (*User, error)
	// ListUsers returns every user ordered by name.
	ListUsers(ctx context.Context) ([]*User, error)
	// SetMember adds a member or changes its role. ErrNotFound if the
	// organization or user does not exist.
	SetMember(ctx context.Context, m Member) error
	// MemberRole returns the user's role in the organization, AccessNone if
	// the user is not a member.
	MemberRole(ctx context.Context, orgID, userID int64) (Role, error)
	// RemoveMember removes a user from an organization. ErrNotFound if the
	// user is not a member; ErrConflict if the user is the organization's
	// last admin (an organization always keeps one).
	RemoveMember(ctx context.Context, orgID, userID int64) error
	// OrgsOfUser returns the organizations the user is a member of, ordered
	// by name. None (and no error) for a missing user.
	OrgsOfUser(ctx context.Context, userID int64) ([]*Owner, error)
	// SearchOwners returns one page of the users or organizations q
	// selects, ordered by name, and how many q selects over all pages, read
	// in one snapshot so they agree.
	SearchOwners(ctx context.Context, q OwnerQuery) ([]*User, int64, error)

	// CreateToken inserts t and sets its ID and CreatedAt. ErrConflict if the
	// user has a token of that name.
	CreateToken(ctx context.Context, t *Token) error
	// TokensByLastEight returns the tokens whose secret ends with lastEight.
	TokensByLastEight(ctx context.Context, lastEight string) ([]*Token, error)
	// ListTokens returns the user's tokens ordered by name.
	ListTokens(ctx context.Context, userID int64) ([]*Token, error)
	// DeleteToken removes the user's token of that name. ErrNotFound.
	DeleteToken(ctx context.Context, userID int64, name string) error

	// FileByName returns the file with its blob. ErrNotFound when the package,
	// version or file does not exist.
	FileByName(ctx context.Context, ownerID int64, typ PackageType, pkg, version, file string) (*File, error)
	// CreateFile records a new file, creating its package and version when
	// they do not exist yet and its blob record when no file shares it. In
	// the same transaction, after every check passed and before commit, it
	// calls commitBlob, which must make the blob's bytes durable in blob
	// storage; if commitBlob fails, nothing is recorded. A store may record
	// concurrent calls in one transaction: commitBlob may then run beside
	// other calls' callbacks, and again if the shared transaction had to be
	// retried (BlobUpload.Commit allows both). When the file is its
	// version's first, it records a PackageCreated event sent by
	// nf.CreatorID (see HookStore). ErrConflict if the version already has
	// a file of that name.
	CreateFile(ctx context.Context, nf NewFile, commitBlob func(ctx context.Context) error) (*File, error)
	// DeleteFile removes a file, its version when it was the last file, and
	// its package when that was the last version. When no file references
	// the blob any more it removes the blob record and, before commit, calls
	// removeBlob with its digest; if removeBlob fails nothing is deleted.
	// When it removes the version it records a PackageDeleted event sent
	// by actorID (see HookStore). ErrNotFound.
	DeleteFile(ctx context.Context, ownerID int64, typ PackageType, pkg, version, file string, actorID int64, removeBlob func(ctx context.Context, sha256 string) error) error
	// DeleteVersion removes a version and all its files as DeleteFile does
	// for each. ErrNotFound.
	DeleteVersion(ctx context.Context, ownerID int64, typ PackageType, pkg, version string, actorID int64, removeBlob func(ctx context.Context, sha256 string) error) error
	// BlobExists reports whether a blob record exists.
	BlobExists(ctx context.Context, sha256 string) (bool, error)
	// RemoveUnrecordedBlob removes a blob that blob storage holds but no
	// blob record describes (bytes committed by an upload whose metadata
	// transaction then failed). In one transaction that a CreateFile of the
	// same digest cannot interleave with (it waits, or runs entirely
	// before), it checks that no record exists and calls removeBlob. It
	// reports whether it called removeBlob; if removeBlob fails, it returns
	// the error and records nothing.
	RemoveUnrecordedBlob(ctx context.Context, sha256 string, removeBlob func(ctx context.Context, sha256 string) error) (bool, error)

	// SearchVersions returns one page of the versions q selects, newest
	// first (ties by ascending ID), each with its package, creator and
	// project, and the number of versions q selects over all pages. It runs
	// a fixed number of queries whatever the page size.
	SearchVersions(ctx context.Context, q VersionQuery) ([]*PackageVersion, int64, error)
	// VersionByName returns a version with its package, creator and
	// project. ErrNotFound.
	VersionByName(ctx context.Context, ownerID int64, typ PackageType, pkg, version string) (*PackageVersion, error)
	// ListFiles returns the files of a version with their blobs, in upload
	// order. None (and no error) for a missing version.
	ListFiles(ctx context.Context, versionID int64) ([]*File, error)
	// PackageByName returns a package. ErrNotFound.
	PackageByName(ctx context.Context, ownerID int64, typ PackageType, name string) (*Package, error)
	// SetPackageProject links a package to a project of the same owner, or
	// unlinks it when projectID is 0. ErrNotFound if the package does not
	// exist, or the project does not exist or belongs to another owner.
	SetPackageProject(ctx context.Context, packageID, projectID int64) error

	// CreateProject inserts p and sets its ID. ErrConflict if its owner has
	// a project of that name (case-insensitively); ErrNotFound if the owner
	// does not exist.
	CreateProject(ctx context.Context, p *Project) error
	// ProjectByName returns an owner's project. ErrNotFound.
	ProjectByName(ctx context.Context, ownerID int64, name string) (*Project, error)
	// ListProjects returns every project ordered by owner name, then name.
	ListProjects(ctx context.Context) ([]*Project, error)

	// GitLabStore holds the GitLab dialect's methods.
	GitLabStore
	// IntegrityStore holds what checking stored blobs needs.
	IntegrityStore
	// PublisherStore holds trusted publishing's.
	PublisherStore

	// Close releases the store's resources.
	Close() error
}

// NewFile is what CreateFile needs to record a file.
type NewFile struct {
	OwnerID   int64
	Type      PackageType
	Package   string
	Version   string
	File      string
	Blob      Blob
	CreatorID int64
	CreatedAt time.Time
	// ExchangeID, when not 0, is the trusted publisher exchange whose token
	// uploaded the file (PublisherStore.FilePublications).
	ExchangeID int64
	// Audit, when not nil, is appended to the audit log in the recording
	// transaction (its ID set), so the upload and its entry commit
	// together or not at all.
	Audit *AuditEvent
	// Content, when not nil, is the blob's whole content (Blob.Size bytes
	// that hash to Blob.SHA256; empty, not nil, for an empty blob), which
	// the store keeps inside the metadata database with the blob record,
	// in the recording transaction: the commit that makes the file durable
	// makes its bytes durable too (see InlineStore). Content written under
	// a digest replaces what was kept under it (the same bytes, or bytes
	// found damaged); a blob record that exists with its bytes in blob
	// storage keeps them there too. commitBlob is still called.
	Content []byte
	// Quota, when not nil, is checked in the recording transaction with
	// CheckQuota, after the file's rows are written and with the owner's
	// quota-checked uploads serialised; its error is returned as is and
	// nothing is recorded.
	Quota *Quota
}

// BlobStore keeps content addressed by sha256. Implementations must be safe
// for concurrent use.
type BlobStore interface {
	// NewUpload starts writing a blob whose digest is not known yet. Its
	// bytes are invisible until Commit. size is the number of bytes that
	// will be written, or -1 if unknown; a store may use it to stream
	// without buffering (an S3 multipart upload sizes its parts by it).
	NewUpload(ctx context.Context, size int64) (BlobUpload, error)
	// Open returns the blob for reading. ErrNotFound.
	Open(ctx context.Context, sha256 string) (BlobReader, error)
	// Stat returns the size of a blob. ErrNotFound.
	Stat(ctx context.Context, sha256 string) (int64, error)
	// Delete removes a blob. ErrNotFound.
	Delete(ctx context.Context, sha256 string) error
	// Walk calls fn with the digest of every committed blob, in no order.
	Walk(ctx context.Context, fn func(sha256 string) error) error
}

// BlobUpload is a blob being written.
type BlobUpload interface {
	io.Writer
	// Complete ends writing and makes the bytes durable, still invisible.
	// It lets the slow part of committing (fsync, finishing a multipart
	// upload) happen outside the metadata transaction; Commit completes an
	// upload that was not completed.
	Complete(ctx context.Context) error
	// Commit makes the written bytes durable and visible under sha256. If a
	// blob with that digest exists, the upload is discarded and the existing
	// blob kept. After Commit the upload may still be Committed again (a
	// no-op when the blob exists) and must still be Closed.
	Commit(ctx context.Context, sha256 string) error
	// Close discards an uncommitted upload and releases its resources.
	Close() error
}

// SalvageableUpload is a BlobUpload that can keep what was written to it
// as the staged bytes of a resumable upload, for a creation that carried
// the whole body and broke off (see StagingTee): such a creation then
// costs no second write while it streams.
type SalvageableUpload interface {
	BlobUpload
	// Salvage makes the bytes written so far the bytes staged in staging
	// for upload token from offset 0 (token has none staged yet), and
	// returns how many. The upload is left holding nothing; it must still
	// be Closed.
	Salvage(ctx context.Context, staging UploadStaging, token string) (int64, error)
}

// StagedAdopter is a BlobStore that can make the bytes staged for a
// resumable upload the content of a new upload without copying them, when
// the upload is committed (on disk: the staging file becomes the upload's
// temporary file).
type StagedAdopter interface {
	// AdoptStaged moves the first size bytes staged in staging for token
	// into a new upload, as if written to it; staging then holds nothing
	// for token. The upload is a SalvageableUpload, so that a commit that
	// fails can put the bytes back. ok is false, with nothing moved, when
	// staging is not one the store can adopt from. ErrNotFound when fewer
	// than size bytes are staged.
	AdoptStaged(ctx context.Context, staging UploadStaging, token string, size int64) (up SalvageableUpload, ok bool, err error)
}

// SocketSource is an optional capability of a BlobReader whose bytes come
// from a network connection (an object store over plain HTTP): the server
// can then move them to its client with splice(2), the kernel copying
// socket to socket, instead of reading them into memory and writing them
// out again.
type SocketSource interface {
	// Socket returns the n bytes from the reader's offset as head (bytes
	// already read off the connection) followed by conn's next n-len(head)
	// bytes; conn is nil (and no error) when the reader cannot, and the
	// caller then Reads as usual. The caller reads exactly those bytes
	// from conn and does not close it; Close of the reader does. The
	// offset moves past the n bytes.
	Socket(n int64) (head []byte, conn net.Conn, err error)
}

// BlobReader reads a blob. It is an io.ReadSeeker so downloads can serve
// ranges; a filesystem implementation returns an *os.File so the kernel can
// send it (sendfile).
type BlobReader interface {
	io.ReadSeekCloser
}
