package depot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/depot-registry/depot/internal/digest"
)

// GitLabMaxFileSize is GitLab's default limit for a generic package file
// (5 GiB). A smaller MaxUploadSize wins.
const GitLabMaxFileSize = 5 << 30

// Errors the GitLab dialect tells apart, because GitLab's answers differ by
// what was not found or why an upload was refused. They wrap the usual
// kinds; compare with errors.Is.
var (
	// ErrOwnerNotFound is an owner that is missing or that the actor may
	// not see: the two are one answer, so private owners stay invisible.
	ErrOwnerNotFound       = &Error{Kind: ErrNotFound, Message: "owner not found"}
	ErrProjectNotFound     = &Error{Kind: ErrNotFound, Message: "project not found"}
	ErrGroupNotFound       = &Error{Kind: ErrNotFound, Message: "group not found"}
	ErrPackageNotFound     = &Error{Kind: ErrNotFound, Message: "package not found"}
	ErrPackageFileNotFound = &Error{Kind: ErrNotFound, Message: "package file not found"}
	ErrDuplicatePackage    = &Error{Kind: ErrConflict, Message: "Duplicate package is not allowed"}
)

// GitLabFileRef names a generic package file of a project: Project is a
// numeric project id or an "owner/project" path; Path may hold directories.
type GitLabFileRef struct {
	Project, Package, Version, Path string
}

// GitLabProject resolves a GitLab project id (a number, or an
// "owner/project" path) and returns the project, its owner and the actor's
// role on it. A missing project and one the actor may not see are both
// ErrProjectNotFound.
func (s *Service) GitLabProject(ctx context.Context, a *Actor, id string) (*Project, *Owner, Role, error) {
	p, owner, err := s.lookupProject(ctx, id)
	if err != nil {
		return nil, nil, AccessNone, err
	}
	role, err := s.projectRole(ctx, a, p, owner)
	if err != nil {
		return nil, nil, AccessNone, err
	}
	if role == AccessNone {
		return nil, nil, AccessNone, ErrProjectNotFound
	}
	return p, owner, role, nil
}

func (s *Service) lookupProject(ctx context.Context, id string) (*Project, *Owner, error) {
	var p *Project
	var err error
	if n, perr := strconv.ParseInt(id, 10, 64); perr == nil {
		p, err = s.store.ProjectByID(ctx, n)
	} else if ownerName, name, ok := strings.Cut(id, "/"); ok {
		var o *Owner
		if o, err = s.store.OwnerByName(ctx, ownerName); err == nil {
			p, err = s.store.ProjectByName(ctx, o.ID, name)
		}
	} else {
		return nil, nil, ErrProjectNotFound
	}
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrProjectNotFound
	} else if err != nil {
		return nil, nil, fmt.Errorf("look up project: %w", err)
	}
	owner, err := s.store.OwnerByID(ctx, p.OwnerID)
	if err != nil {
		return nil, nil, fmt.Errorf("look up project owner: %w", err)
	}
	return p, owner, nil
}

// projectRole is the actor's role on a project: its role on the owner,
// with the project's effective visibility in place of the owner's; a
// deploy or job token adds its own grant on the projects it covers, and
// nothing else.
func (s *Service) projectRole(ctx context.Context, a *Actor, p *Project, owner *Owner) (Role, error) {
	o := *owner
	o.Visibility = p.EffectiveVisibility(owner)
	if a != nil && a.ProjectToken != nil {
		role := AccessNone
		if o.Visibility == Public {
			role = AccessRead
		}
		t := a.ProjectToken
		if t.OwnerID == p.OwnerID && (t.ProjectID == 0 || t.ProjectID == p.ID) {
			if t.Scopes.Has(ScopeWritePackage) {
				role = max(role, AccessWrite)
			} else if t.Scopes.Has(ScopeReadPackage) {
				role = max(role, AccessRead)
			}
		}
		return role, nil
	}
	return s.Access(ctx, a, &o)
}

