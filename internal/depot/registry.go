package depot

import (
	"context"
	"errors"
	"fmt"
)

// PackageQuery selects the versions ListVersions returns.
type PackageQuery struct {
	Owner string
	// Type filters by package type when not empty; an unknown type selects
	// nothing.
	Type PackageType
	// Name filters by package name, case-insensitively: the exact name when
	// ExactName is set, else any name containing it ("" selects all).
	Name      string
	ExactName bool
	// Limit is the page size (0: all); Offset skips that many versions.
	Limit, Offset int
}

// VersionPage is one page of a version listing.
type VersionPage struct {
	Owner    *Owner
	Versions []*PackageVersion
	// Total counts the versions of every page.
	Total int64
}

// ListVersions returns a page of an owner's package versions, newest first.
// A token needs read:package (checked first, as Gitea does); a private
// owner is invisible. Projects the actor may not see are left out of the
// versions. ErrForbidden, ErrNotFound, ErrInvalid.
func (s *Service) ListVersions(ctx context.Context, a *Actor, q PackageQuery) (*VersionPage, error) {
	if err := requireScope(a, ScopeReadPackage); err != nil {
		return nil, err
	}
	if q.Limit < 0 || q.Offset < 0 {
		return nil, Errorf(ErrInvalid, "page size and offset must not be negative")
	}
	owner, err := s.ownerFor(ctx, a, q.Owner, AccessRead)
	if err != nil {
		return nil, err
	}
	vs, total, err := s.store.SearchVersions(ctx, VersionQuery{
		OwnerID: owner.ID, Type: q.Type, Name: q.Name, ExactName: q.ExactName, Limit: q.Limit, Offset: q.Offset,
	})
	if err != nil {
		return nil, fmt.Errorf("search versions: %w", err)
	}
	if err := s.hideProjects(ctx, a, owner, vs...); err != nil {
		return nil, err
	}
	return &VersionPage{Owner: owner, Versions: vs, Total: total}, nil
}

// PackageVersion returns one version of a package with its owner.
// ErrForbidden, ErrNotFound.
func (s *Service) PackageVersion(ctx context.Context, a *Actor, ref VersionRef) (*Owner, *PackageVersion, error) {
	if err := requireScope(a, ScopeReadPackage); err != nil {
		return nil, nil, err
	}
	owner, err := s.ownerFor(ctx, a, ref.Owner, AccessRead)
	if err != nil {
		return nil, nil, err
	}
	pv, err := s.store.VersionByName(ctx, owner.ID, ref.Type, ref.Package, ref.Version)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, Errorf(ErrNotFound, "package %q version %q does not exist", ref.Package, ref.Version)
	} else if err != nil {
		return nil, nil, fmt.Errorf("look up version: %w", err)
	}
	if err := s.hideProjects(ctx, a, owner, pv); err != nil {
		return nil, nil, err
	}
	return owner, pv, nil
}

// LatestPackageVersion returns the latest version of a package: the highest
// semantic version where any version parses as one, else the newest upload
// (see LatestVersion). ErrForbidden, ErrNotFound.
func (s *Service) LatestPackageVersion(ctx context.Context, a *Actor, owner string, typ PackageType, name string) (*Owner, *PackageVersion, error) {
	page, err := s.ListVersions(ctx, a, PackageQuery{Owner: owner, Type: typ, Name: name, ExactName: true})
	if err != nil {
		return nil, nil, err
	}
	latest := LatestVersion(page.Versions)
	if latest == nil {
		return nil, nil, Errorf(ErrNotFound, "package %q does not exist", name)
	}
	return page.Owner, latest, nil
}

// VersionFiles returns the files of a version, in upload order.
// ErrForbidden, ErrNotFound.
func (s *Service) VersionFiles(ctx context.Context, a *Actor, ref VersionRef) ([]*File, error) {
	_, pv, err := s.PackageVersion(ctx, a, ref)
	if err != nil {
		return nil, err
	}
	files, err := s.store.ListFiles(ctx, pv.Version.ID)
	if err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	for _, f := range files {
		// A large file uploaded a moment ago may have only its sha256 yet.
		if err := s.CompleteDigests(ctx, &f.Blob); err != nil {
			return nil, fmt.Errorf("digests of %s: %w", f.Name, err)
		}
	}
	return files, nil
}

