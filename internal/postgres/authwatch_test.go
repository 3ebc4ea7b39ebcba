package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/storetest"
)

// TestWatchAuth shows a change of authentication data committed through one
// store (another replica, the admin CLI) reaching a watcher on another,
// a failed change not announced, and another schema's changes ignored.
func TestWatchAuth(t *testing.T) {
	ctx := context.Background()
	dbURL := MustSchema(t)
	watcher, writer := MustOpen(t, dbURL), MustOpen(t, dbURL)
	other := MustOpen(t, MustSchema(t))

	changes := make(chan struct{}, 16)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- watcher.WatchAuth(wctx, func() { changes <- struct{}{} })
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("WatchAuth after cancel: %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("WatchAuth did not return within 5 s of its context ending")
		}
	}()

	alice := storetest.MustCreateUser(t, writer, "alice")
	otherAlice := storetest.MustCreateUser(t, other, "alice")
	for _, tok := range []*depot.Token{
		{UserID: alice.ID, Name: "ci", Hash: "h1", CreatedAt: time.Now(), LastEight: "abcdefgh", Scopes: depot.Scopes{depot.ScopeReadPackage}},
	} {
		if err := writer.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.CreateToken(ctx, &depot.Token{UserID: otherAlice.ID, Name: "ci", Hash: "h2", CreatedAt: time.Now(), LastEight: "abcdefgh", Scopes: depot.Scopes{depot.ScopeReadPackage}}); err != nil {
		t.Fatal(err)
	}
	// LISTEN runs on the watcher's own connection; give it a moment, then
	// make sure nothing has been announced so far.
	time.Sleep(300 * time.Millisecond)

	quiet := func(what string) {
		t.Helper()
		select {
		case <-changes:
			t.Errorf("%s was announced", what)
		case <-time.After(300 * time.Millisecond):
		}
	}
	announced := func(what string) {
		t.Helper()
		select {
		case <-changes:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s was not announced within 5 s", what)
		}
	}
	quiet("creating a token")
	if err := writer.DeleteToken(ctx, alice.ID, "missing"); err == nil {
		t.Fatal("deleting a missing token succeeded")
	}
	quiet("a failed token deletion")
	if err := other.DeleteToken(ctx, otherAlice.ID, "ci"); err != nil {
		t.Fatal(err)
	}
	quiet("a deletion in another schema")
	if err := writer.DeleteToken(ctx, alice.ID, "ci"); err != nil {
		t.Fatal(err)
	}
	announced("deleting a token")
	if err := writer.SetUserFlags(ctx, alice.ID, false, true); err != nil {
		t.Fatal(err)
	}
	announced("disabling a user")
	p := storetest.MustCreateProject(t, writer, alice.ID, "tools", depot.Public)
	pt := &depot.ProjectToken{Kind: depot.KindDeployToken, OwnerID: alice.ID, ProjectID: p.ID, Name: "deploy", Hash: "h3", CreatedAt: time.Now(), LastEight: "12345678", Scopes: depot.Scopes{depot.ScopeReadPackage}}
	if err := writer.CreateProjectToken(ctx, pt); err != nil {
		t.Fatal(err)
	}
	if err := writer.DeleteProjectToken(ctx, pt.ID); err != nil {
		t.Fatal(err)
	}
	announced("deleting a deploy token")
}
