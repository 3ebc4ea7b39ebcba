// Trusted publishing: the ID token exchange and publisher management.

package depotapi

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

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
func (h *Handler) exchange(w http.ResponseWriter, r *http.Request) {
	var req exchangeRequest
	if err := decode(w, r, &req); err != nil {
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

// publisherSettings returns the owner's publisher settings for the request's actor,
// or writes the error and returns false.
func (h *Handler) publisherSettings(w http.ResponseWriter, r *http.Request) (*depot.PublisherSettings, bool) {
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

func (h *Handler) listPublishers(w http.ResponseWriter, r *http.Request) {
	ps, ok := h.publisherSettings(w, r)
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

func (h *Handler) createPublisher(w http.ResponseWriter, r *http.Request) {
	a, err := h.actor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req createRequest
	if err := decode(w, r, &req); err != nil {
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

func (h *Handler) deletePublisher(w http.ResponseWriter, r *http.Request) {
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

func (h *Handler) listExchanges(w http.ResponseWriter, r *http.Request) {
	ps, ok := h.publisherSettings(w, r)
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
