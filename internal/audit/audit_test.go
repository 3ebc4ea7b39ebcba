package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/audit"
	"github.com/depot-registry/depot/internal/depot"
)

// memStore is an in-memory AuditStore that counts its writes.
type memStore struct {
	mu      sync.Mutex
	evs     []*depot.AuditEvent
	inserts int
	prunes  int
	fail    error
	delay   time.Duration
}

func (m *memStore) InsertAuditEvents(_ context.Context, evs []*depot.AuditEvent) error {
	time.Sleep(m.delay)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.inserts++
	for _, e := range evs {
		e.ID = int64(len(m.evs) + 1)
		c := *e
		m.evs = append(m.evs, &c)
	}
	return nil
}

func (m *memStore) ListAuditEvents(context.Context, depot.AuditQuery) ([]*depot.AuditEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*depot.AuditEvent(nil), m.evs...), nil
}

func (m *memStore) PruneAuditEvents(_ context.Context, before time.Time, limit int) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prunes++
	var kept []*depot.AuditEvent
	var n int64
	for _, e := range m.evs {
		if e.Time.Before(before) && n < int64(limit) {
			n++
			continue
		}
		kept = append(kept, e)
	}
	m.evs = kept
	return n, nil
}

func (m *memStore) all() []*depot.AuditEvent {
	evs, _ := m.ListAuditEvents(context.Background(), depot.AuditQuery{})
	return evs
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func failed(actor, addr, via string, at time.Time) depot.AuditEvent {
	return depot.AuditEvent{Time: at, Actor: actor, Addr: addr, Action: depot.AuditSignInFailed, Target: actor,
		Detail: fmt.Sprintf(`{"via":%q,"attempts":1}`, via)}
}

func detail(t *testing.T, e *depot.AuditEvent) map[string]any {
	t.Helper()
	d := map[string]any{}
	if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
		t.Fatalf("detail %q: %v", e.Detail, err)
	}
	return d
}

func TestChangesAreWrittenAtOnce(t *testing.T) {
	st := &memStore{}
	l := audit.New(st, audit.Options{})
	l.Record(context.Background(), depot.AuditEvent{Time: t0, Actor: "alice", Action: depot.AuditFileUpload, Owner: "acme"})
	if evs := st.all(); len(evs) != 1 || evs[0].Action != depot.AuditFileUpload {
		t.Fatalf("after Record: %v, want the upload written without a flush", evs)
	}
	st.fail = errors.New("disk on fire")
	l.Record(context.Background(), depot.AuditEvent{Time: t0, Actor: "alice", Action: depot.AuditFileDelete})
	if l.Lost() != 1 {
		t.Errorf("Lost = %d after a failed write, want 1", l.Lost())
	}
}

