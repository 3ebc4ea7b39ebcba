// Package gitlab serves depot through GitLab's API dialect (/api/v4): the
// generic packages API, the Packages API of projects and groups, and the
// few account endpoints GitLab clients call first (version, user, project,
// group). It answers with GitLab's JSON shapes, status codes, error bodies
// ({"message": ...} and, for parameter errors, {"error": ...}) and offset
// pagination headers, so GitLab CI scripts and client libraries work
// against depot with only the base URL and the token changed.
//
// Every decision (access, roles, scopes, visibility, duplicates, limits) is
// depot.Service's; this package parses requests and shapes answers.
package gitlab

import (
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
	"github.com/depot-registry/depot/internal/resumable"
)

// Prefix is the path prefix this package serves.
const Prefix = "/api/v4/"

// GitLabVersion is the GitLab release whose API depot's answers follow;
// GET /api/v4/version reports it.
const GitLabVersion = "17.11.0"

// Options configure a Handler.
type Options struct {
	// BaseURL is the public root URL of the server; "" derives it from
	// each request's Host.
	BaseURL string
	// Version is depot's version, reported as the revision.
	Version string
	// Uploads, when not nil, bounds the uploads in progress.
	Uploads *httpapi.UploadLimiter
	// Resumable, when not nil, serves PUTs that ask for a resumable
	// upload (the IETF draft's Upload-Complete).
	Resumable *resumable.Handler
}

// Handler serves /api/v4.
type Handler struct {
	svc  *depot.Service
	log  *slog.Logger
	opts Options
	mux  *http.ServeMux
}

// New returns a Handler.
func New(svc *depot.Service, log *slog.Logger, opts Options) *Handler {
	h := &Handler{svc: svc, log: log, opts: opts, mux: http.NewServeMux()}
	h.routes()
	return h
}

// ServeHTTP implements http.Handler. Generic package paths are parsed from
// the raw path, as internal/gitea does, so that http.ServeMux does not
// answer a redirect where GitLab answers 400 (a file named "..").
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if gp, ok := parseGenericPath(r.URL.EscapedPath()); ok {
		h.serve(w, r, true, func(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
			return h.generic(w, r, a, gp)
		})
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) routes() {
	h.handle("GET /api/v4/version", h.version)
	h.handle("GET /api/v4/user", h.user)
	h.handle("GET /api/v4/projects/{id}", h.project)
	h.handle("GET /api/v4/groups/{id}", h.group)
	h.handle("GET /api/v4/projects/{id}/packages", h.listProjectPackages)
	h.handle("GET /api/v4/groups/{id}/packages", h.listGroupPackages)
	h.handle("GET /api/v4/projects/{id}/packages/{package_id}", h.getPackage)
	h.handle("DELETE /api/v4/projects/{id}/packages/{package_id}", h.deletePackage)
	h.handle("GET /api/v4/projects/{id}/packages/{package_id}/package_files", h.listPackageFiles)
	h.handle("DELETE /api/v4/projects/{id}/packages/{package_id}/package_files/{file_id}", h.deletePackageFile)
	h.handle("GET /api/v4/projects/{id}/packages/package_files/{file_id}/download", h.downloadPackageFile)
	h.handle("/api/v4/", func(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
		return errNoRoute
	})
}

var errNoRoute = depot.Errorf(depot.ErrNotFound, "404 Not Found")

type handlerFunc func(w http.ResponseWriter, r *http.Request, a *depot.Actor) error

func (h *Handler) handle(pattern string, fn handlerFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, false, fn) })
}

// serve authenticates the request, runs fn and writes its error in
// GitLab's shape. generic selects the generic packages API's answers.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, generic bool, fn handlerFunc) {
	a, err := h.svc.AuthenticateGitLab(r.Context(), credentials(r))
	if err == nil {
		err = fn(w, r, a)
	}
	if err != nil {
		h.writeError(w, r, a, generic, err)
	}
}

// credentials reads GitLab's ways of presenting a token: the PRIVATE-TOKEN,
// JOB-TOKEN and Deploy-Token headers (or the private_token, access_token and
// job_token query parameters), Authorization Bearer, and HTTP Basic with the
// token as password. A malformed Authorization header counts as none, as
// GitLab treats it.
func credentials(r *http.Request) depot.GitLabCredentials {
	q := r.URL.Query()
	first := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	c := depot.GitLabCredentials{
		PrivateToken: first(r.Header.Get("Private-Token"), q.Get("private_token"), q.Get("access_token")),
		JobToken:     first(r.Header.Get("Job-Token"), q.Get("job_token")),
		DeployToken:  r.Header.Get("Deploy-Token"),
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		c.Bearer = rest
	case "basic":
		if raw, err := base64.StdEncoding.DecodeString(rest); err == nil {
			if _, pass, ok := strings.Cut(string(raw), ":"); ok && pass != "" {
				c.Basic, c.Password = true, pass
			}
		}
	}
	return c
}

