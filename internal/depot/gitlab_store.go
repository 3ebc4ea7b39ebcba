package depot

import (
	"context"
	"time"
)

// GitLabStore is the part of Store the GitLab dialect needs beyond the
// core: packages and files by id, GitLab's package status and duplicate
// files, namespace package settings, download times, and deploy and job
// tokens.
type GitLabStore interface {
	// OwnerByID returns a user or organization. ErrNotFound.
	OwnerByID(ctx context.Context, id int64) (*Owner, error)
	// ProjectByID returns a project with its OwnerName. ErrNotFound.
	ProjectByID(ctx context.Context, id int64) (*Project, error)

	// CreateGitLabFile records a file as CreateFile does, with GitLab's
	// rules: when o.AllowDuplicate is set, a current file of the same name
	// in the version does not conflict but is superseded (kept and listed,
	// no longer what FileByName returns); otherwise ErrConflict, settled by
	// the database's unique index as for CreateFile. A non-empty o.Status
	// becomes the version's status. The package is linked to o.ProjectID
	// when it is not linked yet; ErrInvalid if it is linked to another
	// project.
	CreateGitLabFile(ctx context.Context, nf NewFile, o GitLabFileOptions, commitBlob func(ctx context.Context) error) (*File, error)
	// GitLabPackageByID returns a version by id with its package, creator,
	// project, status and last download. ErrNotFound.
	GitLabPackageByID(ctx context.Context, versionID int64) (*GitLabPackage, error)
	// SearchGitLabPackages returns one page of the versions q selects and
	// how many it selects over all pages.
	SearchGitLabPackages(ctx context.Context, q GitLabPackageQuery) ([]*GitLabPackage, int64, error)
	// FileByID returns a file (current or superseded) with its blob.
	// ErrNotFound.
	FileByID(ctx context.Context, id int64) (*File, error)
	// DeleteFileByID removes one file record as DeleteFile does (its
	// version and package when they become empty, its blob when no other
	// file references it). When it was the current file of its name, the
	// newest superseded file of that name becomes current. ErrNotFound.
	DeleteFileByID(ctx context.Context, id, actorID int64, removeBlob func(ctx context.Context, sha256 string) error) error
	// RecordDownloads sets the last download time of versions, keeping a
	// later time already recorded. Missing versions are skipped.
	RecordDownloads(ctx context.Context, at map[int64]time.Time) error

	// PackageSettings returns an owner's package settings, the defaults
	// when none were set.
	PackageSettings(ctx context.Context, ownerID int64) (*PackageSettings, error)
	// SetPackageSettings stores an owner's package settings. ErrNotFound
	// if the owner does not exist.
	SetPackageSettings(ctx context.Context, ps *PackageSettings) error

	// CreateProjectToken inserts t and sets its ID. ErrConflict if a token
	// of its kind with that name exists for its project (or owner);
	// ErrNotFound if the owner or project does not exist.
	CreateProjectToken(ctx context.Context, t *ProjectToken) error
	// ProjectTokensByLastEight returns the deploy and job tokens whose
	// secret ends with lastEight.
	ProjectTokensByLastEight(ctx context.Context, lastEight string) ([]*ProjectToken, error)
	// ListProjectTokens returns an owner's deploy and job tokens (of its
	// projects or the whole owner), ordered by id.
	ListProjectTokens(ctx context.Context, ownerID int64) ([]*ProjectToken, error)
	// DeleteProjectToken removes a deploy or job token. ErrNotFound.
	DeleteProjectToken(ctx context.Context, id int64) error
}

// GitLabFileOptions are CreateGitLabFile's choices.
type GitLabFileOptions struct {
	// ProjectID is the project the package is linked to.
	ProjectID int64
	// Status, when not empty, becomes the version's status.
	Status PackageStatus
	// AllowDuplicate lets a file supersede a current file of its name.
	AllowDuplicate bool
}

// PackageStatus is GitLab's package status.
type PackageStatus string

// Package statuses depot keeps. Hidden packages download as usual but are
// left out of listings unless asked for, and not found by id.
const (
	StatusDefault PackageStatus = "default"
	StatusHidden  PackageStatus = "hidden"
)

// GitLabPackage is a version as GitLab's Packages API shows a package.
type GitLabPackage struct {
	PackageVersion
	Status PackageStatus
	// LastDownloadedAt is nil until the first download.
	LastDownloadedAt *time.Time
}

// GitLabOrder is a column GitLab's package listings sort by.
type GitLabOrder string

// Orders of GitLab's order_by parameter.
const (
	OrderCreatedAt GitLabOrder = "created_at"
	OrderName      GitLabOrder = "name"
	OrderVersion   GitLabOrder = "version"
	OrderType      GitLabOrder = "type"
)

// GitLabPackageQuery selects versions for SearchGitLabPackages. Only
// versions of packages linked to a project are selected.
type GitLabPackageQuery struct {
	OwnerID int64
	// ProjectID selects one project's packages; 0 selects every project of
	// the owner.
	ProjectID int64
	// PublicOnly leaves out projects whose effective visibility (their own,
	// else their owner's) is private.
	PublicOnly bool
	// Type filters by package type when not empty.
	Type PackageType
	// Name selects package names containing it, case-insensitively.
	Name string
	// Version selects that version exactly (case-insensitively).
	Version string
	// Status selects that status; "" selects every status but hidden.
	Status PackageStatus
	// OrderBy is the sort column (created_at when empty); ties by id.
	OrderBy GitLabOrder
	Desc    bool
	// Limit is the page size, 0 for all; Offset skips that many versions.
	Limit, Offset int
}

// PackageSettings are an owner's package settings, as GitLab's namespace
// package settings for generic packages.
type PackageSettings struct {
	OwnerID int64
	// GenericDuplicatesAllowed lets a version hold several files of one
	// name (GitLab's default).
	GenericDuplicatesAllowed bool
	// GenericDuplicateExceptionRegex names packages and versions for which
	// the setting above is reversed; "" for none.
	GenericDuplicateExceptionRegex string
}

// TokenKind tells deploy tokens and job tokens apart.
type TokenKind string

// Project token kinds.
const (
	KindDeployToken TokenKind = "deploy"
	KindJobToken    TokenKind = "job"
)

// ProjectToken is a GitLab deploy token or job token: it grants package
// access to one project, or (deploy tokens only) to every project of an
// owner, and to nothing else. Only its hash is stored.
type ProjectToken struct {
	ID   int64
	Kind TokenKind
	// OwnerID is the owner whose project (or, with ProjectID 0, all of
	// whose projects) the token grants access to.
	OwnerID   int64
	ProjectID int64
	Name      string
	Hash      string
	LastEight string
	// Scopes are depot's: read:package or write:package.
	Scopes    Scopes
	CreatedAt time.Time
	ExpiresAt *time.Time
}
