package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// authChannel is the PostgreSQL notification channel on which writes that
// authentication depends on (a token deleted, a user's flags changed) are
// announced. The payload is the schema, so installations sharing a
// database in different schemas ignore each other.
const authChannel = "depot_auth"

var _ depot.AuthWatcher = (*Store)(nil)

// notifyAuth announces, when tx commits (PostgreSQL delivers notifications
// at commit and drops them on rollback), that authentication data changed.
func notifyAuth(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_notify('`+authChannel+`', current_schema())`); err != nil {
		return fmt.Errorf("notify %s: %w", authChannel, err)
	}
	return nil
}

// WatchAuth implements depot.AuthWatcher with LISTEN on a connection of its
// own (not one of the pool's, so that Close never waits for it).
func (s *Store) WatchAuth(ctx context.Context, changed func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("postgres: watch authentication changes: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var schema string
	if err = conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err == nil {
		_, err = conn.Exec(ctx, `LISTEN `+authChannel)
	}
	for err == nil {
		var n *pgconn.Notification
		if n, err = conn.WaitForNotification(ctx); err == nil && n.Payload == schema {
			changed()
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("postgres: watch authentication changes: %w", err)
}
