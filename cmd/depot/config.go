package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/httpapi"
	"github.com/depot-registry/depot/internal/oidc"
	"github.com/depot-registry/depot/internal/password"
	"github.com/depot-registry/depot/internal/webhook"
	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v3"
)

// Config is everything depot's commands can be told. Each field has a flag
// and a DEPOT_* environment variable.
type Config struct {
	Addr          string
	DataDir       string
	DatabaseURL   string
	StorageURL    string
	BaseURL       string
	MaxUploadSize int64
	// Limits are Gitea's [packages] limits; nil means none.
	Limits *depot.Limits
	// S3AccessKeyID and S3SecretAccessKey, when set, override the
	// credentials an s3:// storage URL otherwise takes from the environment.
	S3AccessKeyID     string
	S3SecretAccessKey string
	// StorageRedirect answers downloads with a redirect to a presigned URL
	// of the object store (s3:// only).
	StorageRedirect bool
	// TokenCacheTTL is how long a verified token is trusted before the
	// store is asked again: zero means depot.DefaultTokenCacheTTL, negative
	// disables the cache.
	TokenCacheTTL time.Duration
	// Metrics serves Prometheus metrics at /metrics; MetricsToken, when
	// set, is the bearer token a scrape must send.
	Metrics      bool
	MetricsToken string
	// VerifyDownloads hashes whole downloads on the way and cuts a
	// mismatching one short (depot.Options.VerifyDownloads).
	VerifyDownloads bool
	// UploadExpiry is how long an unfinished resumable upload lives
	// (depot.Options.UploadExpiry); negative turns resumable uploads off.
	UploadExpiry time.Duration
	// InlineBlobMax is the largest upload kept inside the metadata
	// database (depot.Options.InlineBlobMax): zero means the default,
	// negative none.
	InlineBlobMax int64
	// VerifyRate, when positive, runs the verifier continuously at this
	// many bytes per second.
	VerifyRate int64
	// VerifyPause is the least time between the starts of two passes of
	// the continuous verifier; 0 means a minute. Not a flag: tests
	// shorten it.
	VerifyPause time.Duration
	// DamageRefresh is how often the server reads the damaged blobs
	// recorded on any machine; 0 means 10 s. Not a flag: tests shorten it.
	DamageRefresh time.Duration
	// Server limits: how long a client may take to send a request's
	// headers, how long an idle keep-alive connection stays open, the
	// largest header block (beyond it Go's server answers 431 itself), and
	// the most uploads in progress per client address and in all (beyond
	// them 429 and 503, with Retry-After; 0 is no bound). Counted per
	// process.
	ReadHeaderTimeout   time.Duration
	IdleTimeout         time.Duration
	MaxHeaderBytes      int
	MaxUploadsPerClient int
	MaxUploads          int
	// BcryptCost is the password hashing cost; 0 means bcrypt's default.
	// Tests lower it.
	BcryptCost int
	// PublisherTokenTTL is how long a token minted for a trusted publisher
	// lasts; 0 means depot.DefaultPublisherTokenTTL.
	PublisherTokenTTL time.Duration
	// Now is the clock of the service and of ID token verification; nil
	// means time.Now. Tests set it.
	Now func() time.Time
	// WebhookAllowedHosts is Gitea's [webhook] ALLOWED_HOST_LIST; "" means
	// "external".
	WebhookAllowedHosts string
	// WebhookTimeout bounds one delivery try; WebhookPoll is how often the
	// worker looks for deliveries written elsewhere; WebhookBackoff is the
	// first retry's wait, doubled each time; WebhookMaxAttempts the tries
	// before a delivery fails. Zero values mean the webhook package's
	// defaults.
	WebhookTimeout, WebhookPoll, WebhookBackoff time.Duration
	WebhookMaxAttempts                          int
	// NoWebhookDelivery keeps this process from delivering (another
	// replica does).
	NoWebhookDelivery bool
	// AuditRetention is how long audit events are kept; 0 keeps them
	// forever.
	AuditRetention time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For names the
	// client address (of the audit log and sign-in limits).
	TrustedProxies []netip.Prefix
	// auditor, when set by serve, receives the service's audit events;
	// nil writes each to the store at once (the admin CLI).
	auditor depot.Auditor
	// CleanupInterval is the time between scheduled cleanup passes; 0
	// (--cleanup-interval 0 or --no-cleanup) runs none from this process.
	// CleanupPoll and CleanupLease tune the scheduler (0: its defaults).
	CleanupInterval, CleanupPoll, CleanupLease time.Duration
}

func dataFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "data-dir", Value: "./depot-data", Usage: "directory for the default database and blobs", Sources: cli.EnvVars("DEPOT_DATA_DIR")},
		&cli.StringFlag{Name: "database-url", Usage: "metadata database (default sqlite://<data-dir>/depot.db)", Sources: cli.EnvVars("DEPOT_DATABASE_URL")},
		&cli.StringFlag{Name: "webhook-allowed-hosts", Value: "external", Usage: "hosts webhooks may call, as Gitea's [webhook] ALLOWED_HOST_LIST: external, private, loopback, CIDRs, host globs, * (comma-separated)", Sources: cli.EnvVars("DEPOT_WEBHOOK_ALLOWED_HOSTS")},
	}
}

func storageFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "storage-url", Usage: "blob storage: file://DIR or s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path_style=true (default file://<data-dir>/blobs)", Sources: cli.EnvVars("DEPOT_STORAGE_URL")},
		&cli.StringFlag{Name: "s3-access-key-id", Usage: "S3 access key (default: AWS_ACCESS_KEY_ID and the usual AWS credential sources)", Sources: cli.EnvVars("DEPOT_S3_ACCESS_KEY_ID")},
		&cli.StringFlag{Name: "s3-secret-access-key", Usage: "S3 secret key (default: AWS_SECRET_ACCESS_KEY and the usual AWS credential sources)", Sources: cli.EnvVars("DEPOT_S3_SECRET_ACCESS_KEY")},
	}
}

