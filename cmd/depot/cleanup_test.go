package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/depotapi"
)

// blobBytes sums the sizes of every blob in bs.
// blobBytes counts the blobs m stores and their bytes: those in blob
// storage and those kept inline in the metadata database.
func blobBytes(t *testing.T, m *Main) (n int, size int64) {
	t.Helper()
	ctx := context.Background()
	bs := m.Blobs
	err := bs.Walk(ctx, func(sha string) error {
		s, err := bs.Stat(ctx, sha)
		n, size = n+1, size+s
		return err
	})
	if err != nil {
		t.Fatalf("walk blobs: %v", err)
	}
	db, err := sqlDB(m.Store)
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	var inline int64
	if err := db.DB.QueryRowContext(ctx, `SELECT count(*), COALESCE(SUM(length(content)), 0) FROM blob_contents`).Scan(&rows, &inline); err != nil {
		t.Fatalf("count inline blobs: %v", err)
	}
	return n + rows, size + inline
}

// TestCLICleanup drives `admin cleanup-rule` and `admin cleanup` against a
// running server's SQLite and disk: bad rules are refused naming the field
// and store nothing; --dry-run lists exactly the versions the run then
// deletes, deleting nothing; the run deletes them, their blobs' bytes leave
// the disk, an immutable version is kept and said so.
func TestCLICleanup(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DEPOT_DATA_DIR": dir}
	mustCLI := func(args ...string) string { t.Helper(); return mustRunCLI(t, env, args...) }
	mustCLI("admin", "user", "create", "--username", "alice", "--password", "s3cret-pass", "--email", "alice@example.com")
	m := MustRunMain(t, Config{DataDir: dir, DatabaseURL: "sqlite://" + filepath.Join(dir, "depot.db"), TokenCacheTTL: -1})
	for i := 1; i <= 5; i++ {
		body := strings.Repeat(fmt.Sprint(i), 1000*i)
		if s, b := putStatus(t, m.Addr(), "alice", "s3cret-pass", fmt.Sprintf("/api/packages/alice/generic/app/1.0.%d/app.bin", i), body); s != 201 {
			t.Fatalf("upload %d: %d %s", i, s, b)
		}
	}
	for _, c := range []struct {
		args  []string
		field string
	}{
		{[]string{"--keep-pattern", "v("}, "keep_pattern"},
		{[]string{"--remove-pattern", "[z-a]"}, "remove_pattern"},
		{[]string{"--keep-count", "-1"}, "keep_count"},
		{[]string{"--remove-days", "-3"}, "remove_days"},
		{[]string{"--not-downloaded-days", "-3"}, "not_downloaded_days"},
		{[]string{"--order", "alphabetical"}, "order"},
	} {
		code, _, errOut := runCLI(t, env, append([]string{"admin", "cleanup-rule", "add", "--owner", "alice"}, c.args...)...)
		if code != 1 || !strings.Contains(errOut, c.field+":") {
			t.Errorf("cleanup-rule add %v: exit %d %q, want 1 naming %s", c.args, code, errOut, c.field)
		}
	}
	if out := mustCLI("admin", "cleanup-rule", "ls", "--owner", "alice", "--json"); out != "" {
		t.Fatalf("rules after refused adds: %q", out)
	}
	var rule depotapi.CleanupRule
	if err := json.Unmarshal([]byte(mustCLI("admin", "cleanup-rule", "add", "--owner", "alice", "--keep-count", "2", "--remove-pattern", `1\.0\..*`)), &rule); err != nil {
		t.Fatal(err)
	}
	if rule.ID == 0 || rule.KeepCount != 2 || !rule.Enabled || rule.Order != "created" {
		t.Fatalf("added rule %+v", rule)
	}
	if code, _, errOut := runCLI(t, env, "admin", "cleanup-rule", "add", "--owner", "alice"); code != 1 || !strings.Contains(errOut, "already has a cleanup rule") {
		t.Errorf("second rule for the type: exit %d %q", code, errOut)
	}
	// Version 1.0.1 is sealed: immutable versions on, no grace.
	mustCLI("admin", "owner-settings", "set", "--owner", "alice", "--immutable-versions")

	plan := func(args ...string) depotapi.CleanupPlan {
		t.Helper()
		var p depotapi.CleanupPlan
		if err := json.Unmarshal([]byte(mustCLI(append([]string{"admin", "cleanup", "--owner", "alice", "--json"}, args...)...)), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	names := func(its []depotapi.CleanupItem) string {
		var s []string
		for _, it := range its {
			s = append(s, it.Package+"@"+it.Version)
		}
		return strings.Join(s, ",")
	}
	// Everything is sealed: the preview deletes nothing and says why.
	p := plan("--dry-run")
	if len(p.Delete) != 0 || names(p.Immutable) != "app@1.0.3,app@1.0.2,app@1.0.1" {
		t.Fatalf("preview with every version sealed: delete %s, immutable %s", names(p.Delete), names(p.Immutable))
	}
	if out := mustCLI("admin", "cleanup", "--owner", "alice", "--dry-run"); !strings.Contains(out, "kept: immutable") {
		t.Errorf("text preview does not say kept: immutable:\n%s", out)
	}
	mustCLI("admin", "owner-settings", "set", "--owner", "alice")
	_, before := blobBytes(t, m)
	p = plan("--dry-run")
	if names(p.Delete) != "app@1.0.3,app@1.0.2,app@1.0.1" || len(p.Immutable) != 0 || p.Kept != 2 || !p.DryRun {
		t.Fatalf("preview: delete %s, immutable %s, kept %d", names(p.Delete), names(p.Immutable), p.Kept)
	}
	if f := p.Delete[0].Files; len(f) != 1 || f[0].Name != "app.bin" || f[0].Size != 3000 || p.Delete[0].Bytes != 3000 {
		t.Errorf("preview's files of 1.0.3: %+v", p.Delete[0])
	}
	if _, after := blobBytes(t, m); after != before {
		t.Fatalf("dry run changed blob bytes: %d -> %d", before, after)
	}
	text := mustCLI("admin", "cleanup", "--owner", "alice", "--dry-run")
	for _, v := range []string{"1.0.1", "1.0.2", "1.0.3"} {
		if !strings.Contains(text, "would delete  generic  app  "+v) {
			t.Errorf("text preview lacks %s:\n%s", v, text)
		}
	}
	run := plan()
	if names(run.Delete) != names(p.Delete) || run.Deleted != 3 || run.Bytes != 6000 {
		t.Fatalf("run deleted %s (%d, %d bytes), preview said %s", names(run.Delete), run.Deleted, run.Bytes, names(p.Delete))
	}
	if _, after := blobBytes(t, m); after != before-6000 {
		t.Errorf("blob bytes %d -> %d, want %d fewer", before, after, 6000)
	}
	for i, want := range []int{404, 404, 404, 200, 200} {
		resp, err := http.Get(fmt.Sprintf("http://%s/api/packages/alice/generic/app/1.0.%d/app.bin", m.Addr(), i+1))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET 1.0.%d after cleanup: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	if p := plan("--dry-run"); len(p.Delete) != 0 {
		t.Errorf("preview after the run: %s", names(p.Delete))
	}
	// set changes only the given fields; rm removes.
	var set depotapi.CleanupRule
	if err := json.Unmarshal([]byte(mustCLI("admin", "cleanup-rule", "set", "--owner", "alice", "--id", fmt.Sprint(rule.ID), "--keep-count", "1", "--enabled=false")), &set); err != nil {
		t.Fatal(err)
	}
	if set.KeepCount != 1 || set.Enabled || set.RemovePattern != `1\.0\..*` {
		t.Errorf("after set: %+v", set)
	}
	if p := plan("--dry-run"); len(p.Rules) != 0 || len(p.Delete) != 0 {
		t.Errorf("preview with the rule disabled: %+v", p)
	}
	if p := plan("--dry-run", "--rule", fmt.Sprint(rule.ID)); names(p.Delete) != "app@1.0.4" {
		t.Errorf("preview of the disabled rule by id: %s", names(p.Delete))
	}
	mustCLI("admin", "cleanup-rule", "rm", "--owner", "alice", "--id", fmt.Sprint(rule.ID))
	if code, _, errOut := runCLI(t, env, "admin", "cleanup-rule", "rm", "--owner", "alice", "--id", fmt.Sprint(rule.ID)); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("rm again: exit %d %q", code, errOut)
	}
}

// TestCleanupReplicasPostgres runs two `serve` replicas on one PostgreSQL
// schema and S3 bucket with a one-second cleanup interval: every pass is
// run by exactly one of them (a row per slot, a "pass started" log line
// per row across both logs, no two passes overlapping), the versions a
// rule selects are deleted once, each delete reaches a real webhook
// receiver exactly once (sender Ghost), and their blobs leave the bucket.
func TestCleanupReplicasPostgres(t *testing.T) {
	c := scaleOutConfig(t)
	c.CleanupInterval, c.CleanupPoll, c.CleanupLease = time.Second, 50*time.Millisecond, 30*time.Second
	c.TokenCacheTTL = -1
	c.WebhookAllowedHosts, c.WebhookPoll, c.WebhookBackoff, c.WebhookTimeout, c.WebhookMaxAttempts = "loopback", 100*time.Millisecond, 100*time.Millisecond, 5*time.Second, 5
	var logs [2]lockedBuffer
	ms := [2]*Main{}
	for i := range ms {
		rc := c
		rc.DataDir = t.TempDir()
		ms[i] = mustRunMainLog(t, rc, &logs[i])
	}
	ctx := context.Background()
	svc := ms[0].Service
	if _, err := svc.CreateUser(ctx, depot.NewUser{Username: "alice", Email: "a@example.com", Password: "s3cret-pass"}); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t)
	alice, err := svc.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	hookURL, ct, secret, active := rc.url, "json", "cs", true
	if _, err := svc.CreateHook(ctx, &depot.Actor{User: alice}, "alice", depot.HookInput{Type: "gitea", URL: &hookURL, ContentType: &ct, Secret: &secret, Events: []string{"package"}, Active: &active}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 6; i++ {
		addr := ms[i%2].Addr()
		if s, b := putStatus(t, addr, "alice", "s3cret-pass", fmt.Sprintf("/api/packages/alice/generic/app/1.0.%d/f", i), strings.Repeat("x", i*100)); s != 201 {
			t.Fatalf("upload %d: %d %s", i, s, b)
		}
	}
	_, before := blobBytes(t, ms[0])
	u := alice
	if _, err := svc.CreateCleanupRule(ctx, &depot.Actor{User: u}, "alice", depot.CleanupRule{Enabled: true, KeepCount: 2}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var passes []*depot.CleanupPass
	for {
		if passes, err = svc.CleanupPasses(ctx, 100); err != nil {
			t.Fatal(err)
		}
		finished := 0
		for _, p := range passes {
			if p.FinishedAt != nil && p.StartedAt.After(u.CreatedAt) {
				finished++
			}
		}
		if finished >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d passes finished in 30s: %+v", finished, passes)
		}
		time.Sleep(100 * time.Millisecond)
	}
	passes, _ = svc.CleanupPasses(ctx, 1000)
	var deleted int64
	slots := map[int64]bool{}
	holders := map[string]int{}
	for i, p := range passes {
		if slots[p.Slot] {
			t.Errorf("slot %d ran twice", p.Slot)
		}
		slots[p.Slot] = true
		holders[p.Holder]++
		deleted += p.Deleted
		if p.Error != "" {
			t.Errorf("pass %d: %s", p.ID, p.Error)
		}
		// Passes are newest first: each started after the previous ended.
		if i+1 < len(passes) && passes[i+1].FinishedAt != nil && p.StartedAt.Before(*passes[i+1].FinishedAt) {
			t.Errorf("pass %d started at %v, before pass %d finished at %v", p.ID, p.StartedAt, passes[i+1].ID, *passes[i+1].FinishedAt)
		}
	}
	started := strings.Count(logs[0].String(), "cleanup pass started") + strings.Count(logs[1].String(), "cleanup pass started")
	if started < len(passes) || started > len(passes)+2 { // each replica may be starting one more right now
		t.Errorf("%d passes started in the logs, %d rows", started, len(passes))
	}
	if deleted != 4 {
		t.Errorf("passes deleted %d versions in all, want 4 (once each)", deleted)
	}
	t.Logf("%d passes by holders %v", len(passes), holders)
	page, err := svc.ListVersions(ctx, &depot.Actor{User: u}, depot.PackageQuery{Owner: "alice", Type: depot.TypeGeneric, Name: "app", ExactName: true})
	if err != nil || len(page.Versions) != 2 {
		t.Fatalf("versions left: %v, %v", page, err)
	}
	if _, after := blobBytes(t, ms[0]); after != before-(100+200+300+400) {
		t.Errorf("bucket bytes %d -> %d, want %d fewer", before, after, 1000)
	}
	// Each delete reached the webhook once, sent by Gitea's Ghost user (a
	// rule, not an account, deleted it).
	rc.wait(10, 30*time.Second)
	time.Sleep(500 * time.Millisecond) // let any duplicate arrive
	events := map[string]int{}
	for _, g := range rc.wait(10, time.Second) {
		p := checkSigned(t, g, "cs")
		events[fmt.Sprintf("%v %v", field(p, "action"), field(p, "package", "version"))]++
		if field(p, "action") == "deleted" && (field(p, "sender", "login") != "Ghost" || field(p, "sender", "id") != float64(-1)) {
			t.Errorf("deleted event's sender = %v, want Gitea's Ghost (id -1)", field(p, "sender"))
		}
	}
	for i := 1; i <= 4; i++ {
		if n := events[fmt.Sprintf("deleted 1.0.%d", i)]; n != 1 {
			t.Errorf("deleted 1.0.%d delivered %d times, want 1 (events %v)", i, n, events)
		}
	}
}
