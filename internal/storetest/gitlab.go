package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// testGitLab runs the depot.GitLabStore conformance tests. They share one
// store, each with its own owners.
func testGitLab(t *testing.T, s depot.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s depot.Store)
	}{
		{"Lookups", testGitLabLookups},
		{"DuplicateFiles", testGitLabDuplicates},
		{"NoDuplicates", testGitLabNoDuplicates},
		{"DeleteFileByID", testGitLabDeleteFileByID},
		{"ProjectLink", testGitLabProjectLink},
		{"Status", testGitLabStatus},
		{"RecordDownloads", testGitLabRecordDownloads},
		{"PackageSettings", testGitLabPackageSettings},
		{"ProjectTokens", testGitLabProjectTokens},
		{"ConcurrentDuplicates", testGitLabConcurrentDuplicates},
		{"ConcurrentGiteaAndGitLab", testGitLabConcurrentGiteaAndGitLab},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, s) })
	}
}

// gitlabSetup creates a user (named after the test) and a project of it.
func gitlabSetup(t *testing.T, s depot.Store, vis depot.Visibility) (*depot.User, *depot.Project) {
	t.Helper()
	name := fmt.Sprintf("gl%d", gitlabSeq.next())
	u := MustCreateUser(t, s, name)
	return u, MustCreateProject(t, s, u.ID, "proj", vis)
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) next() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

var gitlabSeq counter

// MustCreateGitLabFile records nf for project with duplicates allowed.
func MustCreateGitLabFile(tb testing.TB, s depot.Store, nf depot.NewFile, o depot.GitLabFileOptions) *depot.File {
	tb.Helper()
	f, err := s.CreateGitLabFile(context.Background(), nf, o, func(context.Context) error { return nil })
	if err != nil {
		tb.Fatalf("CreateGitLabFile(%s/%s/%s): %v", nf.Package, nf.Version, nf.File, err)
	}
	return f
}

func testGitLabLookups(t *testing.T, s depot.Store) {
	ctx := context.Background()
	u, p := gitlabSetup(t, s, "")
	o, err := s.OwnerByID(ctx, u.ID)
	if err != nil || o.Name != u.Name || o.Kind != depot.KindUser {
		t.Errorf("OwnerByID = %+v, %v", o, err)
	}
	_, err = s.OwnerByID(ctx, u.ID+1000)
	wantErr(t, "OwnerByID(missing)", err, depot.ErrNotFound)
	got, err := s.ProjectByID(ctx, p.ID)
	if err != nil || got.Name != "proj" || got.OwnerName != u.Name || got.OwnerID != u.ID {
		t.Errorf("ProjectByID = %+v, %v", got, err)
	}
	_, err = s.ProjectByID(ctx, p.ID+1000)
	wantErr(t, "ProjectByID(missing)", err, depot.ErrNotFound)
	_, err = s.FileByID(ctx, 1<<40)
	wantErr(t, "FileByID(missing)", err, depot.ErrNotFound)
	_, err = s.GitLabPackageByID(ctx, 1<<40)
	wantErr(t, "GitLabPackageByID(missing)", err, depot.ErrNotFound)
}

