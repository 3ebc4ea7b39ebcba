package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// runAudit runs the audit log cases.
func runAudit(t *testing.T, newStore func(t *testing.T) depot.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s depot.Store)
	}{
		{"AuditRoundTrip", testAuditRoundTrip},
		{"AuditFilters", testAuditFilters},
		{"AuditPaging", testAuditPaging},
		{"AuditPrune", testAuditPrune},
		{"AuditInUploadTransaction", testAuditInUploadTransaction},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// mustAudit inserts events and fails the test on error.
func mustAudit(tb testing.TB, s depot.Store, evs ...*depot.AuditEvent) {
	tb.Helper()
	if err := s.InsertAuditEvents(context.Background(), evs); err != nil {
		tb.Fatalf("InsertAuditEvents: %v", err)
	}
}

func listAudit(tb testing.TB, s depot.Store, q depot.AuditQuery) []*depot.AuditEvent {
	tb.Helper()
	if err := depot.ValidateAuditQuery(&q); err != nil {
		tb.Fatalf("ValidateAuditQuery(%+v): %v", q, err)
	}
	evs, err := s.ListAuditEvents(context.Background(), q)
	if err != nil {
		tb.Fatalf("ListAuditEvents(%+v): %v", q, err)
	}
	return evs
}

func auditIDs(evs []*depot.AuditEvent) []int64 {
	ids := make([]int64, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return ids
}

func testAuditRoundTrip(t *testing.T, s depot.Store) {
	e := &depot.AuditEvent{Time: when, ActorID: 7, Actor: "alice", Addr: "192.0.2.1", Action: depot.AuditFileUpload,
		Owner: "Acme", Target: "generic/tool/1.0/tool.tgz", Detail: `{"size":3}`}
	sys := &depot.AuditEvent{Time: when.Add(time.Second), Actor: "cleanup rule 3", Action: depot.AuditVersionDelete, Owner: "acme", Target: "generic/tool/0.9"}
	mustAudit(t, s, e, sys)
	if e.ID == 0 || sys.ID <= e.ID {
		t.Fatalf("IDs %d, %d: want set and increasing", e.ID, sys.ID)
	}
	got := listAudit(t, s, depot.AuditQuery{Oldest: true})
	if len(got) != 2 {
		t.Fatalf("got %d events, want 2", len(got))
	}
	g := got[0]
	wantTime(t, "Time", g.Time, when)
	want := *e
	want.Time = g.Time
	if *g != want {
		t.Errorf("event = %+v, want %+v", *g, want)
	}
	if got[1].ActorID != 0 || got[1].Actor != "cleanup rule 3" || got[1].Addr != "" || got[1].Detail != "" {
		t.Errorf("system event = %+v", *got[1])
	}
	if err := s.InsertAuditEvents(context.Background(), nil); err != nil {
		t.Errorf("InsertAuditEvents(nil): %v", err)
	}
}

func testAuditFilters(t *testing.T, s depot.Store) {
	var evs []*depot.AuditEvent
	for i, a := range []struct{ actor, action, owner string }{
		{"alice", depot.AuditFileUpload, "acme"},
		{"bob", depot.AuditFileDelete, "acme"},
		{"alice", depot.AuditTokenCreate, "alice"},
		{"Alice", depot.AuditTokenRevoke, "alice"},
		{"carol", depot.AuditSignInFailed, ""},
		{"carol", depot.AuditSignIn, "carol"},
		{"dave", depot.AuditProjectTokenCreate, "ACME"},
		{"dave", depot.AuditPackageSettingsSet, "acme"},
	} {
		evs = append(evs, &depot.AuditEvent{Time: when.Add(time.Duration(i) * time.Minute), Actor: a.actor, Action: a.action, Owner: a.owner})
	}
	mustAudit(t, s, evs...)
	id := func(is ...int) []int64 {
		out := make([]int64, len(is))
		for k, i := range is {
			out[k] = evs[i].ID
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    depot.AuditQuery
		want []int64
	}{
		{"all newest first", depot.AuditQuery{}, id(7, 6, 5, 4, 3, 2, 1, 0)},
		{"owner any case", depot.AuditQuery{Owner: "Acme", Oldest: true}, id(0, 1, 6, 7)},
		{"actor any case", depot.AuditQuery{Actor: "ALICE", Oldest: true}, id(0, 2, 3)},
		{"action exact", depot.AuditQuery{Action: depot.AuditTokenCreate}, id(2)},
		{"action family", depot.AuditQuery{Action: "token", Oldest: true}, id(2, 3)},
		// "signin" is an action and a family: itself and signin.failed.
		{"action and family", depot.AuditQuery{Action: "signin", Oldest: true}, id(4, 5)},
		// The _ of project_token is no wildcard: "project" selects nothing.
		{"family is not a prefix", depot.AuditQuery{Action: "project"}, nil},
		{"family with underscore", depot.AuditQuery{Action: "project_token"}, id(6)},
		{"package_settings is not package", depot.AuditQuery{Action: "package"}, nil},
		{"since inclusive until exclusive", depot.AuditQuery{Since: when.Add(2 * time.Minute), Until: when.Add(4 * time.Minute), Oldest: true}, id(2, 3)},
		{"combined", depot.AuditQuery{Owner: "acme", Actor: "dave", Action: "package_settings"}, id(7)},
		{"no match", depot.AuditQuery{Actor: "mallory"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := auditIDs(listAudit(t, s, tc.q))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("ids = %v, want %v", got, tc.want)
			}
		})
	}
}

func testAuditPaging(t *testing.T, s depot.Store) {
	const n = 25
	var evs []*depot.AuditEvent
	for i := range n {
		evs = append(evs, &depot.AuditEvent{Time: when, Actor: "alice", Action: depot.AuditFileUpload, Owner: "acme", Target: fmt.Sprint(i)})
	}
	mustAudit(t, s, evs...)
	for _, oldest := range []bool{false, true} {
		t.Run(fmt.Sprintf("oldest=%v", oldest), func(t *testing.T) {
			var seen []int64
			q := depot.AuditQuery{Limit: 10, Oldest: oldest}
			for page := 0; page < 10; page++ {
				got := listAudit(t, s, q)
				if len(got) == 0 {
					break
				}
				if len(got) > 10 {
					t.Fatalf("page of %d events, limit 10", len(got))
				}
				seen = append(seen, auditIDs(got)...)
				last := got[len(got)-1].ID
				if oldest {
					q.After = last
				} else {
					q.Before = last
				}
			}
			if len(seen) != n {
				t.Fatalf("paged through %d events, want %d: %v", len(seen), n, seen)
			}
			for i := 1; i < n; i++ {
				if oldest && seen[i] <= seen[i-1] || !oldest && seen[i] >= seen[i-1] {
					t.Fatalf("ids out of order at %d: %v", i, seen)
				}
			}
		})
	}
}

func testAuditPrune(t *testing.T, s depot.Store) {
	ctx := context.Background()
	var evs []*depot.AuditEvent
	for i := range 10 {
		evs = append(evs, &depot.AuditEvent{Time: when.Add(time.Duration(i) * time.Hour), Actor: "alice", Action: depot.AuditSignIn})
	}
	mustAudit(t, s, evs...)
	cut := when.Add(7 * time.Hour) // events 0..6 are older
	n, err := s.PruneAuditEvents(ctx, cut, 4)
	if err != nil || n != 4 {
		t.Fatalf("PruneAuditEvents(limit 4) = %d, %v; want 4", n, err)
	}
	// The oldest went first.
	got := auditIDs(listAudit(t, s, depot.AuditQuery{Oldest: true}))
	if len(got) != 6 || got[0] != evs[4].ID {
		t.Fatalf("after a bounded prune: ids %v, want from %d", got, evs[4].ID)
	}
	n, err = s.PruneAuditEvents(ctx, cut, 100)
	if err != nil || n != 3 {
		t.Fatalf("PruneAuditEvents = %d, %v; want 3", n, err)
	}
	n, err = s.PruneAuditEvents(ctx, cut, 100)
	if err != nil || n != 0 {
		t.Fatalf("PruneAuditEvents again = %d, %v; want 0", n, err)
	}
	got = auditIDs(listAudit(t, s, depot.AuditQuery{Oldest: true}))
	if fmt.Sprint(got) != fmt.Sprint(auditIDs(evs[7:])) {
		t.Fatalf("kept %v, want %v", got, auditIDs(evs[7:]))
	}
}

// testAuditInUploadTransaction: NewFile.Audit is written with the file,
// and not at all when the upload is refused or its blob commit fails,
// also among concurrent uploads (SQLite's group commit).
func testAuditInUploadTransaction(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	ev := func(target string) *depot.AuditEvent {
		return &depot.AuditEvent{Time: when, ActorID: alice.ID, Actor: "alice", Action: depot.AuditFileUpload, Owner: "alice", Target: target}
	}
	targets := func() map[string]int {
		out := map[string]int{}
		for _, e := range listAudit(t, s, depot.AuditQuery{Limit: depot.MaxAuditLimit}) {
			out[e.Target]++
		}
		return out
	}
	ok := NewFile(alice, "tool", "1.0", "a.bin", "a")
	ok.Audit = ev("ok")
	MustCreateFile(t, s, ok)
	if ok.Audit.ID == 0 {
		t.Error("the upload's audit event has no ID")
	}
	dup := NewFile(alice, "tool", "1.0", "a.bin", "other bytes")
	dup.Audit = ev("conflict")
	_, err := s.CreateFile(ctx, dup, func(context.Context) error { return nil })
	wantErr(t, "CreateFile of an existing name", err, depot.ErrConflict)
	boom := errors.New("blob storage is down")
	failed := NewFile(alice, "tool", "1.0", "b.bin", "b")
	failed.Audit = ev("commit fails")
	_, err = s.CreateFile(ctx, failed, func(context.Context) error { return boom })
	wantErr(t, "CreateFile whose blob commit fails", err, boom)
	p := MustCreateProject(t, s, alice.ID, "proj", "")
	gl := NewFile(alice, "tool", "2.0", "c.bin", "c")
	gl.Audit = ev("gitlab")
	if _, err := s.CreateGitLabFile(ctx, gl, depot.GitLabFileOptions{ProjectID: p.ID}, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("CreateGitLabFile: %v", err)
	}
	glFailed := NewFile(alice, "tool", "2.0", "d.bin", "d")
	glFailed.Audit = ev("gitlab commit fails")
	_, err = s.CreateGitLabFile(ctx, glFailed, depot.GitLabFileOptions{ProjectID: p.ID}, func(context.Context) error { return boom })
	wantErr(t, "CreateGitLabFile whose blob commit fails", err, boom)
	if got := targets(); len(got) != 2 || got["ok"] != 1 || got["gitlab"] != 1 {
		t.Fatalf("audit events %v, want only the two recorded uploads'", got)
	}

	// Concurrent uploads, two of one name: the loser's event goes with it.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		name := fmt.Sprintf("c%d.bin", i)
		if i >= 6 {
			name = "same.bin"
		}
		nf := NewFile(alice, "tool", "3.0", name, fmt.Sprint("content ", i))
		nf.Audit = ev(fmt.Sprint("concurrent ", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.CreateFile(ctx, nf, func(context.Context) error { return nil })
		}()
	}
	wg.Wait()
	got := targets()
	for i, err := range errs {
		want := 1
		if err != nil {
			wantErr(t, fmt.Sprint("concurrent upload ", i), err, depot.ErrConflict)
			want = 0
		}
		if got[fmt.Sprint("concurrent ", i)] != want {
			t.Errorf("upload %d (error %v): %d audit events, want %d", i, err, got[fmt.Sprint("concurrent ", i)], want)
		}
	}
}
