package httpapi

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what Logged sees of every request, for Prometheus: requests
// by area (which API or the web UI), method and status, their durations, and
// the bytes received and sent. Labels come from fixed sets, so the number of
// series stays bounded whatever the paths.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	received *prometheus.CounterVec
	sent     *prometheus.CounterVec
	inFlight prometheus.Gauge

	storageFull        prometheus.Gauge
	storageFullAnswers prometheus.Counter
}

// NewMetrics creates the request metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "depot_http_requests_total",
			Help: "HTTP requests answered, by area (gitea, gitea_v1, gitlab, web, other), method and status code.",
		}, []string{"area", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "depot_http_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its answer, by area and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60, 300},
		}, []string{"area", "method"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "depot_http_request_body_bytes_total",
			Help: "Request body bytes read (uploads), by area.",
		}, []string{"area"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "depot_http_response_body_bytes_total",
			Help: "Response body bytes written (downloads), by area.",
		}, []string{"area"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "depot_http_requests_in_flight",
			Help: "Requests being answered now.",
		}),
		storageFull: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "depot_storage_full",
			Help: "1 while blob or metadata storage is full (writes answer 507), from the first 507 to the next successful upload.",
		}),
		storageFullAnswers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "depot_storage_full_responses_total",
			Help: "Requests answered 507 Insufficient Storage because blob or metadata storage was full.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.received, m.sent, m.inFlight, m.storageFull, m.storageFullAnswers)
	return m
}

// area names the part of depot a path belongs to.
func area(path string) string {
	switch {
	case strings.HasPrefix(path, "/api/packages/"):
		return "gitea"
	case strings.HasPrefix(path, "/api/v1/"):
		return "gitea_v1"
	case strings.HasPrefix(path, "/api/v4/"):
		return "gitlab"
	case strings.HasPrefix(path, "/api/"), path == "/metrics", path == "/healthz":
		return "other"
	default:
		return "web"
	}
}

// knownMethods bounds the method label; anything else counts as OTHER.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPut: true, http.MethodPost: true,
	http.MethodDelete: true, http.MethodPatch: true, http.MethodOptions: true,
}

func (m *Metrics) observe(r *http.Request, status int, in, out int64, seconds float64) {
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	a := area(r.URL.Path)
	method := r.Method
	if !knownMethods[method] {
		method = "OTHER"
	}
	m.requests.WithLabelValues(a, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(a, method).Observe(seconds)
	if in > 0 {
		m.received.WithLabelValues(a).Add(float64(in))
	}
	if out > 0 {
		m.sent.WithLabelValues(a).Add(float64(out))
	}
}

// countingBody counts the bytes read from a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}
