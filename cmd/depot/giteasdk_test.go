package main

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"code.gitea.io/sdk/gitea"
)

// TestGiteaSDK drives a real depot server with the Gitea Go SDK through the
// whole flow of the v1 API: an admin creates a user, the user creates a token
// with basic auth and an organization, publishes through the generic
// packages dialect, lists with paging, gets versions, files (with checksums
// of the uploaded bytes) and the latest version, links and unlinks a
// project, deletes a version, lists organization members, a user's and all
// organizations, lists users and changes their flags as an admin, and finds
// token scopes enforced.
func TestGiteaSDK(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DEPOT_DATA_DIR": dir}
	mustCLI := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, args...)
		if code != 0 {
			t.Fatalf("depot %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return strings.TrimSpace(out)
	}
	m := MustRunMain(t, Config{DataDir: dir, DatabaseURL: "sqlite://" + filepath.Join(dir, "depot.db")})
	base := "http://" + m.Addr()
	mustCLI("admin", "user", "create", "--username", "root", "--password", "root-password", "--email", "root@example.com", "--admin")

	client := func(opts ...gitea.ClientOption) *gitea.Client {
		t.Helper()
		c, err := gitea.NewClient(base, opts...)
		if err != nil {
			t.Fatalf("gitea.NewClient: %v", err)
		}
		return c
	}
	// The SDK checks the server's version when it connects.
	root := client(gitea.SetBasicAuth("root", "root-password"))
	if v, _, err := root.ServerVersion(); err != nil || !strings.HasPrefix(v, "1.") {
		t.Fatalf("ServerVersion = %q, %v", v, err)
	}
	if err := root.CheckServerVersionConstraint(">= 1.24.0"); err != nil {
		t.Fatalf("version constraint: %v", err)
	}

	// An admin creates a user; the user creates a token with its password.
	mustChange := false
	if _, _, err := root.AdminCreateUser(gitea.CreateUserOption{Username: "alice", Email: "alice@example.com", Password: "alice-password", MustChangePassword: &mustChange}); err != nil {
		t.Fatalf("AdminCreateUser: %v", err)
	}
	aliceBasic := client(gitea.SetBasicAuth("alice", "alice-password"))
	tok, _, err := aliceBasic.CreateAccessToken(gitea.CreateAccessTokenOption{
		Name: "sdk",
		// The SDK's AccessTokenScopeWriteOrg is a pre-1.20 name that Gitea
		// no longer accepts.
		Scopes: []gitea.AccessTokenScope{gitea.AccessTokenScopeWritePackage, "write:organization", gitea.AccessTokenScopeReadUser},
	})
	if err != nil {
		t.Fatalf("CreateAccessToken: %v", err)
	}
	if len(tok.Token) != 40 || tok.TokenLastEight != tok.Token[32:] {
		t.Fatalf("token = %+v: want a 40-character secret once", tok)
	}
	alice := client(gitea.SetToken(tok.Token))
	me, _, err := alice.GetMyUserInfo()
	if err != nil || me.UserName != "alice" || me.Email != "alice@example.com" || me.IsAdmin {
		t.Fatalf("GetMyUserInfo = %+v, %v", me, err)
	}

	// An organization.
	org, _, err := alice.CreateOrg(gitea.CreateOrgOption{Name: "acme", Visibility: gitea.VisibleTypePublic})
	if err != nil || org.Name != "acme" || org.ID == 0 {
		t.Fatalf("CreateOrg = %+v, %v", org, err)
	}
	if got, _, err := alice.GetOrg("ACME"); err != nil || got.ID != org.ID {
		t.Fatalf("GetOrg = %+v, %v", got, err)
	}
	if orgs, _, err := alice.ListMyOrgs(gitea.ListOrgsOptions{}); err != nil || len(orgs) != 1 || orgs[0].Name != "acme" {
		t.Fatalf("ListMyOrgs = %v, %v", orgs, err)
	}

	// Publish through the generic dialect: files whose checksums the v1 API
	// must report, one version with two files, several packages.
	type upload struct{ pkg, version, file string }
	uploads := []upload{
		{"tool", "1.2.0", "tool.tar.gz"}, {"tool", "1.10.0", "tool.tar.gz"}, {"tool", "1.10.0", "tool.zip"},
		{"tool", "1.9.0", "tool.tar.gz"}, {"docs", "2024.1", "docs.zip"}, {"cfg", "1", "cfg.json"},
	}
	contents := map[upload][]byte{}
	for i, u := range uploads {
		body := bytes.Repeat([]byte(fmt.Sprintf("%s %s %s #%d\n", u.pkg, u.version, u.file, i)), 1000+i)
		contents[u] = body
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/api/packages/acme/generic/%s/%s/%s", base, u.pkg, u.version, u.file), bytes.NewReader(body))
		req.SetBasicAuth("alice", tok.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %v: %d", u, resp.StatusCode)
		}
	}
	// Newest first, one entry per version.
	wantAll := []string{"cfg@1", "docs@2024.1", "tool@1.9.0", "tool@1.10.0", "tool@1.2.0"}

	// List with paging: follow the Link header's next page to the end.
	var listed []string
	opt := gitea.ListPackagesOptions{ListOptions: gitea.ListOptions{Page: 1, PageSize: 2}}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		pkgs, resp, err := alice.ListPackages("acme", opt)
		if err != nil {
			t.Fatalf("ListPackages(page %d): %v", opt.Page, err)
		}
		if total := resp.Header.Get("X-Total-Count"); total != strconv.Itoa(len(wantAll)) {
			t.Errorf("X-Total-Count = %q, want %d", total, len(wantAll))
		}
		if opt.Page == 1 && (resp.NextPage != 2 || resp.LastPage != 3) {
			t.Errorf("first page: next %d, last %d; want 2 and 3", resp.NextPage, resp.LastPage)
		}
		for _, p := range pkgs {
			listed = append(listed, p.Name+"@"+p.Version)
			if p.Owner == nil || p.Owner.UserName != "acme" || p.Creator == nil || p.Creator.UserName != "alice" || p.Type != "generic" {
				t.Errorf("listed package %+v: want owner acme, creator alice, type generic", p)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	if !slices.Equal(listed, wantAll) {
		t.Errorf("paged listing = %q, want %q", listed, wantAll)
	}
	if pkgs, _, err := alice.ListPackages("acme", gitea.ListPackagesOptions{Q: "too", Type: "generic"}); err != nil || len(pkgs) != 3 {
		t.Errorf("ListPackages(q=too) = %d packages, %v; want 3", len(pkgs), err)
	}
	versions, _, err := alice.ListPackageVersions("acme", "generic", "tool", gitea.ListPackagesOptions{})
	if err != nil || len(versions) != 3 || versions[0].Version != "1.9.0" {
		t.Fatalf("ListPackageVersions = %v, %v", versions, err)
	}

	// Get one version and its files; the checksums are the uploaded bytes'.
	pkg, _, err := alice.GetPackage("acme", "generic", "tool", "1.10.0")
	if err != nil {
		t.Fatalf("GetPackage: %v", err)
	}
	if pkg.Name != "tool" || pkg.Version != "1.10.0" || pkg.Creator.UserName != "alice" || pkg.Repository != nil ||
		pkg.HTMLURL != base+"/acme/-/packages/generic/tool/1.10.0" || pkg.CreatedAt.IsZero() {
		t.Errorf("GetPackage = %+v", pkg)
	}
	files, _, err := alice.ListPackageFiles("acme", "generic", "tool", "1.10.0")
	if err != nil || len(files) != 2 {
		t.Fatalf("ListPackageFiles = %v, %v; want 2 files", files, err)
	}
	for i, name := range []string{"tool.tar.gz", "tool.zip"} {
		body := contents[upload{"tool", "1.10.0", name}]
		f := files[i]
		md, s1, s256, s512 := md5.Sum(body), sha1.Sum(body), sha256.Sum256(body), sha512.Sum512(body)
		if f.Name != name || f.Size != int64(len(body)) || f.MD5 != hex.EncodeToString(md[:]) || f.SHA1 != hex.EncodeToString(s1[:]) ||
			f.SHA256 != hex.EncodeToString(s256[:]) || f.SHA512 != hex.EncodeToString(s512[:]) {
			t.Errorf("file %d = %+v, want %s with the uploaded bytes' size and digests", i, f, name)
		}
	}

	// Latest: the highest semantic version, not the newest upload.
	latest, _, err := alice.GetLatestPackage("acme", "generic", "tool")
	if err != nil || latest.Version != "1.10.0" || latest.ID != pkg.ID {
		t.Errorf("GetLatestPackage = %+v, %v; want 1.10.0", latest, err)
	}

	// Link to a project made with the admin CLI, then unlink.
	projectID := mustCLI("admin", "project", "create", "--owner", "acme", "--name", "tool-src")
	if _, err := alice.LinkPackage("acme", "generic", "tool", "tool-src"); err != nil {
		t.Fatalf("LinkPackage: %v", err)
	}
	pkg, _, err = alice.GetPackage("acme", "generic", "tool", "1.2.0")
	if err != nil || pkg.Repository == nil || pkg.Repository.Name != "tool-src" || strconv.FormatInt(pkg.Repository.ID, 10) != projectID ||
		pkg.Repository.FullName != "acme/tool-src" || pkg.Repository.Owner == nil || pkg.Repository.Owner.UserName != "acme" {
		t.Fatalf("linked package = %+v (repository %+v), %v; want project %s", pkg, pkg.Repository, err, projectID)
	}
	if resp, err := alice.LinkPackage("acme", "generic", "tool", "tool-src"); err == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("LinkPackage of a linked package: %v, want 400", err)
	}
	if resp, err := alice.UnlinkPackage("acme", "generic", "tool"); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("UnlinkPackage: %v, %v; want 204", resp, err)
	}
	if pkg, _, err = alice.GetPackage("acme", "generic", "tool", "1.2.0"); err != nil || pkg.Repository != nil {
		t.Fatalf("unlinked package repository = %+v, %v", pkg.Repository, err)
	}
	if resp, err := alice.LinkPackage("acme", "generic", "tool", "nope"); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("LinkPackage to a missing project: %v, want 404", err)
	}

	// A read-only token lists but may not delete.
	readTok, _, err := aliceBasic.CreateAccessToken(gitea.CreateAccessTokenOption{Name: "ro", Scopes: []gitea.AccessTokenScope{gitea.AccessTokenScopeReadPackage}})
	if err != nil {
		t.Fatal(err)
	}
	ro := client(gitea.SetToken(readTok.Token))
	if _, _, err := ro.ListPackages("acme", gitea.ListPackagesOptions{}); err != nil {
		t.Errorf("ListPackages with read:package: %v", err)
	}
	resp, err := ro.DeletePackage("acme", "generic", "tool", "1.9.0")
	if err == nil || resp.StatusCode != http.StatusForbidden || !strings.Contains(err.Error(), "token does not have at least one of required scope(s), required=[write:package]") {
		t.Errorf("DeletePackage with read:package: %v (status %v); want 403 naming write:package", err, resp)
	}
	if _, _, err := ro.GetMyUserInfo(); err == nil {
		t.Errorf("GetMyUserInfo without read:user succeeded")
	}

	// Delete a version.
	if _, err := alice.DeletePackage("acme", "generic", "tool", "1.9.0"); err != nil {
		t.Fatalf("DeletePackage: %v", err)
	}
	if _, resp, err := alice.GetPackage("acme", "generic", "tool", "1.9.0"); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GetPackage after delete: %v, want 404", err)
	}
	if latest, _, err := alice.GetLatestPackage("acme", "generic", "tool"); err != nil || latest.Version != "1.10.0" {
		t.Errorf("GetLatestPackage after delete = %+v, %v", latest, err)
	}

	// Organization membership: a depot PUT adds a member; the SDK checks
	// and removes it.
	mustCLI("admin", "user", "create", "--username", "bob", "--password", "bob-password", "--email", "bob@example.com")
	req, _ := http.NewRequest(http.MethodPut, base+"/api/v1/orgs/acme/members/bob", strings.NewReader(`{"role":"write"}`))
	req.Header.Set("Authorization", "token "+tok.Token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT member: %v, %v", resp, err)
	}
	if ok, _, err := alice.CheckOrgMembership("acme", "bob"); err != nil || !ok {
		t.Errorf("CheckOrgMembership(bob) = %v, %v; want true", ok, err)
	}
	logins := func(us []*gitea.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.UserName)
		}
		return out
	}
	orgNames := func(os []*gitea.Organization) []string {
		var out []string
		for _, o := range os {
			out = append(out, o.Name)
		}
		return out
	}
	// Members see every member; depot has no public memberships.
	if ms, resp, err := alice.ListOrgMembership("acme", gitea.ListOrgMembershipOption{}); err != nil ||
		!slices.Equal(logins(ms), []string{"alice", "bob"}) || resp.Header.Get("X-Total-Count") != "2" {
		t.Errorf("ListOrgMembership = %q, %v", logins(ms), err)
	}
	if ms, _, err := alice.ListOrgMembership("acme", gitea.ListOrgMembershipOption{ListOptions: gitea.ListOptions{Page: 2, PageSize: 1}}); err != nil ||
		!slices.Equal(logins(ms), []string{"bob"}) {
		t.Errorf("ListOrgMembership(page 2 of 1) = %q, %v", logins(ms), err)
	}
	if ms, _, err := alice.ListPublicOrgMembership("acme", gitea.ListOrgMembershipOption{}); err != nil || len(ms) != 0 {
		t.Errorf("ListPublicOrgMembership = %q, %v; want none", logins(ms), err)
	}
	// A user's organizations: to itself and to site admins.
	bobBasic := client(gitea.SetBasicAuth("bob", "bob-password"))
	if os, _, err := bobBasic.ListUserOrgs("bob", gitea.ListOrgsOptions{}); err != nil || !slices.Equal(orgNames(os), []string{"acme"}) {
		t.Errorf("ListUserOrgs(bob) as bob = %q, %v", orgNames(os), err)
	}
	if os, _, err := root.ListUserOrgs("bob", gitea.ListOrgsOptions{}); err != nil || !slices.Equal(orgNames(os), []string{"acme"}) {
		t.Errorf("ListUserOrgs(bob) as root = %q, %v", orgNames(os), err)
	}
	if os, _, err := bobBasic.ListUserOrgs("alice", gitea.ListOrgsOptions{}); err != nil || len(os) != 0 {
		t.Errorf("ListUserOrgs(alice) as bob = %q, %v; want none", orgNames(os), err)
	}
	// Public organizations, to anyone.
	if os, _, err := client().ListOrgs(gitea.ListOrgsOptions{}); err != nil || !slices.Equal(orgNames(os), []string{"acme"}) {
		t.Errorf("ListOrgs anonymously = %q, %v", orgNames(os), err)
	}

	// A site admin lists users and changes their flags.
	if us, resp, err := root.AdminListUsers(gitea.AdminListUsersOptions{}); err != nil ||
		!slices.Equal(logins(us), []string{"alice", "bob", "root"}) || resp.Header.Get("X-Total-Count") != "3" {
		t.Errorf("AdminListUsers = %q, %v", logins(us), err)
	}
	yes, no := true, false
	if us, _, err := root.AdminListUsers(gitea.AdminListUsersOptions{IsAdmin: &yes}); err != nil || !slices.Equal(logins(us), []string{"root"}) {
		t.Errorf("AdminListUsers(admins) = %q, %v", logins(us), err)
	}
	if _, _, err := alice.AdminListUsers(gitea.AdminListUsersOptions{}); err == nil {
		t.Errorf("AdminListUsers as alice succeeded")
	}
	if _, err := root.AdminEditUser("bob", gitea.EditUserOption{LoginName: "bob", Admin: &yes}); err != nil {
		t.Fatalf("AdminEditUser(admin): %v", err)
	}
	if us, _, err := bobBasic.AdminListUsers(gitea.AdminListUsersOptions{Query: "ALI"}); err != nil || !slices.Equal(logins(us), []string{"alice"}) {
		t.Errorf("AdminListUsers(q=ALI) as the new admin bob = %q, %v", logins(us), err)
	}
	if _, err := root.AdminEditUser("bob", gitea.EditUserOption{LoginName: "bob", Admin: &no, Active: &no}); err != nil {
		t.Fatalf("AdminEditUser(inactive): %v", err)
	}
	if _, resp, err := bobBasic.GetMyUserInfo(); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("inactive bob signs in: %v, want 401", err)
	}
	if us, _, err := root.AdminListUsers(gitea.AdminListUsersOptions{IsActive: &no}); err != nil || len(us) != 1 || us[0].UserName != "bob" || us[0].IsActive || us[0].IsAdmin {
		t.Errorf("AdminListUsers(inactive) = %+v, %v; want bob, neither active nor admin", us, err)
	}
	if _, err := root.AdminEditUser("bob", gitea.EditUserOption{LoginName: "bob", Active: &yes}); err != nil {
		t.Fatalf("AdminEditUser(active): %v", err)
	}
	if me, _, err := bobBasic.GetMyUserInfo(); err != nil || me.UserName != "bob" || me.IsAdmin || !me.IsActive {
		t.Errorf("reactivated bob = %+v, %v", me, err)
	}
	if resp, err := root.AdminEditUser("bob", gitea.EditUserOption{Admin: &yes}); err == nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("AdminEditUser without login_name: %v, want 422", err)
	}
	if resp, err := root.AdminEditUser("root", gitea.EditUserOption{LoginName: "root", Admin: &no}); err == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("AdminEditUser demoting oneself: %v, want 400", err)
	}
	if _, err := alice.DeleteOrgMembership("acme", "bob"); err != nil {
		t.Errorf("DeleteOrgMembership: %v", err)
	}
	if ok, _, err := alice.CheckOrgMembership("acme", "bob"); err != nil || ok {
		t.Errorf("CheckOrgMembership(bob) after removal = %v, %v; want false", ok, err)
	}

	// Tokens: listed without secrets, deleted by name, then refused.
	list, _, err := aliceBasic.ListAccessTokens(gitea.ListAccessTokensOptions{})
	if err != nil || len(list) != 2 || list[0].Token != "" {
		t.Fatalf("ListAccessTokens = %v, %v", list, err)
	}
	if _, err := aliceBasic.DeleteAccessToken("sdk"); err != nil {
		t.Fatalf("DeleteAccessToken: %v", err)
	}
	if _, resp, err := alice.GetMyUserInfo(); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("deleted token: %v, want 401", err)
	}
}
