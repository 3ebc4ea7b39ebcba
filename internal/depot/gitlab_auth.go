package depot

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// gitlabScopes maps GitLab's token scope names onto depot's, so tokens can
// be created with the names GitLab users know.
var gitlabScopes = map[string]Scopes{
	"api":                    {ScopeAll},
	"read_api":               {ScopeReadPackage, ScopeReadUser, ScopeReadOrganization},
	"read_user":              {ScopeReadUser},
	"read_package_registry":  {ScopeReadPackage},
	"write_package_registry": {ScopeWritePackage},
}

// Prefixes of deploy and job token secrets, as GitLab's.
const (
	deployTokenPrefix = "gldt-"
	jobTokenPrefix    = "glcbt-"
)

// GitLabCredentials are what a GitLab client presented: the PRIVATE-TOKEN,
// JOB-TOKEN and Deploy-Token headers, a Bearer token, or HTTP Basic.
type GitLabCredentials struct {
	PrivateToken, JobToken, DeployToken, Bearer string
	// Basic is set when HTTP Basic credentials were sent; the password is
	// a token of any kind and the user name is not checked.
	Basic    bool
	Password string
}

// AuthenticateGitLab returns the actor GitLab credentials prove, or the
// anonymous actor (nil). A wrong PRIVATE-TOKEN, JOB-TOKEN, Deploy-Token or
// Bearer token is ErrUnauthenticated; a wrong Basic password counts as no
// credentials, as in GitLab.
func (s *Service) AuthenticateGitLab(ctx context.Context, c GitLabCredentials) (*Actor, error) {
	switch {
	case c.PrivateToken != "":
		return s.authenticateToken(ctx, c.PrivateToken)
	case c.JobToken != "":
		return s.authenticateProjectToken(ctx, c.JobToken, KindJobToken)
	case c.DeployToken != "":
		return s.authenticateProjectToken(ctx, c.DeployToken, KindDeployToken)
	case c.Bearer != "":
		return s.anyToken(ctx, c.Bearer)
	case c.Basic:
		a, err := s.anyToken(ctx, c.Password)
		if errors.Is(err, ErrUnauthenticated) {
			return nil, nil
		}
		return a, err
	}
	return nil, nil
}

func (s *Service) anyToken(ctx context.Context, secret string) (*Actor, error) {
	switch {
	case strings.HasPrefix(secret, deployTokenPrefix):
		return s.authenticateProjectToken(ctx, secret, KindDeployToken)
	case strings.HasPrefix(secret, jobTokenPrefix):
		return s.authenticateProjectToken(ctx, secret, KindJobToken)
	}
	return s.authenticateToken(ctx, secret)
}

func (s *Service) authenticateProjectToken(ctx context.Context, secret string, kind TokenKind) (*Actor, error) {
	if kind == KindJobToken && (strings.HasPrefix(secret, publisherTokenPrefix) || looksLikeJWT(secret)) {
		// A CI job's trusted-publisher token in GitLab's JOB-TOKEN header.
		return s.authenticateToken(ctx, secret)
	}
	prefix := deployTokenPrefix
	if kind == KindJobToken {
		prefix = jobTokenPrefix
	}
	rest, ok := strings.CutPrefix(secret, prefix)
	if !ok || !looksLikeToken(rest) {
		return nil, errBadCredentials
	}
	candidates, err := s.store.ProjectTokensByLastEight(ctx, rest[tokenLen-8:])
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	want := hashToken(secret)
	for _, t := range candidates {
		if t.Kind != kind || subtle.ConstantTimeCompare([]byte(t.Hash), []byte(want)) != 1 {
			continue
		}
		if t.ExpiresAt != nil && !s.now().Before(*t.ExpiresAt) {
			return nil, &Error{Kind: ErrUnauthenticated, Message: "token has expired"}
		}
		name := fmt.Sprintf("gitlab+deploy-token-%d", t.ID)
		if kind == KindJobToken {
			name = "gitlab-ci-token"
		}
		return &Actor{User: &User{Owner: Owner{Name: name, Kind: KindUser, Visibility: Private}}, Scopes: t.Scopes, ProjectToken: t}, nil
	}
	return nil, errBadCredentials
}

// NewProjectToken is what CreateProjectToken needs. Project is an
// "owner/project" path or a numeric id; for a deploy token it may instead
// be empty with Owner set, for a token over every project of the owner.
type NewProjectToken struct {
	Kind           TokenKind
	Owner, Project string
	Name           string
	Scopes         Scopes
	// TTL is the token's lifetime; 0 means no expiry (deploy tokens only).
	TTL time.Duration
}

