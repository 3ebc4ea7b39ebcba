package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Upload is one file to send: where, its size, and a way to (re)open its
// bytes from an offset (a retry, or a resumable protocol continuing).
type Upload struct {
	// URL is the file's Gitea generic route.
	URL  string
	Name string
	Size int64
	// Open returns the file's bytes from offset on.
	Open func(offset int64) (io.ReadCloser, error)
	// SHA256, when known (TransferOptions.Verify), is declared with the
	// upload (X-Checksum-Sha256): the server refuses bytes that do not
	// have it and stores nothing.
	SHA256 string
}

// Uploader sends one file's bytes, once: the Client retries around it.
// It returns nil once the server has stored the file, an *HTTPError for a
// refusal (a 409 when the name exists), any other error for a failed
// connection. PlainUploader is one PUT; a resumable protocol (the IETF
// resumable upload draft, on servers that offer it) fits behind the same
// interface, continuing from the offset the server reports.
type Uploader interface {
	Upload(ctx context.Context, c *Client, u Upload, p Progress) error
}

// PlainUploader sends a file with one PUT and Content-Length.
type PlainUploader struct{}

// Upload implements Uploader.
func (PlainUploader) Upload(ctx context.Context, c *Client, u Upload, p Progress) error {
	body, err := u.Open(0)
	if err != nil {
		return err
	}
	defer body.Close()
	p.SetCurrent(0)
	var rd io.Reader = &countingReader{r: body, p: p}
	if f, ok := body.(*os.File); ok && !countsBytes(p) {
		// Nobody watches the bytes go: hand the file itself to the
		// transport, which sends it with sendfile.
		rd = f
	}
	req, err := c.newRequest(ctx, http.MethodPut, u.URL, rd)
	if err != nil {
		return err
	}
	req.ContentLength = u.Size
	if u.Size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if u.SHA256 != "" {
		req.Header.Set("X-Checksum-Sha256", u.SHA256)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return newHTTPError(resp)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}

// countingReader reports the bytes read to p.
type countingReader struct {
	r io.Reader
	p Progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		c.p.Add(n)
	}
	return n, err
}

// TransferOptions tune Push and Pull.
type TransferOptions struct {
	// Parallel is the most files moving at once; 0 means 4.
	Parallel int
	// Verify makes Push hash each file before sending it: the upload
	// declares its sha256, and where the server deploys by checksum (depot
	// says so on GET /api/v1/version) a file whose content it holds, and
	// the caller may read, is made there without sending it (Deployed).
	// It costs one read of each file; without it nothing is hashed unless
	// the name exists.
	Verify bool
}

func (o TransferOptions) parallel() int {
	if o.Parallel <= 0 {
		return 4
	}
	return o.Parallel
}

// each runs fn for every index, at most n at a time, and returns the
// results in order.
func each(ctx context.Context, count, n int, fn func(ctx context.Context, i int) FileResult) []FileResult {
	out := make([]FileResult, count)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(n)
	for i := range count {
		g.Go(func() error {
			out[i] = fn(ctx, i)
			return nil
		})
	}
	g.Wait()
	return out
}

// FirstError returns the first failed result's error, nil when all
// succeeded.
func FirstError(rs []FileResult) error {
	for _, r := range rs {
		if r.Status == Failed {
			return r.Err
		}
	}
	return nil
}

// Push uploads files (local paths; each stored under its base name) to
// ref's version, several at once. A file the server already holds with the
// same sha256 is Exists (a retried publish is done); with other content it
// fails with ErrConflict. Each result carries the sha256 the server stored. The error is for the call as a whole (bad
// arguments); each file's outcome is in its result.
func (c *Client) Push(ctx context.Context, ref Ref, files []string, opts TransferOptions, ev Events) ([]FileResult, error) {
	if ref.Package == "" || ref.Version == "" || ref.File != "" {
		return nil, fmt.Errorf("%w reference %q: want owner/name@version", ErrInvalid, ref)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no files to push", ErrInvalid)
	}
	seen := map[string]string{}
	for _, f := range files {
		base := strings.ToLower(filepath.Base(f))
		if prev, ok := seen[base]; ok {
			return nil, fmt.Errorf("%w: %s and %s would both be stored as %s", ErrInvalid, prev, f, filepath.Base(f))
		}
		seen[base] = f
	}
	if ev == nil {
		ev = NoEvents{}
	}
	var mu sync.Mutex // Start may draw; keep announcements in argument order per batch
	return each(ctx, len(files), opts.parallel(), func(ctx context.Context, i int) FileResult {
		mu.Lock()
		path := files[i]
		name := filepath.Base(path)
		fi, err := os.Stat(path)
		size := int64(-1)
		if err == nil {
			size = fi.Size()
		}
		p := ev.Start(name, size)
		mu.Unlock()
		r := FileResult{Name: name, Path: path, Size: size}
		if err == nil && !fi.Mode().IsRegular() {
			err = fmt.Errorf("%w: %s is not a regular file", ErrInvalid, path)
		}
		if err == nil {
			err = c.pushOne(ctx, ref, path, &r, p, opts.Verify)
		}
		if err != nil {
			r.Status, r.Err, r.Error = Failed, err, err.Error()
		}
		p.Done(r)
		return r
	}), nil
}

