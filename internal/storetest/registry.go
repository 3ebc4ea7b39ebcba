package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

func testRemoveMember(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	carol := MustCreateUser(t, s, "carol")
	org := MustCreateOrg(t, s, "acme", alice)
	mustSetMember(t, s, org, bob, depot.AccessRead)

	role := func(u *depot.User) depot.Role {
		t.Helper()
		r, err := s.MemberRole(ctx, org.ID, u.ID)
		if err != nil {
			t.Fatalf("MemberRole: %v", err)
		}
		return r
	}
	if err := s.RemoveMember(ctx, org.ID, bob.ID); err != nil {
		t.Fatalf("RemoveMember(bob): %v", err)
	}
	if r := role(bob); r != depot.AccessNone {
		t.Errorf("bob's role after RemoveMember = %v, want none", r)
	}
	wantErr(t, "RemoveMember again", s.RemoveMember(ctx, org.ID, bob.ID), depot.ErrNotFound)
	wantErr(t, "RemoveMember of a non-member", s.RemoveMember(ctx, org.ID, carol.ID), depot.ErrNotFound)
	wantErr(t, "RemoveMember in a missing org", s.RemoveMember(ctx, org.ID+carol.ID+1000, alice.ID), depot.ErrNotFound)

	// The last admin stays.
	wantErr(t, "RemoveMember of the last admin", s.RemoveMember(ctx, org.ID, alice.ID), depot.ErrConflict)
	if r := role(alice); r != depot.AccessAdmin {
		t.Errorf("alice's role after the refused removal = %v, want admin", r)
	}
	// With a second admin, the first may go.
	mustSetMember(t, s, org, carol, depot.AccessAdmin)
	if err := s.RemoveMember(ctx, org.ID, alice.ID); err != nil {
		t.Fatalf("RemoveMember(alice) with another admin: %v", err)
	}
	if r := role(alice); r != depot.AccessNone {
		t.Errorf("alice's role after RemoveMember = %v, want none", r)
	}
	wantErr(t, "RemoveMember of the new last admin", s.RemoveMember(ctx, org.ID, carol.ID), depot.ErrConflict)

	// Two admins removed at once: one removal wins, the organization keeps
	// an admin.
	for round := range 10 {
		mustSetMember(t, s, org, alice, depot.AccessAdmin)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, u := range []*depot.User{alice, carol} {
			wg.Go(func() { errs[i] = s.RemoveMember(ctx, org.ID, u.ID) })
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: concurrent removals of the two admins returned %v and %v; want one success and one conflict", round, errs[0], errs[1])
		}
		for _, err := range errs {
			if err != nil {
				wantErr(t, "the losing removal", err, depot.ErrConflict)
			}
		}
		if role(alice) != depot.AccessAdmin && role(carol) != depot.AccessAdmin {
			t.Fatalf("round %d: no admin left", round)
		}
		if role(carol) != depot.AccessAdmin {
			mustSetMember(t, s, org, carol, depot.AccessAdmin)
		}
	}
}

func mustSetMember(tb testing.TB, s depot.Store, org *depot.Owner, u *depot.User, role depot.Role) {
	tb.Helper()
	if err := s.SetMember(context.Background(), depot.Member{OrgID: org.ID, UserID: u.ID, Role: role}); err != nil {
		tb.Fatalf("SetMember(%s, %s): %v", org.Name, u.Name, err)
	}
}

func testOrgsOfUser(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	carol := MustCreateUser(t, s, "carol")
	for _, name := range []string{"Zeta", "acme", "Beta"} {
		MustCreateOrg(t, s, name, alice)
	}
	acme, err := s.OwnerByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	mustSetMember(t, s, acme, bob, depot.AccessRead)

	names := func(u int64) []string {
		t.Helper()
		orgs, err := s.OrgsOfUser(ctx, u)
		if err != nil {
			t.Fatalf("OrgsOfUser: %v", err)
		}
		var out []string
		for _, o := range orgs {
			if o.Kind != depot.KindOrg || o.ID == 0 {
				t.Errorf("OrgsOfUser returned %+v: want an organization with an ID", *o)
			}
			out = append(out, o.Name)
		}
		return out
	}
	if got, want := names(alice.ID), []string{"acme", "Beta", "Zeta"}; !slices.Equal(got, want) {
		t.Errorf("OrgsOfUser(alice) = %q, want %q", got, want)
	}
	if got, want := names(bob.ID), []string{"acme"}; !slices.Equal(got, want) {
		t.Errorf("OrgsOfUser(bob) = %q, want %q", got, want)
	}
	if got := names(carol.ID); len(got) != 0 {
		t.Errorf("OrgsOfUser(carol) = %q, want none", got)
	}
	if got := names(carol.ID + acme.ID + 1000); len(got) != 0 {
		t.Errorf("OrgsOfUser(missing) = %q, want none", got)
	}
}

