package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is meshctl without the process around it: it parses args, runs the
// command and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runEnv(ctx, args, os.Getenv, stdout, stderr)
}

// runEnv is run with the environment injected, so tests can set LICMESH_*
// without touching the process environment.
func runEnv(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	a := newApp(stdout, stderr, getenv)
	defer a.close()

	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetIn(strings.NewReader(""))

	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := a.exitCode(err)
	fmt.Fprintln(stderr, redactSecrets(message(err), append([]string{a.token}, a.secrets...)...))
	if code == exitUsage && cmd != nil {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// exitCode tells a usage error (bad flags, arguments or settings, including
// everything cobra rejects before a command runs) from a failed call.
func (a *app) exitCode(err error) int {
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case a.ran:
		return exitFailure
	default:
		return exitUsage
	}
}

// message is err's text with the command's prefix exactly once.
func message(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "meshctl: ") {
		return msg
	}
	return "meshctl: " + msg
}
