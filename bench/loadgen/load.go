package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxRequests bounds every request loop, whatever its duration.
const maxRequests = 5_000_000

// putCmd PUTs small files with distinct names and contents from concurrent
// clients for a while and prints the files stored per second.
// -url-template has two %d verbs: the worker and its file counter.
func putCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("put", flag.ContinueOnError)
	tmpl := fs.String("url-template", "", "URL with two %d verbs: worker, file number")
	conc := fs.Int("concurrency", 16, "concurrent clients")
	dur := fs.Duration("duration", 5*time.Second, "how long to send")
	size := fs.Int("size", 1024, "file size in bytes")
	var hs headers
	fs.Var(&hs, "header", "request header (repeatable)")
	s3f := addS3Flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(fmt.Sprintf(*tmpl, 0, 0)); err != nil {
		return err
	}
	// With -endpoint, every URL is presigned for MinIO (the template's path
	// is /BUCKET/KEY).
	var sign *presigner
	if *s3f.endpoint != "" {
		c, err := s3f.client()
		if err != nil {
			return err
		}
		sign = &presigner{c: c, bucket: *s3f.bucket}
	}
	client := newClient(*conc)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, *dur+30*time.Second)
	defer cancel()
	deadline := time.Now().Add(*dur)
	var done, total atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := range *conc {
		wg.Go(func() {
			body := make([]byte, *size)
			for i := 0; time.Now().Before(deadline) && total.Add(1) <= maxRequests; i++ {
				// Distinct bytes per file, so every PUT stores a new blob.
				binary.BigEndian.PutUint64(body, uint64(w)<<32|uint64(i))
				target := fmt.Sprintf(*tmpl, w, i)
				var err error
				if sign != nil {
					target, err = sign.url(ctx, target)
				}
				var req *http.Request
				if err == nil {
					req, err = http.NewRequestWithContext(ctx, http.MethodPut, target, bytes.NewReader(body))
				}
				if err == nil {
					hs.apply(req)
					var resp *http.Response
					resp, err = client.Do(req)
					if err == nil {
						drain(resp)
						if resp.StatusCode/100 != 2 {
							err = fmt.Errorf("PUT %s: %s", req.URL, resp.Status)
						}
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fmt.Printf("%.1f\n", float64(done.Load())/time.Since(start).Seconds())
	return nil
}

// rateCmd sends GETs at a fixed rate (open loop: a slow answer does not delay
// the next request) and prints the p99 latency in milliseconds, measured
// from when each request was due, so queueing counts (no coordinated
// omission). It also prints p50 and the count on stderr.
func rateCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rate", flag.ContinueOnError)
	target := fs.String("url", "", "URL to GET")
	rate := fs.Int("rate", 500, "requests per second")
	dur := fs.Duration("duration", 5*time.Second, "how long to send")
	conns := fs.Int("conns", 64, "largest number of requests in flight")
	var hs headers
	fs.Var(&hs, "header", "request header (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(*target); err != nil {
		return err
	}
	if *rate <= 0 || *rate > 100_000 {
		return errors.New("-rate must be in 1..100000")
	}
	client := newClient(*conns)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, *dur+30*time.Second)
	defer cancel()

	// Warm the connections so the measure is steady-state latency.
	for range min(*conns, 8) {
		if err := getOnce(ctx, client, *target, hs); err != nil {
			return err
		}
	}
	n := min(int(dur.Seconds()*float64(*rate)), maxRequests)
	interval := time.Second / time.Duration(*rate)
	lat := make([]time.Duration, n)
	sem := make(chan struct{}, *conns)
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := getOnce(ctx, client, *target, hs); err != nil {
				failed.Add(1)
			}
			lat[i] = time.Since(due)
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d of %d requests failed", f, n)
	}
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[min(n-1, int(q*float64(n)))].Microseconds()) / 1000 }
	fmt.Fprintf(os.Stderr, "rate: %d requests at %d/s: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", n, *rate, ms(0.5), ms(0.99), ms(1))
	fmt.Printf("%.3f\n", ms(0.99))
	return nil
}

func getOnce(ctx context.Context, client *http.Client, target string, hs headers) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	hs.apply(req)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	drain(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", target, resp.Status)
	}
	return nil
}

// listCmd measures the package listing API: the median time of page 1 and of
// a page -deep packages in, and prints "first_ms deep_ms". When the endpoint
// does not answer 200 it exits with status 3: the case is not measured.
func listCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	base := fs.String("base", "", "server URL")
	owner := fs.String("owner", "", "owner whose packages are listed")
	deep := fs.Int("deep", 10000, "how many packages precede the deep page")
	limit := fs.Int("limit", 50, "page size")
	n := fs.Int("n", 30, "requests per page")
	var hs headers
	fs.Var(&hs, "header", "request header (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(*base); err != nil {
		return err
	}
	client := newClient(1)
	defer client.CloseIdleConnections()
	page := func(p int) string {
		return fmt.Sprintf("%s/api/v1/packages/%s?type=generic&page=%d&limit=%d", *base, *owner, p, *limit)
	}
	deepPage := *deep / *limit + 1
	for _, p := range []int{1, deepPage} {
		n, err := countItems(ctx, client, page(p), hs)
		if err != nil {
			fmt.Fprintf(os.Stderr, "list: %v\n", err)
			return exitCode(3)
		}
		if n != *limit {
			return fmt.Errorf("page %d has %d items, want %d: were the packages seeded?", p, n, *limit)
		}
	}
	median := func(p int) (float64, error) {
		var ds []time.Duration
		for range min(*n, 1000) {
			t := time.Now()
			if err := getOnce(ctx, client, page(p), hs); err != nil {
				return 0, err
			}
			ds = append(ds, time.Since(t))
		}
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Microseconds()) / 1000, nil
	}
	first, err := median(1)
	if err != nil {
		return err
	}
	deepMs, err := median(deepPage)
	if err != nil {
		return err
	}
	fmt.Printf("%.3f %.3f\n", first, deepMs)
	return nil
}

// downloadCmd runs -concurrency downloads of one URL at once, each reading
// the whole body or until -duration passes, and prints the aggregate MB/s.
func downloadCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("download", flag.ContinueOnError)
	target := fs.String("url", "", "URL to GET")
	conc := fs.Int("concurrency", 200, "simultaneous downloads")
	dur := fs.Duration("duration", 30*time.Second, "longest time a download may take")
	var hs headers
	fs.Var(&hs, "header", "request header (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(*target); err != nil {
		return err
	}
	client := newClient(*conc)
	client.Timeout = 0 // bounded by ctx
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, *dur)
	defer cancel()
	var total atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
			if err != nil {
				failed.Add(1)
				return
			}
			hs.apply(req)
			resp, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failed.Add(1)
				return
			}
			n, _ := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 64<<10))
			total.Add(n)
		})
	}
	wg.Wait()
	if f := failed.Load(); f == int64(*conc) {
		return fmt.Errorf("none of %d downloads started", f)
	}
	el := time.Since(start)
	fmt.Fprintf(os.Stderr, "download: %d streams (%d did not start in time), %.1f GB in %v\n", *conc, failed.Load(), float64(total.Load())/1e9, el.Round(time.Millisecond))
	fmt.Printf("%.1f\n", float64(total.Load())/1e6/el.Seconds())
	return nil
}

// countItems GETs a JSON array and returns its length.
func countItems(ctx context.Context, client *http.Client, target string, hs headers) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, err
	}
	hs.apply(req)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", target, resp.Status)
	}
	var items []json.RawMessage
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&items); err != nil {
		return 0, fmt.Errorf("GET %s: %w", target, err)
	}
	return len(items), nil
}
