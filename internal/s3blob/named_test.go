package s3blob

import (
	"context"
	"errors"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

func TestNamedObjects(t *testing.T) {
	s := MustStore(t)
	ctx := context.Background()
	if _, err := s.GetNamed(ctx, "manifest.json"); !errors.Is(err, depot.ErrNotFound) {
		t.Errorf("GetNamed of nothing: %v, want ErrNotFound", err)
	}
	for _, v := range []string{"first", "second"} {
		if err := s.PutNamed(ctx, "manifest.json", []byte(v)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetNamed(ctx, "manifest.json"); err != nil || string(got) != v {
			t.Errorf("GetNamed = %q, %v; want %q", got, err, v)
		}
	}
	var n int
	if err := s.Walk(ctx, func(string) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("Walk found %d blobs, %v; a named object is no blob", n, err)
	}
	if tmp, err := s.TempUploads(); err != nil || len(tmp) != 0 {
		t.Errorf("TempUploads = %v, %v; a named object is no upload", tmp, err)
	}
	for _, bad := range []string{"", "/x", "blobs/sha256/x", "tmp/x", "data/x", "uploads/x", "a/../b"} {
		if err := s.PutNamed(ctx, bad, nil); !errors.Is(err, depot.ErrInvalid) {
			t.Errorf("PutNamed(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
