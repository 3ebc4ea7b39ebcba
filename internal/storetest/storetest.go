// Package storetest is the conformance suite for depot.Store. Every metadata
// backend's tests run it:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, newStore)
//	}
//
// Each subtest gets a new, empty store, so subtests do not depend on each
// other and a backend may run them in any order.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// Run runs the suite. newStore returns a new, empty store for each subtest
// and registers its own cleanup (Close) with t.
func Run(t *testing.T, newStore func(t *testing.T) depot.Store) {
	if newStore == nil {
		t.Fatal("storetest.Run needs newStore")
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s depot.Store)
	}{
		{"CreateUser", testCreateUser},
		{"CreateOrg", testCreateOrg},
		{"Lookups", testLookups},
		{"ListUsers", testListUsers},
		{"Members", testMembers},
		{"Tokens", testTokens},
		{"CreateFile", testCreateFile},
		{"CreateFileConflict", testCreateFileConflict},
		{"CreateFileCommitFails", testCreateFileCommitFails},
		{"FileByName", testFileByName},
		{"OwnersAreSeparate", testOwnersAreSeparate},
		{"SharedBlob", testSharedBlob},
		{"DeleteLastFile", testDeleteLastFile},
		{"DeleteVersion", testDeleteVersion},
		{"RemoveBlobFails", testRemoveBlobFails},
		{"RemoveUnrecordedBlob", testRemoveUnrecordedBlob},
		{"RemoveUnrecordedBlobRace", testRemoveUnrecordedBlobRace},
		{"DeleteMissing", testDeleteMissing},
		{"ConcurrentNewVersion", testConcurrentNewVersion},
		{"ConcurrentSameFile", testConcurrentSameFile},
		{"ConcurrentSameFileExistingVersion", testConcurrentSameFileExistingVersion},
		{"ConcurrentSharedBlob", testConcurrentSharedBlob},
		{"ConcurrentDeleteAndCreate", testConcurrentDeleteAndCreate},
		{"ConcurrentDeletes", testConcurrentDeletes},
		{"ConcurrentCreateFiles", testConcurrentCreateFiles},
		{"RemoveMember", testRemoveMember},
		{"OrgsOfUser", testOrgsOfUser},
		{"SearchOwners", testSearchOwners},
		{"Projects", testProjects},
		{"VersionByName", testVersionByName},
		{"ListFiles", testListFiles},
		{"PackageByName", testPackageByName},
		{"SetPackageProject", testSetPackageProject},
		{"GitLab", testGitLab},
		{"IDsNeverReused", testIDsNeverReused},
		{"Resumable", testResumable},
		{"DeferredDigests", testDeferredDigests},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
	RunListings(t, newStore)
	runWeb(t, newStore)
	runIntegrity(t, newStore)
	runInline(t, newStore)
	runPublish(t, newStore)
	runQuota(t, newStore)
	runHooks(t, newStore)
	runAudit(t, newStore)
	runCleanup(t, newStore)
}

