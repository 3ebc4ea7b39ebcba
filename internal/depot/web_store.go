package depot

import (
	"context"
	"time"
)

// WebStore is what the web UI needs from a metadata store beyond the API's
// needs: browser sessions (in the database, so every replica sees them),
// account flags an admin changes, and listings across packages.
type WebStore interface {
	// CreateSession inserts a session. ErrConflict if its hash exists;
	// ErrNotFound if its user does not exist.
	CreateSession(ctx context.Context, s *Session) error
	// SessionByHash returns the session whose secret hashes to hash.
	// ErrNotFound.
	SessionByHash(ctx context.Context, hash string) (*Session, error)
	// DeleteSession removes a session; a missing one is not an error.
	DeleteSession(ctx context.Context, hash string) error
	// DeleteExpiredSessions removes the sessions that expired before
	// before, and returns how many it removed.
	DeleteExpiredSessions(ctx context.Context, before time.Time) (int64, error)
	// SetUserFlags sets a user's admin and disabled flags. ErrNotFound.
	SetUserFlags(ctx context.Context, userID int64, isAdmin, disabled bool) error
	// ExplorePackages returns one page of the packages q selects, most
	// recently updated first (ties by ascending ID), and how many it selects
	// over all pages.
	ExplorePackages(ctx context.Context, q ExploreQuery) ([]*PackageSummary, int64, error)
	// VersionStats returns the file count, total size and last upload of
	// every version of a package (none for a missing package).
	VersionStats(ctx context.Context, packageID int64) ([]VersionStat, error)
	// OwnerPackageStats returns one page of the owner's packages q
	// selects, last upload first (ties by ascending ID), each with its
	// version and file counts, total size and last upload; how many q
	// selects over all pages; and the size of every file of the owner's
	// packages of q's type, whatever q.Search. Versions count whatever
	// their GitLab status, as in SearchVersions. A page reads the files of
	// its own packages only (none for a missing owner).
	OwnerPackageStats(ctx context.Context, q OwnerPackageQuery) (*OwnerPackagePage, error)
	// VersionsOf returns every version of the given packages, ordered by
	// package ID then version ID (none for missing packages).
	VersionsOf(ctx context.Context, packageIDs []int64) ([]Version, error)
	// OrgMembers returns an organization's members with their roles,
	// ordered by user name (none for a missing organization).
	OrgMembers(ctx context.Context, orgID int64) ([]*OrgMember, error)
}

// OrgMember is a member of an organization with its role.
type OrgMember struct {
	User *User
	Role Role
}

// Session is a signed-in browser. Only a hash of its secret is stored.
type Session struct {
	Hash      string // hex sha256 of the secret in the cookie
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ExploreQuery selects packages across owners for ExplorePackages.
type ExploreQuery struct {
	// Search filters by package or owner name containing it,
	// case-insensitively ("" selects all).
	Search string
	// ViewerID is the signed-in user (0 for anonymous): packages of public
	// owners, of the viewer and of the viewer's organizations are selected.
	// All is set for site admins, who see every owner.
	ViewerID int64
	All      bool
	// Limit is the page size (0: all); Offset skips that many packages.
	Limit, Offset int
}

// PackageSummary is a package as listings show it.
type PackageSummary struct {
	Package   Package
	OwnerName string
	// Versions counts the package's versions; UpdatedAt is the newest
	// version's creation time.
	Versions  int64
	UpdatedAt time.Time
}

// OwnerPackageQuery selects one owner's packages for OwnerPackageStats.
type OwnerPackageQuery struct {
	OwnerID int64
	Type    PackageType
	// Search filters by package name containing it, case-insensitively
	// ("" selects all).
	Search string
	// Limit is the page size (0: all); Offset skips that many packages.
	Limit, Offset int
}

// OwnerPackagePage is a page of an owner's packages with their sizes.
type OwnerPackagePage struct {
	Packages []*PackageStat
	// Total counts the packages the query selects over all pages.
	Total int64
	// StorageUsed is the size of every file of the owner's packages of the
	// query's type, whatever its search, counting a blob shared by several
	// files once per file.
	StorageUsed int64
}

// PackageStat is a package with the sizes of its content.
type PackageStat struct {
	Package  Package
	Versions int64
	Files    int64
	// Size sums the sizes of the package's files, counting each file.
	Size int64
	// LastUpload is the creation time of the package's newest file (or
	// version, for a version without files).
	LastUpload time.Time
}

// VersionStat is the size of a version's content.
type VersionStat struct {
	VersionID  int64
	Files      int64
	Size       int64
	LastUpload time.Time
}
