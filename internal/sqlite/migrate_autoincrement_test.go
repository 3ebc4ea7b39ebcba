package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// idTables are the tables whose rows have integer ids that clients see or
// that other rows reference; migration 00007 makes them AUTOINCREMENT.
var idTables = []string{"owners", "tokens", "projects", "packages", "versions", "files", "project_tokens"}

// TestMigration7KeepsRowsAndNeverReusesIDs fills every table at migration
// 00006, migrates to 00007 and checks that every row, index, trigger
// and foreign key survived the table rebuilds, that foreign keys are
// enforced again afterwards, and that ids continue above the highest ever
// given instead of reusing a deleted one.
func TestMigration7KeepsRowsAndNeverReusesIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "depot.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := migrateTo(t, db, 6)
	sha := func(c string) string { return strings.Repeat(c, 64) }
	mustExec(t, db,
		`INSERT INTO owners (id, name, lower_name, kind, visibility, email, password_hash, is_admin, disabled, created_at) VALUES
			(1, 'Alice', 'alice', 'user', 'public', 'a@example.com', 'hash', 1, 0, 10), (2, 'acme', 'acme', 'org', 'private', '', '', 0, 0, 11),
			(5, 'bob', 'bob', 'user', 'public', '', '', 0, 1, 12)`,
		`INSERT INTO org_members (org_id, user_id, role) VALUES (2, 1, 3), (2, 5, 1)`,
		`INSERT INTO tokens (id, user_id, name, hash, last_eight, scopes, created_at, expires_at) VALUES
			(3, 1, 'ci', 'h1', '12345678', 'all', 20, NULL), (4, 5, 'x', 'h2', '87654321', 'read:package', 21, 99)`,
		`INSERT INTO projects (id, owner_id, name, lower_name, visibility, created_at) VALUES (2, 2, 'Tools', 'tools', NULL, 30), (6, 1, 'p', 'p', 'private', 31)`,
		`INSERT INTO packages (id, owner_id, type, name, lower_name, created_at, project_id, last_upload_at, total_size) VALUES
			(1, 2, 'generic', 'Tool', 'tool', 40, 2, 55, 107), (9, 1, 'generic', 'app', 'app', 41, NULL, 41, 0)`,
		`INSERT INTO versions (id, package_id, version, lower_version, creator_id, created_at, status, last_downloaded_at, owner_id, type) VALUES
			(1, 1, '1.0', '1.0', 1, 50, 'default', 70, 2, 'generic'), (8, 1, 'Nightly', 'nightly', 5, 51, 'hidden', NULL, 2, 'generic'),
			(12, 9, '2', '2', 1, 52, 'default', NULL, 1, 'generic')`,
		`INSERT INTO blobs (sha256, size, md5, sha1, sha512, created_at) VALUES ('`+sha("a")+`', 100, 'm', 's', 'x', 0), ('`+sha("b")+`', 7, '', '', '', 1)`,
		`INSERT INTO files (id, version_id, name, lower_name, blob_sha256, creator_id, created_at, superseded) VALUES
			(1, 1, 'a.bin', 'a.bin', '`+sha("a")+`', 1, 53, 1), (4, 1, 'A.bin', 'a.bin', '`+sha("a")+`', 1, 54, 0), (6, 8, 'b', 'b', '`+sha("b")+`', 5, 55, 0)`,
		`INSERT INTO package_settings (owner_id, generic_duplicates_allowed, generic_duplicate_exception_regex) VALUES (2, 0, '.*-SNAPSHOT')`,
		`INSERT INTO project_tokens (id, kind, owner_id, project_id, name, hash, last_eight, scopes, created_at, expires_at) VALUES
			(2, 'deploy', 2, NULL, 'mirror', 'h3', 'aaaaaaaa', 'read_package_registry', 60, NULL), (7, 'job', 2, 2, 'job', 'h4', 'bbbbbbbb', 'write_package_registry', 61, 90)`,
		`INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES ('s1', 1, 80, 90)`,
	)
	before := dumpDB(t, db)
	schemaBefore := schemaObjects(t, db)

	if _, err := p.UpTo(ctx, 7); err != nil {
		t.Fatalf("migrate up to 00007: %v", err)
	}
	if after := dumpDB(t, db); after != before {
		t.Errorf("rows changed by the migration:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if after := schemaObjects(t, db); !slices.Equal(after, schemaBefore) {
		t.Errorf("indexes, triggers and foreign keys changed:\nbefore: %q\nafter:  %q", schemaBefore, after)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open (migrates to the latest): %v", err)
	}
	defer s.Close()
	for _, table := range idTables {
		var sqlText string
		if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&sqlText); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(sqlText, "AUTOINCREMENT") {
			t.Errorf("%s is not AUTOINCREMENT after the migration: %s", table, sqlText)
		}
	}
	var fk int
	if err := s.w.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys on the store's writer after the migration = %d, %v; want 1", fk, err)
	}
	// The triggers still hold: a version must carry its package's owner.
	if _, err := db.ExecContext(ctx, `INSERT INTO versions (package_id, version, lower_version, creator_id, created_at, owner_id, type) VALUES (1, 'x', 'x', 1, 0, 1, 'generic')`); err == nil {
		t.Error("a version with another owner than its package's was inserted: the trigger is gone")
	}

	// Delete the newest row of every table and insert another: it gets a
	// new id, above every id given before.
	newRow := map[string]string{
		"owners":         `INSERT INTO owners (name, lower_name, kind, visibility, created_at) VALUES ('carol', 'carol', 'user', 'public', 0)`,
		"tokens":         `INSERT INTO tokens (user_id, name, hash, last_eight, scopes, created_at) VALUES (1, 'new', 'h9', '99999999', 'all', 0)`,
		"projects":       `INSERT INTO projects (owner_id, name, lower_name, created_at) VALUES (2, 'new', 'new', 0)`,
		"packages":       `INSERT INTO packages (owner_id, type, name, lower_name, created_at) VALUES (2, 'generic', 'new', 'new', 0)`,
		"versions":       `INSERT INTO versions (package_id, version, lower_version, creator_id, created_at, owner_id, type) VALUES (1, 'new', 'new', 1, 0, 2, 'generic')`,
		"files":          `INSERT INTO files (version_id, name, lower_name, blob_sha256, creator_id, created_at) VALUES (1, 'new', 'new', '` + sha("b") + `', 1, 0)`,
		"project_tokens": `INSERT INTO project_tokens (kind, owner_id, name, hash, last_eight, scopes, created_at) VALUES ('deploy', 2, 'new', 'h8', '88888888', 'x', 0)`,
	}
	for _, table := range slices.Backward(idTables) {
		var top int64
		if err := db.QueryRowContext(ctx, `SELECT max(id) FROM `+table).Scan(&top); err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, fmt.Sprintf(`DELETE FROM %s WHERE id = %d`, table, top))
		res, err := db.ExecContext(ctx, newRow[table])
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		id, _ := res.LastInsertId()
		if id <= top {
			t.Errorf("%s: new row got id %d after deleting id %d: ids are reused", table, id, top)
		}
	}
	// Foreign keys are enforced and cascade again.
	mustExec(t, db, `DELETE FROM owners WHERE id = 2`)
	var left int
	if err := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM packages WHERE owner_id = 2) + (SELECT count(*) FROM org_members WHERE org_id = 2) + (SELECT count(*) FROM project_tokens WHERE owner_id = 2)`).Scan(&left); err != nil || left != 0 {
		t.Errorf("rows of a deleted owner left: %d, %v; want 0 (foreign keys off?)", left, err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO tokens (user_id, name, hash, last_eight, scopes, created_at) VALUES (404, 'x', 'h7', '77777777', 'all', 0)`); err == nil {
		t.Error("a token of a missing user was inserted: foreign keys are not enforced")
	}

	// The migration goes down (keeping AUTOINCREMENT) and up again.
	if _, err := p.DownTo(ctx, 6); err != nil {
		t.Fatalf("migrate down to 00006: %v", err)
	}
	if _, err := p.UpTo(ctx, 7); err != nil {
		t.Fatalf("migrate up to 00007 again: %v", err)
	}
}

