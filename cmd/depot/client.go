package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/depot-registry/depot/internal/client"
	"github.com/depot-registry/depot/internal/client/display"
	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v3"
	"golang.org/x/term"
)

// The client's exit codes (README, "Client"): scripts can rely on them.
const (
	exitOK       = 0
	exitFailure  = 1 // anything else: connection failures after the retries, 5xx, local I/O
	exitUsage    = 2 // bad command line or reference, or a 400/422 answer
	exitAuth     = 3 // 401/403: no, bad or insufficient credentials
	exitNotFound = 4 // 404, or no version matches the range
	exitConflict = 5 // 409: the file exists with other content
	exitVerify   = 6 // a download's (or upload's) sha256 is not the server's
)

// clientExitCode maps a client error to its exit code.
func clientExitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, client.ErrVerify):
		return exitVerify
	case errors.Is(err, client.ErrAuth):
		return exitAuth
	case errors.Is(err, client.ErrNotFound):
		return exitNotFound
	case errors.Is(err, client.ErrConflict):
		return exitConflict
	case errors.Is(err, client.ErrInvalid):
		return exitUsage
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return exitFailure
}

// clientExit turns a client error into one carrying its exit code.
func clientExit(err error) error {
	if err == nil {
		return nil
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return err
	}
	return cli.Exit(err.Error(), clientExitCode(err))
}

// clientFlags are every client command's: where the server is, how to
// show progress.
func clientFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "url", Usage: "server `URL` (default: the one depot login saved)", Sources: cli.EnvVars("DEPOT_URL")},
		&cli.StringFlag{Name: "token", Usage: "access `TOKEN` (default: the one depot login saved)", Sources: cli.EnvVars("DEPOT_TOKEN")},
		&cli.BoolFlag{Name: "json", Usage: "print one JSON document instead of progress"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors"},
	}, extra...)
}

// transferFlags are push's and pull's.
func transferFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "parallel", Aliases: []string{"p"}, Value: 4, Usage: "files transferred at once"},
		&cli.IntFlag{Name: "retries", Value: 5, Usage: "tries of each request after connection errors and 5xx answers (with backoff)"},
	}
}

