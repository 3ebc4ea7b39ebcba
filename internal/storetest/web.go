package storetest

import (
	"context"
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
	f3 := MustCreateFile(t, s, NewFile(alice, "other", "2", "c", "c"))
	MustCreateFile(t, s, NewFile(bob, "tool", "1.0", "a", "zzzzzzzz"))
	stats, err := s.VersionStats(ctx, alice.ID)
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
		t.Errorf("other 2: %+v, want 1 file, 1 byte", st)
	}
	if stats, err := s.VersionStats(ctx, bob.ID+alice.ID+1000); err != nil || len(stats) != 0 {
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
