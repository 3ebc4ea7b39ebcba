package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/depot-registry/depot/internal/semverrange"
)

// Resolve turns a version spec into a stored version: the spec itself when
// a version of that name exists (Gitea accepts almost any string as a
// version, so a stored name always wins), else "latest" or a semver range
// resolved by the server's latest and range route (depot answers a HEAD of
// .../{name}/-/range/{range}/-/archive.zip with a 302 naming the version),
// or, where the server has no such route (Gitea, Forgejo), over the
// version listing with package semverrange: the same rule. No match is
// ErrNotFound naming the range.
func (c *Client) Resolve(ctx context.Context, owner, pkg, spec string) (string, []RemoteFile, error) {
	if spec != "" {
		files, err := c.ListFiles(ctx, owner, pkg, spec)
		if err == nil {
			return spec, files, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return "", nil, err
		}
		if !semverrange.IsLatest(spec) {
			if perr := semverrange.Parse(spec); perr != nil {
				return "", nil, fmt.Errorf("%s/%s@%s: no such version, and not a range: %w", owner, pkg, spec, ErrNotFound)
			}
		}
	}
	if v, ok, err := c.resolveOnServer(ctx, owner, pkg, spec); err != nil {
		return "", nil, err
	} else if ok {
		files, err := c.ListFiles(ctx, owner, pkg, v)
		return v, files, err
	}
	vs, err := c.ListVersions(ctx, owner, pkg)
	if err != nil {
		return "", nil, err
	}
	cands := make([]semverrange.Version, len(vs))
	for i, v := range vs {
		cands[i] = semverrange.Version{Name: v.Version, Created: v.CreatedAt}
	}
	v, err := semverrange.Select(spec, cands)
	if err != nil {
		return "", nil, fmt.Errorf("%s/%s: %v: %w", owner, pkg, err, ErrNotFound)
	}
	files, err := c.ListFiles(ctx, owner, pkg, v.Name)
	return v.Name, files, err
}

// resolvedHeader names the version on the redirect of depot's latest and
// range route (internal/httpapi.ResolvedHeader).
const resolvedHeader = "X-Depot-Resolved-Version"

