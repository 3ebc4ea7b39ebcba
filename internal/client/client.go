// Package client is depot's transfer library: what `depot push`, `pull`,
// `ls`, `rm` and `login` do, through the plain HTTP API of the Gitea
// dialect (`/api/packages/{owner}/generic/...` for the bytes, `/api/v1/packages`
// for listings), so it works against depot and, for the parts they have,
// a real Gitea or Forgejo.
//
// The CLI only parses arguments and picks a display; the transfer logic
// reports what happens to an Events value (progress bars, quiet lines or
// JSON are implementations of it, in package display), as oras's CLI
// separates oras-go's content transfer from its display.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options tune a Client; nil means the defaults.
type Options struct {
	// HTTPClient sends the requests; nil means a client with its own
	// transport (a connection per parallel transfer, no overall timeout).
	HTTPClient *http.Client
	// Retry bounds the attempts after connection errors and 5xx answers.
	Retry RetryPolicy
	// Uploader sends a file's bytes; nil means PlainUploader (one PUT).
	Uploader Uploader
	// UserAgent is sent with every request.
	UserAgent string
}

// RetryPolicy is a bounded exponential backoff.
type RetryPolicy struct {
	// Attempts is the most tries of one request (the first included); 0
	// means 5.
	Attempts int
	// Initial is the wait before the second try, doubled each time up to
	// Max; 0 means 250ms and 5s.
	Initial, Max time.Duration
}

func (p RetryPolicy) attempts() int {
	if p.Attempts <= 0 {
		return 5
	}
	return p.Attempts
}

// wait sleeps before try number attempt+1 (attempt counts from 1), or
// returns ctx's error.
func (p RetryPolicy) wait(ctx context.Context, attempt int) error {
	d, max := p.Initial, p.Max
	if d <= 0 {
		d = 250 * time.Millisecond
	}
	if max <= 0 {
		max = 5 * time.Second
	}
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Client talks to one server with one token.
type Client struct {
	base     *url.URL
	token    string
	http     *http.Client
	retry    RetryPolicy
	uploader Uploader
	agent    string
	// featuresOnce guards deploys: whether the server deploys by
	// checksum (deploysByChecksum).
	featuresOnce sync.Once
	deploys      bool
}

// New returns a client of the server at baseURL (http or https, with an
// optional path prefix) sending token, which may be empty (anonymous).
func New(baseURL, token string, opts *Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w server URL %q: want http(s)://host[:port][/prefix]", ErrInvalid, baseURL)
	}
	if opts == nil {
		opts = &Options{}
	}
	c := &Client{base: u, token: token, http: opts.HTTPClient, retry: opts.Retry, uploader: opts.Uploader, agent: opts.UserAgent}
	if c.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 16
		tr.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		// Large reads and writes: fewer system calls on 1 GiB transfers.
		tr.WriteBufferSize, tr.ReadBufferSize = 256<<10, 256<<10
		c.http = &http.Client{Transport: tr}
	}
	if c.uploader == nil {
		c.uploader = PlainUploader{}
	}
	if c.agent == "" {
		c.agent = "depot-client"
	}
	return c, nil
}

// BaseURL returns the server's URL as given.
func (c *Client) BaseURL() string { return c.base.String() }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// endpoint joins escaped path segments onto the base URL.
func (c *Client) endpoint(query url.Values, segs ...string) string {
	var b strings.Builder
	b.WriteString(c.base.String())
	for _, s := range segs {
		b.WriteByte('/')
		if strings.HasPrefix(s, "/") { // a literal route part
			b.WriteString(s[1:])
			continue
		}
		b.WriteString(url.PathEscape(s))
	}
	if len(query) > 0 {
		b.WriteByte('?')
		b.WriteString(query.Encode())
	}
	return b.String()
}

// fileURL is the Gitea generic route of a file (or, with file "", of a
// version).
func (c *Client) fileURL(owner, pkg, version, file string) string {
	segs := []string{"/api/packages", owner, "/generic", pkg, version}
	if file != "" {
		segs = append(segs, file)
	}
	return c.endpoint(nil, segs...)
}

