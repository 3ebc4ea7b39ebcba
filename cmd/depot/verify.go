package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/verify"
	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v3"
)

// Exit codes of `admin verify`, besides 0 (every blob checked is intact)
// and 2 (a bad setting).
const (
	// exitUnchecked: some blobs could not be read (a storage error), or
	// the pass stopped early; none was found damaged.
	exitUnchecked = 1
	// exitDamaged: at least one blob is missing, truncated or corrupt.
	exitDamaged = 3
)

func verifyCommand(stdout io.Writer, onUsage cli.OnUsageErrorFunc) *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "re-read stored blobs, recompute their sha256 and size, and report damaged ones with the files that reference them",
		Description: "Safe while servers run (--rate keeps it beside live traffic). Damage found is recorded in the metadata " +
			"database, so every server answers downloads of those files with 500, until a later verify finds the blob " +
			"intact or it is uploaded again. Exit status: 0 every blob checked is intact; 1 some could not be read " +
			"(a storage error) or the pass stopped, none damaged; 2 bad settings; 3 damaged blobs found.",
		Flags: append(append(dataFlags(), storageFlags()...),
			&cli.IntFlag{Name: "workers", Value: runtime.GOMAXPROCS(0), Usage: "blobs read at once"},
			&cli.StringFlag{Name: "rate", Value: "0", Usage: "most bytes read per second in all, e.g. 100MiB; 0 means no limit"},
			&cli.StringFlag{Name: "sample", Usage: "check only a random sample: a number of blobs (500) or a share (10%)"},
			&cli.StringFlag{Name: "owner", Usage: "check only the blobs of this user's or organization's files"},
			&cli.BoolFlag{Name: "json", Usage: "write one JSON object per line: each finding, then a summary"},
			&cli.BoolFlag{Name: "record", Value: true, Usage: "record damage in the metadata database (and clear it for blobs found intact again)"},
		),
		OnUsageError: onUsage,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			c, err := storesConfig(cmd)
			if err != nil {
				return err
			}
			opts := verify.Options{Workers: int(cmd.Int("workers")), Record: cmd.Bool("record")}
			if opts.Workers < 1 {
				return usageError("--workers must be at least 1")
			}
			if opts.Rate, err = parseSize(cmd.String("rate")); err != nil {
				return usageError("--rate: %v", err)
			}
			if s := cmd.String("sample"); s != "" {
				if opts.Sample, err = verify.ParseSample(s); err != nil {
					return usageError("--sample: %v", err)
				}
			}
			store, blobs, err := openStores(ctx, c)
			if err != nil {
				return err
			}
			defer store.Close()
			if name := cmd.String("owner"); name != "" {
				o, err := store.OwnerByName(ctx, name)
				if errors.Is(err, depot.ErrNotFound) {
					return usageError("--owner: no user or organization %q", name)
				} else if err != nil {
					return err
				}
				opts.OwnerID = o.ID
			}
			return runVerify(ctx, store, blobs, opts, cmd.Bool("json"), stdout)
		},
	}
}

// verifyFinding is a finding as --json writes it.
type verifyFinding struct {
	Kind    string              `json:"kind"` // "finding"
	Problem string              `json:"problem"`
	SHA256  string              `json:"sha256"`
	Size    int64               `json:"size"`
	Read    int64               `json:"read_bytes"`
	Actual  string              `json:"actual_sha256,omitempty"`
	Error   string              `json:"error,omitempty"`
	Files   []verifyFindingFile `json:"files"`
}

type verifyFindingFile struct {
	ID      int64  `json:"id"`
	Owner   string `json:"owner"`
	Type    string `json:"type"`
	Package string `json:"package"`
	Version string `json:"version"`
	File    string `json:"file"`
}

// runVerify runs one pass and prints its findings and summary.
func runVerify(ctx context.Context, store depot.Store, blobs depot.BlobStore, opts verify.Options, asJSON bool, stdout io.Writer) error {
	enc := json.NewEncoder(stdout)
	opts.OnResult = func(res verify.Result) {
		if res.Problem == "" && res.Err == nil {
			return
		}
		problem := string(res.Problem)
		if res.Err != nil {
			problem = "unreadable"
		}
		if asJSON {
			f := verifyFinding{Kind: "finding", Problem: problem, SHA256: res.Blob.SHA256, Size: res.Blob.Size, Read: res.Read, Actual: res.SHA256, Files: []verifyFindingFile{}}
			if res.Err != nil {
				f.Error = res.Err.Error()
			}
			for _, bf := range res.Files {
				f.Files = append(f.Files, verifyFindingFile{ID: bf.ID, Owner: bf.Owner, Type: string(bf.Type), Package: bf.Package, Version: bf.Version, File: bf.File})
			}
			_ = enc.Encode(f)
			return
		}
		detail := ""
		switch {
		case res.Err != nil:
			detail = res.Err.Error()
		case res.Problem == depot.BlobMissing:
			detail = "not in blob storage"
		case res.Read != res.Blob.Size:
			detail = fmt.Sprintf("%d bytes stored, %d recorded", res.Read, res.Blob.Size)
			if res.Read > res.Blob.Size {
				detail = fmt.Sprintf("more than the %d bytes recorded", res.Blob.Size)
			}
		default:
			detail = "content hashes to " + res.SHA256
		}
		fmt.Fprintf(stdout, "%s sha256:%s (%s)\n", problem, res.Blob.SHA256, detail)
		for _, bf := range res.Files {
			fmt.Fprintf(stdout, "  %s/%s/%s/%s/%s (file %d)\n", bf.Owner, bf.Type, bf.Package, bf.Version, bf.File, bf.ID)
		}
	}
	sum, err := verify.New(store, blobs, &opts).Run(ctx)
	if asJSON {
		_ = enc.Encode(struct {
			Kind string `json:"kind"` // "summary"
			verify.Summary
			Damaged  int64   `json:"damaged"`
			Seconds  float64 `json:"seconds"`
			Complete bool    `json:"complete"`
			Error    string  `json:"error,omitempty"`
		}{"summary", sum, sum.Damaged(), sum.Finished.Sub(sum.Started).Seconds(), err == nil, errString(err)})
	} else {
		fmt.Fprintf(stdout, "checked %d blobs (%s) in %s: %d intact, %d missing, %d truncated, %d corrupt, %d unreadable",
			sum.Blobs, humanize.IBytes(uint64(sum.Bytes)), sum.Finished.Sub(sum.Started).Round(time.Millisecond),
			sum.Intact, sum.Missing, sum.Truncated, sum.Corrupt, sum.Unreadable)
		if sum.Cleared > 0 {
			fmt.Fprintf(stdout, "; %d found intact again", sum.Cleared)
		}
		fmt.Fprintln(stdout)
	}
	switch {
	case sum.Damaged() > 0:
		return cli.Exit(fmt.Sprintf("%d damaged blobs", sum.Damaged()), exitDamaged)
	case err != nil:
		return cli.Exit(fmt.Sprintf("verify stopped: %v", err), exitUnchecked)
	case sum.Unreadable > 0:
		return cli.Exit(fmt.Sprintf("%d blobs could not be read", sum.Unreadable), exitUnchecked)
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// integrityCommands are the admin commands that check and copy what is
// stored: verify, backup and restore.
func integrityCommands(stdout, stderr io.Writer, onUsage cli.OnUsageErrorFunc) []*cli.Command {
	return []*cli.Command{verifyCommand(stdout, onUsage), backupCommand(stdout, stderr, onUsage), restoreCommand(stdout, stderr, onUsage)}
}
