package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// runIntegrity runs the conformance tests of depot.IntegrityStore.
func runIntegrity(t *testing.T, newStore func(t *testing.T) depot.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s depot.Store)
	}{
		{"BlobPage", testBlobPage},
		{"BlobFiles", testBlobFiles},
		{"BlobDamage", testBlobDamage},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// pageAll reads every page of BlobPage, limit records at a time.
func pageAll(t *testing.T, s depot.Store, limit int, ownerID int64) []string {
	t.Helper()
	var out []string
	after := ""
	for range 100 {
		page, err := s.BlobPage(context.Background(), after, limit, ownerID)
		if err != nil {
			t.Fatalf("BlobPage(%.8s, %d, %d): %v", after, limit, ownerID, err)
		}
		if len(page) > limit {
			t.Fatalf("BlobPage returned %d records, limit %d", len(page), limit)
		}
		for _, b := range page {
			out = append(out, b.SHA256)
		}
		if len(page) < limit {
			return out
		}
		after = page[len(page)-1].SHA256
	}
	t.Fatal("BlobPage never ended")
	return nil
}

func testBlobPage(t *testing.T, s depot.Store) {
	alice, bob := MustCreateUser(t, s, "alice"), MustCreateUser(t, s, "bob")
	var all, alices, bobs []string
	for i, c := range []string{"one", "two", "three", "four", "five", "shared"} {
		nf := NewFile(alice, "app", "1.0", c, c)
		if i%2 == 1 {
			nf = NewFile(bob, "lib", "2.0", c, c)
		}
		f := MustCreateFile(t, s, nf)
		all = append(all, f.Blob.SHA256)
		if i%2 == 1 {
			bobs = append(bobs, f.Blob.SHA256)
		} else {
			alices = append(alices, f.Blob.SHA256)
		}
	}
	// Bob's blob "shared" is alice's too.
	MustCreateFile(t, s, NewFile(alice, "app", "1.0", "copy", "shared"))
	alices = append(alices, BlobOf("shared").SHA256)
	for _, l := range [][]string{all, alices, bobs} {
		slices.Sort(l)
	}
	for _, limit := range []int{1, 2, 5, 100} {
		if got := pageAll(t, s, limit, 0); !slices.Equal(got, all) {
			t.Errorf("pages of %d: %.8v, want %.8v", limit, got, all)
		}
	}
	if got := pageAll(t, s, 2, alice.ID); !slices.Equal(got, alices) {
		t.Errorf("alice's blobs: %.8v, want %.8v", got, alices)
	}
	if got := pageAll(t, s, 2, bob.ID); !slices.Equal(got, bobs) {
		t.Errorf("bob's blobs: %.8v, want %.8v", got, bobs)
	}
	page, err := s.BlobPage(context.Background(), all[0], 1, 0)
	if err != nil || len(page) != 1 || page[0].SHA256 != all[1] {
		t.Fatalf("BlobPage after the first: %v, %v; want %.8s", page, err, all[1])
	}
	want := BlobOf("")
	for _, c := range []string{"one", "two", "three", "four", "five", "shared"} {
		if b := BlobOf(c); b.SHA256 == page[0].SHA256 {
			want = b
		}
	}
	if got := page[0]; got.Size != want.Size || got.MD5 != want.MD5 || got.SHA1 != want.SHA1 || got.SHA512 != want.SHA512 {
		t.Errorf("BlobPage record %+v, want the recorded %+v", got, want)
	}
	if page, err := s.BlobPage(context.Background(), all[len(all)-1], 10, 0); err != nil || len(page) != 0 {
		t.Errorf("BlobPage after the last: %v, %v; want none", page, err)
	}
}

func testBlobFiles(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice, bob := MustCreateUser(t, s, "alice"), MustCreateUser(t, s, "bob")
	f1 := MustCreateFile(t, s, NewFile(alice, "App", "1.0", "App.tar.gz", "same"))
	f2 := MustCreateFile(t, s, NewFile(bob, "lib", "2.0-rc", "lib.bin", "same"))
	MustCreateFile(t, s, NewFile(bob, "lib", "2.0-rc", "other.bin", "other"))
	got, err := s.BlobFiles(ctx, BlobOf("same").SHA256)
	if err != nil {
		t.Fatal(err)
	}
	want := []depot.BlobFile{
		{ID: f1.ID, Owner: "alice", Type: depot.TypeGeneric, Package: "App", Version: "1.0", File: "App.tar.gz"},
		{ID: f2.ID, Owner: "bob", Type: depot.TypeGeneric, Package: "lib", Version: "2.0-rc", File: "lib.bin"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("BlobFiles = %+v, want %+v", got, want)
	}
	if got, err := s.BlobFiles(ctx, BlobOf("nobody").SHA256); err != nil || len(got) != 0 {
		t.Errorf("BlobFiles(unknown) = %v, %v; want none", got, err)
	}
}

func testBlobDamage(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	a := MustCreateFile(t, s, NewFile(alice, "app", "1.0", "a", "aaa"))
	b := MustCreateFile(t, s, NewFile(alice, "app", "1.0", "b", "bbb"))
	damaged := func() []depot.BlobDamage {
		t.Helper()
		d, err := s.DamagedBlobs(ctx)
		if err != nil {
			t.Fatalf("DamagedBlobs: %v", err)
		}
		return d
	}
	if d := damaged(); len(d) != 0 {
		t.Fatalf("a new store has damage: %v", d)
	}
	later := when.Add(time.Hour)
	for _, d := range []depot.BlobDamage{
		{SHA256: a.Blob.SHA256, Problem: depot.BlobMissing, FoundAt: when},
		{SHA256: b.Blob.SHA256, Problem: depot.BlobCorrupt, FoundAt: when},
		{SHA256: a.Blob.SHA256, Problem: depot.BlobTruncated, FoundAt: later}, // replaces
		{SHA256: BlobOf("no record").SHA256, Problem: depot.BlobCorrupt, FoundAt: when},
	} {
		if err := s.MarkBlobDamaged(ctx, d); err != nil {
			t.Fatalf("MarkBlobDamaged(%+v): %v", d, err)
		}
	}
	got := damaged()
	want := []depot.BlobDamage{
		{SHA256: a.Blob.SHA256, Problem: depot.BlobTruncated, FoundAt: later},
		{SHA256: b.Blob.SHA256, Problem: depot.BlobCorrupt, FoundAt: when},
	}
	slices.SortFunc(want, func(x, y depot.BlobDamage) int { return strings.Compare(x.SHA256, y.SHA256) })
	if len(got) != len(want) {
		t.Fatalf("DamagedBlobs = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].SHA256 != want[i].SHA256 || got[i].Problem != want[i].Problem || !got[i].FoundAt.Equal(want[i].FoundAt.Truncate(time.Microsecond)) {
			t.Errorf("DamagedBlobs[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if err := s.ClearBlobDamage(ctx, b.Blob.SHA256); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearBlobDamage(ctx, b.Blob.SHA256); err != nil {
		t.Errorf("ClearBlobDamage with nothing recorded: %v", err)
	}
	if got := damaged(); len(got) != 1 || got[0].SHA256 != a.Blob.SHA256 {
		t.Errorf("after clearing b: %+v, want only a", got)
	}
	// Deleting the blob's last file deletes its record, and the damage.
	var r remover
	if err := s.DeleteFile(ctx, alice.ID, depot.TypeGeneric, "app", "1.0", "a", 0, r.remove); err != nil {
		t.Fatal(err)
	}
	if got := damaged(); len(got) != 0 {
		t.Errorf("damage outlived its blob: %+v", got)
	}
}