// CreateProjectToken creates a deploy token or a job token and returns its
// secret, which is not stored. A job token needs a project and a TTL and
// may read and write packages. ErrInvalid, ErrNotFound, ErrConflict.
func (s *Service) CreateProjectToken(ctx context.Context, nt NewProjectToken) (string, *ProjectToken, error) {
	t := &ProjectToken{Kind: nt.Kind, Name: nt.Name, CreatedAt: s.now()}
	prefix := deployTokenPrefix
	switch nt.Kind {
	case KindDeployToken:
		if len(nt.Scopes) == 0 {
			return "", nil, Errorf(ErrInvalid, "at least one scope is required")
		}
		for _, sc := range nt.Scopes {
			if sc != ScopeReadPackage && sc != ScopeWritePackage {
				return "", nil, Errorf(ErrInvalid, "deploy tokens take read_package_registry and write_package_registry only, not %q", sc)
			}
		}
		t.Scopes = nt.Scopes
	case KindJobToken:
		prefix = jobTokenPrefix
		if nt.Project == "" || nt.TTL <= 0 {
			return "", nil, Errorf(ErrInvalid, "a job token needs a project and a positive TTL")
		}
		t.Scopes = Scopes{ScopeWritePackage}
		if t.Name == "" {
			t.Name = "job-" + s.now().Format("20060102T150405.000000")
		}
	default:
		return "", nil, Errorf(ErrInvalid, "unknown token kind %q", nt.Kind)
	}
	if err := ValidateTokenName(t.Name); err != nil {
		return "", nil, err
	}
	if nt.TTL < 0 {
		return "", nil, Errorf(ErrInvalid, "TTL must not be negative")
	}
	if nt.TTL > 0 {
		e := t.CreatedAt.Add(nt.TTL)
		t.ExpiresAt = &e
	}
	var ownerName string
	if nt.Project != "" {
		p, _, err := s.lookupProject(ctx, nt.Project)
		if err != nil {
			return "", nil, Errorf(ErrNotFound, "project %q not found", nt.Project)
		}
		t.OwnerID, t.ProjectID = p.OwnerID, p.ID
		ownerName = p.OwnerName
	} else {
		o, err := s.store.OwnerByName(ctx, nt.Owner)
		if errors.Is(err, ErrNotFound) {
			return "", nil, Errorf(ErrNotFound, "owner %q not found", nt.Owner)
		} else if err != nil {
			return "", nil, err
		}
		t.OwnerID, ownerName = o.ID, o.Name
	}
	raw := make([]byte, tokenLen/2)
	if _, err := io.ReadFull(s.opts.Rand, raw); err != nil {
		return "", nil, fmt.Errorf("generate token: %w", err)
	}
	body := hex.EncodeToString(raw)
	secret := prefix + body
	t.Hash, t.LastEight = hashToken(secret), body[tokenLen-8:]
	if err := s.store.CreateProjectToken(ctx, t); errors.Is(err, ErrConflict) {
		return "", nil, Errorf(ErrConflict, "a %s token named %q exists", t.Kind, t.Name)
	} else if err != nil {
		return "", nil, fmt.Errorf("create token: %w", err)
	}
	detail := map[string]any{"kind": t.Kind, "id": t.ID, "scopes": t.Scopes.String(), "project": nt.Project}
	if t.ExpiresAt != nil {
		detail["expires_at"] = *t.ExpiresAt
	}
	s.audit(ctx, nil, AuditProjectTokenCreate, ownerName, t.Name, detail)
	return secret, t, nil
}

// ListProjectTokens returns the deploy and job tokens of an owner and its
// projects (without secrets). ErrNotFound.
func (s *Service) ListProjectTokens(ctx context.Context, owner string) ([]*ProjectToken, error) {
	o, err := s.store.OwnerByName(ctx, owner)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ErrNotFound, "owner %q not found", owner)
	} else if err != nil {
		return nil, err
	}
	return s.store.ListProjectTokens(ctx, o.ID)
}

// RevokeProjectToken deletes a deploy or job token by id; it stops working
// at once (project tokens are not cached). ErrNotFound.
func (s *Service) RevokeProjectToken(ctx context.Context, id int64) error {
	if err := s.store.DeleteProjectToken(ctx, id); errors.Is(err, ErrNotFound) {
		return Errorf(ErrNotFound, "no deploy or job token with id %d", id)
	} else if err != nil {
		return err
	}
	s.audit(ctx, nil, AuditProjectTokenRevoke, "", strconv.FormatInt(id, 10), map[string]any{"id": id})
	return nil
}

// downloadFlushDelay is how long download times gather in memory before
// they are written in one batch, so downloads never wait for a write.
const downloadFlushDelay = 2 * time.Second

// downloads gathers the last download time of versions and download
// counts (CountDownload).
type downloads struct {
	mu      sync.Mutex
	pending map[int64]time.Time
	counts  DownloadCounts
	timer   *time.Timer
}

func (s *Service) noteDownload(versionID int64) {
	d := &s.downloads
	d.mu.Lock()
	if d.pending == nil {
		d.pending = map[int64]time.Time{}
	}
	d.pending[versionID] = s.now()
	d.mu.Unlock()
	s.scheduleFlush()
}

// scheduleFlush starts the timer that writes what downloads gathered.
func (s *Service) scheduleFlush() {
	d := &s.downloads
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer == nil {
		d.timer = time.AfterFunc(downloadFlushDelay, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := s.FlushDownloads(ctx); err != nil {
				s.opts.Logger.Error("record download times", "err", err)
			}
		})
	}
}

// FlushDownloads writes the download times gathered so far. The service
// calls it a moment after a download; servers call it on shutdown and
// tests when they need the times.
func (s *Service) FlushDownloads(ctx context.Context) error {
	d := &s.downloads
	d.mu.Lock()
	batch, counts := d.pending, d.counts
	d.pending, d.counts = nil, DownloadCounts{}
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.mu.Unlock()
	if len(counts.Files) > 0 {
		if err := s.store.AddDownloads(ctx, counts); err != nil {
			// Keep the counts for the next flush rather than lose them.
			s.requeueCounts(counts)
			return fmt.Errorf("add download counts: %w", err)
		}
	}
	if len(batch) == 0 {
		return nil
	}
	return s.store.RecordDownloads(ctx, batch)
}

// requeueCounts adds counts that failed to be written back to the pending
// ones.
func (s *Service) requeueCounts(c DownloadCounts) {
	d := &s.downloads
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.counts.Files == nil {
		d.counts = DownloadCounts{Files: map[int64]int64{}, Versions: map[int64]int64{}, Days: map[VersionDay]int64{}}
	}
	for k, n := range c.Files {
		d.counts.Files[k] += n
	}
	for k, n := range c.Versions {
		d.counts.Versions[k] += n
	}
	for k, n := range c.Days {
		d.counts.Days[k] += n
	}
}
