package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/postgres"
	"github.com/depot-registry/depot/internal/sqlcopy"
	"github.com/depot-registry/depot/internal/sqlite"
	"github.com/urfave/cli/v3"
)

// migrateTables are the metadata tables in the order migrate copies them:
// every table after the tables it references.
var migrateTables = []string{"owners", "org_members", "tokens", "sessions", "projects", "packages", "versions", "blobs", "blob_contents", "files", "package_settings", "project_tokens", "damaged_blobs",
	"trusted_publishers", "publisher_exchanges", "file_publications", "oidc_used_jtis", "owner_quotas", "owner_settings", "download_days",
	"webhooks", "webhook_events", "webhook_deliveries", "webhook_attempts",
	"cleanup_rules", "cleanup_passes", "audit_events", "resumable_uploads"}

// side is one end of a migration.
type side struct {
	store depot.Store
	blobs blobBackend
	db    sqlcopy.DB
}

func migrateCommand(stdout, stderr io.Writer, onUsage cli.OnUsageErrorFunc) *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "copy a whole registry (metadata and blobs) to other storage, e.g. from SQLite and disk to PostgreSQL and S3",
		Description: "Copies every blob, verifying its sha256, then every metadata row, keeping ids. " +
			"Stop writes to the source first. The destination must be empty or hold an interrupted run of the same migration: " +
			"running the command again resumes it.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "from-database-url", Required: true, Usage: "source metadata database"},
			&cli.StringFlag{Name: "from-storage-url", Required: true, Usage: "source blob storage"},
			&cli.StringFlag{Name: "to-database-url", Required: true, Usage: "destination metadata database"},
			&cli.StringFlag{Name: "to-storage-url", Required: true, Usage: "destination blob storage"},
		}, storageFlags()[1:]...), // the S3 credential flags
		OnUsageError: onUsage,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			var ends [2]Config
			for i, dir := range []string{"from", "to"} {
				c := Config{
					DatabaseURL:       cmd.String(dir + "-database-url"),
					StorageURL:        cmd.String(dir + "-storage-url"),
					S3AccessKeyID:     cmd.String("s3-access-key-id"),
					S3SecretAccessKey: cmd.String("s3-secret-access-key"),
				}
				if err := checkDatabaseURL(c.DatabaseURL); err != nil {
					return usageError("--%s-database-url: %v", dir, err)
				}
				if err := checkStorageURL(c.StorageURL); err != nil {
					return usageError("--%s-storage-url: %v", dir, err)
				}
				ends[i] = c
			}
			if ends[0].DatabaseURL == ends[1].DatabaseURL || ends[0].StorageURL == ends[1].StorageURL {
				return usageError("--from-* and --to-* must name different databases and storages")
			}
			from, err := openSide(ctx, ends[0])
			if err != nil {
				return fmt.Errorf("source: %w", err)
			}
			defer from.store.Close()
			defer closeBlobs(from.blobs)
			to, err := openSide(ctx, ends[1])
			if err != nil {
				return fmt.Errorf("destination: %w", err)
			}
			defer to.store.Close()
			defer closeBlobs(to.blobs)
			return migrate(ctx, from, to, stdout, stderr)
		},
	}
}

func openSide(ctx context.Context, c Config) (*side, error) {
	store, err := openStore(ctx, c)
	if err != nil {
		return nil, err
	}
	db, err := sqlDB(store)
	if err != nil {
		store.Close()
		return nil, err
	}
	blobs, err := openBlobs(ctx, c)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &side{store: store, blobs: blobs, db: db}, nil
}

// migrate copies blobs first, then metadata, so that no file record ever
// exists in the destination without its bytes.
func migrate(ctx context.Context, from, to *side, stdout, stderr io.Writer) error {
	if err := knownTables(ctx, from.db); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	var copied, present, orphans int
	err := from.blobs.Walk(ctx, func(digest string) error {
		ok, err := from.store.BlobExists(ctx, digest)
		if err != nil {
			return err
		}
		if !ok {
			orphans++ // no file references it: garbage, not data
			return nil
		}
		if _, err := to.blobs.Stat(ctx, digest); err == nil {
			present++ // copied and verified by an earlier, interrupted run
			return nil
		} else if !errors.Is(err, depot.ErrNotFound) {
			return err
		}
		if err := copyBlob(ctx, from.blobs, to.blobs, digest); err != nil {
			return err
		}
		copied++
		if copied%100 == 0 {
			fmt.Fprintf(stderr, "blobs: %d copied\n", copied)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy blobs: %w", err)
	}
	fmt.Fprintf(stdout, "blobs: %d copied and verified, %d already there, %d unreferenced skipped\n", copied, present, orphans)
	err = sqlcopy.Copy(ctx, from.db, to.db, migrateTables, func(table string, n, total int64) {
		fmt.Fprintf(stderr, "%s: %d/%d rows\n", table, n, total)
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "metadata: copied")
	return nil
}

// errDamagedBlob marks a blob whose bytes do not hash to its digest.
var errDamagedBlob = errors.New("damaged blob")

// copyBlob streams one blob across, checking its sha256 before committing it.
func copyBlob(ctx context.Context, from, to depot.BlobStore, digest string) error {
	size, err := from.Stat(ctx, digest)
	if err != nil {
		return err
	}
	r, err := from.Open(ctx, digest)
	if err != nil {
		return err
	}
	defer r.Close()
	up, err := to.NewUpload(ctx, size)
	if err != nil {
		return err
	}
	defer up.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(up, h), r)
	if err != nil {
		return fmt.Errorf("blob %s: %w", digest, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != digest || n != size {
		return fmt.Errorf("blob %s is damaged in the source: its content hashes to %s (%d bytes, %d expected): %w", digest, got, n, size, errDamagedBlob)
	}
	return up.Commit(ctx, digest)
}

// sqlDB returns the database under a metadata store, for copying tables.
func sqlDB(s depot.Store) (sqlcopy.DB, error) {
	switch s := s.(type) {
	case *sqlite.Store:
		return sqlcopy.DB{DB: s.DB(), Dialect: sqlcopy.SQLite}, nil
	case *postgres.Store:
		return sqlcopy.DB{DB: s.DB(), Dialect: sqlcopy.Postgres}, nil
	}
	return sqlcopy.DB{}, fmt.Errorf("cannot copy tables of a %T", s)
}
