// Package giteaapi serves the part of Gitea's and Forgejo's /api/v1 that a
// package registry needs: package listings and management, the signed-in
// user and user profiles, access tokens, organizations and their members,
// and user administration (listing, creation, admin and disabled flags). It answers with Gitea's JSON shapes, status
// codes, error bodies and pagination headers, so the Gitea Go SDK and
// Forgejo/Gitea automation work against depot unchanged.
//
// Every decision (who may see what, token scopes, the latest-version rule)
// is depot.Service's; this package parses requests and shapes answers.
package giteaapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

// Prefix is the path prefix this package serves.
const Prefix = "/api/v1/"

// GiteaVersion is the Gitea release whose v1 API depot's answers follow; the
// version endpoint reports it (with depot's own version as build metadata)
// because the Gitea SDK gates features on it.
const GiteaVersion = "1.24.0"

// Paging defaults: Gitea's DEFAULT_PAGING_NUM and MAX_RESPONSE_ITEMS.
const (
	DefaultPageSize = 30
	MaxPageSize     = 50
)

// Options configure a Handler.
type Options struct {
	// BaseURL is the public root URL of the server (e.g.
	// https://depot.example.com); "" derives it from each request's Host.
	BaseURL string
	// Version is depot's version, reported as build metadata.
	Version string
	// PayloadHost is the host of the links in webhook payloads when
	// BaseURL is "" (there is no request to take it from).
	PayloadHost string
}

// Handler serves /api/v1.
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

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// override is where Gitea answers an error kind on a route with another
// status than depot's table: 422 for a request body that fails validation
// or names a taken account, 400 for a taken token name.
type override struct {
	kind   error
	status int
}

var (
	// unprocessable is Gitea's answer to invalid or conflicting account data.
	unprocessable = []override{{depot.ErrInvalid, http.StatusUnprocessableEntity}, {depot.ErrConflict, http.StatusUnprocessableEntity}}
	// badTokenRequest is Gitea's answer to a taken or invalid token name.
	badTokenRequest = []override{{depot.ErrConflict, http.StatusBadRequest}}
)

// handlerFunc serves one route for an authenticated (or anonymous) actor.
type handlerFunc func(w http.ResponseWriter, r *http.Request, a *depot.Actor) error

// errTokenRequired is Gitea's answer (reqToken) to an anonymous request on
// a route group that needs a sign-in.
var errTokenRequired = depot.Errorf(depot.ErrUnauthenticated, "token is required")

// tokenRequired serves fn to signed-in callers only, as Gitea 1.24-1.26's
// reqToken() does for its whole /api/v1/packages/{owner} group: anonymous
// callers get 401 "token is required" (with a challenge) before any owner or
// package is looked up, the same for a public, a private and a missing
// owner. depot keeps it for the package routes that change something;
// reads are challenged only where the owner is not visible (challenged).
func tokenRequired(fn handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
		if a.IsAnonymous() {
			return errTokenRequired
		}
		return fn(w, r, a)
	}
}

// challenged serves fn, answering an anonymous caller whose owner is
// missing or private with a 401 challenge (httpapi.ChallengeAnonymous):
// public packages stay readable without a token, as on every other route
// of depot.
func challenged(fn handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
		err := fn(w, r, a)
		if c := httpapi.ChallengeAnonymous(a, err); c != err {
			return errTokenRequired // Gitea's message for the challenge
		}
		return err
	}
}

// handle registers fn for pattern: it authenticates the request, runs fn,
// and writes fn's error in Gitea's shape.
func (h *Handler) handle(pattern string, fn handlerFunc, overrides ...override) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		err := func() error {
			creds, err := httpapi.Credentials(r)
			if err != nil {
				return err
			}
			a, err := h.svc.Authenticate(r.Context(), creds)
			if err != nil {
				return err
			}
			return fn(w, r, a)
		}()
		if err != nil {
			h.writeError(w, r, err, overrides)
		}
	})
}

// apiError is Gitea's error body.
type apiError struct {
	Message string `json:"message"`
	URL     string `json:"url"`
}

