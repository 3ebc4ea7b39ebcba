package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
)

// issuerPresets are offered in the trusted publisher form.
var issuerPresets = []struct{ Name, URL string }{
	{"GitHub Actions", "https://token.actions.githubusercontent.com"},
	{"GitLab.com", "https://gitlab.com"},
	{"Forgejo / Gitea Actions (your host)", "https://<host>/api/actions"},
}

type publishersData struct {
	*depot.PublisherSettings
	Presets any
	Error   string
}

func (h *Handler) publishersPage(w http.ResponseWriter, r *http.Request, a *depot.Actor, status int, d publishersData) error {
	ps, err := h.svc.PublisherSettingsAs(r.Context(), a, r.PathValue("owner"))
	if err != nil {
		return err
	}
	d.PublisherSettings, d.Presets = ps, issuerPresets
	return h.render(w, r, status, "publishers", ps.Owner.Name+" trusted publishers", d)
}

func (h *Handler) publishers(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	return h.publishersPage(w, r, a, http.StatusOK, publishersData{})
}

// lines splits a form value into its non-empty lines (or comma-separated
// items when sep is ",").
func lines(v, sep string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(v, "\r\n", "\n"), sep) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (h *Handler) settingsPath(r *http.Request) string {
	return "/" + url.PathEscape(r.PathValue("owner")) + "/-/settings/trusted-publishers"
}

func (h *Handler) createPublisher(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	_, err := h.svc.CreateTrustedPublisherAs(r.Context(), a, depot.NewTrustedPublisher{
		Owner: r.PathValue("owner"), Issuer: strings.TrimSpace(r.PostFormValue("issuer")), Audience: strings.TrimSpace(r.PostFormValue("audience")),
		Claims: lines(r.PostFormValue("claims"), "\n"), Packages: lines(r.PostFormValue("packages"), ","),
	})
	if err != nil {
		if msg := depot.ErrorMessage(err); msg != "" && !isAuthErr(err) && !strings.Contains(msg, "not found") {
			return h.publishersPage(w, r, a, http.StatusBadRequest, publishersData{Error: msg})
		}
		return err
	}
	http.Redirect(w, r, h.settingsPath(r), http.StatusSeeOther)
	return nil
}

func (h *Handler) deletePublisher(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return depot.Errorf(depot.ErrNotFound, "there is no such trusted publisher")
	}
	if err := h.svc.DeleteTrustedPublisherAs(r.Context(), a, r.PathValue("owner"), id); err != nil {
		return err
	}
	http.Redirect(w, r, h.settingsPath(r), http.StatusSeeOther)
	return nil
}
