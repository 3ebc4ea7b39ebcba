// Command loadgen is bench/run.sh's helper for what curl and wrk cannot do:
// concurrent PUTs of distinct files, fixed-rate latency, the listing-depth
// case, seeding many packages, many concurrent downloads, waiting for a
// process to go idle, and turning raw samples into the results table.
//
// Every loop is bounded in count and time, and every target must be a
// loopback address.
//
//	loadgen freeport
//	loadgen put      -url-template URL -concurrency 16 -duration 5s [-size 1024] [-header H]
//	loadgen rate     -url URL -rate 500 -duration 5s [-header H]
//	loadgen list     -base URL -owner O [-deep 10000] [-limit 50] [-n 30] [-header H]
//	loadgen seed     -db PATH -owner O -n 100000 -blob SHA256
//	loadgen download -url URL -concurrency 200 -duration 30s [-header H]
//	loadgen idle     -pid PID [-max 20s]
//	loadgen report   -in raw.tsv -out results.json [-stack embedded|s3]
//	loadgen bucket   -endpoint URL -bucket B              (MINIO_ROOT_USER, MINIO_ROOT_PASSWORD)
//	loadgen presign  -endpoint URL -bucket B -key K [-method GET|PUT] [-expiry 1h]
//	loadgen pgschema -url POSTGRES_URL -name SCHEMA [-drop]
//	loadgen sha256cost
//	loadgen waitup   -url URL -since UNIXNANO [-max 60s]
//	loadgen lat      -url URL [-n 20] [-header H]
//	loadgen runrss   -- COMMAND [ARGS...]
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen freeport|put|rate|list|seed|download|idle|report|bucket|presign|pgschema|sha256cost|waitup|lat|runrss [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmds := map[string]func(context.Context, []string) error{
		"freeport":   freePort,
		"put":        putCmd,
		"rate":       rateCmd,
		"list":       listCmd,
		"seed":       seedCmd,
		"download":   downloadCmd,
		"idle":       idleCmd,
		"report":     reportCmd,
		"bucket":     bucketCmd,
		"presign":    presignCmd,
		"pgschema":   pgschemaCmd,
		"sha256cost": sha256costCmd,
		"waitup":     waitupCmd,
		"lat":        latCmd,
		"runrss":     runrssCmd,
	}
	run, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "loadgen: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := run(ctx, os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen %s: %v\n", os.Args[1], err)
		var ec exitCode
		if errors.As(err, &ec) {
			os.Exit(int(ec))
		}
		os.Exit(1)
	}
}

// exitCode is an error that asks for a particular exit status.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// headers is a repeatable -header "Name: value" flag.
type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func (h headers) apply(r *http.Request) {
	for _, kv := range h {
		k, v, _ := strings.Cut(kv, ":")
		r.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
}

// checkLoopback refuses any target that is not a loopback address.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return fmt.Errorf("%s: only loopback targets are allowed", raw)
	}
	return nil
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Minute,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			DisableCompression:  true,
			IdleConnTimeout:     time.Minute,
		},
	}
}

func freePort(ctx context.Context, args []string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

// drain reads and discards a response body and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