// RunListings runs the part of the suite that lists versions (SearchVersions
// and SearchGitLabPackages), which Run runs too: a backend that chooses
// between query plans by a setting runs it again with the setting changed,
// so that every plan meets the suite.
func RunListings(t *testing.T, newStore func(t *testing.T) depot.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s depot.Store)
	}{
		{"SearchVersions", testSearchVersions},
		{"SearchVersionsPaging", testSearchVersionsPaging},
		{"SearchVersionsAcrossOwners", testSearchVersionsAcrossOwners},
		{"GitLabSearch", testGitLabSearch},
		{"GitLabSearchPaging", testGitLabSearchPaging},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// when is a time with nanoseconds in a zone other than UTC: stores keep
// microseconds (as PostgreSQL does) and the instant, not the zone.
var when = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

// stored is t as a store gives it back.
func stored(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

func wantTime(tb testing.TB, what string, got, want time.Time) {
	tb.Helper()
	if !got.Equal(stored(want)) {
		tb.Errorf("%s = %v, want %v", what, got, stored(want))
	}
}

func wantErr(tb testing.TB, what string, err, kind error) {
	tb.Helper()
	if !errors.Is(err, kind) {
		tb.Errorf("%s: error = %v, want %v", what, err, kind)
	}
}

// MustCreateUser creates a public user named name.
func MustCreateUser(tb testing.TB, s depot.Store, name string) *depot.User {
	tb.Helper()
	u := &depot.User{
		Owner:        depot.Owner{Name: name, Kind: depot.KindUser, Visibility: depot.Public, CreatedAt: when},
		Email:        name + "@example.com",
		PasswordHash: "hash of " + name,
	}
	if err := s.CreateUser(context.Background(), u); err != nil {
		tb.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

// MustCreateOrg creates a public organization named name with admin as its
// first member.
func MustCreateOrg(tb testing.TB, s depot.Store, name string, admin *depot.User) *depot.Owner {
	tb.Helper()
	o := &depot.Owner{Name: name, Kind: depot.KindOrg, Visibility: depot.Public, CreatedAt: when}
	if err := s.CreateOrg(context.Background(), o, admin.ID); err != nil {
		tb.Fatalf("CreateOrg(%s): %v", name, err)
	}
	return o
}

// BlobOf returns the blob record of content, as the service computes it.
func BlobOf(content string) depot.Blob {
	d := depot.NewDigester()
	d.Write([]byte(content))
	b := d.Blob()
	b.CreatedAt = when
	return b
}

// NewFile returns what CreateFile needs to record file pkg/version/name of
// owner with content.
func NewFile(owner *depot.User, pkg, version, name, content string) depot.NewFile {
	return depot.NewFile{
		OwnerID: owner.ID, Type: depot.TypeGeneric, Package: pkg, Version: version, File: name,
		Blob: BlobOf(content), CreatorID: owner.ID, CreatedAt: when,
	}
}

// MustCreateFile records nf and checks that commitBlob was called once.
func MustCreateFile(tb testing.TB, s depot.Store, nf depot.NewFile) *depot.File {
	tb.Helper()
	var calls atomic.Int32
	f, err := s.CreateFile(context.Background(), nf, func(context.Context) error {
		calls.Add(1)
		return nil
	})
	if err != nil {
		tb.Fatalf("CreateFile(%s/%s/%s): %v", nf.Package, nf.Version, nf.File, err)
	}
	if n := calls.Load(); n != 1 {
		tb.Errorf("CreateFile(%s/%s/%s) called commitBlob %d times, want 1", nf.Package, nf.Version, nf.File, n)
	}
	return f
}

// fileByName looks up nf's file.
func fileByName(s depot.Store, nf depot.NewFile) (*depot.File, error) {
	return s.FileByName(context.Background(), nf.OwnerID, nf.Type, nf.Package, nf.Version, nf.File)
}

func mustFile(tb testing.TB, s depot.Store, nf depot.NewFile) *depot.File {
	tb.Helper()
	f, err := fileByName(s, nf)
	if err != nil {
		tb.Fatalf("FileByName(%s/%s/%s): %v", nf.Package, nf.Version, nf.File, err)
	}
	return f
}

func wantNoFile(tb testing.TB, s depot.Store, nf depot.NewFile) {
	tb.Helper()
	_, err := fileByName(s, nf)
	wantErr(tb, fmt.Sprintf("FileByName(%s/%s/%s)", nf.Package, nf.Version, nf.File), err, depot.ErrNotFound)
}

func wantBlob(tb testing.TB, s depot.Store, sha string, want bool) {
	tb.Helper()
	got, err := s.BlobExists(context.Background(), sha)
	if err != nil {
		tb.Fatalf("BlobExists: %v", err)
	}
	if got != want {
		tb.Errorf("BlobExists(%.12s…) = %v, want %v", sha, got, want)
	}
}

// remover records removeBlob calls and fails them when err is set.
type remover struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (r *remover) remove(_ context.Context, sha string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, sha)
	return r.err
}

func (r *remover) want(tb testing.TB, shas ...string) {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	got := slices.Sorted(slices.Values(r.calls))
	want := slices.Sorted(slices.Values(shas))
	if !slices.Equal(got, want) {
		tb.Errorf("removeBlob calls = %.12q, want %.12q", got, want)
	}
	r.calls = nil
}

func deleteFile(s depot.Store, nf depot.NewFile, r *remover) error {
	return s.DeleteFile(context.Background(), nf.OwnerID, nf.Type, nf.Package, nf.Version, nf.File, 0, r.remove)
}

func deleteVersion(s depot.Store, nf depot.NewFile, r *remover) error {
	return s.DeleteVersion(context.Background(), nf.OwnerID, nf.Type, nf.Package, nf.Version, 0, r.remove)
}

func testCreateUser(t *testing.T, s depot.Store) {
	ctx := context.Background()
	a := MustCreateUser(t, s, "alice")
	b := MustCreateUser(t, s, "bob")
	if a.ID == 0 || b.ID == 0 || a.ID == b.ID {
		t.Errorf("IDs %d and %d: want distinct and non-zero", a.ID, b.ID)
	}
	for _, name := range []string{"alice", "ALICE", "Alice"} {
		u := &depot.User{Owner: depot.Owner{Name: name, Kind: depot.KindUser, Visibility: depot.Public, CreatedAt: when}}
		wantErr(t, "CreateUser("+name+") of a taken name", s.CreateUser(ctx, u), depot.ErrConflict)
	}
	// The conflicts created nothing.
	users, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if len(users) != 2 {
		t.Errorf("ListUsers has %d users after conflicts, want 2", len(users))
	}

	u := &depot.User{
		Owner:        depot.Owner{Name: "Carol", Kind: depot.KindUser, Visibility: depot.Private, CreatedAt: when},
		Email:        "carol@example.com",
		PasswordHash: "$2a$10$hash",
		IsAdmin:      true,
		Disabled:     true,
	}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	got, err := s.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	wantTime(t, "CreatedAt", got.CreatedAt, when)
	got.CreatedAt = u.CreatedAt
	if *got != *u {
		t.Errorf("UserByID = %+v, want %+v", *got, *u)
	}
}

func testCreateOrg(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	org := MustCreateOrg(t, s, "Acme", alice)
	if org.ID == 0 || org.ID == alice.ID || org.ID == bob.ID {
		t.Errorf("org ID %d: want non-zero and distinct from users' %d, %d", org.ID, alice.ID, bob.ID)
	}
	role, err := s.MemberRole(ctx, org.ID, alice.ID)
	if err != nil || role != depot.AccessAdmin {
		t.Errorf("MemberRole(admin) = %v, %v; want admin", role, err)
	}
	role, err = s.MemberRole(ctx, org.ID, bob.ID)
	if err != nil || role != depot.AccessNone {
		t.Errorf("MemberRole(non-member) = %v, %v; want none", role, err)
	}

	for _, name := range []string{"acme", "ACME", "Alice", "bob"} {
		o := &depot.Owner{Name: name, Kind: depot.KindOrg, Visibility: depot.Public, CreatedAt: when}
		wantErr(t, "CreateOrg("+name+") of a taken name", s.CreateOrg(ctx, o, alice.ID), depot.ErrConflict)
	}
	u := &depot.User{Owner: depot.Owner{Name: "ACME", Kind: depot.KindUser, Visibility: depot.Public, CreatedAt: when}}
	wantErr(t, "CreateUser of an organization's name", s.CreateUser(ctx, u), depot.ErrConflict)

	// The admin must be an existing user; nothing is created otherwise.
	for _, tc := range []struct {
		name  string
		admin int64
	}{
		{"missing", bob.ID + org.ID + 1000},
		{"org", org.ID},
	} {
		t.Run("admin is "+tc.name, func(t *testing.T) {
			name := "orphan-" + tc.name
			o := &depot.Owner{Name: name, Kind: depot.KindOrg, Visibility: depot.Public, CreatedAt: when}
			wantErr(t, "CreateOrg", s.CreateOrg(ctx, o, tc.admin), depot.ErrNotFound)
			_, err := s.OwnerByName(ctx, name)
			wantErr(t, "OwnerByName after a failed CreateOrg", err, depot.ErrNotFound)
		})
	}
}

func testLookups(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "Alice")
	org := MustCreateOrg(t, s, "acme", alice)

	for _, name := range []string{"Alice", "alice", "ALICE"} {
		o, err := s.OwnerByName(ctx, name)
		if err != nil {
			t.Fatalf("OwnerByName(%s): %v", name, err)
		}
		if o.ID != alice.ID || o.Name != "Alice" || o.Kind != depot.KindUser || o.Visibility != depot.Public {
			t.Errorf("OwnerByName(%s) = %+v, want user Alice %d", name, *o, alice.ID)
		}
		u, err := s.UserByName(ctx, name)
		if err != nil {
			t.Fatalf("UserByName(%s): %v", name, err)
		}
		if u.ID != alice.ID || u.Name != "Alice" || u.Email != alice.Email || u.PasswordHash != alice.PasswordHash {
			t.Errorf("UserByName(%s) = %+v, want %+v", name, *u, *alice)
		}
	}
	o, err := s.OwnerByName(ctx, "ACME")
	if err != nil {
		t.Fatalf("OwnerByName(org): %v", err)
	}
	if o.ID != org.ID || o.Name != "acme" || o.Kind != depot.KindOrg {
		t.Errorf("OwnerByName(org) = %+v, want org acme %d", *o, org.ID)
	}
	wantTime(t, "org CreatedAt", o.CreatedAt, when)

	u, err := s.UserByID(ctx, alice.ID)
	if err != nil || u.Name != "Alice" {
		t.Errorf("UserByID = %v, %v; want Alice", u, err)
	}

	_, err = s.UserByName(ctx, "acme")
	wantErr(t, "UserByName(org)", err, depot.ErrNotFound)
	_, err = s.UserByID(ctx, org.ID)
	wantErr(t, "UserByID(org)", err, depot.ErrNotFound)
	_, err = s.OwnerByName(ctx, "nobody")
	wantErr(t, "OwnerByName(missing)", err, depot.ErrNotFound)
	_, err = s.UserByName(ctx, "nobody")
	wantErr(t, "UserByName(missing)", err, depot.ErrNotFound)
	_, err = s.UserByID(ctx, org.ID+alice.ID+1000)
	wantErr(t, "UserByID(missing)", err, depot.ErrNotFound)
}

func testListUsers(t *testing.T, s depot.Store) {
	ctx := context.Background()
	users, err := s.ListUsers(ctx)
	if err != nil || len(users) != 0 {
		t.Fatalf("ListUsers of an empty store = %v, %v", users, err)
	}
	// Names compare case-insensitively everywhere, ordering included.
	var admin *depot.User
	for _, name := range []string{"dave", "Bob", "carol", "alice", "Eve"} {
		u := MustCreateUser(t, s, name)
		admin = u
	}
	MustCreateOrg(t, s, "aaa-org", admin)
	users, err = s.ListUsers(ctx)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
		if u.Kind != depot.KindUser {
			t.Errorf("ListUsers returned %s of kind %s", u.Name, u.Kind)
		}
	}
	if want := []string{"alice", "Bob", "carol", "dave", "Eve"}; !slices.Equal(names, want) {
		t.Errorf("ListUsers = %q, want %q", names, want)
	}
}

func testMembers(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	org := MustCreateOrg(t, s, "acme", alice)
	other := MustCreateOrg(t, s, "other", alice)
	missing := alice.ID + bob.ID + org.ID + other.ID + 1000

	role := func(orgID, userID int64) depot.Role {
		t.Helper()
		r, err := s.MemberRole(ctx, orgID, userID)
		if err != nil {
			t.Fatalf("MemberRole: %v", err)
		}
		return r
	}
	if r := role(org.ID, bob.ID); r != depot.AccessNone {
		t.Errorf("role of a non-member = %v, want none", r)
	}
	for _, want := range []depot.Role{depot.AccessRead, depot.AccessWrite, depot.AccessRead, depot.AccessAdmin} {
		if err := s.SetMember(ctx, depot.Member{OrgID: org.ID, UserID: bob.ID, Role: want}); err != nil {
			t.Fatalf("SetMember(%v): %v", want, err)
		}
		if r := role(org.ID, bob.ID); r != want {
			t.Errorf("role after SetMember(%v) = %v", want, r)
		}
	}
	if r := role(other.ID, bob.ID); r != depot.AccessNone {
		t.Errorf("role in another organization = %v, want none", r)
	}
	if r := role(missing, bob.ID); r != depot.AccessNone {
		t.Errorf("role in a missing organization = %v, want none", r)
	}

	for _, tc := range []struct {
		name        string
		org, member int64
	}{
		{"missing org", missing, bob.ID},
		{"missing user", org.ID, missing},
		{"org is a user", alice.ID, bob.ID},
		{"user is an org", org.ID, other.ID},
	} {
		err := s.SetMember(ctx, depot.Member{OrgID: tc.org, UserID: tc.member, Role: depot.AccessRead})
		wantErr(t, "SetMember with "+tc.name, err, depot.ErrNotFound)
		if r := role(tc.org, tc.member); r != depot.AccessNone {
			t.Errorf("SetMember with %s recorded role %v", tc.name, r)
		}
	}
}

func testTokens(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	expires := when.Add(90 * 24 * time.Hour)
	mk := func(u *depot.User, name, hash, lastEight string, exp *time.Time) *depot.Token {
		return &depot.Token{
			UserID: u.ID, Name: name, Hash: hash, LastEight: lastEight,
			Scopes: depot.Scopes{depot.ScopeWritePackage, depot.ScopeReadUser}, CreatedAt: when, ExpiresAt: exp,
		}
	}
	ci := mk(alice, "ci", "hash-1", "aaaa1111", &expires)
	laptop := mk(alice, "laptop", "hash-2", "bbbb2222", nil)
	bobs := mk(bob, "ci", "hash-3", "aaaa1111", nil) // same name and last eight, other user
	for _, tok := range []*depot.Token{laptop, ci, bobs} {
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatalf("CreateToken(%s): %v", tok.Name, err)
		}
	}
	if ci.ID == 0 || laptop.ID == 0 || bobs.ID == 0 || ci.ID == laptop.ID || ci.ID == bobs.ID {
		t.Errorf("token IDs %d, %d, %d: want distinct and non-zero", ci.ID, laptop.ID, bobs.ID)
	}
	wantErr(t, "CreateToken of a taken name", s.CreateToken(ctx, mk(alice, "ci", "hash-4", "cccc3333", nil)), depot.ErrConflict)

	check := func(what string, got *depot.Token, want *depot.Token) {
		t.Helper()
		if got.ID != want.ID || got.UserID != want.UserID || got.Name != want.Name || got.Hash != want.Hash ||
			got.LastEight != want.LastEight || got.Scopes.String() != want.Scopes.String() {
			t.Errorf("%s = %+v, want %+v", what, *got, *want)
		}
		wantTime(t, what+" CreatedAt", got.CreatedAt, want.CreatedAt)
		switch {
		case want.ExpiresAt == nil && got.ExpiresAt != nil:
			t.Errorf("%s ExpiresAt = %v, want nil", what, *got.ExpiresAt)
		case want.ExpiresAt != nil && got.ExpiresAt == nil:
			t.Errorf("%s ExpiresAt = nil, want %v", what, *want.ExpiresAt)
		case want.ExpiresAt != nil:
			wantTime(t, what+" ExpiresAt", *got.ExpiresAt, *want.ExpiresAt)
		}
	}
	list := func(userID int64) []*depot.Token {
		t.Helper()
		toks, err := s.ListTokens(ctx, userID)
		if err != nil {
			t.Fatalf("ListTokens: %v", err)
		}
		return toks
	}
	byID := func(toks []*depot.Token) []*depot.Token {
		return slices.SortedFunc(slices.Values(toks), func(a, b *depot.Token) int { return int(a.ID - b.ID) })
	}

	got, err := s.TokensByLastEight(ctx, "aaaa1111")
	if err != nil {
		t.Fatalf("TokensByLastEight: %v", err)
	}
	want := byID([]*depot.Token{ci, bobs})
	if got = byID(got); len(got) != len(want) {
		t.Fatalf("TokensByLastEight returned %d tokens, want %d", len(got), len(want))
	}
	for i := range got {
		check("TokensByLastEight", got[i], want[i])
	}
	if got, err := s.TokensByLastEight(ctx, "dddd4444"); err != nil || len(got) != 0 {
		t.Errorf("TokensByLastEight(unknown) = %v, %v; want none", got, err)
	}

	toks := list(alice.ID)
	if len(toks) != 2 {
		t.Fatalf("ListTokens returned %d tokens, want 2", len(toks))
	}
	check("ListTokens[0]", toks[0], ci)
	check("ListTokens[1]", toks[1], laptop)

	if err := s.DeleteToken(ctx, alice.ID, "ci"); err != nil {
		t.Fatalf("DeleteToken: %v", err)
	}
	if toks := list(alice.ID); len(toks) != 1 || toks[0].Name != "laptop" {
		t.Errorf("ListTokens after DeleteToken = %v, want laptop only", toks)
	}
	if toks := list(bob.ID); len(toks) != 1 || toks[0].ID != bobs.ID {
		t.Errorf("DeleteToken removed another user's token: bob has %v", toks)
	}
	wantErr(t, "DeleteToken again", s.DeleteToken(ctx, alice.ID, "ci"), depot.ErrNotFound)
	wantErr(t, "DeleteToken of a missing name", s.DeleteToken(ctx, alice.ID, "nope"), depot.ErrNotFound)
	wantErr(t, "DeleteToken of another user's token", s.DeleteToken(ctx, alice.ID+bob.ID+1000, "laptop"), depot.ErrNotFound)
	// The name is free again.
	if err := s.CreateToken(ctx, mk(alice, "ci", "hash-5", "eeee5555", nil)); err != nil {
		t.Errorf("CreateToken of a deleted token's name: %v", err)
	}
}

