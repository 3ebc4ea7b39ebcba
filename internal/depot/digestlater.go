package depot

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
)

// DigestStore is a Store that can record a blob's md5, sha1 and sha512 after
// its record was created with only the sha256. A Service defers those three
// digests of large uploads only over such a store (Options.DeferDigests).
type DigestStore interface {
	// SetBlobDigests sets b's MD5, SHA1 and SHA512 on the record of
	// b.SHA256 if that record lacks them. A record that is gone or already
	// complete is left alone, without error.
	SetBlobDigests(ctx context.Context, b Blob) error
	// BlobsMissingDigests returns the sha256 of up to limit blob records
	// that lack their md5, sha1 and sha512.
	BlobsMissingDigests(ctx context.Context, limit int) ([]string, error)
}

// deferDigestsAbove is the upload size above which, when deferring is on,
// only the sha256 is computed while the client waits.
const deferDigestsAbove = 8 << 20

// digestJobs computes the md5, sha1 and sha512 of stored blobs in the
// background, at most maxJobs at a time.
type digestJobs struct {
	store   DigestStore
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	slots   chan struct{}
	mu      sync.Mutex
	pending map[string]*digestJob
}

type digestJob struct {
	done chan struct{}
	blob Blob // valid after done, if err is nil
	err  error
}

// maxDigestJobs bounds concurrent background digest jobs (each uses up to
// four goroutines and 4 MiB of buffers).
const maxDigestJobs = 2

func newDigestJobs(store Store, enabled bool) *digestJobs {
	ds, ok := store.(DigestStore)
	if !enabled || !ok {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &digestJobs{store: ds, ctx: ctx, cancel: cancel, slots: make(chan struct{}, maxDigestJobs), pending: map[string]*digestJob{}}
}

// digestLater starts computing the missing digests of a stored blob, unless
// that is already under way.
func (s *Service) digestLater(sha256 string) *digestJob {
	j := s.later
	j.mu.Lock()
	defer j.mu.Unlock()
	if job, ok := j.pending[sha256]; ok {
		return job
	}
	job := &digestJob{done: make(chan struct{})}
	j.pending[sha256] = job
	j.wg.Go(func() {
		defer func() {
			j.mu.Lock()
			delete(j.pending, sha256)
			j.mu.Unlock()
			close(job.done)
		}()
		select {
		case j.slots <- struct{}{}:
			defer func() { <-j.slots }()
		case <-j.ctx.Done():
			job.err = j.ctx.Err()
			return
		}
		job.blob, job.err = s.fillDigests(j.ctx, sha256)
		if job.err != nil && j.ctx.Err() == nil {
			s.opts.Logger.Error("computing blob digests", "sha256", sha256, "err", job.err)
		}
	})
	return job
}

// fillDigests reads a blob, computes its md5, sha1 and sha512 and records
// them when this service defers digests.
func (s *Service) fillDigests(ctx context.Context, sha256 string) (Blob, error) {
	r, err := s.blobs.Open(ctx, sha256)
	if err != nil {
		return Blob{}, fmt.Errorf("open blob: %w", err)
	}
	defer r.Close()
	h := []hash.Hash{md5.New(), sha1.New(), sha512.New()}
	n, err := copyHashed(nil, r, -1, h...)
	if err != nil {
		return Blob{}, fmt.Errorf("read blob: %w", err)
	}
	b := Blob{SHA256: sha256, Size: n, MD5: hex.EncodeToString(h[0].Sum(nil)),
		SHA1: hex.EncodeToString(h[1].Sum(nil)), SHA512: hex.EncodeToString(h[2].Sum(nil))}
	if s.later != nil {
		if err := s.later.store.SetBlobDigests(ctx, b); err != nil {
			return Blob{}, fmt.Errorf("record digests: %w", err)
		}
	}
	return b, nil
}

// CompleteDigests fills b's MD5, SHA1 and SHA512 when the upload that stored
// it deferred them and they are not recorded yet: it waits for the
// background job, or computes them now (after a restart, or when another
// replica stored the blob). Every API that shows those digests calls it
// first, so none shows them empty. It does nothing when b has them.
func (s *Service) CompleteDigests(ctx context.Context, b *Blob) error {
	if b.MD5 != "" && b.SHA1 != "" && b.SHA512 != "" {
		return nil
	}
	if s.later == nil {
		// Not deferring here (another replica stored it): compute them.
		full, err := s.fillDigests(ctx, b.SHA256)
		if err != nil {
			return err
		}
		b.MD5, b.SHA1, b.SHA512 = full.MD5, full.SHA1, full.SHA512
		return nil
	}
	job := s.digestLater(b.SHA256)
	select {
	case <-job.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if job.err != nil {
		return job.err
	}
	b.MD5, b.SHA1, b.SHA512 = job.blob.MD5, job.blob.SHA1, job.blob.SHA512
	return nil
}

// ResumeDigests starts computing the digests a stopped process left
// missing (it stored large blobs but stopped before their md5, sha1 and
// sha512 were recorded). serve calls it when it starts.
func (s *Service) ResumeDigests(ctx context.Context) error {
	if s.later == nil {
		return nil
	}
	shas, err := s.later.store.BlobsMissingDigests(ctx, 10000)
	if err != nil {
		return fmt.Errorf("list blobs missing digests: %w", err)
	}
	for _, sha := range shas {
		s.digestLater(sha)
	}
	return nil
}

// Close stops background work (digests still missing are resumed by the
// next ResumeDigests) and waits for it to end.
func (s *Service) Close() error {
	s.authWatch.close()
	s.stopDamageWatch()
	if s.later == nil {
		return nil
	}
	s.later.cancel()
	s.later.wg.Wait()
	return nil
}
