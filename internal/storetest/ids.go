package storetest

import (
	"context"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// testIDsNeverReused deletes the newest record of every kind that has an id
// and a delete (packages, versions, files, tokens, deploy and job tokens)
// and creates another: it must get a larger id, so that a client holding
// the old id (a GitLab package id, a file id, a token id) never reaches
// another record through it. Owners and projects have no delete in the
// store; their ids come from the same kind of column (AUTOINCREMENT on
// SQLite, identity on PostgreSQL), and every kind is created twice here so a
// store that gives one id twice fails.
func testIDsNeverReused(t *testing.T, s depot.Store) {
	ctx := context.Background()
	noop := func(context.Context, string) error { return nil }
	u := MustCreateUser(t, s, "alice")
	u2 := MustCreateUser(t, s, "bob")
	if u2.ID <= u.ID {
		t.Errorf("second user id %d, first %d: want increasing ids", u2.ID, u.ID)
	}
	org := MustCreateOrg(t, s, "acme", u)
	if org.ID <= u2.ID {
		t.Errorf("organization id %d after user id %d: want increasing ids", org.ID, u2.ID)
	}
	p1 := MustCreateProject(t, s, u.ID, "one", "")
	p2 := MustCreateProject(t, s, u.ID, "two", "")
	if p2.ID <= p1.ID {
		t.Errorf("second project id %d, first %d: want increasing ids", p2.ID, p1.ID)
	}

	t.Run("packages, versions and files", func(t *testing.T) {
		nf := NewFile(u, "tool", "1.0", "a.bin", "a")
		f := MustCreateFile(t, s, nf)
		v, err := s.VersionByName(ctx, u.ID, depot.TypeGeneric, "tool", "1.0")
		if err != nil {
			t.Fatal(err)
		}
		// The last file takes its version and package with it.
		if err := s.DeleteFile(ctx, u.ID, depot.TypeGeneric, "tool", "1.0", "a.bin", 0, noop); err != nil {
			t.Fatal(err)
		}
		f2 := MustCreateFile(t, s, nf)
		v2, err := s.VersionByName(ctx, u.ID, depot.TypeGeneric, "tool", "1.0")
		if err != nil {
			t.Fatal(err)
		}
		if f2.ID <= f.ID || v2.Version.ID <= v.Version.ID || v2.Package.ID <= v.Package.ID {
			t.Errorf("after delete and upload again: file %d (was %d), version %d (was %d), package %d (was %d); want all larger",
				f2.ID, f.ID, v2.Version.ID, v.Version.ID, v2.Package.ID, v.Package.ID)
		}
		if _, err := s.GitLabPackageByID(ctx, v.Version.ID); err == nil {
			t.Errorf("GitLabPackageByID(%d) of the deleted version found a package", v.Version.ID)
		}
		// A file deleted by id, and a version deleted whole.
		if err := s.DeleteFileByID(ctx, f2.ID, 0, noop); err != nil {
			t.Fatal(err)
		}
		f3 := MustCreateFile(t, s, nf)
		if f3.ID <= f2.ID {
			t.Errorf("file after DeleteFileByID(%d) got id %d", f2.ID, f3.ID)
		}
		v3, err := s.VersionByName(ctx, u.ID, depot.TypeGeneric, "tool", "1.0")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteVersion(ctx, u.ID, depot.TypeGeneric, "tool", "1.0", 0, noop); err != nil {
			t.Fatal(err)
		}
		MustCreateFile(t, s, nf)
		v4, err := s.VersionByName(ctx, u.ID, depot.TypeGeneric, "tool", "1.0")
		if err != nil {
			t.Fatal(err)
		}
		if v4.Version.ID <= v3.Version.ID || v4.Package.ID <= v3.Package.ID {
			t.Errorf("after DeleteVersion: version %d (was %d), package %d (was %d); want larger", v4.Version.ID, v3.Version.ID, v4.Package.ID, v3.Package.ID)
		}
	})

	t.Run("tokens", func(t *testing.T) {
		tok := &depot.Token{UserID: u.ID, Name: "ci", Hash: "hash-1", LastEight: "00000001", Scopes: depot.Scopes{depot.ScopeAll}, CreatedAt: when}
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteToken(ctx, u.ID, "ci"); err != nil {
			t.Fatal(err)
		}
		again := &depot.Token{UserID: u.ID, Name: "ci", Hash: "hash-2", LastEight: "00000002", Scopes: depot.Scopes{depot.ScopeAll}, CreatedAt: when}
		if err := s.CreateToken(ctx, again); err != nil {
			t.Fatal(err)
		}
		if again.ID <= tok.ID {
			t.Errorf("token after deleting id %d got id %d", tok.ID, again.ID)
		}
	})

	t.Run("deploy and job tokens", func(t *testing.T) {
		for _, kind := range []depot.TokenKind{depot.KindDeployToken, depot.KindJobToken} {
			mk := func(hash string) *depot.ProjectToken {
				return &depot.ProjectToken{Kind: kind, OwnerID: u.ID, ProjectID: p1.ID, Name: "t", Hash: string(kind) + hash,
					LastEight: hash, Scopes: depot.Scopes{depot.ScopeReadPackage}, CreatedAt: when}
			}
			tok := mk("00000001")
			if err := s.CreateProjectToken(ctx, tok); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteProjectToken(ctx, tok.ID); err != nil {
				t.Fatal(err)
			}
			again := mk("00000002")
			if err := s.CreateProjectToken(ctx, again); err != nil {
				t.Fatal(err)
			}
			if again.ID <= tok.ID {
				t.Errorf("%s token after deleting id %d got id %d", kind, tok.ID, again.ID)
			}
		}
	})
}
