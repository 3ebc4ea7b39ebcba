package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/urfave/cli/v3"
)

func gcCommand(stdout io.Writer, onUsage cli.OnUsageErrorFunc) *cli.Command {
	return &cli.Command{
		Name:  "gc",
		Usage: "find (and with --apply remove) blobs no file references and stale temporary uploads",
		Description: "Safe while servers run: a blob is removed in a metadata transaction that an upload of the same " +
			"content waits for, and only temporary uploads older than --temp-age are touched.",
		Flags: append(append(dataFlags(), storageFlags()...),
			&cli.BoolFlag{Name: "apply", Usage: "delete what was found (default: only report it)"},
			&cli.DurationFlag{Name: "temp-age", Value: staleTemp, Usage: "temporary uploads older than this belong to no live upload"},
		),
		OnUsageError: onUsage,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			c, err := storesConfig(cmd)
			if err != nil {
				return err
			}
			if cmd.Duration("temp-age") < time.Minute {
				return usageError("--temp-age must be at least 1m: younger temporary uploads may belong to live uploads")
			}
			store, blobs, err := openStores(ctx, c)
			if err != nil {
				return err
			}
			defer store.Close()
			defer closeBlobs(blobs)
			if err := collectGarbage(ctx, store, blobs, cmd.Bool("apply"), cmd.Duration("temp-age"), stdout); err != nil {
				return err
			}
			return collectUploads(ctx, c, store, blobs, cmd.Bool("apply"), stdout)
		},
	}
}

// collectGarbage reports, and with apply removes, blobs without a record and
// temporary uploads older than tempAge (on local storage also younger ones
// whose process is gone). It streams: each blob the walk finds is looked up,
// and an unrecorded one printed (dry run) or removed (apply) there and then,
// so its memory does not grow with the number of blobs. It ends by saying
// how long it took.
func collectGarbage(ctx context.Context, store depot.Store, blobs blobBackend, apply bool, tempAge time.Duration, stdout io.Writer) error {
	start := time.Now()
	defer func() { fmt.Fprintf(stdout, "gc took %s\n", time.Since(start).Round(time.Millisecond)) }()
	remove := func(ctx context.Context, digest string) error {
		if err := blobs.Delete(ctx, digest); err != nil && !errors.Is(err, depot.ErrNotFound) {
			return err
		}
		return nil
	}
	var orphans, removed, walked int
	var orphanBytes int64
	err := blobs.Walk(ctx, func(digest string) error {
		walked++
		ok, err := store.BlobExists(ctx, digest)
		if err != nil || ok {
			return err
		}
		if apply {
			ok, err := store.RemoveUnrecordedBlob(ctx, digest, remove)
			if err != nil {
				return fmt.Errorf("remove blob %s: %w", digest, err)
			}
			if ok {
				removed++
			}
			return nil
		}
		size, err := blobs.Stat(ctx, digest)
		if errors.Is(err, depot.ErrNotFound) {
			return nil // removed meanwhile
		} else if err != nil {
			return err
		}
		if orphans == 0 {
			fmt.Fprintln(stdout, "unreferenced:")
		}
		fmt.Fprintf(stdout, "  sha256:%s\n", digest)
		orphans++
		orphanBytes += size
		return nil
	})
	if err != nil {
		return fmt.Errorf("walk blobs: %w", err)
	}
	temps, err := blobs.TempUploads()
	if err != nil {
		return fmt.Errorf("list temporary uploads: %w", err)
	}
	if !apply {
		fmt.Fprintf(stdout, "blobs: %d, unreferenced blobs: %d (%d bytes)\n", walked, orphans, orphanBytes)
		fmt.Fprintf(stdout, "temporary uploads: %d (those older than %s, and on local storage those of processes that are gone, would be removed)\n", len(temps), tempAge)
		fmt.Fprintln(stdout, "dry run: nothing removed; run again with --apply to remove")
		return nil
	}
	n, err := blobs.CleanTemp(time.Now().Add(-tempAge))
	if err != nil {
		return fmt.Errorf("remove temporary uploads: %w", err)
	}
	fmt.Fprintf(stdout, "removed %d unreferenced blobs and %d temporary uploads\n", removed, n)
	return nil
}

// collectUploads reports, and with apply removes, resumable uploads whose
// expiry passed: their state and their staged bytes.
func collectUploads(ctx context.Context, c Config, store depot.Store, blobs blobBackend, apply bool, stdout io.Writer) error {
	svc, err := newService(c, store, blobs, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	defer svc.Close()
	n, err := svc.RemoveExpiredUploads(ctx, apply)
	if err != nil {
		return err
	}
	if apply {
		fmt.Fprintf(stdout, "removed %d expired resumable uploads\n", n)
	} else {
		fmt.Fprintf(stdout, "expired resumable uploads: %d (would be removed with their staged bytes)\n", n)
	}
	return nil
}
