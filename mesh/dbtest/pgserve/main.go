//go:build linux

// Command pgserve starts one throwaway PostgreSQL for a whole test run
// (make test), so that the store's tests, the collector's SQL sources and
// the end-to-end hub tests share it: it prints
// "LICMESH_TEST_PG_DSN=<dsn>" on one line, then serves until its standard
// input closes or it is signalled, and stops the server. Without the
// PostgreSQL binaries it prints why on standard error and exits 3.
//
// With -mariadb it does the same for MariaDB and prints
// "LICMESH_TEST_MYSQL_DSN=<dsn>": the benchmark U2 meters a ProcessMaker
// database on it.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/licmesh/licmesh/mesh/dbtest"
)

func main() {
	maria := flag.Bool("mariadb", false, "start MariaDB instead of PostgreSQL")
	flag.Parse()
	start, env := dbtest.StartPostgres, "LICMESH_TEST_PG_DSN"
	if *maria {
		start, env = dbtest.StartMariaDB, "LICMESH_TEST_MYSQL_DSN"
	}
	dsn, stop, missing, err := start()
	switch {
	case missing != "":
		fmt.Fprintln(os.Stderr, "pgserve: SKIPPED:", missing)
		os.Exit(3)
	case err != nil:
		fmt.Fprintln(os.Stderr, "pgserve:", err)
		os.Exit(1)
	}
	fmt.Printf("%s=%s\n", env, dsn)
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