// need checks that role reaches want and the token's scope allows it:
// ErrUnauthenticated for an anonymous actor, ErrForbidden otherwise.
func need(a *Actor, role, want Role) error {
	scope := ScopeReadPackage
	if want >= AccessWrite {
		scope = ScopeWritePackage
	}
	if err := requireScope(a, scope); err != nil {
		return err
	}
	if role < want {
		if a.IsAnonymous() {
			return Errorf(ErrUnauthenticated, "authentication required")
		}
		if a.Publisher != nil {
			return errPublisherUploadOnly
		}
		return Errorf(ErrForbidden, "%s access to the project is required", want)
	}
	return nil
}

// GitLabUpload is how a generic file is uploaded.
type GitLabUpload struct {
	// Size is the declared length, -1 if unknown.
	Size int64
	// Status, when not empty, sets the package's status.
	Status PackageStatus
	// Expect and Deploy are as in FileUpload.
	Expect digest.Set
	Deploy bool
}

func (up GitLabUpload) file() FileUpload {
	return FileUpload{Size: up.Size, Expect: up.Expect, Deploy: up.Deploy}
}

// UploadGitLabFile stores a generic package file of a project with
// GitLab's rules: its validation, write (Developer) access, its size limit,
// and duplicate files allowed unless the owner's package settings forbid
// them (a refused duplicate is an *ExistingFileError wrapping
// ErrDuplicatePackage). up.Expect and up.Deploy are checked as PutFile
// does. ErrInvalid, ErrProjectNotFound, ErrUnauthenticated, ErrForbidden,
// ErrTooLarge, ErrDuplicatePackage, ErrNotFound (a deploy by checksum).
func (s *Service) UploadGitLabFile(ctx context.Context, a *Actor, ref GitLabFileRef, up GitLabUpload, body io.Reader) (*File, error) {
	if err := ValidateGitLabPackageName(ref.Package); err != nil {
		return nil, err
	}
	if err := ValidateGitLabVersion(ref.Version); err != nil {
		return nil, err
	}
	name, err := GitLabFileName(ref.Path)
	if err != nil {
		return nil, err
	}
	if up.Status != "" && up.Status != StatusDefault && up.Status != StatusHidden {
		return nil, Errorf(ErrInvalid, "status does not have a valid value")
	}
	p, owner, role, err := s.GitLabProject(ctx, a, ref.Project)
	if err != nil {
		return nil, err
	}
	if a != nil && a.Publisher != nil && role >= AccessRead {
		err = publisherUpload(a, owner, ref.Package)
	} else {
		err = need(a, role, AccessWrite)
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkMutable(ctx, a, owner, TypeGeneric, ref.Package, ref.Version, "adding or replacing a file"); err != nil {
		return nil, err
	}
	hard := int64(GitLabMaxFileSize)
	if m := s.opts.MaxUploadSize; m > 0 && m < hard {
		hard = m
	}
	if up.Size > hard {
		return nil, Errorf(ErrTooLarge, "File is too large")
	}
	quota, err := s.quotaFor(ctx, a, owner)
	if err != nil {
		return nil, err
	}
	lim, err := s.limitUpload(ctx, quota, owner.ID, VersionRef{Owner: owner.Name, Type: TypeGeneric, Package: ref.Package, Version: ref.Version}, up.Size, hard)
	if err != nil {
		return nil, err
	}
	if pkg, err := s.store.PackageByName(ctx, owner.ID, TypeGeneric, ref.Package); err == nil && pkg.ProjectID != 0 && pkg.ProjectID != p.ID {
		return nil, Errorf(ErrInvalid, "package %q belongs to another project of %s", ref.Package, owner.Name)
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("look up package: %w", err)
	}
	allow, err := s.duplicatesAllowed(ctx, owner.ID, ref.Package, ref.Version)
	if err != nil {
		return nil, err
	}
	if !allow {
		if f, err := s.store.FileByName(ctx, owner.ID, TypeGeneric, ref.Package, ref.Version, name); err == nil {
			return nil, s.existingFile(ctx, f, up.file(), body, func(bool) error { return ErrDuplicatePackage })
		} else if !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("look up file: %w", err)
		}
	}
	var deployed *Blob
	if up.Deploy {
		b, err := s.deploySource(ctx, a, up.file(), body)
		if err != nil {
			return nil, err
		}
		if b.Size > hard {
			return nil, Errorf(ErrTooLarge, "File is too large")
		}
		if lim, err = s.limitUpload(ctx, quota, owner.ID, VersionRef{Owner: owner.Name, Type: TypeGeneric, Package: ref.Package, Version: ref.Version}, b.Size, hard); err != nil {
			return nil, err
		}
		deployed, up.Size = &b, b.Size
	}
	c, err := s.obtain(ctx, up.file(), deployed, body, lim)
	if errors.Is(err, ErrTooLarge) {
		return nil, Errorf(ErrTooLarge, "File is too large")
	} else if err != nil {
		return nil, err
	}
	defer c.close()
	blob := c.blob
	creator := int64(0)
	if !a.IsAnonymous() {
		creator = a.User.ID
	}
	detail := uploadDetail(blob, "gitlab")
	detail["project"] = p.Name
	if deployed != nil {
		detail["deployed"] = true
	}
	ev := s.auditEvent(ctx, a, AuditFileUpload, owner.Name, fileTarget(TypeGeneric, ref.Package, ref.Version, name), detail)
	f, err := s.store.CreateGitLabFile(ctx, NewFile{
		OwnerID: owner.ID, Type: TypeGeneric, Package: ref.Package, Version: ref.Version, File: name,
		Blob: blob, Content: c.inline, CreatorID: creator, CreatedAt: blob.CreatedAt, ExchangeID: exchangeID(a), Quota: quota, Audit: &ev,
	}, GitLabFileOptions{ProjectID: p.ID, Status: up.Status, AllowDuplicate: allow}, c.commit)
	switch {
	case errors.Is(err, ErrQuotaTotalSize) || errors.Is(err, ErrQuotaTotalCount):
		return nil, err
	case errors.Is(err, ErrConflict):
		if other, lerr := s.store.FileByName(ctx, owner.ID, TypeGeneric, ref.Package, ref.Version, name); lerr == nil {
			return nil, &ExistingFileError{Err: ErrDuplicatePackage, Identical: other.Blob.SHA256 == blob.SHA256, SHA256: other.Blob.SHA256}
		}
		return nil, ErrDuplicatePackage
	case errors.Is(err, ErrInvalid):
		return nil, err
	case errors.Is(err, ErrNotFound) && deployed != nil:
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("record file: %w", err)
	}
	c.recorded(ctx)
	s.notifyEvents()
	return f, nil
}