func testGitLabDuplicates(t *testing.T, s depot.Store) {
	ctx := context.Background()
	u, p := gitlabSetup(t, s, "")
	opts := depot.GitLabFileOptions{ProjectID: p.ID, AllowDuplicate: true}
	first := MustCreateGitLabFile(t, s, NewFile(u, "tool", "1.0", "a.bin", "one"), opts)
	second := MustCreateGitLabFile(t, s, NewFile(u, "tool", "1.0", "A.bin", "two"), opts)
	if first.ID == second.ID || first.VersionID != second.VersionID {
		t.Fatalf("files %+v and %+v: want two files of one version", first, second)
	}
	f := mustFile(t, s, NewFile(u, "tool", "1.0", "a.bin", ""))
	if f.ID != second.ID || f.Blob.SHA256 != BlobOf("two").SHA256 {
		t.Errorf("FileByName = file %d (%.12s), want the newest, %d", f.ID, f.Blob.SHA256, second.ID)
	}
	files, err := s.ListFiles(ctx, first.VersionID)
	if err != nil || len(files) != 2 || files[0].ID != first.ID || files[1].ID != second.ID {
		t.Errorf("ListFiles = %d files, %v; want both uploads in order", len(files), err)
	}
	byID, err := s.FileByID(ctx, first.ID)
	if err != nil || byID.Blob.SHA256 != BlobOf("one").SHA256 || byID.Name != "a.bin" {
		t.Errorf("FileByID(superseded) = %+v, %v", byID, err)
	}
	// The Gitea rule still holds against the current file.
	_, err = s.CreateFile(ctx, NewFile(u, "tool", "1.0", "a.bin", "three"), func(context.Context) error { return nil })
	wantErr(t, "CreateFile over a GitLab duplicate", err, depot.ErrConflict)
	// Deleting by name deletes every upload of the name and its blobs.
	r := &remover{}
	if err := deleteFile(s, NewFile(u, "tool", "1.0", "a.bin", ""), r); err != nil {
		t.Fatalf("DeleteFile: %v", err)
	}
	r.want(t, BlobOf("one").SHA256, BlobOf("two").SHA256)
	_, err = s.FileByID(ctx, first.ID)
	wantErr(t, "FileByID after DeleteFile", err, depot.ErrNotFound)
}

func testGitLabNoDuplicates(t *testing.T, s depot.Store) {
	ctx := context.Background()
	u, p := gitlabSetup(t, s, "")
	opts := depot.GitLabFileOptions{ProjectID: p.ID}
	MustCreateGitLabFile(t, s, NewFile(u, "tool", "1.0", "a.bin", "one"), opts)
	commits := 0
	_, err := s.CreateGitLabFile(ctx, NewFile(u, "tool", "1.0", "a.bin", "two"), opts, func(context.Context) error { commits++; return nil })
	wantErr(t, "CreateGitLabFile(duplicate, not allowed)", err, depot.ErrConflict)
	if commits != 0 {
		t.Errorf("commitBlob called %d times for a refused file", commits)
	}
	wantBlob(t, s, BlobOf("two").SHA256, false)
	// Another name in the version is fine.
	MustCreateGitLabFile(t, s, NewFile(u, "tool", "1.0", "b.bin", "two"), opts)
}

func testGitLabDeleteFileByID(t *testing.T, s depot.Store) {
	ctx := context.Background()
	u, p := gitlabSetup(t, s, "")
	opts := depot.GitLabFileOptions{ProjectID: p.ID, AllowDuplicate: true}
	nf := NewFile(u, "tool", "1.0", "a.bin", "")
	var ids []int64
	for _, c := range []string{"v1", "v2", "v3"} {
		n := nf
		n.Blob = BlobOf(c)
		ids = append(ids, MustCreateGitLabFile(t, s, n, opts).ID)
	}
	r := &remover{}
	// Deleting a superseded file leaves the current one.
	if err := s.DeleteFileByID(ctx, ids[1], 0, r.remove); err != nil {
		t.Fatalf("DeleteFileByID(superseded): %v", err)
	}
	r.want(t, BlobOf("v2").SHA256)
	if f := mustFile(t, s, nf); f.ID != ids[2] {
		t.Errorf("current file = %d, want %d", f.ID, ids[2])
	}
	// Deleting the current file makes the newest remaining one current.
	if err := s.DeleteFileByID(ctx, ids[2], 0, r.remove); err != nil {
		t.Fatalf("DeleteFileByID(current): %v", err)
	}
	if f := mustFile(t, s, nf); f.ID != ids[0] {
		t.Errorf("current file after deleting the newest = %d, want %d", f.ID, ids[0])
	}
	err := s.DeleteFileByID(ctx, ids[2], 0, r.remove)
	wantErr(t, "DeleteFileByID(deleted)", err, depot.ErrNotFound)
	// The last file takes its version and package with it.
	if err := s.DeleteFileByID(ctx, ids[0], 0, r.remove); err != nil {
		t.Fatalf("DeleteFileByID(last): %v", err)
	}
	r.want(t, BlobOf("v3").SHA256, BlobOf("v1").SHA256)
	_, err = s.PackageByName(ctx, u.ID, depot.TypeGeneric, "tool")
	wantErr(t, "PackageByName after deleting the last file", err, depot.ErrNotFound)
}

