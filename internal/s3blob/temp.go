package s3blob

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// copyMarkerInfix separates a staging key from the digest in a copy
// marker's key.
const copyMarkerInfix = ".copy-"

// uploadKeysOf returns the keys on which the tmp/ object key may have an
// unfinished multipart upload: a staging object's own key and its data
// object's (a linked upload), or the blob key a copy marker names.
func (s *Store) uploadKeysOf(key string) []string {
	if i := strings.LastIndex(key, copyMarkerInfix); i >= 0 {
		if dst, err := s.blobKey(key[i+len(copyMarkerInfix):]); err == nil {
			return []string{dst}
		}
	}
	if data := s.dataKeyOf(key); data != "" {
		return []string{key, data}
	}
	return []string{key}
}

// listUploads returns the unfinished multipart uploads whose keys start with
// prefix. MinIO answers only for a prefix that is an exact key.
func (s *Store) listUploads(ctx context.Context, prefix string) ([]minio.ObjectMultipartInfo, error) {
	var out []minio.ObjectMultipartInfo
	keyMarker, idMarker := "", ""
	for {
		res, err := s.core.ListMultipartUploads(ctx, s.bucket, prefix, keyMarker, idMarker, "", 1000)
		if err != nil {
			return nil, fmt.Errorf("list multipart uploads of %q: %w", prefix, err)
		}
		for _, u := range res.Uploads {
			if strings.HasPrefix(u.Key, prefix) {
				out = append(out, u)
			}
		}
		if !res.IsTruncated {
			return out, nil
		}
		if res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker {
			return nil, fmt.Errorf("list multipart uploads of %q: the listing does not advance", prefix)
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

// abortUploads aborts every unfinished multipart upload of key.
func (s *Store) abortUploads(ctx context.Context, key string) error {
	ups, err := s.listUploads(ctx, key)
	if err != nil {
		return err
	}
	for _, u := range ups {
		if u.Key != key {
			continue
		}
		if err := s.core.AbortMultipartUpload(ctx, s.bucket, key, u.UploadID); err != nil && errCode(err) != minio.NoSuchUpload {
			return fmt.Errorf("abort multipart upload of %q: %w", key, err)
		}
	}
	return nil
}

// temps returns the tmp/ objects and the unfinished multipart uploads of the
// store: those a prefix listing finds (on AWS S3, every one under the
// store's prefix), and those on the keys the tmp/ objects lead to.
func (s *Store) temps(ctx context.Context) ([]minio.ObjectInfo, []minio.ObjectMultipartInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var objs []minio.ObjectInfo
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.tmpPrefix(), Recursive: true}) {
		if obj.Err != nil {
			return nil, nil, fmt.Errorf("list staging objects: %w", obj.Err)
		}
		objs = append(objs, obj)
	}

	var ups []minio.ObjectMultipartInfo
	seen := make(map[string]bool)
	add := func(us []minio.ObjectMultipartInfo) {
		for _, u := range us {
			// Only the store's own keys: the bucket may hold other data.
			ours := strings.HasPrefix(u.Key, s.tmpPrefix()) || strings.HasPrefix(u.Key, s.blobsPrefix()) || strings.HasPrefix(u.Key, s.dataPrefix())
			if ours && !seen[u.UploadID] {
				seen[u.UploadID] = true
				ups = append(ups, u)
			}
		}
	}
	all, err := s.listUploads(ctx, s.prefix)
	if err != nil {
		return nil, nil, err
	}
	add(all)
	for _, obj := range objs {
		for _, key := range s.uploadKeysOf(obj.Key) {
			exact, err := s.listUploads(ctx, key)
			if err != nil {
				return nil, nil, err
			}
			add(slices.DeleteFunc(exact, func(u minio.ObjectMultipartInfo) bool { return u.Key != key }))
		}
	}
	return objs, ups, nil
}

// TempUploads lists what uploads in progress (or left by a crash) hold in
// the bucket: the tmp/ objects, and unfinished multipart uploads as
// "KEY (multipart upload ID)", keys relative to the prefix.
func (s *Store) TempUploads() ([]string, error) {
	objs, ups, err := s.temps(context.Background())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range objs {
		out = append(out, strings.TrimPrefix(o.Key, s.prefix))
	}
	for _, u := range ups {
		out = append(out, fmt.Sprintf("%s (multipart upload %s)", strings.TrimPrefix(u.Key, s.prefix), u.UploadID))
	}
	slices.Sort(out)
	return out, nil
}

// CleanTemp aborts the unfinished multipart uploads initiated before cutoff
// and removes the tmp/ objects last modified before cutoff that no later
// multipart upload still needs, with the data object of such a marker unless
// a blob links to it, and returns how many it aborted and removed (a data
// object counts with its marker).
// Only a crash leaves such things behind, as long as cutoff is older than the
// start of the longest upload in progress (which CleanTemp would abort).
func (s *Store) CleanTemp(cutoff time.Time) (int, error) {
	ctx := context.Background()
	objs, ups, err := s.temps(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	live := make(map[string]bool) // keys with a multipart upload that stays
	for _, u := range ups {
		if !u.Initiated.Before(cutoff) {
			live[u.Key] = true
			continue
		}
		if err := s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID); err != nil && errCode(err) != minio.NoSuchUpload {
			live[u.Key] = true
			errs = append(errs, fmt.Errorf("abort multipart upload of %q: %w", u.Key, err))
			continue
		}
		n++
	}
	for _, o := range objs {
		if !o.LastModified.Before(cutoff) || slices.ContainsFunc(s.uploadKeysOf(o.Key), func(k string) bool { return live[k] }) {
			continue
		}
		// A linked upload's marker: its data object goes first, unless a
		// link names it.
		if err := s.settleMarker(ctx, o.Key); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.client.RemoveObject(ctx, s.bucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("remove %q: %w", o.Key, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
