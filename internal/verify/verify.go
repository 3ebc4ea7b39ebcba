// Package verify checks that stored blobs are intact: it re-reads each blob
// through the blob store, recomputes its sha256 and size, compares them with
// the blob's record, and names the files that reference a damaged one. It
// reads everything through depot's store interfaces, so it works on every
// metadata and blob backend, and it streams: the blob records are read a
// page at a time, each blob in chunks, never whole. `depot admin verify`
// runs one pass; `depot serve --verify-rate` runs passes continuously.
package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"golang.org/x/time/rate"
)

// Store is what the verifier needs of the metadata store.
type Store interface {
	BlobPage(ctx context.Context, after string, limit int, ownerID int64) ([]depot.Blob, error)
	BlobFiles(ctx context.Context, sha256 string) ([]depot.BlobFile, error)
	MarkBlobDamaged(ctx context.Context, d depot.BlobDamage) error
	ClearBlobDamage(ctx context.Context, sha256 string) error
	DamagedBlobs(ctx context.Context) ([]depot.BlobDamage, error)
	// InlineBlob is depot.InlineStore's: blobs kept inside the metadata
	// database are checked there.
	InlineBlob(ctx context.Context, sha256 string) ([]byte, error)
}

// Leaser is a Store shared by several servers (PostgreSQL) that lets one
// of them at a time run a pass: RunEvery takes the lease for each pass and
// skips the pass when another server holds it.
type Leaser interface {
	TryLease(ctx context.Context, name string) (release func(), ok bool, err error)
}

// Blobs is what the verifier needs of blob storage.
type Blobs interface {
	Open(ctx context.Context, sha256 string) (depot.BlobReader, error)
}

// Sample selects part of the blobs. Digests are uniformly distributed, so a
// run of consecutive digests from a random start is a uniform sample that
// the store reads along its primary key.
type Sample struct {
	// Count, when above 0, checks that many blobs (or all, if fewer).
	Count int
	// Fraction, when in (0, 1), checks the blobs whose digests fall in a
	// range of that share of all digests.
	Fraction float64
}

// ParseSample parses --sample: a count ("500") or a percentage ("10%").
func ParseSample(s string) (Sample, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(f > 0 && f <= 100) {
			return Sample{}, fmt.Errorf("%q is not a percentage in (0, 100]", s)
		}
		if f == 100 {
			return Sample{}, nil
		}
		return Sample{Fraction: f / 100}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return Sample{}, fmt.Errorf("%q is neither a count of blobs (such as 500) nor a percentage (such as 10%%)", s)
	}
	return Sample{Count: n}, nil
}

// Options configure a Verifier; the zero value checks every blob with
// GOMAXPROCS workers, as fast as storage allows, and records nothing.
type Options struct {
	// Workers is how many blobs are read at once; 0 means GOMAXPROCS.
	Workers int
	// Rate limits the bytes read per second, across all workers; 0 means
	// no limit.
	Rate int64
	// OwnerID, when not 0, checks only the blobs of that owner's files.
	OwnerID int64
	// Sample, when set, checks part of the blobs.
	Sample Sample
	// Record writes what a pass finds to the store: damaged blobs are
	// recorded (downloads of them are refused on every replica), and blobs
	// recorded damaged that are now intact are cleared.
	Record bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand picks a sample's start; nil means a random source.
	Rand *rand.Rand
	// PageSize is how many blob records are read at a time; 0 means 500.
	PageSize int
	// OnResult, when set, is called with each blob's result, one call at a
	// time, in no particular order.
	OnResult func(Result)
}

// Result is what checking one blob found.
type Result struct {
	Blob depot.Blob
	// Problem is how the blob is damaged; "" when it is intact or could
	// not be read.
	Problem depot.BlobProblem
	// Err is why the blob could not be checked (a storage error, not
	// damage); nil otherwise.
	Err error
	// Read is how many bytes were read; SHA256 what they hash to (when
	// they were read to the end).
	Read   int64
	SHA256 string
	// Files are the files that reference a damaged blob.
	Files []depot.BlobFile
}

