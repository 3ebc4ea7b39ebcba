package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"time"
)

// statusWriter records the status and size of a response. It forwards
// ReadFrom so that sendfile still reaches the connection, and Unwrap so that
// http.ResponseController finds the underlying writer.
type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
	err    error // the error answered, when ErrorHeaders saw it
}

func (w *statusWriter) WriteHeader(code int) {
	// An informational answer (104 Upload Resumption Supported) is not
	// the status of the request.
	if w.status == 0 && (code < 100 || code >= 200) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, r)
	w.n += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Logged logs one line per request, counts it in m (when not nil), and
// turns a panic in next into a 500 that is logged, not shown. A full disk
// (507) is logged once per episode, with its cause (see storageEpisodes).
func Logged(log *slog.Logger, m *Metrics, next http.Handler) http.Handler {
	storage := &storageEpisodes{now: time.Now}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		var body *countingBody
		if m != nil {
			m.inFlight.Inc()
			if r.Body != nil && r.Body != http.NoBody {
				body = &countingBody{ReadCloser: r.Body}
				r.Body = body
			}
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					if m != nil {
						m.inFlight.Dec()
					}
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				if sw.status == 0 {
					http.Error(sw, "internal server error", http.StatusInternalServerError)
				}
			}
			elapsed := time.Since(start)
			storage.observe(log, m, r, sw.status, sw.err)
			if m != nil {
				m.inFlight.Dec()
				var in int64
				if body != nil {
					in = body.n
				}
				m.observe(r, sw.status, in, sw.n, elapsed.Seconds())
			}
			log.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.EscapedPath(), "status", sw.status,
				"bytes", sw.n, "duration_ms", float64(elapsed.Microseconds())/1000, "remote", r.RemoteAddr)
		}()
		next.ServeHTTP(sw, r)
	})
}