// newRequest builds a request with the credentials and user agent.
func (c *Client) newRequest(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		// HTTP Basic with the token as the user name and "x-oauth-basic"
		// as the password, which Gitea, Forgejo and depot accept on the
		// package routes and /api/v1 alike (Forgejo's package docs name
		// Basic only; `Authorization: token` is an OAuth2-method extra).
		req.SetBasicAuth(c.token, "x-oauth-basic")
	}
	req.Header.Set("User-Agent", c.agent)
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// temporary reports whether err (from a request or a body read) is worth
// another attempt: a connection failure, not a cancellation.
func temporary(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return retryableStatus(he.Status)
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, ErrVerify) && !errors.Is(err, ErrInvalid)
}

// retrying calls try (with the attempt's number, from 1) until it succeeds,
// fails for good (not temporary), or the policy's attempts are spent,
// waiting with backoff between tries; onRetry, when not nil, hears each
// failed attempt that another follows.
func (c *Client) retrying(ctx context.Context, try func(attempt int) error, onRetry func(attempt int, err error)) error {
	var err error
	for attempt := 1; attempt <= c.retry.attempts(); attempt++ {
		if attempt > 1 {
			if onRetry != nil {
				onRetry(attempt-1, err)
			}
			if werr := c.retry.wait(ctx, attempt-1); werr != nil {
				return werr
			}
		}
		if err = try(attempt); err == nil || !temporary(ctx, err) {
			return err
		}
	}
	return err
}