func TestFailedSignInsAreBatched(t *testing.T) {
	st := &memStore{}
	l := audit.New(st, audit.Options{})
	ctx := context.Background()
	const n = 5000
	for i := range n {
		l.Record(ctx, failed("root", "198.51.100.7", "basic", t0.Add(time.Duration(i)*time.Millisecond)))
	}
	l.Record(ctx, failed("root", "198.51.100.8", "basic", t0))
	l.Record(ctx, failed("root", "198.51.100.7", "web", t0))
	if st.inserts != 0 {
		t.Fatalf("%d writes before the flush, want none", st.inserts)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	evs := st.all()
	if st.inserts != 1 || len(evs) != 3 {
		t.Fatalf("flush: %d writes of %d events, want 1 write of 3", st.inserts, len(evs))
	}
	first := evs[0]
	d := detail(t, first)
	if first.Addr != "198.51.100.7" || first.Actor != "root" || d["via"] != "basic" || d["attempts"] != float64(n) {
		t.Errorf("batched event = %+v (detail %v), want %d basic attempts of root from 198.51.100.7", *first, d, n)
	}
	if !first.Time.Equal(t0) || d["last"] == nil {
		t.Errorf("batched event dated %v with last %v: want the first attempt's time and the last's", first.Time, d["last"])
	}
	if d := detail(t, evs[2]); d["via"] != "web" || d["attempts"] != float64(1) {
		t.Errorf("web attempt = %v, want its own event", d)
	}
	if err := l.Flush(ctx); err != nil || st.inserts != 1 {
		t.Errorf("an empty flush wrote (%d writes, %v)", st.inserts, err)
	}
}

func TestFailedSignInsOverflow(t *testing.T) {
	st := &memStore{}
	l := audit.New(st, audit.Options{MaxPending: 3})
	ctx := context.Background()
	for i := range 10 {
		l.Record(ctx, failed(fmt.Sprintf("user%d", i), "203.0.113.1", "basic", t0))
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	evs := st.all()
	if len(evs) != 4 {
		t.Fatalf("%d events, want 3 and an overflow one", len(evs))
	}
	over := evs[3]
	if over.Actor != audit.OverflowActor || detail(t, over)["attempts"] != float64(7) {
		t.Errorf("overflow event = %+v, want %q with 7 attempts", *over, audit.OverflowActor)
	}
}

func TestPruneRetentionInBatches(t *testing.T) {
	st := &memStore{}
	now := t0.Add(400 * 24 * time.Hour)
	l := audit.New(st, audit.Options{Retention: 365 * 24 * time.Hour, PruneBatch: 10, Now: func() time.Time { return now }})
	ctx := context.Background()
	var evs []*depot.AuditEvent
	for i := range 45 { // 45 old
		evs = append(evs, &depot.AuditEvent{Time: t0.Add(time.Duration(i) * time.Minute), Action: depot.AuditSignIn})
	}
	for range 5 { // 5 recent
		evs = append(evs, &depot.AuditEvent{Time: now.Add(-time.Hour), Action: depot.AuditSignIn})
	}
	if err := st.InsertAuditEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	n, err := l.Prune(ctx)
	if err != nil || n != 45 {
		t.Fatalf("Prune = %d, %v; want 45", n, err)
	}
	if st.prunes != 5 { // 10+10+10+10+5
		t.Errorf("%d delete statements, want 5 batches of at most 10", st.prunes)
	}
	if left := st.all(); len(left) != 5 {
		t.Errorf("%d events left, want the 5 recent ones", len(left))
	}
	forever := audit.New(st, audit.Options{Now: func() time.Time { return now.Add(1000 * 24 * time.Hour) }})
	if n, err := forever.Prune(ctx); n != 0 || err != nil || len(st.all()) != 5 {
		t.Errorf("retention 0 pruned %d (%v): want nothing", n, err)
	}
}

func TestRunFlushesAndPrunes(t *testing.T) {
	st := &memStore{}
	now := t0.Add(10 * 24 * time.Hour)
	if err := st.InsertAuditEvents(context.Background(), []*depot.AuditEvent{{Time: t0, Action: depot.AuditSignIn}}); err != nil {
		t.Fatal(err)
	}
	l := audit.New(st, audit.Options{Retention: 24 * time.Hour, FlushEvery: 10 * time.Millisecond, Now: func() time.Time { return now }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	l.Record(ctx, failed("eve", "192.0.2.9", "web", now))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		evs := st.all()
		if len(evs) == 1 && evs[0].Actor == "eve" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A failure recorded just before the end is flushed by the last flush.
	l.Record(ctx, failed("mallory", "192.0.2.10", "web", now))
	cancel()
	<-done
	var actors []string
	for _, e := range st.all() {
		actors = append(actors, e.Actor)
	}
	sort.Strings(actors)
	if fmt.Sprint(actors) != "[eve mallory]" {
		t.Errorf("events after Run = %v, want the old one pruned and both failures flushed", actors)
	}
}

// TestConcurrentChangesShareCommits: events recorded at once share
// transactions, and each Record returns only once its event is stored.
func TestConcurrentChangesShareCommits(t *testing.T) {
	st := &memStore{delay: 20 * time.Millisecond}
	l := audit.New(st, audit.Options{})
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := fmt.Sprint(i)
			l.Record(context.Background(), depot.AuditEvent{Time: t0, Actor: "alice", Action: depot.AuditFileDelete, Target: target})
			found := false
			for _, e := range st.all() {
				found = found || e.Target == target
			}
			if !found {
				t.Errorf("Record of %s returned before its event was stored", target)
			}
		}()
	}
	wg.Wait()
	if got := len(st.all()); got != n {
		t.Fatalf("%d events stored, want %d", got, n)
	}
	if st.inserts >= n/2 {
		t.Errorf("%d transactions for %d concurrent events, want them shared", st.inserts, n)
	}
	t.Logf("%d events in %d transactions", n, st.inserts)
}
