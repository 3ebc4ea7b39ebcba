package s3blob

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7"
)

// Linked blobs. An upload larger than Config.LinkSize (or of unknown size)
// streams straight into data/<random>, with its marker tmp/<random> (the
// same <random>) written first. Commit then puts, at the blob's key, an
// empty link object whose metadata names the data object, instead of
// copying the bytes there: S3 has no rename, and a server-side copy is a
// second full write of the object (on MinIO, about as long as the upload
// itself). The marker lives until the link is in place (and is written
// again by Delete before it removes a link), and says which digest it is
// for, so CleanTemp can tell, for every stale marker, whether its data
// object is a blob's (a link names it: keep it) or garbage (remove it).
//
// Commits of one digest do not race: the metadata store runs them one at
// a time (the blob record's row), and a link is put with If-None-Match: *
// where the object store supports it, so a lost race keeps the first link
// and discards the second upload's bytes.
const (
	metaData   = "Depot-Data"   // a link's metadata: the data object, relative to the prefix
	metaDigest = "Depot-Digest" // a marker's metadata: the digest it is committed or deleted as
)

func (s *Store) dataPrefix() string { return s.prefix + "data/" }

// dataKeyOf returns the data object of the marker tmp/<random>, "" for any
// other key.
func (s *Store) dataKeyOf(marker string) string {
	r, ok := strings.CutPrefix(marker, s.tmpPrefix())
	if !ok || r == "" || strings.Contains(r, copyMarkerInfix) || strings.Contains(r, "/") {
		return ""
	}
	return s.dataPrefix() + r
}

// markerOf returns the marker of the data object data/<random>.
func (s *Store) markerOf(data string) string {
	return s.tmpPrefix() + strings.TrimPrefix(data, s.dataPrefix())
}

// userMeta returns the user metadata value name of an object, whatever the
// case of its key.
func userMeta(info minio.ObjectInfo, name string) string {
	for k, v := range info.UserMetadata {
		if strings.EqualFold(k, name) || strings.EqualFold(k, "X-Amz-Meta-"+name) {
			return v
		}
	}
	return ""
}

// linkTarget returns the data object a blob key's object links to, false
// when it holds the blob's bytes itself.
func (s *Store) linkTarget(info minio.ObjectInfo) (string, bool) {
	rel := userMeta(info, metaData)
	if rel == "" {
		return "", false
	}
	key := s.prefix + rel
	if r, ok := strings.CutPrefix(key, s.dataPrefix()); !ok || r == "" || strings.Contains(r, "/") || info.Size != 0 {
		// Not a link depot wrote: read the object as it is.
		return "", false
	}
	return key, true
}

// resolve returns the key holding the bytes of the blob digest and its
// size: the blob's own key, or the data object it links to. ErrInvalid,
// ErrNotFound (also for a link whose data object is gone).
func (s *Store) resolve(ctx context.Context, digest string) (string, int64, error) {
	key, err := s.blobKey(digest)
	if err != nil {
		return "", 0, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return "", 0, translate(err)
	}
	data, ok := s.linkTarget(info)
	if !ok {
		return key, info.Size, nil
	}
	dinfo, err := s.client.StatObject(ctx, s.bucket, data, minio.StatObjectOptions{})
	if err != nil {
		return "", 0, fmt.Errorf("data object of a linked blob: %w", translate(err))
	}
	return data, dinfo.Size, nil
}

// putLink puts the link to data at the blob key key, unless an object is
// there already (then it reports true and changes nothing, where the store
// supports If-None-Match on PUT).
func (s *Store) putLink(ctx context.Context, key, data string) (exists bool, err error) {
	opts := minio.PutObjectOptions{UserMetadata: map[string]string{metaData: strings.TrimPrefix(data, s.prefix)}}
	cond := opts
	cond.SetMatchETagExcept("*")
	_, err = s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(nil), 0, cond)
	switch errCode(err) {
	case "":
		return false, translate(err)
	case "PreconditionFailed":
		return true, nil
	case "NotImplemented":
		// No conditional writes here: the metadata store's serialization
		// of commits of one digest is what remains.
		_, err = s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(nil), 0, opts)
		return false, translate(err)
	}
	return false, translate(err)
}

// markFor writes the marker of a data object again, naming the digest it is
// being committed or deleted as.
func (s *Store) markFor(ctx context.Context, marker, digest string) error {
	_, err := s.client.PutObject(ctx, s.bucket, marker, bytes.NewReader(nil), 0,
		minio.PutObjectOptions{UserMetadata: map[string]string{metaDigest: digest}})
	if err != nil {
		return fmt.Errorf("write marker: %w", translate(err))
	}
	return nil
}

// deleteLinked removes the link at key and its data object: the marker
// first (naming digest), so a crash in between leaves a marker CleanTemp
// finishes the work from; then the link, the data and the marker.
func (s *Store) deleteLinked(ctx context.Context, digest, key, data string) error {
	marker := s.markerOf(data)
	if err := s.markFor(ctx, marker, digest); err != nil {
		return fmt.Errorf("delete blob %s: %w", digest, err)
	}
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete blob %s: %w", digest, translate(err))
	}
	if err := s.client.RemoveObject(ctx, s.bucket, data, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete blob %s: data object: %w", digest, translate(err))
	}
	if err := s.client.RemoveObject(ctx, s.bucket, marker, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete blob %s: marker: %w", digest, translate(err))
	}
	return nil
}

// settleMarker decides the fate of a stale marker's data object: kept when
// the marker names a digest whose link names it, removed otherwise (an
// upload that never committed, lost a race, or a delete cut short). It
// reports whether the marker itself may go.
func (s *Store) settleMarker(ctx context.Context, marker string) error {
	data := s.dataKeyOf(marker)
	if data == "" {
		return nil
	}
	info, err := s.client.StatObject(ctx, s.bucket, marker, minio.StatObjectOptions{})
	if err != nil {
		if errCode(err) == minio.NoSuchKey {
			return nil
		}
		return fmt.Errorf("stat %q: %w", marker, err)
	}
	if d := userMeta(info, metaDigest); d != "" {
		key, err := s.blobKey(d)
		if err != nil {
			return fmt.Errorf("marker %q: %w", marker, err)
		}
		linfo, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
		switch {
		case err == nil:
			if target, ok := s.linkTarget(linfo); ok && target == data {
				return nil // a blob's bytes
			}
		case errCode(err) != minio.NoSuchKey:
			return fmt.Errorf("stat %q: %w", key, err)
		}
	}
	if err := s.client.RemoveObject(ctx, s.bucket, data, minio.RemoveObjectOptions{}); err != nil && errCode(err) != minio.NoSuchKey {
		return fmt.Errorf("remove %q: %w", data, err)
	}
	return nil
}
