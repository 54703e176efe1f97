package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/licmesh/licmesh/collectors/agent"
	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/collectors/localapi"
	"github.com/licmesh/licmesh/collectors/meter"
)

// runFlags are the flags of `collectord run`; each overrides the file and the
// environment when given.
type runFlags struct {
	config            string
	masters           []string
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
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the collector",
		Long: "Run the collector: enroll with the masters if needed, hold seat leases, serve the local API.\n" +
			"Configuration: the YAML file, then LICMESH_* environment variables, then these flags.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(f.config, os.LookupEnv, func(c *config.Config) error {
				fl := cmd.Flags()
				set := func(name string, apply func()) {
					if fl.Changed(name) {
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
			return run(cmd.Context(), cfg, cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "YAML config file")
	fl.StringSliceVar(&f.masters, "masters", nil, "masters' collector addresses, host:port (comma-separated)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the join token (needed until enrolled)")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory for the identity and the socket")
	fl.StringVar(&f.listen, "listen", "", `local API loopback address ("" disables)`)
	fl.StringVar(&f.socket, "socket", "", `local API unix socket ("" disables)`)
	fl.StringVar(&f.transport, "transport", "", "auto, quic or tcp")
	fl.IntVar(&f.maxLeases, "max-leases", 0, "most leases held at once")
	fl.DurationVar(&f.requestTimeout, "request-timeout", 0, "bound on each call to a master and each local API request")
	fl.BoolVar(&f.releaseOnShutdown, "release-on-shutdown", true, "release held leases on a clean stop")
	fl.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "", "text or json")
	return cmd
}

// run runs the agent and the local API until ctx ends or the agent cannot go
// on.
func run(ctx context.Context, cfg config.Config, logOut io.Writer) error {
	log := newLogger(cfg, logOut)
	if cfg.MemoryLimitMiB > 0 {
		debug.SetMemoryLimit(int64(cfg.MemoryLimitMiB) << 20)
	}
	a, err := agent.New(cfg, agent.Options{Logger: log, Version: version})
	if err != nil {
		return err
	}
	var m *meter.Meter
	if cfg.Usage.Enabled() {
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