// duplicatesAllowed applies GitLab's generic duplicate setting: the
// exception regex, matched against the package name or the version,
// reverses the setting.
func (s *Service) duplicatesAllowed(ctx context.Context, ownerID int64, name, version string) (bool, error) {
	ps, err := s.store.PackageSettings(ctx, ownerID)
	if err != nil {
		return false, fmt.Errorf("read package settings: %w", err)
	}
	allow, err := DuplicatesAllowed(ps, name, version)
	if err != nil {
		return false, fmt.Errorf("package settings of owner %d: %w", ownerID, err)
	}
	return allow, nil
}

// DuplicatesAllowed applies an owner's generic duplicate settings to a
// package name and version: the exception regex (RE2, so matching takes
// linear time), matched against either, reverses the setting. It fails only
// for a regex that does not compile, which SetPackageSettings refuses.
func DuplicatesAllowed(ps *PackageSettings, name, version string) (bool, error) {
	allow := ps.GenericDuplicatesAllowed
	if ps.GenericDuplicateExceptionRegex != "" {
		re, err := regexp.Compile(ps.GenericDuplicateExceptionRegex)
		if err != nil {
			return false, err
		}
		if re.MatchString(name) || re.MatchString(version) {
			allow = !allow
		}
	}
	return allow, nil
}

// OpenGitLabFile returns the newest file of that path in a project's
// generic package, and its content; the caller closes it. The download is
// recorded as the package's last download in the background.
// ErrProjectNotFound, ErrPackageNotFound, ErrPackageFileNotFound,
// ErrUnauthenticated, ErrForbidden, ErrInvalid.
func (s *Service) OpenGitLabFile(ctx context.Context, a *Actor, ref GitLabFileRef) (*File, BlobReader, error) {
	f, err := s.gitlabFile(ctx, a, ref)
	if err != nil {
		return nil, nil, err
	}
	return s.openGitLabDownload(ctx, f)
}

