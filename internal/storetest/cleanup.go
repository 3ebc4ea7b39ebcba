package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// runCleanup runs the conformance tests of depot.CleanupRuleStore.
func runCleanup(t *testing.T, newStore func(t *testing.T) depot.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s depot.Store)
	}{
		{"CleanupRules", testCleanupRules},
		{"CleanupPackages", testCleanupPackages},
		{"CleanupPasses", testCleanupPasses},
		{"CleanupPassesConcurrent", testCleanupPassesConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func testCleanupRules(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	r := &depot.CleanupRule{OwnerID: alice.ID, Type: depot.TypeGeneric, Enabled: true, KeepCount: 3, KeepPattern: `v\d+`,
		RemoveDays: 7, RemovePattern: ".*-rc.*", MatchFullName: true, Order: depot.CleanupOrderSemver,
		ExcludePrereleasesFromKeepCount: true, NotDownloadedDays: 30, CreatedAt: cwhen, UpdatedAt: cwhen}
	if err := s.CreateCleanupRule(ctx, r); err != nil {
		t.Fatalf("CreateCleanupRule: %v", err)
	}
	if r.ID == 0 {
		t.Fatal("CreateCleanupRule left ID 0")
	}
	got, err := s.CleanupRule(ctx, r.ID)
	if err != nil {
		t.Fatalf("CleanupRule: %v", err)
	}
	if *got != *r {
		t.Errorf("CleanupRule = %+v, want %+v", got, r)
	}
	dup := *r
	wantErr(t, "CreateCleanupRule(same owner and type)", s.CreateCleanupRule(ctx, &dup), depot.ErrConflict)
	wantErr(t, "CreateCleanupRule(missing owner)", s.CreateCleanupRule(ctx, &depot.CleanupRule{OwnerID: 1 << 40, Type: depot.TypeGeneric, Order: depot.CleanupOrderCreated, CreatedAt: cwhen, UpdatedAt: cwhen}), depot.ErrNotFound)
	disabled := &depot.CleanupRule{OwnerID: bob.ID, Type: depot.TypeGeneric, Order: depot.CleanupOrderCreated, CreatedAt: cwhen, UpdatedAt: cwhen}
	if err := s.CreateCleanupRule(ctx, disabled); err != nil {
		t.Fatalf("CreateCleanupRule(bob): %v", err)
	}
	list := func(ownerID int64) []int64 {
		t.Helper()
		rs, err := s.ListCleanupRules(ctx, ownerID)
		if err != nil {
			t.Fatalf("ListCleanupRules(%d): %v", ownerID, err)
		}
		var ids []int64
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	if got := fmt.Sprint(list(alice.ID)); got != fmt.Sprint([]int64{r.ID}) {
		t.Errorf("ListCleanupRules(alice) = %s", got)
	}
	if got := fmt.Sprint(list(0)); got != fmt.Sprint([]int64{r.ID}) {
		t.Errorf("ListCleanupRules(0) = %s, want only the enabled rule %d", got, r.ID)
	}
	up := *r
	up.Enabled, up.KeepCount, up.KeepPattern, up.Order, up.NotDownloadedDays, up.MatchFullName = false, 0, "", depot.CleanupOrderCreated, 0, false
	up.UpdatedAt = cwhen.Add(time.Hour)
	if err := s.UpdateCleanupRule(ctx, &up); err != nil {
		t.Fatalf("UpdateCleanupRule: %v", err)
	}
	if got, _ := s.CleanupRule(ctx, r.ID); got == nil || *got != up {
		t.Errorf("after update CleanupRule = %+v, want %+v", got, up)
	}
	if got := list(0); len(got) != 0 {
		t.Errorf("ListCleanupRules(0) = %v after disabling, want none", got)
	}
	missing := up
	missing.ID = 1 << 40
	wantErr(t, "UpdateCleanupRule(missing)", s.UpdateCleanupRule(ctx, &missing), depot.ErrNotFound)
	if err := s.DeleteCleanupRule(ctx, r.ID); err != nil {
		t.Fatalf("DeleteCleanupRule: %v", err)
	}
	_, err = s.CleanupRule(ctx, r.ID)
	wantErr(t, "CleanupRule(deleted)", err, depot.ErrNotFound)
	wantErr(t, "DeleteCleanupRule(again)", s.DeleteCleanupRule(ctx, r.ID), depot.ErrNotFound)
	if got := list(bob.ID); len(got) != 1 {
		t.Errorf("bob's rules = %v after deleting alice's", got)
	}
}

func testCleanupPackages(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	// More versions than Gitea's old cap of 200, in one package.
	const many = 230
	for i := range many {
		nf := NewFile(alice, "app", fmt.Sprintf("1.0.%d", i), "f", "same")
		nf.CreatedAt = cwhen.Add(time.Duration(i) * time.Second)
		MustCreateFile(t, s, nf)
	}
	for _, p := range []string{"b", "c", "d"} {
		MustCreateFile(t, s, NewFile(alice, p, "1", "f", p))
	}
	MustCreateFile(t, s, NewFile(bob, "app", "9", "f", "bob"))
	app, err := s.VersionByName(ctx, alice.ID, depot.TypeGeneric, "app", "1.0.7")
	if err != nil {
		t.Fatal(err)
	}
	dl := cwhen.Add(48 * time.Hour)
	if err := s.RecordDownloads(ctx, map[int64]time.Time{app.Version.ID: dl}); err != nil {
		t.Fatalf("RecordDownloads: %v", err)
	}
	var pkgs []*depot.CleanupPackage
	for after := int64(0); ; {
		page, err := s.CleanupPackages(ctx, alice.ID, depot.TypeGeneric, after, 2)
		if err != nil {
			t.Fatalf("CleanupPackages: %v", err)
		}
		if len(page) > 2 {
			t.Fatalf("CleanupPackages(limit 2) gave %d", len(page))
		}
		if len(page) == 0 {
			break
		}
		pkgs = append(pkgs, page...)
		after = page[len(page)-1].Package.ID
		if len(pkgs) > 10 {
			t.Fatal("CleanupPackages does not end")
		}
	}
	if len(pkgs) != 4 {
		t.Fatalf("CleanupPackages gave %d packages, want alice's 4", len(pkgs))
	}
	if pkgs[0].Package.Name != "app" || len(pkgs[0].Versions) != many {
		t.Fatalf("first package %q has %d versions, want app with %d", pkgs[0].Package.Name, len(pkgs[0].Versions), many)
	}
	for i, p := range pkgs[1:] {
		if want := []string{"b", "c", "d"}[i]; p.Package.Name != want || len(p.Versions) != 1 || p.Package.OwnerID != alice.ID {
			t.Errorf("package %d = %q with %d versions, want %q with 1", i+1, p.Package.Name, len(p.Versions), want)
		}
	}
	for i, v := range pkgs[0].Versions {
		if want := fmt.Sprintf("1.0.%d", i); v.Version != want || !v.CreatedAt.Equal(cwhen.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("version %d = %q created %v, want %q created %v", i, v.Version, v.CreatedAt, want, cwhen.Add(time.Duration(i)*time.Second))
		}
		if (v.LastDownloadedAt != nil) != (i == 7) || i == 7 && !v.LastDownloadedAt.Equal(dl) {
			t.Errorf("version %s LastDownloadedAt = %v", v.Version, v.LastDownloadedAt)
		}
	}
}

func testCleanupPasses(t *testing.T, s depot.Store) {
	ctx := context.Background()
	start := func(slot int64, at time.Time, lease time.Duration) (*depot.CleanupPass, bool) {
		t.Helper()
		p := &depot.CleanupPass{Slot: slot, Holder: fmt.Sprintf("h%d", slot), StartedAt: at, LeaseUntil: at.Add(lease)}
		ok, err := s.StartCleanupPass(ctx, p)
		if err != nil {
			t.Fatalf("StartCleanupPass(%d): %v", slot, err)
		}
		return p, ok
	}
	p1, ok := start(1, cwhen, time.Minute)
	if !ok || p1.ID == 0 {
		t.Fatalf("StartCleanupPass(1) = %v, id %d", ok, p1.ID)
	}
	if _, ok := start(1, cwhen.Add(time.Hour), time.Minute); ok {
		t.Error("slot 1 started twice")
	}
	if _, ok := start(2, cwhen.Add(30*time.Second), time.Minute); ok {
		t.Error("slot 2 started while slot 1's pass holds its lease")
	}
	if err := s.ExtendCleanupPass(ctx, p1.ID, cwhen.Add(2*time.Minute)); err != nil {
		t.Fatalf("ExtendCleanupPass: %v", err)
	}
	if _, ok := start(2, cwhen.Add(90*time.Second), time.Minute); ok {
		t.Error("slot 2 started before slot 1's extended lease ran out")
	}
	// Slot 1's process died: its lease runs out and slot 3 starts.
	p3, ok := start(3, cwhen.Add(3*time.Minute), time.Minute)
	if !ok {
		t.Fatal("slot 3 did not start after slot 1's lease ran out")
	}
	if err := s.FinishCleanupPass(ctx, p3.ID, cwhen.Add(4*time.Minute), 5, "boom"); err != nil {
		t.Fatalf("FinishCleanupPass: %v", err)
	}
	wantErr(t, "ExtendCleanupPass(finished)", s.ExtendCleanupPass(ctx, p3.ID, cwhen.Add(time.Hour)), depot.ErrNotFound)
	wantErr(t, "FinishCleanupPass(missing)", s.FinishCleanupPass(ctx, 1<<40, cwhen, 0, ""), depot.ErrNotFound)
	if _, ok := start(4, cwhen.Add(4*time.Minute+time.Second), time.Minute); !ok {
		t.Error("slot 4 did not start after slot 3 finished")
	}
	ps, err := s.ListCleanupPasses(ctx, 2)
	if err != nil {
		t.Fatalf("ListCleanupPasses: %v", err)
	}
	if len(ps) != 2 || ps[0].Slot != 4 || ps[1].Slot != 3 {
		t.Fatalf("ListCleanupPasses(2) = %+v, want slots 4, 3", ps)
	}
	if p := ps[1]; p.FinishedAt == nil || !p.FinishedAt.Equal(cwhen.Add(4*time.Minute)) || p.Deleted != 5 || p.Error != "boom" || p.Holder != "h3" || !p.StartedAt.Equal(cwhen.Add(3*time.Minute)) {
		t.Errorf("finished pass = %+v", p)
	}
	if ps[0].FinishedAt != nil {
		t.Errorf("running pass has FinishedAt %v", ps[0].FinishedAt)
	}
}

// testCleanupPassesConcurrent starts a slot's pass from many goroutines at
// once (on PostgreSQL, many connections): exactly one wins.
func testCleanupPassesConcurrent(t *testing.T, s depot.Store) {
	ctx := context.Background()
	for slot := int64(1); slot <= 5; slot++ {
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				at := cwhen.Add(time.Duration(slot) * time.Hour)
				ok, err := s.StartCleanupPass(ctx, &depot.CleanupPass{Slot: slot*10 + int64(i%2), Holder: fmt.Sprint(i), StartedAt: at, LeaseUntil: at.Add(time.Minute)})
				if err != nil {
					t.Errorf("StartCleanupPass: %v", err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("slot %d: %d passes started, want exactly 1 (two slots raced, one lease)", slot, n)
		}
	}
}

// cwhen is when as the stores keep it (UTC, microseconds), so struct
// comparisons hold.
var cwhen = when.UTC().Truncate(time.Microsecond)
