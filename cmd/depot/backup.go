package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/fsblob"
	"github.com/depot-registry/depot/internal/postgres"
	"github.com/depot-registry/depot/internal/s3blob"
	"github.com/depot-registry/depot/internal/sqlcopy"
	"github.com/depot-registry/depot/internal/sqlite"
	"github.com/urfave/cli/v3"
	"golang.org/x/sync/errgroup"
)

// A backup is a directory or an S3 prefix holding
//
//	manifest.json                 the latest snapshot's manifest
//	snapshots/<time>.json         every snapshot's manifest
//	blobs/sha256/<xx>/<digest>    blobs, content-addressed as in blob storage,
//	                              the metadata dumps among them
//
// A metadata dump is a SQLite database of depot's schema, whatever the
// source's database, stored as a blob: its digest is in the manifest.
const (
	backupFormat   = "depot-backup/1"
	manifestName   = "manifest.json"
	snapshotsDir   = "snapshots/"
	backupAttempts = 3
)

// backupManifest describes one snapshot.
type backupManifest struct {
	Format       string         `json:"format"`
	DepotVersion string         `json:"depot_version"`
	StartedAt    time.Time      `json:"started_at"`
	FinishedAt   time.Time      `json:"finished_at"`
	Source       backupSource   `json:"source"`
	Metadata     backupMetadata `json:"metadata"`
	Blobs        backupBlobs    `json:"blobs"`
}

type backupSource struct {
	Database string `json:"database"`
	Storage  string `json:"storage"`
}

type backupMetadata struct {
	// Format is "sqlite": a SQLite database holding depot's schema.
	Format        string           `json:"format"`
	SHA256        string           `json:"sha256"`
	Size          int64            `json:"size"`
	SchemaVersion int64            `json:"schema_version"`
	Rows          map[string]int64 `json:"rows"`
}

type backupBlobs struct {
	// Count and Bytes are the blobs the snapshot references.
	Count int64 `json:"count"`
	Bytes int64 `json:"bytes"`
	// ListSHA256 is the sha256 of their digests in ascending order, each
	// followed by a newline.
	ListSHA256 string `json:"list_sha256"`
	// Copied were copied (and their sha256 checked) by this backup;
	// Present were in the backup already.
	Copied  int64 `json:"copied"`
	Present int64 `json:"present"`
	// Inline were kept inside the metadata database (depot.InlineStore):
	// the snapshot holds them, their sha256 checked.
	Inline int64 `json:"inline"`
}

// backupTarget is where backups live: blobs, and small named files.
type backupTarget struct {
	blobs blobBackend
	put   func(ctx context.Context, name string, data []byte) error
	get   func(ctx context.Context, name string) ([]byte, error) // ErrNotFound
}

// openBackupTarget opens a backup directory or s3:// URL; create makes a
// missing directory.
func openBackupTarget(ctx context.Context, raw string, c Config, create bool) (*backupTarget, error) {
	if scheme(raw) == "s3" {
		sc, err := s3blob.ParseURL(raw)
		if err != nil {
			return nil, err
		}
		if c.S3AccessKeyID != "" {
			sc.AccessKey, sc.SecretKey = c.S3AccessKeyID, c.S3SecretAccessKey
		}
		s, err := s3blob.New(ctx, sc)
		if err != nil {
			return nil, err
		}
		return &backupTarget{blobs: s, put: s.PutNamed, get: s.GetNamed}, nil
	}
	dir := raw
	if strings.Contains(raw, "://") {
		p, err := filePath(raw)
		if err != nil {
			return nil, err
		}
		dir = p
	}
	if create {
		if err := os.MkdirAll(filepath.Join(dir, snapshotsDir), 0o750); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(filepath.Join(dir, manifestName)); err != nil {
		return nil, fmt.Errorf("%s holds no backup: %w", dir, err)
	}
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		return nil, err
	}
	put := func(_ context.Context, name string, data []byte) error {
		// Write then rename, so a reader sees the old file or the new one.
		p := filepath.Join(dir, filepath.FromSlash(name))
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, data, 0o640); err != nil {
			return err
		}
		if f, err := os.Open(tmp); err == nil {
			f.Sync()
			f.Close()
		}
		return os.Rename(tmp, p)
	}
	get := func(_ context.Context, name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", name, depot.ErrNotFound)
		}
		return b, err
	}
	return &backupTarget{blobs: blobs, put: put, get: get}, nil
}

