package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"sync"
)

// The IETF resumable upload protocol (draft-ietf-httpbis-resumable-upload,
// interop version 8), from the client's side: an "optimistic" creation (the
// whole file in one PUT that asks for resumption with Upload-Complete: ?1),
// and when its connection fails after the server's 104 named the upload
// resource, HEAD for the offset and PATCH for the rest, until the file is
// in. A server that does not offer resumption (Gitea, Forgejo, an older
// depot) ignores the fields: the PUT is then a plain PUT.

// Fields of the resumable upload draft.
const (
	interopVersionField = "Upload-Draft-Interop-Version"
	interopVersion      = "8"
	partialUpload       = "application/partial-upload"
)

// DefaultResumableMinSize is the smallest file ResumableUploader sends
// resumably when its MinSize is 0: below it, sending a file again costs
// less than the requests that would save it.
const DefaultResumableMinSize = 8 << 20

// ResumableUploader sends files of at least MinSize bytes with the
// resumable upload protocol and smaller ones with PlainUploader. Within
// one Upload it resumes after dropped connections up to Attempts times,
// waiting with the Client's backoff between them; a failure before the
// server named the upload resource (or after the attempts) is returned for
// the Client to retry the whole file.
type ResumableUploader struct {
	// MinSize is the smallest file sent resumably; 0 means
	// DefaultResumableMinSize.
	MinSize int64
	// Attempts bounds the resumptions of one upload; 0 means 10.
	Attempts int
}

// Upload implements Uploader.
func (ru ResumableUploader) Upload(ctx context.Context, c *Client, u Upload, p Progress) error {
	min := ru.MinSize
	if min <= 0 {
		min = DefaultResumableMinSize
	}
	if u.Size < min {
		return PlainUploader{}.Upload(ctx, c, u, p)
	}
	attempts := ru.Attempts
	if attempts <= 0 {
		attempts = 10
	}
	loc, err := ru.create(ctx, c, u, p)
	for attempt := 1; err != nil && loc != nil && attempt <= attempts && temporary(ctx, err); attempt++ {
		p.Retry(attempt, err)
		if werr := c.retry.wait(ctx, attempt); werr != nil {
			return werr
		}
		err = ru.resume(ctx, c, loc, u, p)
	}
	return err
}

// create sends the creation request with the whole file and returns the
// upload resource's URL when the server named one (nil otherwise).
func (ru ResumableUploader) create(ctx context.Context, c *Client, u Upload, p Progress) (*url.URL, error) {
	body, err := u.Open(0)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	p.SetCurrent(0)
	var mu sync.Mutex
	var loc *url.URL
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		// The draft: a 104 of another interop version is ignored.
		if code == 104 && h.Get(interopVersionField) == interopVersion && h.Get("Location") != "" {
			mu.Lock()
			defer mu.Unlock()
			if base, err := url.Parse(u.URL); err == nil {
				loc, _ = base.Parse(h.Get("Location"))
			}
		}
		return nil
	}}
	req, err := c.newRequest(httptrace.WithClientTrace(ctx, trace), http.MethodPut, u.URL, uploadBody(body, p))
	if err != nil {
		return nil, err
	}
	req.ContentLength = u.Size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(interopVersionField, interopVersion)
	req.Header.Set("Upload-Complete", "?1")
	req.Header.Set("Upload-Length", strconv.FormatInt(u.Size, 10))
	resp, err := c.http.Do(req)
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		return loc, err
	}
	return loc, finalAnswer(resp)
}

// resume asks the upload resource for its offset and sends the rest.
func (ru ResumableUploader) resume(ctx context.Context, c *Client, loc *url.URL, u Upload, p Progress) error {
	req, err := c.newRequest(ctx, http.MethodHead, loc.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set(interopVersionField, interopVersion)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return newHTTPError(resp)
	}
	if resp.Header.Get("Upload-Complete") == "?1" {
		// The last append went through; its answer was lost.
		return nil
	}
	offset, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || offset < 0 || offset > u.Size {
		return fmt.Errorf("%w: the upload resource reports offset %q of a %d-byte file", ErrInvalid, resp.Header.Get("Upload-Offset"), u.Size)
	}
	body, err := u.Open(offset)
	if err != nil {
		return err
	}
	defer body.Close()
	p.SetCurrent(offset)
	req, err = c.newRequest(ctx, http.MethodPatch, loc.String(), uploadBody(body, p))
	if err != nil {
		return err
	}
	req.ContentLength = u.Size - offset
	if req.ContentLength == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", partialUpload)
	req.Header.Set(interopVersionField, interopVersion)
	req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	req.Header.Set("Upload-Complete", "?1")
	resp, err = c.http.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusConflict && resp.Header.Get("Upload-Offset") != "" {
		// Another request moved it meanwhile: ask again.
		resp.Body.Close()
		return fmt.Errorf("the upload's offset moved to %s", resp.Header.Get("Upload-Offset"))
	}
	return finalAnswer(resp)
}

// finalAnswer turns the answer to the request that completed an upload
// into nil (stored) or an *HTTPError.
func finalAnswer(resp *http.Response) error {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return newHTTPError(resp)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}

// uploadBody is what a request sends of body: the file itself when nobody
// counts its bytes (the transport then sends it with sendfile), else a
// reader that reports them to p.
func uploadBody(body io.ReadCloser, p Progress) io.Reader {
	if f, ok := body.(*os.File); ok && !countsBytes(p) {
		return f
	}
	return &countingReader{r: body, p: p}
}
