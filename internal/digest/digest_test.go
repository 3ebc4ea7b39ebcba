package digest

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

var (
	body   = []byte("hello, depot\n")
	s256   = sha256.Sum256(body)
	s512   = sha512.Sum512(body)
	s1     = sha1.Sum(body)
	m5     = md5.Sum(body)
	b64256 = base64.StdEncoding.EncodeToString(s256[:])
	b64512 = base64.StdEncoding.EncodeToString(s512[:])
)

func actual(a Algorithm) []byte {
	switch a {
	case SHA256:
		return s256[:]
	case SHA512:
		return s512[:]
	case SHA1:
		return s1[:]
	case MD5:
		return m5[:]
	}
	return nil
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestFromHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Header
		want []Algorithm // nil: error
		// unsupported is set when the error must be an Unsupported one.
		unsupported bool
		errHeader   string
	}{
		{name: "none", h: header(), want: []Algorithm{}},
		{name: "sha256 hex", h: header("X-Checksum-Sha256", hex.EncodeToString(s256[:])), want: []Algorithm{SHA256}},
		{name: "sha256 upper hex", h: header("X-Checksum-SHA256", strings.ToUpper(hex.EncodeToString(s256[:]))), want: []Algorithm{SHA256}},
		{name: "artifactory trio", h: header("X-Checksum-Sha1", hex.EncodeToString(s1[:]), "X-Checksum-Md5", hex.EncodeToString(m5[:]), "X-Checksum-Sha256", hex.EncodeToString(s256[:])), want: []Algorithm{SHA256, SHA1, MD5}},
		{name: "content-md5", h: header("Content-MD5", base64.StdEncoding.EncodeToString(m5[:])), want: []Algorithm{MD5}},
		{name: "repr sha-256", h: header("Repr-Digest", "sha-256=:"+b64256+":"), want: []Algorithm{SHA256}},
		{name: "repr both", h: header("Repr-Digest", "sha-512=:"+b64512+":, sha-256=:"+b64256+":"), want: []Algorithm{SHA512, SHA256}},
		{name: "repr two lines", h: header("Repr-Digest", "sha-512=:"+b64512+":", "Repr-Digest", "sha-256=:"+b64256+":"), want: []Algorithm{SHA512, SHA256}},
		{name: "repr with unknown", h: header("Repr-Digest", "sha-384=:AAAA:, sha-256=:"+b64256+":;p=1, x=(1 2), y=?1, z=\"s\", w=tok, v=1.5"), want: []Algorithm{SHA256}},
		{name: "content-digest", h: header("Content-Digest", "sha-256=:"+b64256+":"), want: []Algorithm{SHA256}},
		{name: "unpadded base64", h: header("Repr-Digest", "sha-256=:"+strings.TrimRight(b64256, "=")+":"), want: []Algorithm{SHA256}},

		{name: "hex too short", h: header("X-Checksum-Sha256", "abcd"), errHeader: HeaderSHA256},
		{name: "hex not hex", h: header("X-Checksum-Sha1", strings.Repeat("z", 40)), errHeader: HeaderSHA1},
		{name: "md5 given sha1 length", h: header("X-Checksum-Md5", hex.EncodeToString(s1[:])), errHeader: HeaderMD5},
		{name: "empty hex", h: header("X-Checksum-Sha256", ""), errHeader: HeaderSHA256},
		{name: "content-md5 hex", h: header("Content-MD5", hex.EncodeToString(m5[:])), errHeader: HeaderContentMD5},
		{name: "repr wrong length", h: header("Repr-Digest", "sha-256=:"+b64512+":"), errHeader: HeaderReprDigest},
		{name: "repr not bytes", h: header("Repr-Digest", "sha-256="+hex.EncodeToString(s256[:])), errHeader: HeaderReprDigest},
		{name: "repr bare key", h: header("Repr-Digest", "sha-256"), errHeader: HeaderReprDigest},
		{name: "repr bad base64", h: header("Repr-Digest", "sha-256=:!!!!:"), errHeader: HeaderReprDigest},
		{name: "repr unterminated", h: header("Repr-Digest", "sha-256=:"+b64256), errHeader: HeaderReprDigest},
		{name: "repr uppercase key", h: header("Repr-Digest", "SHA-256=:"+b64256+":"), errHeader: HeaderReprDigest},
		{name: "repr trailing comma", h: header("Repr-Digest", "sha-256=:"+b64256+":,"), errHeader: HeaderReprDigest},
		{name: "repr rfc3230 style", h: header("Repr-Digest", "SHA-256="+b64256), errHeader: HeaderReprDigest},
		{name: "repr only unknown", h: header("Repr-Digest", "sha-384=:AAAA:, md5=:"+base64.StdEncoding.EncodeToString(m5[:])+":"), errHeader: HeaderReprDigest, unsupported: true},
		{name: "content-digest only unknown", h: header("Content-Digest", "crc32c=:AAAAAA==:"), errHeader: HeaderContentDigest, unsupported: true},
		{name: "repr empty", h: header("Repr-Digest", ""), errHeader: HeaderReprDigest, unsupported: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := FromHeader(tc.h)
			if tc.errHeader != "" {
				var he *HeaderError
				if !errors.As(err, &he) {
					t.Fatalf("FromHeader = %v, %v; want a HeaderError", s, err)
				}
				if he.Header != tc.errHeader || he.Unsupported != tc.unsupported {
					t.Fatalf("error %q: header %q unsupported %v; want %q %v", err, he.Header, he.Unsupported, tc.errHeader, tc.unsupported)
				}
				if !strings.Contains(err.Error(), tc.errHeader) {
					t.Errorf("message %q does not name %s", err, tc.errHeader)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var algs []Algorithm
			for _, e := range s {
				algs = append(algs, e.Alg)
			}
			if !slices.Equal(algs, tc.want) && !(len(algs) == 0 && len(tc.want) == 0) {
				t.Fatalf("algorithms %v, want %v", algs, tc.want)
			}
			if err := s.Check(actual); err != nil {
				t.Fatalf("Check of the right content: %v", err)
			}
		})
	}
}

