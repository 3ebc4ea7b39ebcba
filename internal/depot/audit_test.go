package depot

import (
	"context"
	"testing"
	"time"
)

// recordingAuditor keeps what it is given.
type recordingAuditor struct{ evs []AuditEvent }

func (r *recordingAuditor) Record(_ context.Context, ev AuditEvent) { r.evs = append(r.evs, ev) }

func TestAuditActor(t *testing.T) {
	alice := &Actor{User: &User{Owner: Owner{ID: 7, Name: "alice"}}}
	standIn := &Actor{User: &User{Owner: Owner{Name: "depot-admin-cli"}, IsAdmin: true}}
	pub := &Actor{User: &User{}, Publisher: &PublisherGrant{Exchange: &PublisherExchange{PublisherID: 5, Repository: "acme/tool", Subject: "repo:acme/tool:ref:main"}}}
	deploy := &Actor{User: &User{Owner: Owner{Name: "gitlab+deploy-token-4"}}, ProjectToken: &ProjectToken{ID: 4, Kind: KindDeployToken, Name: "ci"}}
	bg := context.Background()
	rule := WithAuditActor(bg, "cleanup rule 3")
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		a      *Actor
		wantID int64
		want   string
	}{
		{"user", bg, alice, 7, "alice"},
		{"user wins over a system actor", rule, alice, 7, "alice"},
		{"nobody", bg, nil, 0, "system"},
		{"system actor", rule, nil, 0, "cleanup rule 3"},
		{"stand-in under a system actor", rule, standIn, 0, "cleanup rule 3"},
		{"stand-in alone", bg, standIn, 0, "depot-admin-cli"},
		{"acting as", actingAs(bg, alice), nil, 7, "alice"},
		{"trusted publisher", bg, pub, 0, "trusted publisher 5 (acme/tool)"},
		{"deploy token", bg, deploy, 0, "deploy token 4 (ci)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, name := auditActor(tc.ctx, tc.a)
			if id != tc.wantID || name != tc.want {
				t.Errorf("auditActor = %d %q, want %d %q", id, name, tc.wantID, tc.want)
			}
		})
	}
}

func TestAuditRecordCompletes(t *testing.T) {
	rec := &recordingAuditor{}
	at := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	s := NewService(&tokenStore{}, nil, nil, &Options{Audit: rec, Now: func() time.Time { return at }})
	ctx, cancel := context.WithCancel(WithClientAddr(context.Background(), "192.0.2.1"))
	cancel() // a request gone since the change still gets its entry
	s.audit(ctx, nil, AuditQuotaSet, "acme", "quota", map[string]any{"max_size": 10})
	s.audit(ctx, nil, AuditQuotaSet, "acme", "quota", map[string]any{"huge": string(make([]byte, maxAuditDetail))})
	if len(rec.evs) != 2 {
		t.Fatalf("%d events, want 2", len(rec.evs))
	}
	e := rec.evs[0]
	if !e.Time.Equal(at.Truncate(time.Microsecond)) || e.Addr != "192.0.2.1" || e.Detail != `{"max_size":10}` || e.Actor != "system" {
		t.Errorf("event = %+v", e)
	}
	if rec.evs[1].Detail != "" {
		t.Errorf("an oversized detail was kept (%d bytes)", len(rec.evs[1].Detail))
	}
}

func TestValidateAuditQuery(t *testing.T) {
	for _, tc := range []struct {
		q  AuditQuery
		ok bool
	}{
		{AuditQuery{}, true},
		{AuditQuery{Action: "file"}, true},
		{AuditQuery{Action: "project_token.create"}, true},
		{AuditQuery{Action: "file%"}, false},
		{AuditQuery{Action: "a.b.c"}, false},
		{AuditQuery{Action: "File"}, false},
		{AuditQuery{Limit: -1}, false},
		{AuditQuery{Before: -1}, false},
		{AuditQuery{Owner: string(make([]byte, 256))}, false},
	} {
		q := tc.q
		if err := ValidateAuditQuery(&q); (err == nil) != tc.ok {
			t.Errorf("ValidateAuditQuery(%+v) = %v, want ok %v", tc.q, err, tc.ok)
		}
	}
	q := AuditQuery{Limit: 5000}
	if err := ValidateAuditQuery(&q); err != nil || q.Limit != MaxAuditLimit {
		t.Errorf("limit 5000 became %d (%v), want %d", q.Limit, err, MaxAuditLimit)
	}
	q = AuditQuery{}
	if err := ValidateAuditQuery(&q); err != nil || q.Limit != DefaultAuditLimit {
		t.Errorf("limit 0 became %d, want %d", q.Limit, DefaultAuditLimit)
	}
}

func TestParseAuditTime(t *testing.T) {
	now := time.Date(2026, 5, 6, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"", time.Time{}, true},
		{"36h", now.Add(-36 * time.Hour), true},
		{"7d", now.Add(-7 * 24 * time.Hour), true},
		{"2026-01-31", time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), true},
		{"2026-01-31T10:00:00+02:00", time.Date(2026, 1, 31, 8, 0, 0, 0, time.UTC), true},
		{"-1h", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"99999999d", time.Time{}, false},
	} {
		got, err := ParseAuditTime(tc.in, now)
		if (err == nil) != tc.ok || tc.ok && !got.Equal(tc.want) {
			t.Errorf("ParseAuditTime(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
