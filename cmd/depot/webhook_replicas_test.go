//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/testenv"
)

// TestWebhookReplicas runs two depot serve processes on one PostgreSQL
// schema, both delivering webhooks, and uploads new versions through both
// at once: the receiver gets each event exactly once (one delivery id per
// version, no repeats), whichever replica claimed it. The admin CLI, a
// third process, deletes a version: a server's worker delivers that event
// too.
func TestWebhookReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("the webhook replica test builds and runs the binary; it runs outside -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	tmp, bin, env, admin, token := hookProcesses(t, ctx)

	var replicas [2]*childServer
	for i := range replicas {
		replicas[i] = startServer(t, ctx, bin, filepath.Join(tmp, fmt.Sprintf("replica%d.log", i)), env,
			"--data-dir", filepath.Join(tmp, fmt.Sprintf("data%d", i)))
	}
	rc := newReceiver(t)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+replicas[0].addr+"/api/v1/user/hooks",
		strings.NewReader(fmt.Sprintf(`{"type":"gitea","active":true,"events":["package"],"config":{"url":%q,"content_type":"json","secret":"rs"}}`, rc.url)))
	req.Header.Set("Authorization", "token "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create hook: %v %v", resp, err)
	}
	resp.Body.Close()

	const versions = 40
	var wg sync.WaitGroup
	for i := range versions {
		srv := replicas[i%2]
		wg.Go(func() {
			upload(t, "http://"+srv.addr, "rep", token, fmt.Sprintf("rep/generic/app/%d/app.bin", i), fmt.Sprint(i), http.StatusCreated)
		})
	}
	wg.Wait()
	admin("package", "delete", "--owner", "rep", "--name", "app", "--version", "0")
	rc.wait(versions+1, time.Minute)
	// Let any duplicate arrive: leases, polls and wake-ups are all well
	// within this.
	time.Sleep(1500 * time.Millisecond)
	got := rc.wait(versions+1, time.Second)
	ids, events := map[string]bool{}, map[string]int{}
	for _, g := range got {
		p := checkSigned(t, g, "rs")
		ids[g.header.Get("X-Gitea-Delivery")] = true
		events[fmt.Sprintf("%v %v", field(p, "action"), field(p, "package", "version"))]++
	}
	if len(got) != versions+1 || len(ids) != versions+1 {
		t.Errorf("receiver got %d requests with %d delivery ids, want %d of each", len(got), len(ids), versions+1)
	}
	for i := range versions {
		if n := events[fmt.Sprintf("created %d", i)]; n != 1 {
			t.Errorf("version %d: created delivered %d times", i, n)
		}
	}
	if events["deleted 0"] != 1 {
		t.Errorf("the CLI's delete: delivered %d times, want 1", events["deleted 0"])
	}
}

// TestWebhookSurvivesKill kills a replica (SIGKILL) while it is sending a
// delivery the receiver holds open: the event was committed with the
// upload, so the other replica sends it once the dead one's lease lapses,
// under the same delivery id (at least once, never lost).
func TestWebhookSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("the webhook kill test builds and runs the binary and waits out a lease; it runs outside -short")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	tmp, bin, env, admin, token := hookProcesses(t, ctx, "DEPOT_WEBHOOK_TIMEOUT=1s",
		// Payload links use the public URL, the same on every replica.
		"DEPOT_BASE_URL=https://depot.example.com")
	rc := newReceiver(t)
	admin("hook", "create", "--owner", "rep", "--url", rc.url, "--secret", "k")
	hold := make(chan struct{})
	var once sync.Once
	rc.respond = func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			<-hold // until the replica is dead
			return
		}
		w.WriteHeader(http.StatusOK)
	}
	t.Cleanup(func() { once.Do(func() { close(hold) }) })

	a := startServer(t, ctx, bin, filepath.Join(tmp, "a.log"), env, "--data-dir", filepath.Join(tmp, "a"))
	upload(t, "http://"+a.addr, "rep", token, "rep/generic/app/1/app.bin", "x", http.StatusCreated)
	first := rc.wait(1, 10*time.Second)[0]
	a.kill(t)
	once.Do(func() { close(hold) })
	killed := time.Now()
	startServer(t, ctx, bin, filepath.Join(tmp, "b.log"), env, "--data-dir", filepath.Join(tmp, "b"))
	second := rc.wait(2, time.Minute)[1]
	if second.header.Get("X-Gitea-Delivery") != first.header.Get("X-Gitea-Delivery") || !bytes.Equal(second.body, first.body) {
		t.Errorf("after the kill: delivery %q, want the same delivery %q and body", second.header.Get("X-Gitea-Delivery"), first.header.Get("X-Gitea-Delivery"))
	}
	t.Logf("delivered again %v after the kill (the lease is 2 × timeout + 30 s from the claim)", time.Since(killed).Round(time.Second))
	time.Sleep(500 * time.Millisecond)
	if n := rc.count(); n != 2 {
		t.Errorf("receiver got %d requests, want 2", n)
	}
}

// hookProcesses builds the binary and prepares what the webhook process
// tests share: one PostgreSQL schema and one blob directory for every
// process (the admin CLI deletes blobs too; the database is what they
// coordinate through), loopback targets, a short poll, the user rep and
// its token.
func hookProcesses(t *testing.T, ctx context.Context, extraEnv ...string) (tmp, bin string, env []string, admin func(...string) string, token string) {
	t.Helper()
	dbURL := testenv.PostgresURL(t)
	tmp = t.TempDir()
	bin = buildBinary(t, ctx, tmp)
	env = append([]string{"DEPOT_DATABASE_URL=" + dbURL, "DEPOT_STORAGE_URL=file://" + filepath.Join(tmp, "blobs"),
		"DEPOT_WEBHOOK_ALLOWED_HOSTS=loopback", "DEPOT_WEBHOOK_POLL=100ms"}, extraEnv...)
	admin = func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(runBinaryEnv(t, ctx, bin, append(env, "DEPOT_DATA_DIR="+filepath.Join(tmp, "cli")), append([]string{"admin"}, args...)...))
	}
	admin("user", "create", "--username", "rep", "--password", "replica-password", "--email", "rep@example.com")
	return tmp, bin, env, admin, admin("token", "create", "--username", "rep", "--name", "ci", "--scopes", "all")
}
