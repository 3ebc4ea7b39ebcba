package sqlrow

import (
	"database/sql"

	"github.com/depot-registry/depot/internal/depot"
)

// QuotaOverride reads a row of (max_versions, max_size, max_file_size),
// NULL for a limit that keeps the serve setting.
func QuotaOverride(row Scanner) (depot.QuotaOverride, error) {
	var v, sz, fs sql.NullInt64
	if err := row.Scan(&v, &sz, &fs); err != nil {
		return depot.QuotaOverride{}, err
	}
	return depot.QuotaOverride{MaxVersions: nullable(v), MaxSize: nullable(sz), MaxFileSize: nullable(fs)}, nil
}

func nullable(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}