// openGitLabDownload opens a file's content for a GitLab download and
// records the download as its package's last.
func (s *Service) openGitLabDownload(ctx context.Context, f *File) (*File, BlobReader, error) {
	r, err := s.openBlob(ctx, f)
	if err != nil {
		return nil, nil, fmt.Errorf("open blob %s of file %d: %w", f.Blob.SHA256, f.ID, errors.Join(err, errors.New("blob missing")))
	}
	s.noteDownload(f.VersionID)
	return f, r, nil
}

// OpenGitLabPackageFile returns a project's package file by id and its
// content (GitLab 18.4's GET
// /projects/:id/packages/package_files/:package_file_id/download), any
// upload of a name, not only the newest; the caller closes it. It needs read
// access, as the Packages API; a file of a hidden package is not found, as
// the package is not. The download is recorded as the package's last.
// ErrProjectNotFound, ErrPackageFileNotFound, ErrForbidden.
func (s *Service) OpenGitLabPackageFile(ctx context.Context, a *Actor, project string, fileID int64) (*File, BlobReader, error) {
	if fileID < 1 {
		return nil, nil, ErrPackageFileNotFound
	}
	if _, _, role, err := s.GitLabProject(ctx, a, project); err != nil {
		return nil, nil, err
	} else if err := need(a, role, AccessRead); err != nil {
		return nil, nil, err
	}
	f, err := s.store.FileByID(ctx, fileID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrPackageFileNotFound
	} else if err != nil {
		return nil, nil, fmt.Errorf("look up file: %w", err)
	}
	if _, _, err := s.gitlabPackage(ctx, a, project, f.VersionID, AccessRead); errors.Is(err, ErrPackageNotFound) {
		return nil, nil, ErrPackageFileNotFound
	} else if err != nil {
		return nil, nil, err
	}
	return s.openGitLabDownload(ctx, f)
}

// GitLabFileLink is OpenGitLabFile for blob stores that link downloads
// (see FileLink): the URL is "" when the service does not link, or the
// blob is kept inline.
func (s *Service) GitLabFileLink(ctx context.Context, a *Actor, ref GitLabFileRef) (*File, string, error) {
	f, err := s.gitlabFile(ctx, a, ref)
	if err != nil {
		return nil, "", err
	}
	if !s.LinksDownloads() {
		return f, "", nil
	}
	if inline, err := s.keptInline(ctx, f); err != nil || inline {
		return f, "", err
	}
	if err := s.checkLinked(ctx, f); err != nil {
		return nil, "", err
	}
	url, err := s.blobs.(BlobLinker).PresignGet(ctx, f.Blob.SHA256, s.opts.LinkExpiry, f.Name)
	if err != nil {
		return nil, "", fmt.Errorf("link blob %s: %w", f.Blob.SHA256, err)
	}
	s.noteDownload(f.VersionID)
	return f, url, nil
}

func (s *Service) gitlabFile(ctx context.Context, a *Actor, ref GitLabFileRef) (*File, error) {
	if err := ValidateGitLabPackageName(ref.Package); err != nil {
		return nil, err
	}
	if err := ValidateGitLabVersion(ref.Version); err != nil {
		return nil, err
	}
	name, err := GitLabFileName(ref.Path)
	if err != nil {
		return nil, err
	}
	p, owner, role, err := s.GitLabProject(ctx, a, ref.Project)
	if err != nil {
		return nil, err
	}
	if err := need(a, role, AccessRead); err != nil {
		return nil, err
	}
	pkg, err := s.store.PackageByName(ctx, owner.ID, TypeGeneric, ref.Package)
	if errors.Is(err, ErrNotFound) || err == nil && pkg.ProjectID != p.ID {
		return nil, ErrPackageNotFound
	} else if err != nil {
		return nil, fmt.Errorf("look up package: %w", err)
	}
	f, err := s.store.FileByName(ctx, owner.ID, TypeGeneric, ref.Package, ref.Version, name)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrPackageFileNotFound
	} else if err != nil {
		return nil, fmt.Errorf("look up file: %w", err)
	}
	return f, nil
}

