package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/depot-registry/depot/internal/depot"
)

// damageFixture is a user with a token on a running server.
type damageFixture struct {
	m     *Main
	token string
}

func newDamageFixture(t *testing.T, m *Main) damageFixture {
	t.Helper()
	ctx := context.Background()
	if _, err := m.Service.CreateUser(ctx, depot.NewUser{Username: "dmg", Email: "dmg@example.com", Password: "damage-password"}); err != nil {
		t.Fatal(err)
	}
	token, _, err := m.Service.CreateToken(ctx, "dmg", "ci", depot.Scopes{depot.ScopeWritePackage}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return damageFixture{m: m, token: token}
}

func (fx damageFixture) put(t *testing.T, path string, content []byte) {
	t.Helper()
	if code := svcUpload(t, fx.m, fx.token, "dmg/generic/"+path, content); code != http.StatusCreated {
		t.Fatalf("PUT %s: %d", path, code)
	}
}

// get downloads path; rng, when set, is a Range header. err is an error
// reading the body (a transfer cut short).
func (fx damageFixture) get(t *testing.T, method, path, rng string) (code int, body []byte, err error) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+fx.m.Addr()+"/api/packages/dmg/generic/"+path, nil)
	req.Header.Set("Authorization", "token "+fx.token)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func (fx damageFixture) want(t *testing.T, path, rng string, code int, body []byte) {
	t.Helper()
	got, b, err := fx.get(t, http.MethodGet, path, rng)
	if got != code || err != nil || (body != nil && !bytes.Equal(b, body)) {
		t.Errorf("GET %s (Range %q): %d, %d bytes %.40q, %v; want %d with %d bytes", path, rng, got, len(b), b, err, code, len(body))
	}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

var internalError = []byte("internal server error\n")

// downloadFaultCheck damages blobs of a running server in every way and
// checks that their downloads answer 500, never wrong bytes, ranges too;
// that verify's findings reach the server; and that uploading the content
// again repairs a blob.
func downloadFaultCheck(t *testing.T, m *Main, d damager) {
	fx := newDamageFixture(t, m)
	ctx := context.Background()
	big, gone, short, small := randomBytes(100<<10, 1), randomBytes(50<<10, 2), randomBytes(50<<10, 3), []byte("a small file")
	for p, c := range map[string][]byte{"p/1/big.bin": big, "p/1/gone.bin": gone, "p/1/short.bin": short, "p/1/small.txt": small} {
		fx.put(t, p, c)
	}
	fx.want(t, "p/1/big.bin", "", http.StatusOK, big)

	// (a) missing: 500, where it used to be 404.
	d.remove(t, digestOf(gone))
	fx.want(t, "p/1/gone.bin", "", http.StatusInternalServerError, internalError)
	if code, _, _ := fx.get(t, http.MethodHead, "p/1/gone.bin", ""); code != http.StatusInternalServerError {
		t.Errorf("HEAD of a missing blob: %d, want 500", code)
	}
	// (b) the wrong size: 500 before any byte, for a range too.
	d.overwrite(t, digestOf(short), short[:100])
	fx.want(t, "p/1/short.bin", "", http.StatusInternalServerError, internalError)
	fx.want(t, "p/1/short.bin", "bytes=0-9", http.StatusInternalServerError, internalError)
	// A small file is hashed when read: the same size, other bytes: 500.
	d.overwrite(t, digestOf(small), []byte("a smell file"))
	fx.want(t, "p/1/small.txt", "", http.StatusInternalServerError, internalError)

	// (c) the same size, other bytes: verify finds it, and the server,
	// once it has read the record (every 10 s; here at once), refuses it.
	rotten := bytes.Clone(big)
	rotten[len(rotten)-1] ^= 0xff
	d.overwrite(t, digestOf(big), rotten)
	if code, out, _ := runCLI(t, nil, verifyArgs(m)...); code != exitDamaged || !strings.Contains(out, "corrupt sha256:"+digestOf(big)) {
		t.Fatalf("verify: exit %d, %s", code, out)
	}
	if err := m.Service.RefreshDamage(ctx); err != nil {
		t.Fatal(err)
	}
	fx.want(t, "p/1/big.bin", "", http.StatusInternalServerError, internalError)
	fx.want(t, "p/1/big.bin", "bytes=0-9", http.StatusInternalServerError, internalError)
	// Each fault is found once; then the blob is known damaged (HEAD of
	// gone, the range of short, both downloads of big).
	if got, want := m.Service.BlobFaults(), (depot.BlobFaults{Missing: 1, Size: 1, Hash: 1, Known: 4}); got != want {
		t.Errorf("faults counted %+v, want %+v", got, want)
	}

	// Uploading good bytes again repairs the blob for every file of it.
	fx.put(t, "p/2/big-again.bin", big)
	fx.want(t, "p/1/big.bin", "", http.StatusOK, big)
	fx.want(t, "p/1/big.bin", "bytes=10-19", http.StatusPartialContent, big[10:20])
	fx.put(t, "p/2/gone-again.bin", gone)
	fx.want(t, "p/1/gone.bin", "", http.StatusOK, gone)
	damaged, err := m.Store.DamagedBlobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, dm := range damaged {
		if dm.SHA256 == digestOf(big) || dm.SHA256 == digestOf(gone) {
			t.Errorf("a repaired blob is still recorded damaged: %+v", dm)
		}
	}
	if len(damaged) != 2 {
		t.Errorf("recorded damage %+v, want short.bin's and small.txt's", damaged)
	}
}

func TestDownloadFaultsFilesystem(t *testing.T) { onDisk(t, nil, downloadFaultCheck) }

func TestDownloadFaultsPostgresS3(t *testing.T) { onS3(t, nil, downloadFaultCheck) }

// verifiedDownloadCheck runs with --verify-downloads: a whole download of a
// blob damaged in place (not yet known) is cut short before its last bytes,
// the damage is recorded, and the next download is refused.
func verifiedDownloadCheck(t *testing.T, m *Main, d damager) {
	fx := newDamageFixture(t, m)
	big := randomBytes(3<<20+17, 4)
	fx.put(t, "v/1/big.bin", big)
	fx.want(t, "v/1/big.bin", "", http.StatusOK, big)
	fx.want(t, "v/1/big.bin", "bytes=1000-", http.StatusPartialContent, big[1000:])
	rotten := bytes.Clone(big)
	rotten[len(rotten)/2] ^= 1
	d.overwrite(t, digestOf(big), rotten)
	code, body, err := fx.get(t, http.MethodGet, "v/1/big.bin", "")
	if code != http.StatusOK || err == nil || len(body) >= len(big) || !bytes.Equal(body, rotten[:len(body)]) {
		t.Fatalf("download of a damaged blob: %d, %d of %d bytes, %v; want 200 cut short with an error", code, len(body), len(big), err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		damaged, _ := m.Store.DamagedBlobs(context.Background())
		if len(damaged) == 1 && damaged[0].SHA256 == digestOf(big) && damaged[0].Problem == depot.BlobCorrupt {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the damage found by a download was not recorded: %+v", damaged)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fx.want(t, "v/1/big.bin", "", http.StatusInternalServerError, internalError)
	if f := m.Service.BlobFaults(); f.Hash != 1 || f.Known != 1 {
		t.Errorf("faults %+v, want 1 hash, 1 known", f)
	}
}

func verifyDownloads(c *Config) { c.VerifyDownloads = true }

func TestVerifiedDownloadsFilesystem(t *testing.T) {
	onDisk(t, verifyDownloads, verifiedDownloadCheck)
}

func TestVerifiedDownloadsPostgresS3(t *testing.T) {
	onS3(t, verifyDownloads, verifiedDownloadCheck)
}

// TestRedirectRefusesDamaged: with --storage-redirect a damaged blob gets
// no presigned URL either.
func TestRedirectRefusesDamaged(t *testing.T) {
	c := scaleOutConfig(t)
	c.StorageRedirect = true
	m := MustRunMain(t, c)
	fx := newDamageFixture(t, m)
	d := newS3Damager(t, c.StorageURL)
	gone, short := randomBytes(20<<10, 5), randomBytes(20<<10, 6)
	fx.put(t, "r/1/gone.bin", gone)
	fx.put(t, "r/1/short.bin", short)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status := func(path string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr()+"/api/packages/dmg/generic/"+path, nil)
		req.Header.Set("Authorization", "token "+fx.token)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := status("r/1/gone.bin"); code != http.StatusTemporaryRedirect {
		t.Fatalf("intact: %d, want 307", code)
	}
	d.remove(t, digestOf(gone))
	d.overwrite(t, digestOf(short), short[:10])
	for _, p := range []string{"r/1/gone.bin", "r/1/short.bin", "r/1/gone.bin"} {
		if code := status(p); code != http.StatusInternalServerError {
			t.Errorf("GET %s of a damaged blob with redirects: %d, want 500", p, code)
		}
	}
}
