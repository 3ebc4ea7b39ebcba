// Command depot is a self-hosted generic package registry: one binary that
// serves the Gitea/Forgejo generic packages API and administers accounts.
//
//	depot serve                 run the server
//	depot admin user create ... manage users, organizations and tokens
//	depot version               print the version
//	depot login / push / pull / ls / rm   the client (README, "Client")
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v3"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := NewApp(os.Stdout, os.Stderr).Run(ctx, os.Args)
	stop()
	os.Exit(exitCode(os.Stderr, err))
}

// exitCode prints err, if any, as one line and returns the process's exit
// code: the code an error carries (2 for a bad setting), else 1.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "depot: %v\n", err)
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// usageError marks an error in the command line or configuration: exit code 2.
func usageError(format string, args ...any) error {
	return cli.Exit(fmt.Sprintf(format, args...), 2)
}

// NewApp returns the command tree writing to stdout and stderr.
func NewApp(stdout, stderr io.Writer) *cli.Command {
	onUsage := func(ctx context.Context, cmd *cli.Command, err error, isSub bool) error {
		return usageError("%v", err)
	}
	return &cli.Command{
		Name:           "depot",
		Usage:          "a self-hosted generic package registry",
		Version:        version,
		Writer:         stdout,
		ErrWriter:      stderr,
		OnUsageError:   onUsage,
		ExitErrHandler: func(context.Context, *cli.Command, error) {}, // main reports errors
		Commands: append([]*cli.Command{
			serveCommand(onUsage),
			adminCommand(stdout, stderr, onUsage),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(ctx context.Context, cmd *cli.Command) error {
					_, err := fmt.Fprintln(stdout, "depot", version)
					return err
				},
			},
		}, clientCommands(os.Stdin, stdout, stderr, onUsage)...),
	}
}
