package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// runHooks runs the webhook and outbox cases.
func runHooks(t *testing.T, newStore func(t *testing.T) depot.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s depot.Store)
	}{
		{"Hooks", testHooks},
		{"OutboxEvents", testOutboxEvents},
		{"OutboxRolledBack", testOutboxRolledBack},
		{"OutboxGroupCommit", testOutboxGroupCommit},
		{"ClaimExactlyOnce", testClaimExactlyOnce},
		{"DeliveryLog", testDeliveryLog},
		{"PruneDeliveries", testPruneDeliveries},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// MustCreateHook creates an active JSON hook of ownerID (0: a system hook).
func MustCreateHook(tb testing.TB, s depot.Store, ownerID int64, url string) *depot.Hook {
	tb.Helper()
	h := &depot.Hook{OwnerID: ownerID, URL: url, ContentType: depot.HookContentJSON, Secret: "s3cret",
		Events: []string{depot.HookEventPackage}, Active: true, CreatedAt: when, UpdatedAt: when}
	if err := s.CreateHook(context.Background(), h); err != nil {
		tb.Fatalf("CreateHook: %v", err)
	}
	return h
}

// later is a claim time after every event a test writes (deletes stamp
// theirs with the current time).
func later() time.Time { return time.Now().Add(time.Hour) }

// claimAll claims every due delivery with a lease far ahead.
func claimAll(tb testing.TB, s depot.Store) []*depot.Delivery {
	tb.Helper()
	now := later()
	ds, err := s.ClaimDeliveries(context.Background(), now, now.Add(time.Hour), 1000)
	if err != nil {
		tb.Fatalf("ClaimDeliveries: %v", err)
	}
	return ds
}

func testHooks(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	h := MustCreateHook(t, s, alice.ID, "http://127.0.0.1:1/a")
	sys := MustCreateHook(t, s, 0, "http://127.0.0.1:1/sys")
	if h.ID == 0 || sys.ID == 0 || h.ID == sys.ID {
		t.Fatalf("hook IDs %d, %d", h.ID, sys.ID)
	}
	got, err := s.HookByID(ctx, h.ID)
	if err != nil {
		t.Fatalf("HookByID: %v", err)
	}
	if got.OwnerID != alice.ID || got.URL != h.URL || got.Secret != "s3cret" || !got.Active || got.ContentType != "json" ||
		len(got.Events) != 1 || got.Events[0] != "package" || !got.CreatedAt.Equal(when.Truncate(time.Microsecond)) {
		t.Errorf("HookByID = %+v", got)
	}
	list, err := s.ListHooks(ctx, alice.ID)
	if err != nil || len(list) != 1 || list[0].ID != h.ID {
		t.Errorf("ListHooks(alice) = %v, %v; want hook %d", list, err, h.ID)
	}
	list, err = s.ListHooks(ctx, 0)
	if err != nil || len(list) != 1 || list[0].ID != sys.ID || list[0].OwnerID != 0 {
		t.Errorf("ListHooks(system) = %v, %v; want hook %d", list, err, sys.ID)
	}
	got.URL, got.Active, got.ContentType, got.Name = "https://127.0.0.1:2/b", false, "form", "ci"
	if err := s.UpdateHook(ctx, got); err != nil {
		t.Fatalf("UpdateHook: %v", err)
	}
	again, _ := s.HookByID(ctx, h.ID)
	if again.URL != "https://127.0.0.1:2/b" || again.Active || again.ContentType != "form" || again.Name != "ci" {
		t.Errorf("after UpdateHook: %+v", again)
	}
	if err := s.CreateHook(ctx, &depot.Hook{OwnerID: 9999, URL: "http://x", ContentType: "json", Events: []string{"package"}}); !errors.Is(err, depot.ErrNotFound) {
		t.Errorf("CreateHook of a missing owner = %v, want ErrNotFound", err)
	}
	if err := s.DeleteHook(ctx, h.ID); err != nil {
		t.Fatalf("DeleteHook: %v", err)
	}
	wantErr(t, "HookByID after DeleteHook", func() error { _, err := s.HookByID(ctx, h.ID); return err }(), depot.ErrNotFound)
	wantErr(t, "DeleteHook again", s.DeleteHook(ctx, h.ID), depot.ErrNotFound)
	wantErr(t, "UpdateHook of a deleted hook", s.UpdateHook(ctx, got), depot.ErrNotFound)
}

func testOutboxEvents(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	// Nothing is recorded without a hook.
	MustCreateFile(t, s, NewFile(alice, "early", "1.0", "a", "early"))
	if ds := claimAll(t, s); len(ds) != 0 {
		t.Fatalf("deliveries without hooks: %d", len(ds))
	}
	own := MustCreateHook(t, s, alice.ID, "http://127.0.0.1:1/alice")
	sys := MustCreateHook(t, s, 0, "http://127.0.0.1:1/sys")
	MustCreateHook(t, s, bob.ID, "http://127.0.0.1:1/bob")
	off := MustCreateHook(t, s, alice.ID, "http://127.0.0.1:1/off")
	off.Active = false
	if err := s.UpdateHook(ctx, off); err != nil {
		t.Fatal(err)
	}

	a := NewFile(alice, "tool", "1.0", "a.bin", "a")
	fa := MustCreateFile(t, s, a)
	ds := claimAll(t, s)
	if len(ds) != 2 {
		t.Fatalf("first file of a version: %d deliveries, want 2 (alice's hook and the system hook)", len(ds))
	}
	hooks := map[int64]bool{}
	for _, d := range ds {
		hooks[d.Hook.ID] = true
		e := d.Event
		if e.Action != depot.PackageCreated || e.OwnerID != alice.ID || e.Package != "tool" || e.Version != "1.0" ||
			e.VersionID != fa.VersionID || e.SenderID != alice.ID || e.CreatorID != alice.ID || e.Type != depot.TypeGeneric ||
			!e.VersionCreatedAt.Equal(when.Truncate(time.Microsecond)) {
			t.Errorf("created event = %+v", e)
		}
		if len(d.UUID) != 36 || d.State != depot.DeliveryPending || d.Attempts != 1 {
			t.Errorf("delivery = uuid %q state %q attempts %d", d.UUID, d.State, d.Attempts)
		}
	}
	if !hooks[own.ID] || !hooks[sys.ID] || ds[0].UUID == ds[1].UUID || ds[0].Event.ID != ds[1].Event.ID {
		t.Errorf("deliveries %+v, %+v: want one event fanned out to hooks %d and %d with distinct UUIDs", ds[0], ds[1], own.ID, sys.ID)
	}

	// A second file of the version, and deleting it, report nothing.
	b := NewFile(alice, "tool", "1.0", "b.bin", "b")
	MustCreateFile(t, s, b)
	if err := s.DeleteFile(ctx, b.OwnerID, b.Type, b.Package, b.Version, b.File, bob.ID, (&remover{}).remove); err != nil {
		t.Fatal(err)
	}
	if ds := claimAll(t, s); len(ds) != 0 {
		t.Errorf("second file and its delete: %d deliveries, want 0", len(ds))
	}
	// Deleting the last file deletes the version: one event per hook.
	if err := s.DeleteFile(ctx, a.OwnerID, a.Type, a.Package, a.Version, a.File, bob.ID, (&remover{}).remove); err != nil {
		t.Fatal(err)
	}
	ds = claimAll(t, s)
	if len(ds) != 2 {
		t.Fatalf("delete of the last file: %d deliveries, want 2", len(ds))
	}
	if e := ds[0].Event; e.Action != depot.PackageDeleted || e.VersionID != fa.VersionID || e.SenderID != bob.ID ||
		e.CreatorID != alice.ID || e.Version != "1.0" || e.Package != "tool" {
		t.Errorf("deleted event = %+v", e)
	}
	// DeleteVersion, and bob's own upload (his hook and the system's).
	MustCreateFile(t, s, NewFile(alice, "tool", "2.0", "x", "x"))
	if err := s.DeleteVersion(ctx, alice.ID, depot.TypeGeneric, "tool", "2.0", alice.ID, (&remover{}).remove); err != nil {
		t.Fatal(err)
	}
	MustCreateFile(t, s, NewFile(bob, "mine", "1", "f", "f"))
	ds = claimAll(t, s)
	var got []string
	for _, d := range ds {
		got = append(got, fmt.Sprintf("%s %s %s@%s", d.Hook.URL[len("http://127.0.0.1:1/"):], d.Event.Action, d.Event.Package, d.Event.Version))
	}
	sort.Strings(got)
	want := []string{"alice created tool@2.0", "alice deleted tool@2.0", "bob created mine@1", "sys created mine@1", "sys created tool@2.0", "sys deleted tool@2.0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("deliveries = %q, want %q", got, want)
	}
}

func testOutboxRolledBack(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	MustCreateHook(t, s, alice.ID, "http://127.0.0.1:1/a")
	boom := errors.New("boom")
	_, err := s.CreateFile(context.Background(), NewFile(alice, "tool", "1.0", "a", "a"), func(context.Context) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("CreateFile with a failing commit = %v", err)
	}
	r := &remover{err: boom}
	nf := NewFile(alice, "tool", "2.0", "b", "b")
	MustCreateFile(t, s, nf)
	claimAll(t, s) // the created event
	if err := deleteVersion(s, nf, r); !errors.Is(err, boom) {
		t.Fatalf("DeleteVersion with a failing removeBlob = %v", err)
	}
	if ds := claimAll(t, s); len(ds) != 0 {
		t.Errorf("rolled-back upload and delete left %d deliveries: %+v", len(ds), ds[0].Event)
	}
}

// testOutboxGroupCommit uploads into new versions concurrently, one of
// them failing its blob commit: stores that share transactions must still
// record exactly one event per recorded version.
func testOutboxGroupCommit(t *testing.T, s depot.Store) {
	alice := MustCreateUser(t, s, "alice")
	MustCreateHook(t, s, alice.ID, "http://127.0.0.1:1/a")
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.CreateFile(context.Background(), NewFile(alice, "tool", fmt.Sprint(i), "f", fmt.Sprint(i)), func(context.Context) error {
				if i == 3 {
					return errors.New("boom")
				}
				return nil
			})
		})
	}
	wg.Wait()
	ok := map[string]bool{}
	for i, err := range errs {
		if (err != nil) != (i == 3) {
			t.Errorf("upload %d: %v", i, err)
		}
		if err == nil {
			ok[fmt.Sprint(i)] = true
		}
	}
	ds := claimAll(t, s)
	seen := map[string]int{}
	for _, d := range ds {
		seen[d.Event.Version]++
	}
	for v := range ok {
		if seen[v] != 1 {
			t.Errorf("version %s: %d events, want 1", v, seen[v])
		}
	}
	if len(ds) != len(ok) {
		t.Errorf("%d deliveries for %d recorded versions", len(ds), len(ok))
	}
}

