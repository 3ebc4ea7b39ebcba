package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlite"
)

// benchEnv is a store holding a user, a token and 1,000 files, and a
// service over it without blob storage: enough for the metadata side of a
// download.
type benchEnv struct {
	store *sqlite.Store
	token string
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	ctx := context.Background()
	st := MustOpen(b, filepath.Join(b.TempDir(), "depot.db"))
	svc := depot.NewService(st, nil, plainPasswords{}, nil)
	if _, err := svc.CreateUser(ctx, depot.NewUser{Username: "bench", Email: "b@example.com", Password: "bench-password"}); err != nil {
		b.Fatal(err)
	}
	token, _, err := svc.CreateToken(ctx, "bench", "ci", depot.Scopes{depot.ScopeWritePackage}, nil)
	if err != nil {
		b.Fatal(err)
	}
	owner, err := st.OwnerByName(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	for i := range 1000 {
		sha := fmt.Sprintf("%064x", i)
		_, err := st.CreateFile(ctx, depot.NewFile{OwnerID: owner.ID, Type: depot.TypeGeneric, Package: fmt.Sprintf("pkg%d", i%100),
			Version: fmt.Sprintf("1.%d", i/100), File: "f.bin", CreatorID: owner.ID, CreatedAt: now,
			Blob: depot.Blob{SHA256: sha, MD5: strings.Repeat("0", 32), SHA1: strings.Repeat("0", 40), SHA512: strings.Repeat("0", 128), Size: 1024, CreatedAt: now}},
			func(context.Context) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	return &benchEnv{store: st, token: token}
}

// BenchmarkDownloadLookup is the metadata work of a download: the token,
// the owner and access, and the file with its blob record (Service.FileLink
// does exactly what OpenFile does before it opens the blob).
func BenchmarkDownloadLookup(b *testing.B) {
	env := newBenchEnv(b)
	ref := depot.FileRef{Owner: "bench", Type: depot.TypeGeneric, Package: "pkg42", Version: "1.4", File: "f.bin"}
	for _, c := range []struct {
		name string
		ttl  time.Duration
	}{{"token-cached", 0}, {"token-uncached", -1}} {
		b.Run(c.name, func(b *testing.B) {
			svc := depot.NewService(env.store, nil, plainPasswords{}, &depot.Options{TokenCacheTTL: c.ttl})
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					a, err := svc.Authenticate(ctx, depot.Credentials{Token: env.token})
					if err != nil {
						b.Fatal(err)
					}
					if _, _, err := svc.FileLink(ctx, a, ref); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkAuthenticateToken is token verification alone, with the cache
// (a hit) and without (two queries and a constant-time compare).
func BenchmarkAuthenticateToken(b *testing.B) {
	env := newBenchEnv(b)
	for _, c := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(c.name, func(b *testing.B) {
			svc := depot.NewService(env.store, nil, plainPasswords{}, &depot.Options{TokenCacheTTL: c.ttl})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Authenticate(ctx, depot.Credentials{Token: env.token}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFileByName is the store's file lookup alone, the one query a
// download cannot avoid.
func BenchmarkFileByName(b *testing.B) {
	env := newBenchEnv(b)
	ctx := context.Background()
	owner, err := env.store.OwnerByName(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.store.FileByName(ctx, owner.ID, depot.TypeGeneric, "pkg42", "1.4", "f.bin"); err != nil {
			b.Fatal(err)
		}
	}
}

// plainPasswords is a PasswordHasher that does not hash: the benchmarks
// never check a password.
type plainPasswords struct{}

func (plainPasswords) Hash(p string) (string, error) { return p, nil }
func (plainPasswords) Verify(hash, p string) error {
	if hash != p {
		return depot.ErrUnauthenticated
	}
	return nil
}

// BenchmarkCreateFileNewVersion records files that each create a version,
// one at a time (no group commit), with no hooks.
func BenchmarkCreateFileNewVersion(b *testing.B) {
	ctx := context.Background()
	st := MustOpen(b, filepath.Join(b.TempDir(), "depot.db"))
	svc := depot.NewService(st, nil, plainPasswords{}, nil)
	if _, err := svc.CreateUser(ctx, depot.NewUser{Username: "bench", Email: "b@example.com", Password: "bench-password"}); err != nil {
		b.Fatal(err)
	}
	owner, _ := st.OwnerByName(ctx, "bench")
	now := time.Now().UTC()
	b.ResetTimer()
	for i := range b.N {
		sha := fmt.Sprintf("%064x", i)
		_, err := st.CreateFile(ctx, depot.NewFile{OwnerID: owner.ID, Type: depot.TypeGeneric, Package: fmt.Sprintf("pkg%d", i%100),
			Version: fmt.Sprintf("1.%d", i), File: "f.bin", CreatorID: owner.ID, CreatedAt: now,
			Blob: depot.Blob{SHA256: sha, MD5: strings.Repeat("0", 32), SHA1: strings.Repeat("0", 40), SHA512: strings.Repeat("0", 128), Size: 1024, CreatedAt: now}},
			func(context.Context) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
}
