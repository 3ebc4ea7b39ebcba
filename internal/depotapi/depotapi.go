// Package depotapi serves depot's own API under /api/depot/: what neither
// Gitea's nor GitLab's API has a route for. Today that is trusted
// publishing: the exchange of a CI job's OIDC ID token for a short-lived
// depot token, and the management of an owner's trusted publishers.
// Errors are {"message": "..."} with the status of httpapi's one table.
package depotapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

// Prefix is where the API lives.
const Prefix = "/api/depot/"

// maxBody bounds a request body: an ID token is a few KiB.
const maxBody = 64 << 10

type handler struct {
	svc *depot.Service
	log *slog.Logger
}

// New returns the handler of Prefix.
func New(svc *depot.Service, log *slog.Logger) http.Handler {
	h := &handler{svc: svc, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/depot/oidc/token", h.exchange)
	mux.HandleFunc("GET /api/depot/owners/{owner}/trusted-publishers", h.listPublishers)
	mux.HandleFunc("POST /api/depot/owners/{owner}/trusted-publishers", h.createPublisher)
	mux.HandleFunc("DELETE /api/depot/owners/{owner}/trusted-publishers/{id}", h.deletePublisher)
	mux.HandleFunc("GET /api/depot/owners/{owner}/trusted-publishers/-/exchanges", h.listExchanges)
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, depot.Errorf(depot.ErrNotFound, "no such route"))
	})
	return mux
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, h.log, httpapi.JSON, err)
}

// decode reads a JSON object of at most maxBody bytes into v; ErrInvalid.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); errors.Is(err, io.EOF) {
		return depot.Errorf(depot.ErrInvalid, "request body is empty: a JSON object is required")
	} else if err != nil {
		return depot.Errorf(depot.ErrInvalid, "invalid JSON body: %v", err)
	}
	return nil
}

type exchangeRequest struct {
	Token string `json:"token"`
	// Owner picks among owners whose publishers all match the token.
	Owner string `json:"owner,omitempty"`
}

type exchangeResponse struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expires_at"`
}

// exchange trades an ID token for a depot token.
func (h *handler) exchange(w http.ResponseWriter, r *http.Request) {
	var req exchangeRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if req.Token == "" {
		h.fail(w, r, depot.Errorf(depot.ErrInvalid, `"token" is required: the CI job's OIDC ID token`))
		return
	}
	m, err := h.svc.ExchangeIDToken(r.Context(), req.Token, req.Owner)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, http.StatusOK, exchangeResponse{Token: m.Token, ExpiresAt: m.ExpiresAt.UTC().Format(time.RFC3339)})
}

func (h *handler) actor(r *http.Request) (*depot.Actor, error) {
	c, err := httpapi.Credentials(r)
	if err != nil {
		return nil, err
	}
	return h.svc.Authenticate(r.Context(), c)
}

// Publisher is a trusted publisher as the API shows it.
type Publisher struct {
	ID       int64             `json:"id"`
	Owner    string            `json:"owner"`
	Issuer   string            `json:"issuer"`
	Audience string            `json:"audience"`
	Claims   map[string]string `json:"claims"`
	Packages []string          `json:"packages"`
	Created  string            `json:"created_at"`
}

func toPublisher(p *depot.TrustedPublisher) Publisher {
	out := Publisher{ID: p.ID, Owner: p.OwnerName, Issuer: p.Issuer, Audience: p.Audience, Claims: map[string]string{},
		Packages: p.Packages, Created: p.CreatedAt.UTC().Format(time.RFC3339)}
	for _, c := range p.Claims {
		out.Claims[c.Name] = c.Pattern
	}
	if out.Packages == nil {
		out.Packages = []string{}
	}
	return out
}

// settings returns the owner's publisher settings for the request's actor,
// or writes the error and returns false.
func (h *handler) settings(w http.ResponseWriter, r *http.Request) (*depot.PublisherSettings, bool) {
	a, err := h.actor(r)
	if err == nil {
		var ps *depot.PublisherSettings
		if ps, err = h.svc.PublisherSettingsAs(r.Context(), a, r.PathValue("owner")); err == nil {
			return ps, true
		}
	}
	h.fail(w, r, err)
	return nil, false
}

func (h *handler) listPublishers(w http.ResponseWriter, r *http.Request) {
	ps, ok := h.settings(w, r)
	if !ok {
		return
	}
	out := make([]Publisher, len(ps.Publishers))
	for i, p := range ps.Publishers {
		out[i] = toPublisher(p)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

type createRequest struct {
	Issuer   string            `json:"issuer"`
	Audience string            `json:"audience"`
	Claims   map[string]string `json:"claims"`
	Packages []string          `json:"packages"`
}

func (h *handler) createPublisher(w http.ResponseWriter, r *http.Request) {
	a, err := h.actor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req createRequest
	if err := decode(r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	np := depot.NewTrustedPublisher{Owner: r.PathValue("owner"), Issuer: req.Issuer, Audience: req.Audience, Packages: req.Packages}
	for name, pattern := range req.Claims {
		np.Claims = append(np.Claims, name+"="+pattern)
	}
	sort.Strings(np.Claims)
	p, err := h.svc.CreateTrustedPublisherAs(r.Context(), a, np)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, toPublisher(p))
}

func (h *handler) deletePublisher(w http.ResponseWriter, r *http.Request) {
	a, err := h.actor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.fail(w, r, depot.Errorf(depot.ErrInvalid, "publisher id %q is not a positive number", r.PathValue("id")))
		return
	}
	if err := h.svc.DeleteTrustedPublisherAs(r.Context(), a, r.PathValue("owner"), id); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Exchange is a recorded use of an ID token.
type Exchange struct {
	ID          int64  `json:"id"`
	PublisherID int64  `json:"publisher_id"`
	Issuer      string `json:"issuer"`
	Subject     string `json:"subject"`
	Repository  string `json:"repository"`
	Workflow    string `json:"workflow"`
	RunID       string `json:"run_id"`
	SHA         string `json:"sha"`
	Ref         string `json:"ref"`
	Direct      bool   `json:"direct"`
	Created     string `json:"created_at"`
	Expires     string `json:"expires_at"`
}

func (h *handler) listExchanges(w http.ResponseWriter, r *http.Request) {
	ps, ok := h.settings(w, r)
	if !ok {
		return
	}
	out := make([]Exchange, len(ps.Exchanges))
	for i, e := range ps.Exchanges {
		out[i] = Exchange{ID: e.ID, PublisherID: e.PublisherID, Issuer: e.Issuer, Subject: e.Subject, Repository: e.Repository,
			Workflow: e.Workflow, RunID: e.RunID, SHA: e.SHA, Ref: e.Ref, Direct: e.Direct,
			Created: e.CreatedAt.UTC().Format(time.RFC3339), Expires: e.ExpiresAt.UTC().Format(time.RFC3339)}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}
