// The audit log.

package depotapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
)

// AuditEvent is one event of GET .../audit, and one line of `depot admin
// audit`.
type AuditEvent struct {
	ID      int64           `json:"id"`
	Time    time.Time       `json:"time"`
	ActorID int64           `json:"actor_id"`
	Actor   string          `json:"actor"`
	Addr    string          `json:"addr"`
	Action  string          `json:"action"`
	Owner   string          `json:"owner"`
	Target  string          `json:"target"`
	Detail  json.RawMessage `json:"detail"`
}

// AuditPage is the body of GET .../audit: a page of events and, when more
// may follow, the query of the next page.
type AuditPage struct {
	Events []AuditEvent `json:"events"`
	Next   string       `json:"next,omitempty"`
}

// AuditEventOf converts an event; its detail is always a JSON object.
func AuditEventOf(e *depot.AuditEvent) AuditEvent {
	d := json.RawMessage(e.Detail)
	if e.Detail == "" || !json.Valid(d) {
		d = json.RawMessage(`{}`)
	}
	return AuditEvent{ID: e.ID, Time: e.Time.UTC(), ActorID: e.ActorID, Actor: e.Actor, Addr: e.Addr, Action: e.Action,
		Owner: e.Owner, Target: e.Target, Detail: d}
}

// ParseAuditQuery reads the filters of an audit query: owner, actor,
// action (an action or a family such as "token"), since and until (an
// RFC 3339 time, a date YYYY-MM-DD, or an age such as 36h or 7d before
// now), before and after (event IDs, for paging), limit, and order
// (newest, the default, or oldest). ErrInvalid naming the parameter.
func ParseAuditQuery(v url.Values, now time.Time) (depot.AuditQuery, error) {
	q := depot.AuditQuery{Owner: v.Get("owner"), Actor: v.Get("actor"), Action: v.Get("action")}
	var err error
	if q.Since, err = depot.ParseAuditTime(v.Get("since"), now); err != nil {
		return q, depot.Errorf(depot.ErrInvalid, "since: %v", err)
	}
	if q.Until, err = depot.ParseAuditTime(v.Get("until"), now); err != nil {
		return q, depot.Errorf(depot.ErrInvalid, "until: %v", err)
	}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"before", &q.Before}, {"after", &q.After}} {
		if s := v.Get(p.name); s != "" {
			if *p.dst, err = strconv.ParseInt(s, 10, 64); err != nil || *p.dst < 0 {
				return q, depot.Errorf(depot.ErrInvalid, "%s: %q is not an event id", p.name, s)
			}
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return q, depot.Errorf(depot.ErrInvalid, "limit: %q is not a positive number", s)
		}
		q.Limit = n
	}
	switch v.Get("order") {
	case "", "newest":
	case "oldest":
		q.Oldest = true
	default:
		return q, depot.Errorf(depot.ErrInvalid, "order: %q is neither newest nor oldest", v.Get("order"))
	}
	return q, depot.ValidateAuditQuery(&q)
}

// NextAuditQuery returns the query of the page after evs, "" when evs
// is not a full page.
func NextAuditQuery(v url.Values, q depot.AuditQuery, evs []*depot.AuditEvent) string {
	if len(evs) < q.Limit || len(evs) == 0 {
		return ""
	}
	next := url.Values{}
	for k, vs := range v {
		next[k] = vs
	}
	last := strconv.FormatInt(evs[len(evs)-1].ID, 10)
	if q.Oldest {
		next.Set("after", last)
	} else {
		next.Set("before", last)
	}
	return next.Encode()
}

func (h *Handler) auditPage(w http.ResponseWriter, r *http.Request, list func(q depot.AuditQuery) ([]*depot.AuditEvent, error)) error {
	v := r.URL.Query()
	q, err := ParseAuditQuery(v, time.Now())
	if err != nil {
		return err
	}
	evs, err := list(q)
	if err != nil {
		return err
	}
	page := AuditPage{Events: make([]AuditEvent, len(evs)), Next: NextAuditQuery(v, q, evs)}
	for i, e := range evs {
		page.Events[i] = AuditEventOf(e)
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
	return nil
}

func (h *Handler) siteAudit(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	return h.auditPage(w, r, func(q depot.AuditQuery) ([]*depot.AuditEvent, error) {
		return h.svc.AuditLog(r.Context(), a, q)
	})
}

func (h *Handler) ownerAudit(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if r.URL.Query().Has("owner") {
		return depot.Errorf(depot.ErrInvalid, "owner: this route is one owner's log; use /api/depot/audit to filter by owner")
	}
	return h.auditPage(w, r, func(q depot.AuditQuery) ([]*depot.AuditEvent, error) {
		return h.svc.OwnerAuditLog(r.Context(), a, r.PathValue("owner"), q)
	})
}
