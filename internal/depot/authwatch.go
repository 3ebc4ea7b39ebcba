package depot

import (
	"context"
	"sync"
	"time"
)

// AuthWatcher is a Store that can tell when any process sharing it changed
// what authentication depends on: a token deleted, a user disabled or made
// admin. With it, a Service drops its token and owner caches as soon as
// another replica or the admin CLI makes such a change, instead of trusting
// them until Options.TokenCacheTTL runs out.
type AuthWatcher interface {
	// WatchAuth calls changed after each such change commits, until ctx
	// ends (it then returns nil). It returns an error when it can no
	// longer watch; changes may have been missed then.
	WatchAuth(ctx context.Context, changed func()) error
}

// authWatchRetry is how long a Service waits before watching again after
// WatchAuth failed.
const authWatchRetry = time.Second

// authWatch runs a Store's WatchAuth for a Service.
type authWatch struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// WatchAuth makes the Service drop its token and owner caches whenever the
// store reports a change of authentication data, if the store is an
// AuthWatcher and the caches are on; a server calls it once, and Close stops
// it. When watching fails, the caches are dropped too (a change may have
// been missed) and watching starts again after authWatchRetry.
func (s *Service) WatchAuth() {
	w, ok := s.store.(AuthWatcher)
	if !ok || s.tokens == nil || s.authWatch != nil {
		return
	}
	s.authWatch = s.watchAuth(w)
}

func (s *Service) watchAuth(w AuthWatcher) *authWatch {
	ctx, cancel := context.WithCancel(context.Background())
	aw := &authWatch{cancel: cancel}
	drop := func() {
		s.tokens.dropAll()
		s.owners.dropAll()
	}
	aw.wg.Go(func() {
		for ctx.Err() == nil {
			err := w.WatchAuth(ctx, drop)
			if ctx.Err() != nil {
				return
			}
			drop()
			s.opts.Logger.Warn("watching authentication changes failed; cached tokens now expire after their TTL only, until watching resumes", "err", err, "retry_in", authWatchRetry)
			select {
			case <-ctx.Done():
			case <-time.After(authWatchRetry):
			}
		}
	})
	return aw
}

func (aw *authWatch) close() {
	if aw == nil {
		return
	}
	aw.cancel()
	aw.wg.Wait()
}
