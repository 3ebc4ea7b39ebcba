package httpsuite

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// auditEvent is an event of the audit API, as much of it as the suite
// checks.
type auditEvent struct {
	ID     int64           `json:"id"`
	Actor  string          `json:"actor"`
	Addr   string          `json:"addr"`
	Action string          `json:"action"`
	Owner  string          `json:"owner"`
	Target string          `json:"target"`
	Detail json.RawMessage `json:"detail"`
}

func (fx *fixture) auditEvents(t *testing.T, path string, a auth) []auditEvent {
	t.Helper()
	_, body := fx.mustStatus(t, http.StatusOK, http.MethodGet, path, a, nil)
	var page struct {
		Events []auditEvent `json:"events"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
	return page.Events
}

// testAudit covers the audit log end to end: an upload and a delete with a
// token, and failed Basic sign-ins, come back from the site API (site
// admins only) and the owner's API (its admins only) with the actor, the
// target and the peer's address: without trusted proxies a client's
// X-Forwarded-For is ignored.
func (fx *fixture) testAudit(t *testing.T) {
	ctx := context.Background()
	svc := fx.env.Service
	if _, err := svc.CreateUser(ctx, depot.NewUser{Username: "auser", Email: "auser@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	secret, _, err := svc.CreateToken(ctx, "auser", "ci", depot.Scopes{depot.ScopeWritePackage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := basic("auser", secret)
	spoof := []string{"X-Forwarded-For", "203.0.113.1"}
	fx.mustStatus(t, http.StatusCreated, http.MethodPut, pkgPath("auser", "app", "1.0", "app.tgz"), tok, []byte("app"), spoof...)
	fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, pkgPath("auser", "app", "1.0", "app.tgz"), tok, nil, spoof...)
	for range 2 {
		fx.mustStatus(t, http.StatusUnauthorized, http.MethodGet, "/api/v1/user", basic("auser", "not-the-password"), nil, spoof...)
	}

	root := basic("root", pw)
	evs := fx.auditEvents(t, "/api/depot/audit?owner=auser&order=oldest", root)
	var got []string
	for _, e := range evs {
		got = append(got, e.Action+" "+e.Target)
		if e.Action == depot.AuditFileUpload || e.Action == depot.AuditFileDelete || e.Action == depot.AuditVersionDelete {
			if e.Actor != "auser" || e.Addr != "127.0.0.1" {
				t.Errorf("%s by %q from %q, want auser from 127.0.0.1 (the peer, not X-Forwarded-For)", e.Action, e.Actor, e.Addr)
			}
		}
	}
	want := []string{"user.create auser", "token.create ci", "file.upload generic/app/1.0/app.tgz", "file.delete generic/app/1.0/app.tgz"}
	if len(got) != len(want) {
		t.Fatalf("auser's events %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %q, want %q", i, got[i], want[i])
		}
	}
	// Failed sign-ins are written in batches, once a second: the two
	// attempts are one event, or two when a flush fell between them.
	var failed []auditEvent
	attempts := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		failed = fx.auditEvents(t, "/api/depot/audit?actor=auser&action=signin.failed", root)
		attempts = 0
		for _, e := range failed {
			var detail struct {
				Attempts int    `json:"attempts"`
				Via      string `json:"via"`
			}
			_ = json.Unmarshal(e.Detail, &detail)
			if e.Addr != "127.0.0.1" || detail.Via != "basic" || detail.Attempts < 1 {
				t.Fatalf("failed sign-in event %+v (detail %s), want basic attempts from 127.0.0.1", e, e.Detail)
			}
			attempts += detail.Attempts
		}
		if attempts >= 2 {
			break
		}
	}
	if attempts != 2 || len(failed) > 2 {
		t.Errorf("failed sign-ins: %d attempts in %+v, want 2 basic attempts from 127.0.0.1 in one or two events", attempts, failed)
	}

	// The owner reads its own log; others may not.
	own := fx.auditEvents(t, "/api/depot/owners/auser/audit?action=file", basic("auser", pw))
	if len(own) != 2 || own[0].Action != depot.AuditFileDelete {
		t.Errorf("auser's file events, newest first: %+v", own)
	}
	for _, c := range []struct {
		path string
		a    auth
		want int
	}{
		{"/api/depot/audit", anon(), http.StatusUnauthorized},
		{"/api/depot/audit", basic("alice", pw), http.StatusForbidden},
		{"/api/depot/owners/auser/audit", basic("alice", pw), http.StatusForbidden},
		{"/api/depot/owners/auser/audit", tok, http.StatusForbidden}, // a write:package token is no read:user
		{"/api/depot/owners/nobody-here/audit", root, http.StatusNotFound},
		{"/api/depot/audit?limit=0", root, http.StatusBadRequest},
		{"/api/depot/audit?order=sideways", root, http.StatusBadRequest},
		{"/api/depot/audit?before=x", root, http.StatusBadRequest},
		{"/api/depot/owners/auser/audit?owner=alice", basic("auser", pw), http.StatusBadRequest},
	} {
		if resp, body := fx.do(t, http.MethodGet, c.path, c.a, nil); resp.StatusCode != c.want {
			t.Errorf("GET %s: %d, want %d: %s", c.path, resp.StatusCode, c.want, body)
		}
	}
}
