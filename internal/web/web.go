// Package web is depot's browser UI: server-rendered pages (html/template)
// over the same domain service as the APIs, with sessions in the metadata
// store, CSRF tokens on every form, and assets embedded in the binary.
// Browsing works without JavaScript; a small script adds copy buttons and
// confirmations.
package web

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
	"github.com/dustin/go-humanize"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Cookie names.
const (
	sessionCookie = "depot_session"
	csrfCookie    = "depot_csrf"
)

// pageSize is the number of packages on a page of Explore or of an owner.
const pageSize = 20

// Options configure the UI.
type Options struct {
	// BaseURL is the server's public root URL, used in the commands the UI
	// shows; "" derives it from each request.
	BaseURL string
	// Version is shown in the footer.
	Version string
	// Limiter limits sign-in attempts; nil means a new one.
	Limiter *depot.SignInLimiter
}

// Handler serves the UI.
type Handler struct {
	svc   *depot.Service
	log   *slog.Logger
	opts  Options
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New returns the UI's handler. Its templates and assets are embedded, so
// a template that does not parse is a bug that every test catches: New
// panics on it, as template.Must does.
func New(svc *depot.Service, log *slog.Logger, opts Options) *Handler {
	if opts.Limiter == nil {
		opts.Limiter = depot.NewSignInLimiter(nil)
	}
	h := &Handler{svc: svc, log: log, opts: opts, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	funcs := template.FuncMap{
		"size":    func(n int64) string { return humanize.IBytes(uint64(max(n, 0))) },
		"when":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"ago":     func(t time.Time) string { return humanize.Time(t) },
		"pkgPath": pkgPath,
		"verPath": verPath,
		"esc":     url.PathEscape,
		"query":   url.QueryEscape,
		"add":     func(a, b int) int { return a + b },
	}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		h.pages[base] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, n))
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	cop := http.NewCrossOriginProtection()
	post := func(pattern string, fn func(http.ResponseWriter, *http.Request, *depot.Actor) error) {
		h.mux.Handle("POST "+pattern, cop.Handler(h.wrap(fn, true)))
	}
	get := func(pattern string, fn func(http.ResponseWriter, *http.Request, *depot.Actor) error) {
		h.mux.Handle("GET "+pattern, h.wrap(fn, false))
	}
	h.mux.Handle("GET /-/static/", http.StripPrefix("/-/static/", staticHandler(static)))
	get("/{$}", h.explore)
	get("/-/signin", h.signInForm)
	post("/-/signin", h.signIn)
	post("/-/signout", h.signOut)
	get("/-/settings/tokens", h.tokens)
	post("/-/settings/tokens", h.createToken)
	post("/-/settings/tokens/{id}/revoke", h.revokeToken)
	get("/-/admin", h.admin)
	post("/-/admin/users", h.adminCreateUser)
	post("/-/admin/users/{user}", h.adminSetFlags)
	get("/-/admin/webhooks", h.hooks)
	get("/-/admin/audit", h.audit)
	get("/{owner}/-/audit", h.audit)
	post("/-/admin/webhooks", h.createHook)
	get("/-/admin/webhooks/{id}", h.hook)
	post("/-/admin/webhooks/{id}", h.editHook)
	post("/-/admin/webhooks/{id}/delete", h.deleteHook)
	post("/-/admin/webhooks/{id}/deliveries/{delivery}/redeliver", h.redeliverHook)
	get("/{owner}/-/hooks", h.hooks)
	post("/{owner}/-/hooks", h.createHook)
	get("/{owner}/-/hooks/{id}", h.hook)
	post("/{owner}/-/hooks/{id}", h.editHook)
	post("/{owner}/-/hooks/{id}/delete", h.deleteHook)
	post("/{owner}/-/hooks/{id}/deliveries/{delivery}/redeliver", h.redeliverHook)
	get("/{owner}", h.owner)
	get("/{owner}/-/members", h.members)
	post("/{owner}/-/members", h.setMember)
	post("/{owner}/-/members/{user}/remove", h.removeMember)
	get("/{owner}/-/settings/trusted-publishers", h.publishers)
	post("/{owner}/-/settings/trusted-publishers", h.createPublisher)
	post("/{owner}/-/settings/trusted-publishers/{id}/delete", h.deletePublisher)
	get("/{owner}/-/settings/cleanup", h.cleanup)
	post("/{owner}/-/settings/cleanup", h.saveCleanupRule)
	post("/{owner}/-/settings/cleanup/run", h.runCleanup)
	post("/{owner}/-/settings/cleanup/{id}", h.saveCleanupRule)
	post("/{owner}/-/settings/cleanup/{id}/delete", h.deleteCleanupRule)
	get("/{owner}/-/settings", h.settings)
	post("/{owner}/-/settings/quota", h.setQuota)
	post("/{owner}/-/settings", h.setOwnerSettings)
	get("/{owner}/-/packages/generic/{name}", h.pkg)
	get("/{owner}/-/packages/generic/{name}/{version}", h.version)
	get("/{owner}/-/packages/generic/{name}/{version}/files/{file}", h.download)
	get("/{owner}/-/packages/generic/{name}/{version}/-/archive.zip", h.archive(httpapi.ArchiveZip))
	get("/{owner}/-/packages/generic/{name}/{version}/-/archive.tar.gz", h.archive(httpapi.ArchiveTarGz))
	post("/{owner}/-/packages/generic/{name}/{version}/delete", h.deleteVersion)
	post("/{owner}/-/packages/generic/{name}/{version}/files/{file}/delete", h.deleteFile)
	h.mux.Handle("/", h.wrap(func(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
		return depot.Errorf(depot.ErrNotFound, "there is no such page")
	}, false))
	return h
}

