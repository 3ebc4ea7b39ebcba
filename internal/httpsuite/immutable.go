package httpsuite

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// testImmutable covers immutable versions: the setting's API (who may set
// it, bad input), the grace window, and every way to change a sealed
// version refused with 409 naming the setting (Gitea generic upload and
// deletes, v1 version and package deletes, GitLab upload and deletes),
// while site admins pass.
func (fx *fixture) testImmutable(t *testing.T) {
	ctx := context.Background()
	svc := fx.env.Service
	if _, err := svc.CreateUser(ctx, depot.NewUser{Username: "iuser", Email: "iuser@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	u := basic("iuser", pw)
	secret, _, err := svc.CreateToken(ctx, "iuser", "ci", depot.Scopes{depot.ScopeWritePackage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ut := header("Bearer " + secret)
	settings := "/api/depot/owners/iuser/settings"

	for _, c := range []struct {
		name, body string
		a          auth
		want       int
	}{
		{"negative grace", `{"immutable_versions": true, "immutable_grace_seconds": -1}`, u, 400},
		{"grace too long", `{"immutable_versions": true, "immutable_grace_seconds": 99999999}`, u, 400},
		{"not JSON", `on`, u, 400},
		{"token without write:user", `{"immutable_versions": true}`, ut, 403},
		{"another user", `{"immutable_versions": true}`, basic("alice", pw), 403}, // alice may see iuser (public) but not change it
		{"anonymous", `{"immutable_versions": true}`, anon(), 401},
	} {
		resp, body := fx.do(t, http.MethodPut, settings, c.a, []byte(c.body))
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d; body %s", c.name, resp.StatusCode, c.want, body)
		}
	}
	if _, body := fx.mustStatus(t, http.StatusOK, http.MethodGet, settings, u, nil); !strings.Contains(string(body), `"immutable_versions":false`) {
		t.Fatalf("settings after refused changes: %s", body)
	}

	// A grace window of an hour: a pipeline adds files one request at a time.
	fx.mustStatus(t, http.StatusOK, http.MethodPut, settings, u, []byte(`{"immutable_versions": true, "immutable_grace_seconds": 3600}`))
	for _, f := range []string{"a", "b", "c"} {
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, pkgPath("iuser", "app", "1.0", f), u, []byte(f))
	}
	fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, pkgPath("iuser", "app", "1.0", "c"), u, nil)
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, pkgPath("iuser", "app", "2.0", "a"), u, []byte("two"))
	p, err := svc.CreateProject(ctx, "iuser", "tools", "")
	if err != nil {
		t.Fatal(err)
	}
	gl := fmt.Sprintf("/api/v4/projects/%d/packages", p.ID)
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, gl+"/generic/glpkg/1.0/x", ut, []byte("x"))

	// No grace: every existing version is sealed now.
	fx.mustStatus(t, http.StatusOK, http.MethodPut, settings, u, []byte(`{"immutable_versions": true, "immutable_grace_seconds": 0}`))
	pv := func(name, version string) *depot.PackageVersion {
		_, v, err := svc.PackageVersion(ctx, &depot.Actor{User: &depot.User{Owner: depot.Owner{ID: -1}, IsAdmin: true}}, depot.VersionRef{Owner: "iuser", Type: depot.TypeGeneric, Package: name, Version: version})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	glVersion := pv("glpkg", "1.0").Version.ID
	files, err := svc.VersionFiles(ctx, &depot.Actor{User: &depot.User{IsAdmin: true}}, depot.VersionRef{Owner: "iuser", Type: depot.TypeGeneric, Package: "glpkg", Version: "1.0"})
	if err != nil || len(files) != 1 {
		t.Fatalf("glpkg files: %v %v", files, err)
	}
	for _, c := range []struct {
		name, method, path string
		a                  auth
		body               []byte
	}{
		{"Gitea new file", http.MethodPut, pkgPath("iuser", "app", "1.0", "d"), u, []byte("d")},
		{"Gitea delete file", http.MethodDelete, pkgPath("iuser", "app", "1.0", "a"), u, nil},
		{"Gitea delete version", http.MethodDelete, pkgPath("iuser", "app", "1.0", ""), u, nil},
		{"v1 delete version", http.MethodDelete, "/api/v1/packages/iuser/generic/app/1.0", ut, nil},
		{"v1 delete package", http.MethodDelete, "/api/v1/packages/iuser/generic/app", ut, nil},
		{"GitLab new file", http.MethodPut, gl + "/generic/glpkg/1.0/y", ut, []byte("y")},
		{"GitLab replace file", http.MethodPut, gl + "/generic/glpkg/1.0/x", ut, []byte("x2")},
		{"GitLab delete package", http.MethodDelete, fmt.Sprintf("%s/%d", gl, glVersion), ut, nil},
		{"GitLab delete file", http.MethodDelete, fmt.Sprintf("%s/%d/package_files/%d", gl, glVersion, files[0].ID), ut, nil},
	} {
		resp, body := fx.do(t, c.method, c.path, c.a, c.body)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "immutable (owner setting immutable_versions") {
			t.Errorf("%s: %d %s, want 409 naming the setting", c.name, resp.StatusCode, body)
		}
	}
	// Nothing changed.
	fx.mustGetBody(t, pkgPath("iuser", "app", "1.0", "a"), u, []byte("a"))
	fx.mustGetBody(t, pkgPath("iuser", "app", "2.0", "a"), u, []byte("two"))
	fx.mustStatus(t, http.StatusNotFound, http.MethodGet, pkgPath("iuser", "app", "1.0", "d"), u, nil)
	// A new version may still be published (its first upload).
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, pkgPath("iuser", "app", "3.0", "a"), u, []byte("three"))
	fx.mustStatus(t, http.StatusConflict, http.MethodPut, pkgPath("iuser", "app", "3.0", "b"), u, []byte("b"))
	// Site admins pass.
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, pkgPath("iuser", "app", "1.0", "d"), basic("root", pw), []byte("d"))
	fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, pkgPath("iuser", "app", "1.0", ""), basic("root", pw), nil)
	// Off again: the owner deletes as before.
	fx.mustStatus(t, http.StatusOK, http.MethodPut, settings, u, []byte(`{"immutable_versions": false}`))
	fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, "/api/v1/packages/iuser/generic/app", ut, nil)
}
