package httpapi

import (
	"encoding/hex"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/digest"
)

// Headers of verified uploads and deploys by checksum.
const (
	// HeaderDeploy asks for a deploy by checksum (Artifactory's name):
	// "true" makes the file from stored content with the declared sha256,
	// without a body.
	HeaderDeploy = "X-Checksum-Deploy"
	// HeaderIdentical answers an upload refused because the file exists:
	// "true" when the stored content is the upload's, "false" when not.
	HeaderIdentical = "X-Depot-Identical"
	// HeaderExistingSHA256 is the stored file's sha256 on that answer.
	HeaderExistingSHA256 = "X-Depot-Existing-Sha256"
	// HeaderFeatures, on GET /api/v1/version, lists what depot adds to the
	// Gitea API that a client should use only where offered.
	HeaderFeatures = "X-Depot-Features"
	// Features is its value: deploy by checksum, and uploads whose
	// declared digests are checked.
	Features = "deploy-by-checksum, verified-uploads"
)

// UploadChecks returns what an upload request declares about its content:
// the digests it expects (digest.FromHeader) and whether it asks for a
// deploy by checksum. multipart is set when the body is a
// multipart/form-data envelope: Content-MD5, Content-Digest and
// Repr-Digest then describe the envelope, not the file, and are refused
// (send X-Checksum-Sha256 for the file). ErrInvalid naming the header.
func UploadChecks(r *http.Request, multipart bool) (digest.Set, bool, error) {
	set, err := digest.FromHeader(r.Header)
	if err != nil {
		var he *digest.HeaderError
		if errors.As(err, &he) {
			return nil, false, headerError{de: &depot.Error{Kind: depot.ErrInvalid, Message: he.Error()}, he: he}
		}
		return nil, false, err
	}
	if e, ok := set.OfMessage(); ok && multipart {
		return nil, false, depot.Errorf(depot.ErrInvalid, "%s describes the multipart/form-data envelope, not the file it carries: send the file's digest as X-Checksum-Sha256 (or upload the file as the body)", e.Header)
	}
	deploy := false
	switch v := strings.TrimSpace(r.Header.Get(HeaderDeploy)); {
	case v == "":
	case strings.EqualFold(v, "true"):
		deploy = true
	case strings.EqualFold(v, "false"):
	default:
		return nil, false, depot.Errorf(depot.ErrInvalid, "malformed %s header: want true or false, got %q", HeaderDeploy, v)
	}
	if deploy && multipart {
		return nil, false, depot.Errorf(depot.ErrInvalid, "a deploy by checksum (%s: true) takes no body", HeaderDeploy)
	}
	return set, deploy, nil
}

// IsMultipart reports whether UploadBody reads r's body as a
// multipart/form-data envelope.
func IsMultipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && strings.EqualFold(mt, "multipart/form-data")
}

// headerError is an unusable digest header: a client error that keeps the
// digest.HeaderError, so the answer can say which algorithms depot takes.
type headerError struct {
	de *depot.Error
	he *digest.HeaderError
}

func (e headerError) Error() string   { return e.de.Error() }
func (e headerError) Unwrap() []error { return []error{e.de, e.he} }

// checksumHeaders sets the headers of answers about checksums: on a
// refused upload to an existing name whether its content is the stored
// one, and on a digest field without a supported algorithm the
// Want-Repr-Digest or Want-Content-Digest that names those depot verifies
// (RFC 9530 Appendix C.3).
func checksumHeaders(w http.ResponseWriter, err error) {
	var ex *depot.ExistingFileError
	if errors.As(err, &ex) {
		w.Header().Set(HeaderIdentical, strconv.FormatBool(ex.Identical))
		w.Header().Set(HeaderExistingSHA256, ex.SHA256)
	}
	var he *digest.HeaderError
	if errors.As(err, &he) && he.Unsupported {
		w.Header().Set("Want-"+he.Header, digest.WantReprDigest)
	}
}

// ErrorFields are the JSON body fields an error answer carries besides its
// message: "identical" and "existing_sha256" on a refused upload to an
// existing name; "algorithm", "expected" and "actual" on a digest
// mismatch. Dialects writing their own bodies add them too.
func ErrorFields(err error) map[string]any {
	out := map[string]any{}
	var ex *depot.ExistingFileError
	if errors.As(err, &ex) {
		out["identical"] = ex.Identical
		out["existing_sha256"] = ex.SHA256
	}
	var m *digest.MismatchError
	if errors.As(err, &m) {
		out["algorithm"], out["header"] = string(m.Alg), m.Header
		out["expected"], out["actual"] = m.ExpectedString(), m.ActualString()
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// reprDigest sets Repr-Digest on a file answer: the stored digests the
// request's Want-Repr-Digest prefers (sha-256 when it states none; sha-512
// too when asked for and recorded). It is the digest of the whole file, so
// it holds on a 206 as well; Content-Digest, which would describe only the
// part sent, is never set.
func reprDigest(w http.ResponseWriter, r *http.Request, f *depot.File) {
	have := []digest.Algorithm{digest.SHA256}
	if f.Blob.SHA512 != "" {
		have = append(have, digest.SHA512)
	}
	hexes := map[digest.Algorithm]string{digest.SHA256: f.Blob.SHA256, digest.SHA512: f.Blob.SHA512}
	var fields []string
	for _, a := range digest.Preferred(strings.Join(r.Header.Values(digest.HeaderWantReprDigest), ", "), have) {
		sum, err := hex.DecodeString(hexes[a])
		if err != nil || len(sum) != a.Size() {
			continue
		}
		fields = append(fields, digest.Field(a, sum))
	}
	if len(fields) > 0 {
		w.Header().Set(digest.HeaderReprDigest, strings.Join(fields, ", "))
	}
}
