package httpapi

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// UploadRetryAfter is the Retry-After of an upload refused for too many
// uploads in progress.
const UploadRetryAfter = 2 * time.Second

// UploadLimiter bounds the uploads in progress, per client address and in
// all. It counts within one process: with N replicas behind a load
// balancer, the bounds are per replica. Behind a reverse proxy every
// request comes from the proxy's address, so the per-client bound applies
// to all clients together. A nil *UploadLimiter limits nothing.
type UploadLimiter struct {
	perClient, total int

	mu      sync.Mutex
	all     int
	clients map[string]int
}

// NewUploadLimiter returns a limiter of perClient uploads per client
// address and total in all; 0 means no bound.
func NewUploadLimiter(perClient, total int) *UploadLimiter {
	return &UploadLimiter{perClient: perClient, total: total, clients: map[string]int{}}
}

// Acquire counts r's upload in progress until release is called. Beyond
// the bound of r's client address it answers ErrRateLimited (429), beyond
// the bound in all ErrUnavailable (503), both with a Retry-After.
func (l *UploadLimiter) Acquire(r *http.Request) (release func(), err error) {
	if l == nil || (l.perClient == 0 && l.total == 0) {
		return func() {}, nil
	}
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perClient > 0 && l.clients[client] >= l.perClient {
		return nil, &depot.Error{Kind: depot.ErrRateLimited, RetryAfter: UploadRetryAfter,
			Message: "too many uploads in progress from your address: try again when one has finished"}
	}
	if l.total > 0 && l.all >= l.total {
		return nil, &depot.Error{Kind: depot.ErrUnavailable, RetryAfter: UploadRetryAfter,
			Message: "the server has too many uploads in progress: try again shortly"}
	}
	l.all++
	l.clients[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.all--
			if l.clients[client]--; l.clients[client] <= 0 {
				delete(l.clients, client)
			}
		})
	}, nil
}
