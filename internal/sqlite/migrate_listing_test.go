package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
	"modernc.org/sqlite"
)

// codeConstraintTrigger is SQLITE_CONSTRAINT_TRIGGER, a RAISE(ABORT) in a
// trigger.
const codeConstraintTrigger = 1811

// TestMigration5CopiesOwnerAndType upgrades a database holding versions of
// two owners and two types from migration 00004 to the latest, checks that
// listings find them by the copied owner and type, and that the triggers
// refuse copies that disagree with the package.
func TestMigration5CopiesOwnerAndType(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "depot.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	migrateTo(t, db, 4)
	mustExec(t, db,
		`INSERT INTO owners (id, name, lower_name, kind, visibility, created_at) VALUES (1, 'alice', 'alice', 'user', 'public', 0), (2, 'bob', 'bob', 'user', 'public', 0)`,
		`INSERT INTO packages (id, owner_id, type, name, lower_name, created_at) VALUES (1, 1, 'generic', 'tool', 'tool', 0), (2, 1, 'npm', 'tool', 'tool', 0), (3, 2, 'generic', 'tool', 'tool', 0)`,
		`INSERT INTO versions (id, package_id, version, lower_version, creator_id, created_at) VALUES
			(1, 1, '1.0', '1.0', 1, 10), (2, 2, '2.0', '2.0', 1, 20), (3, 3, '3.0', '3.0', 2, 30), (4, 1, '4.0', '4.0', 1, 20)`,
	)
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open (migrates to the latest): %v", err)
	}
	defer s.Close()
	for _, tc := range []struct {
		owner int64
		typ   depot.PackageType
		want  []int64
	}{
		{1, "", []int64{2, 4, 1}},
		{1, depot.TypeGeneric, []int64{4, 1}},
		{1, "npm", []int64{2}},
		{2, "", []int64{3}},
	} {
		vs, total, err := s.SearchVersions(ctx, depot.VersionQuery{OwnerID: tc.owner, Type: tc.typ, Limit: 10})
		var got []int64
		for _, v := range vs {
			got = append(got, v.Version.ID)
		}
		if err != nil || !slices.Equal(got, tc.want) || total != int64(len(tc.want)) {
			t.Errorf("SearchVersions(owner %d, type %q) = %v (total %d), %v; want %v", tc.owner, tc.typ, got, total, err, tc.want)
		}
	}

	for _, q := range []string{
		`INSERT INTO versions (package_id, version, lower_version, creator_id, created_at, owner_id, type) VALUES (1, '5.0', '5.0', 1, 0, 2, 'generic')`,
		`INSERT INTO versions (package_id, version, lower_version, creator_id, created_at, owner_id, type) VALUES (1, '5.0', '5.0', 1, 0, 1, 'npm')`,
		`INSERT INTO versions (package_id, version, lower_version, creator_id, created_at) VALUES (1, '5.0', '5.0', 1, 0)`,
		`UPDATE versions SET package_id = 2 WHERE id = 1`,
		`UPDATE packages SET owner_id = 2 WHERE id = 2`,
		`UPDATE packages SET type = 'pypi' WHERE id = 1`,
	} {
		_, err := s.w.ExecContext(ctx, q)
		if se := (*sqlite.Error)(nil); !errors.As(err, &se) || se.Code() != codeConstraintTrigger {
			t.Errorf("%s: %v, want the trigger to refuse it", q, err)
		}
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO versions (package_id, version, lower_version, creator_id, created_at, owner_id, type) VALUES (99, '1.0', '1.0', 1, 0, 1, 'generic')`); !errors.Is(translate(err), depot.ErrNotFound) {
		t.Errorf("a version of a missing package: %v, want the foreign key's ErrNotFound", err)
	}
}
