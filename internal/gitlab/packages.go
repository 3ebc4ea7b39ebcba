package gitlab

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

// generic answers PUT, GET and HEAD of a generic package file.
func (h *Handler) generic(w http.ResponseWriter, r *http.Request, a *depot.Actor, p genericPath) error {
	if p.Resolve || p.Archive != "" {
		return h.genericOwn(w, r, a, p)
	}
	if err := depot.ValidateGitLabPackageName(p.Package); err != nil {
		return invalidParam("package_name")
	}
	if err := depot.ValidateGitLabVersion(p.Version); err != nil {
		return invalidParam("package_version")
	}
	if _, err := depot.GitLabFileName(p.Path); err != nil {
		return invalidParam("file_name")
	}
	ref := depot.GitLabFileRef{Project: p.Project, Package: p.Package, Version: p.Version, Path: p.Path}
	switch r.Method {
	case http.MethodPut:
		q := r.URL.Query()
		status := depot.PackageStatus(q.Get("status"))
		if q.Has("status") && status != depot.StatusDefault && status != depot.StatusHidden {
			return paramError{"status does not have a valid value"}
		}
		sel := q.Get("select")
		if q.Has("select") && sel != "package_file" {
			return paramError{"select does not have a valid value"}
		}
		if h.opts.Resumable.Requested(r) {
			return h.opts.Resumable.Create(w, r, depot.DialectGitLab, a, depot.NewUploadTarget{
				Owner: p.Project, Package: p.Package, Version: p.Version, File: p.Path, Status: string(status)})
		}
		release, err := h.opts.Uploads.Acquire(r)
		if err != nil {
			return err
		}
		defer release()
		expect, deploy, err := httpapi.UploadChecks(r, false)
		if err != nil {
			return err
		}
		up := depot.GitLabUpload{Size: r.ContentLength, Status: status, Expect: expect, Deploy: deploy}
		f, err := h.svc.UploadGitLabFile(r.Context(), a, ref, up, r.Body)
		if err != nil {
			return err
		}
		if sel == "package_file" {
			// The md5 and sha1 of a large upload are computed right after
			// it is stored: wait for them rather than show them empty.
			if err := h.svc.CompleteDigests(r.Context(), &f.Blob); err != nil {
				return err
			}
			httpapi.WriteJSON(w, http.StatusOK, toUploadedFile(f))
			return nil
		}
		httpapi.WriteJSON(w, http.StatusCreated, map[string]string{"message": "201 Created"})
	case http.MethodGet, http.MethodHead:
		if r.Method == http.MethodGet && h.svc.LinksDownloads() {
			f, link, err := h.svc.GitLabFileLink(r.Context(), a, ref)
			if err != nil {
				return err
			}
			if link != "" {
				h.svc.CountDownload(f)
				httpapi.RedirectFile(w, r, f, link)
				return nil
			}
			// A blob kept inline has no URL: served here.
		}
		f, content, err := h.svc.OpenGitLabFile(r.Context(), a, ref)
		if err != nil {
			return err
		}
		defer content.Close()
		if r.Method == http.MethodGet {
			h.svc.CountDownload(f)
		}
		serveGitLabFile(w, r, f, content)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT")
		httpapi.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "405 Method Not Allowed"})
	}
	return nil
}

// genericOwn answers depot's own generic routes: latest and range
// downloads (a 302 to the resolved version's URL) and version archives.
func (h *Handler) genericOwn(w http.ResponseWriter, r *http.Request, a *depot.Actor, p genericPath) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpapi.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "405 Method Not Allowed"})
		return nil
	}
	if !p.Resolve {
		vc, err := h.svc.OpenGitLabVersion(r.Context(), a, p.Project, p.Package, p.Version)
		if err != nil {
			return err
		}
		httpapi.ServeArchive(w, r, h.log, vc, p.Archive)
		return nil
	}
	if err := depot.ValidateGitLabPackageName(p.Package); err != nil {
		return invalidParam("package_name")
	}
	if _, err := depot.GitLabFileName(p.Path); p.Archive == "" && err != nil {
		return invalidParam("file_name")
	}
	sel, err := httpapi.ParseRange(p.Range)
	if err != nil {
		return err
	}
	pv, err := h.svc.ResolveGitLabVersion(r.Context(), a, p.Project, p.Package, sel)
	if err != nil {
		return err
	}
	loc := genericPath{Project: p.Project, Package: p.Package, Version: pv.Version.Version, Path: p.Path, Archive: p.Archive}.escaped()
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	httpapi.RedirectResolved(w, r, pv, loc)
	return nil
}

