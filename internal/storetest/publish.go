package storetest

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// runPublish runs the trusted publishing cases.
func runPublish(t *testing.T, newStore func(t *testing.T) depot.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s depot.Store)
	}{
		{"TrustedPublishers", testTrustedPublishers},
		{"UseTokenID", testUseTokenID},
		{"UseTokenIDRace", testUseTokenIDRace},
		{"PublisherExchanges", testPublisherExchanges},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// MustCreatePublisher creates a trusted publisher of owner.
func MustCreatePublisher(tb testing.TB, s depot.Store, owner *depot.Owner, issuer string, claims []depot.ClaimCondition, packages ...string) *depot.TrustedPublisher {
	tb.Helper()
	p := &depot.TrustedPublisher{OwnerID: owner.ID, OwnerName: owner.Name, Issuer: issuer, Audience: "https://depot.example",
		Claims: claims, Packages: packages, CreatedAt: when}
	if err := s.CreateTrustedPublisher(context.Background(), p); err != nil {
		tb.Fatalf("CreateTrustedPublisher: %v", err)
	}
	return p
}

func testTrustedPublishers(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	org := MustCreateOrg(t, s, "acme", alice)
	gh, gl := "https://token.actions.githubusercontent.com", "https://gitlab.example"
	claims := []depot.ClaimCondition{{Name: "repository", Pattern: "acme/*"}, {Name: "repository_id", Pattern: "42"}}
	p1 := MustCreatePublisher(t, s, org, gh, claims, "app", "tool-*")
	p2 := MustCreatePublisher(t, s, &alice.Owner, gh, []depot.ClaimCondition{{Name: "repository", Pattern: "alice/x"}})
	p3 := MustCreatePublisher(t, s, org, gl, []depot.ClaimCondition{{Name: "project_path", Pattern: "acme/app"}})
	if p1.ID == 0 || p1.ID == p2.ID || p2.ID == p3.ID {
		t.Fatalf("ids %d %d %d: want distinct, non-zero", p1.ID, p2.ID, p3.ID)
	}
	wantErr(t, "CreateTrustedPublisher of a missing owner", s.CreateTrustedPublisher(ctx, &depot.TrustedPublisher{
		OwnerID: 9999, Issuer: gh, Claims: claims, CreatedAt: when}), depot.ErrNotFound)

	ids := func(ps []*depot.TrustedPublisher) []int64 {
		var out []int64
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	for _, c := range []struct {
		q    depot.PublisherQuery
		want []int64
	}{
		{depot.PublisherQuery{}, []int64{p1.ID, p2.ID, p3.ID}},
		{depot.PublisherQuery{Issuer: gh}, []int64{p1.ID, p2.ID}},
		{depot.PublisherQuery{Issuer: gh + "/"}, nil}, // exact, not a prefix
		{depot.PublisherQuery{OwnerID: org.ID}, []int64{p1.ID, p3.ID}},
		{depot.PublisherQuery{OwnerID: org.ID, Issuer: gl}, []int64{p3.ID}},
	} {
		got, err := s.TrustedPublishers(ctx, c.q)
		if err != nil {
			t.Fatalf("TrustedPublishers(%+v): %v", c.q, err)
		}
		if !reflect.DeepEqual(ids(got), c.want) {
			t.Errorf("TrustedPublishers(%+v) = %v, want %v", c.q, ids(got), c.want)
		}
	}
	got, err := s.TrustedPublisherByID(ctx, p1.ID)
	if err != nil {
		t.Fatalf("TrustedPublisherByID: %v", err)
	}
	if got.OwnerName != "acme" || got.Issuer != gh || got.Audience != p1.Audience || !reflect.DeepEqual(got.Claims, claims) ||
		!reflect.DeepEqual(got.Packages, []string{"app", "tool-*"}) {
		t.Errorf("TrustedPublisherByID = %+v, want %+v", got, p1)
	}
	wantTime(t, "CreatedAt", got.CreatedAt, when)
	if got, _ := s.TrustedPublisherByID(ctx, p2.ID); got == nil || got.Packages != nil {
		t.Errorf("publisher without patterns: Packages = %v, want nil", got)
	}
	_, err = s.TrustedPublisherByID(ctx, 9999)
	wantErr(t, "TrustedPublisherByID of a missing id", err, depot.ErrNotFound)

	if err := s.DeleteTrustedPublisher(ctx, p1.ID); err != nil {
		t.Fatalf("DeleteTrustedPublisher: %v", err)
	}
	wantErr(t, "DeleteTrustedPublisher again", s.DeleteTrustedPublisher(ctx, p1.ID), depot.ErrNotFound)
	_, err = s.TrustedPublisherByID(ctx, p1.ID)
	wantErr(t, "TrustedPublisherByID after delete", err, depot.ErrNotFound)
}

func testUseTokenID(t *testing.T, s depot.Store) {
	ctx := context.Background()
	iss := "https://issuer.example"
	exp := when.Add(10 * time.Minute)
	use := func(what, issuer, jti string, expires, now time.Time, want bool) {
		t.Helper()
		got, err := s.UseTokenID(ctx, issuer, jti, expires, now)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	use("first use", iss, "j1", exp, when, true)
	use("replay", iss, "j1", exp, when.Add(time.Minute), false)
	use("same jti, other issuer", "https://other.example", "j1", exp, when, true)
	use("other jti", iss, "j2", exp, when, true)
	use("replay just before expiry", iss, "j1", exp, exp.Add(-time.Microsecond), false)
	// Once the token has expired its record goes, and a verifier would
	// refuse the token anyway.
	use("after expiry", iss, "j1", exp.Add(time.Hour), exp.Add(time.Second), true)
	use("replay of the renewed record", iss, "j1", exp.Add(time.Hour), exp.Add(2*time.Second), false)
}

func testUseTokenIDRace(t *testing.T, s depot.Store) {
	ctx := context.Background()
	const n = 8
	for round := range 5 {
		jti := fmt.Sprintf("race-%d", round)
		var wins atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.UseTokenID(ctx, "https://issuer.example", jti, when.Add(time.Hour), when)
				if err != nil {
					errs <- err
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("UseTokenID: %v", err)
		}
		if w := wins.Load(); w != 1 {
			t.Fatalf("round %d: %d of %d concurrent uses won, want exactly 1", round, w, n)
		}
	}
}

func testPublisherExchanges(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	p := MustCreatePublisher(t, s, &alice.Owner, "https://issuer.example", []depot.ClaimCondition{{Name: "repository", Pattern: "alice/app"}})
	mk := func(owner *depot.User, hash, last string, direct bool) *depot.PublisherExchange {
		e := &depot.PublisherExchange{PublisherID: p.ID, OwnerID: owner.ID, Issuer: "https://issuer.example", Subject: "repo:alice/app:ref:refs/tags/v1",
			Repository: "alice/app", Workflow: "release", RunID: "77", SHA: "abc123", Ref: "refs/tags/v1",
			Direct: direct, Hash: hash, LastEight: last, CreatedAt: when, ExpiresAt: when.Add(15 * time.Minute)}
		if err := s.CreatePublisherExchange(ctx, e); err != nil {
			t.Fatalf("CreatePublisherExchange: %v", err)
		}
		return e
	}
	e1 := mk(alice, "hash-1", "aaaa1111", false)
	e2 := mk(alice, "", "", true)
	e3 := mk(bob, "hash-3", "aaaa1111", false)
	if e1.ID == 0 || e1.ID == e2.ID || e2.ID == e3.ID {
		t.Fatalf("ids %d %d %d: want distinct, non-zero", e1.ID, e2.ID, e3.ID)
	}
	got, err := s.PublisherTokensByLastEight(ctx, "aaaa1111")
	if err != nil {
		t.Fatalf("PublisherTokensByLastEight: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("PublisherTokensByLastEight = %d exchanges, want 2", len(got))
	}
	for _, g := range got {
		want := e1
		if g.ID == e3.ID {
			want = e3
		}
		w := *want
		w.CreatedAt, w.ExpiresAt = g.CreatedAt, g.ExpiresAt
		if *g != w {
			t.Errorf("exchange = %+v, want %+v", *g, w)
		}
		wantTime(t, "ExpiresAt", g.ExpiresAt, want.ExpiresAt)
	}
	list, err := s.PublisherExchanges(ctx, alice.ID, 10)
	if err != nil {
		t.Fatalf("PublisherExchanges: %v", err)
	}
	if len(list) != 2 || list[0].ID != e2.ID || list[1].ID != e1.ID || !list[0].Direct || list[0].Hash != "" {
		t.Errorf("PublisherExchanges = %+v, want e2 (direct), e1", list)
	}
	if list, _ := s.PublisherExchanges(ctx, alice.ID, 1); len(list) != 1 {
		t.Errorf("PublisherExchanges limit 1 = %d", len(list))
	}

	// Files record the exchange they were uploaded with.
	nf := NewFile(alice, "app", "1.0", "app.tar.gz", "ci build")
	nf.ExchangeID = e1.ID
	f1 := MustCreateFile(t, s, nf)
	f2 := MustCreateFile(t, s, NewFile(alice, "app", "1.0", "notes.txt", "by hand"))
	pubs, err := s.FilePublications(ctx, f1.VersionID)
	if err != nil {
		t.Fatalf("FilePublications: %v", err)
	}
	if len(pubs) != 1 || pubs[f1.ID] == nil || pubs[f1.ID].ID != e1.ID || pubs[f1.ID].RunID != "77" || pubs[f2.ID] != nil {
		t.Errorf("FilePublications = %+v, want only file %d from exchange %d", pubs, f1.ID, e1.ID)
	}
	proj := &depot.Project{OwnerID: alice.ID, Name: "gl", CreatedAt: when}
	if err := s.CreateProject(ctx, proj); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	nf = NewFile(alice, "gl-app", "1.0", "gl.bin", "gitlab ci")
	nf.ExchangeID = e2.ID
	f3, err := s.CreateGitLabFile(ctx, nf, depot.GitLabFileOptions{ProjectID: proj.ID}, func(context.Context) error { return nil })
	if err != nil {
		t.Fatalf("CreateGitLabFile: %v", err)
	}
	if pubs, _ := s.FilePublications(ctx, f3.VersionID); pubs[f3.ID] == nil || pubs[f3.ID].ID != e2.ID {
		t.Errorf("GitLab upload: FilePublications = %+v, want file %d from exchange %d", pubs, f3.ID, e2.ID)
	}

	// Deleting the publisher keeps its exchanges, without a publisher.
	if err := s.DeleteTrustedPublisher(ctx, p.ID); err != nil {
		t.Fatalf("DeleteTrustedPublisher: %v", err)
	}
	got, _ = s.PublisherTokensByLastEight(ctx, "aaaa1111")
	if len(got) != 2 || got[0].PublisherID != 0 {
		t.Errorf("after deleting the publisher: %+v, want both exchanges with PublisherID 0", got)
	}
}
