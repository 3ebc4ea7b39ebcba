package giteaapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

// apiHook is Gitea's Hook (modules/structs/hook.go).
type apiHook struct {
	ID                  int64             `json:"id"`
	Name                string            `json:"name"`
	Type                string            `json:"type"`
	BranchFilter        string            `json:"branch_filter"`
	Config              map[string]string `json:"config"`
	Events              []string          `json:"events"`
	AuthorizationHeader string            `json:"authorization_header"`
	Active              bool              `json:"active"`
	Updated             time.Time         `json:"updated_at"`
	Created             time.Time         `json:"created_at"`
}

func toHook(h *depot.Hook) apiHook {
	events := h.Events
	if events == nil {
		events = []string{}
	}
	return apiHook{ID: h.ID, Name: h.Name, Type: "gitea", Config: map[string]string{"url": h.URL, "content_type": h.ContentType},
		Events: events, Active: h.Active, Updated: h.UpdatedAt, Created: h.CreatedAt}
}

// createHookOption is Gitea's CreateHookOption.
type createHookOption struct {
	Type                string            `json:"type"`
	Config              map[string]string `json:"config"`
	Events              []string          `json:"events"`
	BranchFilter        string            `json:"branch_filter"`
	AuthorizationHeader string            `json:"authorization_header"`
	Active              bool              `json:"active"`
	Name                string            `json:"name"`
}

// editHookOption is Gitea's EditHookOption.
type editHookOption struct {
	Config              map[string]string `json:"config"`
	Events              []string          `json:"events"`
	BranchFilter        string            `json:"branch_filter"`
	AuthorizationHeader string            `json:"authorization_header"`
	Active              *bool             `json:"active"`
	Name                *string           `json:"name"`
}

// configValue returns a pointer to a config option, nil when absent.
func configValue(c map[string]string, key string) *string {
	if v, ok := c[key]; ok {
		return &v
	}
	return nil
}

// hookOwnerName is the owner a hook route names: the organization, the
// signed-in user for /user/hooks, "" (system hooks) for /admin/hooks.
func hookOwnerName(r *http.Request, a *depot.Actor) (string, error) {
	switch {
	case r.PathValue("org") != "":
		return r.PathValue("org"), nil
	case strings.HasPrefix(r.URL.Path, "/api/v1/admin/hooks"):
		return "", nil
	case a.IsAnonymous():
		return "", errTokenRequired
	}
	return a.User.Name, nil
}

func (h *Handler) hookRoutes() {
	for _, prefix := range []string{"/api/v1/orgs/{org}/hooks", "/api/v1/user/hooks", "/api/v1/admin/hooks"} {
		h.handle("GET "+prefix, h.listHooks)
		h.handle("POST "+prefix, h.createHook, override{depot.ErrInvalid, http.StatusUnprocessableEntity})
		h.handle("GET "+prefix+"/{id}", h.getHook)
		h.handle("PATCH "+prefix+"/{id}", h.editHook, override{depot.ErrInvalid, http.StatusUnprocessableEntity})
		h.handle("DELETE "+prefix+"/{id}", h.deleteHook)
	}
}

func (h *Handler) listHooks(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	owner, err := hookOwnerName(r, a)
	if err != nil {
		return err
	}
	var hooks []*depot.Hook
	if owner == "" {
		hooks, err = h.svc.ListSystemHooks(r.Context(), a)
	} else {
		hooks, err = h.svc.ListHooks(r.Context(), a, owner)
	}
	if err != nil {
		return err
	}
	page, size := listOptions(r)
	out := []apiHook{}
	for _, hk := range paginate(hooks, page, size) {
		out = append(out, toHook(hk))
	}
	h.setPageHeaders(w, r, int64(len(hooks)), size)
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// hookID parses the {id} segment; a malformed one is a missing hook.
func hookID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, depot.Errorf(depot.ErrNotFound, "hook %q not found", r.PathValue("id"))
	}
	return id, nil
}

