package giteaapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

func (h *Handler) me(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	u, err := h.svc.Me(r.Context(), a)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, h.toUser(r, a, u))
	return nil
}

func (h *Handler) user(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	u, err := h.svc.Profile(r.Context(), a, r.PathValue("username"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, h.toUser(r, a, u))
	return nil
}

// createTokenOption is Gitea's CreateAccessTokenOption.
type createTokenOption struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	var opt createTokenOption
	if err := decode(r, &opt); err != nil {
		return err
	}
	var scopes depot.Scopes
	if len(opt.Scopes) > 0 {
		var err error
		if scopes, err = depot.ParseScopes(strings.Join(opt.Scopes, ",")); err != nil {
			return depot.Errorf(depot.ErrInvalid, "invalid access token scope provided: %s", depot.ErrorMessage(err))
		}
	}
	secret, t, err := h.svc.CreateTokenFor(r.Context(), a, r.PathValue("username"), strings.TrimSpace(opt.Name), scopes)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, toToken(t, secret))
	return nil
}

func (h *Handler) listTokens(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	tokens, err := h.svc.ListTokensFor(r.Context(), a, r.PathValue("username"))
	if err != nil {
		return err
	}
	page, size := listOptions(r)
	out := []apiToken{}
	for _, t := range paginate(tokens, page, size) {
		out = append(out, toToken(t, ""))
	}
	h.setPageHeaders(w, r, int64(len(tokens)), size)
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) deleteToken(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if err := h.svc.DeleteTokenFor(r.Context(), a, r.PathValue("username"), r.PathValue("token")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// createUserOption is the part of Gitea's CreateUserOption depot uses; the
// other fields (full_name, must_change_password, send_notify, login_name,
// source_id) are accepted and ignored.
type createUserOption struct {
	Username   string `json:"username"`
	Email      string `json:"email"`
	Password   string `json:"password"`
	Visibility string `json:"visibility"`
}

func (h *Handler) adminCreateUser(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	var opt createUserOption
	if err := decode(r, &opt); err != nil {
		return err
	}
	vis, err := visibility(opt.Visibility)
	if err != nil {
		return err
	}
	u, err := h.svc.CreateUserAs(r.Context(), a, depot.NewUser{Username: opt.Username, Email: opt.Email, Password: opt.Password, Visibility: vis})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, h.toUser(r, a, u))
	return nil
}

// adminListUsers answers GET /admin/users with Gitea's q (name or email
// contains), is_admin and is_active filters; its other filters and sort
// orders are not supported and are ignored.
func (h *Handler) adminListUsers(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	page, size := listOptions(r)
	q := depot.OwnerQuery{Search: r.FormValue("q"), Limit: size, Offset: (page - 1) * size}
	if v := r.FormValue("is_admin"); v != "" {
		admin := formBool(v)
		q.Admin = &admin
	}
	if v := r.FormValue("is_active"); v != "" {
		disabled := !formBool(v)
		q.Disabled = &disabled
	}
	res, err := h.svc.SearchUsersAs(r.Context(), a, q)
	if err != nil {
		return err
	}
	out := make([]apiUser, 0, len(res.Owners))
	for _, u := range res.Owners {
		out = append(out, h.toUser(r, a, u))
	}
	h.setPageHeaders(w, r, res.Total, size)
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// formBool reads a boolean parameter as Gitea's FormBool does: what
// strconv.ParseBool accepts, or "on"; anything else is false.
func formBool(s string) bool {
	v, _ := strconv.ParseBool(s)
	return v || strings.EqualFold(s, "on")
}

// editUserOption is the part of Gitea's EditUserOption depot reads. Its
// descriptive fields (full_name, website, location, description) and
// those of features depot lacks (allow_git_hook, allow_import_local,
// max_repo_creation, allow_create_organization) are accepted and ignored.
type editUserOption struct {
	SourceID           int64   `json:"source_id"`
	LoginName          string  `json:"login_name"`
	Email              *string `json:"email"`
	Password           string  `json:"password"`
	MustChangePassword *bool   `json:"must_change_password"`
	Active             *bool   `json:"active"`
	Admin              *bool   `json:"admin"`
	ProhibitLogin      *bool   `json:"prohibit_login"`
	Restricted         *bool   `json:"restricted"`
	Visibility         string  `json:"visibility"`
}

// check refuses, with Gitea's 422, what Gitea's binding refuses (an empty
// login_name) and what depot cannot do, rather than ignoring it: another
// authentication source or login name than the local account's, a new
// password or email, restrictions, a visibility.
func (o editUserOption) check(u *depot.User) error {
	refuse := func(format string, args ...any) error { return errBody{fmt.Errorf(format, args...)} }
	switch {
	case o.LoginName == "":
		return refuse("[LoginName]: Required")
	case o.SourceID != 0:
		return refuse("source_id must be 0: depot accounts are local")
	case !strings.EqualFold(o.LoginName, u.Name):
		return refuse("login_name must be %q: depot accounts sign in with their user name", u.Name)
	case o.Password != "":
		return refuse("depot does not change passwords through the API")
	case o.Email != nil:
		return refuse("depot does not change email addresses through the API")
	case o.MustChangePassword != nil && *o.MustChangePassword:
		return refuse("depot has no must_change_password")
	case o.Restricted != nil && *o.Restricted:
		return refuse("depot has no restricted users")
	case o.Visibility != "":
		return refuse("depot does not change a user's visibility through the API")
	}
	return nil
}

// disabled maps active and prohibit_login onto depot's one disabled flag:
// an account that is not active, or may not sign in, is disabled; nil when
// the request sets neither.
func (o editUserOption) disabled() *bool {
	var d *bool
	if o.Active != nil {
		v := !*o.Active
		d = &v
	}
	if o.ProhibitLogin != nil && (*o.ProhibitLogin || o.Active == nil) {
		v := *o.ProhibitLogin
		d = &v
	}
	return d
}

// adminEditUser answers PATCH /admin/users/{username} with the user as it
// now is.
func (h *Handler) adminEditUser(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	var opt editUserOption
	if err := decode(r, &opt); err != nil {
		return err
	}
	u, err := h.svc.EditUserAs(r.Context(), a, r.PathValue("username"), depot.UserEdit{
		IsAdmin: opt.Admin, Disabled: opt.disabled(), Check: opt.check,
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, h.toUser(r, a, u))
	return nil
}

// visibility parses Gitea's visibility names; depot has no "limited".
func visibility(s string) (depot.Visibility, error) {
	switch s {
	case "":
		return "", nil
	case "limited":
		return "", depot.Errorf(depot.ErrInvalid, "visibility %q is not supported by depot: use public or private", s)
	}
	return depot.ParseVisibility(s)
}

func (h *Handler) myOrgs(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	orgs, err := h.svc.MyOrgs(r.Context(), a)
	if err != nil {
		return err
	}
	h.writeOrgs(w, r, orgs)
	return nil
}

// userOrgs answers GET /users/{username}/orgs.
func (h *Handler) userOrgs(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	orgs, err := h.svc.UserOrgs(r.Context(), a, r.PathValue("username"))
	if err != nil {
		return err
	}
	h.writeOrgs(w, r, orgs)
	return nil
}

// writeOrgs writes the page of orgs the request asks for.
func (h *Handler) writeOrgs(w http.ResponseWriter, r *http.Request, orgs []*depot.Owner) {
	page, size := listOptions(r)
	out := []apiOrg{}
	for _, o := range paginate(orgs, page, size) {
		out = append(out, toOrg(o))
	}
	h.setPageHeaders(w, r, int64(len(orgs)), size)
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// orgs answers GET /orgs: the organizations the actor may find, by name.
func (h *Handler) orgs(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	page, size := listOptions(r)
	res, err := h.svc.Orgs(r.Context(), a, size, (page-1)*size)
	if err != nil {
		return err
	}
	out := make([]apiOrg, 0, len(res.Owners))
	for _, o := range res.Owners {
		out = append(out, toOrg(&o.Owner))
	}
	h.setPageHeaders(w, r, res.Total, size)
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

// orgMembers answers GET /orgs/{org}/members.
func (h *Handler) orgMembers(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	ms, err := h.svc.OrgMembers(r.Context(), a, r.PathValue("org"))
	if err != nil {
		return err
	}
	h.writeMembers(w, r, a, ms)
	return nil
}

// publicOrgMembers answers GET /orgs/{org}/public_members.
func (h *Handler) publicOrgMembers(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	ms, err := h.svc.PublicOrgMembers(r.Context(), a, r.PathValue("org"))
	if err != nil {
		return err
	}
	h.writeMembers(w, r, a, ms)
	return nil
}

func (h *Handler) writeMembers(w http.ResponseWriter, r *http.Request, a *depot.Actor, ms []*depot.OrgMember) {
	page, size := listOptions(r)
	out := []apiUser{}
	for _, m := range paginate(ms, page, size) {
		out = append(out, h.toUser(r, a, m.User))
	}
	h.setPageHeaders(w, r, int64(len(ms)), size)
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// createOrgOption is the part of Gitea's CreateOrgOption depot keeps; the
// descriptive fields are accepted and ignored.
type createOrgOption struct {
	Username   string `json:"username"`
	Visibility string `json:"visibility"`
}

func (h *Handler) createOrg(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	var opt createOrgOption
	if err := decode(r, &opt); err != nil {
		return err
	}
	vis, err := visibility(opt.Visibility)
	if err != nil {
		return err
	}
	o, err := h.svc.CreateOrgAs(r.Context(), a, opt.Username, vis)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, toOrg(o))
	return nil
}

func (h *Handler) org(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	o, err := h.svc.Org(r.Context(), a, r.PathValue("org"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, toOrg(o))
	return nil
}

// checkMember answers 204 for a member and 404 otherwise, as Gitea does.
// As Gitea's IsMember: 204 for a member; for a caller who may not see the
// organization's memberships, asking about someone else, a redirect to the
// public membership check (which answers 404: depot has none).
func (h *Handler) checkMember(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	org, username := r.PathValue("org"), r.PathValue("username")
	sees, err := h.svc.SeesMembers(r.Context(), a, org)
	if err != nil {
		return err
	}
	if !sees && !strings.EqualFold(username, a.User.Name) {
		http.Redirect(w, r, "/api/v1/orgs/"+url.PathEscape(org)+"/public_members/"+url.PathEscape(username), http.StatusFound)
		return nil
	}
	if _, err := h.svc.MemberRoleOf(r.Context(), a, org, username); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkPublicMember answers GET /orgs/{org}/public_members/{username}.
func (h *Handler) checkPublicMember(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	return h.svc.IsPublicMember(r.Context(), a, r.PathValue("org"), r.PathValue("username"))
}

// memberOption is the optional body of PUT /orgs/{org}/members/{username},
// a depot addition: Gitea adds members through teams.
type memberOption struct {
	Role string `json:"role"`
}

func (h *Handler) setMember(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	opt := memberOption{Role: "read"}
	if r.ContentLength != 0 {
		if err := decode(r, &opt); err != nil {
			return err
		}
		if opt.Role == "" {
			opt.Role = "read"
		}
	}
	role, err := depot.ParseRole(opt.Role)
	if err != nil {
		return err
	}
	if err := h.svc.SetMemberAs(r.Context(), a, r.PathValue("org"), r.PathValue("username"), role); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if err := h.svc.RemoveMemberAs(r.Context(), a, r.PathValue("org"), r.PathValue("username")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