// apiLinks is GitLab's Package _links.
type apiLinks struct {
	WebPath       string `json:"web_path"`
	DeleteAPIPath string `json:"delete_api_path,omitempty"`
}

// apiPackage is GitLab's API::Entities::Package.
type apiPackage struct {
	ID               int64      `json:"id"`
	Name             string     `json:"name"`
	Version          string     `json:"version"`
	PackageType      string     `json:"package_type"`
	Status           string     `json:"status"`
	Links            apiLinks   `json:"_links"`
	CreatedAt        time.Time  `json:"created_at"`
	LastDownloadedAt *time.Time `json:"last_downloaded_at"`
	ProjectID        int64      `json:"project_id,omitempty"`
	ProjectPath      string     `json:"project_path,omitempty"`
	Tags             []string   `json:"tags"`
	Pipelines        []any      `json:"pipelines,omitempty"`
	// Versions, the package's other versions, appear on a single package
	// (GitLab: unless opts[:collection]), never in listings.
	Versions *[]apiPackageVersion `json:"versions,omitempty"`
}

// apiPackageVersion is GitLab's API::Entities::PackageVersion.
type apiPackageVersion struct {
	ID        int64     `json:"id"`
	Version   string    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	Tags      []string  `json:"tags"`
}

// apiPackageFile is GitLab's API::Entities::PackageFile. GitLab leaves
// md5 and sha1 empty for generic files; depot fills them.
type apiPackageFile struct {
	ID         int64     `json:"id"`
	PackageID  int64     `json:"package_id"`
	CreatedAt  time.Time `json:"created_at"`
	FileName   string    `json:"file_name"`
	Size       int64     `json:"size"`
	FileMD5    string    `json:"file_md5"`
	FileSHA1   string    `json:"file_sha1"`
	FileSHA256 string    `json:"file_sha256"`
	Pipelines  []any     `json:"pipelines"`
}

