package postgres_test

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/postgres"
	"github.com/depot-registry/depot/internal/storetest"
	"github.com/depot-registry/depot/internal/testenv"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the test schemas
)

// MustSchema returns a URL of a new, empty schema on the test server,
// dropped when the test ends (see testenv.PostgresURL).
func MustSchema(tb testing.TB) string {
	tb.Helper()
	return testenv.PostgresURL(tb)
}

// MustOpen opens a store at dbURL and closes it when the test ends.
func MustOpen(tb testing.TB, dbURL string) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), dbURL)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) depot.Store {
		return MustOpen(t, MustSchema(t))
	})
}

// TestConcurrentOpen starts five stores on one new schema at once, as
// replicas starting together do: the advisory lock lets one migrate and the
// others find the work done. Reopening keeps the data.
func TestConcurrentOpen(t *testing.T) {
	ctx := context.Background()
	dbURL := MustSchema(t)
	const n = 5
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(ctx, dbURL)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
		}
	}
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Every migration, recorded once.
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var applied int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
		t.Fatalf("read goose_db_version: %v", err)
	}
	if applied != len(files) {
		t.Errorf("goose_db_version has %d applied migrations, want %d", applied, len(files))
	}

	// Every store works on the same data.
	alice := storetest.MustCreateUser(t, stores[0], "alice")
	nf := storetest.NewFile(alice, "tool", "1.0", "tool.bin", "content")
	storetest.MustCreateFile(t, stores[1], nf)
	for i, s := range stores {
		if _, err := s.FileByName(ctx, alice.ID, nf.Type, nf.Package, nf.Version, nf.File); err != nil {
			t.Errorf("store #%d: FileByName: %v", i, err)
		}
	}
	for _, s := range stores {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}

	// Migrations already applied are skipped; the data is still there.
	s := MustOpen(t, dbURL)
	u, err := s.UserByName(ctx, "ALICE")
	if err != nil || u.ID != alice.ID {
		t.Fatalf("after reopening: UserByName = %v, %v; want alice %d", u, err, alice.ID)
	}
	if _, err := s.FileByName(ctx, alice.ID, nf.Type, nf.Package, nf.Version, nf.File); err != nil {
		t.Errorf("after reopening: FileByName: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, url string
	}{
		{"other scheme", "mysql://depot:secret@127.0.0.1/depot"},
		{"no scheme", "host=127.0.0.1 user=depot password=secret"},
		{"bad port", "postgres://depot:secret@127.0.0.1:notaport/depot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := postgres.Open(ctx, tc.url)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}

	t.Run("missing schema", func(t *testing.T) {
		u, err := url.Parse(MustSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", "depot_test_does_not_exist")
		u.RawQuery = q.Encode()
		s, err := postgres.Open(ctx, u.String())
		if err == nil {
			s.Close()
			t.Fatal("Open succeeded")
		}
		if !strings.Contains(err.Error(), "search_path") {
			t.Errorf("error = %v, want it to name search_path", err)
		}
	})
}