// backupCommand is `depot admin backup`; an s3:// --to uses the S3
// credentials of --s3-access-key-id, as the storage does.
func backupCommand(stdout, stderr io.Writer, onUsage cli.OnUsageErrorFunc) *cli.Command {
	return &cli.Command{
		Name:  "backup",
		Usage: "take a consistent snapshot of the metadata and copy it, with every blob it references, to a directory or s3:// URL",
		Description: "Safe while servers run: the metadata is read in one snapshot (SQLite VACUUM INTO; PostgreSQL a " +
			"REPEATABLE READ transaction) and the blobs it references are copied after, each checked against its sha256. " +
			"Blobs already in the backup are skipped, so backing up again into the same place copies only new blobs. " +
			"The manifest is written last: a backup without one is incomplete.",
		Flags: append(append(dataFlags(), storageFlags()...),
			&cli.StringFlag{Name: "to", Required: true, Usage: "backup directory, or s3://BUCKET[/PREFIX]?endpoint=... as --storage-url"},
			copyWorkersFlag(),
		),
		OnUsageError: onUsage,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			c, err := storesConfig(cmd)
			if err != nil {
				return err
			}
			to, err := backupLocation(cmd, "to")
			if err != nil {
				return err
			}
			store, blobs, err := openStores(ctx, c)
			if err != nil {
				return err
			}
			defer store.Close()
			target, err := openBackupTarget(ctx, to, c, true)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			m, err := backup(ctx, store, blobs, target, backupSource{Database: redactURL(c.DatabaseURL), Storage: c.StorageURL}, int(cmd.Int("workers")), stderr)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "backup %s: metadata sha256:%s (%d bytes), %d blobs (%d bytes): %d copied and verified, %d already there, %d inline in the metadata and verified\n",
				m.FinishedAt.Format(time.RFC3339), m.Metadata.SHA256, m.Metadata.Size, m.Blobs.Count, m.Blobs.Bytes, m.Blobs.Copied, m.Blobs.Present, m.Blobs.Inline)
			return nil
		},
	}
}

// backupLocation reads the flag naming a backup: a directory, or an
// s3:// URL that must parse as --storage-url's do.
func backupLocation(cmd *cli.Command, flag string) (string, error) {
	raw := cmd.String(flag)
	if scheme(raw) == "s3" {
		if _, err := s3blob.ParseURL(raw); err != nil {
			return "", usageError("--%s: %v", flag, err)
		}
	}
	return raw, nil
}

// redactURL hides a database URL's password.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	return raw
}

// backup takes a snapshot and copies it with its blobs to target. A blob
// deleted between the snapshot and its copy makes the snapshot stale; a new
// one is taken then (the blobs copied so far are not copied again).
func backup(ctx context.Context, store depot.Store, blobs depot.BlobStore, target *backupTarget, src backupSource, workers int, stderr io.Writer) (*backupManifest, error) {
	tmp, err := os.MkdirTemp("", "depot-backup-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for attempt := 1; ; attempt++ {
		m := &backupManifest{Format: backupFormat, DepotVersion: version, StartedAt: time.Now().UTC(), Source: src}
		dump := filepath.Join(tmp, fmt.Sprintf("metadata-%d.db", attempt))
		if err := snapshot(ctx, store, dump); err != nil {
			return nil, fmt.Errorf("snapshot metadata: %w", err)
		}
		vanished, damaged, err := backupBlobsOf(ctx, dump, m, store, blobs, target.blobs, workers)
		if err != nil {
			return nil, err
		}
		if len(damaged) > 0 {
			return nil, fmt.Errorf("backup incomplete, no manifest written: %d blobs are damaged in the source (run depot admin verify): %s",
				len(damaged), strings.Join(damaged, ", "))
		}
		if vanished > 0 {
			if attempt == backupAttempts {
				return nil, fmt.Errorf("backup incomplete: blobs kept being deleted between the snapshot and their copy (%d attempts)", attempt)
			}
			fmt.Fprintf(stderr, "%d blobs were deleted after the snapshot; taking a new one\n", vanished)
			continue
		}
		if err := storeDump(ctx, dump, &m.Metadata, target.blobs); err != nil {
			return nil, err
		}
		m.FinishedAt = time.Now().UTC()
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return nil, err
		}
		b = append(b, '\n')
		if err := target.put(ctx, snapshotsDir+m.StartedAt.Format("20060102T150405.000000Z")+".json", b); err != nil {
			return nil, fmt.Errorf("write manifest: %w", err)
		}
		if err := target.put(ctx, manifestName, b); err != nil {
			return nil, fmt.Errorf("write manifest: %w", err)
		}
		return m, nil
	}
}

