package sqlrow

import (
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// HookCols are a webhooks row's columns, from webhooks h.
const HookCols = `h.id, COALESCE(h.owner_id, 0), h.name, h.url, h.content_type, h.secret, h.events, h.active, h.created_at, h.updated_at`

// Hook reads the HookCols of a hook.
func Hook(row Scanner) (*depot.Hook, error) {
	var h depot.Hook
	if err := scanHook(row, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

func scanHook(row Scanner, h *depot.Hook, extra ...any) error {
	var events string
	var created, updated int64
	dest := append([]any{&h.ID, &h.OwnerID, &h.Name, &h.URL, &h.ContentType, &h.Secret, &events, &h.Active, &created, &updated}, extra...)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	h.Events = HookEvents(events)
	h.CreatedAt, h.UpdatedAt = FromMicros(created), FromMicros(updated)
	return nil
}

// HookEvents splits a hook's stored events.
func HookEvents(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// DeliveryQuery selects deliveries with their hook and event; a store
// appends its WHERE clause.
const DeliveryQuery = `SELECT ` + HookCols + `,
	COALESCE(o.kind, ''), d.id, d.uuid, d.state, d.attempts, d.next_at, d.lease_until, d.created_at, d.body,
	e.id, e.action, e.owner_id, e.type, e.package, e.version, e.version_id, e.version_created_at, e.creator_id, e.sender_id, e.created_at
	FROM webhook_deliveries d JOIN webhooks h ON h.id = d.hook_id JOIN webhook_events e ON e.id = d.event_id
	LEFT JOIN owners o ON o.id = h.owner_id`

// Delivery reads a row of DeliveryQuery.
func Delivery(row Scanner) (*depot.Delivery, error) {
	var d depot.Delivery
	var next, lease, created, vCreated, eCreated int64
	e := &d.Event
	err := scanHook(row, &d.Hook,
		&d.HookOwnerKind, &d.ID, &d.UUID, &d.State, &d.Attempts, &next, &lease, &created, &d.Body,
		&e.ID, &e.Action, &e.OwnerID, &e.Type, &e.Package, &e.Version, &e.VersionID, &vCreated, &e.CreatorID, &e.SenderID, &eCreated)
	if err != nil {
		return nil, err
	}
	d.NextAt, d.Lease, d.CreatedAt = FromMicros(next), FromMicros(lease), FromMicros(created)
	e.VersionCreatedAt, e.CreatedAt = FromMicros(vCreated), FromMicros(eCreated)
	return &d, nil
}

// AttemptQuery selects attempts with their delivery's UUID and event
// action; a store appends its WHERE clause.
const AttemptQuery = `SELECT a.id, a.delivery_id, a.hook_id, d.uuid, e.action, a.started_at, a.duration_us, a.url,
	a.request_headers, a.request_body, a.status_code, a.response_headers, a.response_body, a.error, a.success
	FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id JOIN webhook_events e ON e.id = d.event_id`

// Attempt reads a row of AttemptQuery.
func Attempt(row Scanner) (*depot.DeliveryAttempt, error) {
	var a depot.DeliveryAttempt
	var started, dur int64
	err := row.Scan(&a.ID, &a.DeliveryID, &a.HookID, &a.UUID, &a.Action, &started, &dur, &a.URL,
		&a.RequestHeaders, &a.RequestBody, &a.StatusCode, &a.ResponseHeaders, &a.ResponseBody, &a.Error, &a.Success)
	if err != nil {
		return nil, err
	}
	a.StartedAt, a.Duration = FromMicros(started), time.Duration(dur)*time.Microsecond
	return &a, nil
}

// AttemptArgs are the values of a webhook_attempts insert, in the order
// delivery_id, hook_id, started_at, duration_us, url, request_headers,
// request_body, status_code, response_headers, response_body, error,
// success.
func AttemptArgs(d *depot.Delivery, a *depot.DeliveryAttempt) []any {
	return []any{d.ID, d.Hook.ID, a.StartedAt.UnixMicro(), a.Duration.Microseconds(), a.URL, a.RequestHeaders, a.RequestBody,
		a.StatusCode, a.ResponseHeaders, a.ResponseBody, a.Error, a.Success}
}

// EventArgs are the values of a webhook_events insert, in the order
// action, owner_id, type, package, version, version_id,
// version_created_at, creator_id, sender_id, created_at.
func EventArgs(ev depot.PackageEvent) []any {
	return []any{string(ev.Action), ev.OwnerID, string(ev.Type), ev.Package, ev.Version, ev.VersionID,
		ev.VersionCreatedAt.UnixMicro(), ev.CreatorID, ev.SenderID, ev.CreatedAt.UnixMicro()}
}

// Int64 reads a row of one integer column (an id, say).
func Int64(row Scanner) (int64, error) {
	var v int64
	err := row.Scan(&v)
	return v, err
}