func testGitLabProjectLink(t *testing.T, s depot.Store) {
	ctx := context.Background()
	u, p := gitlabSetup(t, s, "")
	other := MustCreateProject(t, s, u.ID, "other", "")
	// A package published without a project is linked by its first GitLab upload.
	MustCreateFile(t, s, NewFile(u, "tool", "0.9", "a.bin", "gitea"))
	MustCreateGitLabFile(t, s, NewFile(u, "tool", "1.0", "a.bin", "one"), depot.GitLabFileOptions{ProjectID: p.ID})
	pkg, err := s.PackageByName(ctx, u.ID, depot.TypeGeneric, "tool")
	if err != nil || pkg.ProjectID != p.ID {
		t.Fatalf("PackageByName = %+v, %v; want linked to %d", pkg, err, p.ID)
	}
	_, err = s.CreateGitLabFile(ctx, NewFile(u, "tool", "1.0", "b.bin", "two"), depot.GitLabFileOptions{ProjectID: other.ID, AllowDuplicate: true},
		func(context.Context) error { return nil })
	wantErr(t, "CreateGitLabFile(package of another project)", err, depot.ErrInvalid)
}

func testGitLabStatus(t *testing.T, s depot.Store) {
	ctx := context.Background()
	u, p := gitlabSetup(t, s, "")
	f := MustCreateGitLabFile(t, s, NewFile(u, "tool", "1.0", "a.bin", "one"), depot.GitLabFileOptions{ProjectID: p.ID, Status: depot.StatusHidden})
	status := func() depot.PackageStatus {
		t.Helper()
		gp, err := s.GitLabPackageByID(ctx, f.VersionID)
		if err != nil {
			t.Fatalf("GitLabPackageByID: %v", err)
		}
		return gp.Status
	}
	if got := status(); got != depot.StatusHidden {
		t.Errorf("status = %q, want hidden", got)
	}
	// No status leaves it; another status changes it.
	MustCreateGitLabFile(t, s, NewFile(u, "tool", "1.0", "b.bin", "two"), depot.GitLabFileOptions{ProjectID: p.ID})
	if got := status(); got != depot.StatusHidden {
		t.Errorf("status after an upload without status = %q, want hidden", got)
	}
	MustCreateGitLabFile(t, s, NewFile(u, "tool", "1.0", "c.bin", "three"), depot.GitLabFileOptions{ProjectID: p.ID, Status: depot.StatusDefault})
	if got := status(); got != depot.StatusDefault {
		t.Errorf("status after an upload with status default = %q", got)
	}
	gp, err := s.GitLabPackageByID(ctx, f.VersionID)
	if err != nil || gp.Package.Name != "tool" || gp.Version.Version != "1.0" || gp.Project == nil || gp.Project.ID != p.ID ||
		gp.Creator == nil || gp.Creator.ID != u.ID || gp.LastDownloadedAt != nil {
		t.Errorf("GitLabPackageByID = %+v, %v", gp, err)
	}
}

func gitlabSearch(tb testing.TB, s depot.Store, q depot.GitLabPackageQuery) ([]string, int64) {
	tb.Helper()
	res, total, err := s.SearchGitLabPackages(context.Background(), q)
	if err != nil {
		tb.Fatalf("SearchGitLabPackages(%+v): %v", q, err)
	}
	var out []string
	for _, gp := range res {
		out = append(out, gp.Package.Name+"@"+gp.Version.Version)
	}
	return out, total
}

