package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
)

// cleanupData is the cleanup rules page: the owner's rules, the add (or
// edit) form, and a preview or a run's result.
type cleanupData struct {
	Owner string
	Rules []*depot.CleanupRule
	// Edit is the rule the form edits (ID 0: a new rule).
	Edit  depot.CleanupRule
	Form  map[string]string
	Error string
	// Plan is a preview (Ran false) or what a run deleted (Ran true).
	Plan   *depot.CleanupPlan
	Ran    bool
	Orders []depot.CleanupOrder
}

func (h *Handler) cleanupPath(r *http.Request) string {
	return "/" + url.PathEscape(r.PathValue("owner")) + "/-/settings/cleanup"
}

func (h *Handler) cleanupPage(w http.ResponseWriter, r *http.Request, a *depot.Actor, status int, d cleanupData) error {
	rules, err := h.svc.CleanupRules(r.Context(), a, r.PathValue("owner"))
	if err != nil {
		return err
	}
	d.Owner, d.Rules, d.Orders = r.PathValue("owner"), rules, []depot.CleanupOrder{depot.CleanupOrderCreated, depot.CleanupOrderSemver}
	if d.Form == nil {
		e := &d.Edit
		if e.ID == 0 {
			e.Enabled, e.Order = true, depot.CleanupOrderCreated
		}
		d.Form = map[string]string{
			"keep_count": strconv.Itoa(e.KeepCount), "keep_pattern": e.KeepPattern, "remove_days": strconv.Itoa(e.RemoveDays),
			"remove_pattern": e.RemovePattern, "not_downloaded_days": strconv.Itoa(e.NotDownloadedDays), "order": string(e.Order),
		}
		for k, v := range map[string]bool{"enabled": e.Enabled, "match_full_name": e.MatchFullName, "exclude_prereleases": e.ExcludePrereleasesFromKeepCount} {
			if v {
				d.Form[k] = "on"
			}
		}
	}
	return h.render(w, r, status, "cleanup", d.Owner+" cleanup rules", d)
}

// cleanup serves the page; ?edit=ID fills the form with a rule,
// ?preview=ID (or "all") adds what the rule (every enabled rule) would
// delete now.
func (h *Handler) cleanup(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	var d cleanupData
	if v := r.URL.Query().Get("edit"); v != "" {
		id, _ := strconv.ParseInt(v, 10, 64)
		rule, err := h.svc.CleanupRuleOf(r.Context(), a, r.PathValue("owner"), id)
		if err != nil {
			return err
		}
		d.Edit = *rule
	}
	if v := r.URL.Query().Get("preview"); v != "" {
		var id int64
		if v != "all" {
			id, _ = strconv.ParseInt(v, 10, 64)
			if id <= 0 {
				return depot.Errorf(depot.ErrNotFound, "there is no such cleanup rule")
			}
		}
		p, err := h.svc.PreviewCleanup(r.Context(), a, r.PathValue("owner"), id)
		if err != nil {
			return err
		}
		d.Plan = p
	}
	return h.cleanupPage(w, r, a, http.StatusOK, d)
}

// ruleForm reads the rule form; a number that does not parse is
// ErrInvalid naming the field.
func ruleForm(r *http.Request) (depot.CleanupRule, map[string]string, error) {
	form := map[string]string{}
	for _, k := range []string{"keep_count", "keep_pattern", "remove_days", "remove_pattern", "not_downloaded_days", "order", "enabled", "match_full_name", "exclude_prereleases"} {
		form[k] = r.PostFormValue(k)
	}
	rule := depot.CleanupRule{Type: depot.TypeGeneric, KeepPattern: form["keep_pattern"], RemovePattern: form["remove_pattern"],
		Order: depot.CleanupOrder(form["order"]), Enabled: form["enabled"] != "", MatchFullName: form["match_full_name"] != "",
		ExcludePrereleasesFromKeepCount: form["exclude_prereleases"] != ""}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"keep_count", &rule.KeepCount}, {"remove_days", &rule.RemoveDays}, {"not_downloaded_days", &rule.NotDownloadedDays}} {
		v := strings.TrimSpace(form[f.name])
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return rule, form, depot.Errorf(depot.ErrInvalid, "%s: %q is not a whole number", f.name, v)
		}
		*f.dst = n
	}
	return rule, form, nil
}

// saveCleanupRule adds a rule (no {id}) or changes one.
func (h *Handler) saveCleanupRule(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	var id int64
	if v := r.PathValue("id"); v != "" {
		var err error
		if id, err = strconv.ParseInt(v, 10, 64); err != nil {
			return depot.Errorf(depot.ErrNotFound, "there is no such cleanup rule")
		}
	}
	rule, form, err := ruleForm(r)
	if err == nil {
		if id == 0 {
			_, err = h.svc.CreateCleanupRule(r.Context(), a, r.PathValue("owner"), rule)
		} else {
			_, err = h.svc.UpdateCleanupRule(r.Context(), a, r.PathValue("owner"), id, rule)
		}
	}
	if err != nil {
		if msg := depot.ErrorMessage(err); msg != "" && !isAuthErr(err) && !strings.Contains(msg, "not found") {
			rule.ID = id
			return h.cleanupPage(w, r, a, http.StatusBadRequest, cleanupData{Edit: rule, Form: form, Error: msg})
		}
		return err
	}
	http.Redirect(w, r, h.cleanupPath(r), http.StatusSeeOther)
	return nil
}

func (h *Handler) deleteCleanupRule(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return depot.Errorf(depot.ErrNotFound, "there is no such cleanup rule")
	}
	if err := h.svc.DeleteCleanupRule(r.Context(), a, r.PathValue("owner"), id); err != nil {
		return err
	}
	http.Redirect(w, r, h.cleanupPath(r), http.StatusSeeOther)
	return nil
}

// runCleanup applies one rule (form field rule) or every enabled rule now
// and shows what it deleted.
func (h *Handler) runCleanup(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	id, _ := strconv.ParseInt(r.PostFormValue("rule"), 10, 64)
	p, err := h.svc.ApplyCleanup(r.Context(), a, r.PathValue("owner"), id)
	if err != nil {
		return err
	}
	return h.cleanupPage(w, r, a, http.StatusOK, cleanupData{Plan: p, Ran: true})
}
