// Command demoproduct is a stand-in for the vendor's product: a
// ProcessMaker-like installation whose database changes as it runs and
// whose users take and give back seats through the collector beside it.
// `make run` starts one beside each collector; the benchmarks create their
// databases with it.
//
//	demoproduct create --db FILE [--users N --cases N --logons N --span D --seed N]
//	demoproduct run --db FILE [--demo N] [--collector http://127.0.0.1:PORT --pools a,b]
//	demoproduct sources --db FILE [--interval D]
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ error }

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "demoproduct:", err)
	if errors.As(err, new(usageError)) {
		return 2
	}
	return 1
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("a command is needed: create, run or sources")}
	}
	switch args[0] {
	case "create":
		return createCmd(ctx, args[1:], stdout, stderr)
	case "run":
		return runCmd(ctx, args[1:], stdout, stderr)
	case "sources":
		return sourcesCmd(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, "usage: demoproduct create|run|sources --db FILE [flags]; demoproduct COMMAND -h lists the flags")
		return nil
	default:
		return usageError{fmt.Errorf("unknown command %q: create, run or sources", args[0])}
	}
}
