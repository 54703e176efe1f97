// Command meshd is a licmesh master: one member of the customer site's Raft
// cluster that holds license state and grants collectors their seat leases.
// It is a master and nothing else: `meshctl dev` (what `make run` runs)
// starts masters, collectors and a demo product as separate processes.
//
//	meshd run --config /etc/meshd/meshd.yaml
//	meshd keygen
//	meshd version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/licmesh/licmesh/node/version"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "meshd",
		Short:         "licmesh master: license state, seat leases and usage for a site",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(runCmd(stdout, stderr), keygenCmd(stdout), &cobra.Command{
		Use:   "version",
		Short: "print the version",
		Args:  cobra.NoArgs,
		Run:   func(*cobra.Command, []string) { fmt.Fprintln(stdout, version.Version) },
	})
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "meshd:", err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

type usageError struct{ error }

// signals returns a context that ends on SIGINT or SIGTERM, and reports
// whether it was SIGTERM (which may mean "leave the cluster").
func signals(parent context.Context) (context.Context, func() bool, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	var term bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case sig := <-ch:
			term = sig == syscall.SIGTERM
			cancel()
		case <-ctx.Done():
		}
	}()
	stop := func() { signal.Stop(ch); cancel(); <-done }
	return ctx, func() bool { <-done; return term }, stop
}
