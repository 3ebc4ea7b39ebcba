package postgres

import (
	"context"
	"database/sql"
	"slices"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/testenv"
)

// TestMigration5CopiesOwnerAndType upgrades a schema holding versions of
// two owners and two types from migration 00004 to the latest, checks that
// listings find them by the copied owner and type, and that the foreign key
// refuses copies that disagree with the package.
func TestMigration5CopiesOwnerAndType(t *testing.T) {
	ctx := context.Background()
	dbURL := testenv.PostgresURL(t)
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	migrateTo(t, db, 4)
	mustExec(t, db,
		`INSERT INTO owners (id, name, lower_name, kind, visibility, created_at) OVERRIDING SYSTEM VALUE
			VALUES (1, 'alice', 'alice', 'user', 'public', 0), (2, 'bob', 'bob', 'user', 'public', 0)`,
		`INSERT INTO packages (id, owner_id, type, name, lower_name, created_at) OVERRIDING SYSTEM VALUE
			VALUES (1, 1, 'generic', 'tool', 'tool', 0), (2, 1, 'npm', 'tool', 'tool', 0), (3, 2, 'generic', 'tool', 'tool', 0)`,
		`INSERT INTO versions (id, package_id, version, lower_version, creator_id, created_at) OVERRIDING SYSTEM VALUE
			VALUES (1, 1, '1.0', '1.0', 1, 10), (2, 2, '2.0', '2.0', 1, 20), (3, 3, '3.0', '3.0', 2, 30), (4, 1, '4.0', '4.0', 1, 20)`,
		`SELECT setval(pg_get_serial_sequence('versions', 'id'), 100)`,
	)

	s, err := Open(ctx, dbURL)
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

	for _, tc := range []struct{ query, state string }{
		{`INSERT INTO versions (package_id, version, lower_version, creator_id, created_at, owner_id, type) VALUES (1, '5.0', '5.0', 1, 0, 2, 'generic')`, "23503"},
		{`INSERT INTO versions (package_id, version, lower_version, creator_id, created_at, owner_id, type) VALUES (1, '5.0', '5.0', 1, 0, 1, 'npm')`, "23503"},
		{`INSERT INTO versions (package_id, version, lower_version, creator_id, created_at) VALUES (1, '5.0', '5.0', 1, 0)`, "23502"},
		{`UPDATE versions SET package_id = 2 WHERE id = 1`, "23503"},
		{`UPDATE packages SET owner_id = 2 WHERE id = 2`, "23503"},
		{`UPDATE packages SET type = 'pypi' WHERE id = 1`, "23503"},
	} {
		if _, err := db.ExecContext(ctx, tc.query); sqlState(err) != tc.state {
			t.Errorf("%s: %v, want SQLSTATE %s", tc.query, err, tc.state)
		}
	}
	// The foreign key took over the cascade.
	if _, err := db.ExecContext(ctx, `DELETE FROM packages WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM versions WHERE package_id = 1`).Scan(&n); err != nil || n != 0 {
		t.Errorf("versions of a deleted package: %d, %v; want none", n, err)
	}
}
