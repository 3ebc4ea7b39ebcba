package giteaapi

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// apiUser is Gitea's User (modules/structs/user.go).
type apiUser struct {
	ID            int64     `json:"id"`
	Login         string    `json:"login"`
	LoginName     string    `json:"login_name"`
	SourceID      int64     `json:"source_id"`
	FullName      string    `json:"full_name"`
	Email         string    `json:"email"`
	AvatarURL     string    `json:"avatar_url"`
	HTMLURL       string    `json:"html_url"`
	Language      string    `json:"language"`
	IsAdmin       bool      `json:"is_admin"`
	LastLogin     time.Time `json:"last_login"`
	Created       time.Time `json:"created"`
	Restricted    bool      `json:"restricted"`
	Active        bool      `json:"active"`
	ProhibitLogin bool      `json:"prohibit_login"`
	Location      string    `json:"location"`
	Website       string    `json:"website"`
	Description   string    `json:"description"`
	Visibility    string    `json:"visibility"`
	Followers     int       `json:"followers_count"`
	Following     int       `json:"following_count"`
	StarredRepos  int       `json:"starred_repos_count"`
	Username      string    `json:"username"`
}

// ghost stands for an account that no longer exists, as in Gitea.
var ghost = &depot.User{Owner: depot.Owner{ID: -1, Name: "Ghost", Kind: depot.KindUser, Visibility: depot.Public}}

// toUser shapes u for actor a as Gitea's convert.ToUser does: the email
// only for signed-in viewers (a placeholder otherwise); the admin flag,
// activity and login details only for u itself and site admins.
func (h *Handler) toUser(r *http.Request, a *depot.Actor, u *depot.User) apiUser {
	if u == nil {
		u = ghost
	}
	out := apiUser{
		ID:         u.ID,
		Login:      u.Name,
		Username:   u.Name,
		Email:      strings.ToLower(u.Name) + "@" + h.noReplyDomain(r),
		HTMLURL:    h.appURL(r) + url.PathEscape(u.Name),
		Created:    u.CreatedAt,
		Visibility: string(u.Visibility),
	}
	if !a.IsAnonymous() && u.Email != "" {
		out.Email = u.Email
	}
	if a.SeesPrivateDetails(&u.Owner) {
		out.IsAdmin = u.IsAdmin
		out.LoginName = u.Name
		out.Active = !u.Disabled
		out.ProhibitLogin = u.Disabled
		out.LastLogin = u.CreatedAt
	}
	return out
}

// apiOrg is Gitea's Organization (modules/structs/org.go). depot keeps an
// organization's name and visibility; the descriptive fields are empty.
type apiOrg struct {
	ID                        int64  `json:"id"`
	Name                      string `json:"name"`
	FullName                  string `json:"full_name"`
	Email                     string `json:"email"`
	AvatarURL                 string `json:"avatar_url"`
	Description               string `json:"description"`
	Website                   string `json:"website"`
	Location                  string `json:"location"`
	Visibility                string `json:"visibility"`
	RepoAdminChangeTeamAccess bool   `json:"repo_admin_change_team_access"`
	Username                  string `json:"username"` // deprecated in Gitea, still sent
}

func toOrg(o *depot.Owner) apiOrg {
	return apiOrg{ID: o.ID, Name: o.Name, Username: o.Name, Visibility: string(o.Visibility)}
}

// apiRepository is the part of Gitea's Repository that a depot project
// fills: identity, owner, visibility and times.
type apiRepository struct {
	ID            int64     `json:"id"`
	Owner         apiUser   `json:"owner"`
	Name          string    `json:"name"`
	FullName      string    `json:"full_name"`
	Description   string    `json:"description"`
	Empty         bool      `json:"empty"`
	Private       bool      `json:"private"`
	Fork          bool      `json:"fork"`
	Template      bool      `json:"template"`
	Mirror        bool      `json:"mirror"`
	Size          int       `json:"size"`
	HTMLURL       string    `json:"html_url"`
	Website       string    `json:"website"`
	DefaultBranch string    `json:"default_branch"`
	Archived      bool      `json:"archived"`
	Created       time.Time `json:"created_at"`
	Updated       time.Time `json:"updated_at"`
	HasPackages   bool      `json:"has_packages"`
	Internal      bool      `json:"internal"`
}

