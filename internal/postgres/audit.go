package postgres

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// InsertAuditEvents implements depot.AuditStore.
func (s *Store) InsertAuditEvents(ctx context.Context, evs []*depot.AuditEvent) error {
	if len(evs) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, e := range evs {
			if err := insertAudit(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// insertAudit appends e (nil: nothing) in tx and sets its ID.
func insertAudit(ctx context.Context, tx *sql.Tx, e *depot.AuditEvent) error {
	if e == nil {
		return nil
	}
	return tx.QueryRowContext(ctx, `INSERT INTO audit_events (at, actor_id, actor, addr, action, owner, target, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, sqlrow.AuditArgs(e)...).Scan(&e.ID)
}

// ListAuditEvents implements depot.AuditStore.
func (s *Store) ListAuditEvents(ctx context.Context, q depot.AuditQuery) ([]*depot.AuditEvent, error) {
	query, args := sqlrow.AuditQuery(q, func(n int) string { return "$" + strconv.Itoa(n) })
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.AuditEvent)
}

// PruneAuditEvents implements depot.AuditStore. Replicas pruning at once
// delete disjoint or identical rows: either way each row goes once.
func (s *Store) PruneAuditEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM audit_events WHERE id IN (
		SELECT id FROM audit_events WHERE at < $1 ORDER BY at, id LIMIT $2)`, micros(before), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