// Summary counts what a pass did.
type Summary struct {
	Blobs      int64 `json:"blobs"`
	Bytes      int64 `json:"bytes"`
	Intact     int64 `json:"intact"`
	Missing    int64 `json:"missing"`
	Truncated  int64 `json:"truncated"`
	Corrupt    int64 `json:"corrupt"`
	Unreadable int64 `json:"unreadable"`
	// Cleared counts blobs recorded damaged that were found intact.
	Cleared  int64     `json:"cleared"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// Damaged is how many blobs the pass found damaged.
func (s Summary) Damaged() int64 { return s.Missing + s.Truncated + s.Corrupt }

// Verifier checks blobs.
type Verifier struct {
	store Store
	blobs Blobs
	opts  Options
	limit *rate.Limiter
	chunk int
}

// maxChunk is the most a worker reads at once (and holds in memory).
const maxChunk = 256 << 10

// New returns a Verifier over store and blobs.
func New(store Store, blobs Blobs, opts *Options) *Verifier {
	v := &Verifier{store: store, blobs: blobs, chunk: maxChunk}
	if opts != nil {
		v.opts = *opts
	}
	if v.opts.Workers <= 0 {
		v.opts.Workers = runtime.GOMAXPROCS(0)
	}
	if v.opts.Now == nil {
		v.opts.Now = time.Now
	}
	if v.opts.Rand == nil {
		v.opts.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if v.opts.PageSize <= 0 {
		v.opts.PageSize = 500
	}
	if v.opts.Rate > 0 {
		// A burst of one chunk: the rate holds over any second, and no
		// worker waits for more than it may read at once.
		v.chunk = int(min(int64(maxChunk), v.opts.Rate))
		v.limit = rate.NewLimiter(rate.Limit(v.opts.Rate), v.chunk)
	}
	return v
}

// Run checks the blobs the options select and returns what it found. The
// error is non-nil only when the pass could not go on (the metadata store
// failed, or ctx ended); blobs that could not be read are counted as
// unreadable and the pass goes on.
func (v *Verifier) Run(ctx context.Context) (Summary, error) {
	sum := Summary{Started: v.opts.Now()}
	known := map[string]bool{}
	if v.opts.Record {
		damaged, err := v.store.DamagedBlobs(ctx)
		if err != nil {
			return sum, fmt.Errorf("read damaged blobs: %w", err)
		}
		for _, d := range damaged {
			known[d.SHA256] = true
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	todo := make(chan depot.Blob)
	results := make(chan Result)
	produced := make(chan error, 1)
	go func() {
		defer close(todo)
		produced <- v.produce(ctx, todo)
	}()
	var wg sync.WaitGroup
	for range v.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, v.chunk)
			for b := range todo {
				res := v.check(ctx, b, buf)
				select {
				case results <- res:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	var recordErr error
	for res := range results {
		if ctx.Err() != nil {
			continue // drain
		}
		if res.Problem != "" || res.Err != nil {
			files, err := v.store.BlobFiles(ctx, res.Blob.SHA256)
			if err != nil {
				recordErr = fmt.Errorf("files of blob %s: %w", res.Blob.SHA256, err)
				cancel()
				continue
			}
			if len(files) == 0 {
				continue // deleted while it was read: nothing to check
			}
			res.Files = files
		}
		if err := v.record(ctx, res, known); err != nil {
			recordErr = err
			cancel()
			continue
		}
		sum.Blobs++
		sum.Bytes += res.Read
		switch {
		case res.Err != nil:
			sum.Unreadable++
		case res.Problem == depot.BlobMissing:
			sum.Missing++
		case res.Problem == depot.BlobTruncated:
			sum.Truncated++
		case res.Problem == depot.BlobCorrupt:
			sum.Corrupt++
		default:
			sum.Intact++
			if known[res.Blob.SHA256] {
				sum.Cleared++
			}
		}
		if v.opts.OnResult != nil {
			v.opts.OnResult(res)
		}
	}
	// Workers stop early when ctx ends: wait for the producer too.
	produceErr := <-produced
	sum.Finished = v.opts.Now()
	if err := errors.Join(recordErr, produceErr); err != nil {
		return sum, err
	}
	return sum, ctx.Err()
}

// record writes a result to the store when the options ask for it.
func (v *Verifier) record(ctx context.Context, res Result, known map[string]bool) error {
	if !v.opts.Record || res.Err != nil {
		return nil
	}
	sha := res.Blob.SHA256
	if res.Problem != "" {
		d := depot.BlobDamage{SHA256: sha, Problem: res.Problem, FoundAt: v.opts.Now()}
		if err := v.store.MarkBlobDamaged(ctx, d); err != nil {
			return fmt.Errorf("record damage of blob %s: %w", sha, err)
		}
		return nil
	}
	if known[sha] {
		if err := v.store.ClearBlobDamage(ctx, sha); err != nil {
			return fmt.Errorf("clear damage of blob %s: %w", sha, err)
		}
	}
	return nil
}

// check reads one blob to its end (or one byte past its recorded size):
// its inline content when the metadata store keeps it (a blob small enough
// to be kept so is looked up there first), else blob storage's bytes.
func (v *Verifier) check(ctx context.Context, b depot.Blob, buf []byte) Result {
	res := Result{Blob: b}
	var r io.Reader
	if b.Size <= depot.MaxInlineBlob {
		inline, err := v.store.InlineBlob(ctx, b.SHA256)
		if err == nil {
			r = bytes.NewReader(inline)
		} else if !errors.Is(err, depot.ErrNotFound) {
			res.Err = err
			return res
		}
	}
	if r == nil {
		br, err := v.blobs.Open(ctx, b.SHA256)
		if errors.Is(err, depot.ErrNotFound) {
			res.Problem = depot.BlobMissing
			return res
		} else if err != nil {
			res.Err = err
			return res
		}
		defer br.Close()
		r = br
	}
	return v.hash(ctx, res, r, buf)
}

// hash reads r to its end (or one byte past the recorded size) and says
// how its bytes differ from res.Blob.
func (v *Verifier) hash(ctx context.Context, res Result, r io.Reader, buf []byte) Result {
	b := res.Blob
	h := sha256.New()
	for res.Read <= b.Size {
		if v.limit != nil {
			if err := v.limit.WaitN(ctx, len(buf)); err != nil {
				res.Err = err
				return res
			}
		}
		n, err := r.Read(buf)
		h.Write(buf[:n])
		res.Read += int64(n)
		if err == io.EOF {
			break
		} else if err != nil {
			if errors.Is(err, depot.ErrNotFound) { // an object store found it gone
				res.Problem = depot.BlobMissing
				return res
			}
			res.Err = err
			return res
		}
	}
	switch {
	case res.Read < b.Size:
		res.Problem = depot.BlobTruncated
	case res.Read > b.Size:
		res.Problem = depot.BlobCorrupt // longer than recorded
	default:
		res.SHA256 = hex.EncodeToString(h.Sum(nil))
		if res.SHA256 != b.SHA256 {
			res.Problem = depot.BlobCorrupt
		}
	}
	return res
}

// produce sends the blob records the options select, in digest order from
// the start (from a random digest, wrapping round, for a sample).
func (v *Verifier) produce(ctx context.Context, out chan<- depot.Blob) error {
	s := v.opts.Sample
	sampling := s.Count > 0 || (s.Fraction > 0 && s.Fraction < 1)
	var startN, span uint64
	start := ""
	if sampling {
		startN = v.opts.Rand.Uint64()
		start = fmt.Sprintf("%016x", startN)
		span = math.MaxUint64
		if s.Fraction > 0 && s.Fraction < 1 {
			span = uint64(s.Fraction * math.MaxUint64)
		}
	}
	after, wrapped, sent := start, start == "", 0
	for {
		page, err := v.store.BlobPage(ctx, after, v.opts.PageSize, v.opts.OwnerID)
		if err != nil {
			return fmt.Errorf("list blobs: %w", err)
		}
		for _, b := range page {
			if wrapped && start != "" && b.SHA256 >= start {
				return nil // round once
			}
			if sampling {
				prefix, err := strconv.ParseUint(b.SHA256[:min(16, len(b.SHA256))], 16, 64)
				if err == nil && prefix-startN >= span {
					return nil // past the sampled range
				}
			}
			select {
			case out <- b:
			case <-ctx.Done():
				return nil
			}
			if sent++; s.Count > 0 && sent >= s.Count {
				return nil
			}
		}
		if len(page) < v.opts.PageSize {
			if wrapped {
				return nil
			}
			after, wrapped = "", true
			continue
		}
		after = page[len(page)-1].SHA256
	}
}

// RunEvery runs passes until ctx ends, each starting at least interval
// after the one before it started (so a small registry is not read round
// and round), and calls done after each pass with what Run returned. Over
// a Leaser it runs a pass only while it holds the lease, so of several
// servers one at a time verifies (the others try again an interval
// later). It returns when ctx ends.
func (v *Verifier) RunEvery(ctx context.Context, interval time.Duration, done func(Summary, error)) {
	leaser, _ := v.store.(Leaser)
	for ctx.Err() == nil {
		start := time.Now()
		ran, sum, err := v.runLeased(ctx, leaser)
		if ctx.Err() != nil {
			return
		}
		if ran && done != nil {
			done(sum, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(interval))):
		}
	}
}

// leaseName names the continuous verifier's lease.
const leaseName = "verify"

func (v *Verifier) runLeased(ctx context.Context, l Leaser) (bool, Summary, error) {
	if l != nil {
		release, ok, err := l.TryLease(ctx, leaseName)
		if err != nil {
			return true, Summary{}, fmt.Errorf("take the verify lease: %w", err)
		}
		if !ok {
			return false, Summary{}, nil // another server verifies
		}
		defer release()
	}
	sum, err := v.Run(ctx)
	return true, sum, err
}
