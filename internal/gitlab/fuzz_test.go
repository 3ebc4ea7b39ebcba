package gitlab

import (
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzParseGenericPath checks the GitLab generic path parser: a parsed path
// escaped again parses to the same path, and its file path never has an
// empty segment that validation would not see.
func FuzzParseGenericPath(f *testing.F) {
	for _, s := range []string{
		"/api/v4/projects/acme%2Ftools/packages/generic/tool/1.0.0/tool.tar.gz",
		"/api/v4/projects/1/packages/generic/tool/1.0.0/dir/sub/f.txt", "/api/v4/projects/1/packages/generic/t/1/a%zz",
		"/api/v4/projects/1/packages/generic/t/1/", "/api/v4/projects/1/packages/npm/t/1/f", "/api/v4/projects/1/packages",
		"/api/v4/projects/1/packages/generic/t/@latest/d/f", "/api/v4/projects/1/packages/generic/t/@range/%5E1/f",
		"/api/v4/projects/1/packages/generic/t/1.0/@archive.zip", "/api/v4/projects/1/packages/generic/t/@latest/@archive.tar.gz",
		"/api/v4/projects/1/packages/generic/t/%40latest/f", "/api/v4/projects/1/packages/generic/t/1/%40archive.zip",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, escaped string) {
		gp, ok := parseGenericPath(escaped)
		if !ok {
			return
		}
		if !strings.HasPrefix(escaped, Prefix+"projects/") {
			t.Fatalf("parseGenericPath(%q) accepted a path outside projects/", escaped)
		}
		if gp.Resolve && gp.Version != "" || gp.Archive != "" && gp.Path != "" || !gp.Resolve && gp.Range != "" {
			t.Fatalf("parseGenericPath(%q) = %+v: inconsistent", escaped, gp)
		}
		again, ok := parseGenericPath(gp.escaped())
		if !ok || again != gp {
			t.Fatalf("parseGenericPath(%q) = %+v; escaped again %q parses to %+v, %v", escaped, gp, gp.escaped(), again, ok)
		}
	})
}

// FuzzCredentials checks GitLab's credential headers: each header's value
// is taken as sent (the first of header and query parameter), a Basic
// password round-trips whatever the user name, and a Bearer token is the
// rest of the header.
func FuzzCredentials(f *testing.F) {
	f.Add("glpat-1", "glcbt-2", "gldt-3", "user", "secret", "Bearer tok", "private_token=q")
	f.Add("", "", "", "", "", "Basic !!!", "job_token=j&access_token=a")
	f.Add("", "", "", "a:b", "c:d", "basic", "")
	f.Fuzz(func(t *testing.T, private, job, deployTok, user, pass, authz, rawQuery string) {
		r := httptest.NewRequest("GET", "/api/v4/user", nil)
		r.URL.RawQuery = rawQuery
		r.Header.Set("PRIVATE-TOKEN", private)
		r.Header.Set("JOB-TOKEN", job)
		r.Header.Set("Deploy-Token", deployTok)
		r.Header.Set("Authorization", authz)
		q := r.URL.Query()
		c := credentials(r)
		want := func(name, got string, vals ...string) {
			t.Helper()
			for _, v := range vals {
				if v != "" {
					if got != v {
						t.Errorf("%s = %q, want %q", name, got, v)
					}
					return
				}
			}
			if got != "" {
				t.Errorf("%s = %q, want none", name, got)
			}
		}
		want("PrivateToken", c.PrivateToken, private, q.Get("private_token"), q.Get("access_token"))
		want("JobToken", c.JobToken, job, q.Get("job_token"))
		want("DeployToken", c.DeployToken, deployTok)
		scheme, rest, _ := strings.Cut(strings.TrimSpace(authz), " ")
		if strings.EqualFold(scheme, "bearer") && c.Bearer != strings.TrimSpace(rest) {
			t.Errorf("Bearer = %q from %q", c.Bearer, authz)
		}
		if !strings.EqualFold(scheme, "bearer") && c.Bearer != "" {
			t.Errorf("Bearer = %q from a %q header", c.Bearer, scheme)
		}
		if c.Basic && c.Password == "" {
			t.Errorf("Basic credentials without a password from %q", authz)
		}
		// Basic round trip: user names may hold anything but ':'.
		user = strings.ReplaceAll(user, ":", "")
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		c = credentials(r)
		if pass != "" && (!c.Basic || c.Password != pass) || pass == "" && c.Basic {
			t.Errorf("Basic %q:%q read as %+v", user, pass, c)
		}
	})
}