func testCreateFile(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	a := NewFile(alice, "Tool", "1.0-RC1", "tool.tar.gz", "tool bytes")
	fa := MustCreateFile(t, s, a)
	if fa.ID == 0 || fa.VersionID == 0 {
		t.Errorf("CreateFile = %+v: want ID and VersionID set", *fa)
	}
	if fa.Name != a.File || fa.Blob.SHA256 != a.Blob.SHA256 || fa.CreatorID != alice.ID {
		t.Errorf("CreateFile = %+v, want name %s, blob %s, creator %d", *fa, a.File, a.Blob.SHA256, alice.ID)
	}
	wantBlob(t, s, a.Blob.SHA256, true)

	// A second file in the same version, named with other cases, reuses it.
	b := NewFile(alice, "TOOL", "1.0-rc1", "tool.sig", "signature")
	fb := MustCreateFile(t, s, b)
	if fb.VersionID != fa.VersionID {
		t.Errorf("second file's VersionID = %d, want %d (same version)", fb.VersionID, fa.VersionID)
	}
	if fb.ID == fa.ID {
		t.Errorf("two files have ID %d", fb.ID)
	}
	c := NewFile(alice, "tool", "2.0", "tool.tar.gz", "tool 2 bytes")
	if fc := MustCreateFile(t, s, c); fc.VersionID == fa.VersionID {
		t.Errorf("another version's file has VersionID %d of version 1.0-RC1", fc.VersionID)
	}
	for _, nf := range []depot.NewFile{a, b, c} {
		if f := mustFile(t, s, nf); f.Name != nf.File || f.Blob.SHA256 != nf.Blob.SHA256 {
			t.Errorf("FileByName(%s/%s/%s) = %s with blob %s", nf.Package, nf.Version, nf.File, f.Name, f.Blob.SHA256)
		}
	}
}

