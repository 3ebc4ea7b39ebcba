package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// idleCmd waits until a process uses less than 5% of a core over a quarter
// second (or -max passes): depot finishes work after answering (the
// digests it computes after a large upload), and the next measure must not
// pay for it.
func idleCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	pid := fs.Int("pid", 0, "process to watch")
	maxWait := fs.Duration("max", 20*time.Second, "longest wait")
	if err := fs.Parse(args); err != nil {
		return err
	}
	const window = 250 * time.Millisecond
	deadline := time.Now().Add(*maxWait)
	prev, err := cpuTicks(*pid)
	if err != nil {
		return err
	}
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(window):
		}
		cur, err := cpuTicks(*pid)
		if err != nil {
			return err
		}
		// Clock ticks are 1/100 s: under 5% of 0.25 s is at most 1 tick.
		if cur-prev <= 1 {
			return nil
		}
		prev = cur
	}
	fmt.Fprintf(os.Stderr, "idle: pid %d still busy after %v\n", *pid, *maxWait)
	return nil
}

// cpuTicks returns utime+stime of a process from /proc/<pid>/stat.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	return u + st, nil
}
