package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// runWeb runs the conformance tests of depot.WebStore.
func runWeb(t *testing.T, newStore func(t *testing.T) depot.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s depot.Store)
	}{
		{"Sessions", testSessions},
		{"SetUserFlags", testSetUserFlags},
		{"ExplorePackages", testExplorePackages},
		{"VersionStats", testVersionStats},
		{"OwnerPackageStats", testOwnerPackageStats},
		{"OwnerPackageStatsAfterDeletes", testOwnerPackageStatsAfterDeletes},
		{"OwnerPackageStatsGitLab", testOwnerPackageStatsGitLab},
		{"VersionsOf", testVersionsOf},
		{"OrgMembers", testOrgMembers},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func testSessions(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	sess := &depot.Session{Hash: "h1", UserID: alice.ID, CreatedAt: when, ExpiresAt: when.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	wantErr(t, "CreateSession again", s.CreateSession(ctx, sess), depot.ErrConflict)
	wantErr(t, "CreateSession of a missing user", s.CreateSession(ctx, &depot.Session{Hash: "h9", UserID: alice.ID + 1000, CreatedAt: when, ExpiresAt: when}), depot.ErrNotFound)
	got, err := s.SessionByHash(ctx, "h1")
	if err != nil {
		t.Fatalf("SessionByHash: %v", err)
	}
	if got.UserID != alice.ID {
		t.Errorf("UserID = %d, want %d", got.UserID, alice.ID)
	}
	wantTime(t, "CreatedAt", got.CreatedAt, when)
	wantTime(t, "ExpiresAt", got.ExpiresAt, when.Add(time.Hour))
	_, err = s.SessionByHash(ctx, "missing")
	wantErr(t, "SessionByHash(missing)", err, depot.ErrNotFound)

	old := &depot.Session{Hash: "h2", UserID: alice.ID, CreatedAt: when, ExpiresAt: when.Add(-time.Minute)}
	if err := s.CreateSession(ctx, old); err != nil {
		t.Fatalf("CreateSession(old): %v", err)
	}
	n, err := s.DeleteExpiredSessions(ctx, when)
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 1", n, err)
	}
	_, err = s.SessionByHash(ctx, "h2")
	wantErr(t, "SessionByHash(expired)", err, depot.ErrNotFound)
	if err := s.DeleteSession(ctx, "h1"); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if err := s.DeleteSession(ctx, "h1"); err != nil {
		t.Errorf("DeleteSession again: %v", err)
	}
	_, err = s.SessionByHash(ctx, "h1")
	wantErr(t, "SessionByHash(deleted)", err, depot.ErrNotFound)
}

func testSetUserFlags(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	org := MustCreateOrg(t, s, "acme", alice)
	if err := s.SetUserFlags(ctx, alice.ID, true, true); err != nil {
		t.Fatalf("SetUserFlags: %v", err)
	}
	u, err := s.UserByID(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !u.IsAdmin || !u.Disabled {
		t.Errorf("after SetUserFlags(true, true): admin %v, disabled %v", u.IsAdmin, u.Disabled)
	}
	if err := s.SetUserFlags(ctx, alice.ID, false, false); err != nil {
		t.Fatalf("SetUserFlags: %v", err)
	}
	if u, _ = s.UserByID(ctx, alice.ID); u.IsAdmin || u.Disabled {
		t.Errorf("after SetUserFlags(false, false): admin %v, disabled %v", u.IsAdmin, u.Disabled)
	}
	wantErr(t, "SetUserFlags(missing)", s.SetUserFlags(ctx, alice.ID+org.ID+1000, true, false), depot.ErrNotFound)
	wantErr(t, "SetUserFlags(org)", s.SetUserFlags(ctx, org.ID, true, false), depot.ErrNotFound)
}

func testExplorePackages(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	carol := &depot.User{Owner: depot.Owner{Name: "carol", Kind: depot.KindUser, Visibility: depot.Private, CreatedAt: when}, Email: "c@example.com"}
	if err := s.CreateUser(ctx, carol); err != nil {
		t.Fatal(err)
	}
	secret := &depot.Owner{Name: "secret", Kind: depot.KindOrg, Visibility: depot.Private, CreatedAt: when}
	if err := s.CreateOrg(ctx, secret, bob.ID); err != nil {
		t.Fatal(err)
	}
	add := func(owner int64, pkg, version string, at time.Time) {
		nf := NewFile(alice, pkg, version, "f.bin", pkg+version)
		nf.OwnerID, nf.CreatedAt = owner, at
		MustCreateFile(t, s, nf)
	}
	add(alice.ID, "tool", "1.0.0", when)
	add(alice.ID, "tool", "1.1.0", when.Add(3*time.Hour))
	add(alice.ID, "lib_x", "1", when.Add(time.Hour))
	add(carol.ID, "hidden", "1", when.Add(4*time.Hour))
	add(secret.ID, "inner", "1", when.Add(5*time.Hour))

	names := func(q depot.ExploreQuery) ([]string, int64) {
		t.Helper()
		ps, total, err := s.ExplorePackages(ctx, q)
		if err != nil {
			t.Fatalf("ExplorePackages(%+v): %v", q, err)
		}
		var out []string
		for _, p := range ps {
			out = append(out, p.OwnerName+"/"+p.Package.Name)
		}
		return out, total
	}
	check := func(what string, q depot.ExploreQuery, want []string, wantTotal int64) {
		t.Helper()
		got, total := names(q)
		if total != wantTotal || len(got) != len(want) {
			t.Errorf("%s: got %v (total %d), want %v (total %d)", what, got, total, want, wantTotal)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: got %v, want %v", what, got, want)
				return
			}
		}
	}
	check("anonymous", depot.ExploreQuery{}, []string{"alice/tool", "alice/lib_x"}, 2)
	check("bob", depot.ExploreQuery{ViewerID: bob.ID}, []string{"secret/inner", "alice/tool", "alice/lib_x"}, 3)
	check("carol", depot.ExploreQuery{ViewerID: carol.ID}, []string{"carol/hidden", "alice/tool", "alice/lib_x"}, 3)
	check("admin", depot.ExploreQuery{ViewerID: alice.ID, All: true}, []string{"secret/inner", "carol/hidden", "alice/tool", "alice/lib_x"}, 4)
	check("search by name", depot.ExploreQuery{Search: "TOO"}, []string{"alice/tool"}, 1)
	check("search by owner", depot.ExploreQuery{Search: "alic"}, []string{"alice/tool", "alice/lib_x"}, 2)
	check("search escapes wildcards", depot.ExploreQuery{Search: "b_x"}, []string{"alice/lib_x"}, 1)
	check("search with _ literal", depot.ExploreQuery{Search: "o_l"}, nil, 0)
	check("page", depot.ExploreQuery{Limit: 1, Offset: 1}, []string{"alice/lib_x"}, 2)
	ps, _, err := s.ExplorePackages(ctx, depot.ExploreQuery{Search: "tool"})
	if err != nil || len(ps) != 1 {
		t.Fatalf("ExplorePackages(tool) = %v, %v", ps, err)
	}
	if ps[0].Versions != 2 {
		t.Errorf("Versions = %d, want 2", ps[0].Versions)
	}
	wantTime(t, "UpdatedAt", ps[0].UpdatedAt, when.Add(3*time.Hour))
}

func testVersionStats(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	f1 := MustCreateFile(t, s, NewFile(alice, "tool", "1.0", "a", "aaaa"))
	nf := NewFile(alice, "tool", "1.0", "b", "bb")
	nf.CreatedAt = when.Add(time.Minute)
	MustCreateFile(t, s, nf)
	f3 := MustCreateFile(t, s, NewFile(alice, "tool", "2", "c", "c"))
	MustCreateFile(t, s, NewFile(alice, "other", "2", "c", "c"))
	MustCreateFile(t, s, NewFile(bob, "tool", "1.0", "a", "zzzzzzzz"))
	pkg, err := s.PackageByName(ctx, alice.ID, depot.TypeGeneric, "tool")
	if err != nil {
		t.Fatal(err)
	}
	stats, err := s.VersionStats(ctx, pkg.ID)
	if err != nil {
		t.Fatalf("VersionStats: %v", err)
	}
	if len(stats) != 2 {
		t.Fatalf("VersionStats = %+v, want 2 versions", stats)
	}
	byID := map[int64]depot.VersionStat{}
	for _, st := range stats {
		byID[st.VersionID] = st
	}
	if st := byID[f1.VersionID]; st.Files != 2 || st.Size != 6 {
		t.Errorf("tool 1.0: %+v, want 2 files, 6 bytes", st)
	} else {
		wantTime(t, "LastUpload", st.LastUpload, when.Add(time.Minute))
	}
	if st := byID[f3.VersionID]; st.Files != 1 || st.Size != 1 {
		t.Errorf("tool 2: %+v, want 1 file, 1 byte", st)
	}
	if stats, err := s.VersionStats(ctx, pkg.ID+1000); err != nil || len(stats) != 0 {
		t.Errorf("VersionStats(missing) = %v, %v; want none", stats, err)
	}
}

func testOrgMembers(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "Bob")
	org := MustCreateOrg(t, s, "acme", alice)
	mustSetMember(t, s, org, bob, depot.AccessWrite)
	ms, err := s.OrgMembers(ctx, org.ID)
	if err != nil {
		t.Fatalf("OrgMembers: %v", err)
	}
	if len(ms) != 2 || ms[0].User.Name != "alice" || ms[0].Role != depot.AccessAdmin || ms[1].User.Name != "Bob" || ms[1].Role != depot.AccessWrite {
		t.Errorf("OrgMembers = %v, want alice admin, Bob write", ms)
	}
	if ms, err := s.OrgMembers(ctx, org.ID+bob.ID+1000); err != nil || len(ms) != 0 {
		t.Errorf("OrgMembers(missing) = %v, %v; want none", ms, err)
	}
}