func testCreateFileConflict(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	orig := NewFile(alice, "tool", "1.0", "tool.bin", "original")
	MustCreateFile(t, s, orig)
	for _, name := range []string{"tool.bin", "TOOL.BIN", "Tool.Bin"} {
		dup := NewFile(alice, "TOOL", "1.0", name, "replacement")
		called := false
		_, err := s.CreateFile(ctx, dup, func(context.Context) error {
			called = true
			return nil
		})
		wantErr(t, "CreateFile("+name+") of an existing file", err, depot.ErrConflict)
		if called {
			t.Errorf("CreateFile(%s) of an existing file called commitBlob", name)
		}
		wantBlob(t, s, dup.Blob.SHA256, false)
	}
	if f := mustFile(t, s, orig); f.Name != "tool.bin" || f.Blob.SHA256 != orig.Blob.SHA256 {
		t.Errorf("after conflicts the file is %s with blob %s, want the original", f.Name, f.Blob.SHA256)
	}
}

func testCreateFileCommitFails(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	boom := errors.New("blob storage is down")

	t.Run("new version", func(t *testing.T) {
		nf := NewFile(alice, "tool", "1.0", "tool.bin", "never stored")
		_, err := s.CreateFile(ctx, nf, func(context.Context) error { return boom })
		wantErr(t, "CreateFile", err, boom)
		wantNoFile(t, s, nf)
		wantBlob(t, s, nf.Blob.SHA256, false)
		// Nor was the version created.
		wantErr(t, "DeleteVersion of the failed file's version", deleteVersion(s, nf, &remover{}), depot.ErrNotFound)
	})
	t.Run("existing version", func(t *testing.T) {
		first := NewFile(alice, "tool", "2.0", "a.bin", "first")
		MustCreateFile(t, s, first)
		nf := NewFile(alice, "tool", "2.0", "b.bin", "never stored either")
		_, err := s.CreateFile(ctx, nf, func(context.Context) error { return boom })
		wantErr(t, "CreateFile", err, boom)
		wantNoFile(t, s, nf)
		wantBlob(t, s, nf.Blob.SHA256, false)
		mustFile(t, s, first)
		// The name is still free.
		MustCreateFile(t, s, nf)
	})
	t.Run("shared blob", func(t *testing.T) {
		first := NewFile(alice, "tool", "3.0", "a.bin", "shared")
		MustCreateFile(t, s, first)
		nf := NewFile(alice, "tool", "3.0", "b.bin", "shared")
		_, err := s.CreateFile(ctx, nf, func(context.Context) error { return boom })
		wantErr(t, "CreateFile", err, boom)
		wantNoFile(t, s, nf)
		// The other file's blob record stays.
		wantBlob(t, s, nf.Blob.SHA256, true)
		r := &remover{}
		if err := deleteFile(s, first, r); err != nil {
			t.Fatalf("DeleteFile: %v", err)
		}
		r.want(t, nf.Blob.SHA256)
	})
}

