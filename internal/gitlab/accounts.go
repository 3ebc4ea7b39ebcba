package gitlab

import (
	"net/http"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

var errUnauthorized = depot.Errorf(depot.ErrUnauthenticated, "401 Unauthorized")

// signedIn refuses anonymous actors and deploy or job tokens, which are
// not users, as GitLab does on its account endpoints.
func signedIn(a *depot.Actor) error {
	if a.IsAnonymous() || a.ProjectToken != nil {
		return errUnauthorized
	}
	return nil
}

// version answers GET /version: GitLab's release and depot's version as
// the revision. GitLab requires a signed-in user here.
func (h *Handler) version(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if err := signedIn(a); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"version": GitLabVersion, "revision": "depot-" + h.opts.Version, "enterprise": false})
	return nil
}

// apiUser is the part of GitLab's UserPublic that clients read.
type apiUser struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	Name      string    `json:"name"`
	State     string    `json:"state"`
	Locked    bool      `json:"locked"`
	AvatarURL *string   `json:"avatar_url"`
	WebURL    string    `json:"web_url"`
	CreatedAt time.Time `json:"created_at"`
	Email     string    `json:"email"`
	IsAdmin   bool      `json:"is_admin"`
	Bot       bool      `json:"bot"`
}

func (h *Handler) user(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if err := signedIn(a); err != nil {
		return err
	}
	u := a.User
	state := "active"
	if u.Disabled {
		state = "blocked"
	}
	httpapi.WriteJSON(w, http.StatusOK, apiUser{
		ID: u.ID, Username: u.Name, Name: u.Name, State: state, WebURL: h.webURL(r, u.Name),
		CreatedAt: u.CreatedAt, Email: u.Email, IsAdmin: u.IsAdmin,
	})
	return nil
}

// apiNamespace is GitLab's NamespaceBasic.
type apiNamespace struct {
	ID       int64   `json:"id"`
	Name     string  `json:"name"`
	Path     string  `json:"path"`
	Kind     string  `json:"kind"`
	FullPath string  `json:"full_path"`
	ParentID *int64  `json:"parent_id"`
	WebURL   string  `json:"web_url"`
	Avatar   *string `json:"avatar_url"`
}

func (h *Handler) toNamespace(r *http.Request, o *depot.Owner) apiNamespace {
	kind := "group"
	if o.Kind == depot.KindUser {
		kind = "user"
	}
	return apiNamespace{ID: o.ID, Name: o.Name, Path: o.Name, Kind: kind, FullPath: o.Name, WebURL: h.webURL(r, o.Name)}
}

// apiProject is the part of GitLab's Project that clients read.
type apiProject struct {
	ID                int64        `json:"id"`
	Name              string       `json:"name"`
	Path              string       `json:"path"`
	NameWithNamespace string       `json:"name_with_namespace"`
	PathWithNamespace string       `json:"path_with_namespace"`
	Description       *string      `json:"description"`
	DefaultBranch     *string      `json:"default_branch"`
	Visibility        string       `json:"visibility"`
	WebURL            string       `json:"web_url"`
	CreatedAt         time.Time    `json:"created_at"`
	Namespace         apiNamespace `json:"namespace"`
	PackagesEnabled   bool         `json:"packages_enabled"`
	Archived          bool         `json:"archived"`
	Permissions       struct {
		ProjectAccess *apiAccess `json:"project_access"`
		GroupAccess   *apiAccess `json:"group_access"`
	} `json:"permissions"`
}

type apiAccess struct {
	AccessLevel       int `json:"access_level"`
	NotificationLevel int `json:"notification_level"`
}

// accessLevels are GitLab's numeric roles for depot's: Reporter, Developer,
// Maintainer (Owner for the namespace itself is reported as Maintainer).
var accessLevels = map[depot.Role]int{depot.AccessRead: 20, depot.AccessWrite: 30, depot.AccessAdmin: 40}

func (h *Handler) project(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	p, owner, role, err := h.svc.GitLabProject(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := apiProject{
		ID: p.ID, Name: p.Name, Path: p.Name, NameWithNamespace: owner.Name + " / " + p.Name,
		PathWithNamespace: projectPath(p), Visibility: string(p.EffectiveVisibility(owner)),
		WebURL: h.webURL(r, owner.Name, p.Name), CreatedAt: p.CreatedAt, Namespace: h.toNamespace(r, owner),
		PackagesEnabled: true,
	}
	if !a.IsAnonymous() && a.ProjectToken == nil && (role > depot.AccessRead || p.EffectiveVisibility(owner) == depot.Private) {
		out.Permissions.ProjectAccess = &apiAccess{AccessLevel: accessLevels[role], NotificationLevel: 3}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// apiGroup is the part of GitLab's Group that clients read.
type apiGroup struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Path       string    `json:"path"`
	FullName   string    `json:"full_name"`
	FullPath   string    `json:"full_path"`
	Visibility string    `json:"visibility"`
	WebURL     string    `json:"web_url"`
	ParentID   *int64    `json:"parent_id"`
	CreatedAt  time.Time `json:"created_at"`
	AvatarURL  *string   `json:"avatar_url"`
}

func (h *Handler) group(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	o, err := h.svc.GitLabGroup(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, apiGroup{
		ID: o.ID, Name: o.Name, Path: o.Name, FullName: o.Name, FullPath: o.Name,
		Visibility: string(o.Visibility), WebURL: h.webURL(r, "groups", o.Name), CreatedAt: o.CreatedAt,
	})
	return nil
}
