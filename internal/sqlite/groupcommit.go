package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"github.com/depot-registry/depot/internal/depot"
)

// groupCommit records concurrent CreateFile and CreateGitLabFile calls in
// shared transactions.
//
// SQLite has one writer, and with synchronous=FULL each commit waits for
// an fsync of the WAL; each file also waits, inside the transaction, for
// its blob's commit (over local storage an fsync of the blob's directory
// after the rename). One file per transaction put two fsyncs in series per
// file and bounded small uploads to a few hundred per second whatever the
// CPU. A batch takes every call waiting when the writer frees up (at most
// maxBatch), runs each call's inserts under a savepoint of its own (a
// conflict fails that call only), then runs all their blob commits at once
// (their directory fsyncs overlap, and the filesystem journal commits them
// together), then commits once. If a blob commit or the commit itself
// fails, the batch is rolled back and each call runs again alone, in order,
// so each gets the outcome it would have had alone; blob commits are
// idempotent (depot.BlobUpload.Commit).
type groupCommit struct {
	s       *Store
	mu      sync.Mutex
	queue   []*fileCall
	running bool
}

// maxBatch bounds the files of one transaction.
const maxBatch = 64

type fileCall struct {
	ctx context.Context
	// insert runs the statements that record the file, in tx.
	insert     func(ctx context.Context, tx *sql.Tx) (*depot.File, error)
	commitBlob func(context.Context) error
	f          *depot.File
	err        error
	done       chan struct{}
}

func (g *groupCommit) submit(ctx context.Context, insert func(context.Context, *sql.Tx) (*depot.File, error), commitBlob func(context.Context) error) (*depot.File, error) {
	c := &fileCall{ctx: ctx, insert: insert, commitBlob: commitBlob, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	start := !g.running
	g.running = true
	g.mu.Unlock()
	if start {
		go g.run()
	}
	// Wait even if ctx ends: the call may be in a transaction that commits.
	<-c.done
	return c.f, c.err
}

// run commits batches until the queue is empty.
func (g *groupCommit) run() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), maxBatch)
		if n == 0 {
			g.queue, g.running = nil, false
			g.mu.Unlock()
			return
		}
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()
		g.s.commitFiles(batch)
		for _, c := range batch {
			close(c.done)
		}
	}
}

func (s *Store) commitFiles(batch []*fileCall) {
	if len(batch) > 1 && s.commitBatch(batch) == nil {
		return
	}
	for _, c := range batch {
		c.f, c.err = s.createAlone(c)
	}
}

// commitBatch records batch in one transaction. It sets each call's outcome
// when it returns nil; otherwise the transaction was rolled back.
func (s *Store) commitBatch(batch []*fileCall) error {
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer s.cache.invalidate()
	savepoint := func(stmt string) error {
		_, err := tx.ExecContext(ctx, stmt)
		return err
	}
	var recorded []*fileCall
	for _, c := range batch {
		if c.err = c.ctx.Err(); c.err != nil {
			continue
		}
		if err := savepoint(`SAVEPOINT file`); err != nil {
			tx.Rollback()
			return err
		}
		c.f, c.err = c.insert(ctx, tx)
		if c.err != nil {
			c.err = translate(c.err)
			if err := savepoint(`ROLLBACK TO file`); err != nil {
				tx.Rollback()
				return err
			}
		} else {
			recorded = append(recorded, c)
		}
		if err := savepoint(`RELEASE file`); err != nil {
			tx.Rollback()
			return err
		}
	}
	errs := make([]error, len(recorded))
	var wg sync.WaitGroup
	for i, c := range recorded {
		wg.Go(func() { errs[i] = c.commitBlob(c.ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// createAlone records one call's file in a transaction of its own.
func (s *Store) createAlone(c *fileCall) (*depot.File, error) {
	var f *depot.File
	err := s.tx(c.ctx, func(tx *sql.Tx) error {
		var err error
		if f, err = c.insert(c.ctx, tx); err != nil {
			return err
		}
		return c.commitBlob(c.ctx)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}