// testClaimExactlyOnce races claimers: each delivery goes to exactly one
// while its lease holds; a lapsed lease lets it be claimed again, and the
// first claimer can then no longer finish it.
func testClaimExactlyOnce(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	MustCreateHook(t, s, alice.ID, "http://127.0.0.1:1/a")
	MustCreateHook(t, s, 0, "http://127.0.0.1:1/sys")
	const versions = 40
	for i := range versions {
		MustCreateFile(t, s, NewFile(alice, "tool", fmt.Sprint(i), "f", "f"))
	}
	now := later()
	var mu sync.Mutex
	claimed := map[int64]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				ds, err := s.ClaimDeliveries(ctx, now, now.Add(time.Minute), 3)
				if err != nil {
					t.Errorf("ClaimDeliveries: %v", err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					claimed[d.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != 2*versions {
		t.Errorf("claimed %d deliveries, want %d", len(claimed), 2*versions)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("delivery %d claimed %d times", id, n)
		}
	}
	// After the lease, they come back, with a second attempt counted.
	ds, err := s.ClaimDeliveries(ctx, now.Add(2*time.Minute), now.Add(3*time.Minute), 1)
	if err != nil || len(ds) != 1 || ds[0].Attempts != 2 {
		t.Fatalf("claim after the lease = %v, %v; want one delivery at its second attempt", ds, err)
	}
	stale := *ds[0]
	stale.Lease = now.Add(time.Minute)
	stale.State = depot.DeliveryDelivered
	wantErr(t, "FinishDelivery with a lapsed lease", s.FinishDelivery(ctx, &stale, &depot.DeliveryAttempt{StartedAt: now}), depot.ErrConflict)
	ds[0].State = depot.DeliveryDelivered
	if err := s.FinishDelivery(ctx, ds[0], &depot.DeliveryAttempt{StartedAt: now, Success: true, StatusCode: 200}); err != nil {
		t.Errorf("FinishDelivery with the current lease: %v", err)
	}
}

func testDeliveryLog(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	h := MustCreateHook(t, s, alice.ID, "http://127.0.0.1:1/a")
	MustCreateFile(t, s, NewFile(alice, "tool", "1.0", "f", "f"))
	now := later()
	ds, err := s.ClaimDeliveries(ctx, now, now.Add(time.Minute), 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("claim = %v, %v", ds, err)
	}
	d := ds[0]
	d.State, d.NextAt, d.Body = depot.DeliveryPending, now.Add(10*time.Second), `{"action":"created"}`
	fail := &depot.DeliveryAttempt{StartedAt: now, Duration: 1500 * time.Microsecond, URL: h.URL, RequestHeaders: "X-Gitea-Event: package\n",
		RequestBody: d.Body, StatusCode: 500, ResponseHeaders: "Content-Type: text/plain\n", ResponseBody: "down", Error: ""}
	if err := s.FinishDelivery(ctx, d, fail); err != nil {
		t.Fatal(err)
	}
	// Not due before NextAt.
	if ds, _ := s.ClaimDeliveries(ctx, now.Add(5*time.Second), now.Add(time.Minute), 10); len(ds) != 0 {
		t.Errorf("claimed before its next attempt")
	}
	ds, _ = s.ClaimDeliveries(ctx, now.Add(10*time.Second), now.Add(time.Minute), 10)
	if len(ds) != 1 || ds[0].Attempts != 2 || ds[0].Body != `{"action":"created"}` || ds[0].UUID != d.UUID {
		t.Fatalf("retry claim = %+v", ds)
	}
	d = ds[0]
	d.State = depot.DeliveryDelivered
	if err := s.FinishDelivery(ctx, d, &depot.DeliveryAttempt{StartedAt: now.Add(10 * time.Second), URL: h.URL, RequestBody: d.Body, StatusCode: 204, Success: true}); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.ClaimDeliveries(ctx, now.Add(time.Hour), now.Add(2*time.Hour), 10); len(ds) != 0 {
		t.Errorf("a delivered delivery was claimed again")
	}
	log, err := s.ListDeliveryAttempts(ctx, h.ID, 10)
	if err != nil || len(log) != 2 {
		t.Fatalf("ListDeliveryAttempts = %v, %v", log, err)
	}
	if log[0].StatusCode != 204 || !log[0].Success || log[1].StatusCode != 500 || log[1].ResponseBody != "down" ||
		log[1].Duration != 1500*time.Microsecond || log[1].UUID != d.UUID || log[1].Action != depot.PackageCreated ||
		log[1].RequestHeaders != "X-Gitea-Event: package\n" || log[1].DeliveryID != d.ID {
		t.Errorf("log = %+v, %+v", log[0], log[1])
	}
	// Redeliver: a new delivery, new UUID, same body.
	id, err := s.Redeliver(ctx, h.ID, d.ID, now.Add(time.Hour))
	if err != nil {
		t.Fatalf("Redeliver: %v", err)
	}
	ds, _ = s.ClaimDeliveries(ctx, now.Add(time.Hour), now.Add(2*time.Hour), 10)
	if len(ds) != 1 || ds[0].ID != id || ds[0].UUID == d.UUID || ds[0].Body != d.Body || ds[0].Event.ID != d.Event.ID {
		t.Errorf("redelivery = %+v", ds)
	}
	_, err = s.Redeliver(ctx, h.ID+1, d.ID, now)
	wantErr(t, "Redeliver of another hook's delivery", err, depot.ErrNotFound)
	if err := s.DeleteHook(ctx, h.ID); err != nil {
		t.Fatalf("DeleteHook with deliveries: %v", err)
	}
	if log, _ := s.ListDeliveryAttempts(ctx, h.ID, 10); len(log) != 0 {
		t.Errorf("log after DeleteHook: %d attempts", len(log))
	}
}

func testPruneDeliveries(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	h := MustCreateHook(t, s, alice.ID, "http://127.0.0.1:1/a")
	for i := range 6 {
		MustCreateFile(t, s, NewFile(alice, "tool", fmt.Sprint(i), "f", "f"))
	}
	now := later()
	ds, err := s.ClaimDeliveries(ctx, now, now.Add(time.Minute), 5)
	if err != nil || len(ds) != 5 {
		t.Fatalf("claim = %d, %v", len(ds), err)
	}
	for _, d := range ds {
		d.State = depot.DeliveryDelivered
		if err := s.FinishDelivery(ctx, d, &depot.DeliveryAttempt{StartedAt: now, StatusCode: 200, Success: true}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneDeliveries(ctx, 2)
	if err != nil || n != 3 {
		t.Fatalf("PruneDeliveries = %d, %v; want 3 of the 5 finished", n, err)
	}
	log, _ := s.ListDeliveryAttempts(ctx, h.ID, 10)
	if len(log) != 2 || log[0].DeliveryID != ds[4].ID || log[1].DeliveryID != ds[3].ID {
		t.Errorf("log after prune: %d tries", len(log))
	}
	_, err = s.Redeliver(ctx, h.ID, ds[0].ID, now)
	wantErr(t, "Redeliver of a pruned delivery", err, depot.ErrNotFound)
	if rest := claimAll(t, s); len(rest) != 1 {
		t.Errorf("pending delivery after prune: %d", len(rest))
	}
	if n, err := s.PruneDeliveries(ctx, 2); err != nil || n != 0 {
		t.Errorf("second prune = %d, %v", n, err)
	}
}