// MustCreateProject creates a project of owner.
func testSearchOwners(t *testing.T, s depot.Store) {
	ctx := context.Background()
	for _, name := range []string{"dave", "Carol", "bob_x", "alice"} {
		MustCreateUser(t, s, name)
	}
	// A private user, an admin, a disabled user; a user whose email, not
	// name, matches a search.
	mustCreate := func(u *depot.User) {
		t.Helper()
		u.Kind, u.CreatedAt = depot.KindUser, when
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.Name, err)
		}
	}
	mustCreate(&depot.User{Owner: depot.Owner{Name: "hermit", Visibility: depot.Private}, Email: "hermit@example.com"})
	mustCreate(&depot.User{Owner: depot.Owner{Name: "root", Visibility: depot.Public}, Email: "ROOT@Admins.example", IsAdmin: true})
	gone := &depot.User{Owner: depot.Owner{Name: "gone", Visibility: depot.Public}, Email: "gone@example.com"}
	mustCreate(gone)
	if err := s.SetUserFlags(ctx, gone.ID, false, true); err != nil {
		t.Fatal(err)
	}
	alice, err := s.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	MustCreateOrg(t, s, "Zeta", alice)
	MustCreateOrg(t, s, "acme", alice)
	if err := s.CreateOrg(ctx, &depot.Owner{Name: "secretco", Kind: depot.KindOrg, Visibility: depot.Private, CreatedAt: when}, alice.ID); err != nil {
		t.Fatal(err)
	}

	yes, no := true, false
	for _, c := range []struct {
		name  string
		q     depot.OwnerQuery
		want  []string
		total int64
	}{
		{"every user", depot.OwnerQuery{Kind: depot.KindUser}, []string{"alice", "bob_x", "Carol", "dave", "gone", "hermit", "root"}, 7},
		{"a page", depot.OwnerQuery{Kind: depot.KindUser, Limit: 2, Offset: 2}, []string{"Carol", "dave"}, 7},
		{"the last page", depot.OwnerQuery{Kind: depot.KindUser, Limit: 5, Offset: 5}, []string{"hermit", "root"}, 7},
		{"past the end", depot.OwnerQuery{Kind: depot.KindUser, Limit: 5, Offset: 50}, nil, 7},
		{"an offset without a limit", depot.OwnerQuery{Kind: depot.KindUser, Offset: 6}, []string{"root"}, 7},
		{"public users", depot.OwnerQuery{Kind: depot.KindUser, PublicOnly: true}, []string{"alice", "bob_x", "Carol", "dave", "gone", "root"}, 6},
		{"name or email, case-insensitively", depot.OwnerQuery{Kind: depot.KindUser, Search: "ADMIN"}, []string{"root"}, 1},
		{"name part", depot.OwnerQuery{Kind: depot.KindUser, Search: "aR"}, []string{"Carol"}, 1},
		{"wildcards match literally", depot.OwnerQuery{Kind: depot.KindUser, Search: "b_"}, []string{"bob_x"}, 1},
		{"percent matches literally", depot.OwnerQuery{Kind: depot.KindUser, Search: "%"}, nil, 0},
		{"admins", depot.OwnerQuery{Kind: depot.KindUser, Admin: &yes}, []string{"root"}, 1},
		{"non-admins, enabled", depot.OwnerQuery{Kind: depot.KindUser, Admin: &no, Disabled: &no}, []string{"alice", "bob_x", "Carol", "dave", "hermit"}, 5},
		{"disabled", depot.OwnerQuery{Kind: depot.KindUser, Disabled: &yes}, []string{"gone"}, 1},
		{"organizations", depot.OwnerQuery{Kind: depot.KindOrg}, []string{"acme", "secretco", "Zeta"}, 3},
		{"public organizations", depot.OwnerQuery{Kind: depot.KindOrg, PublicOnly: true, Limit: 1, Offset: 1}, []string{"Zeta"}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, total, err := s.SearchOwners(ctx, c.q)
			if err != nil {
				t.Fatalf("SearchOwners: %v", err)
			}
			var names []string
			for _, u := range got {
				if u.ID == 0 || u.Kind != c.q.Kind {
					t.Errorf("SearchOwners returned %+v: want a %s with an ID", u.Owner, c.q.Kind)
				}
				names = append(names, u.Name)
			}
			if !slices.Equal(names, c.want) || total != c.total {
				t.Errorf("SearchOwners(%+v) = %q, total %d; want %q, total %d", c.q, names, total, c.want, c.total)
			}
		})
	}
	// Users come with their account fields.
	got, _, err := s.SearchOwners(ctx, depot.OwnerQuery{Kind: depot.KindUser, Search: "root"})
	if err != nil || len(got) != 1 {
		t.Fatalf("SearchOwners(root) = %v, %v", got, err)
	}
	if u := got[0]; !u.IsAdmin || u.Disabled || u.Email != "ROOT@Admins.example" || u.Visibility != depot.Public || !u.CreatedAt.Equal(when.Truncate(time.Microsecond)) {
		t.Errorf("root = %+v", *u)
	}
}

