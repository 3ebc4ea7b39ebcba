package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// TestGitLabClientSQLite drives a real depot server on SQLite and disk
// with GitLab's own Go client.
func TestGitLabClientSQLite(t *testing.T) {
	dir := t.TempDir()
	c := Config{DataDir: dir, DatabaseURL: "sqlite://" + filepath.Join(dir, "depot.db")}
	m := MustRunMain(t, c)
	gitlabClientFlow(t, m, map[string]string{"DEPOT_DATA_DIR": dir, "DEPOT_DATABASE_URL": c.DatabaseURL})
}

// TestGitLabClientPostgresS3 is the same flow on PostgreSQL and S3.
func TestGitLabClientPostgresS3(t *testing.T) {
	c := scaleOutConfig(t)
	m := MustRunMain(t, c)
	gitlabClientFlow(t, m, map[string]string{
		"DEPOT_DATA_DIR": t.TempDir(), "DEPOT_DATABASE_URL": c.DatabaseURL, "DEPOT_STORAGE_URL": c.StorageURL,
		"DEPOT_S3_ACCESS_KEY_ID": c.S3AccessKeyID, "DEPOT_S3_SECRET_ACCESS_KEY": c.S3SecretAccessKey,
	})
}

// gitlabClientFlow sets up accounts with the admin CLI (a user, an
// organization, a project, a token with GitLab's "api" scope, deploy and
// job tokens), then, with gitlab.com/gitlab-org/api/client-go: reads the
// user and project, publishes several versions (one hidden, one file in
// directories, one answered with select=package_file), downloads with
// each kind of token, lists project and group packages across pages,
// lists files, deletes a file and a package, and finds refusals where
// GitLab refuses.
func gitlabClientFlow(t *testing.T, m *Main, env map[string]string) {
	mustCLI := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, env, args...)
		if code != 0 {
			t.Fatalf("depot %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return strings.TrimSpace(out)
	}
	mustCLI("admin", "user", "create", "--username", "alice", "--password", "alice-password", "--email", "alice@example.com")
	mustCLI("admin", "user", "create", "--username", "dev", "--password", "dev-password", "--email", "dev@example.com")
	mustCLI("admin", "org", "create", "--name", "acme", "--owner", "alice", "--visibility", "private")
	mustCLI("admin", "org", "add-member", "--org", "acme", "--username", "dev", "--role", "write")
	projectID, err := strconv.ParseInt(mustCLI("admin", "project", "create", "--owner", "acme", "--name", "tools"), 10, 64)
	if err != nil {
		t.Fatalf("project create did not print an id: %v", err)
	}
	aliceToken := mustCLI("admin", "token", "create", "--username", "alice", "--name", "ci", "--scopes", "api")
	devToken := mustCLI("admin", "token", "create", "--username", "dev", "--name", "ci", "--scopes", "api")
	deployRead := mustCLI("admin", "deploy-token", "create", "--project", "acme/tools", "--name", "reader", "--scopes", "read_package_registry")
	jobToken := mustCLI("admin", "job-token", "create", "--project", strconv.FormatInt(projectID, 10), "--ttl", "1h")

	base := "http://" + m.Addr() + "/api/v4"
	newClient := func(tok string, job bool) *gitlab.Client {
		t.Helper()
		var c *gitlab.Client
		var err error
		if job {
			c, err = gitlab.NewJobClient(tok, gitlab.WithBaseURL(base), gitlab.WithoutRetries())
		} else {
			c, err = gitlab.NewClient(tok, gitlab.WithBaseURL(base), gitlab.WithoutRetries())
		}
		if err != nil {
			t.Fatalf("gitlab.NewClient: %v", err)
		}
		return c
	}
	alice, dev, job := newClient(aliceToken, false), newClient(devToken, false), newClient(jobToken, true)
	status := func(err error) int {
		var er *gitlab.ErrorResponse
		if errors.Is(err, gitlab.ErrNotFound) {
			return http.StatusNotFound
		}
		if errors.As(err, &er) {
			return er.Response.StatusCode
		}
		return 0
	}

	me, _, err := alice.Users.CurrentUser()
	if err != nil || me.Username != "alice" || me.Email != "alice@example.com" {
		t.Fatalf("CurrentUser = %+v, %v", me, err)
	}
	for _, pid := range []any{"acme/tools", projectID} {
		p, _, err := alice.Projects.GetProject(pid, nil)
		if err != nil || p.ID != projectID || p.PathWithNamespace != "acme/tools" || p.Visibility != gitlab.PrivateVisibility {
			t.Fatalf("GetProject(%v) = %+v, %v", pid, p, err)
		}
	}

	content := func(v string) []byte { return []byte("tool " + v + "\n") }
	versions := []string{"1.0.0", "1.1.0", "2.0.0-rc.1", "2.0.0", "3.0.0"}
	for _, v := range versions {
		if _, _, err := dev.GenericPackages.PublishPackageFile("acme/tools", "tool", v, "tool.bin", bytes.NewReader(content(v)), nil); err != nil {
			t.Fatalf("PublishPackageFile(%s): %v", v, err)
		}
	}
	sel := gitlab.SelectPackageFile
	hidden := gitlab.PackageHidden
	pf, _, err := job.GenericPackages.PublishPackageFile(projectID, "tool", "nightly", "dir/sub/notes.txt", strings.NewReader("notes"),
		&gitlab.PublishPackageFileOptions{Select: &sel, Status: &hidden})
	sum := sha256.Sum256([]byte("notes"))
	if err != nil || pf.FileSHA256 != hex.EncodeToString(sum[:]) || pf.FileName != "dir%2Fsub%2Fnotes.txt" || pf.Size != 5 {
		t.Fatalf("PublishPackageFile(select=package_file) = %+v, %v", pf, err)
	}

	for name, c := range map[string]*gitlab.Client{"private token": alice, "job token": job} {
		got, _, err := c.GenericPackages.DownloadPackageFile("acme/tools", "tool", "2.0.0", "tool.bin")
		if err != nil || !bytes.Equal(got, content("2.0.0")) {
			t.Errorf("DownloadPackageFile with a %s = %q, %v", name, got, err)
		}
	}
	anon := newClient("", false)
	got, _, err := anon.GenericPackages.DownloadPackageFile("acme/tools", "tool", "2.0.0", "tool.bin", gitlab.WithHeader("Deploy-Token", deployRead))
	if err != nil || !bytes.Equal(got, content("2.0.0")) {
		t.Errorf("DownloadPackageFile with a deploy token = %q, %v", got, err)
	}
	got, _, err = anon.GenericPackages.DownloadPackageFile(projectID, "tool", "nightly", "dir/sub/notes.txt", gitlab.WithHeader("Deploy-Token", deployRead))
	if err != nil || string(got) != "notes" {
		t.Errorf("DownloadPackageFile(hidden, in directories) = %q, %v", got, err)
	}
	if _, _, err := anon.GenericPackages.DownloadPackageFile("acme/tools", "tool", "2.0.0", "tool.bin"); status(err) != http.StatusUnauthorized {
		t.Errorf("anonymous download from a private project: %v, want 401", err)
	}
	if _, _, err := anon.GenericPackages.PublishPackageFile("acme/tools", "tool", "9.0.0", "x", strings.NewReader("x"), nil,
		gitlab.WithHeader("Deploy-Token", deployRead)); status(err) != http.StatusForbidden {
		t.Errorf("publish with a read deploy token: %v, want 403", err)
	}

	// Project listing, page by page, as the client follows X-Next-Page.
	var listed []string
	opt := &gitlab.ListProjectPackagesOptions{ListOptions: gitlab.ListOptions{PerPage: 2, Page: 1}}
	pages := 0
	for {
		pkgs, resp, err := alice.Packages.ListProjectPackages("acme/tools", opt)
		if err != nil {
			t.Fatalf("ListProjectPackages(page %d): %v", opt.Page, err)
		}
		pages++
		if resp.TotalItems != int64(len(versions)) || resp.TotalPages != 3 || resp.ItemsPerPage != 2 {
			t.Errorf("page %d: total %d, pages %d, per page %d", opt.Page, resp.TotalItems, resp.TotalPages, resp.ItemsPerPage)
		}
		for _, p := range pkgs {
			if p.PackageType != "generic" || p.Status != "default" || p.CreatedAt == nil || p.Links == nil {
				t.Errorf("package %+v", p)
			}
			listed = append(listed, p.Version)
		}
		if resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	if strings.Join(listed, ",") != strings.Join(versions, ",") || pages != 3 {
		t.Errorf("listed %v in %d pages, want %v in 3", listed, pages, versions)
	}
	hiddenStatus := "hidden"
	if pkgs, _, err := alice.Packages.ListProjectPackages(projectID, &gitlab.ListProjectPackagesOptions{Status: &hiddenStatus}); err != nil || len(pkgs) != 1 || pkgs[0].Version != "nightly" {
		t.Errorf("ListProjectPackages(status=hidden) = %v, %v", pkgs, err)
	}
	// Group listing, page by page.
	var groupListed []string
	gopt := &gitlab.ListGroupPackagesOptions{ListOptions: gitlab.ListOptions{PerPage: 3, Page: 1}}
	for {
		gpkgs, gresp, err := alice.Packages.ListGroupPackages("acme", gopt)
		if err != nil || gresp.TotalItems != int64(len(versions)) || gresp.TotalPages != 2 {
			t.Fatalf("ListGroupPackages(page %d) = %v, %+v, %v", gopt.Page, gpkgs, gresp, err)
		}
		for _, p := range gpkgs {
			if p.ProjectPath != "acme/tools" || p.ProjectID != projectID {
				t.Errorf("group package %+v", p)
			}
			groupListed = append(groupListed, p.Version)
		}
		if gresp.NextPage == 0 {
			break
		}
		gopt.Page = gresp.NextPage
	}
	if strings.Join(groupListed, ",") != strings.Join(versions, ",") {
		t.Errorf("group listed %v, want %v", groupListed, versions)
	}

	// Files, then deletes: a writer may not, a maintainer may.
	pkgs, _, err := alice.Packages.ListProjectPackages("acme/tools", &gitlab.ListProjectPackagesOptions{PackageVersion: gitlab.Ptr("2.0.0")})
	if err != nil || len(pkgs) != 1 {
		t.Fatalf("ListProjectPackages(version 2.0.0) = %v, %v", pkgs, err)
	}
	target := pkgs[0]
	if _, _, err := dev.GenericPackages.PublishPackageFile("acme/tools", "tool", "2.0.0", "tool.bin", strings.NewReader("again"), nil); err != nil {
		t.Fatalf("PublishPackageFile(duplicate): %v", err)
	}
	files, _, err := alice.Packages.ListPackageFiles(projectID, target.ID, nil)
	if err != nil || len(files) != 2 || files[0].FileName != "tool.bin" || files[0].Size != int64(len(content("2.0.0"))) || files[0].FileMD5 == "" {
		t.Fatalf("ListPackageFiles = %v, %v", files, err)
	}
	if _, err := dev.Packages.DeletePackageFile("acme/tools", target.ID, files[1].ID); status(err) != http.StatusForbidden {
		t.Errorf("writer DeletePackageFile: %v, want 403", err)
	}
	if _, err := alice.Packages.DeletePackageFile("acme/tools", target.ID, files[1].ID); err != nil {
		t.Fatalf("DeletePackageFile: %v", err)
	}
	// The older upload is downloaded again.
	if got, _, err := alice.GenericPackages.DownloadPackageFile("acme/tools", "tool", "2.0.0", "tool.bin"); err != nil || !bytes.Equal(got, content("2.0.0")) {
		t.Errorf("download after deleting the newest file = %q, %v", got, err)
	}
	if _, err := dev.Packages.DeleteProjectPackage(projectID, target.ID); status(err) != http.StatusForbidden {
		t.Errorf("writer DeleteProjectPackage: %v, want 403", err)
	}
	if _, err := alice.Packages.DeleteProjectPackage(projectID, target.ID); err != nil {
		t.Fatalf("DeleteProjectPackage: %v", err)
	}
	if _, err := alice.Packages.DeleteProjectPackage(projectID, target.ID); status(err) != http.StatusNotFound {
		t.Errorf("second DeleteProjectPackage: %v, want 404", err)
	}
	if _, _, err := alice.GenericPackages.DownloadPackageFile("acme/tools", "tool", "2.0.0", "tool.bin"); status(err) != http.StatusNotFound {
		t.Errorf("download of a deleted package: %v, want 404", err)
	}
	_, resp, err := alice.Packages.ListProjectPackages("acme/tools", nil)
	if err != nil || resp.TotalItems != int64(len(versions)-1) {
		t.Errorf("after delete: total %v, %v", resp, err)
	}

	// Revoking the deploy token (found by id in the admin listing) stops it.
	var deployID string
	for _, line := range strings.Split(mustCLI("admin", "deploy-token", "list", "--owner", "acme"), "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[1] == "deploy" && f[3] == "reader" {
			deployID = f[0]
		}
	}
	if deployID == "" {
		t.Fatal("deploy-token list does not show the reader token")
	}
	mustCLI("admin", "deploy-token", "revoke", "--id", deployID)
	if _, _, err := anon.GenericPackages.DownloadPackageFile("acme/tools", "tool", "1.0.0", "tool.bin", gitlab.WithHeader("Deploy-Token", deployRead)); status(err) != http.StatusUnauthorized {
		t.Errorf("download with a revoked deploy token: %v, want 401", err)
	}

	// The same package through the Gitea dialect.
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/api/packages/acme/generic/tool/1.0.0/tool.bin", m.Addr()), nil)
	req.SetBasicAuth("alice", aliceToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("Gitea dialect download of a GitLab upload = %d", res.StatusCode)
	}
}