// paramError is a request parameter that fails GitLab's validation: GitLab
// answers 400 with {"error": "<param> is invalid"}.
type paramError struct{ msg string }

func (e paramError) Error() string { return e.msg }

func invalidParam(name string) error { return paramError{name + " is invalid"} }

// writeError writes err as GitLab does. Kinds map to statuses through
// httpapi's table; GitLab's exceptions are here: a refused duplicate and a
// too large file (over the hard limit or the owner's file limit) are 400;
// an owner over its size or version quota is 403 with the quota's message; on the generic packages API an anonymous request
// for a project it may not see is 401 (GitLab's authenticate_non_public).
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, a *depot.Actor, generic bool, err error) {
	var pe paramError
	if errors.As(err, &pe) {
		httpapi.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": pe.msg})
		return
	}
	status, msg := httpapi.Problem(r, h.log, err)
	switch {
	case errors.Is(err, depot.ErrDuplicatePackage):
		status, msg = http.StatusBadRequest, "400 Bad request - Duplicate package is not allowed"
	case errors.Is(err, depot.ErrTooLarge), errors.Is(err, depot.ErrQuotaTypeSize):
		status, msg = http.StatusBadRequest, "400 Bad request - File is too large"
	case errors.Is(err, depot.ErrQuotaTotalSize), errors.Is(err, depot.ErrQuotaTotalCount):
		// GitLab refuses uploads to a namespace over its storage limit
		// (a read-only namespace: the package policy denies creation).
		msg = "403 Forbidden - " + msg
	case generic && a.IsAnonymous() && errors.Is(err, depot.ErrProjectNotFound):
		status, msg = http.StatusUnauthorized, "401 Unauthorized"
	case errors.Is(err, depot.ErrProjectNotFound):
		msg = "404 Project Not Found"
	case errors.Is(err, depot.ErrGroupNotFound):
		msg = "404 Group Not Found"
	case errors.Is(err, depot.ErrNoVersionMatch):
		msg = "404 Not found - " + msg
	case errors.Is(err, depot.ErrPackageNotFound) && !generic:
		msg = "404 Package Not Found"
	case status == http.StatusNotFound && errors.Is(err, errNoRoute):
		msg = "404 Not Found"
	case status == http.StatusNotFound:
		msg = "404 Not found"
	case status == http.StatusUnauthorized:
		msg = "401 Unauthorized"
	case status == http.StatusForbidden:
		msg = "403 Forbidden"
	case status == http.StatusBadRequest:
		msg = "400 Bad request - " + msg
	case status == http.StatusConflict:
		msg = "409 Conflict - " + msg
	case status == http.StatusInternalServerError:
		msg = "500 Internal Server Error"
	case status == http.StatusInsufficientStorage, status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
		msg = strconv.Itoa(status) + " " + http.StatusText(status) + " - " + msg
	}
	httpapi.ErrorHeaders(w, err)
	hdr := w.Header()
	if status == http.StatusUnauthorized {
		hdr.Set("WWW-Authenticate", httpapi.Realm)
	}
	hdr.Del("Content-Disposition")
	hdr.Del("ETag")
	hdr.Del("Last-Modified")
	// A refused duplicate keeps GitLab's exact body (X-Depot-Identical
	// says whether the content is the stored one); a digest mismatch has
	// no GitLab counterpart and carries depot's fields.
	if extra := httpapi.ErrorFields(err); extra != nil && !errors.Is(err, depot.ErrDuplicatePackage) {
		extra["message"] = msg
		httpapi.WriteJSON(w, status, extra)
		return
	}
	httpapi.WriteJSON(w, status, map[string]string{"message": msg})
}

