package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

var tokenScopes = []depot.Scope{depot.ScopeReadPackage, depot.ScopeWritePackage, depot.ScopeReadUser, depot.ScopeWriteUser,
	depot.ScopeReadOrganization, depot.ScopeWriteOrganization, depot.ScopeAll}

var tokenExpiries = []struct {
	Value string
	Label string
	D     time.Duration
}{
	{"30d", "30 days", 30 * 24 * time.Hour},
	{"7d", "7 days", 7 * 24 * time.Hour},
	{"90d", "90 days", 90 * 24 * time.Hour},
	{"365d", "1 year", 365 * 24 * time.Hour},
	{"never", "Never", 0},
}

type tokensData struct {
	Tokens   []*depot.Token
	Scopes   []depot.Scope
	Expiries any
	Secret   string
	NewName  string
	Error    string
	Now      time.Time
}

func (h *Handler) tokensPage(w http.ResponseWriter, r *http.Request, a *depot.Actor, status int, d tokensData) error {
	ts, err := h.svc.ListTokensFor(r.Context(), a, a.User.Name)
	if err != nil {
		return err
	}
	d.Tokens, d.Scopes, d.Expiries, d.Now = ts, tokenScopes, tokenExpiries, time.Now()
	fromContext(r).nav = "tokens"
	return h.render(w, r, status, "tokens", "Access tokens", d)
}

func (h *Handler) tokens(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	return h.tokensPage(w, r, a, http.StatusOK, tokensData{})
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	var scopes depot.Scopes
	for _, s := range r.PostForm["scope"] {
		scopes = append(scopes, depot.Scope(s))
	}
	parsed, err := depot.ParseScopes(scopes.String())
	if err != nil {
		return h.tokensPage(w, r, a, http.StatusBadRequest, tokensData{Error: depot.ErrorMessage(err), NewName: name})
	}
	expiry := time.Duration(-1)
	for _, e := range tokenExpiries {
		if e.Value == r.PostFormValue("expiry") {
			expiry = e.D
		}
	}
	if expiry < 0 {
		return h.tokensPage(w, r, a, http.StatusBadRequest, tokensData{Error: "Choose an expiry.", NewName: name})
	}
	secret, _, err := h.svc.CreateTokenExpiring(r.Context(), a, name, parsed, expiry)
	if err != nil {
		if msg := depot.ErrorMessage(err); msg != "" {
			return h.tokensPage(w, r, a, http.StatusBadRequest, tokensData{Error: msg, NewName: name})
		}
		return err
	}
	// The secret is shown in this response only; it is never stored.
	return h.tokensPage(w, r, a, http.StatusCreated, tokensData{Secret: secret, NewName: name})
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	if err := h.svc.DeleteTokenFor(r.Context(), a, a.User.Name, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/-/settings/tokens", http.StatusSeeOther)
	return nil
}

type adminData struct {
	Users []*depot.User
	Error string
}

func (h *Handler) adminPage(w http.ResponseWriter, r *http.Request, a *depot.Actor, status int, d adminData) error {
	users, err := h.svc.UsersAs(r.Context(), a)
	if err != nil {
		return err
	}
	d.Users = users
	fromContext(r).nav = "admin"
	return h.render(w, r, status, "admin", "Site administration", d)
}

func (h *Handler) admin(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	return h.adminPage(w, r, a, http.StatusOK, adminData{})
}

func (h *Handler) adminCreateUser(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	vis := depot.Public
	if r.PostFormValue("private") != "" {
		vis = depot.Private
	}
	_, err := h.svc.CreateUserAs(r.Context(), a, depot.NewUser{
		Username: strings.TrimSpace(r.PostFormValue("username")), Email: strings.TrimSpace(r.PostFormValue("email")),
		Password: r.PostFormValue("password"), Admin: r.PostFormValue("admin") != "", Visibility: vis,
	})
	if err != nil {
		if msg := depot.ErrorMessage(err); msg != "" && !isAuthErr(err) {
			return h.adminPage(w, r, a, http.StatusBadRequest, adminData{Error: msg})
		}
		return err
	}
	http.Redirect(w, r, "/-/admin", http.StatusSeeOther)
	return nil
}

func (h *Handler) adminSetFlags(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	err := h.svc.SetUserFlagsAs(r.Context(), a, r.PathValue("user"), r.PostFormValue("admin") == "on", r.PostFormValue("disabled") == "on")
	if err != nil {
		if msg := depot.ErrorMessage(err); msg != "" && !isAuthErr(err) {
			return h.adminPage(w, r, a, http.StatusBadRequest, adminData{Error: msg})
		}
		return err
	}
	http.Redirect(w, r, "/-/admin", http.StatusSeeOther)
	return nil
}

func isAuthErr(err error) bool {
	return errors.Is(err, depot.ErrUnauthenticated) || errors.Is(err, depot.ErrForbidden)
}

type membersData struct {
	Org     *depot.Owner
	Members []*depot.OrgMember
	Roles   []depot.Role
	Error   string
}

func (h *Handler) membersPage(w http.ResponseWriter, r *http.Request, a *depot.Actor, status int, d membersData) error {
	org, ms, err := h.svc.OrgMembersAs(r.Context(), a, r.PathValue("owner"))
	if err != nil {
		return err
	}
	d.Org, d.Members, d.Roles = org, ms, []depot.Role{depot.AccessRead, depot.AccessWrite, depot.AccessAdmin}
	return h.render(w, r, status, "members", org.Name+" members", d)
}

func (h *Handler) members(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	return h.membersPage(w, r, a, http.StatusOK, membersData{})
}

func (h *Handler) setMember(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	role, err := depot.ParseRole(r.PostFormValue("role"))
	if err == nil {
		err = h.svc.SetMemberAs(r.Context(), a, r.PathValue("owner"), strings.TrimSpace(r.PostFormValue("username")), role)
	}
	if err != nil {
		if msg := depot.ErrorMessage(err); msg != "" && !isAuthErr(err) {
			return h.membersPage(w, r, a, http.StatusBadRequest, membersData{Error: msg})
		}
		return err
	}
	http.Redirect(w, r, "/"+url.PathEscape(r.PathValue("owner"))+"/-/members", http.StatusSeeOther)
	return nil
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	if err := h.svc.RemoveMemberAs(r.Context(), a, r.PathValue("owner"), r.PathValue("user")); err != nil {
		if msg := depot.ErrorMessage(err); msg != "" && !isAuthErr(err) {
			return h.membersPage(w, r, a, http.StatusConflict, membersData{Error: msg})
		}
		return err
	}
	http.Redirect(w, r, "/"+url.PathEscape(r.PathValue("owner"))+"/-/members", http.StatusSeeOther)
	return nil
}
