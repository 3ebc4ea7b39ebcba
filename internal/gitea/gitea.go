// Package gitea serves depot through the Gitea/Forgejo generic packages API:
//
//	PUT    /api/packages/{owner}/generic/{name}/{version}/{file}  201
//	       (digests checked: see httpapi.UploadChecks; 409 with X-Depot-Identical)
//	GET    /api/packages/{owner}/generic/{name}/{version}/{file}  200, 206 with Range
//	HEAD   /api/packages/{owner}/generic/{name}/{version}/{file}
//	DELETE /api/packages/{owner}/generic/{name}/{version}/{file}  204
//	DELETE /api/packages/{owner}/generic/{name}/{version}         204
//
// Paths are parsed here from the raw (escaped) URL path rather than by
// http.ServeMux, which would answer a redirect to a cleaned path where a
// client sent a file named ".." and deserves a 400.
package gitea

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

// Prefix is the path prefix this package serves.
const Prefix = "/api/packages/"

// Options configure a Handler.
type Options struct {
	// Uploads, when not nil, bounds the uploads in progress.
	Uploads *httpapi.UploadLimiter
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
}

// ParsePath parses an escaped URL path of the form
// /api/packages/{owner}/{type}/{name}/{version}[/{file}]. Each segment is
// unescaped on its own, so "%2F" inside a segment stays inside it (and is
// then refused by validation). ErrNotFound when the path has another shape.
func ParsePath(escaped string) (Path, error) {
	rest, ok := strings.CutPrefix(escaped, Prefix)
	if !ok {
		return Path{}, errNoRoute
	}
	segs := strings.Split(rest, "/")
	if len(segs) != 4 && len(segs) != 5 {
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
	p := Path{Owner: segs[0], Type: segs[1], Package: segs[2], Version: segs[3]}
	if len(segs) == 5 {
		p.File = segs[4]
	}
	return p, nil
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
	ref := depot.FileRef{Owner: p.Owner, Type: depot.TypeGeneric, Package: p.Package, Version: p.Version, File: p.File}
	var err error
	switch r.Method {
	case http.MethodPut:
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
