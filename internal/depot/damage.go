package depot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBlobDamaged is wrapped by the error of a download refused because the
// file's blob is missing or damaged. It is no error kind on purpose: the
// client did nothing wrong, so it is a server fault (500), logged.
var ErrBlobDamaged = errors.New("blob missing or damaged")

// BlobFaults counts downloads refused because of their blob, by how the
// fault was found.
type BlobFaults struct {
	// Missing: blob storage has no bytes for the file's blob.
	Missing int64
	// Size: the stored size differs from the recorded one.
	Size int64
	// Known: the blob is recorded damaged (by verify, or an earlier fault).
	Known int64
	// Hash: the bytes read did not hash to the digest (a small file read
	// whole, or a whole download with Options.VerifyDownloads); a large
	// download is then cut short before its last bytes.
	Hash int64
}

// damageSet is what this process knows of damaged blobs: a copy of the
// store's records, refreshed now and then, plus what its own downloads
// found. Downloads read it without a lock.
type damageSet struct {
	known  atomic.Pointer[map[string]BlobProblem]
	mu     sync.Mutex // serialises changes
	faults [4]atomic.Int64
	watch  *damageWatch
}

const (
	faultMissing = iota
	faultSize
	faultKnown
	faultHash
)

type damageWatch struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (d *damageSet) get(sha string) (BlobProblem, bool) {
	m := d.known.Load()
	if m == nil {
		return "", false
	}
	p, ok := (*m)[sha]
	return p, ok
}

// edit replaces the set by fn's copy of it.
func (d *damageSet) edit(fn func(m map[string]BlobProblem)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := map[string]BlobProblem{}
	if old := d.known.Load(); old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	fn(m)
	d.known.Store(&m)
}

// RefreshDamage reads the damaged blobs recorded in the store, so that
// downloads of them are refused; it forgets blobs no longer recorded.
func (s *Service) RefreshDamage(ctx context.Context) error {
	list, err := s.store.DamagedBlobs(ctx)
	if err != nil {
		return fmt.Errorf("read damaged blobs: %w", err)
	}
	m := make(map[string]BlobProblem, len(list))
	for _, d := range list {
		m[d.SHA256] = d.Problem
	}
	s.damage.mu.Lock()
	s.damage.known.Store(&m)
	s.damage.mu.Unlock()
	return nil
}

// WatchDamage reads the recorded damage now and then every interval until
// Close, so that what verify records on any machine reaches this process.
func (s *Service) WatchDamage(interval time.Duration) {
	if s.damage.watch != nil {
		return
	}
	if err := s.RefreshDamage(context.Background()); err != nil {
		s.opts.Logger.Warn("reading damaged blobs", "err", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &damageWatch{cancel: cancel}
	s.damage.watch = w
	w.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.RefreshDamage(ctx); err != nil && ctx.Err() == nil {
					s.opts.Logger.Warn("reading damaged blobs", "err", err)
				}
			}
		}
	})
}

func (s *Service) stopDamageWatch() {
	if w := s.damage.watch; w != nil {
		w.cancel()
		w.wg.Wait()
	}
}

// NoteBlobDamage makes this process refuse downloads of a blob at once
// (the in-process verifier calls it beside recording the damage), or serve
// them again when problem is "".
func (s *Service) NoteBlobDamage(sha string, problem BlobProblem) {
	if p, _ := s.damage.get(sha); p == problem {
		return
	}
	s.damage.edit(func(m map[string]BlobProblem) {
		if problem == "" {
			delete(m, sha)
		} else {
			m[sha] = problem
		}
	})
	if problem != "" {
		s.smallBlobs.drop(sha)
	}
}

// DamagedBlobCount is how many blobs this process knows to be damaged.
func (s *Service) DamagedBlobCount() int {
	if m := s.damage.known.Load(); m != nil {
		return len(*m)
	}
	return 0
}

// BlobFaults returns the downloads refused so far because of their blob.
func (s *Service) BlobFaults() BlobFaults {
	f := &s.damage.faults
	return BlobFaults{Missing: f[faultMissing].Load(), Size: f[faultSize].Load(), Known: f[faultKnown].Load(), Hash: f[faultHash].Load()}
}

// blobFault counts and logs a download refused because of f's blob and,
// unless the damage was known, remembers it here and records it in the
// store (a write on a failing download only, so the next refresh of the
// set finds it there).
func (s *Service) blobFault(f *File, fault int, problem BlobProblem, detail string) error {
	s.damage.faults[fault].Add(1)
	sha := f.Blob.SHA256
	if fault != faultKnown {
		// Found now; the error writer logs every refused request too.
		s.opts.Logger.Error("download refused: the file's blob is damaged", "sha256", sha, "file_id", f.ID, "file", f.Name, "problem", problem, "detail", detail)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.store.MarkBlobDamaged(ctx, BlobDamage{SHA256: sha, Problem: problem, FoundAt: s.now()})
		cancel()
		if err != nil {
			s.opts.Logger.Warn("recording a damaged blob", "sha256", sha, "err", err)
		}
		s.NoteBlobDamage(sha, problem)
	}
	return fmt.Errorf("blob %s of file %d is %s (%s): %w", sha, f.ID, problem, detail, ErrBlobDamaged)
}

