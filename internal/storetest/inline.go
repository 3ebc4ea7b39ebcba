package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// runInline runs the part of the suite about blobs kept inside the
// metadata database (depot.NewFile.Content, depot.InlineStore).
func runInline(t *testing.T, newStore func(t *testing.T) depot.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s depot.Store)
	}{
		{"InlineCreate", testInlineCreate},
		{"InlineInvisibleBeforeCommit", testInlineInvisibleBeforeCommit},
		{"InlineCommitFails", testInlineCommitFails},
		{"InlineConflict", testInlineConflict},
		{"InlineSharedAndDeleted", testInlineSharedAndDeleted},
		{"InlineBesideBlobStorage", testInlineBesideBlobStorage},
		{"InlineReplacesDamaged", testInlineReplacesDamaged},
		{"InlineGitLab", testInlineGitLab},
		{"InlineConcurrent", testInlineConcurrent},
		{"InlineConcurrentSameName", testInlineConcurrentSameName},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// InlineFile is NewFile with its content kept inline.
func InlineFile(owner *depot.User, pkg, version, name, content string) depot.NewFile {
	nf := NewFile(owner, pkg, version, name, content)
	nf.Content = []byte(content)
	return nf
}

// wantInline checks what InlineBlob answers for sha: want, or ErrNotFound
// when want is nil.
func wantInline(tb testing.TB, s depot.Store, sha string, want []byte) {
	tb.Helper()
	got, err := s.InlineBlob(context.Background(), sha)
	if want == nil {
		if !errors.Is(err, depot.ErrNotFound) {
			tb.Errorf("InlineBlob(%.12s…) = %d bytes, %v; want ErrNotFound", sha, len(got), err)
		}
		return
	}
	if err != nil {
		tb.Fatalf("InlineBlob(%.12s…): %v", sha, err)
	}
	if got == nil || !bytes.Equal(got, want) {
		tb.Errorf("InlineBlob(%.12s…) = %q, want %q", sha, got, want)
	}
}

func testInlineCreate(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	nf := InlineFile(alice, "tool", "1.0", "a.txt", "kept in the database")
	f := MustCreateFile(t, s, nf)
	if f.Blob.SHA256 != nf.Blob.SHA256 || f.Blob.Size != nf.Blob.Size {
		t.Errorf("CreateFile returned blob %+v, want %+v", f.Blob, nf.Blob)
	}
	wantInline(t, s, nf.Blob.SHA256, nf.Content)
	if got := mustFile(t, s, nf); got.Blob.SHA256 != nf.Blob.SHA256 || got.Blob.Size != nf.Blob.Size {
		t.Errorf("FileByName blob = %+v, want %+v", got.Blob, nf.Blob)
	}

	// An empty file keeps empty content: found, not missing.
	empty := InlineFile(alice, "tool", "1.0", "empty", "")
	MustCreateFile(t, s, empty)
	wantInline(t, s, empty.Blob.SHA256, []byte{})

	// Without Content the bytes are blob storage's.
	plain := NewFile(alice, "tool", "1.0", "plain.bin", "in blob storage")
	MustCreateFile(t, s, plain)
	wantInline(t, s, plain.Blob.SHA256, nil)
	wantInline(t, s, BlobOf("no such blob").SHA256, nil)
}

func testInlineInvisibleBeforeCommit(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	nf := InlineFile(alice, "tool", "1.0", "a.txt", "not yet")
	var seen error
	_, err := s.CreateFile(ctx, nf, func(ctx context.Context) error {
		// Another connection's read, inside the recording transaction.
		b, err := s.InlineBlob(ctx, nf.Blob.SHA256)
		if !errors.Is(err, depot.ErrNotFound) {
			seen = fmt.Errorf("InlineBlob before commit = %q, %v; want ErrNotFound", b, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("CreateFile: %v", err)
	}
	if seen != nil {
		t.Error(seen)
	}
	wantInline(t, s, nf.Blob.SHA256, nf.Content)
}

func testInlineCommitFails(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	boom := errors.New("boom")
	nf := InlineFile(alice, "tool", "1.0", "a.txt", "never recorded")
	_, err := s.CreateFile(ctx, nf, func(context.Context) error { return boom })
	wantErr(t, "CreateFile", err, boom)
	wantNoFile(t, s, nf)
	wantBlob(t, s, nf.Blob.SHA256, false)
	wantInline(t, s, nf.Blob.SHA256, nil)

	// A quota refusal rolls the content back too.
	q := InlineFile(alice, "tool", "1.0", "b.txt", "over quota")
	q.Quota = &depot.Quota{Owner: "alice", MaxVersions: depot.NoLimit, MaxSize: 1, MaxFileSize: depot.NoLimit}
	_, err = s.CreateFile(ctx, q, func(context.Context) error { return nil })
	wantErr(t, "CreateFile over quota", err, depot.ErrQuotaTotalSize)
	wantInline(t, s, q.Blob.SHA256, nil)
	wantBlob(t, s, q.Blob.SHA256, false)
}

func testInlineConflict(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	MustCreateFile(t, s, InlineFile(alice, "tool", "1.0", "a.txt", "first"))
	dup := InlineFile(alice, "tool", "1.0", "A.TXT", "second")
	_, err := s.CreateFile(ctx, dup, func(context.Context) error { return nil })
	wantErr(t, "CreateFile of an existing name", err, depot.ErrConflict)
	wantInline(t, s, dup.Blob.SHA256, nil)
	wantBlob(t, s, dup.Blob.SHA256, false)
}

func testInlineSharedAndDeleted(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	a := InlineFile(alice, "tool", "1.0", "a.txt", "shared")
	b := InlineFile(alice, "tool", "2.0", "b.txt", "shared")
	MustCreateFile(t, s, a)
	MustCreateFile(t, s, b)
	r := &remover{}
	if err := deleteFile(s, a, r); err != nil {
		t.Fatalf("DeleteFile: %v", err)
	}
	r.want(t) // b still references it
	wantInline(t, s, a.Blob.SHA256, a.Content)
	if err := deleteVersion(s, b, r); err != nil {
		t.Fatalf("DeleteVersion: %v", err)
	}
	// The last reference went: the content with the record, and removeBlob
	// was still called (a copy in blob storage would go too).
	r.want(t, a.Blob.SHA256)
	wantInline(t, s, a.Blob.SHA256, nil)
	wantBlob(t, s, a.Blob.SHA256, false)

	// A failing removeBlob keeps record and content.
	c := InlineFile(alice, "tool", "3.0", "c.txt", "kept")
	MustCreateFile(t, s, c)
	failing := &remover{err: errors.New("blob storage is down")}
	if err := deleteFile(s, c, failing); err == nil {
		t.Fatal("DeleteFile with a failing removeBlob succeeded")
	}
	wantInline(t, s, c.Blob.SHA256, c.Content)
	mustFile(t, s, c)
}

func testInlineBesideBlobStorage(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	// A blob stored before (in blob storage), then uploaded again inline:
	// the record is kept, and the content now too.
	old := NewFile(alice, "tool", "1.0", "old.bin", "stored before")
	MustCreateFile(t, s, old)
	wantInline(t, s, old.Blob.SHA256, nil)
	again := InlineFile(alice, "tool", "2.0", "again.bin", "stored before")
	MustCreateFile(t, s, again)
	wantInline(t, s, old.Blob.SHA256, again.Content)
	// And the other way round: an inline blob uploaded to blob storage.
	in := InlineFile(alice, "tool", "1.0", "in.bin", "inline first")
	MustCreateFile(t, s, in)
	MustCreateFile(t, s, NewFile(alice, "tool", "2.0", "out.bin", "inline first"))
	wantInline(t, s, in.Blob.SHA256, in.Content)

	r := &remover{}
	for _, v := range []string{"1.0", "2.0"} {
		if err := deleteVersion(s, NewFile(alice, "tool", v, "x", "x"), r); err != nil {
			t.Fatalf("DeleteVersion(%s): %v", v, err)
		}
	}
	r.want(t, old.Blob.SHA256, in.Blob.SHA256)
	wantInline(t, s, old.Blob.SHA256, nil)
	wantInline(t, s, in.Blob.SHA256, nil)
}

func testInlineReplacesDamaged(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	good := InlineFile(alice, "tool", "1.0", "a.txt", "the right bytes")
	bad := good
	bad.Content = []byte("the wrong bytes, as if damaged")
	MustCreateFile(t, s, bad)
	wantInline(t, s, good.Blob.SHA256, bad.Content)
	good.Version = "2.0"
	MustCreateFile(t, s, good)
	wantInline(t, s, good.Blob.SHA256, good.Content)
}

func testInlineGitLab(t *testing.T, s depot.Store) {
	ctx := context.Background()
	u := MustCreateUser(t, s, "alice")
	p := &depot.Project{OwnerID: u.ID, Name: "proj", CreatedAt: when}
	if err := s.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	opts := depot.GitLabFileOptions{ProjectID: p.ID, AllowDuplicate: true}
	first := InlineFile(u, "tool", "1.0", "a.bin", "one")
	MustCreateGitLabFile(t, s, first, opts)
	second := InlineFile(u, "tool", "1.0", "a.bin", "two")
	f := MustCreateGitLabFile(t, s, second, opts)
	wantInline(t, s, first.Blob.SHA256, first.Content)
	wantInline(t, s, second.Blob.SHA256, second.Content)
	r := &remover{}
	if err := s.DeleteFileByID(ctx, f.ID, 0, r.remove); err != nil {
		t.Fatalf("DeleteFileByID: %v", err)
	}
	r.want(t, second.Blob.SHA256)
	wantInline(t, s, second.Blob.SHA256, nil)
	wantInline(t, s, first.Blob.SHA256, first.Content)

	boom := errors.New("boom")
	failed := InlineFile(u, "tool", "1.0", "b.bin", "never")
	_, err := s.CreateGitLabFile(ctx, failed, opts, func(context.Context) error { return boom })
	wantErr(t, "CreateGitLabFile", err, boom)
	wantInline(t, s, failed.Blob.SHA256, nil)
}

// testInlineConcurrent records many inline files at once (stores that
// share transactions batch them), one of which fails its commit: every
// other keeps its content, the failed one none.
func testInlineConcurrent(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	const n = 40
	boom := errors.New("boom")
	files := make([]depot.NewFile, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		files[i] = InlineFile(alice, "tool", fmt.Sprint(i%4), fmt.Sprintf("f%d", i), fmt.Sprintf("content %d", i))
		wg.Go(func() {
			<-start
			_, errs[i] = s.CreateFile(context.Background(), files[i], func(context.Context) error {
				if i == 7 {
					return boom
				}
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i, nf := range files {
		if i == 7 {
			wantErr(t, "CreateFile with a failing commit", errs[i], boom)
			wantInline(t, s, nf.Blob.SHA256, nil)
			continue
		}
		if errs[i] != nil {
			t.Errorf("CreateFile(%s): %v", nf.File, errs[i])
			continue
		}
		wantInline(t, s, nf.Blob.SHA256, nf.Content)
	}
}

// testInlineConcurrentSameName races uploads of one name with different
// inline contents: exactly one wins, and only its content is kept.
func testInlineConcurrentSameName(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	const n = 16
	files := make([]depot.NewFile, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		files[i] = InlineFile(alice, "tool", "1.0", "same.bin", fmt.Sprintf("contender %d", i))
		wg.Go(func() {
			<-start
			_, errs[i] = s.CreateFile(context.Background(), files[i], func(context.Context) error { return nil })
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("uploads %d and %d of one name both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, depot.ErrConflict):
			t.Errorf("upload %d: %v, want ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no upload succeeded")
	}
	if f := mustFile(t, s, files[winner]); f.Blob.SHA256 != files[winner].Blob.SHA256 {
		t.Errorf("the file has blob %.12s…, the winner uploaded %.12s…", f.Blob.SHA256, files[winner].Blob.SHA256)
	}
	for i, nf := range files {
		if i == winner {
			wantInline(t, s, nf.Blob.SHA256, nf.Content)
		} else {
			wantInline(t, s, nf.Blob.SHA256, nil)
		}
	}
}
