// Cleanup (retention) rules and their preview.

package depotapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

// CleanupRule is a rule in the API: Gitea's fields (keep_count,
// keep_pattern, remove_days, remove_pattern, match_full_name, enabled) and
// depot's (order, exclude_prereleases_from_keep_count,
// not_downloaded_days).
type CleanupRule struct {
	ID                              int64     `json:"id"`
	Type                            string    `json:"type"`
	Enabled                         bool      `json:"enabled"`
	KeepCount                       int       `json:"keep_count"`
	KeepPattern                     string    `json:"keep_pattern"`
	RemoveDays                      int       `json:"remove_days"`
	RemovePattern                   string    `json:"remove_pattern"`
	MatchFullName                   bool      `json:"match_full_name"`
	Order                           string    `json:"order"`
	ExcludePrereleasesFromKeepCount bool      `json:"exclude_prereleases_from_keep_count"`
	NotDownloadedDays               int       `json:"not_downloaded_days"`
	CreatedAt                       time.Time `json:"created_at"`
	UpdatedAt                       time.Time `json:"updated_at"`
}

// CleanupRuleInput is the body of POST and PUT: every field of
// CleanupRule but the read-only ones; enabled defaults to true, type to
// "generic", order to "created", the rest to 0, "" and false.
type CleanupRuleInput struct {
	Type                            string `json:"type"`
	Enabled                         *bool  `json:"enabled"`
	KeepCount                       int    `json:"keep_count"`
	KeepPattern                     string `json:"keep_pattern"`
	RemoveDays                      int    `json:"remove_days"`
	RemovePattern                   string `json:"remove_pattern"`
	MatchFullName                   bool   `json:"match_full_name"`
	Order                           string `json:"order"`
	ExcludePrereleasesFromKeepCount bool   `json:"exclude_prereleases_from_keep_count"`
	NotDownloadedDays               int    `json:"not_downloaded_days"`
}