// hookTarget reads the owner and hook ID of a /{id} route.
func hookTarget(r *http.Request, a *depot.Actor) (string, int64, error) {
	owner, err := hookOwnerName(r, a)
	if err != nil {
		return "", 0, err
	}
	id, err := hookID(r)
	return owner, id, err
}

func (h *Handler) getHook(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	owner, id, err := hookTarget(r, a)
	if err != nil {
		return err
	}
	hk, err := h.svc.Hook(r.Context(), a, owner, id)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, toHook(hk))
	return nil
}

// errAuthorizationHeader refuses what depot does not send.
var errAuthorizationHeader = depot.Errorf(depot.ErrInvalid, "authorization_header is not supported by depot: sign with the secret")

func (h *Handler) createHook(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	owner, err := hookOwnerName(r, a)
	if err != nil {
		return err
	}
	var opt createHookOption
	if err := decode(r, &opt); err != nil {
		return err
	}
	if opt.AuthorizationHeader != "" {
		return errAuthorizationHeader
	}
	hk, err := h.svc.CreateHook(r.Context(), a, owner, depot.HookInput{
		Type: opt.Type, URL: configValue(opt.Config, "url"), ContentType: configValue(opt.Config, "content_type"),
		Secret: configValue(opt.Config, "secret"), Events: opt.Events, Active: &opt.Active, Name: &opt.Name,
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, toHook(hk))
	return nil
}

func (h *Handler) editHook(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	owner, id, err := hookTarget(r, a)
	if err != nil {
		return err
	}
	var opt editHookOption
	if err := decode(r, &opt); err != nil {
		return err
	}
	if opt.AuthorizationHeader != "" {
		return errAuthorizationHeader
	}
	hk, err := h.svc.EditHook(r.Context(), a, owner, id, depot.HookInput{
		URL: configValue(opt.Config, "url"), ContentType: configValue(opt.Config, "content_type"),
		Secret: configValue(opt.Config, "secret"), Events: opt.Events, Active: opt.Active, Name: opt.Name,
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, toHook(hk))
	return nil
}

func (h *Handler) deleteHook(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	owner, id, err := hookTarget(r, a)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteHook(r.Context(), a, owner, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// packagePayload is Gitea's PackagePayload.
type packagePayload struct {
	Action       depot.PackageAction `json:"action"`
	Repository   *apiRepository      `json:"repository"`
	Package      apiPackage          `json:"package"`
	Organization *apiOrg             `json:"organization"`
	Sender       apiUser             `json:"sender"`
}

// PackagePayload builds the payload of a package event as Gitea's
// notifyPackage does: the package as its sender sees it, the organization
// when the owner is one, the sender as anonymous viewers see it; indented
// as Gitea's JSONPayload. Links use Options.BaseURL, else
// Options.PayloadHost. The repository is null (depot's projects are not
// repositories), and an account deleted since appears as Gitea's ghost.
func (h *Handler) PackagePayload(ctx context.Context, ev *depot.PackageEvent) ([]byte, error) {
	owner, sender, creator, err := h.svc.PackageEventParties(ctx, ev)
	if err != nil {
		return nil, err
	}
	if owner == nil {
		return nil, errors.New("event owner no longer exists")
	}
	r := (&http.Request{Host: h.opts.PayloadHost}).WithContext(ctx)
	var a *depot.Actor
	if sender != nil {
		a = &depot.Actor{User: sender}
	}
	pv := &depot.PackageVersion{
		Package: depot.Package{OwnerID: ev.OwnerID, Type: ev.Type, Name: ev.Package},
		Version: depot.Version{ID: ev.VersionID, Version: ev.Version, CreatedAt: ev.VersionCreatedAt},
		Creator: creator,
	}
	p := packagePayload{Action: ev.Action, Package: h.toPackage(r, a, owner, pv), Sender: h.toUser(r, nil, sender)}
	if owner.Kind == depot.KindOrg {
		o := toOrg(owner)
		p.Organization = &o
	}
	return json.MarshalIndent(p, "", "  ")
}
