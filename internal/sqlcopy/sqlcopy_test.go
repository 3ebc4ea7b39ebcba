package sqlcopy_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/postgres"
	"github.com/depot-registry/depot/internal/sqlcopy"
	"github.com/depot-registry/depot/internal/sqlite"
	"github.com/depot-registry/depot/internal/storetest"
	"github.com/depot-registry/depot/internal/testenv"
)

// openRoundTrip opens the three stores of a copy SQLite to PostgreSQL and
// back: a SQLite source, a PostgreSQL (empty schema) and a second SQLite.
func openRoundTrip(t *testing.T) (lite *sqlite.Store, pg *postgres.Store, back *sqlite.Store) {
	t.Helper()
	ctx := context.Background()
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "depot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	pg, err = postgres.Open(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	back, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "back.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	return lite, pg, back
}

// TestCopyCarriesIDCounters copies tables whose newest rows were deleted,
// SQLite to PostgreSQL and back: on the destination a new row gets an id
// above the deleted ones, as it would have on the source.
func TestCopyCarriesIDCounters(t *testing.T) {
	ctx := context.Background()
	lite, pg, back := openRoundTrip(t)

	u := &depot.User{Owner: depot.Owner{Name: "alice", Kind: depot.KindUser, Visibility: depot.Public}}
	if err := lite.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	var deleted int64
	for _, name := range []string{"a", "b", "c"} {
		tok := &depot.Token{UserID: u.ID, Name: name, Hash: "hash-" + name, LastEight: "0000000" + name, Scopes: depot.Scopes{depot.ScopeAll}}
		if err := lite.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		deleted = tok.ID
	}
	// The newest token goes: a copy that sets the counter by the largest
	// remaining id would give its id again.
	if err := lite.DeleteToken(ctx, u.ID, "c"); err != nil {
		t.Fatal(err)
	}
	tables := []string{"owners", "tokens"}
	if err := sqlcopy.Copy(ctx, sqlcopy.DB{DB: lite.DB(), Dialect: sqlcopy.SQLite}, sqlcopy.DB{DB: pg.DB(), Dialect: sqlcopy.Postgres}, tables, nil); err != nil {
		t.Fatal(err)
	}
	next := func(s depot.Store, name string) int64 {
		t.Helper()
		tok := &depot.Token{UserID: u.ID, Name: name, Hash: "hash-" + name, LastEight: "0000000" + name, Scopes: depot.Scopes{depot.ScopeAll}}
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		return tok.ID
	}
	if id := next(pg, "d"); id <= deleted {
		t.Errorf("PostgreSQL after the copy gave token id %d; the source had given up to %d", id, deleted)
	}
	// PostgreSQL gave d and e; delete both, then copy to SQLite.
	top := next(pg, "e")
	for _, name := range []string{"d", "e"} {
		if err := pg.DeleteToken(ctx, u.ID, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := sqlcopy.Copy(ctx, sqlcopy.DB{DB: pg.DB(), Dialect: sqlcopy.Postgres}, sqlcopy.DB{DB: back.DB(), Dialect: sqlcopy.SQLite}, tables, nil); err != nil {
		t.Fatal(err)
	}
	if id := next(back, "f"); id <= top {
		t.Errorf("SQLite after the copy gave token id %d; the source had given up to %d", id, top)
	}
}

// TestCopyInlineBlobs copies blobs kept inline (depot.NewFile.Content),
// an empty one among them, SQLite to PostgreSQL and back: the bytes arrive
// whole, and an empty blob stays empty, not NULL.
func TestCopyInlineBlobs(t *testing.T) {
	ctx := context.Background()
	lite, pg, back := openRoundTrip(t)

	u := storetest.MustCreateUser(t, lite, "alice")
	contents := []string{"", "some bytes", string(bytes.Repeat([]byte{0, 0xff, 'x'}, 5000))}
	for i, c := range contents {
		storetest.MustCreateFile(t, lite, storetest.InlineFile(u, "tool", "1.0", fmt.Sprint("f", i), c))
	}
	tables := []string{"owners", "packages", "versions", "blobs", "blob_contents", "files"}
	if err := sqlcopy.Copy(ctx, sqlcopy.DB{DB: lite.DB(), Dialect: sqlcopy.SQLite}, sqlcopy.DB{DB: pg.DB(), Dialect: sqlcopy.Postgres}, tables, nil); err != nil {
		t.Fatal(err)
	}
	if err := sqlcopy.Copy(ctx, sqlcopy.DB{DB: pg.DB(), Dialect: sqlcopy.Postgres}, sqlcopy.DB{DB: back.DB(), Dialect: sqlcopy.SQLite}, tables, nil); err != nil {
		t.Fatal(err)
	}
	for _, s := range []depot.Store{pg, back} {
		for _, c := range contents {
			got, err := s.InlineBlob(ctx, storetest.BlobOf(c).SHA256)
			if err != nil || !bytes.Equal(got, []byte(c)) {
				t.Errorf("%T: InlineBlob after the copy = %d bytes, %v; want %d", s, len(got), err, len(c))
			}
		}
	}
}