// DeletePackageVersion deletes a version with all its files, checking the
// token's write:package scope before anything else, as Gitea's v1 API does.
// ErrForbidden, ErrNotFound, ErrUnauthenticated.
func (s *Service) DeletePackageVersion(ctx context.Context, a *Actor, ref VersionRef) error {
	if err := requireScope(a, ScopeWritePackage); err != nil {
		return err
	}
	return s.DeleteVersion(ctx, a, ref)
}

// DeletePackage deletes a package with all its versions and files, as
// Gitea's DELETE /api/v1/packages/{owner}/{type}/{name} does. It needs write
// access to the owner and a write scope. Each version goes as DeleteVersion
// removes it (its own transaction, blobs released when unreferenced); a
// version uploaded while it runs may remain. ErrNotFound, ErrForbidden,
// ErrUnauthenticated.
func (s *Service) DeletePackage(ctx context.Context, a *Actor, owner string, typ PackageType, name string) error {
	o, pkg, err := s.packageForWrite(ctx, a, owner, typ, name)
	if err != nil {
		return err
	}
	versions, err := s.store.VersionsOf(ctx, []int64{pkg.ID})
	if err != nil {
		return fmt.Errorf("list versions: %w", err)
	}
	// Nothing goes when any version is sealed.
	var deleted []string
	for _, v := range versions {
		if err := s.checkMutable(ctx, a, o, typ, pkg.Name, v.Version, "deleting the package"); err != nil {
			return err
		}
	}
	for _, v := range versions {
		err := s.store.DeleteVersion(ctx, o.ID, typ, pkg.Name, v.Version, a.User.ID, s.removeBlob)
		if err != nil && !errors.Is(err, ErrNotFound) {
			if len(deleted) > 0 {
				s.audit(ctx, a, AuditPackageDelete, o.Name, fileTarget(typ, pkg.Name), map[string]any{"versions": deleted, "complete": false})
			}
			return fmt.Errorf("delete version %q: %w", v.Version, err)
		}
		if err == nil {
			deleted = append(deleted, v.Version)
		}
	}
	s.notifyEvents()
	s.audit(ctx, a, AuditPackageDelete, o.Name, fileTarget(typ, pkg.Name), map[string]any{"versions": deleted, "complete": true})
	return nil
}

// LinkPackage links a package to a project of its owner. It needs write
// access to the owner. As in Gitea, a package that is linked already, even
// to the same project, is ErrInvalid: unlink it first. ErrNotFound,
// ErrForbidden, ErrUnauthenticated.
func (s *Service) LinkPackage(ctx context.Context, a *Actor, owner string, typ PackageType, name, project string) error {
	o, pkg, err := s.packageForWrite(ctx, a, owner, typ, name)
	if err != nil {
		return err
	}
	p, err := s.store.ProjectByName(ctx, o.ID, project)
	if errors.Is(err, ErrNotFound) {
		return Errorf(ErrNotFound, "project %q does not exist", project)
	} else if err != nil {
		return fmt.Errorf("look up project: %w", err)
	}
	if pkg.ProjectID != 0 {
		return Errorf(ErrInvalid, "package %q is already linked to a project: unlink it first", pkg.Name)
	}
	if err := s.store.SetPackageProject(ctx, pkg.ID, p.ID); errors.Is(err, ErrNotFound) {
		return Errorf(ErrNotFound, "package %q does not exist", name)
	} else if err != nil {
		return fmt.Errorf("link package: %w", err)
	}
	s.audit(ctx, a, AuditPackageLink, o.Name, fileTarget(typ, pkg.Name), map[string]any{"project": p.Name})
	return nil
}

