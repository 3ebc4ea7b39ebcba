package main

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// seedDistinct inserts n packages of one owner, each with version 1.0.0 and
// files files, every file with a blob of its own (a few bytes, its real
// digests), and writes those blobs into depot's filesystem blob directory:
// what the --scale case needs so that `admin gc` walks a million blobs.
func seedDistinct(ctx context.Context, path, owner string, n, files int, blobsDir string) error {
	if files < 1 || files > 100 {
		return errors.New("-files must be in 1..100")
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(30000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(wal)")
	q.Add("_pragma", "synchronous(normal)")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	start := time.Now()
	var ownerID int64
	if err := db.QueryRowContext(ctx, `SELECT id FROM owners WHERE lower_name = lower(?)`, owner).Scan(&ownerID); err != nil {
		return fmt.Errorf("owner %q: %w", owner, err)
	}
	for i := range 256 {
		if err := os.MkdirAll(filepath.Join(blobsDir, "sha256", fmt.Sprintf("%02x", i)), 0o750); err != nil {
			return err
		}
	}
	now := time.Now().UnixMicro()
	const perTx = 5000 // packages per transaction
	for base := 0; base < n; base += perTx {
		if err := ctx.Err(); err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for i := base; i < min(base+perTx, n); i++ {
			name := fmt.Sprintf("scale-%07d", i)
			at := now + int64(i)
			res, err := tx.ExecContext(ctx, `INSERT INTO packages (owner_id, type, name, lower_name, created_at, last_upload_at, total_size)
				VALUES (?, 'generic', ?, ?, ?, ?, 0)`, ownerID, name, name, at, at)
			if err != nil {
				tx.Rollback()
				return fmt.Errorf("insert package: %w", err)
			}
			pkg, _ := res.LastInsertId()
			res, err = tx.ExecContext(ctx, `INSERT INTO versions (package_id, version, lower_version, creator_id, created_at, owner_id, type)
				VALUES (?, '1.0.0', '1.0.0', ?, ?, ?, 'generic')`, pkg, ownerID, at, ownerID)
			if err != nil {
				tx.Rollback()
				return fmt.Errorf("insert version: %w", err)
			}
			ver, _ := res.LastInsertId()
			var total int64
			for k := range files {
				content := []byte(fmt.Sprintf("scale %d %d\n", i, k))
				s256 := sha256.Sum256(content)
				m := md5.Sum(content)
				s1 := sha1.Sum(content)
				s512 := sha512.Sum512(content)
				d := hex.EncodeToString(s256[:])
				if err := os.WriteFile(filepath.Join(blobsDir, "sha256", d[:2], d), content, 0o640); err != nil {
					tx.Rollback()
					return err
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO blobs (sha256, size, md5, sha1, sha512, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
					d, len(content), hex.EncodeToString(m[:]), hex.EncodeToString(s1[:]), hex.EncodeToString(s512[:]), at); err != nil {
					tx.Rollback()
					return fmt.Errorf("insert blob: %w", err)
				}
				fname := fmt.Sprintf("file-%02d.bin", k)
				if _, err := tx.ExecContext(ctx, `INSERT INTO files (version_id, name, lower_name, blob_sha256, creator_id, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
					ver, fname, fname, d, ownerID, at); err != nil {
					tx.Rollback()
					return fmt.Errorf("insert file: %w", err)
				}
				total += int64(len(content))
			}
			if _, err := tx.ExecContext(ctx, `UPDATE packages SET total_size = ? WHERE id = ?`, total, pkg); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	fmt.Printf("seeded %d packages, %d files and blobs in %v\n", n, n*files, time.Since(start).Round(time.Millisecond))
	return nil
}
