// Package issuertest runs a real OIDC issuer on loopback for tests: a
// discovery document and a JWKS over HTTP, keys generated in the test and
// rotated on demand, and ID tokens shaped like those of GitHub Actions,
// GitLab CI and Forgejo Actions, plus the malformed ones verifiers must
// refuse (alg none, HS256 keyed with the public key, unknown key id, bad
// signature).
package issuertest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is a running OIDC issuer.
type Issuer struct {
	// URL is the issuer (http://127.0.0.1:port), as its tokens' iss.
	URL string
	// JWKSFetches counts requests for the key set.
	JWKSFetches atomic.Int32

	mu        sync.Mutex
	published []*Key
	signing   *Key
	n         int
}

// Key is a signing key.
type Key struct {
	ID     string
	Alg    jose.SignatureAlgorithm
	Signer crypto.Signer
}

// New starts an issuer whose first key is RS256, and stops it when the test
// ends.
func New(tb testing.TB) *Issuer {
	tb.Helper()
	is := &Issuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                is.URL,
			"jwks_uri":                              is.URL + "/.well-known/jwks",
			"subject_types_supported":               []string{"public", "pairwise"},
			"response_types_supported":              []string{"id_token"},
			"claims_supported":                      []string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository", "repository_id", "repository_owner", "repository_owner_id", "run_id", "workflow", "workflow_ref", "sha"},
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
			"scopes_supported":                      []string{"openid"},
		})
	})
	mux.HandleFunc("GET /.well-known/jwks", func(w http.ResponseWriter, r *http.Request) {
		is.JWKSFetches.Add(1)
		is.mu.Lock()
		var set jose.JSONWebKeySet
		for _, k := range is.published {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Signer.Public(), KeyID: k.ID, Algorithm: string(k.Alg), Use: "sig"})
		}
		is.mu.Unlock()
		writeJSON(w, set)
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	is.URL = srv.URL
	k := is.NewKey(tb, jose.RS256)
	is.publish(k, true)
	return is
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// NewKey generates a key that is not published yet.
func (is *Issuer) NewKey(tb testing.TB, alg jose.SignatureAlgorithm) *Key {
	tb.Helper()
	is.mu.Lock()
	is.n++
	id := fmt.Sprintf("key-%d", is.n)
	is.mu.Unlock()
	var signer crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		tb.Fatalf("issuertest: unsupported algorithm %s", alg)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return &Key{ID: id, Alg: alg, Signer: signer}
}

func (is *Issuer) publish(k *Key, sign bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.published = append(is.published, k)
	if sign {
		is.signing = k
	}
}

// Rotate publishes a new key of alg, signs with it from now on and
// withdraws the old keys, as a CI provider's rotation ends.
func (is *Issuer) Rotate(tb testing.TB, alg jose.SignatureAlgorithm) *Key {
	tb.Helper()
	k := is.NewKey(tb, alg)
	is.mu.Lock()
	is.published, is.signing = []*Key{k}, k
	is.mu.Unlock()
	return k
}

// SigningKey returns the key tokens are signed with.
func (is *Issuer) SigningKey() *Key {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.signing
}

// Sign returns claims signed with the current key.
func (is *Issuer) Sign(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	return SignWith(tb, is.SigningKey(), claims)
}