func testFileByName(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	nf := NewFile(alice, "Tool", "1.0", "Tool.tar.gz", "content")
	nf.CreatorID = bob.ID
	nf.CreatedAt = when.Add(time.Hour + 123*time.Nanosecond)
	nf.Blob.CreatedAt = when.Add(-time.Hour + 456*time.Nanosecond)
	created := MustCreateFile(t, s, nf)

	for _, name := range []string{"Tool.tar.gz", "tool.tar.gz", "TOOL.TAR.GZ"} {
		f, err := s.FileByName(context.Background(), alice.ID, depot.TypeGeneric, "TOOL", "1.0", name)
		if err != nil {
			t.Fatalf("FileByName(%s): %v", name, err)
		}
		if f.ID != created.ID || f.VersionID != created.VersionID || f.Name != "Tool.tar.gz" || f.CreatorID != bob.ID {
			t.Errorf("FileByName(%s) = %+v, want %+v", name, *f, *created)
		}
		wantTime(t, "CreatedAt", f.CreatedAt, nf.CreatedAt)
		wantTime(t, "Blob.CreatedAt", f.Blob.CreatedAt, nf.Blob.CreatedAt)
		got, want := f.Blob, nf.Blob
		got.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
		if got != want {
			t.Errorf("FileByName(%s).Blob = %+v, want %+v", name, got, want)
		}
	}

	for _, tc := range []struct {
		name               string
		owner              int64
		typ                depot.PackageType
		pkg, version, file string
	}{
		{"other owner", bob.ID, depot.TypeGeneric, "Tool", "1.0", "Tool.tar.gz"},
		{"other type", alice.ID, "npm", "Tool", "1.0", "Tool.tar.gz"},
		{"missing package", alice.ID, depot.TypeGeneric, "tool2", "1.0", "Tool.tar.gz"},
		{"missing version", alice.ID, depot.TypeGeneric, "Tool", "1.0.0", "Tool.tar.gz"},
		{"missing file", alice.ID, depot.TypeGeneric, "Tool", "1.0", "Tool.tar"},
	} {
		_, err := s.FileByName(context.Background(), tc.owner, tc.typ, tc.pkg, tc.version, tc.file)
		wantErr(t, "FileByName with "+tc.name, err, depot.ErrNotFound)
	}
}

