// Package gitea serves depot through the Gitea/Forgejo generic packages API:
//
//	PUT    /api/packages/{owner}/generic/{name}/{version}/{file}  201
//	       (digests checked: see httpapi.UploadChecks; 409 with X-Depot-Identical)
//	GET    /api/packages/{owner}/generic/{name}/{version}/{file}  200, 206 with Range
//	HEAD   /api/packages/{owner}/generic/{name}/{version}/{file}
//	DELETE /api/packages/{owner}/generic/{name}/{version}/{file}  204
//	DELETE /api/packages/{owner}/generic/{name}/{version}         204
//
// and depot's own, which no stored version or file can shadow (see
// ParsePath):
//
//	GET, HEAD /api/packages/{owner}/generic/{name}/{version}/-/archive.zip     200, the version as one archive
//	GET, HEAD /api/packages/{owner}/generic/{name}/{version}/-/archive.tar.gz
//	GET, HEAD /api/packages/{owner}/generic/{name}/-/latest/{file}             302 to the latest version's file
//	GET, HEAD /api/packages/{owner}/generic/{name}/-/range/{range}/{file}      302 to the highest version in range
//	          (either of the two with -/archive.zip or -/archive.tar.gz for {file})
//
// Paths are parsed here from the raw (escaped) URL path rather than by
// http.ServeMux, which would answer a redirect to a cleaned path where a
// client sent a file named ".." and deserves a 400.
package gitea

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
	"github.com/depot-registry/depot/internal/resumable"
)

// Prefix is the path prefix this package serves.
const Prefix = "/api/packages/"

// Options configure a Handler.
type Options struct {
	// Uploads, when not nil, bounds the uploads in progress.
	Uploads *httpapi.UploadLimiter
	// Resumable, when not nil, serves PUTs that ask for a resumable
	// upload (the IETF draft's Upload-Complete).
	Resumable *resumable.Handler
}

// Handler serves the Gitea generic packages routes.
type Handler struct {
	svc  *depot.Service
	log  *slog.Logger
	opts Options
}

// New returns a Handler.
func New(svc *depot.Service, log *slog.Logger, opts Options) *Handler {
	return &Handler{svc: svc, log: log, opts: opts}
}

var errNoRoute = depot.Errorf(depot.ErrNotFound, "no such route")

// Path is a parsed package URL path. File is empty for a version path.
type Path struct {
	Owner, Type, Package, Version, File string
	// Archive is set (and File empty) for a version archive.
	Archive httpapi.ArchiveFormat
	// Resolve is set for a latest or range download, which has no Version:
	// Range is the range, "" for the latest.
	Resolve bool
	Range   string
}

