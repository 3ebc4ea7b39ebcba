package postgres

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/sqlrow"
)

// hooksOf selects the active hooks an owner's events go to: its own and
// the system hooks.
const hooksOf = ` FROM webhooks WHERE active AND (owner_id = $1 OR owner_id IS NULL)`

// newUUID is a random (version 4) UUID, evaluated per row.
const newUUID = `gen_random_uuid()::text`

// hasHooks reports whether an owner's events go to any hook.
func hasHooks(ctx context.Context, tx *sql.Tx, ownerID int64) (bool, error) {
	var hooks int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*)`+hooksOf, ownerID).Scan(&hooks)
	return hooks > 0, err
}

// recordEvent writes ev to the outbox in tx, with a pending delivery for
// each active hook it goes to (the caller checked there is one).
func recordEvent(ctx context.Context, tx *sql.Tx, ev depot.PackageEvent) error {
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO webhook_events (action, owner_id, type, package, version, version_id,
		version_created_at, creator_id, sender_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		sqlrow.EventArgs(ev)...).Scan(&id)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (hook_id, event_id, uuid, next_at, created_at)
		SELECT id, $2, `+newUUID+`, $3, $3`+hooksOf, ev.OwnerID, id, micros(ev.CreatedAt))
	return err
}

// recordCreated records a PackageCreated event when f is its version's
// first file.
func recordCreated(ctx context.Context, tx *sql.Tx, nf depot.NewFile, f *depot.File) error {
	if ok, err := hasHooks(ctx, tx, nf.OwnerID); err != nil || !ok {
		return err
	}
	var others bool
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM files WHERE version_id = $1 AND id <> $2)`, f.VersionID, f.ID).Scan(&others)
	if err != nil || others {
		return err
	}
	return recordEvent(ctx, tx, depot.PackageEvent{
		Action: depot.PackageCreated, OwnerID: nf.OwnerID, Type: nf.Type, Package: nf.Package, Version: nf.Version,
		VersionID: f.VersionID, VersionCreatedAt: nf.CreatedAt, CreatorID: nf.CreatorID, SenderID: nf.CreatorID, CreatedAt: nf.CreatedAt,
	})
}

// versionEvent reads what a PackageDeleted event of a version says,
// before the version is deleted.
func versionEvent(ctx context.Context, tx *sql.Tx, versionID, actorID int64) (depot.PackageEvent, error) {
	ev := depot.PackageEvent{Action: depot.PackageDeleted, VersionID: versionID, SenderID: actorID, CreatedAt: time.Now().UTC()}
	var created int64
	err := tx.QueryRowContext(ctx, `SELECT p.owner_id, p.type, p.name, v.version, v.created_at, v.creator_id
		FROM versions v JOIN packages p ON p.id = v.package_id WHERE v.id = $1`, versionID).
		Scan(&ev.OwnerID, &ev.Type, &ev.Package, &ev.Version, &created, &ev.CreatorID)
	ev.VersionCreatedAt = fromMicros(created)
	return ev, err
}

// recordDeleted records ev when its version no longer exists in tx.
func recordDeleted(ctx context.Context, tx *sql.Tx, ev depot.PackageEvent) error {
	if ok, err := hasHooks(ctx, tx, ev.OwnerID); err != nil || !ok {
		return err
	}
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM versions WHERE id = $1)`, ev.VersionID).Scan(&exists); err != nil || exists {
		return err
	}
	return recordEvent(ctx, tx, ev)
}

// CreateHook implements depot.HookStore.
func (s *Store) CreateHook(ctx context.Context, h *depot.Hook) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO webhooks (owner_id, name, url, content_type, secret, events, active, created_at, updated_at)
			VALUES (NULLIF($1, 0), $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			h.OwnerID, h.Name, h.URL, h.ContentType, h.Secret, strings.Join(h.Events, ","), h.Active, micros(h.CreatedAt), micros(h.UpdatedAt)).Scan(&h.ID)
	})
}

// HookByID implements depot.HookStore.
func (s *Store) HookByID(ctx context.Context, id int64) (*depot.Hook, error) {
	h, err := sqlrow.Hook(s.db.QueryRowContext(ctx, `SELECT `+sqlrow.HookCols+` FROM webhooks h WHERE h.id = $1`, id))
	return h, translate(err)
}