// fillGitLab adds GitLab state to a migration fixture, reusing contents
// the fixture already stores (so blob counts stay): a hidden package in
// project mig/app-src with two uploads of one file name (first, then
// second, which wins), forbidden duplicates with an exception regex, and
// a deploy token, whose secret it returns.
func fillGitLab(t *testing.T, m *Main, actor *depot.Actor, first, second []byte) string {
	t.Helper()
	ctx := context.Background()
	ref := depot.GitLabFileRef{Project: "mig/app-src", Package: "gl", Version: "1.0", Path: "dir/x.bin"}
	for i, c := range [][]byte{first, second} {
		up := depot.GitLabUpload{Size: int64(len(c))}
		if i == 0 {
			up.Status = depot.StatusHidden
		}
		if _, err := m.Service.UploadGitLabFile(ctx, actor, ref, up, bytes.NewReader(c)); err != nil {
			t.Fatalf("UploadGitLabFile: %v", err)
		}
	}
	if err := m.Service.SetPackageSettings(ctx, "mig", false, `^gl$`); err != nil {
		t.Fatal(err)
	}
	secret, _, err := m.Service.CreateProjectToken(ctx, depot.NewProjectToken{Kind: depot.KindDeployToken, Project: "mig/app-src", Name: "mig", Scopes: depot.Scopes{depot.ScopeReadPackage}})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// checkGitLab checks what fillGitLab stored on a migrated server.
func checkGitLab(t *testing.T, m *Main, deployToken string, newest []byte) {
	t.Helper()
	c, err := gitlab.NewClient("", gitlab.WithBaseURL("http://"+m.Addr()+"/api/v4"), gitlab.WithoutRetries())
	if err != nil {
		t.Fatal(err)
	}
	dt := gitlab.WithHeader("Deploy-Token", deployToken)
	got, _, err := c.GenericPackages.DownloadPackageFile("mig/app-src", "gl", "1.0", "dir/x.bin", dt)
	if err != nil || !bytes.Equal(got, newest) {
		t.Errorf("GitLab download after migration = %d bytes, %v; want the newest upload", len(got), err)
	}
	pkgs, _, err := c.Packages.ListProjectPackages("mig/app-src", &gitlab.ListProjectPackagesOptions{Status: gitlab.Ptr("hidden")}, dt)
	if err != nil || len(pkgs) != 1 || pkgs[0].Name != "gl" {
		t.Fatalf("hidden packages after migration = %v, %v", pkgs, err)
	}
	// Hidden packages are not found by id, as in GitLab; the store still
	// holds both uploads.
	if _, _, err := c.Packages.ListPackageFiles("mig/app-src", pkgs[0].ID, nil, dt); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("files of a hidden package after migration: %v, want 404", err)
	}
	files, err := m.Store.ListFiles(context.Background(), pkgs[0].ID)
	if err != nil || len(files) != 2 {
		t.Errorf("files after migration = %d, %v; want both uploads", len(files), err)
	}
	ps, err := m.Service.PackageSettings(context.Background(), "mig")
	if err != nil || ps.GenericDuplicatesAllowed || ps.GenericDuplicateExceptionRegex != `^gl$` {
		t.Errorf("package settings after migration = %+v, %v", ps, err)
	}
}
