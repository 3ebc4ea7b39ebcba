package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// runQuota runs the conformance tests of depot.QuotaStore and of the quota
// check CreateFile and CreateGitLabFile make at commit.
func runQuota(t *testing.T, newStore func(t *testing.T) depot.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s depot.Store)
	}{
		{"OwnerQuota", testOwnerQuota},
		{"OwnerUsage", testOwnerUsage},
		{"QuotaAtCommit", testQuotaAtCommit},
		{"QuotaConcurrentSize", testQuotaConcurrentSize},
		{"QuotaConcurrentVersions", testQuotaConcurrentVersions},
		{"OwnerSettings", testOwnerSettings},
		{"Downloads", testDownloads},
		{"ConcurrentDownloads", testConcurrentDownloads},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func ptr(v int64) *int64 { return &v }

func fmtPtr(p *int64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func wantOverride(tb testing.TB, s depot.Store, ownerID int64, want depot.QuotaOverride) {
	tb.Helper()
	got, err := s.OwnerQuota(context.Background(), ownerID)
	if err != nil {
		tb.Fatalf("OwnerQuota: %v", err)
	}
	for _, f := range []struct {
		name      string
		got, want *int64
	}{{"MaxVersions", got.MaxVersions, want.MaxVersions}, {"MaxSize", got.MaxSize, want.MaxSize}, {"MaxFileSize", got.MaxFileSize, want.MaxFileSize}} {
		if fmtPtr(f.got) != fmtPtr(f.want) {
			tb.Errorf("OwnerQuota.%s = %s, want %s", f.name, fmtPtr(f.got), fmtPtr(f.want))
		}
	}
}

func testOwnerQuota(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	wantOverride(t, s, alice.ID, depot.QuotaOverride{})
	set := depot.QuotaOverride{MaxVersions: ptr(3), MaxSize: ptr(1 << 40), MaxFileSize: ptr(-1)}
	if err := s.SetOwnerQuota(ctx, alice.ID, set); err != nil {
		t.Fatalf("SetOwnerQuota: %v", err)
	}
	wantOverride(t, s, alice.ID, set)
	wantOverride(t, s, bob.ID, depot.QuotaOverride{})
	// Overwrite: fields not given go back to nil.
	if err := s.SetOwnerQuota(ctx, alice.ID, depot.QuotaOverride{MaxSize: ptr(0)}); err != nil {
		t.Fatalf("SetOwnerQuota again: %v", err)
	}
	wantOverride(t, s, alice.ID, depot.QuotaOverride{MaxSize: ptr(0)})
	if err := s.SetOwnerQuota(ctx, alice.ID, depot.QuotaOverride{}); err != nil {
		t.Fatalf("SetOwnerQuota(clear): %v", err)
	}
	wantOverride(t, s, alice.ID, depot.QuotaOverride{})
	wantErr(t, "SetOwnerQuota(missing owner)", s.SetOwnerQuota(ctx, 1<<40, set), depot.ErrNotFound)
	wantErr(t, "SetOwnerQuota(missing owner, clear)", s.SetOwnerQuota(ctx, 1<<40, depot.QuotaOverride{}), depot.ErrNotFound)
}

func wantUsage(tb testing.TB, s depot.Store, ownerID int64, want depot.Usage) {
	tb.Helper()
	got, err := s.OwnerUsage(context.Background(), ownerID)
	if err != nil {
		tb.Fatalf("OwnerUsage: %v", err)
	}
	if got != want {
		tb.Errorf("OwnerUsage = %+v, want %+v", got, want)
	}
}

func testOwnerUsage(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	wantUsage(t, s, alice.ID, depot.Usage{})
	MustCreateFile(t, s, NewFile(alice, "app", "1.0", "a", "12345"))
	MustCreateFile(t, s, NewFile(alice, "app", "1.0", "b", "12345")) // same bytes: counted twice
	MustCreateFile(t, s, NewFile(alice, "app", "2.0", "a", "123"))
	MustCreateFile(t, s, NewFile(alice, "lib", "1.0", "a", "1234567"))
	MustCreateFile(t, s, NewFile(bob, "app", "1.0", "a", "bob's"))
	wantUsage(t, s, alice.ID, depot.Usage{Versions: 3, Bytes: 20})
	p := MustCreateProject(t, s, alice.ID, "tools", "")
	nf := NewFile(alice, "gl", "1.0", "x", "abcd")
	MustCreateGitLabFile(t, s, nf, depot.GitLabFileOptions{ProjectID: p.ID, AllowDuplicate: true})
	nf.Blob = BlobOf("abcdef")
	MustCreateGitLabFile(t, s, nf, depot.GitLabFileOptions{ProjectID: p.ID, AllowDuplicate: true}) // the superseded file still counts
	wantUsage(t, s, alice.ID, depot.Usage{Versions: 4, Bytes: 30})
	r := &remover{}
	if err := deleteFile(s, NewFile(alice, "app", "1.0", "a", ""), r); err != nil {
		t.Fatalf("DeleteFile: %v", err)
	}
	if err := deleteVersion(s, NewFile(alice, "lib", "1.0", "", ""), r); err != nil {
		t.Fatalf("DeleteVersion: %v", err)
	}
	wantUsage(t, s, alice.ID, depot.Usage{Versions: 3, Bytes: 18})
	wantUsage(t, s, bob.ID, depot.Usage{Versions: 1, Bytes: 5})
}

// createWithQuota records nf under q and reports whether commitBlob ran.
func createWithQuota(s depot.Store, nf depot.NewFile, q *depot.Quota, gitlab *depot.Project) (bool, error) {
	nf.Quota = q
	var committed atomic.Bool
	commit := func(context.Context) error { committed.Store(true); return nil }
	var err error
	if gitlab != nil {
		_, err = s.CreateGitLabFile(context.Background(), nf, depot.GitLabFileOptions{ProjectID: gitlab.ID, AllowDuplicate: true}, commit)
	} else {
		_, err = s.CreateFile(context.Background(), nf, commit)
	}
	return committed.Load(), err
}

func quota(owner string, versions, size int64) *depot.Quota {
	return &depot.Quota{Owner: owner, MaxVersions: versions, MaxSize: size, MaxFileSize: depot.NoLimit,
		VersionsFrom: "LIMIT_TOTAL_OWNER_COUNT", SizeFrom: "LIMIT_TOTAL_OWNER_SIZE"}
}

func testQuotaAtCommit(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	p := MustCreateProject(t, s, alice.ID, "tools", "")
	for _, gl := range []*depot.Project{nil, p} {
		name := "gitea"
		if gl != nil {
			name = "gitlab"
		}
		t.Run(name, func(t *testing.T) {
			pkg := "size-" + name
			base, err := s.OwnerUsage(context.Background(), alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			q := quota("alice", depot.NoLimit, base.Bytes+10)
			if _, err := createWithQuota(s, NewFile(alice, pkg, "1", "a", "123456"), q, gl); err != nil {
				t.Fatalf("upload within quota: %v", err)
			}
			nf := NewFile(alice, pkg, "2", "b", "7890ab")
			committed, err := createWithQuota(s, nf, q, gl)
			wantErr(t, "upload over the size quota", err, depot.ErrQuotaTotalSize)
			wantErr(t, "upload over the size quota", err, depot.ErrForbidden)
			if committed {
				t.Error("commitBlob ran for an upload over the quota")
			}
			wantNoFile(t, s, nf)
			if _, err := s.VersionByName(context.Background(), alice.ID, depot.TypeGeneric, pkg, "2"); !errors.Is(err, depot.ErrNotFound) {
				t.Errorf("version of a refused upload: %v, want ErrNotFound", err)
			}
			wantUsage(t, s, alice.ID, depot.Usage{Versions: base.Versions + 1, Bytes: base.Bytes + 6})
			// Exactly up to the limit is allowed.
			if _, err := createWithQuota(s, NewFile(alice, pkg, "1", "c", "1234"), q, gl); err != nil {
				t.Fatalf("upload filling the quota exactly: %v", err)
			}

			// Versions: the count refuses a new version only.
			pkg = "count-" + name
			base, _ = s.OwnerUsage(context.Background(), alice.ID)
			q = quota("alice", base.Versions+1, depot.NoLimit)
			if _, err := createWithQuota(s, NewFile(alice, pkg, "1", "a", "x"), q, gl); err != nil {
				t.Fatalf("first version within quota: %v", err)
			}
			nf = NewFile(alice, pkg, "2", "a", "y")
			_, err = createWithQuota(s, nf, q, gl)
			wantErr(t, "version over the count", err, depot.ErrQuotaTotalCount)
			wantNoFile(t, s, nf)
			// A quota below the usage: new versions fail, files into an
			// existing version do not (Gitea checks the count only when a
			// version is created).
			q = quota("alice", 0, depot.NoLimit)
			if _, err := createWithQuota(s, NewFile(alice, pkg, "1", "b", "z"), q, gl); err != nil {
				t.Fatalf("file into an existing version over the count: %v", err)
			}
			_, err = createWithQuota(s, NewFile(alice, pkg, "3", "a", "w"), q, gl)
			wantErr(t, "new version with a quota of 0", err, depot.ErrQuotaTotalCount)
		})
	}
}

// testQuotaConcurrentSize races uploads of one owner against a size quota:
// exactly as many as fit succeed, whatever the interleaving. A store that
// checked usage outside the serialised part of its transaction would let
// more through (PostgreSQL without the owner's lock does).
func testQuotaConcurrentSize(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	p := MustCreateProject(t, s, alice.ID, "tools", "")
	const workers, fit, size = 24, 7, 10
	q := quota("alice", depot.NoLimit, fit*size)
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range workers {
		wg.Go(func() {
			<-start
			var gl *depot.Project
			if i%2 == 1 {
				gl = p
			}
			nf := NewFile(alice, fmt.Sprintf("pkg%d", i%3), fmt.Sprintf("v%d", i), "f", fmt.Sprintf("%010d", i))
			_, err := createWithQuota(s, nf, q, gl)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, depot.ErrQuotaTotalSize):
				refused.Add(1)
			default:
				t.Errorf("upload %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != fit || refused.Load() != workers-fit {
		t.Errorf("%d uploads succeeded and %d were refused, want %d and %d", ok.Load(), refused.Load(), fit, workers-fit)
	}
	wantUsage(t, s, alice.ID, depot.Usage{Versions: int64(ok.Load()), Bytes: int64(ok.Load()) * size})
}

// testQuotaConcurrentVersions races new versions, and files into an
// existing version, against a version count: exactly as many new versions
// as fit succeed, and every file into the existing version does.
func testQuotaConcurrentVersions(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	const workers, fit = 20, 4
	shared := MustCreateFile(t, s, NewFile(alice, "app", "shared", "first", "0"))
	q := quota("alice", fit, depot.NoLimit)
	var newOK, sharedOK atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range workers {
		wg.Go(func() {
			<-start
			version := fmt.Sprintf("v%d", i)
			if i%2 == 0 {
				version = "shared"
			}
			_, err := createWithQuota(s, NewFile(alice, "app", version, fmt.Sprintf("f%d", i), fmt.Sprint(i)), q, nil)
			switch {
			case err == nil && version == "shared":
				sharedOK.Add(1)
			case err == nil:
				newOK.Add(1)
			case !errors.Is(err, depot.ErrQuotaTotalCount) || version == "shared":
				t.Errorf("upload %d to version %s: %v", i, version, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if newOK.Load() != fit-1 || sharedOK.Load() != workers/2 {
		t.Errorf("%d new versions and %d files into an existing one succeeded, want %d and %d", newOK.Load(), sharedOK.Load(), fit-1, workers/2)
	}
	u, err := s.OwnerUsage(context.Background(), alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.Versions != fit {
		t.Errorf("%d versions after the race, want exactly %d", u.Versions, fit)
	}
	files, err := s.ListFiles(context.Background(), shared.VersionID)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != workers/2+1 {
		t.Errorf("version shared has %d files, want %d", len(files), workers/2+1)
	}
}

func testOwnerSettings(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	want := func(id int64, on bool, grace time.Duration) {
		t.Helper()
		got, err := s.OwnerSettings(ctx, id)
		if err != nil {
			t.Fatalf("OwnerSettings: %v", err)
		}
		if got.OwnerID != id || got.ImmutableVersions != on || got.ImmutableGrace != grace {
			t.Errorf("OwnerSettings(%d) = %+v, want immutable %v grace %v", id, got, on, grace)
		}
	}
	want(alice.ID, false, 0)
	if err := s.SetOwnerSettings(ctx, &depot.OwnerSettings{OwnerID: alice.ID, ImmutableVersions: true, ImmutableGrace: 90 * time.Second}); err != nil {
		t.Fatalf("SetOwnerSettings: %v", err)
	}
	want(alice.ID, true, 90*time.Second)
	want(bob.ID, false, 0)
	// Immutable with no grace is not the same as off.
	if err := s.SetOwnerSettings(ctx, &depot.OwnerSettings{OwnerID: alice.ID, ImmutableVersions: true}); err != nil {
		t.Fatal(err)
	}
	want(alice.ID, true, 0)
	if err := s.SetOwnerSettings(ctx, &depot.OwnerSettings{OwnerID: alice.ID}); err != nil {
		t.Fatal(err)
	}
	want(alice.ID, false, 0)
	wantErr(t, "SetOwnerSettings(missing owner)", s.SetOwnerSettings(ctx, &depot.OwnerSettings{OwnerID: 1 << 40, ImmutableVersions: true}), depot.ErrNotFound)
}
