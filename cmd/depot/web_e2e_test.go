package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/testenv"
)

// chromiumPath is Debian's Chromium, which scripts/test.sh installs.
const chromiumPath = "/usr/bin/chromium"

// browser is a headless Chromium tab on a depot server that records console
// errors and every request that does not go to the server.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	// shots is where screenshots go: docs/screenshots with
	// DEPOT_UPDATE_SCREENSHOTS=1, else a temporary directory.
	shots string

	mu       sync.Mutex
	problems []string
	// allowed404 are URLs the test expects to answer 404.
	allowed404 map[string]bool
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Unavailable(t, "no Chromium at %s (apt-get install chromium): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, base: base, shots: t.TempDir(), allowed404: map[string]bool{}}
	if os.Getenv("DEPOT_UPDATE_SCREENSHOTS") == "1" {
		b.shots = filepath.Join("..", "..", "docs", "screenshots")
	}
	// The first Run starts the browser; it must not have a timeout.
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error { return nil })); err != nil {
		testenv.Unavailable(t, "start Chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("log.enable: %v", err)
	}
	go func() {
		for ev, err := range chromedp.Events(ctx, network.RequestWillBeSent) {
			if err != nil {
				return
			}
			u := ev.Request.URL
			if !strings.HasPrefix(u, base+"/") && u != base && !strings.HasPrefix(u, "data:") {
				b.problem("request to %s leaves the server", u)
			}
		}
	}()
	go func() {
		for ev, err := range chromedp.Events(ctx, runtime.ConsoleAPICalled) {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				b.problem("console %s", ev.Type)
			}
		}
	}()
	go func() {
		for ev, err := range chromedp.Events(ctx, runtime.ExceptionThrown) {
			if err != nil {
				return
			}
			b.problem("exception: %s", ev.ExceptionDetails.Text)
		}
	}()
	go func() {
		for ev, err := range chromedp.Events(ctx, cdplog.EntryAdded) {
			if err != nil {
				return
			}
			if ev.Entry.Level == cdplog.EntryLevelError {
				b.mu.Lock()
				ok := b.allowed404[ev.Entry.URL]
				b.mu.Unlock()
				if !ok {
					b.problem("console error: %s (%s)", ev.Entry.Text, ev.Entry.URL)
				}
			}
		}
	}()
	// Confirmation dialogs are accepted, as a user who means it would.
	go func() {
		for _, err := range chromedp.Events(ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	b.do(chromedp.EmulateViewport(1200, 800))
	return b
}

func (b *browser) problem(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

// check fails the test for every console error and foreign request seen
// since the last check, naming the page.
func (b *browser) check(page string) {
	b.t.Helper()
	// Basic accessibility: one h1, a main landmark, a label for every
	// control, a name for every button and link.
	issues := run(b, chromedp.Evaluate[[]string](`(() => {
		const out = [];
		if (document.querySelectorAll("h1").length !== 1) out.push("not exactly one h1");
		if (!document.querySelector("main")) out.push("no main landmark");
		if (!document.documentElement.lang) out.push("no lang");
		for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
			if (el.labels.length === 0 && !el.getAttribute("aria-label")) out.push("unlabelled " + el.outerHTML);
		}
		for (const el of document.querySelectorAll("button, a[href]")) {
			if (!el.hidden && el.textContent.trim() === "" && !el.getAttribute("aria-label")) out.push("nameless " + el.outerHTML);
		}
		return out;
	})()`))
	for _, is := range issues {
		b.t.Errorf("%s: %s", page, is)
	}
	time.Sleep(100 * time.Millisecond) // let late events arrive
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("%s: %s", page, p)
	}
	b.problems = nil
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

func run[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// open navigates to path and checks the status of the page.
func (b *browser) open(path string, wantStatus int64) {
	b.t.Helper()
	resp := run(b, chromedp.NavigateResponse(b.base+path))
	if resp.Status != wantStatus {
		b.t.Fatalf("GET %s: status %d, want %d", path, resp.Status, wantStatus)
	}
}

// submit clicks sel and waits for the page it leads to.
func (b *browser) submit(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(run(b, chromedp.TextContent(chromedp.CSS(sel))))
}

func (b *browser) html() string {
	b.t.Helper()
	return run(b, chromedp.OuterHTML(chromedp.CSS("html")))
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	png := run(b, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatalf("save screenshot: %v", err)
	}
}

// colorScheme emulates prefers-color-scheme ("" for the default).
func (b *browser) colorScheme(scheme string) {
	b.t.Helper()
	p := emulation.SetEmulatedMediaParams{}
	if scheme != "" {
		p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, p); err != nil {
		b.t.Fatalf("emulate %s: %v", scheme, err)
	}
}

func (b *browser) signIn(user, password string) {
	b.t.Helper()
	b.open("/-/signin", http.StatusOK)
	b.do(
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
	)
	b.submit(`main form button[type=submit]`)
	if got := b.text(`nav form button`); got != "Sign out" {
		b.t.Fatalf("after signing in as %s the nav shows %q, want a Sign out button", user, got)
	}
}

func (b *browser) signOut() {
	b.t.Helper()
	b.submit(`nav form button`)
	if !strings.Contains(b.html(), `href="/-/signin"`) {
		b.t.Fatal("after signing out the page has no Sign in link")
	}
}

// TestWebUIInChromium drives the web UI in a real headless Chromium against a
// real server: sign in, create a token, publish with it through the API,
// find the package, copy and run its curl command, check the digest, delete
// the version, sign out, and check that a private package stays invisible.
func TestWebUIInChromium(t *testing.T) {
	m := MustRunMain(t, Config{})
	base := "http://" + m.Addr()
	ctx := context.Background()
	for _, nu := range []depot.NewUser{
		{Username: "alice", Email: "alice@example.com", Password: "alice-pass-1", Admin: true},
		{Username: "bob", Email: "bob@example.com", Password: "bob-pass-12"},
	} {
		if _, err := m.Service.CreateUser(ctx, nu); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Service.CreateOrg(ctx, "secret-team", "alice", depot.Private); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, base)

	b.open("/", http.StatusOK)
	b.check("explore (anonymous)")
	b.open("/-/signin", http.StatusOK)
	b.screenshot("signin")
	b.signIn("alice", "alice-pass-1")
	b.check("sign in")

	// A token, created in the browser and shown once.
	b.open("/-/settings/tokens", http.StatusOK)
	b.do(
		chromedp.SendKeys(chromedp.ID("token-name"), "e2e"),
		chromedp.Click(chromedp.CSS(`input[value="write:package"]`)),
	)
	b.submit(`form[action="/-/settings/tokens"] button[type=submit]`)
	token := b.text("#new-token")
	if len(token) != 40 {
		t.Fatalf("new token %q, want 40 hex characters", token)
	}
	b.check("tokens")
	b.screenshot("tokens")

	// Publish through the API with that token.
	content := []byte("depot end-to-end payload\n")
	sum := sha256.Sum256(content)
	digest := hex.EncodeToString(sum[:])
	put := func(owner, pkg, version, file string, body []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/api/packages/%s/generic/%s/%s/%s", base, owner, pkg, version, file), bytes.NewReader(body))
		req.Header.Set("Authorization", "token "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: %s", req.URL, resp.Status)
		}
	}
	put("alice", "e2e-tool", "1.2.0", "tool-linux-amd64.tar.gz", content)
	put("alice", "e2e-tool", "1.10.0", "tool-linux-amd64.tar.gz", bytes.Repeat(content, 40))
	put("alice", "e2e-tool", "1.10.0", "checksums.txt", []byte(digest+"  tool-linux-amd64.tar.gz\n"))
	put("alice", "other-lib", "0.3.1", "lib.zip", bytes.Repeat([]byte("z"), 4096))
	put("secret-team", "hidden-build", "1.0.0", "secret.bin", []byte("classified"))

	// Find it through search.
	b.open("/?q=e2e", http.StatusOK)
	if got := b.text("main tbody tr:first-child td a"); got != "e2e-tool" {
		t.Fatalf("search e2e: first result %q, want e2e-tool", got)
	}
	if strings.Contains(b.html(), "other-lib") {
		t.Error("search e2e shows other-lib")
	}
	b.check("explore search")
	b.open("/", http.StatusOK)
	b.screenshot("explore")
	b.open("/alice", http.StatusOK)
	b.check("owner")
	b.screenshot("owner")
	b.colorScheme("dark")
	b.open("/alice", http.StatusOK)
	b.screenshot("owner-dark")
	b.colorScheme("")
	b.open("/?q=e2e", http.StatusOK)
	b.submit(`main tbody tr:first-child td a`)
	if got := b.text("h1"); got != "e2e-tool" {
		t.Fatalf("package page heading %q", got)
	}
	if got := b.text("main tbody tr:first-child td a"); got != "1.10.0" {
		t.Errorf("first version %q, want 1.10.0 (semantic order)", got)
	}
	if got := b.text("main tbody tr:first-child .badge"); got != "latest" {
		t.Errorf("latest badge on the first row: %q", got)
	}
	// The latest commands: the first follows the latest route to 1.10.0.
	latestCmd := b.text("#cmd-latest-0")
	if !strings.Contains(latestCmd, "/api/packages/alice/generic/e2e-tool/-/latest/tool-linux-amd64.tar.gz") {
		t.Errorf("latest command %q", latestCmd)
	}
	b.check("package")
	b.screenshot("package")
	if got := runCurlCommand(t, latestCmd, token); !bytes.Equal(got, bytes.Repeat(content, 40)) {
		t.Errorf("the latest command downloaded %d bytes, want 1.10.0's %d", len(got), 40*len(content))
	}

	// The version page: digest, copy button, curl command.
	b.open("/alice/-/packages/generic/e2e-tool/1.2.0", http.StatusOK)
	if got := b.text(`[data-digest="sha256"]`); got != digest {
		t.Errorf("digest shown %q, want %q", got, digest)
	}
	b.do(chromedp.Click(chromedp.CSS(`button[data-copy="cmd-gitea-0"]`)))
	run(b, chromedp.Poll[bool](`document.getElementById("cmd-gitea-0-status").textContent === "Copied"`, chromedp.WithPollingTimeout(10*time.Second)))
	cmd := b.text("#cmd-gitea-0")
	if !strings.Contains(b.html(), `id="archive-zip" href="/alice/-/packages/generic/e2e-tool/1.2.0/-/archive.zip"`) {
		t.Error("the version page has no archive link")
	}
	if resp, err := http.Get(base + "/alice/-/packages/generic/e2e-tool/1.2.0/-/archive.tar.gz"); err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/gzip" {
		t.Errorf("the version page's archive: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	b.check("version")
	b.screenshot("version")
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.open("/alice/-/packages/generic/e2e-tool/1.2.0", http.StatusOK)
	b.screenshot("version-phone")
	b.do(chromedp.EmulateViewport(1200, 800))
	got := runCurlCommand(t, cmd, token)
	if !bytes.Equal(got, content) {
		t.Errorf("the copied command downloaded %q, want %q", got, content)
	}

	// Admin and organization pages.
	b.open("/-/admin", http.StatusOK)
	b.check("admin")
	b.screenshot("admin")
	b.open("/secret-team/-/members", http.StatusOK)
	b.check("members")
	b.screenshot("members")
	if _, err := m.Service.CreateTrustedPublisher(ctx, depot.NewTrustedPublisher{Owner: "secret-team", Issuer: "https://token.actions.githubusercontent.com",
		Audience: "https://depot.example", Claims: []string{"repository_id=74", "workflow_ref=secret-team/app/.github/workflows/release.yml@refs/tags/v*"}, Packages: []string{"app"}}); err != nil {
		t.Fatal(err)
	}
	b.open("/secret-team/-/settings/trusted-publishers", http.StatusOK)
	b.check("trusted publishers")
	b.screenshot("trusted-publishers")

	// Delete the version, behind a confirmation.
	b.open("/alice/-/packages/generic/e2e-tool/1.2.0", http.StatusOK)
	b.submit("#delete-version")
	b.check("delete version")
	resp, err := http.Get(base + "/api/packages/alice/generic/e2e-tool/1.2.0/tool-linux-amd64.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("after deleting 1.2.0 its file answers %s, want 404", resp.Status)
	}
	b.signOut()
	b.check("sign out")

	// Bob may not see the private organization's package.
	b.signIn("bob", "bob-pass-12")
	b.open("/?q=hidden", http.StatusOK)
	if strings.Contains(b.html(), "hidden-build") {
		t.Error("bob finds hidden-build in Explore")
	}
	for _, p := range []string{"/secret-team", "/secret-team/-/packages/generic/hidden-build", "/secret-team/-/packages/generic/hidden-build/1.0.0"} {
		b.mu.Lock()
		b.allowed404[base+p] = true
		b.mu.Unlock()
		b.open(p, http.StatusNotFound)
		if got := b.text("h1"); got != "Page not found" {
			t.Errorf("bob at %s sees %q, want the not-found page", p, got)
		}
	}
	b.screenshot("not-found")
	b.check("private owner")
	b.signOut()
}

// runCurlCommand runs a curl command copied from the version page with
// <TOKEN> replaced: with curl when installed, else as the equivalent request
// built from exactly the command's URL and headers.
func runCurlCommand(t *testing.T, cmd, token string) []byte {
	t.Helper()
	args, err := shellWords(strings.ReplaceAll(cmd, "<TOKEN>", token))
	if err != nil || len(args) == 0 || args[0] != "curl" {
		t.Fatalf("command %q: %v", cmd, err)
	}
	var headers []string
	var rawURL, out string
	for i := 1; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-H":
			i++
			headers = append(headers, args[i])
		case a == "-o":
			i++
			out = args[i]
		case strings.HasPrefix(a, "-"):
		default:
			rawURL = a
		}
	}
	if _, err := url.Parse(rawURL); err != nil || rawURL == "" || out == "" {
		t.Fatalf("command %q has no URL or output file", cmd)
	}
	if path, err := exec.LookPath("curl"); err == nil {
		dir := t.TempDir()
		c := exec.Command(path, append(args[1:], "-sS")...)
		c.Dir = dir
		if msg, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, msg)
		}
		body, err := os.ReadFile(filepath.Join(dir, out))
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", rawURL, resp.Status)
	}
	body, _ := io.ReadAll(resp.Body)
	return body
}

// shellWords splits a command line of plain words and single-quoted strings
// (with '\” escapes), as the version page writes them.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case in && c == '\'':
			in = false
		case in:
			cur.WriteByte(c)
		case c == '\'':
			in, have = true, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			have = true
		case c == ' ' || c == '\t' || c == '\n':
			if have {
				words = append(words, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if in {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if have {
		words = append(words, cur.String())
	}
	return words, nil
}
