package httpsuite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

// testCleanup covers cleanup rules over depot's API: who may manage them
// (owner admins, site admins; not writers, readers, strangers, anonymous,
// or a token without write:organization), bad input refused with 400
// naming the field and nothing stored, the preview listing exactly what a
// run then deletes, immutable versions kept and listed as such, and the
// deleted files' blobs leaving blob storage.
func (fx *fixture) testCleanup(t *testing.T) {
	ctx := context.Background()
	svc := fx.env.Service
	const org = "cleanco"
	if _, err := svc.CreateOrg(ctx, org, "alice", depot.Public); err != nil {
		t.Fatal(err)
	}
	for user, role := range map[string]depot.Role{"bob": depot.AccessRead, "carol": depot.AccessWrite} {
		if err := svc.SetMember(ctx, org, user, role); err != nil {
			t.Fatal(err)
		}
	}
	alice := basic("alice", pw)
	rules := "/api/depot/owners/" + org + "/cleanup-rules"

	for _, c := range []struct {
		name string
		a    auth
		want int
	}{
		{"anonymous", anon(), 401},
		{"reader", basic("bob", pw), 403},
		{"writer", basic("carol", pw), 403},
		{"stranger", basic("dave", pw), 403},
		{"token without the organization scope", header("token " + fx.tok["alice-write"]), 403},
		{"owner admin", alice, 200},
		{"site admin", basic("root", pw), 200},
	} {
		if resp, body := fx.do(t, http.MethodGet, rules, c.a, nil); resp.StatusCode != c.want {
			t.Errorf("GET rules as %s: %d, want %d; %s", c.name, resp.StatusCode, c.want, body)
		}
		if c.want != 200 {
			if resp, body := fx.do(t, http.MethodPost, rules, c.a, []byte(`{"keep_count": 1}`)); resp.StatusCode != c.want {
				t.Errorf("POST rule as %s: %d, want %d; %s", c.name, resp.StatusCode, c.want, body)
			}
		}
	}
	for _, c := range []struct{ body, field string }{
		{`{"keep_pattern": "v("}`, "keep_pattern"},
		{`{"remove_pattern": "(a)\\1"}`, "remove_pattern"},
		{`{"keep_count": -1}`, "keep_count"},
		{`{"remove_days": -30}`, "remove_days"},
		{`{"not_downloaded_days": -1}`, "not_downloaded_days"},
		{`{"order": "random"}`, "order"},
		{`{"type": "npm"}`, "type"},
		{`{"keep_count": "five"}`, "keep_count"},
		{`{"keep_cuont": 5}`, "keep_cuont"},
	} {
		resp, body := fx.do(t, http.MethodPost, rules, alice, []byte(c.body))
		if resp.StatusCode != 400 || !strings.Contains(string(body), c.field) {
			t.Errorf("POST %s: %d %s, want 400 naming %s", c.body, resp.StatusCode, body, c.field)
		}
	}
	if _, body := fx.mustStatus(t, 200, http.MethodGet, rules, alice, nil); strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("rules after refused creates: %s", body)
	}
	fx.mustStatus(t, 400, http.MethodGet, rules+"/abc", alice, nil)
	fx.mustStatus(t, 404, http.MethodGet, rules+"/999999", alice, nil)

	_, body := fx.mustStatus(t, 201, http.MethodPost, rules, alice, []byte(`{"keep_count": 1, "remove_pattern": ".*"}`))
	var rule struct {
		ID        int64 `json:"id"`
		KeepCount int   `json:"keep_count"`
		Enabled   bool  `json:"enabled"`
	}
	if err := json.Unmarshal(body, &rule); err != nil || rule.ID == 0 || rule.KeepCount != 1 || !rule.Enabled {
		t.Fatalf("created rule %s (%v)", body, err)
	}
	fx.mustStatus(t, 409, http.MethodPost, rules, basic("root", pw), []byte(`{}`))
	ruleURL := fmt.Sprintf("%s/%d", rules, rule.ID)
	// A bad update changes nothing.
	fx.mustStatus(t, 400, http.MethodPut, ruleURL, alice, []byte(`{"keep_count": -2}`))
	if _, body := fx.mustStatus(t, 200, http.MethodGet, ruleURL, alice, nil); !strings.Contains(string(body), `"keep_count":1`) {
		t.Fatalf("rule after a refused update: %s", body)
	}

	sizes := map[string]int64{}
	var shas []string
	for _, v := range []struct{ pkg, version string }{{"lib", "1.0"}, {"lib", "2.0"}, {"lib", "3.0"}, {"tool", "1"}, {"tool", "2"}} {
		content := fmt.Sprintf("cleanup %s %s %s", v.pkg, v.version, strings.Repeat("z", len(v.pkg)*len(v.version)*100))
		fx.mustStatus(t, 201, http.MethodPut, pkgPath(org, v.pkg, v.version, "f.bin"), alice, []byte(content))
		sizes[v.pkg+"@"+v.version] = int64(len(content))
		shas = append(shas, sha([]byte(content)))
	}
	type plan struct {
		Delete []struct {
			Package, Version string
			Files            []struct{ Name string }
			Bytes            int64
		} `json:"delete"`
		Immutable []struct{ Package, Version string } `json:"kept_immutable"`
		Deleted   int                                 `json:"deleted"`
		Kept      int64                               `json:"kept"`
	}
	get := func(method, path string) (plan, string) {
		t.Helper()
		_, body := fx.mustStatus(t, 200, method, path, alice, nil)
		var p plan
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%s %s: %s (%v)", method, path, body, err)
		}
		var names []string
		for _, it := range p.Delete {
			names = append(names, it.Package+"@"+it.Version)
		}
		for _, it := range p.Immutable {
			names = append(names, "immutable:"+it.Package+"@"+it.Version)
		}
		return p, strings.Join(names, ",")
	}
	const want = "lib@2.0,lib@1.0,tool@1"
	settings := "/api/depot/owners/" + org + "/settings"
	fx.mustStatus(t, 200, http.MethodPut, settings, alice, []byte(`{"immutable_versions": true}`))
	if _, got := get(http.MethodGet, ruleURL+"/preview"); got != "immutable:lib@2.0,immutable:lib@1.0,immutable:tool@1" {
		t.Errorf("preview with immutable versions: %s", got)
	}
	if p, got := get(http.MethodPost, ruleURL+"/run"); p.Deleted != 0 || got != "immutable:lib@2.0,immutable:lib@1.0,immutable:tool@1" {
		t.Errorf("run with immutable versions: deleted %d, %s", p.Deleted, got)
	}
	fx.mustStatus(t, 200, http.MethodGet, pkgPath(org, "lib", "1.0", "f.bin"), alice, nil)
	fx.mustStatus(t, 200, http.MethodPut, settings, alice, []byte(`{"immutable_versions": false}`))

	p, got := get(http.MethodGet, ruleURL+"/preview")
	if got != want || p.Kept != 2 {
		t.Fatalf("preview: %s, kept %d; want %s, kept 2", got, p.Kept, want)
	}
	if _, all := get(http.MethodGet, "/api/depot/owners/"+org+"/cleanup/preview"); all != want {
		t.Errorf("owner preview: %s, want %s", all, want)
	}
	var freed int64
	for _, it := range p.Delete {
		if it.Bytes != sizes[it.Package+"@"+it.Version] || len(it.Files) != 1 || it.Files[0].Name != "f.bin" {
			t.Errorf("preview item %+v", it)
		}
		freed += it.Bytes
	}
	fx.mustStatus(t, 200, http.MethodGet, pkgPath(org, "lib", "1.0", "f.bin"), alice, nil) // a preview deletes nothing
	before := fx.storedBytes(t, shas)
	run, got := get(http.MethodPost, "/api/depot/owners/"+org+"/cleanup/run")
	if got != want || run.Deleted != 3 {
		t.Fatalf("run deleted %d: %s, want %s", run.Deleted, got, want)
	}
	if after := fx.storedBytes(t, shas); after != before-freed {
		t.Errorf("stored bytes %d -> %d, want %d fewer", before, after, freed)
	}
	for v, status := range map[string]int{"lib@1.0": 404, "lib@2.0": 404, "lib@3.0": 200, "tool@1": 404, "tool@2": 200} {
		pkg, ver, _ := strings.Cut(v, "@")
		fx.mustStatus(t, status, http.MethodGet, pkgPath(org, pkg, ver, "f.bin"), alice, nil)
	}
	// The audit log names the rule as the deleter of each version.
	var byRule []string
	for _, e := range fx.auditEvents(t, "/api/depot/owners/"+org+"/audit?action=version.delete&order=oldest", alice) {
		if e.Actor == fmt.Sprintf("cleanup rule %d", rule.ID) {
			byRule = append(byRule, e.Target)
		}
	}
	if len(byRule) != 3 {
		t.Errorf("audit events of rule %d: %q, want its 3 version deletes", rule.ID, byRule)
	}
	if _, again := get(http.MethodGet, ruleURL+"/preview"); again != "" {
		t.Errorf("preview after the run: %s", again)
	}
	fx.mustStatus(t, 403, http.MethodPost, ruleURL+"/run", basic("carol", pw), nil)
	fx.mustStatus(t, 200, http.MethodPut, ruleURL, alice, []byte(`{"keep_count": 5, "enabled": false}`))
	fx.mustStatus(t, 204, http.MethodDelete, ruleURL, alice, nil)
	fx.mustStatus(t, 404, http.MethodDelete, ruleURL, alice, nil)
}

// storedBytes sums the sizes of the blobs in blob storage and of those of
// shas kept inline.
func (fx *fixture) storedBytes(t *testing.T, shas []string) int64 {
	t.Helper()
	n := fx.blobBytes(t)
	for _, sha := range shas {
		b, err := fx.env.Inline.InlineBlob(context.Background(), sha)
		if err != nil && !errors.Is(err, depot.ErrNotFound) {
			t.Fatal(err)
		}
		n += int64(len(b))
	}
	return n
}

// blobBytes sums the sizes of the blobs in blob storage.
func (fx *fixture) blobBytes(t *testing.T) int64 {
	t.Helper()
	ctx := context.Background()
	var n int64
	err := fx.env.Blobs.Walk(ctx, func(sha string) error {
		s, err := fx.env.Blobs.Stat(ctx, sha)
		n += s
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