func MustCreateProject(tb testing.TB, s depot.Store, ownerID int64, name string, vis depot.Visibility) *depot.Project {
	tb.Helper()
	p := &depot.Project{OwnerID: ownerID, Name: name, Visibility: vis, CreatedAt: when}
	if err := s.CreateProject(context.Background(), p); err != nil {
		tb.Fatalf("CreateProject(%s): %v", name, err)
	}
	return p
}

func testProjects(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	tool := MustCreateProject(t, s, alice.ID, "Tool", "")
	secret := MustCreateProject(t, s, alice.ID, "secret", depot.Private)
	bobs := MustCreateProject(t, s, bob.ID, "tool", depot.Public) // same name, other owner
	if tool.ID == 0 || secret.ID == 0 || bobs.ID == 0 || tool.ID == secret.ID || tool.ID == bobs.ID {
		t.Errorf("project IDs %d, %d, %d: want distinct and non-zero", tool.ID, secret.ID, bobs.ID)
	}
	for _, name := range []string{"Tool", "TOOL", "tool"} {
		p := &depot.Project{OwnerID: alice.ID, Name: name, CreatedAt: when}
		wantErr(t, "CreateProject("+name+") of a taken name", s.CreateProject(ctx, p), depot.ErrConflict)
	}
	missing := alice.ID + bob.ID + 1000
	wantErr(t, "CreateProject for a missing owner", s.CreateProject(ctx, &depot.Project{OwnerID: missing, Name: "x", CreatedAt: when}), depot.ErrNotFound)

	for _, tc := range []struct {
		owner *depot.User
		name  string
		want  *depot.Project
		vis   depot.Visibility
	}{
		{alice, "tool", tool, ""},
		{alice, "TOOL", tool, ""},
		{alice, "Secret", secret, depot.Private},
		{bob, "Tool", bobs, depot.Public},
	} {
		got, err := s.ProjectByName(ctx, tc.owner.ID, tc.name)
		if err != nil {
			t.Fatalf("ProjectByName(%s, %s): %v", tc.owner.Name, tc.name, err)
		}
		if got.ID != tc.want.ID || got.Name != tc.want.Name || got.OwnerID != tc.owner.ID || got.OwnerName != tc.owner.Name || got.Visibility != tc.vis {
			t.Errorf("ProjectByName(%s, %s) = %+v, want %+v with owner name %s", tc.owner.Name, tc.name, *got, *tc.want, tc.owner.Name)
		}
		wantTime(t, "project CreatedAt", got.CreatedAt, when)
	}
	_, err := s.ProjectByName(ctx, bob.ID, "secret")
	wantErr(t, "ProjectByName of another owner's project", err, depot.ErrNotFound)
	_, err = s.ProjectByName(ctx, alice.ID, "nope")
	wantErr(t, "ProjectByName(missing)", err, depot.ErrNotFound)

	all, err := s.ListProjects(ctx)
	if err != nil {
		t.Fatalf("ListProjects: %v", err)
	}
	var got []string
	for _, p := range all {
		got = append(got, p.OwnerName+"/"+p.Name)
	}
	if want := []string{"alice/secret", "alice/Tool", "bob/tool"}; !slices.Equal(got, want) {
		t.Errorf("ListProjects = %q, want %q", got, want)
	}
}