// dumpDB renders every row of every depot table, in rowid order.
func dumpDB(tb testing.TB, db *sql.DB) string {
	tb.Helper()
	var b strings.Builder
	for _, table := range append(slices.Clone(idTables), "org_members", "blobs", "package_settings", "sessions") {
		rows, err := db.Query(`SELECT * FROM ` + table + ` ORDER BY rowid`)
		if err != nil {
			tb.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				tb.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %v\n", table, vals)
		}
		if err := rows.Err(); err != nil {
			tb.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
}

// schemaObjects lists the indexes and triggers (with their SQL) and every
// table's foreign keys.
func schemaObjects(tb testing.TB, db *sql.DB) []string {
	tb.Helper()
	var out []string
	rows, err := db.Query(`SELECT type || ' ' || name || ' ON ' || tbl_name || ': ' || COALESCE(sql, '') FROM sqlite_schema WHERE type IN ('index', 'trigger') ORDER BY type, name`)
	if err != nil {
		tb.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			tb.Fatal(err)
		}
		out = append(out, s)
	}
	rows.Close()
	fks, err := db.Query(`SELECT m.name, f."table", f."from", f."to", f.on_delete FROM sqlite_schema m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table' ORDER BY m.name, f."from"`)
	if err != nil {
		tb.Fatal(err)
	}
	defer fks.Close()
	for fks.Next() {
		var table, parent, from, onDelete string
		var to sql.NullString
		if err := fks.Scan(&table, &parent, &from, &to, &onDelete); err != nil {
			tb.Fatal(err)
		}
		out = append(out, fmt.Sprintf("fk %s.%s -> %s(%s) on delete %s", table, from, parent, to.String, onDelete))
	}
	return out
}
