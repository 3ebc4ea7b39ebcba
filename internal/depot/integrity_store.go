package depot

import (
	"context"
	"time"
)

// BlobProblem says how a stored blob differs from its record.
type BlobProblem string

// The ways a blob can be damaged.
const (
	// BlobMissing: blob storage has no bytes under the digest.
	BlobMissing BlobProblem = "missing"
	// BlobTruncated: fewer bytes are stored than the record says.
	BlobTruncated BlobProblem = "truncated"
	// BlobCorrupt: the stored bytes do not hash to the digest (or there
	// are more of them than the record says).
	BlobCorrupt BlobProblem = "corrupt"
)

// BlobDamage is a blob found damaged, as the metadata store remembers it so
// that every replica refuses to serve it.
type BlobDamage struct {
	SHA256  string
	Problem BlobProblem
	FoundAt time.Time
}

// BlobFile is a file that references a blob, named as URLs name it.
type BlobFile struct {
	ID      int64
	Owner   string
	Type    PackageType
	Package string
	Version string
	File    string
}

// IntegrityStore is the part of Store that checking stored blobs needs: the
// blob records in pages, the files of a blob, and the damage found.
type IntegrityStore interface {
	// BlobPage returns up to limit blob records whose digests sort after
	// after ("" for the first page), in digest order. With ownerID other
	// than 0, only blobs that a file of that owner references.
	BlobPage(ctx context.Context, after string, limit int, ownerID int64) ([]Blob, error)
	// BlobFiles returns every file that references the blob (superseded
	// GitLab duplicates too), by ascending ID. None for an unknown digest.
	BlobFiles(ctx context.Context, sha256 string) ([]BlobFile, error)
	// MarkBlobDamaged records d, replacing what was recorded for its blob.
	// It records nothing, and no error, when no blob record has the digest
	// (the blob was deleted meanwhile); the record goes when the blob
	// record does.
	MarkBlobDamaged(ctx context.Context, d BlobDamage) error
	// ClearBlobDamage forgets what was recorded for a blob; nothing to
	// forget is no error.
	ClearBlobDamage(ctx context.Context, sha256 string) error
	// DamagedBlobs returns every blob recorded damaged, in digest order.
	DamagedBlobs(ctx context.Context) ([]BlobDamage, error)
}