// CleanupRuleOf converts a rule.
func CleanupRuleOf(r *depot.CleanupRule) CleanupRule {
	return CleanupRule{ID: r.ID, Type: string(r.Type), Enabled: r.Enabled, KeepCount: r.KeepCount, KeepPattern: r.KeepPattern,
		RemoveDays: r.RemoveDays, RemovePattern: r.RemovePattern, MatchFullName: r.MatchFullName, Order: string(r.Order),
		ExcludePrereleasesFromKeepCount: r.ExcludePrereleasesFromKeepCount, NotDownloadedDays: r.NotDownloadedDays,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func (in CleanupRuleInput) rule() depot.CleanupRule {
	enabled := in.Enabled == nil || *in.Enabled
	return depot.CleanupRule{Type: depot.PackageType(in.Type), Enabled: enabled, KeepCount: in.KeepCount, KeepPattern: in.KeepPattern,
		RemoveDays: in.RemoveDays, RemovePattern: in.RemovePattern, MatchFullName: in.MatchFullName, Order: depot.CleanupOrder(in.Order),
		ExcludePrereleasesFromKeepCount: in.ExcludePrereleasesFromKeepCount, NotDownloadedDays: in.NotDownloadedDays}
}

// CleanupFile is a file of a version a cleanup deletes.
type CleanupFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// CleanupItem is a version a cleanup deletes.
type CleanupItem struct {
	Rule      int64     `json:"rule_id"`
	Type      string    `json:"type"`
	Package   string    `json:"package"`
	Version   string    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	// LastDownloadedAt is null for a version never downloaded.
	LastDownloadedAt *time.Time    `json:"last_downloaded_at"`
	Files            []CleanupFile `json:"files"`
	Bytes            int64         `json:"bytes"`
	// Error, after a run, is why the version could not be deleted.
	Error string `json:"error,omitempty"`
}

// CleanupPlan is the body of a preview (what would be deleted) and of a
// run (what was).
type CleanupPlan struct {
	Owner   string        `json:"owner"`
	At      time.Time     `json:"at"`
	Rules   []CleanupRule `json:"rules"`
	Delete  []CleanupItem `json:"delete"`
	Deleted int           `json:"deleted"`
	Bytes   int64         `json:"bytes"`
	// Immutable are versions a rule selects that the owner's
	// immutable_versions setting keeps.
	Immutable []CleanupItem `json:"kept_immutable"`
	Kept      int64         `json:"kept"`
	DryRun    bool          `json:"dry_run"`
}

func itemsOf(its []depot.CleanupItem) []CleanupItem {
	out := make([]CleanupItem, 0, len(its))
	for _, it := range its {
		c := CleanupItem{Rule: it.RuleID, Type: string(it.Type), Package: it.Package, Version: it.Version.Version,
			CreatedAt: it.Version.CreatedAt, LastDownloadedAt: it.Version.LastDownloadedAt, Bytes: it.Bytes, Error: it.Err, Files: []CleanupFile{}}
		for _, f := range it.Files {
			c.Files = append(c.Files, CleanupFile{Name: f.Name, Size: f.Blob.Size, SHA256: f.Blob.SHA256})
		}
		out = append(out, c)
	}
	return out
}

// CleanupPlanOf converts a plan; dryRun tells a preview from a run.
func CleanupPlanOf(p *depot.CleanupPlan, dryRun bool) CleanupPlan {
	out := CleanupPlan{Owner: p.Owner.Name, At: p.At, Rules: []CleanupRule{}, Delete: itemsOf(p.Delete), Immutable: itemsOf(p.Immutable), Kept: p.Kept, DryRun: dryRun}
	for _, r := range p.Rules {
		out.Rules = append(out.Rules, CleanupRuleOf(r))
	}
	for _, it := range p.Delete {
		if it.Err == "" {
			out.Deleted++
			out.Bytes += it.Bytes
		}
	}
	if dryRun {
		out.Deleted = 0
	}
	return out
}

func ruleID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, depot.Errorf(depot.ErrInvalid, "cleanup rule id %q is not a positive number", r.PathValue("id"))
	}
	return id, nil
}

func (h *Handler) listCleanupRules(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	rules, err := h.svc.CleanupRules(r.Context(), a, r.PathValue("owner"))
	if err != nil {
		return err
	}
	out := []CleanupRule{}
	for _, c := range rules {
		out = append(out, CleanupRuleOf(c))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) createCleanupRule(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	var in CleanupRuleInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	c, err := h.svc.CreateCleanupRule(r.Context(), a, r.PathValue("owner"), in.rule())
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, CleanupRuleOf(c))
	return nil
}

func (h *Handler) getCleanupRule(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	id, err := ruleID(r)
	if err != nil {
		return err
	}
	c, err := h.svc.CleanupRuleOf(r.Context(), a, r.PathValue("owner"), id)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, CleanupRuleOf(c))
	return nil
}

func (h *Handler) updateCleanupRule(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	id, err := ruleID(r)
	if err != nil {
		return err
	}
	var in CleanupRuleInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	c, err := h.svc.UpdateCleanupRule(r.Context(), a, r.PathValue("owner"), id, in.rule())
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, CleanupRuleOf(c))
	return nil
}

func (h *Handler) deleteCleanupRule(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	id, err := ruleID(r)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteCleanupRule(r.Context(), a, r.PathValue("owner"), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// cleanup serves the preview (GET) and the run (POST) of one rule ({id})
// or of every enabled rule of the owner.
func (h *Handler) cleanup(run bool) func(http.ResponseWriter, *http.Request, *depot.Actor) error {
	return func(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
		var id int64
		if r.PathValue("id") != "" {
			var err error
			if id, err = ruleID(r); err != nil {
				return err
			}
		}
		f := h.svc.PreviewCleanup
		if run {
			f = h.svc.ApplyCleanup
		}
		p, err := f(r.Context(), a, r.PathValue("owner"), id)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, CleanupPlanOf(p, !run))
		return nil
	}
}