// ownerPackages returns OwnerPackageStats' page as "name versions/files/size"
// strings, and the page.
func ownerPackages(tb testing.TB, s depot.Store, q depot.OwnerPackageQuery) ([]string, *depot.OwnerPackagePage) {
	tb.Helper()
	page, err := s.OwnerPackageStats(context.Background(), q)
	if err != nil {
		tb.Fatalf("OwnerPackageStats(%+v): %v", q, err)
	}
	var out []string
	for _, ps := range page.Packages {
		if ps.Package.OwnerID != q.OwnerID || ps.Package.Type != q.Type {
			tb.Errorf("OwnerPackageStats(%+v) returns %+v of another owner or type", q, ps.Package)
		}
		out = append(out, fmt.Sprintf("%s %d/%d/%d", ps.Package.Name, ps.Versions, ps.Files, ps.Size))
	}
	return out, page
}

// wantOwnerPackages checks a page of OwnerPackageStats, its total and the
// storage used.
func wantOwnerPackages(tb testing.TB, s depot.Store, what string, q depot.OwnerPackageQuery, want []string, total, used int64) *depot.OwnerPackagePage {
	tb.Helper()
	got, page := ownerPackages(tb, s, q)
	if !slices.Equal(got, want) || page.Total != total || page.StorageUsed != used {
		tb.Errorf("%s: got %q (total %d, storage used %d), want %q (total %d, storage used %d)",
			what, got, page.Total, page.StorageUsed, want, total, used)
	}
	return page
}

