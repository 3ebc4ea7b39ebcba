package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"time"

	"github.com/depot-registry/depot/internal/audit"
	"github.com/depot-registry/depot/internal/cleanup"
	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/giteaapi"
	"github.com/depot-registry/depot/internal/httpapi"
	"github.com/depot-registry/depot/internal/server"
	"github.com/depot-registry/depot/internal/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/urfave/cli/v3"
)

func serveCommand(onUsage cli.OnUsageErrorFunc) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the registry server",
		Flags: append(serveFlags(), &cli.StringFlag{
			Name: "pprof-addr", Usage: "serve Go profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060; off when empty",
			Sources: cli.EnvVars("DEPOT_PPROF_ADDR"),
		}),
		OnUsageError: onUsage,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			c, err := serveConfig(cmd)
			if err != nil {
				return err
			}
			tuneGC()
			logOut := newLogWriter(os.Stderr)
			defer logOut.Close()
			m := NewMain(c, slog.New(slog.NewTextHandler(logOut, nil)))
			m.PprofAddr = cmd.String("pprof-addr")
			if err := m.Open(ctx); err != nil {
				return err
			}
			defer m.Close()
			return m.Run(ctx)
		},
	}
}

// Main is a running depot server: the configuration and every dependency
// built from it, by hand, top to bottom. End-to-end tests use it as the
// binary does.
type Main struct {
	Config  Config
	Log     *slog.Logger
	Store   depot.Store
	Blobs   blobBackend
	Service *depot.Service

	// PprofAddr, when set, is where Run serves Go profiles (net/http/pprof)
	// beside the API, for diagnosing performance. Off by default.
	PprofAddr string

	// Webhooks delivers webhook events; nil with NoWebhookDelivery.
	Webhooks *webhook.Worker
	// Audit writes the audit log and prunes it.
	Audit *audit.Log
	// Cleanup runs the scheduled cleanup passes; nil when
	// Config.CleanupInterval is 0.
	Cleanup *cleanup.Scheduler

	// verifier runs when Config.VerifyRate is set.
	verifier   *backgroundVerifier
	ln         net.Listener
	srv        *http.Server
	prof       *http.Server
	stopHooks  context.CancelFunc
	hooksDone  chan struct{}
	stopAudit  context.CancelFunc
	auditDone  chan struct{}
	stopClean  context.CancelFunc
	cleanDone  chan struct{}
	metricsReg *prometheus.Registry
}

// NewMain returns an unopened Main.
func NewMain(c Config, log *slog.Logger) *Main {
	return &Main{Config: c, Log: log}
}

// Open builds the stores and the service and starts listening.
func (m *Main) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if err := os.MkdirAll(m.Config.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if m.Store, err = openStore(ctx, m.Config); err != nil {
		return err
	}
	if m.Blobs, err = openBlobs(ctx, m.Config); err != nil {
		return err
	}
	// What a crash left in a local blob directory can go now: temporary
	// files whose owning process is gone (its flock on owners/<id>.lock is
	// released), and unowned ones older than an hour. A shared object store
	// is cleaned by `admin gc` only: another replica's long upload may still
	// be writing, and nothing there tells a live replica from a dead one.
	if scheme(m.Config.StorageURL) == "file" {
		if n, err := m.Blobs.CleanTemp(time.Now().Add(-staleTemp)); err != nil {
			m.Log.Warn("cleaning temporary uploads", "err", err)
		} else if n > 0 {
			m.Log.Info("removed stale temporary uploads", "count", n)
		}
	}
	if m.Config.Metrics {
		m.metricsReg = prometheus.NewRegistry()
	}
	var payloads *giteaapi.Handler
	if !m.Config.NoWebhookDelivery {
		m.Webhooks, err = m.newWebhooks(func(ctx context.Context, ev *depot.PackageEvent) ([]byte, error) {
			return payloads.PackagePayload(ctx, ev)
		})
		if err != nil {
			return err
		}
	}
	var events depot.EventNotifier
	if m.Webhooks != nil {
		events = m.Webhooks
	}
	m.Audit = audit.New(m.Store, audit.Options{Retention: m.Config.AuditRetention, Now: m.Config.Now, Logger: m.Log})
	c := m.Config
	if c.auditor == nil { // tests may bring their own
		c.auditor = m.Audit
	}
	if m.Service, err = newService(c, m.Store, m.Blobs, m.Log, events); err != nil {
		return err
	}
	{
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		m.stopAudit, m.auditDone = cancel, make(chan struct{})
		go func() {
			defer close(m.auditDone)
			m.Audit.Run(ctx)
		}()
	}
	m.Service.WatchAuth()
	refresh := m.Config.DamageRefresh
	if refresh <= 0 {
		refresh = damageRefresh
	}
	m.Service.WatchDamage(refresh)
	if err := m.Service.ResumeDigests(ctx); err != nil {
		m.Log.Warn("resuming blob digests", "err", err)
	}
	opts := server.Options{Version: version, BaseURL: m.Config.BaseURL,
		Uploads:        httpapi.NewUploadLimiter(m.Config.MaxUploadsPerClient, m.Config.MaxUploads),
		TrustedProxies: m.Config.TrustedProxies}
	var vm *verifyMetrics
	if m.Config.Metrics {
		reg := m.metricsReg
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		opts.Metrics = httpapi.NewMetrics(reg)
		registerBlobMetrics(reg, m.Service)
		if m.Config.VerifyRate > 0 {
			vm = newVerifyMetrics(reg)
		}
		opts.MetricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
		opts.MetricsToken = m.Config.MetricsToken
	}
	if m.Config.VerifyRate > 0 {
		m.verifier = m.startVerifier(vm)
	}
	m.srv = &http.Server{
		Handler:           server.New(m.Service, m.Log, opts),
		ReadHeaderTimeout: cmp.Or(m.Config.ReadHeaderTimeout, defaultReadHeaderTimeout),
		IdleTimeout:       cmp.Or(m.Config.IdleTimeout, defaultIdleTimeout),
		MaxHeaderBytes:    m.Config.MaxHeaderBytes, // 0: Go's default, 1 MB
		ConnContext:       httpapi.ConnContext,
		ErrorLog:          slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}
	if m.ln, err = net.Listen("tcp", m.Config.Addr); err != nil {
		return fmt.Errorf("--addr (DEPOT_ADDR): %w", err)
	}
	if m.Webhooks != nil {
		payloads = giteaapi.New(m.Service, m.Log, giteaapi.Options{BaseURL: m.Config.BaseURL, PayloadHost: m.Addr()})
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		m.stopHooks, m.hooksDone = cancel, make(chan struct{})
		go func() {
			defer close(m.hooksDone)
			m.Webhooks.Run(ctx)
		}()
	}
	if m.Config.CleanupInterval > 0 {
		if m.Cleanup, err = cleanup.New(m.Service, cleanup.Options{Interval: m.Config.CleanupInterval, Poll: m.Config.CleanupPoll,
			Lease: m.Config.CleanupLease, Now: m.Config.Now, Logger: m.Log}); err != nil {
			return fmt.Errorf("--cleanup-interval (DEPOT_CLEANUP_INTERVAL): %w", err)
		}
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		m.stopClean, m.cleanDone = cancel, make(chan struct{})
		go func() {
			defer close(m.cleanDone)
			_ = m.Cleanup.Run(ctx)
		}()
	}
	if m.PprofAddr != "" {
		ln, err := net.Listen("tcp", m.PprofAddr)
		if err != nil {
			return fmt.Errorf("--pprof-addr (DEPOT_PPROF_ADDR): %w", err)
		}
		m.prof = &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = m.prof.Serve(ln) }()
		m.Log.Info("serving profiles", "addr", ln.Addr().String())
	}
	return nil
}

