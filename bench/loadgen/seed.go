package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // the driver depot uses
)

// seedCmd inserts -n packages, each with version 1.0.0 and one file pointing
// at an existing blob, for one owner, straight into depot's SQLite database
// in one transaction: seconds instead of the minutes that as many PUTs take.
// It writes depot's schema (internal/sqlite/migrations) directly, so it
// follows that schema; the server may run meanwhile (WAL, busy timeout).
func seedCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	path := fs.String("db", "", "depot's SQLite database file")
	owner := fs.String("owner", "", "owner of the packages (must exist)")
	n := fs.Int("n", 100000, "number of packages")
	blob := fs.String("blob", "", "sha256 of a stored blob the files point to")
	files := fs.Int("files", 1, "files per package (with -blobs-dir)")
	blobsDir := fs.String("blobs-dir", "", "with it, every file gets a blob of its own, written into this fsblob directory (the --scale case)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *blobsDir != "" {
		return seedDistinct(ctx, *path, *owner, *n, *files, *blobsDir)
	}
	if *n < 1 || *n > 10_000_000 {
		return errors.New("-n must be in 1..10000000")
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", "foreign_keys(1)")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: *path}).EscapedPath()+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var ownerID int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM owners WHERE lower_name = lower(?)`, *owner).Scan(&ownerID); err != nil {
		return fmt.Errorf("owner %q: %w", *owner, err)
	}
	now := time.Now().UnixMicro()
	stmts := []struct {
		what string
		sql  string
		args []any
	}{
		// A package's last upload and total size are those of its one file
		// (migration 00006).
		{"packages", `INSERT INTO packages (owner_id, type, name, lower_name, created_at, last_upload_at, total_size)
			WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
			SELECT ?, 'generic', printf('seed-%07d', i), printf('seed-%07d', i), ? + i, ? + i, (SELECT size FROM blobs WHERE sha256 = ?) FROM seq`,
			[]any{*n, ownerID, now, now, *blob}},
		{"versions", `INSERT INTO versions (package_id, version, lower_version, creator_id, created_at, owner_id, type)
			SELECT id, '1.0.0', '1.0.0', ?, created_at, owner_id, type FROM packages WHERE owner_id = ? AND lower_name GLOB 'seed-[0-9]*'`, []any{ownerID, ownerID}},
		{"files", `INSERT INTO files (version_id, name, lower_name, blob_sha256, creator_id, created_at)
			SELECT v.id, 'seed.bin', 'seed.bin', ?, ?, v.created_at FROM versions v JOIN packages p ON p.id = v.package_id
			WHERE p.owner_id = ? AND p.lower_name GLOB 'seed-[0-9]*'`, []any{*blob, ownerID, ownerID}},
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s.sql, s.args...); err != nil {
			return fmt.Errorf("insert %s: %w", s.what, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Printf("seeded %d packages in %v\n", *n, time.Since(start).Round(time.Millisecond))
	return nil
}
