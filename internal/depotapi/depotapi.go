// Package depotapi serves depot's own JSON routes under /api/depot/, for
// what neither Gitea's nor GitLab's API has a route for:
//
//	POST   /api/depot/oidc/token                                   trade a CI job's OIDC ID token for a depot token
//	GET    /api/depot/owners/{owner}/trusted-publishers            an owner's trusted publishers
//	POST   /api/depot/owners/{owner}/trusted-publishers            add one
//	DELETE /api/depot/owners/{owner}/trusted-publishers/{id}       delete one
//	GET    /api/depot/owners/{owner}/trusted-publishers/-/exchanges  the recorded exchanges
//	GET    /api/depot/owners/{owner}/usage                         an owner's usage and limits
//	PUT    /api/depot/owners/{owner}/quota                         a site admin's override of them
//	GET    /api/depot/owners/{owner}/settings                      an owner's settings
//	PUT    /api/depot/owners/{owner}/settings                      changed by the owner's admins
//	GET    /api/depot/audit                                        the audit log (site admins)
//	GET    /api/depot/owners/{owner}/audit                         an owner's audit log (its admins)
//	GET    /api/depot/owners/{owner}/cleanup-rules                 an owner's cleanup rules (owner admins, site admins)
//	POST   /api/depot/owners/{owner}/cleanup-rules                 add one
//	GET    /api/depot/owners/{owner}/cleanup-rules/{id}            one rule
//	PUT    /api/depot/owners/{owner}/cleanup-rules/{id}            replace its fields
//	DELETE /api/depot/owners/{owner}/cleanup-rules/{id}            delete it
//	GET    /api/depot/owners/{owner}/cleanup-rules/{id}/preview    what the rule would delete now
//	POST   /api/depot/owners/{owner}/cleanup-rules/{id}/run        apply it now
//	GET    /api/depot/owners/{owner}/cleanup/preview               what every enabled rule would delete now
//	POST   /api/depot/owners/{owner}/cleanup/run                   apply them now
//
// Errors are {"message": "..."} with the status of httpapi's one table.
package depotapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

// Prefix is the path prefix this package serves.
const Prefix = "/api/depot/"

// maxBody bounds a request body: an ID token or a setting is a few KiB.
const maxBody = 64 << 10

// Handler serves the routes.
type Handler struct {
	svc *depot.Service
	log *slog.Logger
	mux *http.ServeMux
}

// New returns a Handler.
func New(svc *depot.Service, log *slog.Logger) *Handler {
	h := &Handler{svc: svc, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /api/depot/oidc/token", h.exchange)
	h.mux.HandleFunc("GET /api/depot/owners/{owner}/trusted-publishers", h.listPublishers)
	h.mux.HandleFunc("POST /api/depot/owners/{owner}/trusted-publishers", h.createPublisher)
	h.mux.HandleFunc("DELETE /api/depot/owners/{owner}/trusted-publishers/{id}", h.deletePublisher)
	h.mux.HandleFunc("GET /api/depot/owners/{owner}/trusted-publishers/-/exchanges", h.listExchanges)
	h.handle("GET /api/depot/owners/{owner}/usage", h.usage)
	h.handle("PUT /api/depot/owners/{owner}/quota", h.setQuota)
	h.handle("GET /api/depot/owners/{owner}/settings", h.settings)
	h.handle("PUT /api/depot/owners/{owner}/settings", h.setSettings)
	h.handle("GET /api/depot/audit", h.siteAudit)
	h.handle("GET /api/depot/owners/{owner}/audit", h.ownerAudit)
	h.handle("GET /api/depot/owners/{owner}/cleanup-rules", h.listCleanupRules)
	h.handle("POST /api/depot/owners/{owner}/cleanup-rules", h.createCleanupRule)
	h.handle("GET /api/depot/owners/{owner}/cleanup-rules/{id}", h.getCleanupRule)
	h.handle("PUT /api/depot/owners/{owner}/cleanup-rules/{id}", h.updateCleanupRule)
	h.handle("DELETE /api/depot/owners/{owner}/cleanup-rules/{id}", h.deleteCleanupRule)
	h.handle("GET /api/depot/owners/{owner}/cleanup-rules/{id}/preview", h.cleanup(false))
	h.handle("POST /api/depot/owners/{owner}/cleanup-rules/{id}/run", h.cleanup(true))
	h.handle("GET /api/depot/owners/{owner}/cleanup/preview", h.cleanup(false))
	h.handle("POST /api/depot/owners/{owner}/cleanup/run", h.cleanup(true))
	h.mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, depot.Errorf(depot.ErrNotFound, "no such route"))
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// handle registers fn for pattern, called with the authenticated actor.
func (h *Handler) handle(pattern string, fn func(http.ResponseWriter, *http.Request, *depot.Actor) error) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		a, err := h.actor(r)
		if err == nil {
			err = fn(w, r, a)
		}
		if err != nil {
			h.fail(w, r, err)
		}
	})
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, h.log, httpapi.JSON, err)
}

func (h *Handler) actor(r *http.Request) (*depot.Actor, error) {
	c, err := httpapi.Credentials(r)
	if err != nil {
		return nil, err
	}
	return h.svc.Authenticate(r.Context(), c)
}

// decode reads a JSON object of at most maxBody bytes, without unknown
// fields, into v; ErrInvalid.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); errors.Is(err, io.EOF) {
		return depot.Errorf(depot.ErrInvalid, "request body is empty: a JSON object is required")
	} else if err != nil {
		return depot.Errorf(depot.ErrInvalid, "invalid JSON body: %v", err)
	}
	return nil
}
