package httpapi

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// storageFullRelog is how often a full disk is logged again while it stays
// full.
const storageFullRelog = 10 * time.Minute

// storageEpisodes logs a full disk (answers of 507) once per episode rather
// than once per request: the first 507 logs an error with its cause, later
// ones are only counted (and logged again every storageFullRelog), and the
// next successful upload (a 2xx answer to a PUT or POST) ends the episode
// with one line saying how many requests were refused.
type storageEpisodes struct {
	full atomic.Bool // read without the lock on every successful write

	mu      sync.Mutex
	since   time.Time
	lastLog time.Time
	refused int64
	now     func() time.Time
}

func (e *storageEpisodes) observe(log *slog.Logger, m *Metrics, r *http.Request, status int, err error) {
	switch {
	case status == http.StatusInsufficientStorage:
		if m != nil {
			m.storageFullAnswers.Inc()
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		now := e.now()
		if !e.full.Load() {
			e.full.Store(true)
			e.since, e.lastLog, e.refused = now, now, 1
			if m != nil {
				m.storageFull.Set(1)
			}
			log.ErrorContext(r.Context(), "storage full: writes answer 507 until space is freed (logged once per episode)",
				"method", r.Method, "path", r.URL.Path, "err", err)
			return
		}
		e.refused++
		if now.Sub(e.lastLog) >= storageFullRelog {
			e.lastLog = now
			log.ErrorContext(r.Context(), "storage still full", "since", e.since, "refused", e.refused, "err", err)
		}
	case status >= 200 && status < 300 && (r.Method == http.MethodPut || r.Method == http.MethodPost) && e.full.Load():
		e.mu.Lock()
		defer e.mu.Unlock()
		if !e.full.Load() {
			return
		}
		e.full.Store(false)
		if m != nil {
			m.storageFull.Set(0)
		}
		log.InfoContext(r.Context(), "storage writable again", "full_for", e.now().Sub(e.since).Round(time.Second), "refused", e.refused)
	}
}