// GitLabListQuery is a Packages API listing: of a project (Project set) or
// of a group (Group set: an owner's numeric id or name).
type GitLabListQuery struct {
	Project, Group string
	// Query's OwnerID, ProjectID and PublicOnly are set by the service.
	Query GitLabPackageQuery
}

// GitLabPackagePage is a page of a Packages API listing.
type GitLabPackagePage struct {
	Owner    *Owner
	Packages []*GitLabPackage
	Total    int64
	// Deletable tells, by project id, whether the actor may delete the
	// packages of that project (GitLab's _links.delete_api_path).
	Deletable map[int64]bool
}

// ListGitLabPackages lists a project's or a group's packages. A group
// listing shows the projects the actor may see: all of them for members,
// public ones for others. ErrProjectNotFound, ErrGroupNotFound,
// ErrForbidden, ErrInvalid.
func (s *Service) ListGitLabPackages(ctx context.Context, a *Actor, lq GitLabListQuery) (*GitLabPackagePage, error) {
	q := lq.Query
	if q.Limit < 0 || q.Offset < 0 {
		return nil, Errorf(ErrInvalid, "page size and offset must not be negative")
	}
	if q.Status != "" && q.Status != StatusDefault && q.Status != StatusHidden {
		return nil, Errorf(ErrInvalid, "status does not have a valid value")
	}
	switch q.OrderBy {
	case "", OrderCreatedAt, OrderName, OrderVersion, OrderType:
	default:
		return nil, Errorf(ErrInvalid, "order_by does not have a valid value")
	}
	var owner *Owner
	if lq.Project != "" {
		p, o, role, err := s.GitLabProject(ctx, a, lq.Project)
		if err != nil {
			return nil, err
		}
		if err := need(a, role, AccessRead); err != nil {
			return nil, err
		}
		owner, q.OwnerID, q.ProjectID = o, o.ID, p.ID
	} else {
		o, err := s.gitlabGroup(ctx, a, lq.Group)
		if err != nil {
			return nil, err
		}
		if err := requireScope(a, ScopeReadPackage); err != nil {
			return nil, err
		}
		private := *o
		private.Visibility = Private
		role, err := s.Access(ctx, a, &private)
		if err != nil {
			return nil, err
		}
		owner, q.OwnerID, q.PublicOnly = o, o.ID, role == AccessNone
		if a != nil && a.ProjectToken != nil {
			q.PublicOnly = true
			if t := a.ProjectToken; t.OwnerID == o.ID && t.ProjectID == 0 {
				q.PublicOnly = false
			}
		}
	}
	pkgs, total, err := s.store.SearchGitLabPackages(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("search packages: %w", err)
	}
	deletable, err := s.deletableProjects(ctx, a, owner, pkgs)
	if err != nil {
		return nil, err
	}
	return &GitLabPackagePage{Owner: owner, Packages: pkgs, Total: total, Deletable: deletable}, nil
}

// deletableProjects tells, for each project of pkgs, whether a may delete
// its packages (GitLab's can_destroy(:package): Maintainer, with a token
// that may write).
func (s *Service) deletableProjects(ctx context.Context, a *Actor, owner *Owner, pkgs []*GitLabPackage) (map[int64]bool, error) {
	out := map[int64]bool{}
	for _, gp := range pkgs {
		p := gp.Project
		if p == nil {
			continue
		}
		if _, done := out[p.ID]; done {
			continue
		}
		role, err := s.projectRole(ctx, a, p, owner)
		if err != nil {
			return nil, err
		}
		out[p.ID] = !a.IsAnonymous() && need(a, role, AccessAdmin) == nil
	}
	return out, nil
}

// GitLabPackageDetail is a package as GitLab's GET
// /projects/:id/packages/:package_id shows it.
type GitLabPackageDetail struct {
	*GitLabPackage
	// Versions are the package's other versions, GitLab's `versions`
	// (Package#versions: the project's other packages of that name and
	// type that are not hidden), by version.
	Versions []*GitLabPackage
	// CanDelete tells whether the actor may delete it: GitLab shows
	// _links.delete_api_path only then.
	CanDelete bool
}

