package gitlab_test

import (
	"strings"
	"testing"
	"time"
)

// TestGitLab18Packages covers what GitLab 18's request specs check of the
// Packages API beyond TestPackagesAPI: the versions key of a single package,
// delete_api_path only for callers who may delete, package id 0, the
// package files order, and downloads by package file id (GitLab 18.4).
func TestGitLab18Packages(t *testing.T) {
	e := newEnv(t, nil)
	for _, v := range []string{"2.0.0", "1.0.0", "10.0.0"} {
		e.clock.advance(time.Minute)
		e.put(t, "acme%2Fpub", "tool", v, "f.txt", "content "+v, "")
	}
	e.put(t, "acme%2Fpub", "toolbox", "1.0.0", "f.txt", "another package", "")
	var hiddenFile map[string]any
	e.do(t, "PUT", "/api/v4/projects/acme%2Fpub/packages/generic/tool/3.0.0/f.txt?status=hidden&select=package_file", private("alice"), "hidden").json(t, &hiddenFile)
	hiddenFileID := jsonNumber(int64(hiddenFile["id"].(float64)))
	var list []map[string]any
	e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages?package_name=tool&order_by=version", private("alice"), "").json(t, &list)
	ids := map[string]string{}
	for _, p := range list {
		ids[p["name"].(string)+"@"+p["version"].(string)] = jsonNumber(int64(p["id"].(float64)))
	}
	id := ids["tool@2.0.0"]
	if id == "" {
		t.Fatalf("listing = %v", list)
	}
	pkg := "/api/v4/projects/acme%2Fpub/packages/" + id

	t.Run("versions", func(t *testing.T) {
		var one struct {
			Versions []struct {
				ID      int64
				Version string
				Tags    []string
			}
		}
		r := e.do(t, "GET", pkg, anon(), "")
		r.json(t, &one)
		var got []string
		for _, v := range one.Versions {
			got = append(got, v.Version)
			if v.ID == 0 || v.Tags == nil {
				t.Errorf("version %+v lacks id or tags", v)
			}
		}
		// The other versions of tool, not itself, not toolbox, not hidden.
		if strings.Join(got, ",") != "1.0.0,10.0.0" || !strings.Contains(r.body, `"versions":[`) {
			t.Errorf("versions = %v (%s), want [1.0.0 10.0.0]", got, r.body)
		}
		// A package alone has "versions": [].
		r = e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages/"+ids["toolbox@1.0.0"], anon(), "")
		if !strings.Contains(r.body, `"versions":[]`) {
			t.Errorf("package without other versions = %s, want \"versions\":[]", r.body)
		}
	})

	t.Run("delete_api_path", func(t *testing.T) {
		want := "http://depot.test/api/v4/projects/" + itoa(e.pub.ID) + "/packages/" + id
		for _, tc := range []struct {
			who  string
			a    auth
			show bool
		}{
			{"anonymous", anon(), false}, {"outsider", private("carol"), false}, {"reporter", private("rep"), false},
			{"developer", private("dev"), false}, {"job token", job("job-pub"), false}, {"maintainer", private("alice"), true},
		} {
			var one map[string]any
			e.do(t, "GET", pkg, tc.a, "").json(t, &one)
			got, ok := one["_links"].(map[string]any)["delete_api_path"]
			if ok != tc.show || tc.show && got != want {
				t.Errorf("%s: delete_api_path = %v (present %v), want present %v", tc.who, got, ok, tc.show)
			}
			var list []map[string]any
			e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages", tc.a, "").json(t, &list)
			for _, p := range list {
				if _, ok := p["_links"].(map[string]any)["delete_api_path"]; ok != tc.show {
					t.Errorf("%s: listing delete_api_path present %v, want %v", tc.who, ok, tc.show)
				}
			}
			e.do(t, "GET", "/api/v4/groups/acme/packages", tc.a, "").json(t, &list)
			for _, p := range list {
				if _, ok := p["_links"].(map[string]any)["delete_api_path"]; ok != tc.show {
					t.Errorf("%s: group listing delete_api_path present %v, want %v", tc.who, ok, tc.show)
				}
			}
		}
	})

	t.Run("package id 0", func(t *testing.T) {
		for _, tc := range []struct{ method, path, body string }{
			{"GET", "/api/v4/projects/acme%2Fpub/packages/0", `{"message":"404 Package Not Found"}`},
			{"DELETE", "/api/v4/projects/acme%2Fpub/packages/0", `{"message":"404 Package Not Found"}`},
			{"GET", "/api/v4/projects/acme%2Fpub/packages/0/package_files", `{"message":"404 Package Not Found"}`},
			{"GET", "/api/v4/projects/acme%2Fpub/packages/-1", `{"message":"404 Package Not Found"}`},
		} {
			if r := e.do(t, tc.method, tc.path, private("alice"), ""); r.status != 404 || strings.TrimSpace(r.body) != tc.body {
				t.Errorf("%s %s = %d %s, want 404 %s", tc.method, tc.path, r.status, r.body, tc.body)
			}
		}
		if r := e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages/x", private("alice"), ""); r.status != 400 || strings.TrimSpace(r.body) != `{"error":"package_id is invalid"}` {
			t.Errorf("GET packages/x = %d %s, want 400", r.status, r.body)
		}
	})

	// Three uploads of two names in one package, out of name order.
	e.clock.advance(time.Minute)
	e.put(t, "acme%2Fpub", "tool", "2.0.0", "b.txt", "b", "")
	e.clock.advance(-time.Hour) // an upload dated before the first
	e.put(t, "acme%2Fpub", "tool", "2.0.0", "a.txt", "a", "")
	e.clock.advance(2 * time.Hour)
	e.put(t, "acme%2Fpub", "tool", "2.0.0", "f.txt", "newest f", "")
	files := func(t *testing.T, query string) []string {
		t.Helper()
		var fs []map[string]any
		r := e.do(t, "GET", pkg+"/package_files"+query, anon(), "")
		if r.status != 200 {
			t.Fatalf("package_files%s = %d %s", query, r.status, r.body)
		}
		r.json(t, &fs)
		var out []string
		for _, f := range fs {
			out = append(out, f["file_name"].(string)+"#"+jsonNumber(int64(f["id"].(float64))))
		}
		return out
	}
	byID := files(t, "")
	if len(byID) != 4 {
		t.Fatalf("files = %v, want 4", byID)
	}
	name := func(s string) string { n, _, _ := strings.Cut(s, "#"); return n }
	t.Run("package files order", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"", []string{"f.txt", "b.txt", "a.txt", "f.txt"}},
			{"?order_by=id&sort=asc", []string{"f.txt", "b.txt", "a.txt", "f.txt"}},
			{"?sort=desc", []string{"f.txt", "a.txt", "b.txt", "f.txt"}},
			{"?order_by=file_name", []string{"a.txt", "b.txt", "f.txt", "f.txt"}},
			{"?order_by=file_name&sort=desc", []string{"f.txt", "f.txt", "b.txt", "a.txt"}},
			{"?order_by=created_at", []string{"a.txt", "f.txt", "b.txt", "f.txt"}},
			{"?order_by=created_at&sort=desc&per_page=2", []string{"f.txt", "b.txt"}},
		} {
			var got []string
			for _, f := range files(t, tc.query) {
				got = append(got, name(f))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("package_files%s = %v, want %v", tc.query, got, tc.want)
			}
		}
		// Equal names keep id order.
		if got := files(t, "?order_by=file_name"); got[2] != byID[0] || got[3] != byID[3] {
			t.Errorf("order_by=file_name ties = %v, want ids ascending (%v)", got, byID)
		}
		for _, q := range []string{"?order_by=size", "?sort=up"} {
			if r := e.do(t, "GET", pkg+"/package_files"+q, anon(), ""); r.status != 400 || !strings.HasPrefix(r.body, `{"error":`) {
				t.Errorf("package_files%s = %d %s, want 400 {\"error\": ...}", q, r.status, r.body)
			}
		}
	})

	t.Run("download by package file id", func(t *testing.T) {
		oldF := strings.TrimPrefix(byID[0], "f.txt#")
		dl := func(project, fileID string) string {
			return "/api/v4/projects/" + project + "/packages/package_files/" + fileID + "/download"
		}
		// The first upload of f.txt, which the generic route no longer serves.
		r := e.do(t, "GET", dl("acme%2Fpub", oldF), anon(), "")
		if r.status != 200 || r.body != "content 2.0.0" || !strings.Contains(r.header.Get("Content-Disposition"), "f.txt") {
			t.Errorf("download of an older upload = %d %q %v", r.status, r.body, r.header)
		}
		if r := e.do(t, "GET", "/api/v4/projects/acme%2Fpub/packages/generic/tool/2.0.0/f.txt", anon(), ""); r.body != "newest f" {
			t.Errorf("generic download = %q, want the newest upload", r.body)
		}
		var privFiles []map[string]any
		e.put(t, "acme%2Fpriv", "secret", "1.0", "s.txt", "secret", "")
		var privList []map[string]any
		e.do(t, "GET", "/api/v4/projects/acme%2Fpriv/packages", private("alice"), "").json(t, &privList)
		e.do(t, "GET", "/api/v4/projects/acme%2Fpriv/packages/"+jsonNumber(int64(privList[0]["id"].(float64)))+"/package_files", private("alice"), "").json(t, &privFiles)
		privF := jsonNumber(int64(privFiles[0]["id"].(float64)))
		for _, tc := range []struct {
			name    string
			a       auth
			path    string
			status  int
			content string
		}{
			{"reporter reads private", private("rep"), dl("acme%2Fpriv", privF), 200, "secret"},
			{"read deploy token", deploy("deploy-read"), dl("acme%2Fpriv", privF), 200, "secret"},
			{"anonymous, private project", anon(), dl("acme%2Fpriv", privF), 404, ""},
			{"outsider, private project", private("carol"), dl("acme%2Fpriv", privF), 404, ""},
			{"file of another project", private("alice"), dl("acme%2Fpub", privF), 404, ""},
			{"missing file", private("alice"), dl("acme%2Fpub", "999999"), 404, ""},
			{"file id 0", private("alice"), dl("acme%2Fpub", "0"), 404, ""},
			{"file id not a number", private("alice"), dl("acme%2Fpub", "x"), 400, ""},
			{"hidden package's file", private("alice"), dl("acme%2Fpub", hiddenFileID), 404, ""},
			{"wrong token", private("0123456789012345678901234567890123456789"), dl("acme%2Fpub", oldF), 401, ""},
		} {
			r := e.do(t, "GET", tc.path, tc.a, "")
			if r.status != tc.status || tc.status == 200 && r.body != tc.content {
				t.Errorf("%s: %d %q, want %d %q", tc.name, r.status, r.body, tc.status, tc.content)
			}
		}
		if r := e.do(t, "HEAD", dl("acme%2Fpub", oldF), anon(), ""); r.status != 200 || r.header.Get("Content-Length") != "13" {
			t.Errorf("HEAD = %d %v", r.status, r.header)
		}
	})
}
