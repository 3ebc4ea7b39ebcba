// Package webhook delivers depot's package webhooks as Gitea does: the
// body, the X-Gitea-*/X-Gogs-*/X-GitHub-*/X-Forgejo-* headers and the
// HMAC-SHA256 signatures of a "gitea" type hook.
//
// It follows distribution's notifications in its shape: an event is built
// once (its payload, fixed by the first attempt and kept with the
// delivery), fanned out to one delivery per endpoint (written by the store
// in the transaction of the change, the outbox), and sent by a retrying
// sink with exponential backoff, a timeout per try and metrics per
// endpoint. Unlike distribution's in-memory queues, the queue is the
// database: a Worker claims due deliveries with a lease (one replica gets
// each), so a crash loses nothing and a delivery is retried by whichever
// replica claims it next.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/prometheus/client_golang/prometheus"
)

// Store is what the worker needs of depot.HookStore.
type Store interface {
	ClaimDeliveries(ctx context.Context, now, lease time.Time, limit int) ([]*depot.Delivery, error)
	FinishDelivery(ctx context.Context, d *depot.Delivery, at *depot.DeliveryAttempt) error
	PruneDeliveries(ctx context.Context, keep int) (int64, error)
}

// Payload builds an event's JSON payload (Gitea's PackagePayload).
type Payload func(ctx context.Context, ev *depot.PackageEvent) ([]byte, error)

// Options tune a Worker. The zero value is usable.
type Options struct {
	// Timeout bounds one try, connection to last response byte read;
	// 0 means 5 s (Gitea's DELIVER_TIMEOUT).
	Timeout time.Duration
	// Poll is how often the worker looks for due deliveries written by
	// other processes or due for a retry; 0 means 2 s. Notify wakes it at
	// once.
	Poll time.Duration
	// Backoff is the wait after a first failed try, doubled after each
	// further one up to MaxBackoff; 0 means 10 s and 1 h.
	Backoff, MaxBackoff time.Duration
	// MaxAttempts is how many tries a delivery gets before it is marked
	// failed; 0 means 8.
	MaxAttempts int
	// Concurrency is how many deliveries are sent at once; 0 means 4.
	Concurrency int
	// Keep is how many finished deliveries of each hook stay in the log
	// (Gitea's cleanup_hook_task_table keeps 10); 0 means 50. The worker
	// prunes at start and every PruneEvery (0: 10 minutes).
	Keep       int
	PruneEvery time.Duration
	// Hosts, when set, is checked when connecting (else anything goes).
	Hosts *HostList
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the per-endpoint metrics.
	Registerer prometheus.Registerer
}

// Worker sends due deliveries until its context ends.
type Worker struct {
	store   Store
	payload Payload
	opts    Options
	client  *http.Client
	wake    chan struct{}
	metrics *metrics
}

// maxResponse is how much of a response body is read, and kept in the
// delivery log.
const maxResponse = 4 << 10

// New returns a Worker.
func New(store Store, payload Payload, opts Options) *Worker {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 10 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Hour
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Keep <= 0 {
		opts.Keep = 50
	}
	if opts.PruneEvery <= 0 {
		opts.PruneEvery = 10 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	tr := &http.Transport{
		Proxy:                 nil,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   opts.Timeout,
		ResponseHeaderTimeout: opts.Timeout,
	}
	if opts.Hosts != nil {
		tr.DialContext = opts.Hosts.Dialer(opts.Timeout)
	}
	w := &Worker{
		store: store, payload: payload, opts: opts,
		// Redirects are followed as Gitea's client does; each is dialed
		// through the same dialer, so the host list applies to it too.
		client:  &http.Client{Transport: tr, Timeout: opts.Timeout},
		wake:    make(chan struct{}, 1),
		metrics: newMetrics(opts.Registerer),
	}
	return w
}

// Notify implements depot.EventNotifier: the worker looks at once.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the tries in flight (each
// bounded by the timeout).
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.opts.Poll)
	defer t.Stop()
	var pruned time.Time
	for {
		if now := w.opts.Now(); now.Sub(pruned) >= w.opts.PruneEvery {
			pruned = now
			if _, err := w.store.PruneDeliveries(ctx, w.opts.Keep); err != nil && ctx.Err() == nil {
				w.opts.Logger.Error("webhook: prune deliveries", "err", err)
			}
		}
		for {
			n, err := w.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				w.opts.Logger.Error("webhook: claim deliveries", "err", err)
			}
			if n < w.opts.Concurrency || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// RunOnce claims up to Concurrency due deliveries, sends them side by side
// and records the outcomes; it returns how many it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	now := w.opts.Now()
	// The lease outlasts a try with room for recording it; a worker that
	// dies mid-try leaves the delivery to be claimed again after it.
	lease := now.Add(2*w.opts.Timeout + 30*time.Second)
	ds, err := w.store.ClaimDeliveries(ctx, now, lease, w.opts.Concurrency)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Go(func() { w.deliver(context.WithoutCancel(ctx), d) })
	}
	wg.Wait()
	return len(ds), nil
}

