package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// auditPageSize is how many events a page of the audit log shows.
const auditPageSize = 50

// auditData is the audit log page: the whole log for site admins
// (/-/admin/audit), one owner's for its admins (/{owner}/-/audit).
type auditData struct {
	// Owner is "" for the whole log.
	Owner  string
	Base   string
	Events []*depot.AuditEvent
	// Filters as typed.
	FOwner, FActor, FAction, FSince string
	// Older is the query of the next page, "" for none.
	Older   string
	Actions []string
	Error   string
}

// auditActions are the action filter's choices: the families, then every
// action.
var auditActions = []string{"file", "version", "package", "token", "project_token", "publisher", "member", "user", "org",
	"hook", "signin", depot.AuditFileUpload, depot.AuditFileDelete, depot.AuditVersionDelete, depot.AuditPackageDelete,
	depot.AuditTokenCreate, depot.AuditTokenRevoke, depot.AuditMemberSet, depot.AuditMemberRemove, depot.AuditSignIn,
	depot.AuditSignInFailed, depot.AuditSettingsSet, depot.AuditQuotaSet, depot.AuditPackageSettingsSet}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request, a *depot.Actor) error {
	if requireSignIn(w, r, a) {
		return nil
	}
	v := r.URL.Query()
	d := auditData{Owner: r.PathValue("owner"), FOwner: strings.TrimSpace(v.Get("owner")), FActor: strings.TrimSpace(v.Get("actor")),
		FAction: v.Get("action"), FSince: strings.TrimSpace(v.Get("since")), Actions: auditActions}
	d.Base = "/-/admin/audit"
	if d.Owner != "" {
		d.Base = "/" + url.PathEscape(d.Owner) + "/-/audit"
		d.FOwner = ""
	} else {
		fromContext(r).nav = "admin"
	}
	q := depot.AuditQuery{Owner: d.FOwner, Actor: d.FActor, Action: d.FAction, Limit: auditPageSize}
	status := http.StatusOK
	var err error
	if q.Since, err = depot.ParseAuditTime(d.FSince, time.Now()); err != nil {
		d.Error, status = depot.ErrorMessage(err), http.StatusBadRequest
	}
	if b := v.Get("before"); b != "" {
		if q.Before, err = strconv.ParseInt(b, 10, 64); err != nil || q.Before < 0 {
			d.Error, status = "before: not an event id", http.StatusBadRequest
		}
	}
	if d.Error == "" {
		if d.Owner == "" {
			d.Events, err = h.svc.AuditLog(r.Context(), a, q)
		} else {
			d.Events, err = h.svc.OwnerAuditLog(r.Context(), a, d.Owner, q)
		}
		if errors.Is(err, depot.ErrInvalid) {
			d.Error, status, err = depot.ErrorMessage(err), http.StatusBadRequest, nil
		}
		if err != nil {
			return err
		}
	}
	if len(d.Events) == auditPageSize {
		older := url.Values{}
		for k, name := range map[string]string{"owner": d.FOwner, "actor": d.FActor, "action": d.FAction, "since": d.FSince} {
			if name != "" {
				older.Set(k, name)
			}
		}
		older.Set("before", strconv.FormatInt(d.Events[len(d.Events)-1].ID, 10))
		d.Older = older.Encode()
	}
	title := "Audit log"
	if d.Owner != "" {
		title = d.Owner + " audit log"
	}
	return h.render(w, r, status, "audit", title, d)
}