// at returns nf recorded at when plus minutes.
func at(nf depot.NewFile, minutes int) depot.NewFile {
	nf.CreatedAt = when.Add(time.Duration(minutes) * time.Minute)
	return nf
}

func search(tb testing.TB, s depot.Store, q depot.VersionQuery) ([]string, int64) {
	tb.Helper()
	vs, total, err := s.SearchVersions(context.Background(), q)
	if err != nil {
		tb.Fatalf("SearchVersions(%+v): %v", q, err)
	}
	var out []string
	for _, v := range vs {
		out = append(out, v.Package.Name+"@"+v.Version.Version)
	}
	return out, total
}

func testSearchVersions(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	MustCreateFile(t, s, at(NewFile(alice, "app", "1.0", "app.tgz", "app 1"), 1))
	MustCreateFile(t, s, at(NewFile(alice, "app", "1.0", "app.zip", "app 1 zip"), 9)) // no new version
	MustCreateFile(t, s, at(NewFile(alice, "App-Extra", "1.0", "x", "extra"), 2))
	MustCreateFile(t, s, at(NewFile(alice, "app", "2.0", "app.tgz", "app 2"), 3))
	MustCreateFile(t, s, at(NewFile(alice, "lib_x", "0.1", "l", "lib"), 4))
	MustCreateFile(t, s, at(NewFile(bob, "app", "9.0", "app.tgz", "bob's app"), 5))

	all := []string{"lib_x@0.1", "app@2.0", "App-Extra@1.0", "app@1.0"}
	for _, tc := range []struct {
		name string
		q    depot.VersionQuery
		want []string
	}{
		{"all, newest first", depot.VersionQuery{}, all},
		{"type", depot.VersionQuery{Type: depot.TypeGeneric}, all},
		{"other type", depot.VersionQuery{Type: "npm"}, nil},
		{"name contains", depot.VersionQuery{Name: "app"}, []string{"app@2.0", "App-Extra@1.0", "app@1.0"}},
		{"name contains, other case", depot.VersionQuery{Name: "APP-"}, []string{"App-Extra@1.0"}},
		{"exact name", depot.VersionQuery{Name: "APP", ExactName: true}, []string{"app@2.0", "app@1.0"}},
		{"underscore is literal", depot.VersionQuery{Name: "_"}, []string{"lib_x@0.1"}},
		{"percent is literal", depot.VersionQuery{Name: "%"}, nil},
		{"no match", depot.VersionQuery{Name: "nope"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.OwnerID = alice.ID
			got, total := search(t, s, tc.q)
			if !slices.Equal(got, tc.want) {
				t.Errorf("SearchVersions = %q, want %q", got, tc.want)
			}
			if total != int64(len(tc.want)) {
				t.Errorf("total = %d, want %d", total, len(tc.want))
			}
		})
	}

	vs, _, err := s.SearchVersions(context.Background(), depot.VersionQuery{OwnerID: alice.ID, Name: "app", ExactName: true})
	if err != nil || len(vs) != 2 {
		t.Fatalf("SearchVersions = %d versions, %v", len(vs), err)
	}
	v := vs[0]
	if v.Package.ID == 0 || v.Package.OwnerID != alice.ID || v.Package.Type != depot.TypeGeneric || v.Package.ProjectID != 0 {
		t.Errorf("package = %+v", v.Package)
	}
	if v.Version.ID == 0 || v.Version.PackageID != v.Package.ID || v.Version.CreatorID != alice.ID {
		t.Errorf("version = %+v", v.Version)
	}
	wantTime(t, "version CreatedAt", v.Version.CreatedAt, when.Add(3*time.Minute))
	wantTime(t, "package CreatedAt", v.Package.CreatedAt, when.Add(time.Minute))
	if v.Creator == nil || v.Creator.ID != alice.ID || v.Creator.Name != "alice" || v.Creator.Email != alice.Email {
		t.Errorf("creator = %+v, want alice", v.Creator)
	}
	if v.Project != nil {
		t.Errorf("project = %+v, want none", v.Project)
	}
	if vs[1].Package.ID != v.Package.ID {
		t.Errorf("two versions of one package have package IDs %d and %d", vs[1].Package.ID, v.Package.ID)
	}

	t.Run("ties by ID", func(t *testing.T) {
		carol := MustCreateUser(t, s, "carol")
		for i := range 3 {
			MustCreateFile(t, s, at(NewFile(carol, "same", fmt.Sprintf("v%d", i), "f", fmt.Sprint(i)), 0))
		}
		got, _ := search(t, s, depot.VersionQuery{OwnerID: carol.ID})
		if want := []string{"same@v0", "same@v1", "same@v2"}; !slices.Equal(got, want) {
			t.Errorf("versions created together = %q, want ascending IDs %q", got, want)
		}
	})
}

