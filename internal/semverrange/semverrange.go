// Package semverrange picks a version of a package by "latest" or by a
// semantic-version range (`^1.2`, `~1.4.0`, `>=2 <3`, `1.x`), over a list of
// the versions stored. It imports nothing of depot, so the client resolves
// ranges with it over a listing (against a real Gitea), and the server's
// latest and range download routes select with it (internal/httpapi wraps
// it as a depot.VersionSelector).
//
// The rule:
//   - A version takes part when it parses as MAJOR.MINOR.PATCH with an
//     optional prerelease and build metadata and an optional leading "v"
//     (semver.org 2.0.0, as depot's "latest"); other names never match a
//     range.
//   - A range selects the highest matching version by semver precedence;
//     between versions of equal precedence (1.0.0 and v1.0.0+build), the
//     newest upload. Prereleases match only a range that names one
//     (`>=2.0.0-rc.1`), as Masterminds/semver does (and npm, Cargo).
//   - "latest" (or an empty spec) is the highest release; without one, the
//     highest prerelease; without any semantic version, the newest upload:
//     depot.LatestVersion's rule, which the server's "latest" uses (a test
//     holds the two to the same answers).
package semverrange

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Version is one stored version: its name and when it was created.
type Version struct {
	Name    string
	Created time.Time
}

// ErrNoMatch is returned when no version satisfies the spec.
var ErrNoMatch = errors.New("no version matches")

// ErrInvalid is returned for a spec that is neither "latest" nor a range.
var ErrInvalid = errors.New("invalid version range")

// Latest is the spec that selects the newest release.
const Latest = "latest"

// IsLatest reports whether spec means "latest".
func IsLatest(spec string) bool {
	s := strings.TrimSpace(spec)
	return s == "" || strings.EqualFold(s, Latest)
}

// Parse checks spec: nil for "latest" or a valid range, else an error
// wrapping ErrInvalid.
func Parse(spec string) error {
	if IsLatest(spec) {
		return nil
	}
	_, err := constraint(spec)
	return err
}

func constraint(spec string) (*semver.Constraints, error) {
	c, err := semver.NewConstraint(spec)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalid, spec, err)
	}
	return c, nil
}

// parse parses a stored version name strictly (optional leading "v").
func parse(name string) (*semver.Version, bool) {
	s := name
	if len(s) > 1 && (s[0] == 'v' || s[0] == 'V') {
		s = s[1:]
	}
	v, err := semver.StrictNewVersion(s)
	return v, err == nil
}

// Select returns the version spec selects among versions. Errors wrap
// ErrInvalid (a malformed spec) or ErrNoMatch.
func Select(spec string, versions []Version) (Version, error) {
	i, err := SelectIndex(spec, versions)
	if err != nil {
		return Version{}, err
	}
	return versions[i], nil
}

// SelectIndex is Select answering the index of the version in versions.
// Between versions of equal precedence and equal creation time, the later
// in versions wins.
func SelectIndex(spec string, versions []Version) (int, error) {
	latest := IsLatest(spec)
	var c *semver.Constraints
	if !latest {
		var err error
		if c, err = constraint(spec); err != nil {
			return -1, err
		}
	}
	var best, bestPre *candidate
	for i := range versions {
		v, ok := parse(versions[i].Name)
		if !ok {
			continue
		}
		cand := &candidate{i: i, v: versions[i], sv: v}
		switch {
		case latest && v.Prerelease() != "":
			bestPre = higher(bestPre, cand)
		case latest || c.Check(v):
			best = higher(best, cand)
		}
	}
	switch {
	case best != nil:
		return best.i, nil
	case bestPre != nil:
		return bestPre.i, nil
	case latest && len(versions) > 0:
		newest := 0
		for i, v := range versions {
			if !v.Created.Before(versions[newest].Created) {
				newest = i
			}
		}
		return newest, nil
	case latest:
		return -1, fmt.Errorf("%w %q: there are no versions", ErrNoMatch, Latest)
	}
	return -1, fmt.Errorf("%w the range %q", ErrNoMatch, spec)
}

type candidate struct {
	i  int
	v  Version
	sv *semver.Version
}

// higher returns the higher of a and b by precedence, the newer on a tie
// (b, the later in the list, on a tie of time too).
func higher(a, b *candidate) *candidate {
	if a == nil {
		return b
	}
	switch c := b.sv.Compare(a.sv); {
	case c > 0, c == 0 && !b.v.Created.Before(a.v.Created):
		return b
	}
	return a
}