func testOwnersAreSeparate(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	a := NewFile(alice, "tool", "1.0", "tool.bin", "alice's")
	b := NewFile(bob, "tool", "1.0", "tool.bin", "bob's")
	fa := MustCreateFile(t, s, a)
	fb := MustCreateFile(t, s, b)
	if fa.VersionID == fb.VersionID {
		t.Errorf("two owners' versions share VersionID %d", fa.VersionID)
	}
	if err := deleteVersion(s, a, &remover{}); err != nil {
		t.Fatalf("DeleteVersion: %v", err)
	}
	wantNoFile(t, s, a)
	if f := mustFile(t, s, b); f.Blob.SHA256 != b.Blob.SHA256 {
		t.Errorf("bob's file has blob %s, want %s", f.Blob.SHA256, b.Blob.SHA256)
	}
}

func testSharedBlob(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	first := NewFile(alice, "tool", "1.0", "tool.bin", "same bytes")
	second := NewFile(bob, "other", "9", "copy.bin", "same bytes")
	MustCreateFile(t, s, first)
	MustCreateFile(t, s, second)
	sha := first.Blob.SHA256

	r := &remover{}
	if err := deleteFile(s, first, r); err != nil {
		t.Fatalf("DeleteFile(first): %v", err)
	}
	r.want(t)
	wantBlob(t, s, sha, true)
	wantNoFile(t, s, first)
	if f := mustFile(t, s, second); f.Blob.SHA256 != sha {
		t.Errorf("remaining file has blob %s, want %s", f.Blob.SHA256, sha)
	}

	if err := deleteFile(s, second, r); err != nil {
		t.Fatalf("DeleteFile(second): %v", err)
	}
	r.want(t, sha)
	wantBlob(t, s, sha, false)
	wantNoFile(t, s, second)
}

func testDeleteLastFile(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	a := NewFile(alice, "tool", "1.0", "a.bin", "a")
	b := NewFile(alice, "tool", "1.0", "b.bin", "b")
	MustCreateFile(t, s, a)
	MustCreateFile(t, s, b)
	r := &remover{}

	if err := deleteFile(s, a, r); err != nil {
		t.Fatalf("DeleteFile(a): %v", err)
	}
	r.want(t, a.Blob.SHA256)
	wantNoFile(t, s, a)
	mustFile(t, s, b)

	if err := deleteFile(s, b, r); err != nil {
		t.Fatalf("DeleteFile(b): %v", err)
	}
	r.want(t, b.Blob.SHA256)
	wantNoFile(t, s, b)
	// The version went with its last file.
	wantErr(t, "DeleteVersion after its last file was deleted", deleteVersion(s, b, r), depot.ErrNotFound)
	r.want(t)

	// And comes back with a new file.
	MustCreateFile(t, s, a)
	mustFile(t, s, a)
	wantNoFile(t, s, b)
	if err := deleteVersion(s, a, r); err != nil {
		t.Errorf("DeleteVersion of the recreated version: %v", err)
	}
	r.want(t, a.Blob.SHA256)
}

func testDeleteVersion(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	// Version 1.0 has four files: two share a blob, one shares its blob with
	// a file of version 2.0, one has its own.
	x1 := NewFile(alice, "tool", "1.0", "x1", "x")
	x2 := NewFile(alice, "tool", "1.0", "x2", "x")
	y := NewFile(alice, "tool", "1.0", "y", "y")
	z := NewFile(alice, "tool", "1.0", "z", "z")
	keep := NewFile(alice, "tool", "2.0", "y", "y")
	for _, nf := range []depot.NewFile{x1, x2, y, z, keep} {
		MustCreateFile(t, s, nf)
	}
	r := &remover{}
	if err := s.DeleteVersion(context.Background(), alice.ID, depot.TypeGeneric, "TOOL", "1.0", 0, r.remove); err != nil {
		t.Fatalf("DeleteVersion: %v", err)
	}
	r.want(t, x1.Blob.SHA256, z.Blob.SHA256)
	for _, nf := range []depot.NewFile{x1, x2, y, z} {
		wantNoFile(t, s, nf)
	}
	wantBlob(t, s, x1.Blob.SHA256, false)
	wantBlob(t, s, z.Blob.SHA256, false)
	wantBlob(t, s, y.Blob.SHA256, true)
	mustFile(t, s, keep)
	wantErr(t, "DeleteVersion again", deleteVersion(s, x1, r), depot.ErrNotFound)
	r.want(t)

	// The package survives with its other version; deleting that version
	// too leaves nothing, and the package can be created again.
	if err := deleteVersion(s, keep, r); err != nil {
		t.Fatalf("DeleteVersion(2.0): %v", err)
	}
	r.want(t, y.Blob.SHA256)
	MustCreateFile(t, s, x1)
}