func testSearchVersionsPaging(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	const n = 7
	var want []string
	for i := range n {
		MustCreateFile(t, s, at(NewFile(alice, fmt.Sprintf("p%d", i%3), fmt.Sprintf("1.%d", i), "f", fmt.Sprint(i)), i))
		want = append([]string{fmt.Sprintf("p%d@1.%d", i%3, i)}, want...)
	}
	var pages []string
	for _, tc := range []struct{ limit, offset, size int }{{3, 0, 3}, {3, 3, 3}, {3, 6, 1}, {3, 9, 0}, {0, 5, 2}} {
		got, total := search(t, s, depot.VersionQuery{OwnerID: alice.ID, Limit: tc.limit, Offset: tc.offset})
		if len(got) != tc.size || total != n {
			t.Errorf("limit %d offset %d: %d versions of %d, want %d of %d", tc.limit, tc.offset, len(got), total, tc.size, n)
		}
		if tc.limit == 3 {
			pages = append(pages, got...)
		} else if !slices.Equal(got, want[tc.offset:]) {
			t.Errorf("offset %d without limit = %q, want %q", tc.offset, got, want[tc.offset:])
		}
	}
	if !slices.Equal(pages, want) {
		t.Errorf("pages = %q, want %q", pages, want)
	}
}

// testSearchVersionsAcrossOwners lists the versions of two owners and two
// types, uploaded interleaved (so ids follow neither) and many at the same
// time, page by page. Every page must hold the next versions in listing
// order (newest first, ties by ascending id) of exactly the owner, type and
// name asked for, and every total must count them all, after deletions too.
func testSearchVersionsAcrossOwners(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	projects := map[int64]int64{
		alice.ID: MustCreateProject(t, s, alice.ID, "proj", "").ID,
		bob.ID:   MustCreateProject(t, s, bob.ID, "proj", "").ID,
	}
	type version struct {
		owner        int64
		typ          depot.PackageType
		pkg, version string
		minutes      int
		id           int64
		deleted      bool
	}
	var all []*version
	for i := range 90 {
		owner := alice
		if i%3 == 2 {
			owner = bob
		}
		v := &version{owner: owner.ID, typ: depot.TypeGeneric, pkg: fmt.Sprintf("pkg-%d", i%5), version: fmt.Sprintf("1.%d", i), minutes: i * 7 % 6}
		if i/2%2 == 1 {
			v.typ = "npm"
		}
		nf := at(NewFile(owner, v.pkg, v.version, "f", fmt.Sprint(i)), v.minutes)
		nf.Type = v.typ
		if i%8 == 0 {
			// The GitLab dialect's uploads are listed too.
			v.id = MustCreateGitLabFile(t, s, nf, depot.GitLabFileOptions{ProjectID: projects[owner.ID]}).VersionID
		} else {
			v.id = MustCreateFile(t, s, nf).VersionID
		}
		all = append(all, v)
	}
	for _, i := range []int{3, 10, 44} {
		v := all[i]
		if err := s.DeleteVersion(ctx, v.owner, v.typ, v.pkg, v.version, 0, func(context.Context, string) error { return nil }); err != nil {
			t.Fatalf("DeleteVersion(%s@%s): %v", v.pkg, v.version, err)
		}
		v.deleted = true
	}
	slices.SortStableFunc(all, func(a, b *version) int {
		if a.minutes != b.minutes {
			return b.minutes - a.minutes
		}
		return int(a.id - b.id)
	})

	const limit = 7
	for _, owner := range []*depot.User{alice, bob} {
		for _, typ := range []depot.PackageType{"", depot.TypeGeneric, "npm"} {
			for _, name := range []struct {
				name  string
				exact bool
				match func(pkg string) bool
			}{
				{"", false, func(string) bool { return true }},
				{"PKG-3", true, func(pkg string) bool { return pkg == "pkg-3" }},
				{"-1", false, func(pkg string) bool { return pkg == "pkg-1" }},
				{"kg", false, func(string) bool { return true }},
			} {
				var want []string
				for _, v := range all {
					if !v.deleted && v.owner == owner.ID && (typ == "" || v.typ == typ) && name.match(v.pkg) {
						want = append(want, v.pkg+"@"+v.version)
					}
				}
				q := depot.VersionQuery{OwnerID: owner.ID, Type: typ, Name: name.name, ExactName: name.exact}
				t.Run(fmt.Sprintf("%s type %q name %q", owner.Name, typ, name.name), func(t *testing.T) {
					for off := 0; off <= len(want)+limit; off += limit {
						q.Limit, q.Offset = limit, off
						got, total := search(t, s, q)
						page := want[min(off, len(want)):min(off+limit, len(want))]
						if !slices.Equal(got, page) || total != int64(len(want)) {
							t.Errorf("offset %d: %q (total %d), want %q (total %d)", off, got, total, page, len(want))
						}
					}
					q.Limit, q.Offset = 0, 5
					if got, _ := search(t, s, q); !slices.Equal(got, want[min(5, len(want)):]) {
						t.Errorf("offset 5 without limit: %q, want %q", got, want[min(5, len(want)):])
					}
				})
			}
		}
	}
}

