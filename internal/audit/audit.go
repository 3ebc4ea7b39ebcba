// Package audit is depot's audit log writer: a depot.Auditor that writes
// each change's event to the store before returning (concurrent events
// share a transaction, a group commit), gathers failed sign-ins in
// memory and writes them in batches (one row per client address and user
// name per flush, with the number of attempts), and prunes events older
// than the retention in bounded batches.
//
// Failed sign-ins are batched because an attacker decides how many there
// are: writing a row for each would let a password-guessing client turn
// its requests into database writes, each one serialised on SQLite with
// the uploads. Batched, a flood costs one map update per attempt and at
// most MaxPending rows per flush.
package audit

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// Defaults of Options.
const (
	DefaultFlushEvery = time.Second
	DefaultPruneEvery = time.Hour
	DefaultPruneBatch = 1000
	DefaultMaxPending = 1000
	// maxBatchesPerPass bounds one pruning pass; the next pass goes on.
	maxBatchesPerPass = 100
)

// Options tune a Log. Zero values mean the defaults.
type Options struct {
	// Retention is how long events are kept; 0 keeps them forever.
	Retention time.Duration
	// FlushEvery is how often gathered failed sign-ins are written.
	FlushEvery time.Duration
	// PruneEvery is how often events past the retention are deleted.
	PruneEvery time.Duration
	// PruneBatch is how many events one delete statement removes.
	PruneBatch int
	// MaxPending bounds the distinct (address, user name) pairs of failed
	// sign-ins held between flushes; attempts beyond it are counted in one
	// overflow event per flush.
	MaxPending int
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// OverflowActor is the actor of the event that counts failed sign-ins
// beyond Options.MaxPending.
const OverflowActor = "(too many to tell apart)"

// Log is a depot.Auditor over an AuditStore.
type Log struct {
	store depot.AuditStore
	opts  Options

	mu      sync.Mutex
	pending map[pendingKey]*pendingFail
	order   []pendingKey
	lost    int64

	// wmu guards the group commit of events (see write).
	wmu     sync.Mutex
	queue   []*pendingWrite
	writing bool
}

type pendingKey struct{ actor, addr, detail string }

type pendingFail struct {
	ev       depot.AuditEvent
	attempts int64
	last     time.Time
}

var _ depot.Auditor = (*Log)(nil)

// New returns a Log writing to store.
func New(store depot.AuditStore, opts Options) *Log {
	opts.FlushEvery = cmp.Or(opts.FlushEvery, DefaultFlushEvery)
	opts.PruneEvery = cmp.Or(opts.PruneEvery, DefaultPruneEvery)
	opts.PruneBatch = cmp.Or(opts.PruneBatch, DefaultPruneBatch)
	opts.MaxPending = cmp.Or(opts.MaxPending, DefaultMaxPending)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Log{store: store, opts: opts, pending: map[pendingKey]*pendingFail{}}
}

// Record implements depot.Auditor: a failed sign-in is gathered for the
// next flush, any other event written now (an error is logged; the change
// it reports has happened).
func (l *Log) Record(ctx context.Context, ev depot.AuditEvent) {
	if ev.Action == depot.AuditSignInFailed {
		l.gather(ev)
		return
	}
	if err := l.write(ctx, &ev); err != nil {
		l.mu.Lock()
		l.lost++
		l.mu.Unlock()
		l.opts.Logger.ErrorContext(ctx, "audit log: event lost", "action", ev.Action, "actor", ev.Actor, "owner", ev.Owner, "target", ev.Target, "err", err)
	}
}

// pendingWrite is an event waiting for its group's transaction.
type pendingWrite struct {
	ev *depot.AuditEvent
	// done receives true when the waiter is to lead the next group (its
	// event not written yet), false when its event was written (or not:
	// err says).
	done chan bool
	err  error
}

// write inserts ev and returns once its transaction has committed.
// Concurrent writes share transactions (group commit): one caller leads,
// writing every event queued meanwhile in one transaction, then hands the
// lead to the first caller that queued after it. Each change thus still
// has its event stored when its request returns, and concurrent changes
// pay one commit between them, not one each (on SQLite, whose writes are
// serialised, a commit per event would queue behind the uploads' group
// commits).
func (l *Log) write(ctx context.Context, ev *depot.AuditEvent) error {
	w := &pendingWrite{ev: ev, done: make(chan bool, 1)}
	l.wmu.Lock()
	l.queue = append(l.queue, w)
	lead := !l.writing
	l.writing = true
	l.wmu.Unlock()
	if !lead && !<-w.done {
		return w.err
	}
	l.wmu.Lock()
	group := l.queue
	l.queue = nil
	l.wmu.Unlock()
	evs := make([]*depot.AuditEvent, len(group))
	for i, g := range group {
		evs[i] = g.ev
	}
	err := l.store.InsertAuditEvents(ctx, evs)
	for _, g := range group {
		if g != w {
			g.err = err
			g.done <- false
		}
	}
	l.wmu.Lock()
	if len(l.queue) > 0 {
		next := l.queue[0]
		l.wmu.Unlock()
		next.done <- true
	} else {
		l.writing = false
		l.wmu.Unlock()
	}
	return err
}

// Lost returns how many events could not be written.
func (l *Log) Lost() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

func (l *Log) gather(ev depot.AuditEvent) {
	// The detail of a single attempt names only the way of signing in:
	// equal details, the same way (no JSON decoding on this path).
	k := pendingKey{ev.Actor, ev.Addr, ev.Detail}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pending[k]
	if p == nil {
		if len(l.pending) >= l.opts.MaxPending {
			k = pendingKey{actor: OverflowActor}
			if p = l.pending[k]; p == nil {
				p = &pendingFail{ev: depot.AuditEvent{Time: ev.Time, Actor: OverflowActor, Action: depot.AuditSignInFailed}}
				l.pending[k] = p
				l.order = append(l.order, k)
			}
		} else {
			p = &pendingFail{ev: ev}
			l.pending[k] = p
			l.order = append(l.order, k)
		}
	}
	p.attempts++
	p.last = ev.Time
}

// Flush writes the gathered failed sign-ins, one event per client address,
// user name and way of signing in, dated at the first attempt, with the
// number of attempts and the time of the last in its detail. If the write
// fails, they are counted as lost.
func (l *Log) Flush(ctx context.Context) error {
	l.mu.Lock()
	pending, order := l.pending, l.order
	l.pending, l.order = map[pendingKey]*pendingFail{}, nil
	l.mu.Unlock()
	if len(order) == 0 {
		return nil
	}
	evs := make([]*depot.AuditEvent, 0, len(order))
	for _, k := range order {
		p := pending[k]
		d := map[string]any{}
		_ = json.Unmarshal([]byte(p.ev.Detail), &d)
		d["attempts"] = p.attempts
		if p.attempts > 1 {
			d["last"] = p.last
		}
		b, _ := json.Marshal(d)
		ev := p.ev
		ev.Detail = string(b)
		evs = append(evs, &ev)
	}
	if err := l.store.InsertAuditEvents(ctx, evs); err != nil {
		l.mu.Lock()
		l.lost += int64(len(evs))
		l.mu.Unlock()
		l.opts.Logger.ErrorContext(ctx, "audit log: failed sign-ins lost", "events", len(evs), "err", err)
		return err
	}
	return nil
}

// Prune deletes events older than the retention, in batches of
// PruneBatch, at most 100 batches; it returns how many it deleted. With
// several replicas each prunes; a row goes once.
func (l *Log) Prune(ctx context.Context) (int64, error) {
	if l.opts.Retention <= 0 {
		return 0, nil
	}
	before := l.opts.Now().Add(-l.opts.Retention)
	var total int64
	for range maxBatchesPerPass {
		n, err := l.store.PruneAuditEvents(ctx, before, l.opts.PruneBatch)
		total += n
		if err != nil {
			return total, err
		}
		if n < int64(l.opts.PruneBatch) || ctx.Err() != nil {
			break
		}
	}
	return total, nil
}

// Run flushes every FlushEvery and prunes at once and every PruneEvery
// until ctx ends, then flushes a last time.
func (l *Log) Run(ctx context.Context) {
	flush := time.NewTicker(l.opts.FlushEvery)
	defer flush.Stop()
	prune := time.NewTimer(0)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_ = l.Flush(final)
			cancel()
			return
		case <-flush.C:
			_ = l.Flush(ctx)
		case <-prune.C:
			if n, err := l.Prune(ctx); err != nil && ctx.Err() == nil {
				l.opts.Logger.Warn("audit log: pruning", "err", err)
			} else if n > 0 {
				l.opts.Logger.Info("audit log: pruned events past the retention", "count", n, "retention", l.opts.Retention.String())
			}
			prune.Reset(l.opts.PruneEvery)
		}
	}
}
