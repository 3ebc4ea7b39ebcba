package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// TestMigration6FillsLastUploadAndSize upgrades a database holding packages
// from migration 00005 to the latest and checks that the owner page's order
// and storage used come out of the filled columns.
func TestMigration6FillsLastUploadAndSize(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "depot.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := migrateTo(t, db, 5)
	sha := func(c string) string { return strings.Repeat(c, 64) }
	mustExec(t, db,
		`INSERT INTO owners (id, name, lower_name, kind, visibility, created_at) VALUES (1, 'alice', 'alice', 'user', 'public', 0), (2, 'bob', 'bob', 'user', 'public', 0)`,
		`INSERT INTO packages (id, owner_id, type, name, lower_name, created_at) VALUES
			(1, 1, 'generic', 'old', 'old', 1), (2, 1, 'generic', 'new', 'new', 2), (3, 1, 'generic', 'bare', 'bare', 3), (4, 2, 'generic', 'bob', 'bob', 4)`,
		// bare's version has no file: it counts with its own time.
		`INSERT INTO versions (id, package_id, version, lower_version, creator_id, created_at, owner_id, type) VALUES
			(1, 1, '1', '1', 1, 10, 1, 'generic'), (2, 1, '2', '2', 1, 20, 1, 'generic'), (3, 2, '1', '1', 1, 30, 1, 'generic'),
			(4, 3, '1', '1', 1, 35, 1, 'generic'), (5, 4, '1', '1', 2, 90, 2, 'generic')`,
		`INSERT INTO blobs (sha256, size, md5, sha1, sha512, created_at) VALUES ('`+sha("a")+`', 100, '', '', '', 0), ('`+sha("b")+`', 7, '', '', '', 0)`,
		`INSERT INTO files (version_id, name, lower_name, blob_sha256, creator_id, created_at) VALUES
			(1, 'a', 'a', '`+sha("a")+`', 1, 11), (2, 'a', 'a', '`+sha("a")+`', 1, 50), (2, 'b', 'b', '`+sha("b")+`', 1, 21),
			(3, 'b', 'b', '`+sha("b")+`', 1, 31), (5, 'a', 'a', '`+sha("a")+`', 2, 91)`,
	)

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open (migrates to the latest): %v", err)
	}
	defer s.Close()
	page, err := s.OwnerPackageStats(ctx, depot.OwnerPackageQuery{OwnerID: 1, Type: depot.TypeGeneric})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var last []int64
	for _, ps := range page.Packages {
		got = append(got, ps.Package.Name)
		last = append(last, micros(ps.LastUpload))
	}
	if want := []string{"old", "bare", "new"}; !slices.Equal(got, want) || !slices.Equal(last, []int64{50, 35, 31}) {
		t.Errorf("packages = %v, last uploads %v; want %v, [50 35 31]", got, last, want)
	}
	if page.Total != 3 || page.StorageUsed != 214 {
		t.Errorf("total %d, storage used %d; want 3, 214", page.Total, page.StorageUsed)
	}
	// The migration goes down and up again.
	if _, err := p.DownTo(ctx, 5); err != nil {
		t.Fatalf("migrate down to 00005: %v", err)
	}
	if _, err := p.UpTo(ctx, 6); err != nil {
		t.Fatalf("migrate up to 00006 again: %v", err)
	}
}
