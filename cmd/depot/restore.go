package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlcopy"
	"github.com/depot-registry/depot/internal/sqlite"
	"github.com/urfave/cli/v3"
)

func restoreCommand(stdout, stderr io.Writer, onUsage cli.OnUsageErrorFunc) *cli.Command {
	return &cli.Command{
		Name:  "restore",
		Usage: "restore a backup into an empty database and blob storage (of either stack)",
		Description: "Reads the backup's manifest, checks the metadata snapshot's sha256, copies every blob it references " +
			"(each checked against its sha256), then the metadata, keeping ids. The target database and blob storage " +
			"must be empty. Run depot admin verify afterwards.",
		Flags: append(append(dataFlags(), storageFlags()...),
			&cli.StringFlag{Name: "from", Required: true, Usage: "backup directory, or s3://BUCKET[/PREFIX]?endpoint=..."},
			&cli.StringFlag{Name: "snapshot", Usage: "restore this snapshot (a name under snapshots/, without .json) instead of the latest"},
			copyWorkersFlag(),
		),
		OnUsageError: onUsage,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			c, err := storesConfig(cmd)
			if err != nil {
				return err
			}
			from, err := backupLocation(cmd, "from")
			if err != nil {
				return err
			}
			name := manifestName
			if s := cmd.String("snapshot"); s != "" {
				if strings.ContainsAny(s, "/\\") || strings.Contains(s, "..") {
					return usageError("--snapshot: %q is not a snapshot name", s)
				}
				name = snapshotsDir + s + ".json"
			}
			src, err := openBackupTarget(ctx, from, c, false)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			m, err := readManifest(ctx, src, name)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
				return err
			}
			to, err := openSide(ctx, c)
			if err != nil {
				return err
			}
			defer to.store.Close()
			if err := restore(ctx, src, m, to, int(cmd.Int("workers")), stderr); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "restored the backup of %s: %d blobs (%d bytes) copied and verified, %d owners, %d packages, %d files; now run depot admin verify\n",
				m.FinishedAt.Format("2006-01-02T15:04:05Z07:00"), m.Blobs.Count, m.Blobs.Bytes, m.Metadata.Rows["owners"], m.Metadata.Rows["packages"], m.Metadata.Rows["files"])
			return nil
		},
	}
}

func readManifest(ctx context.Context, src *backupTarget, name string) (*backupManifest, error) {
	b, err := src.get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("read the backup's manifest: %w", err)
	}
	var m backupManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("the backup's manifest %s: %w", name, err)
	}
	if m.Format != backupFormat || m.Metadata.Format != "sqlite" {
		return nil, fmt.Errorf("the backup's manifest %s has format %q (metadata %q); this depot reads %q", name, m.Format, m.Metadata.Format, backupFormat)
	}
	return &m, nil
}

// restore copies the snapshot m describes from src into the empty target to:
// blobs first, then metadata, so no file record ever exists without its
// bytes.
func restore(ctx context.Context, src *backupTarget, m *backupManifest, to *side, workers int, stderr io.Writer) error {
	if err := mustBeEmpty(ctx, to); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "depot-restore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "metadata.db")
	if err := fetchDump(ctx, src.blobs, m.Metadata, path); err != nil {
		return err
	}
	dump, err := sqlite.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("open the metadata snapshot: %w", err)
	}
	defer dump.Close()
	var copied atomic.Int64
	list := sha256.New()
	var listed int64
	err = eachBlob(ctx, dump, workers, func(b depot.Blob) {
		listed++
		fmt.Fprintf(list, "%s\n", b.SHA256)
	}, func(ctx context.Context, b depot.Blob) error {
		if inline, ok, err := inlineBlob(ctx, dump, b); err != nil {
			return err
		} else if ok {
			// The snapshot holds it: copied with the metadata.
			if !intact(inline, b) {
				return fmt.Errorf("blob %s is damaged in the backup's metadata snapshot", b.SHA256)
			}
			copied.Add(1)
			return nil
		}
		if err := copyBlob(ctx, src.blobs, to.blobs, b.SHA256); err != nil {
			if errors.Is(err, depot.ErrNotFound) {
				return fmt.Errorf("blob %s is missing from the backup", b.SHA256)
			}
			return fmt.Errorf("copy blob %s: %w", b.SHA256, err)
		}
		if n := copied.Add(1); n%100 == 0 {
			fmt.Fprintf(stderr, "blobs: %d/%d copied\n", n, m.Blobs.Count)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(list.Sum(nil)); listed != m.Blobs.Count || got != m.Blobs.ListSHA256 {
		return fmt.Errorf("the snapshot lists %d blobs (list sha256 %s), the manifest %d (%s)", listed, got, m.Blobs.Count, m.Blobs.ListSHA256)
	}
	from := sqlcopy.DB{DB: dump.DB(), Dialect: sqlcopy.SQLite}
	if err := knownTables(ctx, from); err != nil {
		return fmt.Errorf("metadata snapshot: %w", err)
	}
	return sqlcopy.Copy(ctx, from, to.db, migrateTables, func(table string, n, total int64) {
		fmt.Fprintf(stderr, "%s: %d/%d rows\n", table, n, total)
	})
}

// mustBeEmpty refuses a target that holds any metadata row or any blob.
func mustBeEmpty(ctx context.Context, to *side) error {
	rows, err := tableRows(ctx, to.db)
	if err != nil {
		return err
	}
	var full []string
	for t, n := range rows {
		if n > 0 {
			full = append(full, fmt.Sprintf("%s: %d rows", t, n))
		}
	}
	sort.Strings(full)
	if len(full) > 0 {
		return fmt.Errorf("restore needs an empty target, and the database is not (%s)", strings.Join(full, ", "))
	}
	errFound := errors.New("found")
	if err := to.blobs.Walk(ctx, func(string) error { return errFound }); errors.Is(err, errFound) {
		return errors.New("restore needs an empty target, and the blob storage holds blobs")
	} else if err != nil {
		return fmt.Errorf("list target blobs: %w", err)
	}
	return nil
}

// fetchDump copies the metadata snapshot out of the backup to path,
// checking its sha256 and size.
func fetchDump(ctx context.Context, blobs depot.BlobStore, md backupMetadata, path string) error {
	r, err := blobs.Open(ctx, md.SHA256)
	if err != nil {
		return fmt.Errorf("the backup's metadata snapshot sha256:%s: %w", md.SHA256, err)
	}
	defer r.Close()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	err = errors.Join(err, f.Close())
	if err != nil {
		return fmt.Errorf("read the metadata snapshot: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != md.SHA256 || n != md.Size {
		return fmt.Errorf("the backup's metadata snapshot is damaged: %d bytes hashing to %s, the manifest says %d bytes, %s", n, got, md.Size, md.SHA256)
	}
	return nil
}
