package s3blob

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Limits of S3 multipart uploads.
const (
	minPartSize  = 5 << 20 // smallest part but the last
	maxPartSize  = 5 << 30 // largest part, and largest single CopyObject
	maxParts     = 10000   // parts of one multipart upload
	maxObjectLen = 5 << 40 // largest object
	mib          = 1 << 20 // part sizes are rounded up to whole MiB
)

// Defaults for Config's sizes.
const (
	// DefaultPartSize is the part size of uploads: the memory an upload
	// holds, and 1/10000 of the largest upload of unknown size (156 GiB).
	DefaultPartSize = 16 << 20
	// DefaultCopyPartSize is the largest blob Commit copies with one
	// CopyObject (S3's limit) and the part size of larger copies.
	DefaultCopyPartSize = maxPartSize
	// DefaultLinkSize is the largest upload of declared size that is staged
	// and copied into its content address; larger ones, and those of
	// unknown size, are written once under data/ and linked (see Store).
	DefaultLinkSize = DefaultPartSize
)

// Config says where blobs live and how to reach them. The zero values of the
// optional fields mean their defaults.
type Config struct {
	// Bucket is the bucket's name. It must exist: New does not create it.
	Bucket string
	// Prefix is prepended to every key, so several stores can share a
	// bucket; "" or a path ending in "/" (New adds a missing one).
	Prefix string
	// Endpoint is the URL of an S3-compatible service, such as
	// http://127.0.0.1:9000; its scheme decides TLS. Empty means AWS S3.
	Endpoint string
	// Region is the bucket's region; empty lets the client ask the service
	// (one request per bucket; presigning then needs the network too).
	Region string
	// PathStyle addresses buckets as https://host/bucket/key instead of
	// https://bucket.host/key. When false the client decides: virtual-hosted
	// for AWS and other services known to support it, path-style for the
	// rest (an IP address, localhost, most self-hosted services).
	PathStyle bool
	// AccessKey and SecretKey are the credentials. When AccessKey is empty
	// they come from, in order: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
	// (and AWS_SESSION_TOKEN), MINIO_ROOT_USER and MINIO_ROOT_PASSWORD (or
	// MINIO_ACCESS_KEY and MINIO_SECRET_KEY), the AWS shared credentials file
	// (AWS_PROFILE), and the EC2/ECS instance role.
	AccessKey, SecretKey string

	// PartSize is the part size of uploads, at least 5 MiB (default
	// DefaultPartSize). Each upload in progress holds one part in memory;
	// an upload of known size uses larger parts when it needs more than
	// 10000, one of unknown size fails beyond 10000 parts.
	PartSize int64
	// CopyPartSize is the largest blob Commit moves into place with a single
	// server-side copy; larger blobs are copied as a multipart upload of
	// parts of this size (larger when they would need more than 10000). It
	// must be between 5 MiB and 5 GiB (the default).
	CopyPartSize int64
	// LinkSize is the largest upload of declared size whose bytes go to a
	// staging object and are copied to the blob's key on the server at
	// Commit (default DefaultLinkSize). Larger uploads, and those of unknown
	// size, are written once, under data/<random>, and Commit puts a small
	// link object at the blob's key that names them: no second full write.
	// Negative means never: every upload is copied.
	LinkSize int64
	// SignedPayload makes uploads sign their bytes (SigV4 streaming
	// signatures: a sha256 of every chunk, computed by depot and again by
	// the object store) and send no checksums, as depot did before. The
	// default sends the bytes of large uploads unsigned (the requests are
	// still signed) with a CRC32C of every part that the store checks: over
	// TLS the signature adds nothing, and over plain HTTP whoever could
	// change an upload in flight could as well change a download, which is
	// never signed. On two cores the signature's sha256 was a third of
	// depot's CPU per uploaded byte.
	SignedPayload bool
	// Transport carries the client's requests; nil means minio-go's default.
	Transport http.RoundTripper
}