// ParsePath parses an escaped URL path of the form
// /api/packages/{owner}/{type}/{name}/{version}[/{file}], or one of the
// archive and resolve shapes. Each segment is unescaped on its own, so
// "%2F" inside a segment stays inside it (and is then refused by
// validation). ErrNotFound when the path has another shape.
//
// The archive and resolve shapes cannot collide with a stored version or
// file, which Gitea's API allows to be named almost anything ("-",
// "latest", "archive.zip"): a version or file path has exactly four or
// five segments, and no name holds a '/'. These have six to eight,
// recognised by the literal "-" segment at a fixed place: the fifth
// ({version}/-/archive.zip) or the fourth followed by "latest" or "range".
// The two places never overlap: in {name}/-/latest/..., the fifth segment
// is "latest", not "-".
func ParsePath(escaped string) (Path, error) {
	rest, ok := strings.CutPrefix(escaped, Prefix)
	if !ok {
		return Path{}, errNoRoute
	}
	segs := strings.Split(rest, "/")
	if len(segs) < 4 || len(segs) > 8 {
		return Path{}, errNoRoute
	}
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil {
			return Path{}, depot.Errorf(depot.ErrInvalid, "malformed escape in path segment %q", s)
		}
		if u == "" {
			return Path{}, errNoRoute
		}
		segs[i] = u
	}
	// The escaped literals: "%2D" is a name, not the route's "-".
	raw := strings.Split(rest, "/")
	lit := func(i int, want string) bool { return i < len(raw) && raw[i] == want }
	p := Path{Owner: segs[0], Type: segs[1], Package: segs[2]}
	var tail []string
	switch {
	case len(segs) <= 5:
		p.Version = segs[3]
		if len(segs) == 5 {
			p.File = segs[4]
		}
		return p, nil
	case lit(3, "-") && lit(4, "latest"):
		p.Resolve, tail = true, segs[5:]
	case lit(3, "-") && lit(4, "range") && len(segs) >= 7:
		p.Resolve, p.Range, tail = true, segs[5], segs[6:]
	default:
		p.Version, tail = segs[3], segs[4:]
		if len(tail) != 2 || !lit(4, "-") {
			return Path{}, errNoRoute
		}
	}
	// tail is {file} (resolve routes only) or -/archive.{zip,tar.gz}.
	switch {
	case len(tail) == 1 && p.Resolve:
		p.File = tail[0]
	case len(tail) == 2 && raw[len(raw)-2] == "-":
		f, ok := httpapi.ParseArchiveFormat(raw[len(raw)-1])
		if !ok {
			return Path{}, errNoRoute
		}
		p.Archive = f
	default:
		return Path{}, errNoRoute
	}
	return p, nil
}

// Escaped is the path's URL, each segment escaped (ParsePath's inverse).
func (p Path) Escaped() string {
	segs := []string{p.Owner, p.Type, p.Package}
	if p.Resolve {
		segs = append(segs, "-")
		if p.Range == "" {
			segs = append(segs, "latest")
		} else {
			segs = append(segs, "range", p.Range)
		}
	} else {
		segs = append(segs, p.Version)
	}
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	if p.File != "" {
		segs = append(segs, url.PathEscape(p.File))
	}
	if p.Archive != "" {
		segs = append(segs, "-", string(p.Archive))
	}
	return Prefix + strings.Join(segs, "/")
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		httpapi.WriteError(w, r, h.log, httpapi.Negotiated, err)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	p, err := ParsePath(r.URL.EscapedPath())
	if err != nil {
		return err
	}
	if p.Type != string(depot.TypeGeneric) {
		return depot.Errorf(depot.ErrNotFound, "package type %q is not supported", p.Type)
	}
	switch {
	case (p.Resolve || p.Archive != "") && r.Method != http.MethodGet && r.Method != http.MethodHead:
		httpapi.MethodNotAllowed(w, r, httpapi.Negotiated, "GET, HEAD")
		return nil
	case p.Resolve || p.Archive != "":
	case p.File == "" && r.Method != http.MethodDelete:
		httpapi.MethodNotAllowed(w, r, httpapi.Negotiated, "DELETE")
		return nil
	case p.File != "" && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPut && r.Method != http.MethodDelete:
		httpapi.MethodNotAllowed(w, r, httpapi.Negotiated, "GET, HEAD, PUT, DELETE")
		return nil
	}
	creds, err := httpapi.Credentials(r)
	if err != nil {
		return err
	}
	actor, err := h.svc.Authenticate(r.Context(), creds)
	if err != nil {
		return err
	}
	return httpapi.ChallengeAnonymous(actor, h.act(w, r, p, actor))
}

