package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
)

// hookLogSize is how many tries a hook's page shows.
const hookLogSize = 50

type hooksData struct {
	// Owner is "" for the system hooks.
	Owner string
	Base  string
	Hooks []*depot.Hook
	Hook  *depot.Hook
	Log   []*depot.DeliveryAttempt
	Error string
	// URL and ContentType keep what was typed after a refused form.
	URL, ContentType string
}

// hookBase is the path of the hooks pages of r's owner, or of the system
// hooks ("" owner).
func hookBase(r *http.Request) (owner, base string) {
	if owner = r.PathValue("owner"); owner == "" {
		return "", "/-/admin/webhooks"
	}
	return owner, "/" + url.PathEscape(owner) + "/-/hooks"
}

func (h *Handler) hooksPage(w http.ResponseWriter, r *http.Request, a *depot.Actor, status int, d hooksData) error {
	var err error
	d.Owner, d.Base = hookBase(r)
	title := "System webhooks"
	if d.Owner == "" {
		d.Hooks, err = h.svc.ListSystemHooks(r.Context(), a)
		fromContext(r).nav = "admin"
	} else {
		d.Hooks, err = h.svc.ListHooks(r.Context(), a, d.Owner)
		title = d.Owner + " webhooks"
	}
	if err != nil {
		return err
	}
	if d.ContentType == "" {
		d.ContentType = depot.HookContentJSON
	}
	return h.render(w, r, status, "hooks", title, d)
}

func (h *Handler) hooks(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	return h.hooksPage(w, r, a, http.StatusOK, hooksData{})
}

// hookForm reads the fields of the create and edit forms.
func hookForm(r *http.Request) depot.HookInput {
	u, ct, secret := strings.TrimSpace(r.PostFormValue("url")), r.PostFormValue("content_type"), r.PostFormValue("secret")
	active := r.PostFormValue("active") == "on"
	in := depot.HookInput{Type: "gitea", URL: &u, ContentType: &ct, Active: &active}
	// An empty secret on the edit form keeps the current one.
	if secret != "" || r.PostFormValue("clear_secret") == "on" {
		in.Secret = &secret
	}
	return in
}

func (h *Handler) createHook(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	owner, base := hookBase(r)
	in := hookForm(r)
	if in.Secret == nil {
		in.Secret = new(string)
	}
	hk, err := h.svc.CreateHook(r.Context(), a, owner, in)
	if err != nil {
		if msg := depot.ErrorMessage(err); msg != "" && !isAuthErr(err) {
			return h.hooksPage(w, r, a, http.StatusBadRequest, hooksData{Error: msg, URL: *in.URL, ContentType: *in.ContentType})
		}
		return err
	}
	http.Redirect(w, r, base+"/"+strconv.FormatInt(hk.ID, 10), http.StatusSeeOther)
	return nil
}

// hookID parses the {id} segment; a malformed one is a missing hook.
func hookID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, depot.Errorf(depot.ErrNotFound, "there is no such webhook")
	}
	return id, nil
}

func (h *Handler) hookPage(w http.ResponseWriter, r *http.Request, a *depot.Actor, status int, d hooksData) error {
	id, err := hookID(r)
	if err != nil {
		return err
	}
	d.Owner, d.Base = hookBase(r)
	if d.Hook, err = h.svc.Hook(r.Context(), a, d.Owner, id); err != nil {
		return err
	}
	if d.Log, err = h.svc.HookDeliveries(r.Context(), a, d.Owner, id, hookLogSize); err != nil {
		return err
	}
	if d.Owner == "" {
		fromContext(r).nav = "admin"
	}
	return h.render(w, r, status, "hook", "Webhook "+strconv.FormatInt(id, 10), d)
}

func (h *Handler) hook(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	return h.hookPage(w, r, a, http.StatusOK, hooksData{})
}

// hookAction runs fn for a signed-in actor on the hook the path names,
// then sends the browser to the page fn returns ("": fn answered).
func (h *Handler) hookAction(w http.ResponseWriter, r *http.Request, a *depot.Actor,
	fn func(owner string, id int64) (redirect string, err error)) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	id, err := hookID(r)
	if err != nil {
		return err
	}
	owner, _ := hookBase(r)
	to, err := fn(owner, id)
	if err != nil || to == "" {
		return err
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

func (h *Handler) editHook(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	return h.hookAction(w, r, a, func(owner string, id int64) (string, error) {
		_, base := hookBase(r)
		if _, err := h.svc.EditHook(r.Context(), a, owner, id, hookForm(r)); err != nil {
			if msg := depot.ErrorMessage(err); msg != "" && !isAuthErr(err) {
				return "", h.hookPage(w, r, a, http.StatusBadRequest, hooksData{Error: msg})
			}
			return "", err
		}
		return base + "/" + strconv.FormatInt(id, 10), nil
	})
}

func (h *Handler) deleteHook(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	return h.hookAction(w, r, a, func(owner string, id int64) (string, error) {
		_, base := hookBase(r)
		return base, h.svc.DeleteHook(r.Context(), a, owner, id)
	})
}

func (h *Handler) redeliverHook(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	return h.hookAction(w, r, a, func(owner string, id int64) (string, error) {
		_, base := hookBase(r)
		delivery, err := strconv.ParseInt(r.PathValue("delivery"), 10, 64)
		if err != nil {
			return "", depot.Errorf(depot.ErrNotFound, "there is no such delivery")
		}
		return base + "/" + strconv.FormatInt(id, 10), h.svc.RedeliverHook(r.Context(), a, owner, id, delivery)
	})
}
