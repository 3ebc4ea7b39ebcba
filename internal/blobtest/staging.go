package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// RunStaging runs the conformance suite of depot.UploadStaging. newStaging
// returns an empty staging area for each subtest and staged lists what it
// holds; after every subtest's Remove it must hold nothing.
func RunStaging(t *testing.T, newStaging func(t *testing.T) (st depot.UploadStaging, staged func() ([]string, error))) {
	ctx := context.Background()
	const tok = "0123456789abcdef0123456789abcdef"
	mustStaged := func(t *testing.T, st depot.UploadStaging, size int64, want []byte) {
		t.Helper()
		r, err := st.Open(ctx, tok, size)
		if err != nil {
			t.Fatalf("Open(%d): %v", size, err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read staged: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Open(%d) read %d bytes (%s), want %d (%s)", size, len(got), trunc(got), len(want), trunc(want))
		}
	}
	mustEmpty := func(t *testing.T, staged func() ([]string, error)) {
		t.Helper()
		left, err := staged()
		if err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Fatalf("left staged: %q", left)
		}
	}
	whole := bytes.Repeat([]byte("0123456789"), 3000)
	t.Run("AppendOpenRemove", func(t *testing.T) {
		st, staged := newStaging(t)
		for off := 0; off < len(whole); off += 7000 {
			end := min(off+7000, len(whole))
			if err := st.Append(ctx, tok, int64(off), whole[off:end]); err != nil {
				t.Fatalf("Append at %d: %v", off, err)
			}
		}
		mustStaged(t, st, int64(len(whole)), whole)
		mustStaged(t, st, 10000, whole[:10000]) // a prefix: what the store recorded
		mustStaged(t, st, 0, nil)
		if _, err := st.Open(ctx, tok, int64(len(whole))+1); !errors.Is(err, depot.ErrNotFound) {
			t.Fatalf("Open beyond the staged bytes: %v, want ErrNotFound", err)
		}
		if err := st.Remove(ctx, tok); err != nil {
			t.Fatal(err)
		}
		mustEmpty(t, staged)
		if err := st.Remove(ctx, tok); err != nil {
			t.Fatalf("Remove of nothing: %v", err)
		}
	})
	t.Run("AppendReplacesUnrecorded", func(t *testing.T) {
		// An append whose offset was never recorded is written over.
		st, staged := newStaging(t)
		if err := st.Append(ctx, tok, 0, whole[:7000]); err != nil {
			t.Fatal(err)
		}
		if err := st.Append(ctx, tok, 7000, []byte("stale bytes that were never recorded, and more of them")); err != nil {
			t.Fatal(err)
		}
		if err := st.Append(ctx, tok, 7000, whole[7000:9000]); err != nil {
			t.Fatal(err)
		}
		if err := st.Append(ctx, tok, 9000, whole[9000:]); err != nil {
			t.Fatal(err)
		}
		mustStaged(t, st, int64(len(whole)), whole)
		if err := st.Remove(ctx, tok); err != nil {
			t.Fatal(err)
		}
		mustEmpty(t, staged)
	})
	t.Run("InvalidToken", func(t *testing.T) {
		st, staged := newStaging(t)
		for _, bad := range []string{"", "../../sha256/x", "0123456789ABCDEF0123456789ABCDEF", tok + "0"} {
			if err := st.Append(ctx, bad, 0, []byte("x")); !errors.Is(err, depot.ErrInvalid) {
				t.Errorf("Append(%q): %v, want ErrInvalid", bad, err)
			}
		}
		mustEmpty(t, staged)
	})
}
