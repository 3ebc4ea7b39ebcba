// Package digest reads the checksums an upload declares in its headers and
// compares them with what was received; it also writes and negotiates the
// RFC 9530 digest fields of downloads. It knows HTTP headers but nothing of
// depot's domain, so every upload path (a plain PUT of either dialect, a
// resumable upload's completion) shares one parser and one comparison.
//
// Fields read by FromHeader:
//
//	X-Checksum-Sha256, X-Checksum-Sha1, X-Checksum-Md5   hex (Artifactory's names)
//	Content-MD5                                          base64 of 16 bytes (RFC 1864)
//	Repr-Digest, Content-Digest                          RFC 9530 dictionaries: sha-256=:b64:, sha-512=:b64:
//
// RFC 9530 §2-§3: a recipient may ignore digests of algorithms it does not
// support, so members other than sha-256 and sha-512 (unknown ones, and the
// registry's deprecated md5, sha, crc32c, ...) are ignored. A digest field
// with no supported member at all is refused (a HeaderError with
// Unsupported set), as in RFC 9530 Appendix C.3, so a client never believes
// an upload was verified when it was not; the answer should carry
// WantReprDigest. A malformed field, or a digest of the wrong length, is a
// HeaderError naming the field.
package digest

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"slices"
	"strings"
)

// Algorithm is a digest algorithm.
type Algorithm string

// The algorithms depot computes for every file.
const (
	SHA256 Algorithm = "sha256"
	SHA512 Algorithm = "sha512"
	SHA1   Algorithm = "sha1"
	MD5    Algorithm = "md5"
)

// New returns a new hash.Hash of a; nil for an unknown algorithm.
func (a Algorithm) New() hash.Hash {
	switch a {
	case SHA256:
		return sha256.New()
	case SHA512:
		return sha512.New()
	case SHA1:
		return sha1.New()
	case MD5:
		return md5.New()
	}
	return nil
}

// Size is the length of a's digest in bytes; 0 for an unknown algorithm.
func (a Algorithm) Size() int {
	switch a {
	case SHA256:
		return sha256.Size
	case SHA512:
		return sha512.Size
	case SHA1:
		return sha1.Size
	case MD5:
		return md5.Size
	}
	return 0
}

// FieldKey is a's key in RFC 9530 fields (sha-256, sha-512), "" for an
// algorithm depot does not send or accept there.
func (a Algorithm) FieldKey() string {
	switch a {
	case SHA256:
		return "sha-256"
	case SHA512:
		return "sha-512"
	}
	return ""
}

func fromFieldKey(k string) Algorithm {
	switch k {
	case "sha-256":
		return SHA256
	case "sha-512":
		return SHA512
	}
	return ""
}

// Header names, canonical.
const (
	HeaderSHA256        = "X-Checksum-Sha256"
	HeaderSHA1          = "X-Checksum-Sha1"
	HeaderMD5           = "X-Checksum-Md5"
	HeaderContentMD5    = "Content-MD5"
	HeaderReprDigest    = "Repr-Digest"
	HeaderContentDigest = "Content-Digest"
	// HeaderWantReprDigest is the RFC 9530 §4 preference field.
	HeaderWantReprDigest = "Want-Repr-Digest"
)

// WantReprDigest is the Want-Repr-Digest (and Want-Content-Digest) value an
// answer refusing an upload for an unsupported digest algorithm carries:
// the algorithms depot verifies, sha-256 preferred.
const WantReprDigest = "sha-256=10, sha-512=5"

// Expected is one digest an upload declared.
type Expected struct {
	Alg Algorithm
	Sum []byte
	// Header is the field it came from (one of the Header constants).
	Header string
}

// OfMessage reports whether e describes the HTTP message body (Content-MD5,
// Content-Digest, Repr-Digest) rather than the file (X-Checksum-*). The two
// are the same bytes for a plain PUT and differ for a multipart/form-data
// upload, whose body is the envelope around the file.
func (e Expected) OfMessage() bool {
	return e.Header == HeaderContentMD5 || e.Header == HeaderReprDigest || e.Header == HeaderContentDigest
}

// String formats e the way its header carries it: hex for X-Checksum-*,
// base64 for Content-MD5, sha-256=:base64: for the RFC 9530 fields.
func (e Expected) String() string { return format(e.Header, e.Alg, e.Sum) }