func testGitLabSearch(t *testing.T, s depot.Store) {
	u, p := gitlabSetup(t, s, "")
	priv := MustCreateProject(t, s, u.ID, "secret", depot.Private)
	up := func(pkg, version string, minutes int, project int64, status depot.PackageStatus) {
		nf := at(NewFile(u, pkg, version, "f.bin", pkg+version), minutes)
		MustCreateGitLabFile(t, s, nf, depot.GitLabFileOptions{ProjectID: project, Status: status})
	}
	up("beta", "1.0", 1, p.ID, "")
	up("alpha", "2.0", 2, p.ID, "")
	up("alpha", "1.0", 3, p.ID, "")
	up("gamma", "1.0", 4, p.ID, depot.StatusHidden)
	up("hidden-in-secret", "1.0", 5, priv.ID, "")
	MustCreateFile(t, s, at(NewFile(u, "unlinked", "1.0", "f.bin", "x"), 6))
	base := depot.GitLabPackageQuery{OwnerID: u.ID, ProjectID: p.ID}
	for _, tc := range []struct {
		name  string
		mod   func(q *depot.GitLabPackageQuery)
		want  []string
		total int64
	}{
		{"default", func(q *depot.GitLabPackageQuery) {}, []string{"beta@1.0", "alpha@2.0", "alpha@1.0"}, 3},
		{"desc", func(q *depot.GitLabPackageQuery) { q.Desc = true }, []string{"alpha@1.0", "alpha@2.0", "beta@1.0"}, 3},
		{"name", func(q *depot.GitLabPackageQuery) { q.OrderBy = depot.OrderName }, []string{"alpha@2.0", "alpha@1.0", "beta@1.0"}, 3},
		{"version desc", func(q *depot.GitLabPackageQuery) { q.OrderBy, q.Desc = depot.OrderVersion, true }, []string{"alpha@2.0", "alpha@1.0", "beta@1.0"}, 3},
		{"hidden", func(q *depot.GitLabPackageQuery) { q.Status = depot.StatusHidden }, []string{"gamma@1.0"}, 1},
		{"status default", func(q *depot.GitLabPackageQuery) { q.Status = depot.StatusDefault }, []string{"beta@1.0", "alpha@2.0", "alpha@1.0"}, 3},
		{"name filter", func(q *depot.GitLabPackageQuery) { q.Name = "LPH" }, []string{"alpha@2.0", "alpha@1.0"}, 2},
		{"version filter", func(q *depot.GitLabPackageQuery) { q.Version = "1.0" }, []string{"beta@1.0", "alpha@1.0"}, 2},
		{"type", func(q *depot.GitLabPackageQuery) { q.Type = "npm" }, nil, 0},
		{"page", func(q *depot.GitLabPackageQuery) { q.Limit, q.Offset = 2, 2 }, []string{"alpha@1.0"}, 3},
		{"group", func(q *depot.GitLabPackageQuery) { q.ProjectID = 0 }, []string{"beta@1.0", "alpha@2.0", "alpha@1.0", "hidden-in-secret@1.0"}, 4},
		{"group public", func(q *depot.GitLabPackageQuery) { q.ProjectID, q.PublicOnly = 0, true }, []string{"beta@1.0", "alpha@2.0", "alpha@1.0"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := base
			tc.mod(&q)
			got, total := gitlabSearch(t, s, q)
			if !slices.Equal(got, tc.want) || total != tc.total {
				t.Errorf("got %q (total %d), want %q (total %d)", got, total, tc.want, tc.total)
			}
		})
	}
}