// ListHooks implements depot.HookStore.
func (s *Store) ListHooks(ctx context.Context, ownerID int64) ([]*depot.Hook, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sqlrow.HookCols+` FROM webhooks h WHERE COALESCE(h.owner_id, 0) = $1 ORDER BY h.id`, ownerID)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.Hook)
}

// UpdateHook implements depot.HookStore.
func (s *Store) UpdateHook(ctx context.Context, h *depot.Hook) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET name = $1, url = $2, content_type = $3, secret = $4, events = $5, active = $6, updated_at = $7 WHERE id = $8`,
			h.Name, h.URL, h.ContentType, h.Secret, strings.Join(h.Events, ","), h.Active, micros(h.UpdatedAt), h.ID)
		return sqlrow.Affected(res, err)
	})
}

// DeleteHook implements depot.HookStore.
func (s *Store) DeleteHook(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
		return sqlrow.Affected(res, err)
	})
}

// ClaimDeliveries implements depot.HookStore. Replicas claim side by side:
// FOR UPDATE SKIP LOCKED passes over the rows another claimer is taking,
// and the lease keeps them away until it expires.
func (s *Store) ClaimDeliveries(ctx context.Context, now, lease time.Time, limit int) ([]*depot.Delivery, error) {
	var out []*depot.Delivery
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE webhook_deliveries SET lease_until = $1, attempts = attempts + 1
			WHERE id IN (SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_at <= $2 AND lease_until <= $2
				ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id`, micros(lease), micros(now), limit)
		if err != nil {
			return err
		}
		ids, err := sqlrow.All(rows, sqlrow.Int64)
		if err != nil || len(ids) == 0 {
			return err
		}
		rows, err = tx.QueryContext(ctx, sqlrow.DeliveryQuery+` WHERE d.id = ANY($1) ORDER BY d.next_at, d.id`, ids)
		if err != nil {
			return err
		}
		out, err = sqlrow.All(rows, sqlrow.Delivery)
		return err
	})
	return out, err
}

// FinishDelivery implements depot.HookStore.
func (s *Store) FinishDelivery(ctx context.Context, d *depot.Delivery, a *depot.DeliveryAttempt) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = $1, next_at = $2, body = $3, lease_until = 0
			WHERE id = $4 AND lease_until = $5`, d.State, micros(d.NextAt), d.Body, d.ID, micros(d.Lease))
		if err := sqlrow.Affected(res, err); err != nil {
			if err == depot.ErrNotFound {
				return depot.ErrConflict
			}
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, hook_id, started_at, duration_us, url, request_headers,
			request_body, status_code, response_headers, response_body, error, success) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			sqlrow.AttemptArgs(d, a)...)
		return err
	})
}

// ListDeliveryAttempts implements depot.HookStore.
func (s *Store) ListDeliveryAttempts(ctx context.Context, hookID int64, limit int) ([]*depot.DeliveryAttempt, error) {
	rows, err := s.db.QueryContext(ctx, sqlrow.AttemptQuery+` WHERE a.hook_id = $1 ORDER BY a.id DESC LIMIT $2`, hookID, limit)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.Attempt)
}

// Redeliver implements depot.HookStore.
func (s *Store) Redeliver(ctx context.Context, hookID, deliveryID int64, now time.Time) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO webhook_deliveries (hook_id, event_id, uuid, next_at, body, created_at)
			SELECT hook_id, event_id, `+newUUID+`, $1, body, $1 FROM webhook_deliveries WHERE id = $2 AND hook_id = $3 RETURNING id`,
			micros(now), deliveryID, hookID).Scan(&id)
	})
	return id, err
}

// PruneDeliveries implements depot.HookStore.
func (s *Store) PruneDeliveries(ctx context.Context, keep int) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE state <> 'pending' AND id NOT IN (
			SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY hook_id ORDER BY id DESC) AS n
				FROM webhook_deliveries WHERE state <> 'pending') kept WHERE n <= $1)`, keep)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)`)
		return err
	})
	return n, err
}
