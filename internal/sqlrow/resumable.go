package sqlrow

import (
	"database/sql"
	"errors"

	"github.com/depot-registry/depot/internal/depot"
)

// ResumableCols are the resumable_uploads columns ResumableUpload scans.
const ResumableCols = `id, token, dialect, actor_id, owner, package, version, file, status, length, max_size,
	upload_offset, complete, hash_state, repr_sha256, created_at, expires_at`

// ResumableUpload scans a row of ResumableCols. ErrNotFound for no row.
func ResumableUpload(row Scanner) (*depot.ResumableUpload, error) {
	var u depot.ResumableUpload
	var created, expires int64
	var complete bool
	err := row.Scan(&u.ID, &u.Token, &u.Dialect, &u.ActorID, &u.Owner, &u.Package, &u.Version, &u.File, &u.Status,
		&u.Length, &u.MaxSize, &u.Offset, &complete, &u.HashState, &u.ReprSHA256, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, depot.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	if len(u.HashState) == 0 {
		u.HashState = nil
	}
	u.Complete = complete
	u.CreatedAt, u.ExpiresAt = FromMicros(created), FromMicros(expires)
	return &u, nil
}

// ResumableArgs are u's values for an INSERT of every column but id, in
// ResumableCols' order.
func ResumableArgs(u *depot.ResumableUpload) []any {
	return []any{u.Token, u.Dialect, u.ActorID, u.Owner, u.Package, u.Version, u.File, u.Status, u.Length, u.MaxSize,
		u.Offset, u.Complete, u.HashState, u.ReprSHA256, u.CreatedAt.UnixMicro(), u.ExpiresAt.UnixMicro()}
}
