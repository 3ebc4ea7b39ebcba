package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMetrics drives a server with --metrics and --metrics-token: scrapes
// need the token, and what was uploaded and downloaded shows in the counts.
func TestMetrics(t *testing.T) {
	m := MustRunMain(t, Config{Metrics: true, MetricsToken: "scrape-secret"})
	base := "http://" + m.Addr()
	token, body := mustPublishRandom(t, m, "metric", "app/1.0/app.bin", 3000)
	do := func(method, path, auth string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, got := do(http.MethodGet, "/api/packages/metric/generic/app/1.0/app.bin", "token "+token); code != http.StatusOK || got != string(body) {
		t.Fatalf("download: %d, %d bytes", code, len(got))
	}
	if code, _ := do(http.MethodGet, "/api/packages/metric/generic/app/1.0/missing.bin", "token "+token); code != http.StatusNotFound {
		t.Fatalf("missing file: %d, want 404", code)
	}
	for _, auth := range []string{"", "Bearer wrong", "token " + token} {
		if code, got := do(http.MethodGet, "/metrics", auth); code != http.StatusUnauthorized || !strings.Contains(got, `"message"`) {
			t.Errorf("/metrics with Authorization %q: %d %q, want 401 with a JSON error", auth, code, got)
		}
	}
	code, got := do(http.MethodGet, "/metrics", "Bearer scrape-secret")
	if code != http.StatusOK {
		t.Fatalf("/metrics with the token: %d %s", code, got)
	}
	for _, want := range []string{
		`depot_http_requests_total{area="gitea",code="201",method="PUT"} 1`,
		`depot_http_requests_total{area="gitea",code="200",method="GET"} 1`,
		`depot_http_requests_total{area="gitea",code="404",method="GET"} 1`,
		`depot_http_requests_total{area="other",code="401",method="GET"} 3`,
		fmt.Sprintf(`depot_http_request_body_bytes_total{area="gitea"} %d`, len(body)),
		`depot_http_request_duration_seconds_count{area="gitea",method="PUT"} 1`,
		`depot_http_requests_in_flight 1`, // the scrape itself
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Downloaded bytes: the file and the 404's JSON body at least.
	var sent float64
	if _, err := fmt.Sscanf(after(got, `depot_http_response_body_bytes_total{area="gitea"} `), "%g", &sent); err != nil || sent < float64(len(body)) {
		t.Errorf("response bytes of the gitea area: %v (%v), want at least %d", sent, err, len(body))
	}
}

// after returns what follows the first occurrence of sep in s, or "".
func after(s, sep string) string {
	_, rest, _ := strings.Cut(s, sep)
	return rest
}

// TestMetricsOff shows /metrics absent unless asked for.
func TestMetricsOff(t *testing.T) {
	m := MustRunMain(t, Config{})
	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNotFound || strings.Contains(string(b), "depot_http_requests_total") {
		t.Errorf("/metrics without --metrics: %d, want 404 without metrics", resp.StatusCode)
	}
}
