package storetest

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// testResumable checks depot.ResumableStore: a round trip of every field,
// the offset compare-and-set (one winner among concurrent advances, a
// complete upload frozen), expiry order and deletion.
func testResumable(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	mk := func(token string, expires time.Time) *depot.ResumableUpload {
		u := &depot.ResumableUpload{Token: token, Dialect: depot.DialectGitLab, ActorID: alice.ID, Owner: "alice/tools",
			Package: "pkg", Version: "1.0", File: "dir/x.bin", Status: "hidden", Length: -1, MaxSize: 1 << 20,
			ReprSHA256: "ab", CreatedAt: stored(when), ExpiresAt: stored(expires)}
		if err := s.CreateResumableUpload(ctx, u); err != nil {
			t.Fatalf("CreateResumableUpload(%s): %v", token, err)
		}
		if u.ID == 0 {
			t.Fatal("CreateResumableUpload set no ID")
		}
		return u
	}
	u := mk("00000000000000000000000000000001", when.Add(time.Hour))
	wantErr(t, "CreateResumableUpload of a taken token", s.CreateResumableUpload(ctx, &depot.ResumableUpload{Token: u.Token, Dialect: "gitea", ActorID: alice.ID, CreatedAt: when, ExpiresAt: when}), depot.ErrConflict)
	got, err := s.ResumableUploadByToken(ctx, u.Token)
	if err != nil {
		t.Fatal(err)
	}
	got.CreatedAt, got.ExpiresAt = got.CreatedAt.UTC(), got.ExpiresAt.UTC()
	want := *u
	want.CreatedAt, want.ExpiresAt = want.CreatedAt.UTC(), want.ExpiresAt.UTC()
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("ResumableUploadByToken = %+v, want %+v", *got, want)
	}
	_, err = s.ResumableUploadByToken(ctx, "00000000000000000000000000000009")
	wantErr(t, "ResumableUploadByToken of a missing token", err, depot.ErrNotFound)

	// Advance: only from the current offset.
	if err := s.AdvanceResumableUpload(ctx, u.Token, 0, 100, []byte("state1"), -1, false); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "AdvanceResumableUpload from a stale offset", s.AdvanceResumableUpload(ctx, u.Token, 0, 50, []byte("x"), -1, false), depot.ErrConflict)
	wantErr(t, "AdvanceResumableUpload of a missing upload", s.AdvanceResumableUpload(ctx, "00000000000000000000000000000009", 0, 50, nil, -1, false), depot.ErrNotFound)

	// Of concurrent advances from one offset exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if s.AdvanceResumableUpload(ctx, u.Token, 100, int64(200+i), []byte{byte(i)}, -1, false) == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent advances won, want 1", wins.Load())
	}
	got, err = s.ResumableUploadByToken(ctx, u.Token)
	if err != nil {
		t.Fatal(err)
	}
	if got.Offset < 200 || got.Offset > 207 || len(got.HashState) != 1 || int64(got.HashState[0])+200 != got.Offset {
		t.Fatalf("after the race: offset %d, hash state %v", got.Offset, got.HashState)
	}
	// Complete freezes it.
	if err := s.AdvanceResumableUpload(ctx, u.Token, got.Offset, got.Offset, got.HashState, got.Offset, true); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "AdvanceResumableUpload of a complete upload", s.AdvanceResumableUpload(ctx, u.Token, got.Offset, got.Offset+1, nil, -1, false), depot.ErrConflict)
	if got, err = s.ResumableUploadByToken(ctx, u.Token); err != nil || !got.Complete || got.Length != got.Offset {
		t.Fatalf("completed upload: %+v, %v", got, err)
	}

	// Expired uploads, oldest first, bounded.
	mk("00000000000000000000000000000002", when.Add(-time.Hour))
	mk("00000000000000000000000000000003", when.Add(-2*time.Hour))
	mk("00000000000000000000000000000004", when.Add(-3*time.Hour))
	exp, err := s.ExpiredResumableUploads(ctx, when, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(exp) != 2 || exp[0].Token != "00000000000000000000000000000004" || exp[1].Token != "00000000000000000000000000000003" {
		t.Fatalf("ExpiredResumableUploads = %v", exp)
	}
	if err := s.DeleteResumableUpload(ctx, exp[0].Token); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteResumableUpload twice", s.DeleteResumableUpload(ctx, exp[0].Token), depot.ErrNotFound)
	if exp, err = s.ExpiredResumableUploads(ctx, when, 10); err != nil || len(exp) != 2 {
		t.Fatalf("after a delete: %d expired, %v", len(exp), err)
	}
}