// ParseURL parses a storage URL of the form
//
//	s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION&path_style=true&part_size=SIZE&copy_part_size=SIZE&link_size=SIZE|off&payload=unsigned|signed]
//
// for example s3://depot/blobs?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true.
// Without endpoint the bucket is on AWS S3. Sizes take units (16MiB). The URL
// carries no credentials (see Config.AccessKey); an error names the part of
// the URL that is wrong. The Config has a Prefix ending in "/" (or none) and
// zero sizes where the URL gives none.
func ParseURL(raw string) (Config, error) {
	var c Config
	u, err := url.Parse(raw)
	if err != nil {
		return c, fmt.Errorf("s3 storage URL: %w", err)
	}
	if u.Scheme != "s3" {
		return c, fmt.Errorf("s3 storage URL %q: scheme must be s3", raw)
	}
	if u.User != nil {
		return c, fmt.Errorf("s3 storage URL: credentials do not belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	if u.Opaque != "" || u.Host == "" {
		return c, fmt.Errorf("s3 storage URL %q: want s3://BUCKET[/PREFIX]", raw)
	}
	if u.Fragment != "" {
		return c, fmt.Errorf("s3 storage URL %q: unexpected fragment", raw)
	}
	c.Bucket = u.Host
	c.Prefix = strings.TrimPrefix(u.Path, "/")
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return c, fmt.Errorf("s3 storage URL query: %w", err)
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return c, fmt.Errorf("s3 storage URL: %s given %d times", k, len(vs))
		}
		v := vs[0]
		switch k {
		case "endpoint":
			c.Endpoint = v
		case "region":
			c.Region = v
		case "path_style":
			if c.PathStyle, err = strconv.ParseBool(v); err != nil {
				return c, fmt.Errorf("s3 storage URL: path_style=%q: want true or false", v)
			}
		case "part_size", "copy_part_size":
			n, err := humanize.ParseBytes(v)
			if err != nil || n > maxObjectLen {
				return c, fmt.Errorf("s3 storage URL: %s=%q: want a size such as 16MiB", k, v)
			}
			if k == "part_size" {
				c.PartSize = int64(n)
			} else {
				c.CopyPartSize = int64(n)
			}
		case "link_size":
			if v == "off" {
				c.LinkSize = -1
				continue
			}
			n, err := humanize.ParseBytes(v)
			if err != nil || n == 0 || n > maxObjectLen {
				return c, fmt.Errorf("s3 storage URL: link_size=%q: want a size such as 16MiB, or off", v)
			}
			c.LinkSize = int64(n)
		case "payload":
			switch v {
			case "signed":
				c.SignedPayload = true
			case "unsigned":
				c.SignedPayload = false
			default:
				return c, fmt.Errorf("s3 storage URL: payload=%q: want unsigned or signed", v)
			}
		default:
			return c, fmt.Errorf("s3 storage URL: unknown parameter %q (want endpoint, region, path_style, part_size, copy_part_size, link_size, payload)", k)
		}
	}
	if err := c.check(); err != nil {
		return Config{}, err
	}
	if c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	return c, nil
}

// check reports the first setting that is wrong.
func (c Config) check() error {
	if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		return fmt.Errorf("s3 bucket %q: %v", c.Bucket, err)
	}
	if c.Prefix != "" {
		p := strings.TrimSuffix(c.Prefix, "/")
		for seg := range strings.SplitSeq(p, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return fmt.Errorf("s3 prefix %q: empty, . or .. segment", c.Prefix)
			}
		}
		if strings.ContainsAny(p, "\\\x00") {
			return fmt.Errorf("s3 prefix %q: backslash or NUL", c.Prefix)
		}
	}
	if c.Endpoint != "" {
		if _, _, err := parseEndpoint(c.Endpoint); err != nil {
			return err
		}
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return fmt.Errorf("s3 credentials: set both access key and secret key, or neither")
	}
	if c.PartSize != 0 && (c.PartSize < minPartSize || c.PartSize > maxPartSize) {
		return fmt.Errorf("s3 part size %d: want 5 MiB to 5 GiB", c.PartSize)
	}
	if c.CopyPartSize != 0 && (c.CopyPartSize < minPartSize || c.CopyPartSize > maxPartSize) {
		return fmt.Errorf("s3 copy part size %d: want 5 MiB to 5 GiB", c.CopyPartSize)
	}
	return nil
}

// withDefaults returns c with its defaults filled in and a prefix ending in
// "/".
func (c Config) withDefaults() Config {
	if c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.CopyPartSize == 0 {
		c.CopyPartSize = DefaultCopyPartSize
	}
	if c.LinkSize == 0 {
		c.LinkSize = DefaultLinkSize
	}
	return c
}

// parseEndpoint splits an endpoint URL into the host minio-go wants and
// whether to use TLS.
func parseEndpoint(endpoint string) (host string, secure bool, err error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false, fmt.Errorf("s3 endpoint %q: %v", endpoint, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", false, fmt.Errorf("s3 endpoint %q: want http:// or https://", endpoint)
	case u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "", false, fmt.Errorf("s3 endpoint %q: want scheme://host[:port] only", endpoint)
	}
	return u.Host, u.Scheme == "https", nil
}