func pkgPath(owner, name string) string {
	return "/" + url.PathEscape(owner) + "/-/packages/generic/" + url.PathEscape(name)
}

func verPath(owner, name, version string) string {
	return pkgPath(owner, name) + "/" + url.PathEscape(version)
}

func staticHandler(static fs.FS) http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

// request is what every handler knows about its request.
type request struct {
	actor   *depot.Actor
	secret  string // the session's secret, "" when anonymous
	csrf    string
	flash   string
	nav     string
	baseURL string
}

type ctxKey struct{}

// wrap resolves the session, checks the CSRF token of unsafe requests, and
// writes the error fn returns as a friendly page.
func (h *Handler) wrap(fn func(http.ResponseWriter, *http.Request, *depot.Actor) error, unsafe bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := &request{baseURL: h.baseURL(r)}
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			a, _, err := h.svc.SessionActor(r.Context(), c.Value)
			switch {
			case err == nil:
				req.actor, req.secret = a, c.Value
			case errors.Is(err, depot.ErrUnauthenticated):
				h.clearCookie(w, r, sessionCookie)
			default:
				h.fail(w, r, req, err)
				return
			}
		}
		req.csrf = h.csrfToken(w, r, req)
		r = r.WithContext(contextWith(r, req))
		if unsafe {
			if err := r.ParseForm(); err != nil {
				h.fail(w, r, req, depot.Errorf(depot.ErrInvalid, "the form could not be read"))
				return
			}
			if !validCSRF(req.csrf, r.PostFormValue("csrf")) {
				h.fail(w, r, req, depot.Errorf(depot.ErrForbidden, "the form has expired or did not come from this site: reload the page and try again"))
				return
			}
		}
		if err := fn(w, r, req.actor); err != nil {
			h.fail(w, r, req, err)
		}
	})
}

func validCSRF(want, got string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// csrfToken returns the token forms must carry: derived from the session
// secret when signed in, else the value of a random cookie set here (the
// sign-in form's double-submit token).
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request, req *request) string {
	if req.secret != "" {
		m := hmac.New(sha256.New, []byte(req.secret))
		m.Write([]byte("depot-csrf"))
		return hex.EncodeToString(m.Sum(nil))
	}
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 64 {
		if _, err := hex.DecodeString(c.Value); err == nil {
			return c.Value
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return "" // a POST without the cookie cannot be valid
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return ""
	}
	v := hex.EncodeToString(raw)
	h.setCookie(w, r, csrfCookie, v, 0)
	return v
}

func (h *Handler) secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") || strings.HasPrefix(h.opts.BaseURL, "https://")
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.secure(r)}
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

func (h *Handler) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.secure(r)})
}

func (h *Handler) baseURL(r *http.Request) string {
	if h.opts.BaseURL != "" {
		return strings.TrimSuffix(h.opts.BaseURL, "/")
	}
	scheme := "http"
	if h.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// page is what every template receives.
type page struct {
	Title   string
	Actor   *depot.Actor
	CSRF    string
	Flash   string
	Nav     string
	Version string
	BaseURL string
	Data    any
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) error {
	req := fromContext(r)
	t := h.pages[name]
	var buf bytes.Buffer
	p := page{Title: title, Actor: req.actor, CSRF: req.csrf, Flash: req.flash, Nav: req.nav, Version: h.opts.Version, BaseURL: req.baseURL, Data: data}
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
	return nil
}

type errorData struct {
	Status  int
	Heading string
	Message string
	SignIn  bool
}

// fail writes err as a friendly page with the status the one table gives
// it; internal details go to the log only.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, req *request, err error) {
	status, msg := httpapi.Problem(r, h.log, err)
	if errors.Is(err, depot.ErrRateLimited) {
		status = http.StatusTooManyRequests
	}
	httpapi.ErrorHeaders(w, err)
	d := errorData{Status: status, Message: msg}
	switch status {
	case http.StatusNotFound:
		d.Heading = "Page not found"
		d.Message = "There is nothing here, or you may not see it."
	case http.StatusForbidden:
		d.Heading = "Not allowed"
	case http.StatusUnauthorized:
		d.Heading = "Sign in required"
		d.SignIn = true
	case http.StatusInternalServerError:
		d.Heading = "Something went wrong"
		d.Message = "The server could not answer. Try again later."
	case http.StatusInsufficientStorage:
		d.Heading = "Storage full"
	default:
		d.Heading = http.StatusText(status)
	}
	if fromContext(r) == nil {
		r = r.WithContext(contextWith(r, req))
	}
	if err := h.render(w, r, status, "error", d.Heading, d); err != nil {
		h.log.Error("render error page", "err", err)
		http.Error(w, msg, status)
	}
}

func clientKey(r *http.Request) string {
	if addr := depot.ClientAddr(r.Context()); addr != "" {
		return addr
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func pageNumber(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 || n > 1_000_000 {
		return 1
	}
	return n
}
