package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// The helpers of `bench/run.sh --scale`.

// waitupCmd polls -url every 5 ms until it answers 200 and prints the
// milliseconds since -since (Unix nanoseconds, when the server was started).
func waitupCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("waitup", flag.ContinueOnError)
	target := fs.String("url", "", "URL that answers 200 once the server is up")
	since := fs.Int64("since", 0, "start time, Unix nanoseconds")
	maxWait := fs.Duration("max", 60*time.Second, "longest wait")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(*target); err != nil {
		return err
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(*maxWait)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(*target); err == nil {
			drain(resp)
			if resp.StatusCode == http.StatusOK {
				fmt.Printf("%.1f\n", float64(time.Now().UnixNano()-*since)/1e6)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer 200 within %v", *target, *maxWait)
}

// latCmd GETs -url -n times, one after the other, and prints the median
// milliseconds (the first request, which warms caches, is not counted).
func latCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("lat", flag.ContinueOnError)
	target := fs.String("url", "", "URL to GET")
	n := fs.Int("n", 20, "requests")
	var hs headers
	fs.Var(&hs, "header", "request header (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(*target); err != nil {
		return err
	}
	if *n < 1 || *n > 10000 {
		return errors.New("-n must be in 1..10000")
	}
	client := newClient(1)
	var ms []float64
	for i := range *n + 1 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
		if err != nil {
			return err
		}
		hs.apply(req)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		drain(resp)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", *target, resp.Status)
		}
		if i > 0 {
			ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
		}
	}
	slices.Sort(ms)
	fmt.Printf("%.2f\n", ms[len(ms)/2])
	return nil
}

// runrssCmd runs a command (the arguments after --) and prints its wall
// seconds and its peak RSS in MiB (getrusage of the child), then its
// output on stderr.
func runrssCmd(ctx context.Context, args []string) error {
	if len(args) < 2 || args[0] != "--" {
		return errors.New("usage: loadgen runrss -- COMMAND [ARGS...]")
	}
	cmd := exec.CommandContext(ctx, args[1], args[2:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return err
	}
	wall := time.Since(t0)
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return errors.New("no rusage")
	}
	fmt.Println(strconv.FormatFloat(wall.Seconds(), 'f', 2, 64), strconv.FormatFloat(float64(ru.Maxrss)/1024, 'f', 1, 64))
	return nil
}