// testGitLabSearchPaging lists the packages of two owners, uploaded
// interleaved and many at the same time, in several projects, unlinked,
// hidden and of two types, page by page in both directions: every page must
// hold the next versions in order (creation time, ties by id, both
// reversed for desc) of what the query selects, and every total must count
// them all.
func testGitLabSearchPaging(t *testing.T, s depot.Store) {
	u1, pub := gitlabSetup(t, s, "")
	priv := MustCreateProject(t, s, u1.ID, "secret", depot.Private)
	u2, other := gitlabSetup(t, s, "")
	type version struct {
		owner, project int64
		private        bool
		typ            depot.PackageType
		status         depot.PackageStatus
		pkg, version   string
		minutes        int
		id             int64
	}
	var all []*version
	for i := range 120 {
		v := &version{owner: u1.ID, project: pub.ID, typ: depot.TypeGeneric, status: depot.StatusDefault,
			pkg: fmt.Sprintf("pkg-%d", i%4), version: fmt.Sprintf("1.%d", i), minutes: i * 5 % 4}
		owner := u1
		switch i % 5 {
		case 1:
			v.project, v.private, v.pkg = priv.ID, true, "secret-"+v.pkg
		case 2:
			owner, v.owner, v.project = u2, u2.ID, other.ID
		case 3:
			v.project, v.pkg = 0, "unlinked-"+v.pkg
		}
		if i%3 == 0 {
			v.status = depot.StatusHidden
		}
		if i/3%2 == 1 {
			v.typ, v.pkg = "npm", "npm-"+v.pkg
		}
		nf := at(NewFile(owner, v.pkg, v.version, "f.bin", fmt.Sprint(i)), v.minutes)
		nf.Type = v.typ
		if v.project == 0 {
			v.id = MustCreateFile(t, s, nf).VersionID
		} else {
			v.id = MustCreateGitLabFile(t, s, nf, depot.GitLabFileOptions{ProjectID: v.project, Status: v.status}).VersionID
		}
		all = append(all, v)
	}
	slices.SortStableFunc(all, func(a, b *version) int {
		if a.minutes != b.minutes {
			return a.minutes - b.minutes
		}
		return int(a.id - b.id)
	})

	const limit = 6
	for _, tc := range []struct {
		name string
		q    depot.GitLabPackageQuery
		pick func(v *version) bool
	}{
		{"group", depot.GitLabPackageQuery{OwnerID: u1.ID},
			func(v *version) bool { return v.owner == u1.ID && v.project != 0 && v.status != depot.StatusHidden }},
		{"group public", depot.GitLabPackageQuery{OwnerID: u1.ID, PublicOnly: true},
			func(v *version) bool {
				return v.owner == u1.ID && v.project != 0 && !v.private && v.status != depot.StatusHidden
			}},
		{"group type", depot.GitLabPackageQuery{OwnerID: u1.ID, Type: "npm"},
			func(v *version) bool {
				return v.owner == u1.ID && v.project != 0 && v.typ == "npm" && v.status != depot.StatusHidden
			}},
		{"group hidden", depot.GitLabPackageQuery{OwnerID: u1.ID, Status: depot.StatusHidden},
			func(v *version) bool { return v.owner == u1.ID && v.project != 0 && v.status == depot.StatusHidden }},
		{"other group", depot.GitLabPackageQuery{OwnerID: u2.ID},
			func(v *version) bool { return v.owner == u2.ID && v.status != depot.StatusHidden }},
		{"project", depot.GitLabPackageQuery{OwnerID: u1.ID, ProjectID: priv.ID},
			func(v *version) bool { return v.project == priv.ID && v.status != depot.StatusHidden }},
	} {
		for _, desc := range []bool{false, true} {
			var want []string
			for _, v := range all {
				if tc.pick(v) {
					want = append(want, v.pkg+"@"+v.version)
				}
			}
			if desc {
				slices.Reverse(want)
			}
			q := tc.q
			q.Desc = desc
			t.Run(fmt.Sprintf("%s desc %v", tc.name, desc), func(t *testing.T) {
				if len(want) < 2*limit {
					t.Fatalf("only %d versions selected", len(want))
				}
				for off := 0; off <= len(want)+limit; off += limit {
					q.Limit, q.Offset = limit, off
					got, total := gitlabSearch(t, s, q)
					page := want[min(off, len(want)):min(off+limit, len(want))]
					if !slices.Equal(got, page) || total != int64(len(want)) {
						t.Errorf("offset %d: %q (total %d), want %q (total %d)", off, got, total, page, len(want))
					}
				}
				q.Limit, q.Offset = 0, 5
				if got, _ := gitlabSearch(t, s, q); !slices.Equal(got, want[5:]) {
					t.Errorf("offset 5 without limit: %q, want %q", got, want[5:])
				}
			})
		}
	}
}

