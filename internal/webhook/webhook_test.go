package webhook

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

func TestHostList(t *testing.T) {
	for _, tc := range []struct {
		list, host string
		want       bool
	}{
		{"", "8.8.8.8", true}, // external by default
		{"", "127.0.0.1", false},
		{"", "10.0.0.1", false},
		{"external", "192.168.1.1", false},
		{"loopback", "127.0.0.1", true},
		{"loopback", "::1", true},
		{"loopback", "10.0.0.1", false},
		{"private", "10.0.0.1", true},
		{"private", "172.16.5.4", true},
		{"private", "fd00::1", true},
		{"private", "127.0.0.1", false},
		{"private", "8.8.8.8", false},
		{"10.1.0.0/16", "10.1.2.3", true},
		{"10.1.0.0/16", "10.2.0.1", false},
		{"*", "127.0.0.1", true},
		{"*.example.com", "hooks.example.com", true},
		{"*.example.com", "example.org", false},
		{"loopback, 10.0.0.0/8", "10.9.9.9", true},
	} {
		hl, err := ParseHostList(tc.list)
		if err != nil {
			t.Fatalf("ParseHostList(%q): %v", tc.list, err)
		}
		if got := hl.allowed(tc.host, net.ParseIP(tc.host)); got != tc.want {
			t.Errorf("list %q, host %q: allowed = %v, want %v", tc.list, tc.host, got, tc.want)
		}
	}
	if _, err := ParseHostList("[bad"); err == nil {
		t.Error("ParseHostList accepted a malformed glob")
	}
}

func TestCheckTarget(t *testing.T) {
	hl, _ := ParseHostList("loopback")
	ctx := context.Background()
	for raw, ok := range map[string]bool{
		"http://127.0.0.1:9/x": true, "http://[::1]:9/": true, "http://localhost:9/": true,
		"http://10.0.0.1/": false, "http://192.168.0.1/": false, "http://no-such-host.invalid/": false,
	} {
		u, _ := url.Parse(raw)
		if err := hl.CheckTarget(ctx, u); (err == nil) != ok {
			t.Errorf("CheckTarget(%s) = %v, want allowed %v", raw, err, ok)
		}
	}
}

// TestDialerChecksAtConnect resolves a name that passes no check by name
// to a loopback address: a list without loopback refuses it when
// connecting (what DNS rebinding would exploit), one with loopback allows.
func TestDialerChecksAtConnect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for list, ok := range map[string]bool{"private": false, "external": false, "loopback": true} {
		hl, _ := ParseHostList(list)
		conn, err := hl.Dialer(time.Second)(context.Background(), "tcp", net.JoinHostPort("localhost", port))
		if ok != (err == nil) {
			t.Errorf("list %q: dial localhost = %v, want allowed %v", list, err, ok)
		}
		if err == nil {
			conn.Close()
		} else if !strings.Contains(err.Error(), "allowed HTTP servers") {
			t.Errorf("list %q: error %v does not name the setting", list, err)
		}
	}
}

// memStore is an in-memory Store for the worker's own tests.
type memStore struct {
	mu      sync.Mutex
	pending []*depot.Delivery
	done    []*depot.DeliveryAttempt
}

func (m *memStore) ClaimDeliveries(_ context.Context, now, lease time.Time, limit int) ([]*depot.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*depot.Delivery
	for _, d := range m.pending {
		if d.State == depot.DeliveryPending && !d.NextAt.After(now) && !d.Lease.After(now) && len(out) < limit {
			d.Lease, d.Attempts = lease, d.Attempts+1
			c := *d
			out = append(out, &c)
		}
	}
	return out, nil
}

func (m *memStore) FinishDelivery(_ context.Context, d *depot.Delivery, at *depot.DeliveryAttempt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.pending {
		if p.ID == d.ID {
			if !p.Lease.Equal(d.Lease) {
				return depot.ErrConflict
			}
			p.State, p.NextAt, p.Body, p.Lease = d.State, d.NextAt, d.Body, time.Time{}
			m.done = append(m.done, at)
			return nil
		}
	}
	return errors.New("no such delivery")
}

func (m *memStore) PruneDeliveries(context.Context, int) (int64, error) { return 0, nil }

// TestWorkerGivesUp sends to a receiver that always fails: the delivery
// is tried MaxAttempts times with doubling waits, then marked failed; the
// payload is built once.
func TestWorkerGivesUp(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	st := &memStore{pending: []*depot.Delivery{{ID: 1, UUID: "u", State: depot.DeliveryPending,
		Hook: depot.Hook{ID: 7, URL: srv.URL, ContentType: "json", Secret: "s"}, Event: depot.PackageEvent{Action: depot.PackageCreated}}}}
	built := 0
	hl, _ := ParseHostList("loopback")
	w := New(st, func(context.Context, *depot.PackageEvent) ([]byte, error) { built++; return []byte(`{}`), nil },
		Options{Backoff: 20 * time.Millisecond, MaxAttempts: 4, Poll: 10 * time.Millisecond, Hosts: hl})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go w.Run(ctx)
	for {
		st.mu.Lock()
		state := st.pending[0].State
		st.mu.Unlock()
		if state == depot.DeliveryFailed {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("delivery not failed after 10s: %d tries", len(times))
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 4 || built != 1 || len(st.done) != 4 {
		t.Fatalf("%d tries, payload built %d times, %d recorded; want 4, 1, 4", len(times), built, len(st.done))
	}
	for i := 1; i < len(times); i++ {
		if min := 20 * time.Millisecond << (i - 1); times[i].Sub(times[i-1]) < min {
			t.Errorf("wait before try %d = %v, want at least %v", i+1, times[i].Sub(times[i-1]), min)
		}
	}
	if st.done[3].StatusCode != 502 || st.done[3].Success {
		t.Errorf("last try = %+v", st.done[3])
	}
}