func format(header string, alg Algorithm, sum []byte) string {
	switch header {
	case HeaderContentMD5:
		return base64.StdEncoding.EncodeToString(sum)
	case HeaderReprDigest, HeaderContentDigest:
		return Field(alg, sum)
	}
	return hex.EncodeToString(sum)
}

// Set is the digests an upload declared, in header order. The zero value
// declares nothing.
type Set []Expected

// HeaderError is a digest field that cannot be used: malformed, a digest of
// the wrong length, or (Unsupported) no algorithm depot verifies.
type HeaderError struct {
	Header string
	Reason string
	// Unsupported is set when the field is well formed but names only
	// algorithms depot does not verify.
	Unsupported bool
}

func (e *HeaderError) Error() string {
	if e.Unsupported {
		return fmt.Sprintf("%s: %s (supported: sha-256, sha-512)", e.Header, e.Reason)
	}
	return fmt.Sprintf("malformed %s header: %s", e.Header, e.Reason)
}

// MismatchError says a received stream does not have a declared digest.
type MismatchError struct {
	Header   string
	Alg      Algorithm
	Expected []byte
	Actual   []byte
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s mismatch (%s): expected %s, actual %s", e.Alg, e.Header,
		format(e.Header, e.Alg, e.Expected), format(e.Header, e.Alg, e.Actual))
}

// ExpectedString and ActualString format the two digests as the header
// carries them.
func (e *MismatchError) ExpectedString() string { return format(e.Header, e.Alg, e.Expected) }

// ActualString formats the received content's digest as the header would.
func (e *MismatchError) ActualString() string { return format(e.Header, e.Alg, e.Actual) }

// FromHeader returns the digests h declares (see the package comment). It
// returns a *HeaderError for a field it cannot use. Repeated lines of a hex
// or Content-MD5 field each declare a digest; lines of a dictionary field
// are joined as RFC 8941 says.
func FromHeader(h http.Header) (Set, error) {
	var s Set
	for _, f := range []struct {
		name string
		alg  Algorithm
	}{{HeaderSHA256, SHA256}, {HeaderSHA1, SHA1}, {HeaderMD5, MD5}} {
		for _, v := range h.Values(f.name) {
			sum, err := ParseHex(f.alg, v)
			if err != nil {
				return nil, &HeaderError{Header: f.name, Reason: err.Error()}
			}
			s = append(s, Expected{Alg: f.alg, Sum: sum, Header: f.name})
		}
	}
	for _, v := range h.Values(HeaderContentMD5) {
		sum, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if err != nil || len(sum) != md5.Size {
			return nil, &HeaderError{Header: HeaderContentMD5, Reason: "want the base64 of a 16-byte md5 digest"}
		}
		s = append(s, Expected{Alg: MD5, Sum: sum, Header: HeaderContentMD5})
	}
	for _, name := range []string{HeaderReprDigest, HeaderContentDigest} {
		vs := h.Values(name)
		if len(vs) == 0 {
			continue
		}
		ds, err := ParseField(strings.Join(vs, ", "))
		if err != nil {
			if he, ok := err.(*HeaderError); ok {
				he.Header = name
			}
			return nil, err
		}
		for _, d := range ds {
			d.Header = name
			s = append(s, d)
		}
	}
	return s, nil
}

// ParseHex parses a hex digest of alg (either case, surrounding spaces
// ignored).
func ParseHex(alg Algorithm, v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	sum, err := hex.DecodeString(v)
	if err != nil || len(sum) != alg.Size() {
		return nil, fmt.Errorf("want %d hex digits of a %s digest, got %q", 2*alg.Size(), alg, truncate(v))
	}
	return sum, nil
}

func truncate(v string) string {
	if len(v) > 140 {
		return v[:140] + "..."
	}
	return v
}