func testGitLabRecordDownloads(t *testing.T, s depot.Store) {
	ctx := context.Background()
	u, p := gitlabSetup(t, s, "")
	f := MustCreateGitLabFile(t, s, NewFile(u, "tool", "1.0", "a.bin", "one"), depot.GitLabFileOptions{ProjectID: p.ID})
	later := when.Add(time.Hour)
	if err := s.RecordDownloads(ctx, map[int64]time.Time{f.VersionID: later, 1 << 40: later}); err != nil {
		t.Fatalf("RecordDownloads: %v", err)
	}
	if err := s.RecordDownloads(ctx, map[int64]time.Time{f.VersionID: when}); err != nil {
		t.Fatalf("RecordDownloads(earlier): %v", err)
	}
	gp, err := s.GitLabPackageByID(ctx, f.VersionID)
	if err != nil || gp.LastDownloadedAt == nil {
		t.Fatalf("GitLabPackageByID = %+v, %v", gp, err)
	}
	wantTime(t, "LastDownloadedAt", *gp.LastDownloadedAt, later)
}

func testGitLabPackageSettings(t *testing.T, s depot.Store) {
	ctx := context.Background()
	u, _ := gitlabSetup(t, s, "")
	ps, err := s.PackageSettings(ctx, u.ID)
	if err != nil || !ps.GenericDuplicatesAllowed || ps.GenericDuplicateExceptionRegex != "" {
		t.Errorf("default PackageSettings = %+v, %v", ps, err)
	}
	for _, want := range []depot.PackageSettings{
		{OwnerID: u.ID, GenericDuplicatesAllowed: false, GenericDuplicateExceptionRegex: `.*-SNAPSHOT`},
		{OwnerID: u.ID, GenericDuplicatesAllowed: true},
	} {
		if err := s.SetPackageSettings(ctx, &want); err != nil {
			t.Fatalf("SetPackageSettings: %v", err)
		}
		got, err := s.PackageSettings(ctx, u.ID)
		if err != nil || *got != want {
			t.Errorf("PackageSettings = %+v, %v; want %+v", got, err, want)
		}
	}
	err = s.SetPackageSettings(ctx, &depot.PackageSettings{OwnerID: 1 << 40})
	wantErr(t, "SetPackageSettings(missing owner)", err, depot.ErrNotFound)
}