// do sends a body-less request with retries and returns a 2xx response
// (its body to close) or an error; non-2xx answers become HTTPError.
func (c *Client) do(ctx context.Context, method, u string, hdr http.Header) (*http.Response, error) {
	var resp *http.Response
	err := c.retrying(ctx, func(int) error {
		req, err := c.newRequest(ctx, method, u, nil)
		if err != nil {
			return err
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err = c.http.Do(req)
		if err == nil && resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotModified {
			err = newHTTPError(resp)
			resp.Body.Close()
		}
		return err
	}, nil)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// getJSON decodes a GET's JSON answer into v and returns the response
// headers.
func (c *Client) getJSON(ctx context.Context, u string, v any) (http.Header, error) {
	resp, err := c.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return nil, fmt.Errorf("GET %s: decoding the answer: %w", redact(u), err)
	}
	return resp.Header, nil
}

// Whoami checks the token with GET /api/v1/user and returns the user name.
// A token valid but without the read:user scope (403) is valid for
// packages: its user name is then "".
func (c *Client) Whoami(ctx context.Context) (string, error) {
	var u struct {
		Login string `json:"login"`
	}
	_, err := c.getJSON(ctx, c.endpoint(nil, "/api/v1/user"), &u)
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusForbidden {
		return "", nil
	}
	return u.Login, err
}

// PackageVersion is one version in a listing (Gitea's Package JSON).
type PackageVersion struct {
	Owner     string    `json:"owner"`
	Package   string    `json:"package"`
	Version   string    `json:"version"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	HTMLURL   string    `json:"html_url,omitempty"`
}

type apiPackage struct {
	Owner struct {
		Login string `json:"login"`
	} `json:"owner"`
	Type      string    `json:"type"`
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	HTMLURL   string    `json:"html_url"`
	CreatedAt time.Time `json:"created_at"`
}

// maxPages bounds every paged listing (50 per page: 500,000 entries).
const maxPages = 10000

// pages fetches a Gitea-paged listing (page from 1, limit 50) until a
// short page or X-Total-Count entries.
func (c *Client) pages(ctx context.Context, query url.Values, segs ...string) ([]apiPackage, error) {
	const limit = 50
	var out []apiPackage
	for page := 1; page <= maxPages; page++ {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(page))
		q.Set("limit", strconv.Itoa(limit))
		var batch []apiPackage
		h, err := c.getJSON(ctx, c.endpoint(q, segs...), &batch)
		if err != nil {
			return nil, err
		}
		out = append(out, batch...)
		total, terr := strconv.Atoi(h.Get("X-Total-Count"))
		if len(batch) < limit || (terr == nil && len(out) >= total) {
			break
		}
	}
	return out, nil
}

func toVersions(in []apiPackage, keep func(apiPackage) bool) []PackageVersion {
	out := make([]PackageVersion, 0, len(in))
	for _, p := range in {
		if keep != nil && !keep(p) {
			continue
		}
		out = append(out, PackageVersion{Owner: p.Owner.Login, Package: p.Name, Version: p.Version, Type: p.Type, CreatedAt: p.CreatedAt, HTMLURL: p.HTMLURL})
	}
	return out
}

// ListOwner lists every generic package version of owner, newest first.
func (c *Client) ListOwner(ctx context.Context, owner string) ([]PackageVersion, error) {
	ps, err := c.pages(ctx, url.Values{"type": {"generic"}}, "/api/v1/packages", owner)
	if err != nil {
		return nil, err
	}
	return toVersions(ps, nil), nil
}

// ListVersions lists a package's versions, newest first: Gitea 1.24's
// GET /api/v1/packages/{owner}/generic/{name}, or, on a server without that
// route (404), the owner listing filtered by name. A missing package is
// ErrNotFound.
func (c *Client) ListVersions(ctx context.Context, owner, pkg string) ([]PackageVersion, error) {
	ps, err := c.pages(ctx, nil, "/api/v1/packages", owner, "/generic", pkg)
	if errors.Is(err, ErrNotFound) {
		ps, err = c.pages(ctx, url.Values{"type": {"generic"}, "q": {pkg}}, "/api/v1/packages", owner)
	}
	if err != nil {
		return nil, err
	}
	vs := toVersions(ps, func(p apiPackage) bool { return strings.EqualFold(p.Name, pkg) })
	if len(vs) == 0 {
		return nil, fmt.Errorf("package %s/%s: %w", owner, pkg, ErrNotFound)
	}
	return vs, nil
}

// RemoteFile is one file of a version as the listing shows it.
type RemoteFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ListFiles lists a version's files (GET .../{version}/files), in upload
// order.
func (c *Client) ListFiles(ctx context.Context, owner, pkg, version string) ([]RemoteFile, error) {
	var fs []RemoteFile
	if _, err := c.getJSON(ctx, c.endpoint(nil, "/api/v1/packages", owner, "/generic", pkg, version, "/files"), &fs); err != nil {
		return nil, err
	}
	return fs, nil
}

// remoteSHA256 returns the sha256 the server holds for a file: from a HEAD
// (X-Checksum-SHA256), else from the version's file listing. A missing
// file is ErrNotFound.
func (c *Client) remoteSHA256(ctx context.Context, owner, pkg, version, file string) (string, error) {
	resp, err := c.do(ctx, http.MethodHead, c.fileURL(owner, pkg, version, file), nil)
	if err == nil {
		resp.Body.Close()
		if s := headerSHA256(resp.Header); s != "" {
			return s, nil
		}
	}
	fs, lerr := c.ListFiles(ctx, owner, pkg, version)
	if lerr != nil {
		if err != nil {
			return "", err
		}
		return "", lerr
	}
	for _, f := range fs {
		if strings.EqualFold(f.Name, file) {
			return strings.ToLower(f.SHA256), nil
		}
	}
	return "", fmt.Errorf("file %s of %s/%s@%s: %w", file, owner, pkg, version, ErrNotFound)
}

// headerSHA256 returns the sha256 a download answer names: X-Checksum-SHA256
// (depot, GitLab, Artifactory), else an ETag that is a quoted sha256 (depot).
func headerSHA256(h http.Header) string {
	if s := strings.ToLower(strings.TrimSpace(h.Get("X-Checksum-Sha256"))); isSHA256(s) {
		return s
	}
	if s := strings.ToLower(strings.Trim(strings.TrimPrefix(h.Get("ETag"), "W/"), `"`)); isSHA256(s) {
		return s
	}
	return ""
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// Delete removes a version (ref without File) or one file.
func (c *Client) Delete(ctx context.Context, r Ref) error {
	if r.Package == "" || r.Version == "" {
		return fmt.Errorf("%w reference %q: want owner/name@version[/file]", ErrInvalid, r)
	}
	resp, err := c.do(ctx, http.MethodDelete, c.fileURL(r.Owner, r.Package, r.Version, r.File), nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
