package depot

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// VersionSelector picks one of a package's versions by a rule the domain
// does not parse itself: a semantic-version range (package semverrange
// implements it with Masterminds/semver; the adapters pass it in, so the
// domain imports no third-party code).
type VersionSelector interface {
	// Select returns the version selected among versions (any order), nil
	// when none matches.
	Select(versions []*PackageVersion) *PackageVersion
	// String is the rule as the client wrote it (the range), for messages.
	String() string
}

// ErrNoVersionMatch is the kind of a resolution that found no version: a
// not-found whose message names the range.
var ErrNoVersionMatch = &Error{Kind: ErrNotFound, Message: "no version matches"}

// noMatch is ErrNotFound naming what was asked for.
func noMatch(pkg string, sel VersionSelector) error {
	what := "latest"
	if sel != nil {
		what = fmt.Sprintf("the range %q", sel.String())
	}
	return Errorf(ErrNoVersionMatch, "no version of package %q matches %s", pkg, what)
}

// ResolveVersion returns the version of a package that sel selects, or the
// latest (see LatestVersion) when sel is nil, with the access rule of a
// download: read access to the owner, so a private owner answers as it
// does for a file. The caller then redirects to that version's own URL.
// ErrNotFound (ErrNoVersionMatch when the package exists but nothing
// matches; its message names the range), ErrUnauthenticated, ErrForbidden.
func (s *Service) ResolveVersion(ctx context.Context, a *Actor, owner string, typ PackageType, name string, sel VersionSelector) (*PackageVersion, error) {
	o, err := s.ownerFor(ctx, a, owner, AccessRead)
	if err != nil {
		return nil, err
	}
	vs, _, err := s.store.SearchVersions(ctx, VersionQuery{OwnerID: o.ID, Type: typ, Name: name, ExactName: true})
	if err != nil {
		return nil, fmt.Errorf("search versions: %w", err)
	}
	if len(vs) == 0 {
		return nil, Errorf(ErrNotFound, "package %q does not exist", name)
	}
	return selectVersion(name, vs, sel)
}

func selectVersion(name string, vs []*PackageVersion, sel VersionSelector) (*PackageVersion, error) {
	var pv *PackageVersion
	if sel == nil {
		pv = LatestVersion(vs)
	} else {
		pv = sel.Select(vs)
	}
	if pv == nil {
		return nil, noMatch(name, sel)
	}
	return pv, nil
}

// ResolveGitLabVersion is ResolveVersion for a project's generic package as
// the GitLab dialect names it, with the access rule of a GitLab generic
// download. Only versions GitLab's rule accepts take part (the others
// cannot be downloaded through this dialect), and hidden ones do not
// (status=hidden: left out of GitLab's listings; their own URL still
// answers). ErrProjectNotFound,
// ErrPackageNotFound, ErrNoVersionMatch, ErrUnauthenticated, ErrForbidden,
// ErrInvalid.
func (s *Service) ResolveGitLabVersion(ctx context.Context, a *Actor, project, name string, sel VersionSelector) (*PackageVersion, error) {
	if err := ValidateGitLabPackageName(name); err != nil {
		return nil, err
	}
	p, owner, role, err := s.GitLabProject(ctx, a, project)
	if err != nil {
		return nil, err
	}
	if err := need(a, role, AccessRead); err != nil {
		return nil, err
	}
	pkg, err := s.store.PackageByName(ctx, owner.ID, TypeGeneric, name)
	if errors.Is(err, ErrNotFound) || err == nil && pkg.ProjectID != p.ID {
		return nil, ErrPackageNotFound
	} else if err != nil {
		return nil, fmt.Errorf("look up package: %w", err)
	}
	// The project's versions that are not hidden: GitLab's listings leave
	// hidden packages out, and "latest" is what a listing would show first.
	pkgs, _, err := s.store.SearchGitLabPackages(ctx, GitLabPackageQuery{OwnerID: owner.ID, ProjectID: p.ID, Type: TypeGeneric, Name: name})
	if err != nil {
		return nil, fmt.Errorf("search packages: %w", err)
	}
	var keep []*PackageVersion
	for _, gp := range pkgs {
		if strings.EqualFold(gp.Package.Name, name) && ValidateGitLabVersion(gp.Version.Version) == nil {
			keep = append(keep, &gp.PackageVersion)
		}
	}
	return selectVersion(name, keep, sel)
}

