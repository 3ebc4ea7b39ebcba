package httpsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// usageBody is GET /api/depot/owners/{owner}/usage.
type usageBody struct {
	Owner    string `json:"owner"`
	Versions int64  `json:"versions"`
	Bytes    int64  `json:"bytes"`
	Limits   map[string]struct {
		Value int64  `json:"value"`
		From  string `json:"from"`
	} `json:"limits"`
	Override map[string]*int64 `json:"override"`
}

func (fx *fixture) usage(t *testing.T, owner string) usageBody {
	t.Helper()
	_, body := fx.mustStatus(t, http.StatusOK, http.MethodGet, "/api/depot/owners/"+owner+"/usage", basic("root", pw), nil)
	var u usageBody
	if err := json.Unmarshal(body, &u); err != nil {
		t.Fatalf("usage body %q: %v", body, err)
	}
	return u
}

func (fx *fixture) setQuota(t *testing.T, owner, body string) {
	t.Helper()
	fx.mustStatus(t, http.StatusOK, http.MethodPut, "/api/depot/owners/"+owner+"/quota", basic("root", pw), []byte(body))
}

// putChunked uploads body with no declared length and returns the status
// and response body.
func (fx *fixture) putChunked(t *testing.T, path string, a auth, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, fx.url(path), io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	a(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error() // the server may close while the client sends: a refusal too
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(got)
}

// testQuota covers the per-owner quota end to end: the admin API and its
// bad input, Gitea's 403 with its messages for each limit (declared size
// before the body, streamed bodies at commit), the count counting new
// versions only, a quota below usage, site admins' bypass, and GitLab's
// answers.
func (fx *fixture) testQuota(t *testing.T) {
	ctx := context.Background()
	svc := fx.env.Service
	if _, err := svc.CreateUser(ctx, depot.NewUser{Username: "quser", Email: "quser@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	q := basic("quser", pw)
	secret, _, err := svc.CreateToken(ctx, "quser", "ci", depot.Scopes{depot.ScopeWritePackage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	qt := header("Bearer " + secret)

	t.Run("BadInput", func(t *testing.T) {
		path := "/api/depot/owners/quser/quota"
		for _, c := range []struct {
			name, body string
			a          auth
			want       int
		}{
			{"below -1", `{"max_size": -2}`, basic("root", pw), 400},
			{"not a number", `{"max_versions": "ten"}`, basic("root", pw), 400},
			{"unknown field", `{"max_sise": 10}`, basic("root", pw), 400},
			{"not JSON", `max_size=10`, basic("root", pw), 400},
			{"the owner itself", `{"max_size": 10}`, q, 403},
			{"anonymous", `{"max_size": 10}`, anon(), 401},
		} {
			resp, body := fx.do(t, http.MethodPut, path, c.a, []byte(c.body))
			if resp.StatusCode != c.want {
				t.Errorf("%s: status %d, want %d; body %s", c.name, resp.StatusCode, c.want, body)
			}
			if !strings.Contains(resp.Header.Get("Content-Type"), "json") {
				t.Errorf("%s: Content-Type %q, want JSON", c.name, resp.Header.Get("Content-Type"))
			}
		}
		fx.mustStatus(t, http.StatusNotFound, http.MethodPut, "/api/depot/owners/nobody-here/quota", basic("root", pw), []byte(`{"max_size": 10}`))
		u := fx.usage(t, "quser")
		for k, v := range u.Override {
			if v != nil {
				t.Errorf("after refused requests, override %s = %d, want null", k, *v)
			}
		}
		if u.Limits["max_size"].Value != -1 || u.Limits["max_size"].From != "LIMIT_TOTAL_OWNER_SIZE" {
			t.Errorf("limits without an override: %+v", u.Limits)
		}
	})

	t.Run("Gitea", func(t *testing.T) {
		fx.setQuota(t, "quser", `{"max_versions": 2, "max_size": 100, "max_file_size": 60}`)
		// Over the file limit, declared: refused before the body.
		status, body := fx.raw(t, fmt.Sprintf("PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Length: 61\r\nExpect: 100-continue\r\n\r\n",
			pkgPath("quser", "app", "1", "big"), a2h(q)))
		if status != http.StatusForbidden {
			t.Fatalf("declared over the file limit: status %d, want 403; body %q", status, body)
		}
		mustContain(t, "file limit body", body, "maximum allowed package type size exceeded")
		mustContain(t, "file limit body", body, "60 bytes (owner quota)")
		// Streamed over the file limit: refused while reading.
		if status, body := fx.putChunked(t, pkgPath("quser", "app", "1", "big"), q, content("big", 61)); status != 0 && status != 403 {
			t.Fatalf("chunked over the file limit: %d %s", status, body)
		}
		fx.mustStatus(t, http.StatusNotFound, http.MethodGet, pkgPath("quser", "app", "1", "big"), q, nil)

		fx.mustStatus(t, http.StatusCreated, http.MethodPut, pkgPath("quser", "app", "1", "a"), q, content("a", 50))
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, pkgPath("quser", "app", "1", "b"), q, content("b", 50))
		// The quota is full: a declared byte is refused before the body, a
		// streamed one while reading, an empty file passes.
		_, body2 := fx.mustStatus(t, http.StatusForbidden, http.MethodPut, pkgPath("quser", "app", "1", "c"), q, []byte("x"))
		mustContain(t, "size quota body", string(body2), "maximum allowed package storage quota exceeded: quser uses 100 of 100 bytes (owner quota)")
		if status, body := fx.putChunked(t, pkgPath("quser", "app", "1", "c"), q, []byte("x")); status != 403 {
			t.Fatalf("chunked over the size quota: %d %s", status, body)
		}
		fx.mustStatus(t, http.StatusNotFound, http.MethodGet, pkgPath("quser", "app", "1", "c"), q, nil)
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, pkgPath("quser", "app", "1", "empty"), q, []byte{})
		// JSON when asked for.
		resp, body3 := fx.do(t, http.MethodPut, pkgPath("quser", "app", "1", "d"), q, []byte("x"), "Accept", "application/json")
		if resp.StatusCode != 403 || !strings.HasPrefix(string(body3), `{"message":"maximum allowed package storage quota exceeded`) {
			t.Fatalf("JSON answer: %d %s", resp.StatusCode, body3)
		}

		// Versions: the count refuses new versions only.
		fx.setQuota(t, "quser", `{"max_versions": 2}`)
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, pkgPath("quser", "app", "2", "a"), q, []byte("v2"))
		_, body4 := fx.mustStatus(t, http.StatusForbidden, http.MethodPut, pkgPath("quser", "app", "3", "a"), q, []byte("v3"))
		mustContain(t, "count body", string(body4), "maximum allowed package count exceeded: quser has 2 of 2 versions (owner quota)")
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, pkgPath("quser", "app", "2", "b"), q, []byte("into v2"))
		// A quota below the usage is allowed; the next new version fails.
		fx.setQuota(t, "quser", `{"max_versions": 1}`)
		fx.mustStatus(t, http.StatusForbidden, http.MethodPut, pkgPath("quser", "lib", "1", "a"), q, []byte("x"))
		// Site admins bypass quotas.
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, pkgPath("quser", "lib", "1", "a"), basic("root", pw), []byte("admin"))
		u := fx.usage(t, "quser")
		if u.Versions != 3 || u.Bytes != 100+2+7+5 {
			t.Errorf("usage = %d versions, %d bytes; want 3, 114", u.Versions, u.Bytes)
		}
		if l := u.Limits["max_versions"]; l.Value != 1 || l.From != "owner quota" {
			t.Errorf("max_versions limit = %+v", l)
		}
		if u.Override["max_size"] != nil || u.Override["max_versions"] == nil || *u.Override["max_versions"] != 1 {
			t.Errorf("override = %v", u.Override)
		}
		// Deleting makes room again.
		fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, pkgPath("quser", "app", "2", ""), q, nil)
		fx.mustStatus(t, http.StatusNoContent, http.MethodDelete, pkgPath("quser", "lib", "1", ""), q, nil)
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, pkgPath("quser", "app", "1", "again"), q, []byte("x"))
	})

	t.Run("GitLab", func(t *testing.T) {
		p, err := svc.CreateProject(ctx, "quser", "tools", "")
		if err != nil {
			t.Fatal(err)
		}
		gl := func(version, file string) string {
			return fmt.Sprintf("/api/v4/projects/%d/packages/generic/glpkg/%s/%s", p.ID, version, file)
		}
		fx.setQuota(t, "quser", `{"max_versions": -1, "max_size": 200, "max_file_size": 60}`)
		used := fx.usage(t, "quser").Bytes
		resp, body := fx.do(t, http.MethodPut, gl("1", "big"), qt, content("big", 61))
		if resp.StatusCode != 400 || string(body) != `{"message":"400 Bad request - File is too large"}`+"\n" {
			t.Fatalf("GitLab over the file limit: %d %s", resp.StatusCode, body)
		}
		room := 200 - used
		fx.mustStatus(t, http.StatusCreated, http.MethodPut, gl("1", "fill"), qt, content("fill", int(min(room, 60))))
		for fx.usage(t, "quser").Bytes+60 <= 200 {
			fx.mustStatus(t, http.StatusCreated, http.MethodPut, gl("1", fmt.Sprintf("fill%d", fx.usage(t, "quser").Bytes)), qt, content("more", 60))
		}
		resp, body = fx.do(t, http.MethodPut, gl("1", "over"), qt, content("over", 60))
		if resp.StatusCode != 403 || !strings.Contains(string(body), `"403 Forbidden - maximum allowed package storage quota exceeded: quser uses`) {
			t.Fatalf("GitLab over the size quota: %d %s", resp.StatusCode, body)
		}
		fx.setQuota(t, "quser", `{"max_versions": 0}`)
		resp, body = fx.do(t, http.MethodPut, gl("2", "a"), qt, []byte("x"))
		if resp.StatusCode != 403 || !strings.Contains(string(body), "403 Forbidden - maximum allowed package count exceeded") {
			t.Fatalf("GitLab over the count: %d %s", resp.StatusCode, body)
		}
		fx.setQuota(t, "quser", `{}`)
	})
}
