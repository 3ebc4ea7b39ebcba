package httpapi

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// gathered returns the value of the unlabelled gauge or counter name.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestStorageEpisodes drives the episode rule with a fake clock: the first
// 507 logs, later ones only count until storageFullRelog has passed, a
// successful GET does not end the episode, a successful PUT does (once),
// and the next 507 starts a new episode.
func TestStorageEpisodes(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	now := time.Unix(0, 0)
	e := &storageEpisodes{now: func() time.Time { return now }}
	cause := errors.New("no space left on device")
	put, get := httptest.NewRequest("PUT", "/api/packages/a/generic/p/1/f", nil), httptest.NewRequest("GET", "/api/packages/a/generic/p/1/f", nil)
	count := func(s string) int { return strings.Count(out.String(), s) }

	for range 5 {
		e.observe(log, m, put, 507, cause)
		now = now.Add(time.Minute)
	}
	if n := count("storage full:"); n != 1 {
		t.Errorf("5 answers of 507 within 5 minutes logged %d times, want 1", n)
	}
	now = now.Add(storageFullRelog)
	e.observe(log, m, put, 507, cause)
	if n := count("storage still full"); n != 1 {
		t.Errorf("a 507 after %v logged %q %d times, want once", storageFullRelog, "storage still full", n)
	}
	e.observe(log, m, get, 200, nil)
	if got := gathered(t, reg, "depot_storage_full"); got != 1 {
		t.Errorf("depot_storage_full after a GET = %v, want 1: a read proves nothing about space", got)
	}
	e.observe(log, m, put, 201, nil)
	e.observe(log, m, put, 201, nil)
	if n := count("storage writable again"); n != 1 || gathered(t, reg, "depot_storage_full") != 0 {
		t.Errorf("after two successful PUTs: %d end lines, gauge %v; want 1 and 0", n, gathered(t, reg, "depot_storage_full"))
	}
	if !strings.Contains(out.String(), "refused=6") {
		t.Errorf("the end line does not count the 6 refused requests:\n%s", out.String())
	}
	e.observe(log, m, put, 507, cause)
	if n := count("storage full:"); n != 2 || gathered(t, reg, "depot_storage_full_responses_total") != 7 {
		t.Errorf("a new episode: %d start lines, %v answers counted; want 2 and 7", n, gathered(t, reg, "depot_storage_full_responses_total"))
	}
}