func serveFlags() []cli.Flag {
	flags := append(dataFlags(), storageFlags()...)
	return append(flags,
		&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "listen address", Sources: cli.EnvVars("DEPOT_ADDR")},
		&cli.StringFlag{Name: "base-url", Usage: "public URL of this server, for links it prints", Sources: cli.EnvVars("DEPOT_BASE_URL")},
		&cli.StringFlag{Name: "max-upload-size", Value: "0", Usage: "largest accepted file, e.g. 10GiB; 0 means unlimited", Sources: cli.EnvVars("DEPOT_MAX_UPLOAD_SIZE")},
		&cli.StringFlag{Name: "limit-total-owner-count", Value: "-1", Usage: "most package versions an owner may have (Gitea's LIMIT_TOTAL_OWNER_COUNT); -1 means unlimited; site admins bypass it", Sources: cli.EnvVars("DEPOT_LIMIT_TOTAL_OWNER_COUNT")},
		&cli.StringFlag{Name: "limit-total-owner-size", Value: "-1", Usage: "most bytes an owner's files may take, e.g. 10GiB (Gitea's LIMIT_TOTAL_OWNER_SIZE); -1 means unlimited; site admins bypass it", Sources: cli.EnvVars("DEPOT_LIMIT_TOTAL_OWNER_SIZE")},
		&cli.StringFlag{Name: "limit-size-generic", Value: "-1", Usage: "largest generic package file, e.g. 1GiB (Gitea's LIMIT_SIZE_GENERIC); -1 means unlimited; site admins bypass it", Sources: cli.EnvVars("DEPOT_LIMIT_SIZE_GENERIC")},
		&cli.BoolFlag{Name: "storage-redirect", Usage: "answer downloads with a 307 to a short-lived presigned URL of the object store (s3:// only)", Sources: cli.EnvVars("DEPOT_STORAGE_REDIRECT")},
		&cli.DurationFlag{Name: "token-cache-ttl", Value: depot.DefaultTokenCacheTTL, Usage: "how long a verified token, and an owner looked up by name, are trusted before the database is asked again; on PostgreSQL revocations reach every replica at once (LISTEN/NOTIFY); on SQLite a revocation by the admin CLI takes up to this long; 0 disables the caches", Sources: cli.EnvVars("DEPOT_TOKEN_CACHE_TTL")},
		&cli.BoolFlag{Name: "metrics", Usage: "serve Prometheus metrics at /metrics", Sources: cli.EnvVars("DEPOT_METRICS")},
		&cli.StringFlag{Name: "metrics-token", Usage: "bearer token a /metrics scrape must send (recommended when --metrics is on)", Sources: cli.EnvVars("DEPOT_METRICS_TOKEN")},
		&cli.DurationFlag{Name: "upload-expiry", Value: depot.DefaultUploadExpiry, Usage: "how long an unfinished resumable upload (IETF resumable upload draft) may be continued before admin gc removes it and its staged bytes; 0 turns resumable uploads off", Sources: cli.EnvVars("DEPOT_UPLOAD_EXPIRY")},
		&cli.StringFlag{Name: "inline-max", Value: "16KiB", Usage: "largest upload whose bytes are kept inside the metadata database (in the transaction that records the file: no file, fsync or S3 request per blob), at most 64KiB; 0 keeps every blob in blob storage", Sources: cli.EnvVars("DEPOT_INLINE_MAX")},
		&cli.BoolFlag{Name: "verify-downloads", Usage: "hash every whole download of a file over 16 KiB on the way and cut it short when it does not match its sha256 (costs the sendfile path)", Sources: cli.EnvVars("DEPOT_VERIFY_DOWNLOADS")},
		&cli.StringFlag{Name: "verify-rate", Value: "0", Usage: "verify stored blobs continuously, reading at most this many bytes per second, e.g. 10MiB; 0 means off", Sources: cli.EnvVars("DEPOT_VERIFY_RATE")},
		&cli.DurationFlag{Name: "read-header-timeout", Value: defaultReadHeaderTimeout, Usage: "longest time a client may take to send a request's headers", Sources: cli.EnvVars("DEPOT_READ_HEADER_TIMEOUT")},
		&cli.DurationFlag{Name: "idle-timeout", Value: defaultIdleTimeout, Usage: "how long an idle keep-alive connection stays open", Sources: cli.EnvVars("DEPOT_IDLE_TIMEOUT")},
		&cli.StringFlag{Name: "max-header-bytes", Value: defaultMaxHeaderBytes, Usage: "largest request header block, e.g. 64KiB; beyond it the answer is 431", Sources: cli.EnvVars("DEPOT_MAX_HEADER_BYTES")},
		&cli.IntFlag{Name: "max-uploads-per-client", Value: defaultMaxUploadsPerClient, Usage: "most uploads in progress from one client address, per server process (beyond: 429 with Retry-After); 0 is no bound", Sources: cli.EnvVars("DEPOT_MAX_UPLOADS_PER_CLIENT")},
		&cli.IntFlag{Name: "max-uploads", Value: defaultMaxUploads, Usage: "most uploads in progress in all, per server process (beyond: 503 with Retry-After); 0 is no bound", Sources: cli.EnvVars("DEPOT_MAX_UPLOADS")},
		&cli.DurationFlag{Name: "trusted-publisher-token-ttl", Value: depot.DefaultPublisherTokenTTL, Usage: "lifetime of the token a CI job gets for its OIDC ID token (POST /api/depot/oidc/token), at most 6h", Sources: cli.EnvVars("DEPOT_TRUSTED_PUBLISHER_TOKEN_TTL")},
		&cli.DurationFlag{Name: "webhook-timeout", Value: 5 * time.Second, Usage: "time limit of one webhook delivery try", Sources: cli.EnvVars("DEPOT_WEBHOOK_TIMEOUT")},
		&cli.DurationFlag{Name: "webhook-poll", Value: 2 * time.Second, Usage: "how often the delivery worker looks for deliveries written by other processes or due for a retry", Sources: cli.EnvVars("DEPOT_WEBHOOK_POLL")},
		&cli.DurationFlag{Name: "webhook-backoff", Value: 10 * time.Second, Usage: "wait before the first retry of a failed delivery, doubled after each further failure (at most 1h)", Sources: cli.EnvVars("DEPOT_WEBHOOK_BACKOFF")},
		&cli.IntFlag{Name: "webhook-max-attempts", Value: 8, Usage: "tries of a delivery before it is marked failed", Sources: cli.EnvVars("DEPOT_WEBHOOK_MAX_ATTEMPTS")},
		&cli.BoolFlag{Name: "no-webhook-delivery", Usage: "do not deliver webhooks from this process (other replicas do)", Sources: cli.EnvVars("DEPOT_NO_WEBHOOK_DELIVERY")},
		&cli.DurationFlag{Name: "audit-retention", Value: defaultAuditRetention, Usage: "how long audit log events are kept (pruned hourly); 0 keeps them forever", Sources: cli.EnvVars("DEPOT_AUDIT_RETENTION")},
		&cli.StringFlag{Name: "trusted-proxies", Usage: "comma-separated IPs and CIDRs of reverse proxies whose X-Forwarded-For names the client address (audit log, sign-in limits)", Sources: cli.EnvVars("DEPOT_TRUSTED_PROXIES")},
		&cli.DurationFlag{Name: "cleanup-interval", Value: 24 * time.Hour, Usage: "time between scheduled passes of the cleanup rules (one replica runs each pass); 0 turns them off", Sources: cli.EnvVars("DEPOT_CLEANUP_INTERVAL")},
		&cli.BoolFlag{Name: "no-cleanup", Usage: "run no scheduled cleanup pass from this process (same as --cleanup-interval 0)", Sources: cli.EnvVars("DEPOT_NO_CLEANUP")},
		&cli.DurationFlag{Name: "cleanup-poll", Value: 0, Usage: "how often a replica asks to start the current cleanup pass (0: a quarter of the interval, at most 1m)", Sources: cli.EnvVars("DEPOT_CLEANUP_POLL")},
		&cli.DurationFlag{Name: "cleanup-lease", Value: 10 * time.Minute, Usage: "how long a cleanup pass holds off others without renewing (renewed every third of it); a crashed replica's pass blocks the next this long at most", Sources: cli.EnvVars("DEPOT_CLEANUP_LEASE")},
	)
}