func testRemoveBlobFails(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	a := NewFile(alice, "tool", "1.0", "a.bin", "a")
	b := NewFile(alice, "tool", "1.0", "b.bin", "b")
	MustCreateFile(t, s, a)
	MustCreateFile(t, s, b)
	boom := errors.New("blob storage is down")
	r := &remover{err: boom}

	wantErr(t, "DeleteFile", deleteFile(s, a, r), boom)
	r.want(t, a.Blob.SHA256)
	mustFile(t, s, a)
	wantBlob(t, s, a.Blob.SHA256, true)

	wantErr(t, "DeleteVersion", deleteVersion(s, a, r), boom)
	r.mu.Lock()
	called := len(r.calls)
	r.calls = nil
	r.mu.Unlock()
	if called == 0 {
		t.Errorf("DeleteVersion did not call removeBlob")
	}
	for _, nf := range []depot.NewFile{a, b} {
		mustFile(t, s, nf)
		wantBlob(t, s, nf.Blob.SHA256, true)
	}

	// Once blob storage works again, everything goes.
	r.err = nil
	if err := deleteVersion(s, a, r); err != nil {
		t.Fatalf("DeleteVersion: %v", err)
	}
	r.want(t, a.Blob.SHA256, b.Blob.SHA256)
}

func testRemoveUnrecordedBlob(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	a := NewFile(alice, "tool", "1.0", "a.bin", "a")
	MustCreateFile(t, s, a)
	r := &remover{}

	// A recorded blob stays.
	removed, err := s.RemoveUnrecordedBlob(ctx, a.Blob.SHA256, r.remove)
	if err != nil || removed {
		t.Fatalf("RemoveUnrecordedBlob of a recorded blob = %v, %v; want false, nil", removed, err)
	}
	r.want(t)
	wantBlob(t, s, a.Blob.SHA256, true)

	// An unrecorded one goes; a failure of blob storage is reported and
	// leaves no record behind.
	orphan := BlobOf("orphan").SHA256
	boom := errors.New("blob storage is down")
	r.err = boom
	removed, err = s.RemoveUnrecordedBlob(ctx, orphan, r.remove)
	if !errors.Is(err, boom) || removed {
		t.Errorf("RemoveUnrecordedBlob with failing storage = %v, %v; want false, %v", removed, err, boom)
	}
	r.want(t, orphan)
	wantBlob(t, s, orphan, false)
	r.err = nil
	removed, err = s.RemoveUnrecordedBlob(ctx, orphan, r.remove)
	if err != nil || !removed {
		t.Errorf("RemoveUnrecordedBlob of an unrecorded blob = %v, %v; want true, nil", removed, err)
	}
	r.want(t, orphan)
	wantBlob(t, s, orphan, false)

	// Afterwards the digest can be recorded again as usual.
	nf := NewFile(alice, "tool", "1.0", "orphan.bin", "orphan")
	MustCreateFile(t, s, nf)
	wantBlob(t, s, orphan, true)
}

// testRemoveUnrecordedBlobRace runs the garbage collector's removal against
// uploads and deletes of the same digest. Blob storage is modelled by one
// flag: commitBlob sets it, removeBlob clears it. Whenever a file exists, its
// bytes must be there: a collector that checked for the record, let an
// upload commit, then removed the bytes would break that.
func testRemoveUnrecordedBlobRace(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	var (
		mu      sync.Mutex
		present bool
	)
	set := func(v bool) func(context.Context, string) error {
		return func(context.Context, string) error {
			mu.Lock()
			present = v
			mu.Unlock()
			return nil
		}
	}
	nf := NewFile(alice, "tool", "1.0", "a.bin", "contended")
	deadline := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	defer func() {
		close(stop)
		wg.Wait()
	}()
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.RemoveUnrecordedBlob(ctx, nf.Blob.SHA256, set(false)); err != nil {
				t.Errorf("RemoveUnrecordedBlob: %v", err)
				return
			}
		}
	})
	for i := 0; i < 200 && time.Now().Before(deadline); i++ {
		commit := func(ctx context.Context) error { return set(true)(ctx, nf.Blob.SHA256) }
		if _, err := s.CreateFile(ctx, nf, commit); err != nil {
			t.Fatalf("CreateFile #%d: %v", i, err)
		}
		// The file exists now, and stays until the delete below.
		for range 3 {
			mu.Lock()
			ok := present
			mu.Unlock()
			if !ok {
				t.Fatalf("round %d: a file exists but its blob was removed", i)
			}
		}
		if err := s.DeleteFile(ctx, nf.OwnerID, nf.Type, nf.Package, nf.Version, nf.File, 0, set(false)); err != nil {
			t.Fatalf("DeleteFile #%d: %v", i, err)
		}
	}
}

