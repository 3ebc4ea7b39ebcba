package sqlrow

import (
	"strings"

	"github.com/depot-registry/depot/internal/depot"
)

// AuditCols are the columns of an audit event, in AuditEvent's order.
const AuditCols = `id, at, actor_id, actor, addr, action, owner, target, detail`

// AuditEvent reads the AuditCols of an audit event.
func AuditEvent(row Scanner) (*depot.AuditEvent, error) {
	var e depot.AuditEvent
	var at int64
	if err := row.Scan(&e.ID, &at, &e.ActorID, &e.Actor, &e.Addr, &e.Action, &e.Owner, &e.Target, &e.Detail); err != nil {
		return nil, err
	}
	e.Time = FromMicros(at)
	return &e, nil
}

// AuditArgs are the values of an event's columns but its id, for an
// INSERT of (at, actor_id, actor, addr, action, owner, target, detail).
func AuditArgs(e *depot.AuditEvent) []any {
	return []any{e.Time.UnixMicro(), e.ActorID, e.Actor, e.Addr, e.Action, e.Owner, e.Target, e.Detail}
}

// AuditQuery returns the SELECT of the events q selects, in both
// dialects: ph(n) is the dialect's nth placeholder (1-based). q's limit
// is set (depot.ValidateAuditQuery).
func AuditQuery(q depot.AuditQuery, ph func(n int) string) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, vs ...any) {
		for _, v := range vs {
			args = append(args, v)
			cond = strings.Replace(cond, "?", ph(len(args)), 1)
		}
		conds = append(conds, cond)
	}
	if q.Owner != "" {
		add(`lower(owner) = ?`, strings.ToLower(q.Owner))
	}
	if q.Actor != "" {
		add(`lower(actor) = ?`, strings.ToLower(q.Actor))
	}
	if q.Action != "" {
		if strings.Contains(q.Action, ".") {
			add(`action = ?`, q.Action)
		} else {
			// A family: the validated name holds no LIKE wildcard but _,
			// which is escaped.
			add(`(action = ? OR action LIKE ? ESCAPE '\')`, q.Action, strings.ReplaceAll(q.Action, "_", `\_`)+".%")
		}
	}
	if !q.Since.IsZero() {
		add(`at >= ?`, q.Since.UnixMicro())
	}
	if !q.Until.IsZero() {
		add(`at < ?`, q.Until.UnixMicro())
	}
	if q.Before > 0 {
		add(`id < ?`, q.Before)
	}
	if q.After > 0 {
		add(`id > ?`, q.After)
	}
	query := `SELECT ` + AuditCols + ` FROM audit_events`
	if len(conds) > 0 {
		query += ` WHERE ` + strings.Join(conds, ` AND `)
	}
	order := ` ORDER BY id DESC`
	if q.Oldest {
		order = ` ORDER BY id`
	}
	args = append(args, q.Limit)
	return query + order + ` LIMIT ` + ph(len(args)), args
}