// dataConfig reads and checks the flags every command has; a bad value is a
// usage error naming the setting.
func dataConfig(cmd *cli.Command) (Config, error) {
	c := Config{DataDir: cmd.String("data-dir"), DatabaseURL: cmd.String("database-url")}
	if c.DataDir == "" {
		return c, usageError("--data-dir (DEPOT_DATA_DIR) must not be empty")
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite://" + filepath.Join(c.DataDir, "depot.db")
	}
	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		return c, usageError("--database-url (DEPOT_DATABASE_URL): %v", err)
	}
	c.WebhookAllowedHosts = cmd.String("webhook-allowed-hosts")
	if _, err := webhook.ParseHostList(c.WebhookAllowedHosts); err != nil {
		return c, usageError("--webhook-allowed-hosts (DEPOT_WEBHOOK_ALLOWED_HOSTS): %v", err)
	}
	return c, nil
}

// storageConfig reads and checks the blob storage flags into c.
func storageConfig(cmd *cli.Command, c Config) (Config, error) {
	c.StorageURL = cmd.String("storage-url")
	if c.StorageURL == "" {
		c.StorageURL = "file://" + filepath.Join(c.DataDir, "blobs")
	}
	if err := checkStorageURL(c.StorageURL); err != nil {
		return c, usageError("--storage-url (DEPOT_STORAGE_URL): %v", err)
	}
	c.S3AccessKeyID = cmd.String("s3-access-key-id")
	c.S3SecretAccessKey = cmd.String("s3-secret-access-key")
	if (c.S3AccessKeyID == "") != (c.S3SecretAccessKey == "") {
		return c, usageError("--s3-access-key-id and --s3-secret-access-key (DEPOT_S3_*) must be set together")
	}
	return c, nil
}

// storesConfig reads and checks the flags of a command that opens the
// metadata and the blob storage.
func storesConfig(cmd *cli.Command) (Config, error) {
	c, err := dataConfig(cmd)
	if err != nil {
		return c, err
	}
	return storageConfig(cmd, c)
}

