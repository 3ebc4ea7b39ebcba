package depot

import (
	"strings"
	"time"
)

// OwnerKind tells users and organizations apart.
type OwnerKind string

// Owner kinds.
const (
	KindUser OwnerKind = "user"
	KindOrg  OwnerKind = "org"
)

// Visibility says who may see an owner and its packages.
type Visibility string

// Visibilities. A private owner is invisible (not found) to anyone who is not
// the user itself, a member of the organization, or a site admin.
const (
	Public  Visibility = "public"
	Private Visibility = "private"
)

// ParseVisibility parses "public" or "private".
func ParseVisibility(s string) (Visibility, error) {
	switch Visibility(s) {
	case Public, Private:
		return Visibility(s), nil
	}
	return "", Errorf(ErrInvalid, "visibility must be public or private, not %q", s)
}

// Owner is a namespace that owns packages: a user or an organization.
type Owner struct {
	ID         int64
	Name       string
	Kind       OwnerKind
	Visibility Visibility
	CreatedAt  time.Time
}

// User is an account. Its Owner part is its namespace.
type User struct {
	Owner
	Email        string
	PasswordHash string
	IsAdmin      bool
	Disabled     bool
}

// OwnerQuery selects users or organizations for SearchOwners.
type OwnerQuery struct {
	// Kind selects users or organizations.
	Kind OwnerKind
	// PublicOnly leaves private owners out.
	PublicOnly bool
	// Search, when not empty, selects the owners whose name or email
	// contains it, case-insensitively.
	Search string
	// Admin and Disabled, when set, select the users whose flag has that
	// value.
	Admin, Disabled *bool
	// Limit is the page size (0: all); Offset skips that many owners.
	Limit, Offset int
}

// Role is an organization member's role; roles are ordered.
type Role int

// Roles, in increasing order of power. AccessNone is the absence of a role.
const (
	AccessNone Role = iota
	AccessRead
	AccessWrite
	AccessAdmin
)

func (r Role) String() string {
	switch r {
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	case AccessAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole parses "read", "write" or "admin".
func ParseRole(s string) (Role, error) {
	switch s {
	case "read":
		return AccessRead, nil
	case "write":
		return AccessWrite, nil
	case "admin":
		return AccessAdmin, nil
	}
	return AccessNone, Errorf(ErrInvalid, "role must be read, write or admin, not %q", s)
}

// Member is a user's membership of an organization.
type Member struct {
	OrgID  int64
	UserID int64
	Role   Role
}

// Token is a personal access token. Only its hash is stored.
type Token struct {
	ID        int64
	UserID    int64
	Name      string
	Hash      string // hex sha256 of the secret
	LastEight string // last eight characters of the secret, for lookup
	Scopes    Scopes
	CreatedAt time.Time
	ExpiresAt *time.Time
}

// Scope is a token permission, named as Gitea names them.
type Scope string

// Scopes known to depot (Gitea's names).
const (
	ScopeAll               Scope = "all"
	ScopeReadPackage       Scope = "read:package"
	ScopeWritePackage      Scope = "write:package"
	ScopeReadUser          Scope = "read:user"
	ScopeWriteUser         Scope = "write:user"
	ScopeReadOrganization  Scope = "read:organization"
	ScopeWriteOrganization Scope = "write:organization"
	ScopeReadAdmin         Scope = "read:admin"
	ScopeWriteAdmin        Scope = "write:admin"
)

var knownScopes = []Scope{ScopeAll, ScopeReadPackage, ScopeWritePackage, ScopeReadUser, ScopeWriteUser, ScopeReadOrganization, ScopeWriteOrganization, ScopeReadAdmin, ScopeWriteAdmin}

// Scopes is a set of scopes.
type Scopes []Scope

// ParseScopes parses a comma-separated list of scope names.
func ParseScopes(s string) (Scopes, error) {
	var out Scopes
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if mapped, ok := gitlabScopes[part]; ok {
			out = append(out, mapped...)
			continue
		}
		known := false
		for _, k := range knownScopes {
			if Scope(part) == k {
				known = true
			}
		}
		if !known {
			return nil, Errorf(ErrInvalid, "unknown scope %q", part)
		}
		out = append(out, Scope(part))
	}
	if len(out) == 0 {
		return nil, Errorf(ErrInvalid, "at least one scope is required")
	}
	return out, nil
}

// String joins the scopes with commas.
func (s Scopes) String() string {
	parts := make([]string, len(s))
	for i, sc := range s {
		parts[i] = string(sc)
	}
	return strings.Join(parts, ",")
}

// Has reports whether the set grants want: "all" grants everything and a
// write scope grants its read scope.
func (s Scopes) Has(want Scope) bool {
	for _, sc := range s {
		if sc == want || sc == ScopeAll {
			return true
		}
		if strings.HasPrefix(string(want), "read:") && string(sc) == "write:"+strings.TrimPrefix(string(want), "read:") {
			return true
		}
	}
	return false
}

// PackageType is the package format; depot serves "generic".
type PackageType string

// TypeGeneric is the generic package type.
const TypeGeneric PackageType = "generic"

// Package is a named package of an owner.
type Package struct {
	ID        int64
	OwnerID   int64
	Type      PackageType
	Name      string
	CreatedAt time.Time
	// ProjectID is the project the package is linked to, 0 for none.
	ProjectID int64
}

// Project is a named project of an owner, the counterpart of a Gitea
// repository or a GitLab project. Packages may be linked to one project of
// their owner.
type Project struct {
	ID      int64
	OwnerID int64
	// OwnerName is filled by reads, for display.
	OwnerName string
	Name      string
	// Visibility is the project's own visibility; "" inherits the owner's.
	Visibility Visibility
	CreatedAt  time.Time
}

// EffectiveVisibility returns the project's visibility, or owner's when the
// project inherits it.
func (p *Project) EffectiveVisibility(owner *Owner) Visibility {
	if p.Visibility != "" {
		return p.Visibility
	}
	return owner.Visibility
}

// PackageVersion is a version as listings show it, with its package, its
// creator and the project its package is linked to.
type PackageVersion struct {
	Package Package
	Version Version
	// Creator is nil when the creator's account no longer exists.
	Creator *User
	// Project is nil when the package is not linked to a project.
	Project *Project
}

// VersionQuery selects package versions of one owner for SearchVersions.
type VersionQuery struct {
	OwnerID int64
	// Type filters by package type when not empty.
	Type PackageType
	// Name filters by package name, case-insensitively: the exact name when
	// ExactName is set, else any name containing it.
	Name      string
	ExactName bool
	// Limit is the page size, 0 for all; Offset skips that many versions.
	Limit, Offset int
}

// Version is one version of a package.
type Version struct {
	ID        int64
	PackageID int64
	Version   string
	CreatorID int64
	CreatedAt time.Time
}

// Blob is stored content, addressed by its sha256 and shared by every file
// with the same bytes.
type Blob struct {
	SHA256    string
	Size      int64
	MD5       string
	SHA1      string
	SHA512    string
	CreatedAt time.Time
}

// File is a named file in a package version.
type File struct {
	ID        int64
	VersionID int64
	Name      string
	Blob      Blob
	CreatorID int64
	CreatedAt time.Time
}

// FileRef names a file by owner, package, version and file name, as URLs do.
type FileRef struct {
	Owner   string
	Type    PackageType
	Package string
	Version string
	File    string
}

// VersionRef names a package version.
type VersionRef struct {
	Owner   string
	Type    PackageType
	Package string
	Version string
}
