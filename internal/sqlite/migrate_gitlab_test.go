package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// TestMigration3KeepsFiles upgrades a database holding files from
// migration 00002 to the latest and checks that the rebuilt files table
// kept them, and that the Gitea rule (one file of a name) still holds.
func TestMigration3KeepsFiles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "depot.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	migrateTo(t, db, 2)
	mustExec(t, db,
		`INSERT INTO owners (id, name, lower_name, kind, visibility, created_at) VALUES (1, 'alice', 'alice', 'user', 'public', 0)`,
		`INSERT INTO packages (id, owner_id, type, name, lower_name, created_at) VALUES (1, 1, 'generic', 'tool', 'tool', 0)`,
		`INSERT INTO versions (id, package_id, version, lower_version, creator_id, created_at) VALUES (1, 1, '1.0', '1.0', 1, 0)`,
		`INSERT INTO blobs (sha256, size, md5, sha1, sha512, created_at) VALUES ('`+sha64+`', 1, 'm', 's', 'x', 0)`,
		`INSERT INTO files (id, version_id, name, lower_name, blob_sha256, creator_id, created_at) VALUES (7, 1, 'a.bin', 'a.bin', '`+sha64+`', 1, 0)`,
	)
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open (migrates to the latest): %v", err)
	}
	defer s.Close()
	f, err := s.FileByName(ctx, 1, depot.TypeGeneric, "tool", "1.0", "a.bin")
	if err != nil || f.ID != 7 || f.Blob.SHA256 != sha64 {
		t.Fatalf("FileByName after migration = %+v, %v", f, err)
	}
	_, err = s.CreateFile(ctx, depot.NewFile{OwnerID: 1, Type: depot.TypeGeneric, Package: "tool", Version: "1.0", File: "A.BIN",
		Blob: depot.Blob{SHA256: sha64, Size: 1}, CreatorID: 1}, func(context.Context) error { return nil })
	if !errors.Is(err, depot.ErrConflict) {
		t.Errorf("CreateFile of an existing name after migration: %v, want ErrConflict", err)
	}
	gp, err := s.GitLabPackageByID(ctx, 1)
	if err != nil || gp.Status != depot.StatusDefault {
		t.Errorf("GitLabPackageByID after migration = %+v, %v", gp, err)
	}
}

const sha64 = "0000000000000000000000000000000000000000000000000000000000000001"
