package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/dustin/go-humanize"
)

// settingsData is the owner settings page: usage and limits for anyone
// who may see the owner, the quota form for site admins.
type settingsData struct {
	Report   *depot.UsageReport
	Settings *depot.OwnerSettings
	// CanEdit is set for the owner's admins (the settings form).
	CanEdit   bool
	SiteAdmin bool
	Error     string
	// Form holds the quota form's fields as typed (a failed post shows
	// them again).
	Form map[string]string
}

func (h *Handler) settingsPage(w http.ResponseWriter, r *http.Request, a *depot.Actor, status int, d settingsData) error {
	rep, err := h.svc.OwnerUsage(r.Context(), a, r.PathValue("owner"))
	if err != nil {
		return err
	}
	d.Report, d.SiteAdmin = rep, !a.IsAnonymous() && a.User.IsAdmin
	if d.Settings, err = h.svc.OwnerSettingsOf(r.Context(), a, rep.Owner.Name); err != nil {
		return err
	}
	role, err := h.svc.Access(r.Context(), a, rep.Owner)
	if err != nil {
		return err
	}
	d.CanEdit = role >= depot.AccessAdmin
	if d.Form == nil {
		d.Form = map[string]string{
			"max_versions":  overrideText(rep.Override.MaxVersions, false),
			"max_size":      overrideText(rep.Override.MaxSize, true),
			"max_file_size": overrideText(rep.Override.MaxFileSize, true),
		}
	}
	return h.render(w, r, status, "settings", rep.Owner.Name+" settings", d)
}

func overrideText(v *int64, size bool) string {
	switch {
	case v == nil:
		return ""
	case *v < 0:
		return "-1"
	case size:
		return humanize.IBytes(uint64(*v))
	}
	return strconv.FormatInt(*v, 10)
}

func (h *Handler) settings(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	return h.settingsPage(w, r, a, http.StatusOK, settingsData{})
}

// parseFormLimit parses a quota form field: empty for the serve setting,
// -1 for none, else a count or a size such as 10GiB.
func parseFormLimit(name, v string, size bool) (*int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	if v == "-1" {
		n := int64(depot.NoLimit)
		return &n, nil
	}
	var n int64
	if size && !strings.HasPrefix(v, "-") {
		b, err := humanize.ParseBytes(v)
		if err == nil && b <= 1<<62 {
			n = int64(b)
			return &n, nil
		}
	} else if !size {
		c, err := strconv.ParseInt(v, 10, 64)
		if err == nil && c >= 0 {
			return &c, nil
		}
	}
	what := "a count"
	if size {
		what = "a size such as 10GiB"
	}
	return nil, depot.Errorf(depot.ErrInvalid, "%s must be empty (the server's setting), -1 (no limit) or %s, not %q", name, what, v)
}

func (h *Handler) setQuota(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	form := map[string]string{}
	var q depot.QuotaOverride
	var err error
	for _, f := range []struct {
		name, label string
		size        bool
		dst         **int64
	}{
		{"max_versions", "Most versions", false, &q.MaxVersions},
		{"max_size", "Most storage", true, &q.MaxSize},
		{"max_file_size", "Largest file", true, &q.MaxFileSize},
	} {
		form[f.name] = r.PostFormValue(f.name)
		if err == nil {
			*f.dst, err = parseFormLimit(f.label, form[f.name], f.size)
		}
	}
	if err == nil {
		_, err = h.svc.SetOwnerQuota(r.Context(), a, r.PathValue("owner"), q)
	}
	if err != nil {
		if msg := depot.ErrorMessage(err); msg != "" && !isAuthErr(err) {
			return h.settingsPage(w, r, a, http.StatusBadRequest, settingsData{Error: msg, Form: form})
		}
		return err
	}
	http.Redirect(w, r, "/"+url.PathEscape(r.PathValue("owner"))+"/-/settings?saved=quota", http.StatusSeeOther)
	return nil
}

func (h *Handler) setOwnerSettings(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	set := depot.OwnerSettings{ImmutableVersions: r.PostFormValue("immutable_versions") == "on"}
	var err error
	if g := strings.TrimSpace(r.PostFormValue("immutable_grace")); g != "" {
		set.ImmutableGrace, err = time.ParseDuration(g)
		if err != nil {
			err = depot.Errorf(depot.ErrInvalid, "grace window must be a duration such as 15m or 0s, not %q", g)
		}
	}
	if err == nil {
		_, err = h.svc.SetOwnerSettings(r.Context(), a, r.PathValue("owner"), set)
	}
	if err != nil {
		if msg := depot.ErrorMessage(err); msg != "" && !isAuthErr(err) {
			return h.settingsPage(w, r, a, http.StatusBadRequest, settingsData{Error: msg})
		}
		return err
	}
	http.Redirect(w, r, "/"+url.PathEscape(r.PathValue("owner"))+"/-/settings?saved=settings", http.StatusSeeOther)
	return nil
}