// GitLabPackageWithVersions returns a project's package with its other
// versions and whether the actor may delete it. ErrProjectNotFound,
// ErrPackageNotFound, ErrForbidden.
func (s *Service) GitLabPackageWithVersions(ctx context.Context, a *Actor, project string, id int64) (*GitLabPackageDetail, error) {
	gp, owner, err := s.gitlabPackage(ctx, a, project, id, AccessRead)
	if err != nil {
		return nil, err
	}
	pkgs, _, err := s.store.SearchGitLabPackages(ctx, GitLabPackageQuery{
		OwnerID: owner.ID, ProjectID: gp.Package.ProjectID, Type: gp.Package.Type, Name: gp.Package.Name, OrderBy: OrderVersion,
	})
	if err != nil {
		return nil, fmt.Errorf("search versions: %w", err)
	}
	d := &GitLabPackageDetail{GitLabPackage: gp}
	for _, v := range pkgs {
		// The search matches names containing the name.
		if v.Version.ID != gp.Version.ID && strings.EqualFold(v.Package.Name, gp.Package.Name) {
			d.Versions = append(d.Versions, v)
		}
	}
	deletable, err := s.deletableProjects(ctx, a, owner, []*GitLabPackage{gp})
	if err != nil {
		return nil, err
	}
	d.CanDelete = gp.Project != nil && deletable[gp.Project.ID]
	return d, nil
}

// GitLabGroup returns the owner a GitLab group id names (its numeric id or
// its name) if the actor may see it. ErrGroupNotFound.
func (s *Service) GitLabGroup(ctx context.Context, a *Actor, id string) (*Owner, error) {
	return s.gitlabGroup(ctx, a, id)
}

func (s *Service) gitlabGroup(ctx context.Context, a *Actor, id string) (*Owner, error) {
	var o *Owner
	var err error
	if n, perr := strconv.ParseInt(id, 10, 64); perr == nil {
		o, err = s.store.OwnerByID(ctx, n)
	} else {
		o, err = s.store.OwnerByName(ctx, id)
	}
	if errors.Is(err, ErrNotFound) {
		return nil, ErrGroupNotFound
	} else if err != nil {
		return nil, fmt.Errorf("look up group: %w", err)
	}
	role := AccessNone
	if a != nil && a.ProjectToken != nil {
		if o.Visibility == Public || a.ProjectToken.OwnerID == o.ID {
			role = AccessRead
		}
	} else if role, err = s.Access(ctx, a, o); err != nil {
		return nil, err
	}
	if role == AccessNone {
		return nil, ErrGroupNotFound
	}
	return o, nil
}

// GitLabPackage returns a project's package by id. Hidden packages are not
// found, as in GitLab. ErrProjectNotFound, ErrPackageNotFound,
// ErrForbidden.
func (s *Service) GitLabPackage(ctx context.Context, a *Actor, project string, id int64) (*GitLabPackage, error) {
	gp, _, err := s.gitlabPackage(ctx, a, project, id, AccessRead)
	return gp, err
}

func (s *Service) gitlabPackage(ctx context.Context, a *Actor, project string, id int64, want Role) (*GitLabPackage, *Owner, error) {
	p, owner, role, err := s.GitLabProject(ctx, a, project)
	if err != nil {
		return nil, nil, err
	}
	if err := need(a, role, want); err != nil {
		return nil, nil, err
	}
	gp, err := s.store.GitLabPackageByID(ctx, id)
	if errors.Is(err, ErrNotFound) || err == nil && (gp.Package.ProjectID != p.ID || gp.Status == StatusHidden && want == AccessRead) {
		return nil, nil, ErrPackageNotFound
	} else if err != nil {
		return nil, nil, fmt.Errorf("look up package: %w", err)
	}
	return gp, owner, nil
}