// checkedBlob opens f's blob for a download, refusing one known damaged,
// missing, or of the wrong size (one seek: the size is the file's length on
// disk, the object's from the HEAD that Open makes on S3). A blob deleted
// since f was looked up is ErrNotFound.
func (s *Service) checkedBlob(ctx context.Context, f *File) (BlobReader, error) {
	sha, size := f.Blob.SHA256, f.Blob.Size
	if p, ok := s.damage.get(sha); ok {
		return nil, s.blobFault(f, faultKnown, p, "recorded damaged")
	}
	r, err := s.blobs.Open(ctx, sha)
	if errors.Is(err, ErrNotFound) {
		if ok, err := s.store.BlobExists(ctx, sha); err == nil && !ok {
			return nil, Errorf(ErrNotFound, "file %q not found", f.Name) // deleted meanwhile
		}
		return nil, s.blobFault(f, faultMissing, BlobMissing, "not in blob storage")
	} else if err != nil {
		return nil, err
	}
	n, err := r.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = r.Seek(0, io.SeekStart)
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("size of blob %s: %w", sha, err)
	}
	if n != size {
		r.Close()
		problem := BlobTruncated
		if n > size {
			problem = BlobCorrupt
		}
		return nil, s.blobFault(f, faultSize, problem, fmt.Sprintf("%d bytes stored, %d recorded", n, size))
	}
	return r, nil
}

// checkLinked refuses to hand out a URL to f's blob, as checkedBlob
// refuses to stream it, when the blob is known damaged, missing or of the
// wrong size (one Stat: a HEAD on S3).
func (s *Service) checkLinked(ctx context.Context, f *File) error {
	r, err := s.checkedBlob(ctx, f)
	if err != nil {
		return err
	}
	return r.Close()
}

// checkSmall checks the sha256 of a small blob read whole.
func (s *Service) checkSmall(f *File, b []byte) error {
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != f.Blob.SHA256 {
		return s.blobFault(f, faultHash, BlobCorrupt, "content hashes to "+got)
	}
	return nil
}

// verifyingReader hashes a blob while it is read from start to end and
// withholds the last bytes when the hash is wrong: the read that would
// reach the end fails instead, so the client gets a short transfer, never a
// whole wrong file. Reading anywhere but where the hash has got to (a
// Range) stops the hashing; seeking to the end and back, as
// http.ServeContent does to learn the size, does not.
type verifyingReader struct {
	BlobReader
	s       *Service
	f       *File
	h       hash.Hash
	hashed  int64 // bytes hashed, from the start
	cur     int64 // the position of the reader
	hashing bool
}

func (s *Service) verifying(f *File, r BlobReader) BlobReader {
	return &verifyingReader{BlobReader: r, s: s, f: f, h: sha256.New(), hashing: true}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.hashing && v.cur != v.hashed {
		v.hashing = false
	}
	n, err := v.BlobReader.Read(p)
	v.cur += int64(n)
	if !v.hashing {
		return n, err
	}
	v.h.Write(p[:n])
	v.hashed += int64(n)
	if v.hashed >= v.f.Blob.Size {
		v.hashing = false
		var buf [sha256.Size]byte
		if got := hex.EncodeToString(v.h.Sum(buf[:0])); got != v.f.Blob.SHA256 || v.hashed > v.f.Blob.Size {
			return 0, v.s.blobFault(v.f, faultHash, BlobCorrupt, "content hashes to "+got)
		}
	}
	return n, err
}

func (v *verifyingReader) Seek(offset int64, whence int) (int64, error) {
	n, err := v.BlobReader.Seek(offset, whence)
	if err == nil {
		v.cur = n
	}
	return n, err
}

// prepareRepair readies an upload whose content has a digest known
// damaged: the stored bytes are removed, so that the upload's commit writes
// its own (a commit otherwise keeps the blob already stored under the
// digest). The upload calls repaired once its file is recorded.
func (s *Service) prepareRepair(ctx context.Context, sha string) error {
	if _, ok := s.damage.get(sha); !ok {
		return nil
	}
	if err := s.blobs.Delete(ctx, sha); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("remove damaged blob %s: %w", sha, err)
	}
	return nil
}

// repaired forgets the damage of a blob an upload has just stored good
// bytes for; nothing when it was not known damaged.
func (s *Service) repaired(ctx context.Context, sha string) {
	if _, ok := s.damage.get(sha); !ok {
		return
	}
	s.NoteBlobDamage(sha, "")
	if err := s.store.ClearBlobDamage(ctx, sha); err != nil {
		s.opts.Logger.Warn("clearing a repaired blob's damage", "sha256", sha, "err", err)
	}
	s.opts.Logger.Info("a damaged blob was uploaded again and is repaired", "sha256", sha)
}
