// Package display renders what package client reports: progress bars on a
// terminal, one line per file otherwise, nothing with --quiet, one JSON
// document with --json. The command picks one Display once (New) and hands
// it to the transfers as their client.Events, as oras's CLI does with its
// display package.
package display

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/depot-registry/depot/internal/client"
	"github.com/dustin/go-humanize"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// Mode is how output looks.
type Mode int

// The modes.
const (
	Auto  Mode = iota // TTY when stdout is a terminal, else Plain
	TTY               // progress bars
	Plain             // one line per file when it ends
	Quiet             // nothing but errors (on stderr, by the caller)
	JSON              // one JSON document at the end
)

// Summary is a push's or pull's outcome, the --json document.
type Summary struct {
	Command string `json:"command"`
	Server  string `json:"server"`
	Owner   string `json:"owner"`
	Package string `json:"package"`
	// Version is the version pushed, or the one a pull resolved to.
	Version string `json:"version,omitempty"`
	// Requested is the version or range a pull asked for.
	Requested string              `json:"requested,omitempty"`
	Files     []client.FileResult `json:"files"`
	Error     string              `json:"error,omitempty"`
	ExitCode  int                 `json:"exit_code"`
}

// Display is a client.Events with an ending.
type Display interface {
	client.Events
	// Finish ends the output with the summary (it prints the document in
	// JSON mode) after the last transfer is done.
	Finish(s Summary) error
	// Listing prints a listing: v as JSON, or table's text.
	Listing(v any, table func(w io.Writer) error) error
}

// New returns the display for mode writing to out; Auto picks TTY when out
// is a terminal.
func New(ctx context.Context, mode Mode, out io.Writer) Display {
	if mode == Auto {
		mode = Plain
		if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = TTY
		}
	}
	switch mode {
	case TTY:
		return newBars(ctx, out)
	case JSON:
		return &jsonDisplay{out: out}
	case Quiet:
		return &lines{out: out, quiet: true}
	}
	return &lines{out: out}
}

// lines prints one line per finished file (Plain) or nothing (Quiet).
type lines struct {
	out   io.Writer
	quiet bool
	mu    sync.Mutex
}

func (l *lines) Start(name string, size int64) client.Progress {
	return &lineProgress{l: l}
}

type lineProgress struct {
	l *lines
}

func (*lineProgress) SetCurrent(int64) {}
func (*lineProgress) Add(int)          {}
func (*lineProgress) Retry(int, error) {}
func (p *lineProgress) Done(r client.FileResult) {
	if p.l.quiet || r.Status == client.Failed {
		return
	}
	p.l.mu.Lock()
	defer p.l.mu.Unlock()
	fmt.Fprintln(p.l.out, line(r))
}

// line is a finished file in words.
func line(r client.FileResult) string {
	s := fmt.Sprintf("%-10s %s (%s)", r.Status, r.Path, humanize.IBytes(uint64(max(r.Size, 0))))
	if r.SHA256 != "" {
		s += " sha256:" + r.SHA256
	}
	if r.ResumedAt > 0 {
		s += fmt.Sprintf(", resumed at %s", humanize.IBytes(uint64(r.ResumedAt)))
	}
	return s
}

func (l *lines) Finish(Summary) error { return nil }

func (l *lines) Listing(_ any, table func(io.Writer) error) error { return table(l.out) }

// jsonDisplay prints only the summary, as one JSON document.
type jsonDisplay struct {
	out io.Writer
}

func (j *jsonDisplay) Start(string, int64) client.Progress { return client.NoEvents{}.Start("", 0) }

func (j *jsonDisplay) Finish(s Summary) error {
	if s.Files == nil {
		s.Files = []client.FileResult{}
	}
	return writeJSON(j.out, s)
}

func (j *jsonDisplay) Listing(v any, _ func(io.Writer) error) error { return writeJSON(j.out, v) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// bars draws a progress bar per file with mpb, which renders several bars
// at once (parallel transfers) and keeps finished ones on screen.
// The mpb container starts with the first bar, so a command that transfers
// nothing (ls, rm, a failed resolve) draws nothing.
type bars struct {
	ctx  context.Context
	out  io.Writer
	once sync.Once
	p    *mpb.Progress
}

func newBars(ctx context.Context, out io.Writer) *bars {
	return &bars{ctx: ctx, out: out}
}

func (b *bars) progress() *mpb.Progress {
	b.once.Do(func() {
		b.p = mpb.NewWithContext(b.ctx, mpb.WithOutput(b.out), mpb.WithWidth(40), mpb.WithRefreshRate(120*time.Millisecond))
	})
	return b.p
}

// wait ends the bars, if any were drawn.
func (b *bars) wait() {
	b.once.Do(func() {})
	if b.p != nil {
		b.p.Wait()
	}
}

func (b *bars) Start(name string, size int64) client.Progress {
	bp := &barProgress{}
	bp.status.Store("")
	// Created without a total, so reaching it does not complete the bar:
	// Done does, after the status is set (a push still checks the sha256
	// after the last byte).
	bp.bar = b.progress().AddBar(0,
		mpb.PrependDecorators(
			decor.Name(name, decor.WCSyncSpaceR),
			decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace),
		),
		mpb.AppendDecorators(
			decor.NewPercentage("%d", decor.WC{W: 5}),
			decor.OnComplete(decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace), ""),
			decor.Any(func(decor.Statistics) string { return bp.status.Load().(string) }, decor.WCSyncSpace),
		),
	)
	if size > 0 {
		bp.bar.SetTotal(size, false)
	}
	return bp
}

type barProgress struct {
	bar    *mpb.Bar
	status atomic.Value
}

func (p *barProgress) SetCurrent(n int64) { p.bar.SetCurrent(n) }
func (p *barProgress) Add(n int)          { p.bar.IncrBy(n) }
func (p *barProgress) Retry(attempt int, err error) {
	p.status.Store(fmt.Sprintf("retry %d: %v", attempt, err))
}
func (p *barProgress) Done(r client.FileResult) {
	if r.Status == client.Failed {
		p.status.Store("failed: " + r.Error)
		p.bar.Abort(false)
		return
	}
	p.status.Store(string(r.Status))
	p.bar.SetTotal(-1, true)
}

func (b *bars) Finish(Summary) error {
	b.wait()
	return nil
}

func (b *bars) Listing(_ any, table func(io.Writer) error) error {
	b.wait()
	return table(b.out)
}