// SignWith returns claims signed with k (published or not).
func SignWith(tb testing.TB, k *Key, claims map[string]any) string {
	tb.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Alg, Key: jose.JSONWebKey{Key: k.Signer, KeyID: k.ID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		tb.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func segment(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Unsigned returns claims with "alg": "none" and an empty signature.
func Unsigned(claims map[string]any) string {
	return segment(map[string]string{"alg": "none", "typ": "JWT"}) + "." + segment(claims) + "."
}

// HS256WithPublicKey returns claims signed with HMAC-SHA256 keyed with k's
// public key in PEM, naming k's key id: the algorithm confusion attack on
// verifiers that let the token choose the algorithm.
func HS256WithPublicKey(tb testing.TB, k *Key, claims map[string]any) string {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Signer.Public())
	if err != nil {
		tb.Fatal(err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	input := segment(map[string]string{"alg": "HS256", "typ": "JWT", "kid": k.ID}) + "." + segment(claims)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Tamper changes one claim of a signed token without signing it again, so
// its signature no longer verifies.
func Tamper(tb testing.TB, token, claim string, value any) string {
	tb.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		tb.Fatal(err)
	}
	claims[claim] = value
	return parts[0] + "." + segment(claims) + "." + parts[2]
}

var jtis atomic.Int64

func times(now time.Time, claims map[string]any) map[string]any {
	claims["jti"] = fmt.Sprintf("jti-%d-%d", now.UnixNano(), jtis.Add(1))
	claims["iat"] = now.Unix()
	claims["nbf"] = now.Unix()
	claims["exp"] = now.Add(5 * time.Minute).Unix()
	return claims
}

// GitHub returns the claims of a GitHub Actions ID token for a tag push of
// repo ("owner/name") running .github/workflows/release.yml, as
// https://docs.github.com/en/actions/reference/security/oidc
// lists them.
func GitHub(iss, aud, repo string, now time.Time) map[string]any {
	owner, _, _ := strings.Cut(repo, "/")
	wf := repo + "/.github/workflows/release.yml@refs/tags/v1.0.0"
	return times(now, map[string]any{
		"iss": iss, "aud": aud,
		"sub":                   "repo:" + repo + ":ref:refs/tags/v1.0.0",
		"ref":                   "refs/tags/v1.0.0",
		"ref_type":              "tag",
		"ref_protected":         "true",
		"sha":                   "e0b9c2a1f3d4e5f60718293a4b5c6d7e8f901234",
		"repository":            repo,
		"repository_id":         "74",
		"repository_owner":      owner,
		"repository_owner_id":   "65",
		"repository_visibility": "public",
		"run_id":                "5301",
		"run_number":            "12",
		"run_attempt":           "1",
		"runner_environment":    "github-hosted",
		"actor":                 "octocat",
		"actor_id":              "12",
		"workflow":              "Release",
		"workflow_ref":          wf,
		"workflow_sha":          "e0b9c2a1f3d4e5f60718293a4b5c6d7e8f901234",
		"job_workflow_ref":      wf,
		"job_workflow_sha":      "e0b9c2a1f3d4e5f60718293a4b5c6d7e8f901234",
		"event_name":            "push",
		"head_ref":              "",
		"base_ref":              "",
		"environment":           "release",
	})
}

// GitLab returns the claims of a GitLab CI id_tokens token of project
// ("group/project") on a tag pipeline, as GitLab's "ID token
// authentication" page lists them.
func GitLab(iss, aud, project string, now time.Time) map[string]any {
	group, _, _ := strings.Cut(project, "/")
	host := strings.TrimPrefix(strings.TrimPrefix(iss, "https://"), "http://")
	return times(now, map[string]any{
		"iss": iss, "aud": aud,
		"sub":                   "project_path:" + project + ":ref_type:tag:ref:v1.0.0",
		"namespace_id":          "72",
		"namespace_path":        group,
		"project_id":            "20",
		"project_path":          project,
		"project_visibility":    "public",
		"user_id":               "1",
		"user_login":            "sample-user",
		"user_email":            "sample-user@example.com",
		"user_identities":       []any{},
		"user_access_level":     "maintainer",
		"pipeline_id":           "574",
		"pipeline_source":       "push",
		"job_id":                "302",
		"ref":                   "v1.0.0",
		"ref_type":              "tag",
		"ref_path":              "refs/tags/v1.0.0",
		"ref_protected":         "true",
		"environment":           "release",
		"environment_protected": "true",
		"deployment_tier":       "production",
		"runner_id":             27,
		"runner_environment":    "gitlab-hosted",
		"sha":                   "714a629c0b401fdce83e847fc9589983fc6f46bc",
		"ci_config_ref_uri":     host + "/" + project + "//.gitlab-ci.yml@refs/tags/v1.0.0",
		"ci_config_sha":         "714a629c0b401fdce83e847fc9589983fc6f46bc",
		"project_visibility_id": 20,
	})
}

// Forgejo returns the claims of a Forgejo Actions ID token (issuer
// https://<host>/api/actions), which follows GitHub's claim names, for repo
// running .forgejo/workflows/release.yml.
func Forgejo(iss, aud, repo string, now time.Time) map[string]any {
	owner, _, _ := strings.Cut(repo, "/")
	wf := repo + "/.forgejo/workflows/release.yml@refs/tags/v1.0.0"
	return times(now, map[string]any{
		"iss": iss, "aud": aud,
		"sub":                 "repo:" + repo + ":ref:refs/tags/v1.0.0",
		"ref":                 "refs/tags/v1.0.0",
		"ref_type":            "tag",
		"sha":                 "3b1f2c9d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c",
		"repository":          repo,
		"repository_id":       "9",
		"repository_owner":    owner,
		"repository_owner_id": "4",
		"run_id":              "88",
		"run_number":          "3",
		"run_attempt":         "1",
		"actor":               owner,
		"workflow":            "release.yml",
		"workflow_ref":        wf,
		"job_workflow_ref":    wf,
		"event_name":          "push",
	})
}
