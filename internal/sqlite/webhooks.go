package sqlite

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
const hooksOf = ` FROM webhooks WHERE active = 1 AND (owner_id = ? OR owner_id IS NULL)`

// newUUID is a random (version 4) UUID, evaluated per row.
const newUUID = `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
	substr('89ab', 1 + abs(random()) % 4, 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`

// hasHooks reports whether an owner's events go to any hook, through a
// statement prepared once (it runs in every upload that creates a version).
func (s *Store) hasHooks(ctx context.Context, tx *sql.Tx, ownerID int64) (bool, error) {
	var hooks int
	err := tx.StmtContext(ctx, s.q.countHooks).QueryRowContext(quick(ctx), ownerID).Scan(&hooks)
	return hooks > 0, err
}

// recordEvent writes ev to the outbox in tx, with a pending delivery for
// each active hook it goes to (the caller checked there is one).
func (s *Store) recordEvent(ctx context.Context, tx *sql.Tx, ev depot.PackageEvent) error {
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO webhook_events (action, owner_id, type, package, version, version_id,
		version_created_at, creator_id, sender_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		sqlrow.EventArgs(ev)...).Scan(&id)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (hook_id, event_id, uuid, next_at, created_at)
		SELECT id, ?, `+newUUID+`, ?, ?`+hooksOf, id, micros(ev.CreatedAt), micros(ev.CreatedAt), ev.OwnerID)
	return err
}

// recordCreated records a PackageCreated event when f is its version's
// first file.
func (s *Store) recordCreated(ctx context.Context, tx *sql.Tx, nf depot.NewFile, f *depot.File) error {
	if ok, err := s.hasHooks(ctx, tx, nf.OwnerID); err != nil || !ok {
		return err
	}
	var others bool
	err := tx.QueryRowContext(quick(ctx), `SELECT EXISTS (SELECT 1 FROM files WHERE version_id = ? AND id <> ?)`, f.VersionID, f.ID).Scan(&others)
	if err != nil || others {
		return err
	}
	return s.recordEvent(ctx, tx, depot.PackageEvent{
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
		FROM versions v JOIN packages p ON p.id = v.package_id WHERE v.id = ?`, versionID).
		Scan(&ev.OwnerID, &ev.Type, &ev.Package, &ev.Version, &created, &ev.CreatorID)
	ev.VersionCreatedAt = fromMicros(created)
	return ev, err
}

// recordDeleted records ev when its version no longer exists in tx.
func (s *Store) recordDeleted(ctx context.Context, tx *sql.Tx, ev depot.PackageEvent) error {
	if ok, err := s.hasHooks(ctx, tx, ev.OwnerID); err != nil || !ok {
		return err
	}
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM versions WHERE id = ?)`, ev.VersionID).Scan(&exists); err != nil || exists {
		return err
	}
	return s.recordEvent(ctx, tx, ev)
}

// CreateHook implements depot.HookStore.
func (s *Store) CreateHook(ctx context.Context, h *depot.Hook) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO webhooks (owner_id, name, url, content_type, secret, events, active, created_at, updated_at)
			VALUES (NULLIF(?, 0), ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			h.OwnerID, h.Name, h.URL, h.ContentType, h.Secret, strings.Join(h.Events, ","), h.Active, micros(h.CreatedAt), micros(h.UpdatedAt)).Scan(&h.ID)
	})
}

// HookByID implements depot.HookStore.
func (s *Store) HookByID(ctx context.Context, id int64) (*depot.Hook, error) {
	h, err := sqlrow.Hook(s.r.QueryRowContext(ctx, `SELECT `+sqlrow.HookCols+` FROM webhooks h WHERE h.id = ?`, id))
	return h, translate(err)
}

// ListHooks implements depot.HookStore.
func (s *Store) ListHooks(ctx context.Context, ownerID int64) ([]*depot.Hook, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqlrow.HookCols+` FROM webhooks h WHERE COALESCE(h.owner_id, 0) = ? ORDER BY h.id`, ownerID)
	if err != nil {
		return nil, err
	}
	return sqlrow.All(rows, sqlrow.Hook)
}

// UpdateHook implements depot.HookStore.
func (s *Store) UpdateHook(ctx context.Context, h *depot.Hook) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET name = ?, url = ?, content_type = ?, secret = ?, events = ?, active = ?, updated_at = ? WHERE id = ?`,
			h.Name, h.URL, h.ContentType, h.Secret, strings.Join(h.Events, ","), h.Active, micros(h.UpdatedAt), h.ID)
		return sqlrow.Affected(res, err)
	})
}

// DeleteHook implements depot.HookStore.
func (s *Store) DeleteHook(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
		return sqlrow.Affected(res, err)
	})
}

// ClaimDeliveries implements depot.HookStore. SQLite's single writer
// serialises claimers, in this process and others.
func (s *Store) ClaimDeliveries(ctx context.Context, now, lease time.Time, limit int) ([]*depot.Delivery, error) {
	var out []*depot.Delivery
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE webhook_deliveries SET lease_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_at <= ? AND lease_until <= ?
				ORDER BY next_at, id LIMIT ?) RETURNING id`, micros(lease), micros(now), micros(now), limit)
		if err != nil {
			return err
		}
		ids, err := sqlrow.All(rows, sqlrow.Int64)
		if err != nil || len(ids) == 0 {
			return err
		}
		rows, err = tx.QueryContext(ctx, sqlrow.DeliveryQuery+` WHERE d.id IN (`+placeholders(len(ids))+`) ORDER BY d.next_at, d.id`, anys(ids)...)
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
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = ?, next_at = ?, body = ?, lease_until = 0
			WHERE id = ? AND lease_until = ?`, d.State, micros(d.NextAt), d.Body, d.ID, micros(d.Lease))
		if err := sqlrow.Affected(res, err); err != nil {
			if err == depot.ErrNotFound {
				return depot.ErrConflict
			}
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, hook_id, started_at, duration_us, url, request_headers,
			request_body, status_code, response_headers, response_body, error, success) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			sqlrow.AttemptArgs(d, a)...)
		return err
	})
}

// ListDeliveryAttempts implements depot.HookStore.
func (s *Store) ListDeliveryAttempts(ctx context.Context, hookID int64, limit int) ([]*depot.DeliveryAttempt, error) {
	rows, err := s.r.QueryContext(ctx, sqlrow.AttemptQuery+` WHERE a.hook_id = ? ORDER BY a.id DESC LIMIT ?`, hookID, limit)
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
			SELECT hook_id, event_id, `+newUUID+`, ?, body, ? FROM webhook_deliveries WHERE id = ? AND hook_id = ? RETURNING id`,
			micros(now), micros(now), deliveryID, hookID).Scan(&id)
	})
	return id, err
}

// PruneDeliveries implements depot.HookStore.
func (s *Store) PruneDeliveries(ctx context.Context, keep int) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE state <> 'pending' AND id NOT IN (
			SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY hook_id ORDER BY id DESC) AS n
				FROM webhook_deliveries WHERE state <> 'pending') kept WHERE n <= ?)`, keep)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)`)
		return err
	})
	return n, err
}

// placeholders returns n comma-separated ?s.
func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func anys[T any](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}
