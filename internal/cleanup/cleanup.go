// Package cleanup runs depot's cleanup (retention) rules on a schedule
// inside `depot serve`. Time is cut into slots of one interval each (slot
// n is [n·interval, (n+1)·interval) since the Unix epoch); every replica
// asks the store, every poll, to start the current slot's pass, and the
// store lets exactly one pass per slot start, and none while another pass
// holds its lease (depot.CleanupRuleStore.StartCleanupPass: a row per slot
// with a unique slot number, checked under SQLite's single writer or a
// PostgreSQL advisory transaction lock). The replica that won applies every
// enabled rule through the service, extending its lease as it goes, and
// records the pass's end.
//
// A replica that dies mid-pass leaves a consistent registry: each version
// is deleted in its own transaction, through the same path as a user's
// DELETE. Its pass stays unfinished until its lease runs out; the next
// slot's pass then runs every rule again, which deletes what the dead one
// did not reach.
package cleanup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// Service is what the scheduler needs of the domain service
// (*depot.Service implements it).
type Service interface {
	// StartCleanupPass, ExtendCleanupPass and FinishCleanupPass keep the
	// passes' rows (see depot.CleanupRuleStore).
	StartCleanupPass(ctx context.Context, p *depot.CleanupPass) (bool, error)
	ExtendCleanupPass(ctx context.Context, id int64, until time.Time) error
	FinishCleanupPass(ctx context.Context, id int64, finished time.Time, deleted int64, errText string) error
	// RunCleanupRules applies every enabled rule and returns how many
	// versions it deleted; it stops when ctx ends.
	RunCleanupRules(ctx context.Context) (int64, error)
}

// Options tune a Scheduler.
type Options struct {
	// Interval is the time between passes; it must be positive.
	Interval time.Duration
	// Poll is how often a replica asks to start the current slot's pass;
	// zero means min(Interval/4, a minute).
	Poll time.Duration
	// Lease is how long a pass holds off others without extending its
	// lease, and so how long a dead replica's pass blocks the next; zero
	// means 10 minutes. It is extended every Lease/3.
	Lease time.Duration
	// Holder names this replica in the passes' rows; "" means
	// host-pid-random.
	Holder string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// After waits, as time.After; nil means time.After.
	After  func(time.Duration) <-chan time.Time
	Logger *slog.Logger
}

// Scheduler runs the passes of one replica.
type Scheduler struct {
	svc  Service
	opts Options
}

// New returns a Scheduler. An Interval that is not positive is an error.
func New(svc Service, opts Options) (*Scheduler, error) {
	if opts.Interval <= 0 {
		return nil, fmt.Errorf("cleanup interval must be positive, not %s", opts.Interval)
	}
	if opts.Poll <= 0 {
		opts.Poll = min(opts.Interval/4, time.Minute)
		if opts.Poll <= 0 {
			opts.Poll = opts.Interval
		}
	}
	if opts.Lease <= 0 {
		opts.Lease = 10 * time.Minute
	}
	if opts.Holder == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		opts.Holder = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.After == nil {
		opts.After = time.After
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Scheduler{svc: svc, opts: opts}, nil
}

// Holder returns the name this replica writes in the passes it runs.
func (s *Scheduler) Holder() string { return s.opts.Holder }

// Slot returns the slot t falls in.
func (s *Scheduler) Slot(t time.Time) int64 {
	return t.UnixMicro() / s.opts.Interval.Microseconds()
}

// Run asks to start the current slot's pass every Poll until ctx ends,
// running the passes it wins; it returns ctx's error.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		if _, err := s.TryPass(ctx); err != nil && ctx.Err() == nil {
			s.opts.Logger.Error("cleanup pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.opts.After(s.opts.Poll):
		}
	}
}

// Result is what TryPass did.
type Result struct {
	// Ran is true when this replica ran the slot's pass.
	Ran     bool
	Pass    depot.CleanupPass
	Deleted int64
}

// TryPass starts the current slot's pass if no replica has, runs it and
// records its end. A pass whose context ends is left unfinished (its lease
// runs out), as a dead replica's is.
func (s *Scheduler) TryPass(ctx context.Context) (Result, error) {
	now := s.opts.Now()
	p := depot.CleanupPass{Slot: s.Slot(now), Holder: s.opts.Holder, StartedAt: now, LeaseUntil: now.Add(s.opts.Lease)}
	ok, err := s.svc.StartCleanupPass(ctx, &p)
	if err != nil || !ok {
		return Result{Pass: p}, err
	}
	log := s.opts.Logger.With("pass", p.ID, "slot", p.Slot, "holder", p.Holder)
	log.Info("cleanup pass started")
	passCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.keepLease(passCtx, p.ID, log)
	}()
	deleted, runErr := s.svc.RunCleanupRules(passCtx)
	stop()
	<-done
	if ctx.Err() != nil {
		log.Warn("cleanup pass interrupted", "deleted", deleted)
		return Result{Ran: true, Pass: p, Deleted: deleted}, ctx.Err()
	}
	errText := ""
	if runErr != nil {
		errText = runErr.Error()
	}
	if err := s.svc.FinishCleanupPass(ctx, p.ID, s.opts.Now(), deleted, errText); err != nil {
		return Result{Ran: true, Pass: p, Deleted: deleted}, fmt.Errorf("record the end of cleanup pass %d: %w", p.ID, err)
	}
	log.Info("cleanup pass finished", "deleted", deleted, "err", runErr)
	return Result{Ran: true, Pass: p, Deleted: deleted}, runErr
}

// keepLease extends pass id's lease every Lease/3 until ctx ends.
func (s *Scheduler) keepLease(ctx context.Context, id int64, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.opts.After(s.opts.Lease / 3):
		}
		if err := s.svc.ExtendCleanupPass(ctx, id, s.opts.Now().Add(s.opts.Lease)); err != nil && ctx.Err() == nil {
			log.Warn("extending cleanup lease", "err", err)
		}
	}
}
