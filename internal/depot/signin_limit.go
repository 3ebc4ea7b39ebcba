package depot

import (
	"sync"
	"time"
)

// Sign-in limits: failed password attempts allowed per window, per client
// and user name, and per client whatever the name.
const (
	SignInWindow         = 10 * time.Minute
	SignInFailsPerUser   = 5
	SignInFailsPerClient = 20
	signInMaxKeys        = 100_000
)

// SignInLimiter counts failed sign-ins in fixed windows. It lives in one
// process: with several replicas a client gets the limit on each, which
// still bounds password guessing. A nil *SignInLimiter allows everything.
type SignInLimiter struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*signInCount
}

type signInCount struct {
	fails int
	start time.Time
}

// NewSignInLimiter returns a limiter using now (nil: time.Now).
func NewSignInLimiter(now func() time.Time) *SignInLimiter {
	if now == nil {
		now = time.Now
	}
	return &SignInLimiter{now: now, m: map[string]*signInCount{}}
}

func limitOf(key string) int {
	if len(key) > 7 && key[:7] == "client\x00" {
		return SignInFailsPerClient
	}
	return SignInFailsPerUser
}

// Allow reports whether an attempt under every key may proceed, and if
// not, how long until it may.
func (l *SignInLimiter) Allow(keys ...string) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for _, k := range keys {
		c := l.m[k]
		if c == nil || now.Sub(c.start) >= SignInWindow {
			continue
		}
		if c.fails >= limitOf(k) {
			wait = max(wait, SignInWindow-now.Sub(c.start))
		}
	}
	return wait, wait == 0
}

// Fail records a failed attempt under every key.
func (l *SignInLimiter) Fail(keys ...string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.m) >= signInMaxKeys {
		for k, c := range l.m {
			if now.Sub(c.start) >= SignInWindow {
				delete(l.m, k)
			}
		}
	}
	for _, k := range keys {
		c := l.m[k]
		if c == nil || now.Sub(c.start) >= SignInWindow {
			if len(l.m) >= signInMaxKeys {
				continue // full of live windows: the other keys still count
			}
			c = &signInCount{start: now}
			l.m[k] = c
		}
		c.fails++
	}
}

// Succeed forgets the failures under keys.
func (l *SignInLimiter) Succeed(keys ...string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.m, k)
	}
}