// baseURL returns the server's public root URL without a trailing slash.
func (h *Handler) baseURL(r *http.Request) string {
	if h.opts.BaseURL != "" {
		return strings.TrimRight(h.opts.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// genericPath is a parsed generic package URL.
type genericPath struct {
	Project, Package, Version, Path string
	// Archive is set (and Path empty) for a version archive.
	Archive httpapi.ArchiveFormat
	// Resolve is set for a latest or range download, which has no Version:
	// Range is the range, "" for the latest.
	Resolve bool
	Range   string
}

// Literal path segments of depot's own generic routes. None can be a
// stored name of this dialect: GitLab's version rule has no '@', and its
// file rule refuses a path beginning with '@'.
const (
	segLatest = "@latest"
	segRange  = "@range"
	segPrefix = "@" // of @archive.zip and @archive.tar.gz
)

// parseGenericPath parses
// /api/v4/projects/{id}/packages/generic/{name}/{version}/{path...} from
// an escaped path, and depot's own shapes:
//
//	.../generic/{name}/{version}/@archive.zip (or @archive.tar.gz)
//	.../generic/{name}/@latest/{path...}
//	.../generic/{name}/@range/{range}/{path...}
//
// the last two also with @archive.zip for {path}. Each segment is
// unescaped on its own, so an id "alice%2Ftools" stays one segment.
func parseGenericPath(escaped string) (genericPath, bool) {
	rest, ok := strings.CutPrefix(escaped, Prefix+"projects/")
	if !ok {
		return genericPath{}, false
	}
	segs := strings.Split(rest, "/")
	if len(segs) < 6 || segs[1] != "packages" || segs[2] != "generic" {
		return genericPath{}, false
	}
	raw := slices.Clone(segs)
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			u = "\x00" // refused by validation
		}
		segs[i] = u
	}
	p := genericPath{Project: segs[0], Package: segs[3]}
	tail, rawTail := segs[5:], raw[5:]
	switch {
	case raw[4] == segLatest:
		p.Resolve = true
	case raw[4] == segRange && len(segs) >= 7:
		p.Resolve, p.Range, tail, rawTail = true, segs[5], segs[6:], raw[6:]
	default:
		p.Version = segs[4]
	}
	if len(rawTail) == 1 && strings.HasPrefix(rawTail[0], segPrefix) {
		if f, ok := httpapi.ParseArchiveFormat(strings.TrimPrefix(rawTail[0], segPrefix)); ok {
			p.Archive = f
			return p, true
		}
	}
	p.Path = strings.Join(tail, "/")
	return p, true
}

// escaped is the path's URL, each segment escaped (parseGenericPath's
// inverse). A name beginning with '@' has it escaped, so it never reads
// as one of the literals.
func (p genericPath) escaped() string {
	esc := func(s string) string {
		e := url.PathEscape(s)
		if strings.HasPrefix(e, "@") {
			e = "%40" + e[1:]
		}
		return e
	}
	segs := []string{url.PathEscape(p.Project), "packages", "generic", url.PathEscape(p.Package)}
	switch {
	case p.Resolve && p.Range == "":
		segs = append(segs, segLatest)
	case p.Resolve:
		segs = append(segs, segRange, url.PathEscape(p.Range))
	default:
		segs = append(segs, esc(p.Version))
	}
	if p.Archive != "" {
		segs = append(segs, segPrefix+string(p.Archive))
	} else {
		for i, s := range strings.Split(p.Path, "/") {
			if i == 0 {
				segs = append(segs, esc(s))
			} else {
				segs = append(segs, url.PathEscape(s))
			}
		}
	}
	return Prefix + "projects/" + strings.Join(segs, "/")
}

// Authenticate implements resumable.Dialect.
func (h *Handler) Authenticate(r *http.Request) (*depot.Actor, error) {
	return h.svc.AuthenticateGitLab(r.Context(), credentials(r))
}

// Commit implements resumable.Dialect: the upload's bytes are stored
// through UploadGitLabFile, as a PUT's body, and answered as its PUT
// (201 Created).
func (h *Handler) Commit(r *http.Request, a *depot.Actor, u *depot.ResumableUpload, body io.Reader) (func(http.ResponseWriter), error) {
	ref := depot.GitLabFileRef{Project: u.Owner, Package: u.Package, Version: u.Version, Path: u.File}
	if _, err := h.svc.UploadGitLabFile(r.Context(), a, ref, depot.GitLabUpload{Size: u.Offset, Status: depot.PackageStatus(u.Status)}, body); err != nil {
		return nil, err
	}
	return func(w http.ResponseWriter) {
		httpapi.WriteJSON(w, http.StatusCreated, map[string]string{"message": "201 Created"})
	}, nil
}

// WriteError implements resumable.Dialect.
func (h *Handler) WriteError(w http.ResponseWriter, r *http.Request, a *depot.Actor, err error) {
	h.writeError(w, r, a, true, err)
}