// snapshot writes a consistent copy of the metadata to a new SQLite file.
func snapshot(ctx context.Context, store depot.Store, path string) error {
	switch s := store.(type) {
	case *sqlite.Store:
		// A read transaction of its own: writers go on (WAL).
		_, err := s.DB().ExecContext(ctx, `VACUUM INTO ?`, path)
		return err
	case *postgres.Store:
		dump, err := sqlite.Open(ctx, path)
		if err != nil {
			return err
		}
		tx, err := s.DB().BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
		if err != nil {
			dump.Close()
			return err
		}
		defer tx.Rollback()
		from := sqlcopy.DB{DB: s.DB(), Dialect: sqlcopy.Postgres, Snapshot: tx}
		if err := knownTables(ctx, from); err != nil {
			dump.Close()
			return err
		}
		err = sqlcopy.Copy(ctx, from, sqlcopy.DB{DB: dump.DB(), Dialect: sqlcopy.SQLite}, migrateTables, nil)
		return errors.Join(err, closeDump(dump))
	}
	return fmt.Errorf("cannot snapshot a %T", store)
}

// closeDump folds a dump's write-ahead log into it and closes it, so the
// file alone holds everything.
func closeDump(dump *sqlite.Store) error {
	_, err := dump.DB().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return errors.Join(err, dump.Close())
}

// knownTables fails when db has a table that migrateTables does not name,
// so that a schema change that forgets the copy lists fails loudly.
func knownTables(ctx context.Context, db sqlcopy.DB) error {
	tables, err := sqlcopy.Tables(ctx, db)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	for _, t := range tables {
		if !slices.Contains(migrateTables, t) {
			return fmt.Errorf("the database has a table depot does not know how to copy: %s", t)
		}
	}
	return nil
}

