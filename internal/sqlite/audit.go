package sqlite

import (
	"context"
	"database/sql"
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
			if err := s.insertAudit(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// insertAuditQuery appends an audit event; prepared (stmts.insertAudit),
// since every upload runs it.
const insertAuditQuery = `INSERT INTO audit_events (at, actor_id, actor, addr, action, owner, target, detail)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`

// insertAudit appends e (nil: nothing) in tx and sets its ID.
func (s *Store) insertAudit(ctx context.Context, tx *sql.Tx, e *depot.AuditEvent) error {
	if e == nil {
		return nil
	}
	return tx.StmtContext(ctx, s.q.insertAudit).QueryRowContext(ctx, sqlrow.AuditArgs(e)...).Scan(&e.ID)
}

// ListAuditEvents implements depot.AuditStore.
func (s *Store) ListAuditEvents(ctx context.Context, q depot.AuditQuery) ([]*depot.AuditEvent, error) {
	query, args := sqlrow.AuditQuery(q, func(int) string { return "?" })
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.AuditEvent)
}

// PruneAuditEvents implements depot.AuditStore.
func (s *Store) PruneAuditEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_events WHERE id IN (
			SELECT id FROM audit_events WHERE at < ? ORDER BY at, id LIMIT ?)`, micros(before), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
