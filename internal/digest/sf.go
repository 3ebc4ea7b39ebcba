package digest

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// A minimal RFC 8941 (Structured Field Values) Dictionary parser: enough to
// read Repr-Digest, Content-Digest and their Want- fields, and to skip
// members of any other type correctly. Parameters are parsed and dropped.

// member is one dictionary member: its key and its value, of which only the
// types these fields use are kept.
type member struct {
	key string
	// kind is 'b' byte sequence, 'i' integer, 'o' other (string, token,
	// decimal, boolean, inner list).
	kind  byte
	bytes []byte
	num   int64
}

// maxFieldLen bounds the fields parsed, far beyond any honest digest field.
const maxFieldLen = 8 << 10

// parseDictionary parses an RFC 8941 Dictionary. A key given twice keeps
// its last value (RFC 8941 §3.2) and its first position.
func parseDictionary(s string) ([]member, error) {
	if len(s) > maxFieldLen {
		return nil, errors.New("field is too long")
	}
	p := &sfParser{s: s}
	p.skipSP()
	var out []member
	index := map[string]int{}
	for !p.done() {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		m := member{key: key, kind: 'o'}
		if p.peek() == '=' {
			p.i++
			if m, err = p.value(key); err != nil {
				return nil, err
			}
		} else if err := p.params(); err != nil { // bare key: boolean true
			return nil, err
		}
		if i, ok := index[key]; ok {
			out[i] = m
		} else {
			index[key] = len(out)
			out = append(out, m)
		}
		p.skipOWS()
		if p.done() {
			break
		}
		if p.peek() != ',' {
			return nil, errors.New("expected ',' between members at offset " + strconv.Itoa(p.i))
		}
		p.i++
		p.skipOWS()
		if p.done() {
			return nil, errors.New("trailing ','")
		}
	}
	return out, nil
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) done() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.done() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) skipSP() {
	for !p.done() && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }

// key parses a key: ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
func (p *sfParser) key() (string, error) {
	start := p.i
	if c := p.peek(); !isLCAlpha(c) && c != '*' {
		return "", errors.New("expected a lowercase key at offset " + strconv.Itoa(p.i))
	}
	for !p.done() {
		c := p.s[p.i]
		if !isLCAlpha(c) && !isDigit(c) && !strings.ContainsRune("_-.*", rune(c)) {
			break
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

// value parses an item or inner list with its parameters.
func (p *sfParser) value(key string) (member, error) {
	m := member{key: key, kind: 'o'}
	if p.peek() == '(' {
		p.i++
		for {
			p.skipSP()
			if p.peek() == ')' {
				p.i++
				break
			}
			if p.done() {
				return m, errors.New("unterminated inner list")
			}
			if _, err := p.bareItem(); err != nil {
				return m, err
			}
			if err := p.params(); err != nil {
				return m, err
			}
			if c := p.peek(); c != ' ' && c != ')' {
				return m, errors.New("malformed inner list at offset " + strconv.Itoa(p.i))
			}
		}
		return m, p.params()
	}
	item, err := p.bareItem()
	if err != nil {
		return m, err
	}
	item.key = key
	return item, p.params()
}

// params parses and drops *( ";" *SP key [ "=" bare-item ] ).
func (p *sfParser) params() error {
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		if _, err := p.key(); err != nil {
			return err
		}
		if p.peek() == '=' {
			p.i++
			if _, err := p.bareItem(); err != nil {
				return err
			}
		}
	}
	return nil
}

// bareItem parses an integer, decimal, string, token, byte sequence or
// boolean.
func (p *sfParser) bareItem() (member, error) {
	m := member{kind: 'o'}
	switch c := p.peek(); {
	case c == '-' || isDigit(c):
		return p.number()
	case c == '"':
		p.i++
		for {
			if p.done() {
				return m, errors.New("unterminated string")
			}
			c := p.s[p.i]
			p.i++
			switch {
			case c == '\\':
				if p.done() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
					return m, errors.New("bad escape in string")
				}
				p.i++
			case c == '"':
				return m, nil
			case c < 0x20 || c > 0x7e:
				return m, errors.New("bad character in string")
			}
		}
	case c == '*' || c >= 'A' && c <= 'Z' || isLCAlpha(c):
		p.i++
		for !p.done() {
			c := p.s[p.i]
			if c <= ' ' || c >= 0x7f || strings.ContainsRune(`"(),;<=>?@[\]{}`, rune(c)) {
				break
			}
			p.i++
		}
		return m, nil
	case c == ':':
		p.i++
		end := strings.IndexByte(p.s[p.i:], ':')
		if end < 0 {
			return m, errors.New("unterminated byte sequence")
		}
		raw := p.s[p.i : p.i+end]
		p.i += end + 1
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			// RFC 8941 §4.2.7 lets a parser accept missing padding.
			if b, err = base64.RawStdEncoding.DecodeString(raw); err != nil {
				return m, errors.New("byte sequence is not base64")
			}
		}
		m.kind, m.bytes = 'b', b
		return m, nil
	case c == '?':
		p.i++
		if c := p.peek(); c != '0' && c != '1' {
			return m, errors.New("malformed boolean")
		}
		p.i++
		return m, nil
	case c == 0:
		return m, errors.New("missing value")
	default:
		return m, errors.New("unexpected character " + strconv.QuoteRune(rune(c)) + " at offset " + strconv.Itoa(p.i))
	}
}

// number parses an integer (at most 15 digits) or a decimal.
func (p *sfParser) number() (member, error) {
	m := member{kind: 'o'}
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	if !isDigit(p.peek()) {
		return m, errors.New("malformed number")
	}
	digits, dot := 0, false
	for !p.done() {
		c := p.s[p.i]
		if c == '.' && !dot && digits <= 12 {
			dot = true
			p.i++
			continue
		}
		if !isDigit(c) {
			break
		}
		digits++
		p.i++
	}
	if !dot && digits > 15 || dot && (digits > 15 || p.s[p.i-1] == '.') {
		return m, errors.New("malformed number")
	}
	if dot {
		return m, nil
	}
	n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
	if err != nil {
		return m, errors.New("malformed integer")
	}
	m.kind, m.num = 'i', n
	return m, nil
}