// damageRefresh is how often a server reads the damaged blobs recorded by
// verify on any machine, to refuse their downloads.
const damageRefresh = 10 * time.Second

// Addr returns the address the server listens on.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Run serves until ctx ends, then shuts down gracefully.
func (m *Main) Run(ctx context.Context) error {
	m.Log.Info("listening", "addr", m.Addr(), "version", version, "database", m.Config.DatabaseURL, "storage", m.Config.StorageURL)
	errc := make(chan error, 1)
	go func() { errc <- m.srv.Serve(m.ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := m.srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// Close releases everything Open acquired.
func (m *Main) Close() error {
	var err error
	if m.prof != nil {
		err = errors.Join(err, m.prof.Close())
	}
	if m.srv != nil {
		err = errors.Join(err, m.srv.Close())
	} else if m.ln != nil {
		err = errors.Join(err, m.ln.Close())
	}
	m.verifier.stop()
	if m.stopClean != nil {
		// The version being deleted is finished; the pass stays
		// unfinished and the next one, on any replica, completes it.
		m.stopClean()
		<-m.cleanDone
	}
	if m.stopHooks != nil {
		// The tries in flight finish (each bounded by its timeout) and
		// are recorded before the store closes.
		m.stopHooks()
		<-m.hooksDone
	}
	if m.Service != nil {
		// Download times gathered in memory, written before the store closes.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = errors.Join(err, m.Service.FlushDownloads(ctx))
		cancel()
		err = errors.Join(err, m.Service.Close())
	}
	if m.stopAudit != nil {
		// Failed sign-ins gathered in memory, written before the store
		// closes.
		m.stopAudit()
		<-m.auditDone
	}
	if m.Store != nil {
		err = errors.Join(err, m.Store.Close())
	}
	if m.Blobs != nil {
		err = errors.Join(err, closeBlobs(m.Blobs))
	}
	return err
}

// newWebhooks builds the delivery worker from the configuration.
func (m *Main) newWebhooks(payload webhook.Payload) (*webhook.Worker, error) {
	hosts, err := webhook.ParseHostList(m.Config.WebhookAllowedHosts)
	if err != nil {
		return nil, fmt.Errorf("--webhook-allowed-hosts (DEPOT_WEBHOOK_ALLOWED_HOSTS): %w", err)
	}
	opts := webhook.Options{Timeout: m.Config.WebhookTimeout, Poll: m.Config.WebhookPoll, Backoff: m.Config.WebhookBackoff,
		MaxAttempts: m.Config.WebhookMaxAttempts, Hosts: hosts, Logger: m.Log}
	if m.metricsReg != nil {
		opts.Registerer = m.metricsReg
	}
	return webhook.New(m.Store, payload, opts), nil
}

// pprofHandler serves net/http/pprof's handlers on a mux of its own (never
// http.DefaultServeMux), for --pprof-addr.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// tuneGC sets the server's garbage collector unless GOGC or GOMEMLIMIT say
// otherwise: collect when the heap has grown by 400% rather than 100%
// (the live heap of a server is a few MiB, so the default collects every
// few thousand small requests: 13% of their CPU in the benchmark), with a
// soft limit of 100 MiB that makes it collect sooner as the heap nears it.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(100 << 20)
	}
}