func testOwnerPackageStats(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	org := MustCreateOrg(t, s, "acme", alice)
	for _, nf := range []depot.NewFile{
		at(NewFile(alice, "tool", "1.0", "a", "aaaa"), 0),
		at(NewFile(alice, "tool", "1.1", "b", "bb"), 30),
		at(NewFile(alice, "tool", "1.1", "c", "c"), 31),
		// An older upload does not make the package older.
		at(NewFile(alice, "tool", "0.9", "old", "ooooo"), -60),
		at(NewFile(alice, "lib_x", "1", "x", "xx"), 10),
		at(NewFile(alice, "Lib%Y", "1", "y", "yyy"), 20),
		// Equal last uploads: ascending ID.
		at(NewFile(alice, "tie-b", "1", "t", "t1"), 5),
		at(NewFile(alice, "tie-a", "1", "t", "t2"), 5),
		// A blob shared with tool's a counts once per file.
		at(NewFile(alice, "shared", "1", "a", "aaaa"), 1),
		// Other owners and types are never included.
		at(NewFile(bob, "tool", "1.0", "a", "zzzzzzzz"), 100),
		at(depot.NewFile{OwnerID: org.ID, Type: depot.TypeGeneric, Package: "tool", Version: "1", File: "o", Blob: BlobOf("org"), CreatorID: alice.ID}, 101),
		at(depot.NewFile{OwnerID: alice.ID, Type: "npm", Package: "npm-tool", Version: "1", File: "n", Blob: BlobOf("npm npm"), CreatorID: alice.ID}, 102),
	} {
		MustCreateFile(t, s, nf)
	}
	const used = 4 + 2 + 1 + 5 + 2 + 3 + 2 + 2 + 4
	all := []string{"tool 3/4/12", "Lib%Y 1/1/3", "lib_x 1/1/2", "tie-b 1/1/2", "tie-a 1/1/2", "shared 1/1/4"}
	q := depot.OwnerPackageQuery{OwnerID: alice.ID, Type: depot.TypeGeneric}
	page := wantOwnerPackages(t, s, "every package", q, all, 6, used)
	if len(page.Packages) == 6 {
		for i, minutes := range []int{31, 20, 10, 5, 5, 1} {
			wantTime(t, page.Packages[i].Package.Name+" LastUpload", page.Packages[i].LastUpload, when.Add(time.Duration(minutes)*time.Minute))
		}
		if tool := page.Packages[0].Package; tool.ID == 0 || tool.Name != "tool" || tool.ProjectID != 0 {
			t.Errorf("tool's package = %+v", tool)
		} else {
			wantTime(t, "tool's CreatedAt", tool.CreatedAt, when)
		}
	}

	for _, tc := range []struct {
		what          string
		search        string
		limit, offset int
		want          []string
		total         int64
	}{
		{"first page", "", 2, 0, all[:2], 6},
		{"second page", "", 2, 2, all[2:4], 6},
		{"last page", "", 4, 4, all[4:], 6},
		{"offset only", "", 0, 5, all[5:], 6},
		{"past the end", "", 2, 6, nil, 6},
		{"far past the end", "", 2, 1000, nil, 6},
		{"filter ignores case", "LIB", 0, 0, all[1:3], 2},
		{"filter with %", "%", 0, 0, all[1:2], 1},
		{"filter with _", "_", 0, 0, all[2:3], 1},
		{"filter with _ literal", "b_x", 0, 0, all[2:3], 1},
		{"filter with _ not a wildcard", "o_l", 0, 0, nil, 0},
		{"filter with backslash", `\`, 0, 0, nil, 0},
		{"filter paged", "t", 2, 1, []string{"tie-b 1/1/2", "tie-a 1/1/2"}, 3},
		{"filter past the end", "tie", 2, 2, nil, 2},
		{"no match", "nothing", 10, 0, nil, 0},
	} {
		q := depot.OwnerPackageQuery{OwnerID: alice.ID, Type: depot.TypeGeneric, Search: tc.search, Limit: tc.limit, Offset: tc.offset}
		wantOwnerPackages(t, s, tc.what, q, tc.want, tc.total, used)
	}

	wantOwnerPackages(t, s, "bob", depot.OwnerPackageQuery{OwnerID: bob.ID, Type: depot.TypeGeneric}, []string{"tool 1/1/8"}, 1, 8)
	wantOwnerPackages(t, s, "another type", depot.OwnerPackageQuery{OwnerID: alice.ID, Type: "npm"}, []string{"npm-tool 1/1/7"}, 1, 7)
	wantOwnerPackages(t, s, "a missing owner", depot.OwnerPackageQuery{OwnerID: alice.ID + bob.ID + org.ID + 1000, Type: depot.TypeGeneric}, nil, 0, 0)
}

// testOwnerPackageStatsAfterDeletes checks that deletes of files and
// versions move a package in the order and change the storage used.
func testOwnerPackageStatsAfterDeletes(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	a := at(NewFile(alice, "tool", "1.0", "a", "aaaa"), 0)
	b := at(NewFile(alice, "tool", "1.1", "b", "bb"), 30)
	c := at(NewFile(alice, "tool", "1.1", "c", "c"), 31)
	lib := at(NewFile(alice, "lib", "1", "l", "lll"), 20)
	for _, nf := range []depot.NewFile{a, b, c, lib} {
		MustCreateFile(t, s, nf)
	}
	q := depot.OwnerPackageQuery{OwnerID: alice.ID, Type: depot.TypeGeneric}
	wantOwnerPackages(t, s, "before deletes", q, []string{"tool 2/3/7", "lib 1/1/3"}, 2, 10)
	r := &remover{}
	if err := deleteFile(s, c, r); err != nil {
		t.Fatal(err)
	}
	page := wantOwnerPackages(t, s, "after deleting tool's newest file", q, []string{"tool 2/2/6", "lib 1/1/3"}, 2, 9)
	if len(page.Packages) == 2 {
		wantTime(t, "tool's LastUpload", page.Packages[0].LastUpload, b.CreatedAt)
	}
	if err := deleteVersion(s, b, r); err != nil {
		t.Fatal(err)
	}
	page = wantOwnerPackages(t, s, "after deleting tool's newest version", q, []string{"lib 1/1/3", "tool 1/1/4"}, 2, 7)
	if len(page.Packages) == 2 {
		wantTime(t, "tool's LastUpload", page.Packages[1].LastUpload, a.CreatedAt)
	}
	wantOwnerPackages(t, s, "second page", depot.OwnerPackageQuery{OwnerID: alice.ID, Type: depot.TypeGeneric, Limit: 1, Offset: 1}, []string{"tool 1/1/4"}, 2, 7)
	if err := deleteFile(s, lib, r); err != nil {
		t.Fatal(err)
	}
	wantOwnerPackages(t, s, "after deleting lib", q, []string{"tool 1/1/4"}, 1, 4)
	// A new upload into an old package moves it first again.
	MustCreateFile(t, s, at(NewFile(alice, "lib", "2", "l", "llll"), 40))
	wantOwnerPackages(t, s, "after a new upload", q, []string{"lib 1/1/4", "tool 1/1/4"}, 2, 8)
}

// testOwnerPackageStatsGitLab checks GitLab uploads: superseded files count
// as files, hidden versions count (as SearchVersions lists them), and
// DeleteFileByID updates the order and the storage used.
func testOwnerPackageStatsGitLab(t *testing.T, s depot.Store) {
	ctx := context.Background()
	u, p := gitlabSetup(t, s, "")
	opts := depot.GitLabFileOptions{ProjectID: p.ID, AllowDuplicate: true}
	MustCreateFile(t, s, at(NewFile(u, "generic-one", "1", "g", "gg"), 10))
	first := MustCreateGitLabFile(t, s, at(NewFile(u, "gl", "1.0", "a.bin", "one"), 0), opts)
	newest := MustCreateGitLabFile(t, s, at(NewFile(u, "gl", "1.0", "a.bin", "three"), 20), opts)
	MustCreateGitLabFile(t, s, at(NewFile(u, "gl", "2.0", "b.bin", "hidden!"), 5), depot.GitLabFileOptions{ProjectID: p.ID, Status: depot.StatusHidden})
	q := depot.OwnerPackageQuery{OwnerID: u.ID, Type: depot.TypeGeneric}
	page := wantOwnerPackages(t, s, "GitLab uploads", q, []string{"gl 2/3/15", "generic-one 1/1/2"}, 2, 17)
	if len(page.Packages) == 2 && page.Packages[0].Package.ProjectID != p.ID {
		t.Errorf("gl's ProjectID = %d, want %d", page.Packages[0].Package.ProjectID, p.ID)
	}
	r := &remover{}
	if err := s.DeleteFileByID(ctx, newest.ID, 0, r.remove); err != nil {
		t.Fatalf("DeleteFileByID: %v", err)
	}
	page = wantOwnerPackages(t, s, "after DeleteFileByID", q, []string{"generic-one 1/1/2", "gl 2/2/10"}, 2, 12)
	if len(page.Packages) == 2 {
		wantTime(t, "gl's LastUpload", page.Packages[1].LastUpload, when.Add(5*time.Minute))
	}
	if err := s.DeleteFileByID(ctx, first.ID, 0, r.remove); err != nil {
		t.Fatalf("DeleteFileByID: %v", err)
	}
	wantOwnerPackages(t, s, "after deleting a version's last file", q, []string{"generic-one 1/1/2", "gl 1/1/7"}, 2, 9)
}

func testVersionsOf(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	tool := MustCreateFile(t, s, at(NewFile(alice, "tool", "1.0", "a", "a"), 0))
	MustCreateFile(t, s, at(NewFile(alice, "tool", "1.10", "a", "b"), 2))
	MustCreateFile(t, s, at(NewFile(alice, "tool", "1.10", "b", "c"), 3))
	MustCreateFile(t, s, at(NewFile(bob, "lib", "2", "a", "d"), 1))
	MustCreateFile(t, s, at(NewFile(alice, "unasked", "9", "a", "e"), 4))
	pkgID := func(owner *depot.User, name string) int64 {
		t.Helper()
		p, err := s.PackageByName(ctx, owner.ID, depot.TypeGeneric, name)
		if err != nil {
			t.Fatalf("PackageByName(%s): %v", name, err)
		}
		return p.ID
	}
	toolID, libID := pkgID(alice, "tool"), pkgID(bob, "lib")
	vs, err := s.VersionsOf(ctx, []int64{libID, toolID, toolID + libID + 1000})
	if err != nil {
		t.Fatalf("VersionsOf: %v", err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, fmt.Sprintf("%d %s", v.PackageID, v.Version))
	}
	want := []string{fmt.Sprintf("%d 1.0", toolID), fmt.Sprintf("%d 1.10", toolID), fmt.Sprintf("%d 2", libID)}
	if libID < toolID {
		want = append(want[2:], want[:2]...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("VersionsOf = %q, want %q", got, want)
	}
	for _, v := range vs {
		if v.Version == "1.0" {
			if v.ID != tool.VersionID || v.CreatorID != alice.ID {
				t.Errorf("tool 1.0 = %+v, want ID %d by %d", v, tool.VersionID, alice.ID)
			}
			wantTime(t, "tool 1.0 CreatedAt", v.CreatedAt, when)
		}
	}
	if vs, err := s.VersionsOf(ctx, nil); err != nil || len(vs) != 0 {
		t.Errorf("VersionsOf(none) = %v, %v; want none", vs, err)
	}
}