// apiPackage is Gitea's Package (modules/structs/package.go): one version
// of a package; its id is the version's.
type apiPackage struct {
	ID         int64          `json:"id"`
	Owner      apiUser        `json:"owner"`
	Repository *apiRepository `json:"repository"`
	Creator    apiUser        `json:"creator"`
	Type       string         `json:"type"`
	Name       string         `json:"name"`
	Version    string         `json:"version"`
	HTMLURL    string         `json:"html_url"`
	CreatedAt  time.Time      `json:"created_at"`
}

// ownerUser presents an owner (user or organization) as Gitea's User.
func (h *Handler) ownerUser(r *http.Request, a *depot.Actor, o *depot.Owner) apiUser {
	return h.toUser(r, a, &depot.User{Owner: *o})
}

// toPackage shapes a version as Gitea's convert.ToPackage. Its html_url is
// Gitea's package page address, {app}/{owner}/-/packages/{type}/{name}/{version}.
func (h *Handler) toPackage(r *http.Request, a *depot.Actor, owner *depot.Owner, pv *depot.PackageVersion) apiPackage {
	base := h.appURL(r) + url.PathEscape(owner.Name)
	out := apiPackage{
		ID:      pv.Version.ID,
		Owner:   h.ownerUser(r, a, owner),
		Creator: h.toUser(r, a, pv.Creator),
		Type:    string(pv.Package.Type),
		Name:    pv.Package.Name,
		Version: pv.Version.Version,
		HTMLURL: base + "/-/packages/" + string(pv.Package.Type) + "/" + url.PathEscape(strings.ToLower(pv.Package.Name)) +
			"/" + url.PathEscape(strings.ToLower(pv.Version.Version)),
		CreatedAt: pv.Version.CreatedAt,
	}
	if p := pv.Project; p != nil {
		out.Repository = &apiRepository{
			ID:          p.ID,
			Owner:       out.Owner,
			Name:        p.Name,
			FullName:    owner.Name + "/" + p.Name,
			Private:     p.EffectiveVisibility(owner) == depot.Private,
			HTMLURL:     base + "/" + url.PathEscape(p.Name),
			Created:     p.CreatedAt,
			Updated:     p.CreatedAt,
			HasPackages: true,
		}
	}
	return out
}

// apiPackageFile is Gitea's PackageFile.
type apiPackageFile struct {
	ID     int64  `json:"id"`
	Size   int64  `json:"size"`
	Name   string `json:"name"`
	MD5    string `json:"md5"`
	SHA1   string `json:"sha1"`
	SHA256 string `json:"sha256"`
	SHA512 string `json:"sha512"`
}

func toFile(f *depot.File) apiPackageFile {
	return apiPackageFile{ID: f.ID, Size: f.Blob.Size, Name: f.Name, MD5: f.Blob.MD5, SHA1: f.Blob.SHA1, SHA256: f.Blob.SHA256, SHA512: f.Blob.SHA512}
}

// apiToken is Gitea's AccessToken; sha1 holds the secret only in the answer
// that created it.
type apiToken struct {
	ID             int64     `json:"id"`
	Name           string    `json:"name"`
	Token          string    `json:"sha1"`
	TokenLastEight string    `json:"token_last_eight"`
	Scopes         []string  `json:"scopes"`
	Created        time.Time `json:"created_at"`
	Updated        time.Time `json:"last_used_at"`
}

func toToken(t *depot.Token, secret string) apiToken {
	scopes := make([]string, len(t.Scopes))
	for i, s := range t.Scopes {
		scopes[i] = string(s)
	}
	return apiToken{ID: t.ID, Name: t.Name, Token: secret, TokenLastEight: t.LastEight, Scopes: scopes, Created: t.CreatedAt, Updated: t.CreatedAt}
}