// serveConfig reads and checks the flags of serve.
func serveConfig(cmd *cli.Command) (Config, error) {
	c, err := dataConfig(cmd)
	if err != nil {
		return c, err
	}
	if c, err = storageConfig(cmd, c); err != nil {
		return c, err
	}
	c.Addr = cmd.String("addr")
	if c.Addr == "" || !strings.Contains(c.Addr, ":") {
		return c, usageError("--addr (DEPOT_ADDR): %q is not host:port", c.Addr)
	}
	c.StorageRedirect = cmd.Bool("storage-redirect")
	if c.StorageRedirect && !strings.HasPrefix(c.StorageURL, "s3://") {
		return c, usageError("--storage-redirect (DEPOT_STORAGE_REDIRECT) needs an s3:// --storage-url")
	}
	c.BaseURL = strings.TrimRight(cmd.String("base-url"), "/")
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, usageError("--base-url (DEPOT_BASE_URL): %q is not an http(s) URL", c.BaseURL)
		}
	}
	size, err := parseSize(cmd.String("max-upload-size"))
	if err != nil {
		return c, usageError("--max-upload-size (DEPOT_MAX_UPLOAD_SIZE): %v", err)
	}
	c.MaxUploadSize = size
	c.Limits = &depot.Limits{}
	for _, l := range []struct {
		flag, env string
		count     bool
		dst       *int64
	}{
		{"limit-total-owner-count", "DEPOT_LIMIT_TOTAL_OWNER_COUNT", true, &c.Limits.TotalOwnerCount},
		{"limit-total-owner-size", "DEPOT_LIMIT_TOTAL_OWNER_SIZE", false, &c.Limits.TotalOwnerSize},
		{"limit-size-generic", "DEPOT_LIMIT_SIZE_GENERIC", false, &c.Limits.SizeGeneric},
	} {
		n, err := parseLimit(cmd.String(l.flag), l.count)
		if err != nil {
			return c, usageError("--%s (%s): %v", l.flag, l.env, err)
		}
		*l.dst = n
	}
	switch ttl := cmd.Duration("token-cache-ttl"); {
	case ttl < 0:
		return c, usageError("--token-cache-ttl (DEPOT_TOKEN_CACHE_TTL): %v is negative", ttl)
	case ttl == 0:
		c.TokenCacheTTL = -1
	default:
		c.TokenCacheTTL = ttl
	}
	c.VerifyDownloads = cmd.Bool("verify-downloads")
	if c.UploadExpiry = cmd.Duration("upload-expiry"); c.UploadExpiry == 0 {
		c.UploadExpiry = -1
	} else if c.UploadExpiry < time.Minute {
		return c, usageError("--upload-expiry must be 0 (off) or at least 1m")
	}
	if c.InlineBlobMax, err = parseSize(cmd.String("inline-max")); err != nil {
		return c, usageError("--inline-max (DEPOT_INLINE_MAX): %v", err)
	} else if c.InlineBlobMax > depot.MaxInlineBlob {
		return c, usageError("--inline-max (DEPOT_INLINE_MAX): %d bytes is over the most, 64KiB", c.InlineBlobMax)
	} else if c.InlineBlobMax == 0 {
		c.InlineBlobMax = -1
	}
	if c.VerifyRate, err = parseSize(cmd.String("verify-rate")); err != nil {
		return c, usageError("--verify-rate (DEPOT_VERIFY_RATE): %v", err)
	}
	if c, err = limitsConfig(cmd, c); err != nil {
		return c, err
	}
	switch ttl := cmd.Duration("trusted-publisher-token-ttl"); {
	case ttl < time.Minute || ttl > depot.MaxPublisherTokenTTL:
		return c, usageError("--trusted-publisher-token-ttl (DEPOT_TRUSTED_PUBLISHER_TOKEN_TTL): %v is not between 1m and 6h", ttl)
	default:
		c.PublisherTokenTTL = ttl
	}
	c.Metrics, c.MetricsToken = cmd.Bool("metrics"), cmd.String("metrics-token")
	if c.MetricsToken != "" && !c.Metrics {
		return c, usageError("--metrics-token (DEPOT_METRICS_TOKEN) is set but --metrics (DEPOT_METRICS) is off")
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"webhook-timeout", &c.WebhookTimeout}, {"webhook-poll", &c.WebhookPoll}, {"webhook-backoff", &c.WebhookBackoff}} {
		if *d.dst = cmd.Duration(d.name); *d.dst <= 0 {
			return c, usageError("--%s (DEPOT_%s): must be positive", d.name, strings.ToUpper(strings.ReplaceAll(d.name, "-", "_")))
		}
	}
	if c.WebhookMaxAttempts = int(cmd.Int("webhook-max-attempts")); c.WebhookMaxAttempts < 1 {
		return c, usageError("--webhook-max-attempts (DEPOT_WEBHOOK_MAX_ATTEMPTS): must be at least 1")
	}
	c.NoWebhookDelivery = cmd.Bool("no-webhook-delivery")
	if c.AuditRetention = cmd.Duration("audit-retention"); c.AuditRetention < 0 {
		return c, usageError("--audit-retention (DEPOT_AUDIT_RETENTION): %v is negative", c.AuditRetention)
	}
	if c.TrustedProxies, err = httpapi.ParseTrustedProxies(cmd.String("trusted-proxies")); err != nil {
		return c, usageError("--trusted-proxies (DEPOT_TRUSTED_PROXIES): %v", err)
	}
	if c.CleanupInterval = cmd.Duration("cleanup-interval"); c.CleanupInterval < 0 {
		return c, usageError("--cleanup-interval (DEPOT_CLEANUP_INTERVAL): must not be negative")
	}
	if cmd.Bool("no-cleanup") {
		c.CleanupInterval = 0
	}
	if c.CleanupPoll = cmd.Duration("cleanup-poll"); c.CleanupPoll < 0 {
		return c, usageError("--cleanup-poll (DEPOT_CLEANUP_POLL): must not be negative")
	}
	if c.CleanupLease = cmd.Duration("cleanup-lease"); c.CleanupLease <= 0 {
		return c, usageError("--cleanup-lease (DEPOT_CLEANUP_LEASE): must be positive")
	}
	return c, nil
}

