package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"testing"

	"github.com/pressly/goose/v3"
)

// migrateTo applies the embedded migrations to db up to version, as an
// older depot left it, and returns the provider to go further.
func migrateTo(tb testing.TB, db *sql.DB, version int64) *goose.Provider {
	tb.Helper()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		tb.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), version); err != nil {
		tb.Fatalf("migrate to %05d: %v", version, err)
	}
	return p
}

// mustExec runs each statement on db, failing the test on an error.
func mustExec(tb testing.TB, db *sql.DB, queries ...string) {
	tb.Helper()
	for _, q := range queries {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			tb.Fatal(fmt.Errorf("%s: %w", q, err))
		}
	}
}