func testVersionByName(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	f := MustCreateFile(t, s, at(NewFile(bob, "Tool", "1.0-RC1", "t", "tool"), 2))
	MustCreateFile(t, s, NewFile(alice, "tool", "1.0-rc1", "t", "alice's tool"))
	got, err := s.VersionByName(ctx, bob.ID, depot.TypeGeneric, "TOOL", "1.0-rc1")
	if err != nil {
		t.Fatalf("VersionByName: %v", err)
	}
	if got.Version.ID != f.VersionID || got.Version.Version != "1.0-RC1" || got.Package.Name != "Tool" || got.Package.OwnerID != bob.ID {
		t.Errorf("VersionByName = %+v / %+v, want bob's Tool 1.0-RC1 (version %d)", got.Package, got.Version, f.VersionID)
	}
	if got.Creator == nil || got.Creator.ID != bob.ID || got.Creator.Kind != depot.KindUser {
		t.Errorf("creator = %+v, want bob", got.Creator)
	}
	wantTime(t, "CreatedAt", got.Version.CreatedAt, when.Add(2*time.Minute))
	for _, tc := range []struct {
		name         string
		owner        int64
		typ          depot.PackageType
		pkg, version string
	}{
		{"missing version", bob.ID, depot.TypeGeneric, "tool", "2.0"},
		{"missing package", bob.ID, depot.TypeGeneric, "nope", "1.0-rc1"},
		{"other type", bob.ID, "npm", "tool", "1.0-rc1"},
		{"missing owner", alice.ID + bob.ID + 1000, depot.TypeGeneric, "tool", "1.0-rc1"},
	} {
		_, err := s.VersionByName(ctx, tc.owner, tc.typ, tc.pkg, tc.version)
		wantErr(t, "VersionByName of a "+tc.name, err, depot.ErrNotFound)
	}
}

func testListFiles(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	var want []depot.NewFile
	for _, name := range []string{"b.bin", "a.bin", "c.bin"} {
		nf := NewFile(alice, "tool", "1.0", name, "content of "+name)
		MustCreateFile(t, s, nf)
		want = append(want, nf)
	}
	other := MustCreateFile(t, s, NewFile(alice, "tool", "2.0", "a.bin", "other"))
	first := mustFile(t, s, want[0])
	files, err := s.ListFiles(ctx, first.VersionID)
	if err != nil {
		t.Fatalf("ListFiles: %v", err)
	}
	if len(files) != len(want) {
		t.Fatalf("ListFiles returned %d files, want %d", len(files), len(want))
	}
	for i, f := range files {
		w := want[i]
		if f.Name != w.File || f.VersionID != first.VersionID || f.Blob.SHA256 != w.Blob.SHA256 || f.Blob.Size != w.Blob.Size ||
			f.Blob.MD5 != w.Blob.MD5 || f.Blob.SHA1 != w.Blob.SHA1 || f.Blob.SHA512 != w.Blob.SHA512 || f.ID == 0 {
			t.Errorf("ListFiles[%d] = %+v, want %s with blob %+v", i, *f, w.File, w.Blob)
		}
	}
	if files, err := s.ListFiles(ctx, other.VersionID); err != nil || len(files) != 1 || files[0].ID != other.ID {
		t.Errorf("ListFiles(other version) = %v, %v; want only file %d", files, err, other.ID)
	}
	if files, err := s.ListFiles(ctx, other.VersionID+first.VersionID+1000); err != nil || len(files) != 0 {
		t.Errorf("ListFiles(missing) = %v, %v; want none", files, err)
	}
}