// act runs the request's operation for actor.
func (h *Handler) act(w http.ResponseWriter, r *http.Request, p Path, actor *depot.Actor) error {
	switch {
	case p.Resolve:
		return h.resolve(w, r, p, actor)
	case p.Archive != "":
		vc, err := h.svc.OpenVersion(r.Context(), actor, depot.VersionRef{Owner: p.Owner, Type: depot.TypeGeneric, Package: p.Package, Version: p.Version})
		if err != nil {
			return err
		}
		httpapi.ServeArchive(w, r, h.log, vc, p.Archive)
		return nil
	}
	ref := depot.FileRef{Owner: p.Owner, Type: depot.TypeGeneric, Package: p.Package, Version: p.Version, File: p.File}
	var err error
	switch r.Method {
	case http.MethodPut:
		if h.opts.Resumable.Requested(r) {
			return h.opts.Resumable.Create(w, r, depot.DialectGitea, actor, depot.NewUploadTarget{
				Owner: p.Owner, Package: p.Package, Version: p.Version, File: p.File})
		}
		release, err := h.opts.Uploads.Acquire(r)
		if err != nil {
			return err
		}
		defer release()
		expect, deploy, err := httpapi.UploadChecks(r, httpapi.IsMultipart(r))
		if err != nil {
			return err
		}
		body, size, err := httpapi.UploadBody(r)
		if err != nil {
			return err
		}
		up := depot.FileUpload{Size: size, Expect: expect, Deploy: deploy}
		if _, err := h.svc.PutFile(r.Context(), actor, ref, up, body); err != nil {
			return err
		}
		w.WriteHeader(http.StatusCreated)
	case http.MethodGet, http.MethodHead:
		if err := httpapi.Download(w, r, h.svc, actor, ref); err != nil {
			return err
		}
	case http.MethodDelete:
		if p.File == "" {
			err = h.svc.DeleteVersion(r.Context(), actor, depot.VersionRef{Owner: p.Owner, Type: depot.TypeGeneric, Package: p.Package, Version: p.Version})
		} else {
			err = h.svc.DeleteFile(r.Context(), actor, ref)
		}
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		return errors.New("unreachable: method checked above")
	}
	return nil
}

// resolve answers a latest or range download with a redirect to the
// resolved version's own URL (the same file, or the same archive).
func (h *Handler) resolve(w http.ResponseWriter, r *http.Request, p Path, actor *depot.Actor) error {
	sel, err := httpapi.ParseRange(p.Range)
	if err != nil {
		return err
	}
	if err := depot.ValidateFileName(p.File); p.File != "" && err != nil {
		return err
	}
	pv, err := h.svc.ResolveVersion(r.Context(), actor, p.Owner, depot.TypeGeneric, p.Package, sel)
	if err != nil {
		return err
	}
	to := Path{Owner: p.Owner, Type: p.Type, Package: p.Package, Version: pv.Version.Version, File: p.File, Archive: p.Archive}
	loc := to.Escaped()
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	httpapi.RedirectResolved(w, r, pv, loc)
	return nil
}

// Authenticate implements resumable.Dialect.
func (h *Handler) Authenticate(r *http.Request) (*depot.Actor, error) {
	creds, err := httpapi.Credentials(r)
	if err != nil {
		return nil, err
	}
	return h.svc.Authenticate(r.Context(), creds)
}

// Commit implements resumable.Dialect: the upload's bytes are stored
// through UploadFile, as a PUT's body, and answered 201.
func (h *Handler) Commit(r *http.Request, a *depot.Actor, u *depot.ResumableUpload, body io.Reader) (func(http.ResponseWriter), error) {
	ref := depot.FileRef{Owner: u.Owner, Type: depot.TypeGeneric, Package: u.Package, Version: u.Version, File: u.File}
	if _, err := h.svc.UploadFile(r.Context(), a, ref, u.Offset, body); err != nil {
		return nil, err
	}
	return func(w http.ResponseWriter) { w.WriteHeader(http.StatusCreated) }, nil
}

// WriteError implements resumable.Dialect.
func (h *Handler) WriteError(w http.ResponseWriter, r *http.Request, a *depot.Actor, err error) {
	if a != nil {
		err = httpapi.ChallengeAnonymous(a, err)
	}
	httpapi.WriteError(w, r, h.log, httpapi.Negotiated, err)
}