func (c *Client) pushOne(ctx context.Context, ref Ref, path string, r *FileResult, p Progress, verify bool) error {
	up := Upload{URL: c.fileURL(ref.Owner, ref.Package, ref.Version, r.Name), Name: r.Name, Size: r.Size,
		Open: func(offset int64) (io.ReadCloser, error) {
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			if _, err := f.Seek(offset, io.SeekStart); err != nil {
				f.Close()
				return nil, err
			}
			return f, nil
		}}
	var err error
	deployed := false
	if verify {
		if up.SHA256, err = hashPath(path); err != nil {
			return err
		}
		if c.deploysByChecksum(ctx) {
			err = c.retrying(ctx, func(attempt int) error {
				r.Attempts = attempt
				return c.deploy(ctx, up)
			}, p.Retry)
			deployed = err == nil
			if errors.Is(err, ErrNotFound) {
				err = nil // the server has no content we may read: send it
			}
		}
	}
	if !deployed && err == nil {
		err = c.retrying(ctx, func(attempt int) error {
			r.Attempts = attempt
			return c.uploader.Upload(ctx, c, up, p)
		}, p.Retry)
	}
	var he *HTTPError
	switch {
	case errors.Is(err, ErrConflict) && errors.As(err, &he) && he.Identical != "":
		// depot said whether the stored content is what we sent.
		r.SHA256 = he.ExistingSHA256
		if he.Identical != "true" {
			return fmt.Errorf("%s exists in %s with other content (sha256 %s): %w", r.Name, ref, he.ExistingSHA256, ErrConflict)
		}
		r.Status = Exists
		return nil
	case errors.Is(err, ErrConflict):
		// The name exists (maybe stored by an attempt whose answer was
		// lost): done when the bytes are the same.
		f, oerr := os.Open(path)
		if oerr != nil {
			return oerr
		}
		local, _, herr := fileSHA256(f)
		f.Close()
		if herr != nil {
			return herr
		}
		remote, rerr := c.remoteSHA256(ctx, ref.Owner, ref.Package, ref.Version, r.Name)
		if rerr != nil {
			return fmt.Errorf("%w (and its sha256 could not be read: %v)", err, rerr)
		}
		r.SHA256 = local
		if remote != local {
			return fmt.Errorf("%s exists in %s with other content (sha256 %s, local %s): %w", r.Name, ref, remote, local, ErrConflict)
		}
		r.Status = Exists
		return nil
	case err != nil:
		return err
	}
	if up.SHA256 != "" {
		// Declared and checked by the server before it stored the file.
		r.SHA256 = up.SHA256
		r.Status = Uploaded
		if deployed {
			r.Status = Deployed
		}
		return nil
	}
	// The sha256 the server computed while storing. Without Verify the
	// client does not hash what it sends: on a 2-core machine that pass
	// would be most of the upload's cost and TCP already checks each
	// segment; with it, the sha256 is declared and checked by the server.
	remote, err := c.remoteSHA256(ctx, ref.Owner, ref.Package, ref.Version, r.Name)
	if err != nil {
		return fmt.Errorf("uploaded, but reading back its sha256: %w", err)
	}
	r.SHA256 = remote
	r.Status = Uploaded
	return nil
}

// hashPath returns the sha256 of a local file.
func hashPath(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sum, _, err := fileSHA256(f)
	return sum, err
}

// deploysByChecksum reports whether the server says (on GET
// /api/v1/version) that it deploys by checksum; asked once per Client. A
// server that does not say so (Gitea, Forgejo) would store a deploy's
// empty PUT as an empty file, so it is never sent one.
func (c *Client) deploysByChecksum(ctx context.Context) bool {
	c.featuresOnce.Do(func() {
		resp, err := c.do(ctx, http.MethodGet, c.endpoint(nil, "api", "v1", "version"), nil)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		for _, f := range strings.Split(resp.Header.Get("X-Depot-Features"), ",") {
			if strings.TrimSpace(f) == "deploy-by-checksum" {
				c.deploys = true
			}
		}
	})
	return c.deploys
}

// deploy asks the server to make u from content it holds with u.SHA256
// (Artifactory's X-Checksum-Deploy), sending no body. An *HTTPError of
// ErrNotFound means it holds none the caller may read.
func (c *Client) deploy(ctx context.Context, u Upload) error {
	req, err := c.newRequest(ctx, http.MethodPut, u.URL, http.NoBody)
	if err != nil {
		return err
	}
	req.Header.Set("X-Checksum-Deploy", "true")
	req.Header.Set("X-Checksum-Sha256", u.SHA256)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return newHTTPError(resp)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}