// ParseField parses a Repr-Digest or Content-Digest value: an RFC 8941
// dictionary whose sha-256 and sha-512 members are byte sequences of the
// right length. Other members are ignored; none left is an Unsupported
// *HeaderError, as is an empty field. The returned digests' Header is
// empty (FromHeader fills it).
func ParseField(v string) ([]Expected, error) {
	ms, err := parseDictionary(v)
	if err != nil {
		return nil, &HeaderError{Reason: err.Error()}
	}
	var out []Expected
	var ignored []string
	for _, m := range ms {
		alg := fromFieldKey(m.key)
		if alg == "" {
			ignored = append(ignored, m.key)
			continue
		}
		if m.kind != 'b' {
			return nil, &HeaderError{Reason: fmt.Sprintf("%s must be a byte sequence (%s=:base64:)", m.key, m.key)}
		}
		if len(m.bytes) != alg.Size() {
			return nil, &HeaderError{Reason: fmt.Sprintf("%s holds %d bytes, a %s digest has %d", m.key, len(m.bytes), alg, alg.Size())}
		}
		out = append(out, Expected{Alg: alg, Sum: m.bytes})
	}
	if len(out) == 0 {
		reason := "the field is empty"
		if len(ignored) > 0 {
			reason = "no supported algorithm among " + strings.Join(ignored, ", ")
		}
		return nil, &HeaderError{Reason: reason, Unsupported: true}
	}
	return out, nil
}

// Algorithms returns the distinct algorithms of s, in first-seen order:
// the hashes a receiver must compute to Check s.
func (s Set) Algorithms() []Algorithm {
	var out []Algorithm
	for _, e := range s {
		if !slices.Contains(out, e.Alg) {
			out = append(out, e.Alg)
		}
	}
	return out
}

// Sum returns the first digest of alg that s declares.
func (s Set) Sum(alg Algorithm) ([]byte, bool) {
	for _, e := range s {
		if e.Alg == alg {
			return e.Sum, true
		}
	}
	return nil, false
}

// OfMessage returns the first declared digest that describes the message
// body rather than the file (see Expected.OfMessage).
func (s Set) OfMessage() (Expected, bool) {
	for _, e := range s {
		if e.OfMessage() {
			return e, true
		}
	}
	return Expected{}, false
}

// Check compares every declared digest with actual(alg), the digest of what
// was received, and returns a *MismatchError for the first that differs. An
// algorithm for which actual returns nil is a mismatch too (the receiver
// did not compute what it must).
func (s Set) Check(actual func(Algorithm) []byte) error {
	for _, e := range s {
		got := actual(e.Alg)
		if !bytes.Equal(got, e.Sum) {
			return &MismatchError{Header: e.Header, Alg: e.Alg, Expected: e.Sum, Actual: got}
		}
	}
	return nil
}

// CheckHex is Check against hex digests by algorithm (depot records digests
// as lowercase hex). A missing or malformed entry is a mismatch.
func (s Set) CheckHex(actual map[Algorithm]string) error {
	return s.Check(func(a Algorithm) []byte {
		b, err := hex.DecodeString(actual[a])
		if err != nil || len(b) == 0 {
			return nil
		}
		return b
	})
}

// Field formats one RFC 9530 member: sha-256=:base64:.
func Field(alg Algorithm, sum []byte) string {
	return alg.FieldKey() + "=:" + base64.StdEncoding.EncodeToString(sum) + ":"
}

// Preferred returns the algorithms of have to send in a Repr-Digest answer,
// given the request's Want-Repr-Digest value want (RFC 9530 §4): the
// algorithms the client weighs above 0, highest weight first (ties in
// have's order). With no preference field, a malformed one (RFC 8941:
// ignored), or no weighted algorithm in have, it returns the first
// algorithm of have the client did not weigh 0 ("not acceptable"), or
// none: the server may send a digest the client did not ask for (RFC 9530
// Appendix C.2), and sha-256 is what depot addresses content by.
// Algorithms without an RFC 9530 key are never returned.
func Preferred(want string, have []Algorithm) []Algorithm {
	have = slices.DeleteFunc(slices.Clone(have), func(a Algorithm) bool { return a.FieldKey() == "" })
	if len(have) == 0 {
		return nil
	}
	if strings.TrimSpace(want) == "" {
		return have[:1]
	}
	ms, err := parseDictionary(want)
	if err != nil {
		return have[:1]
	}
	weight := map[Algorithm]int64{}
	for _, m := range ms {
		if m.kind != 'i' || m.num < 0 || m.num > 10 {
			continue
		}
		if a := fromFieldKey(m.key); a != "" {
			weight[a] = m.num
		}
	}
	var out []Algorithm
	for _, a := range have {
		if weight[a] > 0 {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		// Nothing asked for is available: the first not refused (0 is
		// "not acceptable").
		for _, a := range have {
			if w, ok := weight[a]; !ok || w > 0 {
				return []Algorithm{a}
			}
		}
		return nil
	}
	slices.SortStableFunc(out, func(a, b Algorithm) int {
		return int(weight[b] - weight[a])
	})
	return out
}