// GitLabPackageFiles returns the files of a project's package, every
// upload of a name included, oldest first. ErrProjectNotFound,
// ErrPackageNotFound, ErrForbidden.
func (s *Service) GitLabPackageFiles(ctx context.Context, a *Actor, project string, id int64) ([]*File, error) {
	gp, err := s.GitLabPackage(ctx, a, project, id)
	if err != nil {
		return nil, err
	}
	files, err := s.store.ListFiles(ctx, gp.Version.ID)
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

// DeleteGitLabPackage deletes a project's package (a depot version) with
// its files. It needs admin (Maintainer) access. ErrProjectNotFound,
// ErrPackageNotFound, ErrUnauthenticated, ErrForbidden.
func (s *Service) DeleteGitLabPackage(ctx context.Context, a *Actor, project string, id int64) error {
	gp, owner, err := s.gitlabPackage(ctx, a, project, id, AccessAdmin)
	if err != nil {
		return err
	}
	if err := s.checkMutable(ctx, a, owner, gp.Package.Type, gp.Package.Name, gp.Version.Version, "deleting the package"); err != nil {
		return err
	}
	err = s.store.DeleteVersion(ctx, owner.ID, gp.Package.Type, gp.Package.Name, gp.Version.Version, a.User.ID, s.removeBlob)
	if errors.Is(err, ErrNotFound) {
		return ErrPackageNotFound
	}
	s.notifyEvents()
	if err == nil {
		s.audit(ctx, a, AuditVersionDelete, owner.Name, fileTarget(gp.Package.Type, gp.Package.Name, gp.Version.Version), map[string]any{"api": "gitlab"})
	}
	return err
}

// DeleteGitLabPackageFile deletes one file of a project's package; when it
// was the newest of its name, the one before it is downloaded again. It
// needs admin (Maintainer) access. ErrProjectNotFound, ErrPackageNotFound,
// ErrPackageFileNotFound, ErrUnauthenticated, ErrForbidden.
func (s *Service) DeleteGitLabPackageFile(ctx context.Context, a *Actor, project string, id, fileID int64) error {
	gp, owner, err := s.gitlabPackage(ctx, a, project, id, AccessAdmin)
	if err != nil {
		return err
	}
	if err := s.checkMutable(ctx, a, owner, gp.Package.Type, gp.Package.Name, gp.Version.Version, "deleting a file"); err != nil {
		return err
	}
	f, err := s.store.FileByID(ctx, fileID)
	if errors.Is(err, ErrNotFound) || err == nil && f.VersionID != gp.Version.ID {
		return ErrPackageFileNotFound
	} else if err != nil {
		return fmt.Errorf("look up file: %w", err)
	}
	if err := s.store.DeleteFileByID(ctx, fileID, a.User.ID, s.removeBlob); errors.Is(err, ErrNotFound) {
		return ErrPackageFileNotFound
	} else if err != nil {
		return err
	}
	s.notifyEvents()
	s.audit(ctx, a, AuditFileDelete, owner.Name, fileTarget(gp.Package.Type, gp.Package.Name, gp.Version.Version, f.Name),
		map[string]any{"api": "gitlab", "file_id": fileID})
	return nil
}

// SetPackageSettings sets an owner's generic duplicate settings (an admin
// command). ErrNotFound, ErrInvalid for a regex that does not compile.
func (s *Service) SetPackageSettings(ctx context.Context, owner string, allowDuplicates bool, exceptionRegex string) error {
	if _, err := regexp.Compile(exceptionRegex); err != nil {
		return Errorf(ErrInvalid, "invalid exception regex: %v", err)
	}
	o, err := s.store.OwnerByName(ctx, owner)
	if errors.Is(err, ErrNotFound) {
		return Errorf(ErrNotFound, "owner %q not found", owner)
	} else if err != nil {
		return err
	}
	if err := s.store.SetPackageSettings(ctx, &PackageSettings{OwnerID: o.ID, GenericDuplicatesAllowed: allowDuplicates, GenericDuplicateExceptionRegex: exceptionRegex}); err != nil {
		return err
	}
	s.audit(ctx, nil, AuditPackageSettingsSet, o.Name, "generic", map[string]any{"duplicates_allowed": allowDuplicates, "exception_regex": exceptionRegex})
	return nil
}

// PackageSettings returns an owner's package settings. ErrNotFound.
func (s *Service) PackageSettings(ctx context.Context, owner string) (*PackageSettings, error) {
	o, err := s.store.OwnerByName(ctx, owner)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "owner %q not found", owner)
	} else if err != nil {
		return nil, err
	}
	return s.store.PackageSettings(ctx, o.ID)
}
