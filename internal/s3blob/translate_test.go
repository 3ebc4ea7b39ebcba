package s3blob

import (
	"errors"
	"fmt"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/depot-registry/depot/internal/depot"
)

// TestTranslateStorageFull checks that a full object store is recognised
// by its error code (MinIO answers XMinioStorageFull, with status 507, when
// its drives are below their free-space threshold), whatever the message,
// and that a message alone classifies nothing.
func TestTranslateStorageFull(t *testing.T) {
	for _, tc := range []struct {
		err  error
		full bool
	}{
		{minio.ErrorResponse{Code: "XMinioStorageFull", StatusCode: 507, Message: "Storage backend has reached its minimum free drive threshold."}, true},
		{fmt.Errorf("put: %w", minio.ErrorResponse{Code: "StorageFull"}), true},
		{minio.ErrorResponse{Code: "XMinioAdminBucketQuotaExceeded"}, true},
		{minio.ErrorResponse{Code: "InternalError", Message: "storage full"}, false},
		{errors.New("XMinioStorageFull"), false},
	} {
		got := translate(tc.err)
		if errors.Is(got, depot.ErrInsufficientStorage) != tc.full {
			t.Errorf("translate(%v) = %v: insufficient storage %v, want %v", tc.err, got, !tc.full, tc.full)
		}
		if tc.full && depot.ErrorMessage(got) == "" {
			t.Errorf("translate(%v) carries no client-safe message", tc.err)
		}
	}
}
