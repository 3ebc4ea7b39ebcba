package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/depot-registry/depot/internal/depot"
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
	// BcryptCost is the password hashing cost; 0 means bcrypt's default.
	// Tests lower it.
	BcryptCost int
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
		&cli.BoolFlag{Name: "storage-redirect", Usage: "answer downloads with a 307 to a short-lived presigned URL of the object store (s3:// only)", Sources: cli.EnvVars("DEPOT_STORAGE_REDIRECT")},
		&cli.DurationFlag{Name: "token-cache-ttl", Value: depot.DefaultTokenCacheTTL, Usage: "how long a verified token, and an owner looked up by name, are trusted before the database is asked again; on PostgreSQL revocations reach every replica at once (LISTEN/NOTIFY); on SQLite a revocation by the admin CLI takes up to this long; 0 disables the caches", Sources: cli.EnvVars("DEPOT_TOKEN_CACHE_TTL")},
		&cli.BoolFlag{Name: "metrics", Usage: "serve Prometheus metrics at /metrics", Sources: cli.EnvVars("DEPOT_METRICS")},
		&cli.StringFlag{Name: "metrics-token", Usage: "bearer token a /metrics scrape must send (recommended when --metrics is on)", Sources: cli.EnvVars("DEPOT_METRICS_TOKEN")},
		&cli.DurationFlag{Name: "webhook-timeout", Value: 5 * time.Second, Usage: "time limit of one webhook delivery try", Sources: cli.EnvVars("DEPOT_WEBHOOK_TIMEOUT")},
		&cli.DurationFlag{Name: "webhook-poll", Value: 2 * time.Second, Usage: "how often the delivery worker looks for deliveries written by other processes or due for a retry", Sources: cli.EnvVars("DEPOT_WEBHOOK_POLL")},
		&cli.DurationFlag{Name: "webhook-backoff", Value: 10 * time.Second, Usage: "wait before the first retry of a failed delivery, doubled after each further failure (at most 1h)", Sources: cli.EnvVars("DEPOT_WEBHOOK_BACKOFF")},
		&cli.IntFlag{Name: "webhook-max-attempts", Value: 8, Usage: "tries of a delivery before it is marked failed", Sources: cli.EnvVars("DEPOT_WEBHOOK_MAX_ATTEMPTS")},
		&cli.BoolFlag{Name: "no-webhook-delivery", Usage: "do not deliver webhooks from this process (other replicas do)", Sources: cli.EnvVars("DEPOT_NO_WEBHOOK_DELIVERY")},
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

// blobConfig reads and checks the flags of a command that opens the
// metadata and the blob store.
func blobConfig(cmd *cli.Command) (Config, error) {
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
	switch ttl := cmd.Duration("token-cache-ttl"); {
	case ttl < 0:
		return c, usageError("--token-cache-ttl (DEPOT_TOKEN_CACHE_TTL): %v is negative", ttl)
	case ttl == 0:
		c.TokenCacheTTL = -1
	default:
		c.TokenCacheTTL = ttl
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
	opts := &depot.Options{MaxUploadSize: c.MaxUploadSize, Logger: log, TokenCacheTTL: c.TokenCacheTTL,
		// A local blob reads back from the page cache; an S3 object would be
		// downloaded again.
		DeferDigests: strings.HasPrefix(c.StorageURL, "file://")}
	if c.StorageRedirect {
		opts.LinkExpiry = linkExpiry
	}
	hosts, err := webhook.ParseHostList(c.WebhookAllowedHosts)
	if err != nil {
		return nil, fmt.Errorf("--webhook-allowed-hosts (DEPOT_WEBHOOK_ALLOWED_HOSTS): %w", err)
	}
	opts.HookTargets = hosts
	if events != nil {
		opts.Events = events
	}
	return depot.NewService(store, blobs, hasher, opts), nil
}