// resolveOnServer asks depot's latest or range route which version spec
// selects, with a HEAD of the latest archive that does not follow the
// redirect. ok is false when the answer is not depot's redirect: a server
// without the route (Gitea, Forgejo answer 404) or no match; the listing
// then decides (and names the range in its not-found). An authentication
// or access error is the answer.
func (c *Client) resolveOnServer(ctx context.Context, owner, pkg, spec string) (version string, ok bool, err error) {
	segs := []string{"/api/packages", owner, "/generic", pkg, "/-"}
	if semverrange.IsLatest(spec) {
		segs = append(segs, "/latest")
	} else {
		segs = append(segs, "/range", spec)
	}
	u := c.endpoint(nil, append(segs, "/-", "/archive.zip")...)
	noFollow := *c.http
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	err = c.retrying(ctx, func(int) error {
		req, err := c.newRequest(ctx, http.MethodHead, u, nil)
		if err != nil {
			return err
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		switch s := resp.StatusCode; {
		case s == http.StatusFound && resp.Header.Get(resolvedHeader) != "":
			version, ok = resp.Header.Get(resolvedHeader), true
		case s == http.StatusUnauthorized, s == http.StatusForbidden, retryableStatus(s):
			return newHTTPError(resp)
		}
		return nil
	}, nil)
	return version, ok, err
}

// Pull downloads files of a version (all of them when names is empty)
// into dir, several at once, and returns the version resolved from
// ref.Version and each file's result. Every download is verified against
// the server's sha256 while it streams; it goes to NAME.part first and is
// renamed into place only when verified. An interrupted download leaves
// NAME.part (and NAME.part.etag, the validator it belongs to) and the next
// try continues it with Range and If-Range, starting over when the
// server's content changed. A local file already holding the server's
// sha256 is Skipped.
func (c *Client) Pull(ctx context.Context, ref Ref, names []string, dir string, opts TransferOptions, ev Events) (string, []FileResult, error) {
	if ref.Package == "" || ref.File != "" {
		return "", nil, fmt.Errorf("%w reference %q: want owner/name[@version-or-range]", ErrInvalid, ref)
	}
	version, files, err := c.Resolve(ctx, ref.Owner, ref.Package, ref.Version)
	if err != nil {
		return "", nil, err
	}
	want := files
	if len(names) > 0 {
		want = nil
		seen := map[int]bool{}
		for _, n := range names {
			i := indexFile(files, n)
			if i < 0 {
				return version, nil, fmt.Errorf("file %s in %s/%s@%s: %w", n, ref.Owner, ref.Package, version, ErrNotFound)
			}
			if !seen[i] { // a name given twice is one download, not two into one part file
				seen[i] = true
				want = append(want, files[i])
			}
		}
	}
	for _, f := range want {
		if f.Name == "" || f.Name == "." || f.Name == ".." || strings.ContainsAny(f.Name, `/\`) {
			return version, nil, fmt.Errorf("%w file name %q from the server", ErrInvalid, f.Name)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return version, nil, err
	}
	if ev == nil {
		ev = NoEvents{}
	}
	rs := each(ctx, len(want), opts.parallel(), func(ctx context.Context, i int) FileResult {
		f := want[i]
		r := FileResult{Name: f.Name, Path: filepath.Join(dir, f.Name), Size: f.Size}
		p := ev.Start(f.Name, f.Size)
		err := c.pullOne(ctx, ref.Owner, ref.Package, version, f, &r, p)
		if err != nil {
			r.Status, r.Err, r.Error = Failed, err, err.Error()
		}
		p.Done(r)
		return r
	})
	return version, rs, nil
}

func indexFile(fs []RemoteFile, name string) int {
	for i, f := range fs {
		if f.Name == name {
			return i
		}
	}
	for i, f := range fs {
		if strings.EqualFold(f.Name, name) {
			return i
		}
	}
	return -1
}

func (c *Client) pullOne(ctx context.Context, owner, pkg, version string, f RemoteFile, r *FileResult, p Progress) error {
	expect := strings.ToLower(f.SHA256)
	if isSHA256(expect) {
		if lf, err := os.Open(r.Path); err == nil {
			local, _, herr := fileSHA256(lf)
			lf.Close()
			if herr == nil && local == expect {
				r.SHA256, r.Status = local, Skipped
				p.SetCurrent(f.Size)
				return nil
			}
		}
	}
	d := &download{c: c, url: c.fileURL(owner, pkg, version, f.Name), path: r.Path, part: r.Path + ".part", expect: expect, p: p}
	defer d.close()
	if err := d.open(); err != nil {
		return err
	}
	err := c.retrying(ctx, func(attempt int) error {
		r.Attempts = attempt
		return d.fetch(ctx)
	}, p.Retry)
	if err != nil {
		if errors.Is(err, ErrVerify) {
			d.discard()
		}
		return err
	}
	r.SHA256, r.Size, r.ResumedAt = d.sum, d.off, d.from
	r.Status = Downloaded
	return nil
}

// download is one file's resumable download into path.part.
type download struct {
	c          *Client
	url        string
	path, part string
	expect     string // the listing's sha256, "" when unknown
	p          Progress
	f          *os.File
	off        int64
	h          *asyncHash
	etag       string // the validator the part's bytes belong to
	from       int64  // where the last answer started: >0 for a continued download
	sum        string
}

// open opens (or creates) the part file and, when it continues an earlier
// download of the same content, hashes its bytes once.
func (d *download) open() error {
	f, err := os.OpenFile(d.part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	d.f = f
	d.h = newAsyncHash()
	etag, _ := os.ReadFile(d.part + ".etag")
	d.etag = strings.TrimSpace(string(etag))
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	// Continue only a part whose validator is known and still names the
	// content the listing shows (depot's ETag is the quoted sha256).
	if fi.Size() == 0 || d.etag == "" || (d.expect != "" && isSHA256(strings.Trim(d.etag, `"`)) && strings.Trim(d.etag, `"`) != d.expect) {
		return d.restart()
	}
	n, err := io.CopyBuffer(d.h, f, make([]byte, 1<<20))
	if err != nil {
		return err
	}
	d.off = n
	d.p.SetCurrent(n)
	return nil
}

// restart empties the part file.
func (d *download) restart() error {
	if err := d.f.Truncate(0); err != nil {
		return err
	}
	if _, err := d.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	d.h.close()
	d.h = newAsyncHash()
	d.off = 0
	d.p.SetCurrent(0)
	return nil
}

// fetch asks for the bytes from d.off on and appends them, then verifies
// and renames the part into place.
func (d *download) fetch(ctx context.Context) error {
	req, err := d.c.newRequest(ctx, http.MethodGet, d.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "*/*")
	if d.off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(d.off, 10)+"-")
		if d.etag != "" {
			req.Header.Set("If-Range", d.etag)
		}
	}
	resp, err := d.c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	d.from = 0
	switch resp.StatusCode {
	case http.StatusOK:
		if d.off > 0 { // the content changed (If-Range failed): start over
			if err := d.restart(); err != nil {
				return err
			}
		}
	case http.StatusPartialContent:
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != d.off {
			return fmt.Errorf("GET %s: answer starts at %q, asked for %d", redact(d.url), resp.Header.Get("Content-Range"), d.off)
		}
		d.from = d.off
	case http.StatusRequestedRangeNotSatisfiable:
		// The part is as long as (or longer than) the file: start over.
		if err := d.restart(); err != nil {
			return err
		}
		return &HTTPError{Method: http.MethodGet, URL: redact(d.url), Status: http.StatusServiceUnavailable, Message: "range not satisfiable; starting over"}
	default:
		return newHTTPError(resp)
	}
	serverSum := headerSHA256(resp.Header)
	if serverSum == "" {
		serverSum = d.expect
	}
	if et := resp.Header.Get("ETag"); et != "" && et != d.etag {
		d.etag = et
		if err := os.WriteFile(d.part+".etag", []byte(et+"\n"), 0o644); err != nil {
			return err
		}
	}
	for {
		// Read into the hash's buffer, which is then hashed as it is.
		buf := d.h.buffer()
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := d.f.Write(buf[:n]); err != nil {
				d.h.submit(buf[:0])
				return err
			}
			d.off += int64(n)
			d.p.Add(n)
		}
		d.h.submit(buf[:n])
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	d.sum = d.h.Sum()
	if serverSum == "" {
		return fmt.Errorf("GET %s: the server names no sha256 to verify against: %w", redact(d.url), ErrVerify)
	}
	if d.sum != serverSum {
		return fmt.Errorf("%s: received sha256 %s, the server's is %s: %w", filepath.Base(d.path), d.sum, serverSum, ErrVerify)
	}
	if err := d.f.Close(); err != nil {
		return err
	}
	d.f = nil
	if err := os.Rename(d.part, d.path); err != nil {
		return err
	}
	os.Remove(d.part + ".etag")
	return nil
}

// close releases the part file (left in place for a later resume).
func (d *download) close() {
	if d.f != nil {
		d.f.Close()
	}
	if d.h != nil {
		d.h.close()
	}
}

// discard removes the part file and its validator: bytes that failed
// verification are never resumed.
func (d *download) discard() {
	d.close()
	d.f = nil
	for _, p := range []string{d.part, d.part + ".etag"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue
		}
	}
}

// rangeStart parses the first byte of "bytes START-END/SIZE".
func rangeStart(cr string) (int64, bool) {
	s, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	i := strings.IndexByte(s, '-')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	return n, err == nil
}
