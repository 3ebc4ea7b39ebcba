// Package depotapi serves depot's own JSON routes, for what neither Gitea
// nor GitLab has an API of their own for:
//
//	GET /api/depot/owners/{owner}/usage   an owner's usage and limits
//	PUT /api/depot/owners/{owner}/quota   a site admin's override of them
//	GET /api/depot/owners/{owner}/settings   an owner's settings
//	PUT /api/depot/owners/{owner}/settings   changed by the owner's admins
//
// Errors are {"message": ...} with httpapi's one status table.
package depotapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

// Prefix is the path prefix this package serves.
const Prefix = "/api/depot/"

// Handler serves the routes.
type Handler struct {
	svc *depot.Service
	log *slog.Logger
	mux *http.ServeMux
}

// New returns a Handler.
func New(svc *depot.Service, log *slog.Logger) *Handler {
	h := &Handler{svc: svc, log: log, mux: http.NewServeMux()}
	h.handle("GET /api/depot/owners/{owner}/usage", h.usage)
	h.handle("PUT /api/depot/owners/{owner}/quota", h.setQuota)
	h.handle("GET /api/depot/owners/{owner}/settings", h.settings)
	h.handle("PUT /api/depot/owners/{owner}/settings", h.setSettings)
	h.handle("/api/depot/", func(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
		return depot.Errorf(depot.ErrNotFound, "no such route")
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) handle(pattern string, fn func(http.ResponseWriter, *http.Request, *depot.Actor) error) {
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
			httpapi.WriteError(w, r, h.log, httpapi.JSON, err)
		}
	})
}

// Limit is one limit of an owner: its value (-1: none) and the setting it
// comes from ("owner quota" for a site admin's override, else the serve
// setting's Gitea name).
type Limit struct {
	Value int64  `json:"value"`
	From  string `json:"from"`
}

// Usage is the body of GET .../usage and PUT .../quota.
type Usage struct {
	Owner    string `json:"owner"`
	Versions int64  `json:"versions"`
	Bytes    int64  `json:"bytes"`
	Limits   struct {
		MaxVersions Limit `json:"max_versions"`
		MaxSize     Limit `json:"max_size"`
		MaxFileSize Limit `json:"max_file_size"`
	} `json:"limits"`
	// Override is the site admin's override, null fields for the serve
	// settings.
	Override Quota `json:"override"`
}

// Quota is the body of PUT .../quota: each field a limit (-1: none) or
// null for the serve setting. A field left out is null.
type Quota struct {
	MaxVersions *int64 `json:"max_versions"`
	MaxSize     *int64 `json:"max_size"`
	MaxFileSize *int64 `json:"max_file_size"`
}

// UsageOf converts a report.
func UsageOf(r *depot.UsageReport) Usage {
	u := Usage{Owner: r.Owner.Name, Versions: r.Usage.Versions, Bytes: r.Usage.Bytes}
	q := r.Quota
	u.Limits.MaxVersions = Limit{q.MaxVersions, q.VersionsFrom}
	u.Limits.MaxSize = Limit{q.MaxSize, q.SizeFrom}
	u.Limits.MaxFileSize = Limit{q.MaxFileSize, q.FileSizeFrom}
	u.Override = Quota{r.Override.MaxVersions, r.Override.MaxSize, r.Override.MaxFileSize}
	return u
}

func (h *Handler) usage(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	rep, err := h.svc.OwnerUsage(r.Context(), a, r.PathValue("owner"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, UsageOf(rep))
	return nil
}

func (h *Handler) setQuota(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	var q Quota
	if err := decode(w, r, &q, "a quota"); err != nil {
		return err
	}
	rep, err := h.svc.SetOwnerQuota(r.Context(), a, r.PathValue("owner"), depot.QuotaOverride{
		MaxVersions: q.MaxVersions, MaxSize: q.MaxSize, MaxFileSize: q.MaxFileSize,
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, UsageOf(rep))
	return nil
}

// Settings is the body of GET and PUT .../settings.
type Settings struct {
	// ImmutableVersions seals a version's files once the version is
	// ImmutableGraceSeconds old: no file added, replaced or deleted,
	// except by site admins.
	ImmutableVersions     bool  `json:"immutable_versions"`
	ImmutableGraceSeconds int64 `json:"immutable_grace_seconds"`
}

func settingsOf(set *depot.OwnerSettings) Settings {
	return Settings{ImmutableVersions: set.ImmutableVersions, ImmutableGraceSeconds: int64(set.ImmutableGrace / time.Second)}
}

func (h *Handler) settings(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	set, err := h.svc.OwnerSettingsOf(r.Context(), a, r.PathValue("owner"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, settingsOf(set))
	return nil
}

func (h *Handler) setSettings(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	var in Settings
	if err := decode(w, r, &in, "a settings"); err != nil {
		return err
	}
	if in.ImmutableGraceSeconds < 0 || in.ImmutableGraceSeconds > int64(depot.MaxImmutableGrace/time.Second) {
		return depot.Errorf(depot.ErrInvalid, "immutable_grace_seconds must be between 0 and %d, not %d", int64(depot.MaxImmutableGrace/time.Second), in.ImmutableGraceSeconds)
	}
	set, err := h.svc.SetOwnerSettings(r.Context(), a, r.PathValue("owner"), depot.OwnerSettings{
		ImmutableVersions: in.ImmutableVersions, ImmutableGrace: time.Duration(in.ImmutableGraceSeconds) * time.Second,
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, settingsOf(set))
	return nil
}

// decode reads a JSON object of at most 64 KiB without unknown fields.
func decode(w http.ResponseWriter, r *http.Request, v any, what string) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return depot.Errorf(depot.ErrInvalid, "body is not %s object: %v", what, err)
	}
	return nil
}
