package main

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metric returns the value of the sample named by series (name and
// labels, as /metrics writes them), -1 if absent.
func metric(t *testing.T, m *Main, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	if g := re.FindSubmatch(b); g != nil {
		v, _ := strconv.ParseFloat(string(g[1]), 64)
		return v
	}
	return -1
}

// serveVerifyCheck runs a server with the continuous verifier, damages a
// blob, and waits until the verifier has found it: the metrics count it,
// the server refuses its download at once, and the damage is recorded.
func serveVerifyCheck(t *testing.T, m *Main, d damager) {
	fx := fillRegistry(t, m)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("waited 20 s for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("a pass", func() bool { return metric(t, m, "depot_verify_blobs_total{result=\"intact\"}") >= 3 })
	if v := metric(t, m, "depot_verify_last_pass_completed_timestamp_seconds"); v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last pass completed at %v", v)
	}
	if v := metric(t, m, "depot_verify_bytes_total"); v <= 0 {
		t.Errorf("depot_verify_bytes_total = %v", v)
	}
	fw := fx.files["migorg/generic/fw/v3/fw.bin"]
	rotten := bytes.Clone(fw)
	rotten[0] ^= 1
	d.overwrite(t, digestOf(fw), rotten)
	waitFor("the damaged gauge", func() bool { return metric(t, m, "depot_verify_damaged_blobs") == 1 })
	if v := metric(t, m, "depot_verify_blobs_total{result=\"corrupt\"}"); v < 1 {
		t.Errorf("corrupt blobs counted: %v", v)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr()+"/api/packages/migorg/generic/fw/v3/fw.bin", nil)
	req.Header.Set("Authorization", "token "+fx.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("download of the damaged file: %d, want 500", resp.StatusCode)
	}
	if v := metric(t, m, "depot_download_blob_faults_total{reason=\"known\"}"); v != 1 {
		t.Errorf("known faults counted: %v, want 1", v)
	}
	// Repaired behind depot's back, a later pass clears it.
	d.overwrite(t, digestOf(fw), fw)
	waitFor("the gauge to clear", func() bool { return metric(t, m, "depot_verify_damaged_blobs") == 0 })
	if damaged, _ := m.Store.DamagedBlobs(t.Context()); len(damaged) != 0 {
		t.Errorf("still recorded: %+v", damaged)
	}
}

func verifyContinuously(c *Config) {
	c.VerifyRate, c.VerifyPause, c.Metrics = 50<<20, 50*time.Millisecond, true
}

func TestServeVerifiesFilesystem(t *testing.T) { onDisk(t, verifyContinuously, serveVerifyCheck) }

func TestServeVerifiesPostgresS3(t *testing.T) { onS3(t, verifyContinuously, serveVerifyCheck) }

func TestServeVerifyRateSetting(t *testing.T) {
	code, _, stderr := runCLI(t, nil, "serve", "--data-dir", t.TempDir(), "--verify-rate", "quickly")
	if code != 2 || !strings.Contains(stderr, "--verify-rate") {
		t.Errorf("serve --verify-rate quickly: exit %d, %q; want 2 naming --verify-rate", code, stderr)
	}
	code, _, stderr = runCLI(t, map[string]string{"DEPOT_VERIFY_RATE": "-1"}, "serve", "--data-dir", t.TempDir())
	if code != 2 || !strings.Contains(stderr, "DEPOT_VERIFY_RATE") {
		t.Errorf("DEPOT_VERIFY_RATE=-1: exit %d, %q; want 2 naming it", code, stderr)
	}
}

// TestDamageReachesReplicas: what `admin verify` records on one machine,
// a second replica on the same PostgreSQL and bucket refuses to serve
// within its refresh interval, with no call from the test.
func TestDamageReachesReplicas(t *testing.T) {
	c := scaleOutConfig(t)
	c.DamageRefresh = 100 * time.Millisecond
	a := MustRunMain(t, c)
	fx := fillRegistry(t, a)
	b := MustRunMain(t, c)
	// Over 16 KiB, damaged in place: only the record tells a server.
	big := randomBytes(100<<10, 7)
	svcUpload(t, a, fx.token, "mig/generic/big/1/big.bin", big)
	rotten := bytes.Clone(big)
	rotten[0] ^= 1
	newS3Damager(t, c.StorageURL).overwrite(t, digestOf(big), rotten)
	if code, out, _ := runCLI(t, nil, verifyArgs(a)...); code != exitDamaged {
		t.Fatalf("verify: exit %d, %s", code, out)
	}
	get := func(m *Main) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+m.Addr()+"/api/packages/mig/generic/big/1/big.bin", nil)
		req.Header.Set("Authorization", "token "+fx.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, m := range []*Main{a, b} {
		for get(m) != http.StatusInternalServerError {
			if time.Now().After(deadline) {
				t.Fatalf("replica %s still serves the damaged file", m.Addr())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