// UnlinkPackage removes a package's project link. It needs write access to
// the owner and, for an organization's package, the admin role (Gitea asks
// for an organization admin too). ErrInvalid if the package has no link;
// ErrNotFound, ErrForbidden, ErrUnauthenticated.
func (s *Service) UnlinkPackage(ctx context.Context, a *Actor, owner string, typ PackageType, name string) error {
	o, pkg, err := s.packageForWrite(ctx, a, owner, typ, name)
	if err != nil {
		return err
	}
	if pkg.ProjectID == 0 {
		return Errorf(ErrInvalid, "package %q is not linked to a project", pkg.Name)
	}
	if o.Kind == KindOrg {
		role, err := s.Access(ctx, a, o)
		if err != nil {
			return err
		}
		if role < AccessAdmin {
			return Errorf(ErrForbidden, "only an admin of organization %q may unlink its packages", o.Name)
		}
	}
	if err := s.store.SetPackageProject(ctx, pkg.ID, 0); errors.Is(err, ErrNotFound) {
		return Errorf(ErrNotFound, "package %q does not exist", name)
	} else if err != nil {
		return fmt.Errorf("unlink package: %w", err)
	}
	s.audit(ctx, a, AuditPackageUnlink, o.Name, fileTarget(typ, pkg.Name), nil)
	return nil
}

func (s *Service) packageForWrite(ctx context.Context, a *Actor, owner string, typ PackageType, name string) (*Owner, *Package, error) {
	if err := requireScope(a, ScopeWritePackage); err != nil {
		return nil, nil, err
	}
	o, err := s.ownerFor(ctx, a, owner, AccessWrite)
	if err != nil {
		return nil, nil, err
	}
	pkg, err := s.store.PackageByName(ctx, o.ID, typ, name)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, Errorf(ErrNotFound, "package %q does not exist", name)
	} else if err != nil {
		return nil, nil, fmt.Errorf("look up package: %w", err)
	}
	return o, pkg, nil
}

// hideProjects removes from versions the projects a may not see: a private
// project (its own setting or its owner's) is visible only to members of
// its owner, the owner itself and site admins.
func (s *Service) hideProjects(ctx context.Context, a *Actor, owner *Owner, versions ...*PackageVersion) error {
	var role Role = -1
	for _, v := range versions {
		if v.Project == nil || v.Project.EffectiveVisibility(owner) == Public {
			continue
		}
		if role < 0 {
			// The role a would have if the owner were private: membership,
			// self or site admin.
			private := *owner
			private.Visibility = Private
			r, err := s.Access(ctx, a, &private)
			if err != nil {
				return err
			}
			role = r
		}
		if role == AccessNone {
			v.Project = nil
		}
	}
	return nil
}

// CreateProject creates a project of the named owner. vis "" inherits the
// owner's visibility. ErrInvalid, ErrNotFound, ErrConflict.
func (s *Service) CreateProject(ctx context.Context, owner, name string, vis Visibility) (*Project, error) {
	if err := ValidateProjectName(name); err != nil {
		return nil, err
	}
	if vis != "" {
		if _, err := ParseVisibility(string(vis)); err != nil {
			return nil, err
		}
	}
	o, err := s.store.OwnerByName(ctx, owner)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "owner %q not found", owner)
	} else if err != nil {
		return nil, fmt.Errorf("look up owner: %w", err)
	}
	p := &Project{OwnerID: o.ID, OwnerName: o.Name, Name: name, Visibility: vis, CreatedAt: s.now()}
	if err := s.store.CreateProject(ctx, p); errors.Is(err, ErrConflict) {
		return nil, Errorf(ErrConflict, "%s already has a project named %q", o.Name, name)
	} else if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "owner %q not found", owner)
	} else if err != nil {
		return nil, fmt.Errorf("create project: %w", err)
	}
	s.audit(ctx, nil, AuditProjectCreate, o.Name, name, map[string]any{"visibility": vis})
	return p, nil
}

// ListProjects returns every project.
func (s *Service) ListProjects(ctx context.Context) ([]*Project, error) {
	return s.store.ListProjects(ctx)
}