func testDeleteMissing(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	MustCreateFile(t, s, NewFile(alice, "tool", "1.0", "a.bin", "a"))
	r := &remover{}
	for _, tc := range []struct {
		name string
		nf   depot.NewFile
	}{
		{"missing file", NewFile(alice, "tool", "1.0", "b.bin", "")},
		{"missing version", NewFile(alice, "tool", "2.0", "a.bin", "")},
		{"missing package", NewFile(alice, "other", "1.0", "a.bin", "")},
		{"other owner", NewFile(bob, "tool", "1.0", "a.bin", "")},
	} {
		wantErr(t, "DeleteFile of a "+tc.name, deleteFile(s, tc.nf, r), depot.ErrNotFound)
		if tc.name != "missing file" {
			wantErr(t, "DeleteVersion of a "+tc.name, deleteVersion(s, tc.nf, r), depot.ErrNotFound)
		}
	}
	r.want(t)
	mustFile(t, s, NewFile(alice, "tool", "1.0", "a.bin", "a"))
}

const concurrency = 16

func testConcurrentNewVersion(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	files := make([]*depot.File, concurrency)
	errs := make([]error, concurrency)
	var commits atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range concurrency {
		wg.Go(func() {
			<-start
			nf := NewFile(alice, "tool", "1.0", fmt.Sprintf("part-%02d", i), fmt.Sprintf("part %d", i))
			files[i], errs[i] = s.CreateFile(context.Background(), nf, func(context.Context) error {
				commits.Add(1)
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	versions := map[int64]bool{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("CreateFile #%d: %v", i, err)
			continue
		}
		versions[files[i].VersionID] = true
	}
	if len(versions) != 1 {
		t.Errorf("files landed in %d versions, want 1", len(versions))
	}
	if n := commits.Load(); n != concurrency {
		t.Errorf("commitBlob called %d times, want %d", n, concurrency)
	}
	for i := range concurrency {
		f := mustFile(t, s, NewFile(alice, "tool", "1.0", fmt.Sprintf("part-%02d", i), ""))
		if want := BlobOf(fmt.Sprintf("part %d", i)).SHA256; f.Blob.SHA256 != want {
			t.Errorf("part %d has blob %s, want %s", i, f.Blob.SHA256, want)
		}
	}
}

func testConcurrentSameFile(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	errs := make([]error, concurrency)
	var commits atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range concurrency {
		wg.Go(func() {
			<-start
			// Same name in varying case, different content.
			name := "tool.bin"
			if i%2 == 1 {
				name = strings.ToUpper(name)
			}
			nf := NewFile(alice, "tool", "1.0", name, fmt.Sprintf("attempt %d", i))
			_, errs[i] = s.CreateFile(context.Background(), nf, func(context.Context) error {
				commits.Add(1)
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("CreateFile #%d and #%d both succeeded", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, depot.ErrConflict):
			t.Errorf("CreateFile #%d: error = %v, want ErrConflict", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no CreateFile succeeded")
	}
	if n := commits.Load(); n != 1 {
		t.Errorf("commitBlob called %d times, want 1", n)
	}
	f := mustFile(t, s, NewFile(alice, "tool", "1.0", "tool.bin", ""))
	if want := BlobOf(fmt.Sprintf("attempt %d", won)).SHA256; f.Blob.SHA256 != want {
		t.Errorf("file has blob %s, want the winner's %s", f.Blob.SHA256, want)
	}
	// The losers left no blob records.
	for i := range concurrency {
		if i != won {
			wantBlob(t, s, BlobOf(fmt.Sprintf("attempt %d", i)).SHA256, false)
		}
	}
}

// testDeferredDigests checks a DigestStore (a store over which uploads may
// record md5, sha1 and sha512 after the file): a blob recorded without them
// is listed as missing them until SetBlobDigests fills them, which it does
// once (a second call changes nothing).
func testDeferredDigests(t *testing.T, s depot.Store) {
	ds, ok := s.(depot.DigestStore)
	if !ok {
		t.Skip("not a DigestStore")
	}
	ctx := context.Background()
	u := MustCreateUser(t, s, "digests")
	full := NewFile(u, "p", "1", "full.bin", "has all its digests")
	MustCreateFile(t, s, full)
	nf := NewFile(u, "p", "1", "later.bin", "digests come later")
	want := nf.Blob
	nf.Blob.MD5, nf.Blob.SHA1, nf.Blob.SHA512 = "", "", ""
	MustCreateFile(t, s, nf)
	missing, err := ds.BlobsMissingDigests(ctx, 10)
	if err != nil {
		t.Fatalf("BlobsMissingDigests: %v", err)
	}
	if len(missing) != 1 || missing[0] != want.SHA256 {
		t.Errorf("BlobsMissingDigests = %q, want [%s]", missing, want.SHA256)
	}
	if err := ds.SetBlobDigests(ctx, want); err != nil {
		t.Fatalf("SetBlobDigests: %v", err)
	}
	other := want
	other.MD5, other.SHA1, other.SHA512 = "x", "y", "z"
	if err := ds.SetBlobDigests(ctx, other); err != nil {
		t.Fatalf("SetBlobDigests again: %v", err)
	}
	f, err := s.FileByName(ctx, nf.OwnerID, nf.Type, nf.Package, nf.Version, nf.File)
	if err != nil {
		t.Fatalf("FileByName: %v", err)
	}
	if f.Blob.MD5 != want.MD5 || f.Blob.SHA1 != want.SHA1 || f.Blob.SHA512 != want.SHA512 {
		t.Errorf("digests after SetBlobDigests: %q %q %q, want %q %q %q", f.Blob.MD5, f.Blob.SHA1, f.Blob.SHA512, want.MD5, want.SHA1, want.SHA512)
	}
	if missing, err := ds.BlobsMissingDigests(ctx, 10); err != nil || len(missing) != 0 {
		t.Errorf("BlobsMissingDigests after = %q, %v", missing, err)
	}
}