// defaultAuditRetention keeps audit events a year.
const defaultAuditRetention = 365 * 24 * time.Hour

// Server limits' defaults.
const (
	defaultReadHeaderTimeout   = 10 * time.Second
	defaultIdleTimeout         = 2 * time.Minute
	defaultMaxHeaderBytes      = "64KiB"
	defaultMaxUploadsPerClient = 64
	defaultMaxUploads          = 512
)

// limitsConfig reads and checks the server limits into c.
func limitsConfig(cmd *cli.Command, c Config) (Config, error) {
	c.ReadHeaderTimeout, c.IdleTimeout = cmd.Duration("read-header-timeout"), cmd.Duration("idle-timeout")
	if c.ReadHeaderTimeout <= 0 {
		return c, usageError("--read-header-timeout (DEPOT_READ_HEADER_TIMEOUT): %v is not positive", c.ReadHeaderTimeout)
	}
	if c.IdleTimeout <= 0 {
		return c, usageError("--idle-timeout (DEPOT_IDLE_TIMEOUT): %v is not positive", c.IdleTimeout)
	}
	n, err := parseSize(cmd.String("max-header-bytes"))
	if err != nil || n < 1024 || n > 64<<20 {
		return c, usageError("--max-header-bytes (DEPOT_MAX_HEADER_BYTES): %q is not a size from 1KiB to 64MiB", cmd.String("max-header-bytes"))
	}
	c.MaxHeaderBytes = int(n)
	c.MaxUploadsPerClient, c.MaxUploads = int(cmd.Int("max-uploads-per-client")), int(cmd.Int("max-uploads"))
	if c.MaxUploadsPerClient < 0 {
		return c, usageError("--max-uploads-per-client (DEPOT_MAX_UPLOADS_PER_CLIENT): %d is negative", c.MaxUploadsPerClient)
	}
	if c.MaxUploads < 0 {
		return c, usageError("--max-uploads (DEPOT_MAX_UPLOADS): %d is negative", c.MaxUploads)
	}
	return c, nil
}

