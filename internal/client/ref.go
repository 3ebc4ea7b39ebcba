package client

import (
	"fmt"
	"strings"
)

// Ref names what a command works on: owner[/package[@version[/file]]].
type Ref struct {
	Owner, Package, Version, File string
}

func (r Ref) String() string {
	s := r.Owner
	if r.Package != "" {
		s += "/" + r.Package
	}
	if r.Version != "" {
		s += "@" + r.Version
	}
	if r.File != "" {
		s += "/" + r.File
	}
	return s
}

// ParseRef parses owner, owner/name, owner/name@version or
// owner/name@version/file. A package name never holds "@" and a version
// never "/" (depot refuses both), so the first "@" ends the name and the
// first "/" after it ends the version. Errors wrap ErrInvalid.
func ParseRef(s string) (Ref, error) {
	var r Ref
	rest := s
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		r.Owner, rest = rest[:i], rest[i+1:]
		if i := strings.IndexByte(rest, '@'); i >= 0 {
			r.Package, rest = rest[:i], rest[i+1:]
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				r.Version, r.File = rest[:i], rest[i+1:]
				if r.File == "" {
					return r, fmt.Errorf("%w reference %q: empty file name after the version", ErrInvalid, s)
				}
			} else {
				r.Version = rest
			}
			if r.Version == "" {
				return r, fmt.Errorf("%w reference %q: empty version after @", ErrInvalid, s)
			}
		} else {
			r.Package = rest
		}
		if r.Package == "" {
			return r, fmt.Errorf("%w reference %q: empty package name", ErrInvalid, s)
		}
	} else {
		r.Owner = rest
		if strings.Contains(rest, "@") {
			return r, fmt.Errorf("%w reference %q: want owner/name@version", ErrInvalid, s)
		}
	}
	if r.Owner == "" {
		return r, fmt.Errorf("%w reference %q: empty owner", ErrInvalid, s)
	}
	return r, nil
}