// backupBlobsOf copies the blobs the dump references from blobs to dst,
// workers at a time, and fills m's blob counts and the dump's row counts.
// vanished counts blobs that were deleted from the source after the
// snapshot; damaged names those whose bytes are missing or wrong although
// their record exists.
func backupBlobsOf(ctx context.Context, dumpPath string, m *backupManifest, store depot.Store, blobs, dst depot.BlobStore, workers int) (vanished int, damaged []string, err error) {
	dump, err := sqlite.Open(ctx, dumpPath)
	if err != nil {
		return 0, nil, fmt.Errorf("open metadata snapshot: %w", err)
	}
	defer func() { err = errors.Join(err, closeDump(dump)) }()
	if m.Metadata.Rows, err = tableRows(ctx, sqlcopy.DB{DB: dump.DB(), Dialect: sqlcopy.SQLite}); err != nil {
		return 0, nil, err
	}
	if err := dump.DB().QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version`).Scan(&m.Metadata.SchemaVersion); err != nil {
		return 0, nil, fmt.Errorf("schema version: %w", err)
	}
	list := sha256.New()
	var mu sync.Mutex
	err = eachBlob(ctx, dump, workers, func(b depot.Blob) {
		m.Blobs.Count++
		m.Blobs.Bytes += b.Size
		fmt.Fprintf(list, "%s\n", b.SHA256)
	}, func(ctx context.Context, b depot.Blob) error {
		outcome, err := backupBlob(ctx, b, dump, store, blobs, dst)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		switch outcome {
		case blobPresent:
			m.Blobs.Present++
		case blobCopied:
			m.Blobs.Copied++
		case blobInline:
			m.Blobs.Inline++
		case blobVanished:
			vanished++
		case blobMissing:
			damaged = append(damaged, b.SHA256+" (missing)")
		case blobDamaged:
			damaged = append(damaged, b.SHA256)
		}
		return nil
	})
	m.Blobs.ListSHA256 = hex.EncodeToString(list.Sum(nil))
	slices.Sort(damaged)
	return vanished, damaged, err
}

// What backing up a blob did.
const (
	blobPresent  = iota // already in the backup
	blobCopied          // copied, its sha256 checked
	blobVanished        // deleted from the source after the snapshot
	blobMissing         // its record exists, its bytes do not
	blobDamaged         // its bytes do not hash to its digest
	blobInline          // kept inline: in the snapshot, its sha256 checked
)

// backupBlob copies one blob unless the backup has it, or the snapshot
// dump holds it inline (checked, not copied: the snapshot is the copy).
func backupBlob(ctx context.Context, b depot.Blob, dump depot.InlineStore, store depot.Store, blobs, dst depot.BlobStore) (int, error) {
	if inline, ok, err := inlineBlob(ctx, dump, b); err != nil {
		return 0, err
	} else if ok {
		if !intact(inline, b) {
			return blobDamaged, nil
		}
		return blobInline, nil
	}
	if size, err := dst.Stat(ctx, b.SHA256); err == nil && size == b.Size {
		return blobPresent, nil
	} else if err == nil {
		// A wrong copy in the backup: replace it.
		if err := dst.Delete(ctx, b.SHA256); err != nil {
			return 0, err
		}
	}
	err := copyBlob(ctx, blobs, dst, b.SHA256)
	if errors.Is(err, depot.ErrNotFound) {
		gone, gerr := blobGone(ctx, store, blobs, b.SHA256)
		if gerr != nil {
			return 0, gerr
		}
		if gone {
			return blobVanished, nil
		}
		err = copyBlob(ctx, blobs, dst, b.SHA256) // there again
	}
	switch {
	case err == nil:
		return blobCopied, nil
	case errors.Is(err, depot.ErrNotFound):
		return blobMissing, nil
	case errors.Is(err, errDamagedBlob):
		return blobDamaged, nil
	}
	return 0, fmt.Errorf("copy blob %s: %w", b.SHA256, err)
}

// inlineBlob returns b's content when store keeps it inline.
func inlineBlob(ctx context.Context, store depot.InlineStore, b depot.Blob) ([]byte, bool, error) {
	if b.Size > depot.MaxInlineBlob {
		return nil, false, nil
	}
	content, err := store.InlineBlob(ctx, b.SHA256)
	if errors.Is(err, depot.ErrNotFound) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("read inline blob %s: %w", b.SHA256, err)
	}
	return content, true, nil
}

// intact reports whether content is b's: its size and sha256.
func intact(content []byte, b depot.Blob) bool {
	sum := sha256.Sum256(content)
	return int64(len(content)) == b.Size && hex.EncodeToString(sum[:]) == b.SHA256
}

// blobGone tells, for a blob the snapshot references but blob storage
// lacks, whether it was deleted after the snapshot: its record is gone. A
// delete removes the bytes just before its transaction commits, so the
// record is asked for again for a little while before the blob counts as
// missing.
func blobGone(ctx context.Context, store depot.Store, blobs depot.BlobStore, digest string) (bool, error) {
	for i := range 5 {
		ok, err := store.BlobExists(ctx, digest)
		if err != nil || !ok {
			return !ok, err
		}
		if _, err := blobs.Stat(ctx, digest); err == nil {
			return false, nil // there again (uploaded again): copy it
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(time.Duration(i+1) * 100 * time.Millisecond):
		}
	}
	return false, nil
}

// eachBlob calls inOrder with every blob record of store, a page at a
// time in digest order, and fn with each, workers at a time; it returns
// fn's first error.
func eachBlob(ctx context.Context, store depot.IntegrityStore, workers int, inOrder func(depot.Blob), fn func(context.Context, depot.Blob) error) error {
	const page = 500
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, workers))
	err := func() error {
		after := ""
		for {
			blobs, err := store.BlobPage(gctx, after, page, 0)
			if err != nil {
				return fmt.Errorf("list blobs: %w", err)
			}
			for _, b := range blobs {
				inOrder(b)
				g.Go(func() error { return fn(gctx, b) })
			}
			if len(blobs) < page {
				return nil
			}
			after = blobs[len(blobs)-1].SHA256
		}
	}()
	if werr := g.Wait(); werr != nil {
		return werr
	}
	return err
}

// tableRows counts the rows of each of migrateTables.
func tableRows(ctx context.Context, db sqlcopy.DB) (map[string]int64, error) {
	rows := map[string]int64{}
	for _, t := range migrateTables {
		var n int64
		if err := db.DB.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		rows[t] = n
	}
	return rows, nil
}

// storeDump stores the dump file as a blob of dst and records its digest.
func storeDump(ctx context.Context, path string, md *backupMetadata, dst depot.BlobStore) error {
	if b, err := os.ReadFile(path + "-wal"); err == nil && len(b) > 0 {
		return fmt.Errorf("metadata snapshot %s still has a write-ahead log", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if md.Size, err = io.Copy(h, f); err != nil {
		return err
	}
	md.Format, md.SHA256 = "sqlite", hex.EncodeToString(h.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := dst.Stat(ctx, md.SHA256); err == nil {
		return nil
	}
	up, err := dst.NewUpload(ctx, md.Size)
	if err != nil {
		return err
	}
	defer up.Close()
	if _, err := io.Copy(up, f); err != nil {
		return fmt.Errorf("store metadata snapshot: %w", err)
	}
	if err := up.Commit(ctx, md.SHA256); err != nil {
		return fmt.Errorf("store metadata snapshot: %w", err)
	}
	return nil
}

// copyWorkersFlag is how many blobs backup and restore copy at once.
func copyWorkersFlag() cli.Flag {
	return &cli.IntFlag{Name: "workers", Value: 4, Usage: "blobs copied at once"}
}
