package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/licmesh/licmesh/collectors/agent"
	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/collectors/localapi"
	"github.com/licmesh/licmesh/collectors/meter"
	"github.com/licmesh/licmesh/licensing/clock"
	"github.com/licmesh/licmesh/mesh/selfupdate"
)

// runFlags are the flags of `collectord run`; each overrides the file and the
// environment when given.
type runFlags struct {
	config            string
	masters           stringsFlag
	tokenFile         string
	dataDir           string
	listen            string
	socket            string
	transport         string
	maxLeases         int
	requestTimeout    time.Duration
	releaseOnShutdown bool
	logLevel          string
	logFormat         string
	clockOffset       time.Duration
}

func runCommand() command {
	var f runFlags
	return command{
		name:  "run",
		short: "Run the collector",
		long: "Run the collector: enroll with the masters if needed, hold seat leases, serve the local API.\n" +
			"Configuration: the YAML file, then LICMESH_* environment variables, then these flags.",
		setup: func(fs *flag.FlagSet) func(context.Context, io.Writer, io.Writer) error {
			fs.StringVar(&f.config, "config", "", "YAML config file")
			fs.StringVar(&f.config, "c", "", "shorthand for -config")
			fs.Var(&f.masters, "masters", "masters' collector addresses, host:port (comma-separated)")
			fs.StringVar(&f.tokenFile, "token-file", "", "file holding the join token (needed until enrolled)")
			fs.StringVar(&f.dataDir, "data-dir", "", "directory for the identity and the socket")
			fs.StringVar(&f.listen, "listen", "", `local API loopback address ("" disables)`)
			fs.StringVar(&f.socket, "socket", "", `local API unix socket ("" disables)`)
			fs.StringVar(&f.transport, "transport", "", "auto, quic or tcp")
			fs.IntVar(&f.maxLeases, "max-leases", 0, "most leases held at once")
			fs.DurationVar(&f.requestTimeout, "request-timeout", 0, "bound on each call to a master and each local API request")
			fs.BoolVar(&f.releaseOnShutdown, "release-on-shutdown", true, "release held leases on a clean stop")
			fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
			fs.StringVar(&f.logFormat, "log-format", "", "text or json")
			fs.DurationVar(&f.clockOffset, "debug-clock-offset", 0, "for tests of clocks set wrong: shift this collector's clock")
			return func(ctx context.Context, _, stderr io.Writer) error {
				changed := given(fs)
				cfg, err := config.Load(f.config, os.LookupEnv, func(c *config.Config) error {
					set := func(name string, apply func()) {
						if changed[name] {
							apply()
						}
					}
					set("masters", func() { c.Masters = f.masters })
					set("token-file", func() { c.TokenFile, c.Token = f.tokenFile, "" })
					set("data-dir", func() { c.DataDir = f.dataDir })
					set("listen", func() { c.Listen = f.listen })
					set("socket", func() { c.Socket = f.socket })
					set("transport", func() { c.Transport = f.transport })
					set("max-leases", func() { c.MaxLeases = f.maxLeases })
					set("request-timeout", func() { c.RequestTimeout = f.requestTimeout })
					set("release-on-shutdown", func() { c.ReleaseOnShutdown = f.releaseOnShutdown })
					set("log-level", func() { c.LogLevel = f.logLevel })
					set("log-format", func() { c.LogFormat = f.logFormat })
					return nil
				})
				if err != nil {
					return err
				}
				return run(ctx, cfg, stderr, f.clockOffset)
			}
		},
	}
}

// meteringGCPercent replaces the runtime's GOGC=100 while usage metering is
// on, unless GOGC is set. The collector's live heap is a megabyte or two, so
// at 100 the runtime's 4 MiB minimum heap goal sets its size, and each
// sample's megabytes of garbage (rows, records, the report) grow the heap
// to that goal and leave it resident. At 50 the minimum goal is 2 MiB:
// measured by bench U2, 1.4 to 1.9 MiB less peak RSS for a few more
// collections of a small heap, too few to show in its CPU figure. Without
// metering nothing churns the heap, and the extra collections only cost
// the runtime more GC bookkeeping (bench G10: 0.6 MiB more), so an idle
// collector keeps the default.
const meteringGCPercent = 50

// run runs the collector until ctx ends or the agent cannot go on; after an
// update swapped the binary, once everything is closed, it restarts the
// process into the new one.
func run(ctx context.Context, cfg config.Config, logOut io.Writer, clockOffset time.Duration) error {
	log := newLogger(cfg, logOut)
	// Resolved now: once swapped, the running file has no name left.
	exe, err := selfupdate.Executable()
	if err != nil {
		log.Warn("collectord: cannot tell which file this binary is; updates will fail", "error", err)
	}
	err = serve(ctx, cfg, log, clockOffset, exe)
	if !errors.Is(err, agent.ErrRestart) {
		return err
	}
	log.Info("collectord: restarting into the binary now in place", "binary", exe, "mode", cfg.UpdateRestart)
	return selfupdate.Restart(exe, cfg.UpdateRestart)
}

// serve runs the agent and the local API until ctx ends or the agent stops,
// and closes them.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, clockOffset time.Duration, exe string) error {
	if cfg.MemoryLimitMiB > 0 {
		debug.SetMemoryLimit(int64(cfg.MemoryLimitMiB) << 20)
	}
	opts := agent.Options{Logger: log, Version: version, Executable: exe, Healthy: localAPIHealth(cfg)}
	if clockOffset != 0 {
		// The wall clock only: the monotonic reading and the boot clock,
		// which leases are counted on, are the host's.
		opts.Clock = clock.Offset(clockOffset)
		log.Warn("collectord: the clock is shifted for a test", "offset", clockOffset)
	}
	a, err := agent.New(cfg, opts)
	if err != nil {
		return err
	}
	var m *meter.Meter
	if cfg.Usage.Enabled() {
		if _, set := os.LookupEnv("GOGC"); !set {
			debug.SetGCPercent(meteringGCPercent)
		}
		// After agent.New, which creates data_dir, where the spool and the
		// key live by default.
		var closeSources func()
		m, closeSources, err = openMeter(cfg, a, log)
		if err != nil {
			return err
		}
		defer closeSources()
		defer m.Close()
	}
	var api *localapi.Server
	if cfg.Listen != "" || cfg.Socket != "" {
		api, err = localapi.Listen(a, localapi.Config{
			Listen:         cfg.Listen,
			Socket:         cfg.Socket,
			RequestTimeout: cfg.RequestTimeout,
			MaxInFlight:    cfg.MaxInFlight,
			Usage:          usageStatus(m),
		}, log)
		if err != nil {
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := a.Run(gctx); err != nil {
			return fmt.Errorf("agent stopped: %w", err)
		}
		return nil
	})
	if api != nil {
		g.Go(func() error { return api.Run(gctx) })
	}
	if m != nil {
		g.Go(func() error { return m.Run(gctx) })
	}
	err = g.Wait()
	log.Info("collectord: stopped")
	return err
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