// apiUploadedFile is the package file GitLab answers a generic upload with
// when asked for select=package_file.
type apiUploadedFile struct {
	ID         int64     `json:"id"`
	PackageID  int64     `json:"package_id"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	Size       int64     `json:"size"`
	FileStore  int       `json:"file_store"`
	FileMD5    string    `json:"file_md5"`
	FileSHA1   string    `json:"file_sha1"`
	FileName   string    `json:"file_name"`
	FileSHA256 string    `json:"file_sha256"`
	File       struct {
		URL string `json:"url"`
	} `json:"file"`
}

func toFile(f *depot.File) apiPackageFile {
	return apiPackageFile{
		ID: f.ID, PackageID: f.VersionID, CreatedAt: f.CreatedAt, FileName: f.Name, Size: f.Blob.Size,
		FileMD5: f.Blob.MD5, FileSHA1: f.Blob.SHA1, FileSHA256: f.Blob.SHA256, Pipelines: []any{},
	}
}

func toUploadedFile(f *depot.File) apiUploadedFile {
	out := apiUploadedFile{
		ID: f.ID, PackageID: f.VersionID, CreatedAt: f.CreatedAt, UpdatedAt: f.CreatedAt, Size: f.Blob.Size,
		FileStore: 1, FileMD5: f.Blob.MD5, FileSHA1: f.Blob.SHA1, FileName: f.Name, FileSHA256: f.Blob.SHA256,
	}
	out.File.URL = f.Name
	return out
}

func projectPath(p *depot.Project) string { return p.OwnerName + "/" + p.Name }

// toPackage is GitLab's Package entity; delete_api_path only for callers
// who may delete it (GitLab's can_destroy(:package)).
func (h *Handler) toPackage(base string, gp *depot.GitLabPackage, withProject, canDelete bool) apiPackage {
	out := apiPackage{
		ID: gp.Version.ID, Name: gp.Package.Name, Version: gp.Version.Version, PackageType: string(gp.Package.Type),
		Status: string(gp.Status), CreatedAt: gp.Version.CreatedAt, LastDownloadedAt: gp.LastDownloadedAt, Tags: []string{},
	}
	if p := gp.Project; p != nil {
		out.Links.WebPath = fmt.Sprintf("/%s/-/packages/%d", projectPath(p), gp.Version.ID)
		if canDelete {
			out.Links.DeleteAPIPath = fmt.Sprintf("%s/api/v4/projects/%d/packages/%d", base, p.ID, gp.Version.ID)
		}
		if withProject {
			out.ProjectID, out.ProjectPath = p.ID, projectPath(p)
		}
	}
	return out
}

// Paging defaults: GitLab's.
const (
	DefaultPerPage = 20
	MaxPerPage     = 100
	maxPage        = 1 << 30
)

// pageParams reads GitLab's page and per_page: page from 1, per_page
// defaulting to 20 and capped at 100. Values that are not integers are
// parameter errors.
func pageParams(r *http.Request) (page, perPage int, err error) {
	page, perPage = 1, DefaultPerPage
	q := r.URL.Query()
	if v := q.Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil {
			return 0, 0, invalidParam("page")
		}
	}
	if v := q.Get("per_page"); v != "" {
		if perPage, err = strconv.Atoi(v); err != nil {
			return 0, 0, invalidParam("per_page")
		}
	}
	page = min(max(page, 1), maxPage)
	if perPage < 1 {
		perPage = DefaultPerPage
	}
	return page, min(perPage, MaxPerPage), nil
}

// setPageHeaders sets GitLab's offset pagination headers.
func (h *Handler) setPageHeaders(w http.ResponseWriter, r *http.Request, page, perPage int, total int64) {
	pages := int((total + int64(perPage) - 1) / int64(perPage))
	pages = max(pages, 1)
	hdr := w.Header()
	hdr.Set("X-Total", strconv.FormatInt(total, 10))
	hdr.Set("X-Total-Pages", strconv.Itoa(pages))
	hdr.Set("X-Page", strconv.Itoa(page))
	hdr.Set("X-Per-Page", strconv.Itoa(perPage))
	next, prev := "", ""
	if page < pages {
		next = strconv.Itoa(page + 1)
	}
	if page > 1 {
		prev = strconv.Itoa(min(page-1, pages))
	}
	hdr.Set("X-Next-Page", next)
	hdr.Set("X-Prev-Page", prev)
	link := func(p int, rel string) string {
		u := *r.URL
		q := u.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = q.Encode()
		return fmt.Sprintf("<%s%s>; rel=%q", h.baseURL(r), u.RequestURI(), rel)
	}
	var links []string
	if prev != "" {
		links = append(links, link(page-1, "prev"))
	}
	if next != "" {
		links = append(links, link(page+1, "next"))
	}
	links = append(links, link(1, "first"), link(pages, "last"))
	hdr.Set("Link", strings.Join(links, ", "))
}

// gitlabTypes are the package_type values GitLab accepts; depot holds only
// generic packages, so the others select nothing.
var gitlabTypes = map[string]bool{
	"conan": true, "maven": true, "npm": true, "pypi": true, "composer": true, "nuget": true, "helm": true,
	"terraform_module": true, "golang": true, "generic": true, "debian": true, "rubygems": true, "ml_model": true,
}

// gitlabStatuses are the status values GitLab accepts; depot uses default
// and hidden, so the others select nothing.
var gitlabStatuses = map[string]bool{
	"default": true, "hidden": true, "processing": true, "error": true, "pending_destruction": true, "deprecated": true,
}

// listQuery reads the Packages API listing parameters.
func listQuery(r *http.Request, group bool) (depot.GitLabPackageQuery, int, int, error) {
	var q depot.GitLabPackageQuery
	page, perPage, err := pageParams(r)
	if err != nil {
		return q, 0, 0, err
	}
	v := r.URL.Query()
	switch ob := v.Get("order_by"); ob {
	case "", "created_at", "name", "version", "type":
		q.OrderBy = depot.GitLabOrder(ob)
	case "project_path":
		if !group {
			return q, 0, 0, paramError{"order_by does not have a valid value"}
		}
		q.OrderBy = depot.OrderCreatedAt
	default:
		return q, 0, 0, paramError{"order_by does not have a valid value"}
	}
	switch v.Get("sort") {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		return q, 0, 0, paramError{"sort does not have a valid value"}
	}
	if t := v.Get("package_type"); t != "" {
		if !gitlabTypes[t] {
			return q, 0, 0, paramError{"package_type does not have a valid value"}
		}
		q.Type = depot.PackageType(t)
	}
	if s := v.Get("status"); s != "" {
		if !gitlabStatuses[s] {
			return q, 0, 0, paramError{"status does not have a valid value"}
		}
		q.Status = depot.PackageStatus(s)
	}
	for _, b := range []string{"include_versionless", "exclude_subgroups"} {
		if s := v.Get(b); s != "" && !isGrapeBool(s) {
			return q, 0, 0, invalidParam(b)
		}
	}
	q.Name = v.Get("package_name")
	q.Version = v.Get("package_version")
	q.Limit, q.Offset = perPage, (page-1)*perPage
	return q, page, perPage, nil
}

func (h *Handler) listProjectPackages(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	return h.listPackages(w, r, a, depot.GitLabListQuery{Project: r.PathValue("id")})
}

func (h *Handler) listGroupPackages(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	return h.listPackages(w, r, a, depot.GitLabListQuery{Group: r.PathValue("id")})
}

func (h *Handler) listPackages(w http.ResponseWriter, r *http.Request, a *depot.Actor, lq depot.GitLabListQuery) error {
	group := lq.Group != ""
	q, page, perPage, err := listQuery(r, group)
	if err != nil {
		return err
	}
	lq.Query = q
	res, err := h.svc.ListGitLabPackages(r.Context(), a, lq)
	if err != nil {
		return err
	}
	out := make([]apiPackage, 0, len(res.Packages))
	for _, gp := range res.Packages {
		out = append(out, h.toPackage(h.baseURL(r), gp, group, gp.Project != nil && res.Deletable[gp.Project.ID]))
	}
	h.setPageHeaders(w, r, page, perPage, res.Total)
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// isGrapeBool reports whether s is a value GitLab's Grape Boolean params
// take (dry-types' Params::Bool): true, false, 1, 0, t, f, yes, no, y, n,
// on, off, in any case.
func isGrapeBool(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "1", "0", "t", "f", "yes", "no", "y", "n", "on", "off":
		return true
	}
	return false
}

// pathID reads an integer id from the path: not an integer is 400
// ("<name> is invalid", Grape's type check); an integer that names nothing,
// 0 or negative, is notFound, as GitLab's find answers it.
func pathID(r *http.Request, name string, notFound error) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil {
		return 0, invalidParam(name)
	}
	if id < 1 {
		return 0, notFound
	}
	return id, nil
}

func (h *Handler) getPackage(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	id, err := pathID(r, "package_id", depot.ErrPackageNotFound)
	if err != nil {
		return err
	}
	d, err := h.svc.GitLabPackageWithVersions(r.Context(), a, r.PathValue("id"), id)
	if err != nil {
		return err
	}
	out := h.toPackage(h.baseURL(r), d.GitLabPackage, false, d.CanDelete)
	versions := make([]apiPackageVersion, 0, len(d.Versions))
	for _, v := range d.Versions {
		versions = append(versions, apiPackageVersion{ID: v.Version.ID, Version: v.Version.Version, CreatedAt: v.Version.CreatedAt, Tags: []string{}})
	}
	out.Versions = &versions
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// fileOrder reads the package files listing's order_by (id, file_name,
// created_at; default id) and sort (asc, desc; default asc), as GitLab's
// package_files API.
func fileOrder(r *http.Request) (func(a, b *depot.File) int, error) {
	v := r.URL.Query()
	var by func(a, b *depot.File) int
	switch v.Get("order_by") {
	case "", "id":
		by = func(a, b *depot.File) int { return cmp.Compare(a.ID, b.ID) }
	case "file_name":
		by = func(a, b *depot.File) int { return cmp.Or(strings.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) }
	case "created_at":
		by = func(a, b *depot.File) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID)) }
	default:
		return nil, paramError{"order_by does not have a valid value"}
	}
	switch v.Get("sort") {
	case "", "asc":
		return by, nil
	case "desc":
		return func(a, b *depot.File) int { return by(b, a) }, nil
	}
	return nil, paramError{"sort does not have a valid value"}
}

// downloadPackageFile answers GET
// /projects/:id/packages/package_files/:package_file_id/download (GitLab
// 18.4): any upload of a file by its id, as the generic download serves it.
func (h *Handler) downloadPackageFile(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	id, err := pathID(r, "file_id", depot.ErrPackageFileNotFound)
	if err != nil {
		return err
	}
	f, content, err := h.svc.OpenGitLabPackageFile(r.Context(), a, r.PathValue("id"), id)
	if err != nil {
		return err
	}
	defer content.Close()
	if r.Method == http.MethodGet {
		h.svc.CountDownload(f)
	}
	serveGitLabFile(w, r, f, content)
	return nil
}

// serveGitLabFile serves a file's bytes, named after the file without its
// directories, as GitLab names downloads.
func serveGitLabFile(w http.ResponseWriter, r *http.Request, f *depot.File, content depot.BlobReader) {
	shown := *f
	if i := strings.LastIndex(shown.Name, "%2F"); i >= 0 {
		shown.Name = shown.Name[i+3:]
	}
	httpapi.ServeFile(w, r, &shown, content)
}

func (h *Handler) listPackageFiles(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	id, err := pathID(r, "package_id", depot.ErrPackageNotFound)
	if err != nil {
		return err
	}
	page, perPage, err := pageParams(r)
	if err != nil {
		return err
	}
	order, err := fileOrder(r)
	if err != nil {
		return err
	}
	files, err := h.svc.GitLabPackageFiles(r.Context(), a, r.PathValue("id"), id)
	if err != nil {
		return err
	}
	slices.SortStableFunc(files, order)
	start := min((page-1)*perPage, len(files))
	out := make([]apiPackageFile, 0, perPage)
	for _, f := range files[start:min(start+perPage, len(files))] {
		out = append(out, toFile(f))
	}
	h.setPageHeaders(w, r, page, perPage, int64(len(files)))
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) deletePackage(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	id, err := pathID(r, "package_id", depot.ErrPackageNotFound)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteGitLabPackage(r.Context(), a, r.PathValue("id"), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) deletePackageFile(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	id, err := pathID(r, "package_id", depot.ErrPackageNotFound)
	if err != nil {
		return err
	}
	fileID, err := pathID(r, "file_id", depot.ErrPackageFileNotFound)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteGitLabPackageFile(r.Context(), a, r.PathValue("id"), id, fileID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// webURL is a project's or namespace's page address.
func (h *Handler) webURL(r *http.Request, parts ...string) string {
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return h.baseURL(r) + "/" + strings.Join(parts, "/")
}