// clientCommands are login, push, pull, ls and rm.
func clientCommands(stdin io.Reader, stdout, stderr io.Writer, onUsage cli.OnUsageErrorFunc) []*cli.Command {
	// open builds the client from the flags, the environment and the
	// saved login, in that order of precedence.
	open := func(cmd *cli.Command) (*client.Client, error) {
		path, err := client.ConfigPath()
		if err != nil {
			return nil, err
		}
		saved, err := client.LoadConfig(path)
		if err != nil {
			return nil, err
		}
		u, tok := cmd.String("url"), cmd.String("token")
		if u == "" {
			u = saved.URL
			if tok == "" {
				tok = saved.Token
			}
		} else if tok == "" && strings.TrimRight(u, "/") == strings.TrimRight(saved.URL, "/") {
			tok = saved.Token
		}
		if u == "" {
			return nil, usageError("no server: run `depot login URL`, or set --url or DEPOT_URL")
		}
		// Large files go resumably where the server offers it (the IETF
		// resumable upload draft), by plain PUT elsewhere.
		opts := &client.Options{UserAgent: "depot/" + version, Uploader: client.ResumableUploader{}}
		if cmd.IsSet("retries") {
			if cmd.Int("retries") < 1 {
				return nil, usageError("--retries: want at least 1")
			}
			opts.Retry.Attempts = int(cmd.Int("retries"))
		}
		c, err := client.New(u, tok, opts)
		if err != nil {
			return nil, clientExit(err)
		}
		return c, nil
	}
	mode := func(cmd *cli.Command) display.Mode {
		switch {
		case cmd.Bool("json"):
			return display.JSON
		case cmd.Bool("quiet"):
			return display.Quiet
		}
		return display.Auto
	}
	ref := func(cmd *cli.Command, what string) (client.Ref, error) {
		if cmd.NArg() == 0 {
			return client.Ref{}, usageError("%s: want %s", cmd.Name, what)
		}
		r, err := client.ParseRef(cmd.Args().First())
		if err != nil {
			return r, clientExit(err)
		}
		return r, nil
	}
	// finish ends a push or pull: the summary, and the exit code of the
	// first failed file.
	finish := func(d display.Display, s display.Summary, err error) error {
		if err == nil {
			err = client.FirstError(s.Files)
		}
		s.ExitCode = clientExitCode(err)
		if err != nil {
			s.Error = err.Error()
		}
		if ferr := d.Finish(s); ferr != nil && err == nil {
			return ferr
		}
		if err != nil && len(s.Files) > 0 {
			failed := 0
			for _, f := range s.Files {
				if f.Status == client.Failed {
					failed++
					fmt.Fprintf(stderr, "depot: %s: %s\n", f.Name, f.Error)
				}
			}
			return cli.Exit(fmt.Sprintf("%d of %d files failed", failed, len(s.Files)), s.ExitCode)
		}
		return clientExit(err)
	}

	login := &cli.Command{
		Name:      "login",
		Usage:     "save a server and a token for the client commands (checked first)",
		ArgsUsage: "URL",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "token", Usage: "the token (else read from standard input)", Sources: cli.EnvVars("DEPOT_TOKEN")},
			&cli.BoolFlag{Name: "token-stdin", Usage: "read the token from standard input"},
		},
		OnUsageError: onUsage,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.NArg() != 1 {
				return usageError("login: want the server URL")
			}
			tok := cmd.String("token")
			if tok == "" || cmd.Bool("token-stdin") {
				if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !cmd.Bool("token-stdin") {
					fmt.Fprint(stderr, "Token: ")
					b, err := term.ReadPassword(int(f.Fd()))
					fmt.Fprintln(stderr)
					if err != nil {
						return err
					}
					tok = string(b)
				} else {
					line, err := bufio.NewReader(stdin).ReadString('\n')
					if err != nil && line == "" {
						return usageError("login: no token on standard input")
					}
					tok = line
				}
			}
			tok = strings.TrimSpace(tok)
			if tok == "" {
				return usageError("login: empty token")
			}
			c, err := client.New(cmd.Args().First(), tok, &client.Options{UserAgent: "depot/" + version, Retry: client.RetryPolicy{Attempts: 2}})
			if err != nil {
				return clientExit(err)
			}
			defer c.Close()
			user, err := c.Whoami(ctx)
			if err != nil {
				return clientExit(fmt.Errorf("checking the token: %w", err))
			}
			path, err := client.ConfigPath()
			if err != nil {
				return err
			}
			if err := client.SaveConfig(path, client.Config{URL: c.BaseURL(), Token: tok}); err != nil {
				return err
			}
			who := "a valid token"
			if user != "" {
				who = "user " + user
			}
			_, err = fmt.Fprintf(stdout, "logged in to %s as %s; saved in %s\n", c.BaseURL(), who, path)
			return err
		},
	}

	push := &cli.Command{
		Name:      "push",
		Usage:     "upload files to a package version",
		ArgsUsage: "OWNER/NAME@VERSION FILE...",
		Flags: clientFlags(append(transferFlags(),
			&cli.BoolFlag{Name: "verify", Usage: "hash each file first: declare its sha256 (the server refuses damaged bytes) and, where the server offers it, deploy by checksum content it already holds"})...),
		OnUsageError: onUsage,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			r, err := ref(cmd, "OWNER/NAME@VERSION FILE...")
			if err != nil {
				return err
			}
			if r.Package == "" || r.Version == "" || r.File != "" {
				return usageError("push: want OWNER/NAME@VERSION, got %q", cmd.Args().First())
			}
			files := cmd.Args().Slice()[1:]
			if len(files) == 0 {
				return usageError("push: no files")
			}
			c, err := open(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			d := display.New(ctx, mode(cmd), stdout)
			rs, err := c.Push(ctx, r, files, client.TransferOptions{Parallel: int(cmd.Int("parallel")), Verify: cmd.Bool("verify")}, d)
			return finish(d, display.Summary{Command: "push", Server: c.BaseURL(), Owner: r.Owner, Package: r.Package, Version: r.Version, Files: rs}, err)
		},
	}

	pull := &cli.Command{
		Name:      "pull",
		Usage:     "download a version's files (all, or those named), by version, latest or semver range",
		ArgsUsage: "OWNER/NAME[@VERSION|@latest|@RANGE] [FILE...]",
		Flags: clientFlags(append(transferFlags(),
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: ".", Usage: "directory to write the files into"})...),
		OnUsageError: onUsage,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			r, err := ref(cmd, "OWNER/NAME[@VERSION] [FILE...]")
			if err != nil {
				return err
			}
			if r.Package == "" || r.File != "" {
				return usageError("pull: want OWNER/NAME[@VERSION-OR-RANGE], got %q", cmd.Args().First())
			}
			c, err := open(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			d := display.New(ctx, mode(cmd), stdout)
			v, rs, err := c.Pull(ctx, r, cmd.Args().Slice()[1:], cmd.String("output"), client.TransferOptions{Parallel: int(cmd.Int("parallel"))}, d)
			return finish(d, display.Summary{Command: "pull", Server: c.BaseURL(), Owner: r.Owner, Package: r.Package, Version: v, Requested: r.Version, Files: rs}, err)
		},
	}

	ls := &cli.Command{
		Name:         "ls",
		Usage:        "list an owner's packages, a package's versions, or a version's files",
		ArgsUsage:    "OWNER[/NAME[@VERSION]]",
		Flags:        clientFlags(),
		OnUsageError: onUsage,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			r, err := ref(cmd, "OWNER[/NAME[@VERSION]]")
			if err != nil {
				return err
			}
			if r.File != "" {
				return usageError("ls: want OWNER[/NAME[@VERSION]], got %q", cmd.Args().First())
			}
			c, err := open(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			d := display.New(ctx, mode(cmd), stdout)
			table := func(fn func(tw *tabwriter.Writer)) func(io.Writer) error {
				return func(w io.Writer) error {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fn(tw)
					return tw.Flush()
				}
			}
			switch {
			case r.Version != "":
				fs, err := c.ListFiles(ctx, r.Owner, r.Package, r.Version)
				if err != nil {
					return clientExit(err)
				}
				return d.Listing(fs, table(func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "FILE\tSIZE\tSHA256")
					for _, f := range fs {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Name, humanize.IBytes(uint64(max(f.Size, 0))), f.SHA256)
					}
				}))
			case r.Package != "":
				vs, err := c.ListVersions(ctx, r.Owner, r.Package)
				if err != nil {
					return clientExit(err)
				}
				return d.Listing(vs, table(func(tw *tabwriter.Writer) {
					fmt.Fprintln(tw, "VERSION\tCREATED")
					for _, v := range vs {
						fmt.Fprintf(tw, "%s\t%s\n", v.Version, v.CreatedAt.Format(time.RFC3339))
					}
				}))
			}
			vs, err := c.ListOwner(ctx, r.Owner)
			if err != nil {
				return clientExit(err)
			}
			return d.Listing(vs, table(func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "PACKAGE\tVERSION\tCREATED")
				for _, v := range vs {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Package, v.Version, v.CreatedAt.Format(time.RFC3339))
				}
			}))
		},
	}

	rm := &cli.Command{
		Name:         "rm",
		Usage:        "delete a version, or one file of it",
		ArgsUsage:    "OWNER/NAME@VERSION[/FILE]",
		Flags:        clientFlags(),
		OnUsageError: onUsage,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			r, err := ref(cmd, "OWNER/NAME@VERSION[/FILE]")
			if err != nil {
				return err
			}
			if r.Package == "" || r.Version == "" || cmd.NArg() != 1 {
				return usageError("rm: want one OWNER/NAME@VERSION[/FILE], got %q", strings.Join(cmd.Args().Slice(), " "))
			}
			c, err := open(cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.Delete(ctx, r); err != nil {
				return clientExit(err)
			}
			d := display.New(ctx, mode(cmd), stdout)
			return d.Listing(map[string]string{"deleted": r.String()}, func(w io.Writer) error {
				if mode(cmd) == display.Quiet {
					return nil
				}
				_, err := fmt.Fprintf(w, "deleted %s\n", r)
				return err
			})
		},
	}
	return []*cli.Command{login, push, pull, ls, rm}
}
