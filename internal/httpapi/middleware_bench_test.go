package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkLogged is the per-request cost of the logging middleware, with
// and without metrics, around a handler that writes 1 KiB.
func BenchmarkLogged(b *testing.B) {
	body := make([]byte, 1024)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		name string
		m    *Metrics
	}{
		{"metrics=off", nil},
		{"metrics=on", NewMetrics(prometheus.NewRegistry())},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := Logged(log, c.m, next)
			req := httptest.NewRequest(http.MethodGet, "/api/packages/o/generic/p/1/f.bin", nil)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