// errBody marks a request body that could not be decoded, or that Gitea's
// binding (or depot, for what it cannot do) refuses: Gitea answers those
// with 422.
type errBody struct{ err error }

func (e errBody) Error() string { return e.err.Error() }

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error, overrides []override) {
	status, msg := httpapi.Problem(r, h.log, err)
	var eb errBody
	if errors.As(err, &eb) {
		status, msg = http.StatusUnprocessableEntity, eb.Error()
	}
	for _, o := range overrides {
		if errors.Is(err, o.kind) {
			status = o.status
			break
		}
	}
	httpapi.ErrorHeaders(w, err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", httpapi.Realm)
	}
	httpapi.WriteJSON(w, status, apiError{Message: msg, URL: h.appURL(r) + "api/swagger"})
}

// appURL returns the server's public root URL with a trailing slash, as
// Gitea's AppURL.
func (h *Handler) appURL(r *http.Request) string {
	if h.opts.BaseURL != "" {
		return strings.TrimRight(h.opts.BaseURL, "/") + "/"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/"
}

// noReplyDomain is the domain of the placeholder addresses shown instead of
// hidden emails, as Gitea's NO_REPLY_ADDRESS defaults to noreply.DOMAIN.
func (h *Handler) noReplyDomain(r *http.Request) string {
	u, err := url.Parse(h.appURL(r))
	if err != nil || u.Host == "" {
		return "noreply.localhost"
	}
	host := u.Host
	if hst, _, err := net.SplitHostPort(host); err == nil {
		host = hst
	}
	return "noreply." + host
}

// decode reads a JSON request body of at most 1 MiB into v.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errBody{errors.New("request body is empty: a JSON object is required")}
		}
		return errBody{fmt.Errorf("invalid JSON body: %v", err)}
	}
	return nil
}

// listOptions reads Gitea's page and limit parameters: page from 1, limit
// defaulting to DefaultPageSize and capped at MaxPageSize.
func listOptions(r *http.Request) (page, size int) {
	page, _ = strconv.Atoi(r.FormValue("page"))
	size, _ = strconv.Atoi(r.FormValue("limit"))
	if size <= 0 {
		size = DefaultPageSize
	} else if size > MaxPageSize {
		size = MaxPageSize
	}
	// A page far past any listing is empty; the cap keeps the offset from
	// overflowing.
	return min(max(page, 1), maxPage), size
}

const maxPage = 1 << 30

// setPageHeaders sets X-Total-Count and, as Gitea does, a Link header with
// next, last, first and prev pages (those that apply, in that order).
func (h *Handler) setPageHeaders(w http.ResponseWriter, r *http.Request, total int64, size int) {
	hdr := w.Header()
	hdr.Set("X-Total-Count", strconv.FormatInt(total, 10))
	hdr.Set("Access-Control-Expose-Headers", "X-Total-Count, Link")
	if links := pageLinks(h.appURL(r), r.URL, total, size); len(links) > 0 {
		hdr.Set("Link", strings.Join(links, ","))
	}
}

// pageLinks follows Gitea's paginator: the current page is clamped to the
// last; the last page of an empty list is 1.
func pageLinks(appURL string, cur *url.URL, total int64, size int) []string {
	current, _ := strconv.Atoi(cur.Query().Get("page"))
	current = max(current, 1)
	pages := int((total + int64(size) - 1) / int64(size))
	pages = max(pages, 1)
	current = min(current, pages)
	link := func(page int, rel string) string {
		u := *cur
		q := u.Query()
		q.Set("page", strconv.Itoa(page))
		u.RawQuery = q.Encode()
		return fmt.Sprintf("<%s%s>; rel=%q", appURL, strings.TrimPrefix(u.RequestURI(), "/"), rel)
	}
	hasNext := total > int64(current)*int64(size)
	isLast := total == 0 || total > int64(current-1)*int64(size) && !hasNext
	var links []string
	if hasNext {
		links = append(links, link(current+1, "next"))
	}
	if !isLast {
		links = append(links, link(pages, "last"))
	}
	if current != 1 {
		links = append(links, link(1, "first"))
	}
	if current > 1 {
		links = append(links, link(current-1, "prev"))
	}
	return links
}

