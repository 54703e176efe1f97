package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/licmesh/licmesh/node/master"
)

// devConfig is what `meshd dev` runs: every port and directory derives from
// a base port and one data directory.
type devConfig struct {
	dataDir    string
	basePort   int
	collectors int
	keep       bool
	logLevel   string
}

func devCmd(stdout, stderr io.Writer) *cobra.Command {
	dc := devConfig{basePort: 7400, collectors: 3, logLevel: "warn"}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "run the whole system on this machine: three masters and simulated collectors",
		Long: `Run three masters on loopback and a few simulated collectors that acquire,
renew and release seat leases all the time. It prints the dashboard URL and an
admin token. Ctrl-C stops everything; by default the data directory is removed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dc.basePort < 1024 || dc.basePort > 65000 {
				return usageError{fmt.Errorf("--base-port %d: must be between 1024 and 65000", dc.basePort)}
			}
			if dc.collectors < 0 || dc.collectors > 50 {
				return usageError{fmt.Errorf("--collectors %d: must be between 0 and 50", dc.collectors)}
			}
			ctx, _, stop := signals(cmd.Context())
			defer stop()
			return runDev(ctx, dc, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dc.dataDir, "data-dir", "", "data directory (default: a new temporary directory)")
	f.IntVar(&dc.basePort, "base-port", dc.basePort, "first port; master i uses base+10*i .. +2 and base+43+10*i")
	f.IntVar(&dc.collectors, "collectors", dc.collectors, "simulated collectors")
	f.BoolVar(&dc.keep, "keep", false, "keep the data directory after Ctrl-C")
	f.StringVar(&dc.logLevel, "log-level", dc.logLevel, "log level of the masters")
	return cmd
}

func runDev(ctx context.Context, dc devConfig, stdout, stderr io.Writer) error {
	dir := dc.dataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "licmesh-dev-")
		if err != nil {
			return err
		}
		dir = d
	}
	if !dc.keep && dc.dataDir == "" {
		defer os.RemoveAll(dir)
	}
	secret, err := master.NewClusterSecret()
	if err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cluster-secret")); err == nil {
		secret = strings.TrimSpace(string(b)) // a kept directory restarts the same cluster
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	} else if err := os.WriteFile(filepath.Join(dir, "cluster-secret"), []byte(secret+"\n"), 0o600); err != nil {
		return err
	}
	vendorKey, trustLine, err := demoVendor()
	if err != nil {
		return err
	}
	logger := newLogger(stderr, dc.logLevel, "text")
	var masters []*master.Server
	for i := range 3 {
		port := func(off int) string { return fmt.Sprintf("127.0.0.1:%d", dc.basePort+10*i+off) }
		cfg := master.DefaultConfig()
		cfg.NodeID = fmt.Sprintf("m%d", i+1)
		cfg.DataDir = filepath.Join(dir, cfg.NodeID)
		cfg.ClusterSecret = secret
		cfg.BootstrapExpect = 3
		cfg.APIAddr, cfg.RaftAddr, cfg.GossipAddr = port(0), port(1), port(2)
		cfg.CollectorAddr = port(43)
		if i > 0 {
			cfg.Join = []string{fmt.Sprintf("127.0.0.1:%d", dc.basePort+2)}
		}
		cfg.LeaveOnTerminate = false
		cfg.VendorKeys = []string{trustLine}
		cfg.Logger = logger.With("master", cfg.NodeID)
		cfg.Stdout = io.Discard // the banner below shows the token instead
		s, err := master.New(cfg)
		if err != nil {
			return fmt.Errorf("master %s: %w", cfg.NodeID, err)
		}
		masters = append(masters, s)
	}
	// Ctrl-C stops the collectors first and the masters once they are
	// gone, so that the collectors' last calls (releasing their seats) are
	// answered at once instead of timing out on every master.
	mctx, stopMasters := context.WithCancel(context.WithoutCancel(ctx))
	defer stopMasters()
	g, gctx := errgroup.WithContext(mctx)
	for _, s := range masters {
		g.Go(func() error { return s.Run(gctx, nil) })
	}
	sctx, stopSim := context.WithCancel(gctx)
	defer stopSim()
	context.AfterFunc(ctx, stopSim)
	g.Go(func() error {
		defer stopMasters()
		token, err := waitDevReady(sctx, masters, dir)
		if err != nil {
			return err
		}
		caFile := filepath.Join(dir, "m1", "ca.pem")
		fmt.Fprintf(stdout, `
licmesh dev cluster %s is up: 3 masters on loopback.

  Dashboard:    https://%s/ui/   (the certificate is the cluster's own CA: %s)
  Admin token:  %s

  Try meshctl:
    export LICMESH_ADDR=https://%s LICMESH_CA=%s LICMESH_TOKEN=%s
    meshctl status; meshctl members; meshctl pool list; meshctl lease list

`, masters[0].ClusterID(), masters[0].APIAddr(), caFile, token, masters[0].APIAddr(), caFile, token)
		if dc.collectors > 0 {
			fmt.Fprintf(stdout, "  Demo licenses (signed by a throwaway vendor key): a subscription granting designer (hard, 5)\n"+
				"  and analyst (hard, 20), a 14-day trial granting reports (hard, 3), and an on-usage license\n"+
				"  granting viewer (soft, 6). See meshctl license list.\n")
			fmt.Fprintf(stdout, "  %d simulated collectors acquire, renew and release seats in those pools.\n\n", dc.collectors)
			fmt.Fprintf(stdout, `  Usage metering: each collector measures a demo installation (%s) every %v,
  from a small ProcessMaker-like SQLite database that changes as it runs:
    Dashboard:  https://%s/ui/metrics   (Subscriber metrics; an installation's Metrics history)
    meshctl usage month %s; meshctl usage history --installation %s

`, devInstallationList(dc.collectors), devUsageInterval, masters[0].APIAddr(), time.Now().UTC().Format("2006-01"), devInstallation(0))
		}
		fmt.Fprintf(stdout, "Press Ctrl-C to stop.\n\n")
		return runSimulation(sctx, dc, dir, token, vendorKey, masters, stdout, logger.With("sim", "collectors"))
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		fmt.Fprintln(stdout, "\nlicmesh dev stopped.")
		return nil
	}
	return err
}

// waitDevReady waits for a leader and the bootstrap's admin token.
func waitDevReady(ctx context.Context, masters []*master.Server, dir string) (string, error) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	deadline := time.After(60 * time.Second)
	for {
		ready := true
		for _, s := range masters {
			ready = ready && s.Ready() // every master knows the leader and the bootstrap
		}
		for i := range masters {
			if !ready {
				break
			}
			b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("m%d", i+1), "admin-token"))
			if err == nil {
				return strings.TrimSpace(string(b)), nil
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-deadline:
			return "", errors.New("dev: the cluster did not become ready within 60s")
		case <-t.C:
		}
	}
}