func testPackageByName(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	MustCreateFile(t, s, at(NewFile(alice, "Tool", "1.0", "t", "tool"), 5))
	MustCreateFile(t, s, NewFile(alice, "tool", "2.0", "t", "tool 2"))
	p, err := s.PackageByName(ctx, alice.ID, depot.TypeGeneric, "TOOL")
	if err != nil {
		t.Fatalf("PackageByName: %v", err)
	}
	if p.ID == 0 || p.Name != "Tool" || p.OwnerID != alice.ID || p.Type != depot.TypeGeneric || p.ProjectID != 0 {
		t.Errorf("PackageByName = %+v, want alice's Tool", *p)
	}
	wantTime(t, "CreatedAt", p.CreatedAt, when.Add(5*time.Minute))
	_, err = s.PackageByName(ctx, bob.ID, depot.TypeGeneric, "tool")
	wantErr(t, "PackageByName of another owner", err, depot.ErrNotFound)
	_, err = s.PackageByName(ctx, alice.ID, "npm", "tool")
	wantErr(t, "PackageByName of another type", err, depot.ErrNotFound)
}

func testSetPackageProject(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	MustCreateFile(t, s, NewFile(alice, "tool", "1.0", "t", "tool"))
	proj := MustCreateProject(t, s, alice.ID, "tool-src", depot.Private)
	bobs := MustCreateProject(t, s, bob.ID, "bob-src", "")
	pkg, err := s.PackageByName(ctx, alice.ID, depot.TypeGeneric, "tool")
	if err != nil {
		t.Fatal(err)
	}
	linked := func() int64 {
		t.Helper()
		p, err := s.PackageByName(ctx, alice.ID, depot.TypeGeneric, "tool")
		if err != nil {
			t.Fatalf("PackageByName: %v", err)
		}
		return p.ProjectID
	}

	if err := s.SetPackageProject(ctx, pkg.ID, proj.ID); err != nil {
		t.Fatalf("SetPackageProject: %v", err)
	}
	if got := linked(); got != proj.ID {
		t.Errorf("ProjectID = %d, want %d", got, proj.ID)
	}
	v, err := s.VersionByName(ctx, alice.ID, depot.TypeGeneric, "tool", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if v.Project == nil || v.Project.ID != proj.ID || v.Project.Name != "tool-src" || v.Project.Visibility != depot.Private || v.Project.OwnerID != alice.ID {
		t.Errorf("VersionByName project = %+v, want tool-src", v.Project)
	}
	if vs, _, err := s.SearchVersions(ctx, depot.VersionQuery{OwnerID: alice.ID}); err != nil || len(vs) != 1 || vs[0].Project == nil || vs[0].Project.ID != proj.ID {
		t.Errorf("SearchVersions after linking = %v, %v; want one version with project %d", vs, err, proj.ID)
	}

	wantErr(t, "SetPackageProject to another owner's project", s.SetPackageProject(ctx, pkg.ID, bobs.ID), depot.ErrNotFound)
	wantErr(t, "SetPackageProject to a missing project", s.SetPackageProject(ctx, pkg.ID, proj.ID+bobs.ID+1000), depot.ErrNotFound)
	if got := linked(); got != proj.ID {
		t.Errorf("refused links changed ProjectID to %d", got)
	}
	wantErr(t, "SetPackageProject of a missing package", s.SetPackageProject(ctx, pkg.ID+1000, proj.ID), depot.ErrNotFound)

	if err := s.SetPackageProject(ctx, pkg.ID, 0); err != nil {
		t.Fatalf("SetPackageProject(0): %v", err)
	}
	if got := linked(); got != 0 {
		t.Errorf("ProjectID after unlinking = %d, want 0", got)
	}
	v, err = s.VersionByName(ctx, alice.ID, depot.TypeGeneric, "tool", "1.0")
	if err != nil || v.Project != nil {
		t.Errorf("VersionByName after unlinking: project %+v, %v; want none", v.Project, err)
	}
}