// deliver makes one try of d and records it.
func (w *Worker) deliver(ctx context.Context, d *depot.Delivery) {
	log := w.opts.Logger.With("hook", d.Hook.ID, "delivery", d.UUID, "attempt", d.Attempts)
	at := &depot.DeliveryAttempt{StartedAt: w.opts.Now(), URL: d.Hook.URL, UUID: d.UUID, Action: d.Event.Action}
	if d.Body == "" {
		body, err := w.payload(ctx, &d.Event)
		if err != nil {
			// Retried like a failed try: the store may be back soon.
			at.Error = "build payload: " + err.Error()
		}
		d.Body = string(body)
	}
	if at.Error == "" {
		w.send(ctx, d, at)
	}
	at.Duration = w.opts.Now().Sub(at.StartedAt)
	switch {
	case at.Success:
		d.State = depot.DeliveryDelivered
	case d.Attempts >= w.opts.MaxAttempts:
		d.State = depot.DeliveryFailed
	default:
		d.State, d.NextAt = depot.DeliveryPending, w.opts.Now().Add(w.backoff(d.Attempts))
	}
	w.metrics.observe(d, at)
	if err := w.store.FinishDelivery(ctx, d, at); err != nil {
		log.Error("webhook: record delivery", "err", err)
		return
	}
	if !at.Success {
		log.Warn("webhook: delivery failed", "status", at.StatusCode, "err", at.Error, "state", d.State, "next", d.NextAt)
	}
}

// backoff is the wait after the attempt-th failed try.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.opts.Backoff
	for i := 1; i < attempt && d < w.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, w.opts.MaxBackoff)
}

// send makes the HTTP request of d and fills at.
func (w *Worker) send(ctx context.Context, d *depot.Delivery, at *depot.DeliveryAttempt) {
	req, err := NewRequest(ctx, d)
	if err != nil {
		at.Error = err.Error()
		return
	}
	at.RequestHeaders = formatHeaders(req.Header)
	at.RequestBody = d.Body
	resp, err := w.client.Do(req)
	if err != nil {
		at.Error = err.Error()
		return
	}
	defer resp.Body.Close()
	at.StatusCode = resp.StatusCode
	at.ResponseHeaders = formatHeaders(resp.Header)
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	at.ResponseBody = string(body)
	if err != nil {
		at.Error = "read response: " + err.Error()
		return
	}
	// Gitea counts any 2xx as delivered.
	at.Success = resp.StatusCode/100 == 2
}

// NewRequest builds the POST Gitea sends for a "gitea" type hook: the JSON
// payload as the body, or as the form field "payload"; the signatures are
// over the JSON payload either way, as in Gitea.
func NewRequest(ctx context.Context, d *depot.Delivery) (*http.Request, error) {
	payload := []byte(d.Body)
	body, ctype := payload, "application/json"
	if d.Hook.ContentType == depot.HookContentForm {
		body, ctype = []byte(url.Values{"payload": {d.Body}}.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Hook.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", "depot-webhook")
	sig1 := hmac.New(sha1.New, []byte(d.Hook.Secret))
	sig256 := hmac.New(sha256.New, []byte(d.Hook.Secret))
	sig1.Write(payload)
	sig256.Write(payload)
	s1, s256 := hex.EncodeToString(sig1.Sum(nil)), hex.EncodeToString(sig256.Sum(nil))
	if d.Hook.Secret == "" {
		// Gitea signs only with a secret and sends the headers empty.
		s1, s256 = "", ""
	}
	target := "user"
	switch {
	case d.Hook.OwnerID == 0:
		target = "system"
	case d.HookOwnerKind == depot.KindOrg:
		target = "organization"
	}
	event, eventType := depot.HookEventPackage, depot.HookEventPackage
	h := req.Header
	for _, prefix := range []string{"X-Gitea-", "X-Gogs-", "X-Forgejo-"} {
		h[prefix+"Delivery"] = []string{d.UUID}
		h[prefix+"Event"] = []string{event}
		h[prefix+"Event-Type"] = []string{eventType}
		h[prefix+"Signature"] = []string{s256}
	}
	h["X-Gitea-Hook-Installation-Target-Type"] = []string{target}
	h["X-Forgejo-Hook-Installation-Target-Type"] = []string{target}
	h["X-Hub-Signature"] = []string{"sha1=" + s1}
	h["X-Hub-Signature-256"] = []string{"sha256=" + s256}
	h["X-GitHub-Delivery"] = []string{d.UUID}
	h["X-GitHub-Event"] = []string{event}
	h["X-GitHub-Event-Type"] = []string{eventType}
	h["X-GitHub-Hook-Installation-Target-Type"] = []string{target}
	return req, nil
}

// formatHeaders writes headers one per line, sorted, for the delivery log.
func formatHeaders(h http.Header) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(h[k], ","))
	}
	return b.String()
}

// metrics are the per-endpoint counters (by hook ID: the number of hooks
// is what admins create, small and bounded).
type metrics struct {
	attempts *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "depot_webhook_attempts_total",
			Help: "Webhook delivery tries, by hook and outcome (delivered, retry, failed).",
		}, []string{"hook", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "depot_webhook_attempt_duration_seconds",
			Help:    "Duration of webhook delivery tries, by hook.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"hook"}),
	}
	if reg != nil {
		if err := errors.Join(reg.Register(m.attempts), reg.Register(m.duration)); err != nil {
			slog.Default().Warn("webhook: metrics not registered", "err", err)
		}
	}
	return m
}

func (m *metrics) observe(d *depot.Delivery, at *depot.DeliveryAttempt) {
	hook := strconv.FormatInt(d.Hook.ID, 10)
	outcome := "retry"
	switch d.State {
	case depot.DeliveryDelivered:
		outcome = "delivered"
	case depot.DeliveryFailed:
		outcome = "failed"
	}
	m.attempts.WithLabelValues(hook, outcome).Inc()
	m.duration.WithLabelValues(hook).Observe(at.Duration.Seconds())
}
