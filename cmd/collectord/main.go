// Command collectord is the licmesh collector agent: it enrolls with the
// masters, holds seat leases for the product on this host and serves the
// local API the product calls. See collectors/config/example.yaml.
//
//	collectord run --config /etc/collectord/collectord.yaml
//	collectord status [-o table|json] [--socket PATH | --addr HOST:PORT | --config FILE]
//	collectord version
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runCommandLine(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "collectord:", err)
		os.Exit(1)
	}
}
