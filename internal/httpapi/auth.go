package httpapi

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/depot-registry/depot/internal/depot"
)

// Credentials reads the credentials a request carries in its Authorization
// header: "Basic", "token" (Gitea) or "Bearer". A header that is present but
// malformed or of an unknown scheme is ErrUnauthenticated, never silently
// anonymous.
func Credentials(r *http.Request) (depot.Credentials, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return depot.Credentials{}, nil
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return depot.Credentials{}, depot.Errorf(depot.ErrUnauthenticated, "malformed Basic credentials")
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return depot.Credentials{}, depot.Errorf(depot.ErrUnauthenticated, "malformed Basic credentials: no ':'")
		}
		return depot.Credentials{Basic: true, Username: user, Password: pass}, nil
	case "token", "bearer":
		if rest == "" || strings.ContainsAny(rest, " \t") {
			return depot.Credentials{}, depot.Errorf(depot.ErrUnauthenticated, "malformed %s credentials", scheme)
		}
		return depot.Credentials{Token: rest}, nil
	}
	return depot.Credentials{}, depot.Errorf(depot.ErrUnauthenticated, "unsupported authorization scheme %q", scheme)
}

// ChallengeAnonymous answers an anonymous caller's request for an owner it
// may not see (missing or private: depot.ErrOwnerNotFound) with
// ErrUnauthenticated, a 401 with a WWW-Authenticate challenge, the same for
// a missing and a private owner, so clients that send credentials only when
// challenged (wget, many HTTP libraries) reach private packages, and nothing
// tells an anonymous caller which owners exist privately. Signed-in callers
// keep the not-found. Other errors pass unchanged.
func ChallengeAnonymous(a *depot.Actor, err error) error {
	if err != nil && a.IsAnonymous() && errors.Is(err, depot.ErrOwnerNotFound) {
		return depot.Errorf(depot.ErrUnauthenticated, "authentication required")
	}
	return err
}
