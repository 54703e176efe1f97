//go:build linux

// Command pgserve starts one throwaway PostgreSQL for a whole test run
// (make test), so that the store's tests, the collector's SQL sources and
// the end-to-end hub tests share it: it prints
// "LICMESH_TEST_PG_DSN=<dsn>" on one line, then serves until its standard
// input closes or it is signalled, and stops the server. Without the
// PostgreSQL binaries it prints why on standard error and exits 3.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/licmesh/licmesh/mesh/dbtest"
)

func main() {
	dsn, stop, missing, err := dbtest.StartPostgres()
	switch {
	case missing != "":
		fmt.Fprintln(os.Stderr, "pgserve: SKIPPED:", missing)
		os.Exit(3)
	case err != nil:
		fmt.Fprintln(os.Stderr, "pgserve:", err)
		os.Exit(1)
	}
	fmt.Printf("LICMESH_TEST_PG_DSN=%s\n", dsn)
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-done:
	case <-sig:
	}
	stop()
}