func testGitLabProjectTokens(t *testing.T, s depot.Store) {
	ctx := context.Background()
	u, p := gitlabSetup(t, s, "")
	exp := when.Add(time.Hour)
	tok := &depot.ProjectToken{Kind: depot.KindDeployToken, OwnerID: u.ID, ProjectID: p.ID, Name: "ci", Hash: fmt.Sprintf("hash-%d", u.ID),
		LastEight: fmt.Sprintf("%08d", u.ID), Scopes: depot.Scopes{depot.ScopeReadPackage}, CreatedAt: when, ExpiresAt: &exp}
	if err := s.CreateProjectToken(ctx, tok); err != nil || tok.ID == 0 {
		t.Fatalf("CreateProjectToken: %v (id %d)", err, tok.ID)
	}
	dup := *tok
	dup.Hash += "x"
	wantErr(t, "CreateProjectToken(same name)", s.CreateProjectToken(ctx, &dup), depot.ErrConflict)
	owner := &depot.ProjectToken{Kind: depot.KindDeployToken, OwnerID: u.ID, Name: "ci", Hash: fmt.Sprintf("hash-owner-%d", u.ID),
		LastEight: tok.LastEight, Scopes: depot.Scopes{depot.ScopeWritePackage}, CreatedAt: when}
	if err := s.CreateProjectToken(ctx, owner); err != nil {
		t.Fatalf("CreateProjectToken(owner-wide, same name): %v", err)
	}
	got, err := s.ProjectTokensByLastEight(ctx, tok.LastEight)
	if err != nil || len(got) != 2 {
		t.Fatalf("ProjectTokensByLastEight = %d tokens, %v; want 2", len(got), err)
	}
	for _, g := range got {
		want := tok
		if g.ID == owner.ID {
			want = owner
		}
		if g.Kind != want.Kind || g.OwnerID != want.OwnerID || g.ProjectID != want.ProjectID || g.Hash != want.Hash ||
			!slices.Equal(g.Scopes, want.Scopes) || (g.ExpiresAt == nil) != (want.ExpiresAt == nil) {
			t.Errorf("token %d = %+v, want %+v", g.ID, g, want)
		}
	}
	listed, err := s.ListProjectTokens(ctx, u.ID)
	if err != nil || len(listed) != 2 || listed[0].ID != tok.ID || listed[1].ID != owner.ID {
		t.Errorf("ListProjectTokens = %v, %v; want the two tokens in id order", listed, err)
	}
	if err := s.DeleteProjectToken(ctx, tok.ID); err != nil {
		t.Fatalf("DeleteProjectToken: %v", err)
	}
	wantErr(t, "DeleteProjectToken(deleted)", s.DeleteProjectToken(ctx, tok.ID), depot.ErrNotFound)
	if got, err := s.ProjectTokensByLastEight(ctx, tok.LastEight); err != nil || len(got) != 1 || got[0].ID != owner.ID {
		t.Errorf("ProjectTokensByLastEight after delete = %v, %v", got, err)
	}
	missing := &depot.ProjectToken{Kind: depot.KindJobToken, OwnerID: u.ID, ProjectID: 1 << 40, Name: "job", Hash: "h-missing",
		LastEight: "x", Scopes: depot.Scopes{depot.ScopeWritePackage}, CreatedAt: when}
	wantErr(t, "CreateProjectToken(missing project)", s.CreateProjectToken(ctx, missing), depot.ErrNotFound)
}

// testGitLabConcurrentDuplicates uploads one name many times at once with
// duplicates allowed: every upload is kept and exactly one is current.
func testGitLabConcurrentDuplicates(t *testing.T, s depot.Store) {
	ctx := context.Background()
	u, p := gitlabSetup(t, s, "")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.CreateGitLabFile(ctx, NewFile(u, "tool", "1.0", "a.bin", fmt.Sprint(i)),
				depot.GitLabFileOptions{ProjectID: p.ID, AllowDuplicate: true}, func(context.Context) error { return nil })
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent duplicate uploads: %v", err)
	}
	cur := mustFile(t, s, NewFile(u, "tool", "1.0", "a.bin", ""))
	files, err := s.ListFiles(ctx, cur.VersionID)
	if err != nil || len(files) != n {
		t.Fatalf("ListFiles = %d files, %v; want %d", len(files), err, n)
	}
	if newest := files[len(files)-1]; newest.ID != cur.ID {
		t.Errorf("current file = %d, want the newest, %d", cur.ID, newest.ID)
	}
}

// testGitLabConcurrentGiteaAndGitLab races Gitea uploads and GitLab
// uploads that refuse duplicates for one new name: exactly one wins.
func testGitLabConcurrentGiteaAndGitLab(t *testing.T, s depot.Store) {
	ctx := context.Background()
	u, p := gitlabSetup(t, s, "")
	MustCreateGitLabFile(t, s, NewFile(u, "tool", "1.0", "seed.bin", "seed"), depot.GitLabFileOptions{ProjectID: p.ID})
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nf := NewFile(u, "tool", "1.0", "race.bin", fmt.Sprint(i))
			commit := func(context.Context) error { return nil }
			if i%2 == 0 {
				_, errs[i] = s.CreateFile(ctx, nf, commit)
			} else {
				_, errs[i] = s.CreateGitLabFile(ctx, nf, depot.GitLabFileOptions{ProjectID: p.ID}, commit)
			}
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, depot.ErrConflict):
			t.Errorf("upload failed with %v, want success or ErrConflict", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d uploads won, want exactly 1", wins)
	}
}
