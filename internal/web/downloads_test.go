package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/web"
)

// TestDownloadChart downloads a file through the web UI, flushes the
// batched counts and checks the package page's server-rendered chart and
// counts and the version page's per-file count.
func TestDownloadChart(t *testing.T) {
	e := newEnv(t, web.Options{})
	c := e.client(t)
	for range 3 {
		if resp, _ := c.get("/alice/-/packages/generic/tool/1.0.0/files/tool.bin"); resp.StatusCode != http.StatusOK {
			t.Fatalf("download: %s", resp.Status)
		}
	}
	req, _ := http.NewRequest(http.MethodHead, e.srv.URL+"/alice/-/packages/generic/tool/1.0.0/files/tool.bin", nil)
	if resp, _ := c.do(req); resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: %s", resp.Status)
	}
	_, body := c.get("/alice/-/packages/generic/tool")
	if !strings.Contains(body, "<strong>0</strong>") {
		t.Errorf("package page counts downloads before they are flushed")
	}
	if err := e.svc.FlushDownloads(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, body = c.get("/alice/-/packages/generic/tool")
	for _, want := range []string{`<svg role="img"`, `: 3 in all, at most 3 a day</title>`, `3 downloads</title></rect>`, "last 30 days", `<td data-label="Downloads" class="num">3</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("package page lacks %q", want)
		}
	}
	if n := strings.Count(body, `<rect class="bar"`); n != 30 {
		t.Errorf("chart has %d bars, want 30", n)
	}
	if strings.Contains(body, "<script") && !strings.Contains(body, `<script src="/-/static/`) {
		t.Errorf("package page has an inline script")
	}
	_, body = c.get("/alice/-/packages/generic/tool/1.0.0")
	if strings.Count(body, "<dt>Downloads</dt><dd>3</dd>") != 2 {
		t.Errorf("version page does not show 3 downloads for the version and its file")
	}
}