func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "" {
		return 0, nil
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n > 1<<62 {
		return 0, fmt.Errorf("%q is not a size such as 512MiB or 10GiB", s)
	}
	return int64(n), nil
}

// parseLimit parses a limit: -1 (none), or a count or a size such as
// 10GiB (0 allows nothing).
func parseLimit(s string, count bool) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "-1" {
		return depot.NoLimit, nil
	}
	if count {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not -1 or a count of at least 0", s)
		}
		return n, nil
	}
	if s == "" || strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("%q is not -1 or a size such as 512MiB or 10GiB", s)
	}
	n, err := parseSize(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not -1 or a size such as 512MiB or 10GiB", s)
	}
	return n, nil
}

// sqlitePath extracts the file path of a sqlite:// URL (sqlite://relative/x.db
// or sqlite:///absolute/x.db).
func sqlitePath(raw string) (string, error) {
	return localPath(raw, "sqlite")
}

// filePath extracts the directory of a file:// URL.
func filePath(raw string) (string, error) {
	return localPath(raw, "file")
}

func localPath(raw, scheme string) (string, error) {
	rest, ok := strings.CutPrefix(raw, scheme+"://")
	if !ok {
		if s, _, found := strings.Cut(raw, "://"); found {
			return "", fmt.Errorf("unsupported scheme %q (supported: %s://)", s, scheme)
		}
		return "", fmt.Errorf("%q is not a %s:// URL", raw, scheme)
	}
	if rest == "" || strings.ContainsAny(rest, "?#") {
		return "", fmt.Errorf("%q has no usable path", raw)
	}
	return filepath.Clean(rest), nil
}

// newService builds the domain service over the given stores; events, when
// set, hears of changes that may have recorded webhook events.
func newService(c Config, store depot.Store, blobs depot.BlobStore, log *slog.Logger, events depot.EventNotifier) (*depot.Service, error) {
	hasher, err := password.New(c.BcryptCost)
	if err != nil {
		return nil, err
	}
	if c.PublisherTokenTTL > depot.MaxPublisherTokenTTL {
		return nil, fmt.Errorf("trusted publisher token TTL %v is over %v", c.PublisherTokenTTL, depot.MaxPublisherTokenTTL)
	}
	opts := &depot.Options{MaxUploadSize: c.MaxUploadSize, Limits: c.Limits, Logger: log, TokenCacheTTL: c.TokenCacheTTL,
		Now: c.Now, BaseURL: c.BaseURL, PublisherTokenTTL: c.PublisherTokenTTL,
		Verifier: oidc.New(&oidc.Options{Now: c.Now}),
		// A local blob reads back from the page cache; an S3 object is
		// downloaded again, after the 201: a second read of the object
		// store, which costs less than the client waiting for md5, sha1
		// and sha512 (six times the sha256's CPU) on the way in.
		DeferDigests: true, VerifyDownloads: c.VerifyDownloads, InlineBlobMax: c.InlineBlobMax}
	if err := depot.ValidateInlineBlobMax(opts.InlineBlobMax); err != nil {
		return nil, fmt.Errorf("--inline-max (DEPOT_INLINE_MAX): %w", err)
	}
	if c.StorageRedirect {
		opts.LinkExpiry = linkExpiry
	}
	if st, ok := blobs.(interface {
		UploadStaging() (depot.UploadStaging, error)
	}); ok && c.UploadExpiry >= 0 {
		if opts.Staging, err = st.UploadStaging(); err != nil {
			return nil, err
		}
		opts.UploadExpiry = c.UploadExpiry
	}
	hosts, err := webhook.ParseHostList(c.WebhookAllowedHosts)
	if err != nil {
		return nil, fmt.Errorf("--webhook-allowed-hosts (DEPOT_WEBHOOK_ALLOWED_HOSTS): %w", err)
	}
	opts.HookTargets = hosts
	if events != nil {
		opts.Events = events
	}
	opts.Audit = c.auditor
	return depot.NewService(store, blobs, hasher, opts), nil
}