func TestCheckMismatch(t *testing.T) {
	other := sha256.Sum256([]byte("something else"))
	for _, tc := range []struct {
		name, header, value, expected, actual string
	}{
		{"hex", "X-Checksum-Sha256", hex.EncodeToString(other[:]), hex.EncodeToString(other[:]), hex.EncodeToString(s256[:])},
		{"repr", "Repr-Digest", Field(SHA256, other[:]), Field(SHA256, other[:]), Field(SHA256, s256[:])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := FromHeader(header(tc.header, tc.value))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Check(actual)
			var me *MismatchError
			if !errors.As(err, &me) {
				t.Fatalf("Check = %v, want a MismatchError", err)
			}
			if me.ExpectedString() != tc.expected || me.ActualString() != tc.actual || me.Alg != SHA256 {
				t.Errorf("mismatch %+v: expected %q actual %q", me, me.ExpectedString(), me.ActualString())
			}
			for _, part := range []string{tc.expected, tc.actual, "sha256", tc.header} {
				if !strings.Contains(me.Error(), part) {
					t.Errorf("message %q lacks %q", me, part)
				}
			}
		})
	}
	t.Run("every declared digest is checked", func(t *testing.T) {
		s, err := FromHeader(header("X-Checksum-Sha256", hex.EncodeToString(s256[:]), "X-Checksum-Md5", hex.EncodeToString(other[:16])))
		if err != nil {
			t.Fatal(err)
		}
		var me *MismatchError
		if err := s.Check(actual); !errors.As(err, &me) || me.Alg != MD5 {
			t.Fatalf("Check = %v, want an md5 mismatch", err)
		}
	})
	t.Run("missing actual is a mismatch", func(t *testing.T) {
		s, _ := FromHeader(header("X-Checksum-Sha1", hex.EncodeToString(s1[:])))
		if err := s.CheckHex(map[Algorithm]string{SHA256: hex.EncodeToString(s256[:])}); err == nil {
			t.Fatal("CheckHex without the sha1 passed")
		}
		if err := s.CheckHex(map[Algorithm]string{SHA1: hex.EncodeToString(s1[:])}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSetHelpers(t *testing.T) {
	s, err := FromHeader(header("X-Checksum-Sha256", hex.EncodeToString(s256[:]), "Repr-Digest", Field(SHA256, s256[:])+", "+Field(SHA512, s512[:])))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Algorithms(); !slices.Equal(got, []Algorithm{SHA256, SHA512}) {
		t.Errorf("Algorithms = %v", got)
	}
	if sum, ok := s.Sum(SHA512); !ok || string(sum) != string(s512[:]) {
		t.Errorf("Sum(sha512) = %x, %v", sum, ok)
	}
	if _, ok := s.Sum(MD5); ok {
		t.Error("Sum(md5) found one")
	}
	if e, ok := s.OfMessage(); !ok || e.Header != HeaderReprDigest {
		t.Errorf("OfMessage = %+v, %v", e, ok)
	}
	if _, ok := s[:1].OfMessage(); ok {
		t.Error("X-Checksum-Sha256 counted as describing the message")
	}
}

func TestPreferred(t *testing.T) {
	both := []Algorithm{SHA256, SHA512}
	for _, tc := range []struct {
		want string
		have []Algorithm
		out  []Algorithm
	}{
		{"", both, []Algorithm{SHA256}},
		{"sha-512=3", both, []Algorithm{SHA512}},
		{"sha-256=3, sha-512=10", both, []Algorithm{SHA512, SHA256}},
		{"sha-256=10, sha-512=3", both, []Algorithm{SHA256, SHA512}},
		{"sha-512=5, sha-256=5", both, []Algorithm{SHA256, SHA512}},
		{"sha-512=5", []Algorithm{SHA256}, []Algorithm{SHA256}}, // not stored: what is (RFC 9530 C.2)
		{"sha=10", both, []Algorithm{SHA256}},
		{"sha-256=0, sha-512=1", both, []Algorithm{SHA512}},
		{"sha-256=0", []Algorithm{SHA256}, nil},
		{"sha-256=0", both, []Algorithm{SHA512}},
		{"sha-512=11", both, []Algorithm{SHA256}}, // out of range: ignored
		{"sha-512=:AA==:", both, []Algorithm{SHA256}},
		{"garbage(", both, []Algorithm{SHA256}},
		{"sha-512=1", []Algorithm{MD5, SHA1}, nil},
	} {
		if got := Preferred(tc.want, tc.have); !slices.Equal(got, tc.out) {
			t.Errorf("Preferred(%q, %v) = %v, want %v", tc.want, tc.have, got, tc.out)
		}
	}
}

func TestField(t *testing.T) {
	if got, want := Field(SHA256, s256[:]), "sha-256=:"+b64256+":"; got != want {
		t.Errorf("Field = %q, want %q", got, want)
	}
	// What Field writes, ParseField reads.
	ds, err := ParseField(Field(SHA512, s512[:]) + ", " + Field(SHA256, s256[:]))
	if err != nil || len(ds) != 2 || ds[0].Alg != SHA512 || string(ds[1].Sum) != string(s256[:]) {
		t.Fatalf("ParseField = %+v, %v", ds, err)
	}
}

func TestDictionary(t *testing.T) {
	for _, tc := range []struct {
		in   string
		keys []string // nil: error
	}{
		{"a=1, b=2", []string{"a", "b"}},
		{"a=1,b=2", []string{"a", "b"}},
		{"a=1 ,\tb=2", []string{"a", "b"}},
		{"a=1, a=2", []string{"a"}},
		{"a, b;x=1;y, c=(1 \"x\" tok);z=?0", []string{"a", "b", "c"}},
		{"*a=-12.345", []string{"*a"}},
		{" a=1", []string{"a"}},
		{"a=1.", nil},
		{"a=1234567890123456", nil},
		{"a=\"unterminated", nil},
		{"a=\"bad\\x\"", nil},
		{"a=(1 2", nil},
		{"a=?2", nil},
		{"a=1 b=2", nil},
		{"1a=1", nil},
		{"a=", nil},
		{"a=@", nil},
	} {
		ms, err := parseDictionary(tc.in)
		if tc.keys == nil {
			if err == nil {
				t.Errorf("parseDictionary(%q) = %+v, want an error", tc.in, ms)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseDictionary(%q): %v", tc.in, err)
			continue
		}
		var keys []string
		for _, m := range ms {
			keys = append(keys, m.key)
		}
		if !slices.Equal(keys, tc.keys) {
			t.Errorf("parseDictionary(%q) keys %v, want %v", tc.in, keys, tc.keys)
		}
	}
	if ms, _ := parseDictionary("a=1, a=:AA==:"); len(ms) != 1 || ms[0].kind != 'b' {
		t.Errorf("a repeated key does not keep its last value: %+v", ms)
	}
	if _, err := parseDictionary(strings.Repeat("a", maxFieldLen+1)); err == nil {
		t.Error("an over-long field was parsed")
	}
}

// FuzzFromHeader: the parsers never panic, what they accept is well formed
// (every digest has its algorithm's length), and what Field writes parses
// back to the same digest.
func FuzzFromHeader(f *testing.F) {
	f.Add("sha-256=:"+b64256+":", hex.EncodeToString(s256[:]), base64.StdEncoding.EncodeToString(m5[:]))
	f.Add("sha-512=:"+b64512+":, sha-256=:AA:", "", "")
	f.Add("a=(1 2;x=?1), b=\"s\\\"\";k=tok, *c=-1.5", "zz", "==")
	f.Add("sha-256=:"+strings.TrimRight(b64256, "=")+":;p", " "+hex.EncodeToString(s256[:])+" ", "")
	f.Fuzz(func(t *testing.T, field, hexv, md5v string) {
		h := http.Header{}
		h.Set("Repr-Digest", field)
		h.Set("Content-Digest", field)
		if hexv != "" {
			h.Set("X-Checksum-Sha256", hexv)
		}
		if md5v != "" {
			h.Set("Content-MD5", md5v)
		}
		s, err := FromHeader(h)
		if err != nil {
			var he *HeaderError
			if !errors.As(err, &he) || he.Header == "" {
				t.Fatalf("error %v is not a HeaderError naming its header", err)
			}
			return
		}
		for _, e := range s {
			if len(e.Sum) != e.Alg.Size() || e.Header == "" {
				t.Fatalf("accepted %+v", e)
			}
			if e.Alg.FieldKey() != "" {
				back, err := ParseField(Field(e.Alg, e.Sum))
				if err != nil || len(back) != 1 || string(back[0].Sum) != string(e.Sum) {
					t.Fatalf("Field(%v) does not parse back: %+v %v", e, back, err)
				}
			}
		}
		_ = Preferred(field, []Algorithm{SHA256, SHA512})
	})
}
