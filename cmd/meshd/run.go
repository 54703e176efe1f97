package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/licmesh/licmesh/mesh/confload"
	"github.com/licmesh/licmesh/mesh/selfupdate"
	"github.com/licmesh/licmesh/node/master"
)

func runCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		configFile, secretFile string
		join                   []string
		clockOffset            time.Duration
		clockFile              string
	)
	cfg := master.DefaultConfig()
	cmd := &cobra.Command{
		Use:     "run",
		Aliases: []string{"agent"}, // the name before 0.5; kept for existing units and scripts
		Short:   "run a master",
		Long: `Run one master. Configuration comes from --config (strict YAML), then
LICMESH_* environment variables (LICMESH_NODE_ID, LICMESH_CLUSTER_SECRET, ...),
then flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fileCfg := master.DefaultConfig()
			if configFile != "" {
				if err := confload.File(configFile, &fileCfg); err != nil {
					return err
				}
			}
			if err := confload.Env("LICMESH_", &fileCfg, nil); err != nil {
				return err
			}
			// Flags the user set win over the file and the environment.
			cfg.Join = join
			var changed []string
			cmd.Flags().Visit(func(f *pflag.Flag) { changed = append(changed, f.Name) })
			confload.Flags(&fileCfg, &cfg, changed)
			if secretFile != "" {
				b, err := os.ReadFile(secretFile)
				if err != nil {
					return fmt.Errorf("cluster secret file: %w", err)
				}
				fileCfg.ClusterSecret = strings.TrimSpace(string(b))
			}
			if err := fileCfg.Validate(); err != nil {
				return err
			}
			fileCfg.ClockOffset, fileCfg.ClockFile = clockOffset, clockFile
			fileCfg.Logger = newLogger(stderr, fileCfg.LogLevel, fileCfg.LogFormat)
			fileCfg.Stdout = stdout
			srv, err := master.New(fileCfg)
			if err != nil {
				return err
			}
			// Resolved before anything can swap it: afterwards the kernel
			// names the running file as deleted.
			exe, exeErr := selfupdate.Executable()
			ctx, wasTerm, stop := signals(cmd.Context())
			defer stop()
			err = srv.Run(ctx, func() bool { return fileCfg.LeaveOnTerminate && wasTerm() })
			if errors.Is(err, master.ErrRestart) {
				// A new release is in place (or the old one back): start
				// it, in this process or by the supervisor.
				if exeErr != nil {
					return fmt.Errorf("meshd: restart on the new release: %w", exeErr)
				}
				stop()
				return fmt.Errorf("meshd: restart on the new release: %w", selfupdate.Restart(exe, fileCfg.UpdateRestart))
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "YAML configuration file")
	f.StringVar(&secretFile, "cluster-secret-file", "", "file holding the cluster secret (from `meshd keygen`)")
	f.StringVar(&cfg.NodeID, "node-id", cfg.NodeID, "this master's unique name")
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "data directory")
	f.IntVar(&cfg.BootstrapExpect, "bootstrap-expect", cfg.BootstrapExpect, "masters of a new cluster (1, 3 or 5; 0 to join)")
	f.StringSliceVar(&join, "join", nil, "gossip address (host:port) of an existing member; repeatable")
	f.StringVar(&cfg.AdvertiseHost, "advertise-host", cfg.AdvertiseHost, "address others reach this master at")
	f.StringVar(&cfg.APIAddr, "api-addr", cfg.APIAddr, "HTTPS API and dashboard address")
	f.StringVar(&cfg.RaftAddr, "raft-addr", cfg.RaftAddr, "Raft address")
	f.StringVar(&cfg.GossipAddr, "gossip-addr", cfg.GossipAddr, "gossip address")
	f.StringVar(&cfg.CollectorAddr, "collector-addr", cfg.CollectorAddr, "collector protocol address (UDP and TCP)")
	f.DurationVar(&cfg.LeaseTTL, "lease-ttl", cfg.LeaseTTL, "lease time to live")
	f.DurationVar(&cfg.UpstreamSyncInterval, "upstream-sync-interval", cfg.UpstreamSyncInterval, "how often the leader sends usage to the hub")
	f.DurationVar(&cfg.LicenseCheckInterval, "license-check-interval", cfg.LicenseCheckInterval, "how often the leader asks the hub for the cluster's licenses")
	f.DurationVar(&cfg.AlertInterval, "alert-interval", cfg.AlertInterval, "how often the leader evaluates the alert rules")
	f.DurationVar(&cfg.AuditRetention, "audit-retention", cfg.AuditRetention, "how long the audit log keeps a record")
	f.BoolVar(&cfg.LeaveOnTerminate, "leave-on-terminate", cfg.LeaveOnTerminate, "leave the cluster on SIGTERM")
	f.StringSliceVar(&cfg.VendorKeys, "vendor-keys", nil, "vendor public key as key-id:base64; repeatable")
	f.BoolVar(&cfg.DisableQUIC, "disable-quic", cfg.DisableQUIC, "serve collectors over TLS/TCP only")
	f.DurationVar(&cfg.HeartbeatTimeout, "heartbeat-timeout", cfg.HeartbeatTimeout, "Raft heartbeat timeout")
	f.DurationVar(&cfg.ElectionTimeout, "election-timeout", cfg.ElectionTimeout, "Raft election timeout")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	f.DurationVar(&clockOffset, "debug-clock-offset", 0, "shift this master's clock (tests of clocks set back)")
	_ = f.MarkHidden("debug-clock-offset")
	f.StringVar(&clockFile, "debug-clock-file", "", "shift this master's clock by the duration in this file, re-read as it changes (tests that fast-forward)")
	_ = f.MarkHidden("debug-clock-file")
	f.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "text or json")
	return cmd
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func keygenCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "print a new cluster secret (give the same one to every master)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			s, err := master.NewClusterSecret()
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, s)
			return nil
		},
	}
}
