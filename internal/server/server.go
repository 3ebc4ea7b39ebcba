// Package server composes depot's HTTP adapters into one handler: the API
// dialects (Gitea generic packages, Gitea v1, GitLab v4), the web UI, health
// checks, and the middleware every request passes.
package server

import (
	"crypto/subtle"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/depotapi"
	"github.com/depot-registry/depot/internal/gitea"
	"github.com/depot-registry/depot/internal/giteaapi"
	"github.com/depot-registry/depot/internal/gitlab"
	"github.com/depot-registry/depot/internal/httpapi"
	"github.com/depot-registry/depot/internal/resumable"
	"github.com/depot-registry/depot/internal/web"
)

// Options configure the handler.
type Options struct {
	// Version is reported by health and version endpoints.
	Version string
	// BaseURL is the server's public root URL for the links it writes; ""
	// derives it from each request.
	BaseURL string
	// Metrics, when not nil, counts every request.
	Metrics *httpapi.Metrics
	// MetricsHandler, when not nil, answers GET /metrics (Prometheus'
	// exposition format), as Gitea's [metrics] ENABLED does; with
	// MetricsToken set, only to requests with "Authorization: Bearer
	// <MetricsToken>", as Gitea's [metrics] TOKEN.
	MetricsHandler http.Handler
	MetricsToken   string
	// Uploads, when not nil, bounds the uploads in progress in both
	// dialects together.
	Uploads *httpapi.UploadLimiter
	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// telling a request's client address (httpapi.ClientAddr).
	TrustedProxies []netip.Prefix
}

// New returns depot's HTTP handler.
func New(svc *depot.Service, log *slog.Logger, opts Options) http.Handler {
	uploads := resumable.New(svc, log, resumable.Options{BaseURL: opts.BaseURL, Uploads: opts.Uploads})
	giteaAPI := gitea.New(svc, log, gitea.Options{Uploads: opts.Uploads, Resumable: uploads})
	gitlabAPI := gitlab.New(svc, log, gitlab.Options{BaseURL: opts.BaseURL, Version: opts.Version, Uploads: opts.Uploads, Resumable: uploads})
	uploads.Register(depot.DialectGitea, giteaAPI)
	uploads.Register(depot.DialectGitLab, gitlabAPI)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": opts.Version})
	})
	if opts.MetricsHandler != nil {
		mux.Handle("GET /metrics", metricsGuard(opts.MetricsToken, opts.MetricsHandler, log))
	}
	mux.Handle(giteaapi.Prefix, giteaapi.New(svc, log, giteaapi.Options{BaseURL: opts.BaseURL, Version: opts.Version}))
	mux.Handle(depotapi.Prefix, depotapi.New(svc, log))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, r, log, httpapi.JSON, depot.Errorf(depot.ErrNotFound, "no such route"))
	})
	mux.Handle("/", web.New(svc, log, web.Options{BaseURL: opts.BaseURL, Version: opts.Version}))
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Package paths bypass ServeMux, which would redirect paths holding
		// "." or ".." segments instead of letting the API refuse them.
		if strings.HasPrefix(r.URL.EscapedPath(), gitea.Prefix) {
			giteaAPI.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.EscapedPath(), resumable.Prefix) {
			uploads.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.EscapedPath(), gitlab.Prefix) {
			gitlabAPI.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	return httpapi.Logged(log, opts.Metrics, httpapi.WithClientAddr(opts.TrustedProxies, root))
}

// metricsGuard lets through only requests that carry the bearer token,
// when one is set.
func metricsGuard(token string, next http.Handler, log *slog.Logger) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="depot metrics"`)
			httpapi.WriteError(w, r, log, httpapi.JSON, depot.Errorf(depot.ErrUnauthenticated, "metrics need the metrics token as a bearer token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
