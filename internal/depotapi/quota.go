// Owner usage, quotas and settings.

package depotapi

import (
	"net/http"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

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
	if err := decode(w, r, &q); err != nil {
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
	if err := decode(w, r, &in); err != nil {
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