// paginate returns the page of items that page and size select.
func paginate[T any](items []T, page, size int) []T {
	start := min((page-1)*size, len(items))
	return items[start:min(start+size, len(items))]
}

func (h *Handler) routes() {
	h.handle("GET /api/v1/version", h.version)

	h.handle("GET /api/v1/packages/{owner}", challenged(h.listPackages))
	h.handle("GET /api/v1/packages/{owner}/{type}/{name}", challenged(h.listPackageVersions))
	h.handle("DELETE /api/v1/packages/{owner}/{type}/{name}", tokenRequired(h.deleteWholePackage))
	h.handle("GET /api/v1/packages/{owner}/{type}/{name}/-/latest", challenged(h.latestPackage))
	h.handle("GET /api/v1/packages/{owner}/{type}/{name}/{version}", challenged(h.getPackage))
	h.handle("DELETE /api/v1/packages/{owner}/{type}/{name}/{version}", tokenRequired(h.deletePackage))
	h.handle("GET /api/v1/packages/{owner}/{type}/{name}/{version}/files", challenged(h.listPackageFiles))
	h.handle("POST /api/v1/packages/{owner}/{type}/{name}/-/link/{project}", tokenRequired(h.linkPackage))
	h.handle("POST /api/v1/packages/{owner}/{type}/{name}/-/unlink", tokenRequired(h.unlinkPackage))

	h.handle("GET /api/v1/user", h.me)
	h.handle("GET /api/v1/users/{username}", h.user)
	h.handle("GET /api/v1/users/{username}/tokens", h.listTokens)
	h.handle("POST /api/v1/users/{username}/tokens", h.createToken, badTokenRequest...)
	h.handle("DELETE /api/v1/users/{username}/tokens/{token}", h.deleteToken)
	h.handle("GET /api/v1/admin/users", h.adminListUsers)
	h.handle("POST /api/v1/admin/users", h.adminCreateUser, unprocessable...)
	h.handle("PATCH /api/v1/admin/users/{username}", h.adminEditUser)

	h.handle("GET /api/v1/user/orgs", h.myOrgs)
	h.handle("GET /api/v1/users/{username}/orgs", h.userOrgs)
	h.handle("GET /api/v1/orgs", h.orgs)
	h.handle("POST /api/v1/orgs", h.createOrg, unprocessable...)
	h.handle("GET /api/v1/orgs/{org}", h.org)
	h.handle("GET /api/v1/orgs/{org}/members", h.orgMembers)
	h.handle("GET /api/v1/orgs/{org}/public_members", h.publicOrgMembers)
	h.handle("GET /api/v1/orgs/{org}/public_members/{username}", h.checkPublicMember)
	h.handle("GET /api/v1/orgs/{org}/members/{username}", h.checkMember)
	h.handle("PUT /api/v1/orgs/{org}/members/{username}", h.setMember, override{depot.ErrInvalid, http.StatusUnprocessableEntity})
	h.handle("DELETE /api/v1/orgs/{org}/members/{username}", h.removeMember)

	h.hookRoutes()

	h.handle("/api/v1/", func(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
		return depot.Errorf(depot.ErrNotFound, "no such route")
	})
}

func (h *Handler) version(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	v := GiteaVersion
	if meta := strings.Map(versionMetaRune, h.opts.Version); meta != "" {
		v += "+depot." + meta
	}
	// What depot adds to the Gitea API, for clients that use it only
	// where offered (a Gitea server would take a deploy by checksum's
	// empty PUT for an empty file).
	w.Header().Set(httpapi.HeaderFeatures, httpapi.Features)
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"version": v})
	return nil
}

// versionMetaRune keeps the characters semantic-version build metadata
// allows and turns others into '-'.
func versionMetaRune(c rune) rune {
	switch {
	case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '.':
		return c
	}
	return '-'
}