// VersionContent is a version's files, newest upload of each name, in
// upload order, for streaming the version as one archive: Open reads them
// one at a time, so memory stays flat whatever the version's size.
type VersionContent struct {
	Version *PackageVersion
	Files   []*File
	svc     *Service
}

// Open returns f's content (f one of Files); the caller closes it. A
// blob found damaged or missing is an error, as for a download.
func (vc *VersionContent) Open(ctx context.Context, f *File) (BlobReader, error) {
	r, err := vc.svc.openBlob(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("open blob %s of file %d: %w", f.Blob.SHA256, f.ID, errors.Join(err, errors.New("blob missing")))
	}
	return r, nil
}

// OpenVersion returns a version's files for an archive download, with the
// access rule of a file download, and every digest of every file (the
// archive's manifest lists them). ErrNotFound, ErrUnauthenticated,
// ErrForbidden.
func (s *Service) OpenVersion(ctx context.Context, a *Actor, ref VersionRef) (*VersionContent, error) {
	owner, err := s.ownerFor(ctx, a, ref.Owner, AccessRead)
	if err != nil {
		return nil, err
	}
	pv, err := s.store.VersionByName(ctx, owner.ID, ref.Type, ref.Package, ref.Version)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "package %q version %q does not exist", ref.Package, ref.Version)
	} else if err != nil {
		return nil, fmt.Errorf("look up version: %w", err)
	}
	return s.versionContent(ctx, pv)
}

func (s *Service) versionContent(ctx context.Context, pv *PackageVersion) (*VersionContent, error) {
	files, err := s.store.ListFiles(ctx, pv.Version.ID)
	if err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	// GitLab may keep several uploads of one name; the archive holds what a
	// download of the name answers: the newest.
	at := map[string]int{}
	var out []*File
	for _, f := range files {
		if i, ok := at[f.Name]; ok {
			if newerFile(f, out[i]) {
				out[i] = f
			}
			continue
		}
		at[f.Name] = len(out)
		out = append(out, f)
	}
	for _, f := range out {
		if err := s.CompleteDigests(ctx, &f.Blob); err != nil {
			return nil, fmt.Errorf("digests of %s: %w", f.Name, err)
		}
	}
	return &VersionContent{Version: pv, Files: out, svc: s}, nil
}

func newerFile(a, b *File) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

// OpenGitLabVersion is OpenVersion for a project's generic package as the
// GitLab dialect names it, with the access rule of a GitLab generic
// download. ErrProjectNotFound, ErrPackageNotFound, ErrUnauthenticated,
// ErrForbidden, ErrInvalid.
func (s *Service) OpenGitLabVersion(ctx context.Context, a *Actor, project, name, version string) (*VersionContent, error) {
	if err := ValidateGitLabPackageName(name); err != nil {
		return nil, err
	}
	if err := ValidateGitLabVersion(version); err != nil {
		return nil, err
	}
	p, owner, role, err := s.GitLabProject(ctx, a, project)
	if err != nil {
		return nil, err
	}
	if err := need(a, role, AccessRead); err != nil {
		return nil, err
	}
	pv, err := s.store.VersionByName(ctx, owner.ID, TypeGeneric, name, version)
	if errors.Is(err, ErrNotFound) || err == nil && pv.Package.ProjectID != p.ID {
		return nil, ErrPackageNotFound
	} else if err != nil {
		return nil, fmt.Errorf("look up version: %w", err)
	}
	return s.versionContent(ctx, pv)
}
