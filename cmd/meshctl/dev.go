package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// devOptions is what `meshctl dev` runs: every port and directory derives
// from a base port and one data directory.
type devOptions struct {
	dataDir    string
	basePort   int
	collectors int
	keep       bool
	logLevel   string
}

// devUsageInterval is how often each demo installation is measured.
const devUsageInterval = 10 * time.Second

// devCollectord is the collector binary the demo runs: the one make build
// builds with every SQL driver, since demoproduct keeps its data in SQLite
// and the default collectord has the MySQL driver only (see the Makefile).
const devCollectord = "collectord-full"

// devPools are the pools the demo licenses grant and the demo products'
// users take seats in: hard ones, a soft one (it records overage) and a
// roomy one.
var devPools = []string{"designer", "viewer", "analyst", "reports"}

// devInstallations name the demo installations, one per collector;
// collectors past the list get site-N.
var devInstallations = []string{"acme-prod", "acme-test", "globex", "initech", "umbrella"}

func devInstallation(i int) string {
	if i < len(devInstallations) {
		return devInstallations[i]
	}
	return fmt.Sprintf("site-%d", i+1)
}

func (a *app) devCommand() *cobra.Command {
	o := devOptions{basePort: 7400, collectors: 3, logLevel: "warn"}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole system on this machine: three masters, collectors and demo products",
		Long: `Run the whole system on this machine, as the real binaries in child processes:
the vendor hub (hubd), three meshd masters on loopback that trust the hub's
vendor key, a collectord per demo installation, and beside each a demoproduct (a
ProcessMaker-like product whose database changes and whose users take seats
through the collector's local API). Demo products, a customer and its licenses
are made at the hub through its API and put in force on the masters. It prints the dashboard URL and an admin
token. Children that die are restarted; their output is prefixed with their
name. Ctrl-C stops the collectors, then the masters; by default the data
directory is removed.

hubd, meshd, collectord-full (the collector with every SQL driver: the demo
product's database is SQLite) and demoproduct are taken from meshctl's own
directory (where make build puts them), or else from PATH. The hub listens on
base+100.`,
		Args: noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if o.basePort < 1024 || o.basePort > 65000 {
				return usagef("--base-port %d: must be between 1024 and 65000", o.basePort)
			}
			if o.collectors < 0 || o.collectors > 20 {
				return usagef("--collectors %d: must be between 0 and 20", o.collectors)
			}
			switch o.logLevel {
			case "debug", "info", "warn", "error":
			default:
				return usagef("--log-level %q: debug, info, warn or error", o.logLevel)
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, _ []string) error { return a.runDev(ctx, o) }),
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", "", "data directory (default: a new temporary directory, removed at the end)")
	f.IntVar(&o.basePort, "base-port", o.basePort, "first port; master i uses base+10i .. +2 and base+43+10i, collector i's local API base+80+i")
	f.IntVar(&o.collectors, "collectors", o.collectors, "collectors, each beside a demo product")
	f.BoolVar(&o.keep, "keep", false, "keep the temporary data directory after Ctrl-C")
	f.StringVar(&o.logLevel, "log-level", o.logLevel, "log level of every child")
	return cmd
}

// devSystem is a running `meshctl dev`: its children and where they live.
type devSystem struct {
	o       devOptions
	dir     string
	bins    map[string]string
	stderr  io.Writer
	outMu   sync.Mutex
	masters []*devProc
	others  []*devProc // collectors and products: stopped first
	hub     *devProc   // stopped last
}

func (d *devSystem) proc(name, bin string, args ...string) *devProc {
	return &devProc{name: name, path: d.bins[bin], args: args, out: newPrefixer(&d.outMu, d.stderr, name)}
}

func (d *devSystem) port(off int) int { return d.o.basePort + off }

func (d *devSystem) apiAddr(i int) string { return fmt.Sprintf("127.0.0.1:%d", d.port(10*i)) }

func (a *app) runDev(ctx context.Context, o devOptions) (err error) {
	d := &devSystem{o: o, bins: map[string]string{}, stderr: a.stderr}
	for _, b := range []string{"meshd", devCollectord, "demoproduct", "hubd"} {
		if d.bins[b], err = findBinary(b); err != nil {
			return err
		}
	}
	d.dir = o.dataDir
	if d.dir == "" {
		if d.dir, err = os.MkdirTemp("", "licmesh-dev-"); err != nil {
			return err
		}
		if !o.keep {
			defer os.RemoveAll(d.dir)
		}
	} else if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return err
	}
	secretFile, err := d.clusterSecret(ctx)
	if err != nil {
		return err
	}
	hub, err := d.initHub(ctx)
	if err != nil {
		return err
	}

	// The children run until stopCtx ends; Ctrl-C (ctx) starts the ordered
	// stop below instead of reaching them directly.
	stopCtx, stopAll := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAll()
	g, gctx := errgroup.WithContext(stopCtx)
	launch := func(p *devProc) error {
		if err := p.start(); err != nil {
			return err
		}
		g.Go(func() error { return p.supervise(gctx) })
		return nil
	}
	defer func() {
		// Collectors and products first, so that the collectors' last calls
		// (releasing their seats) are answered at once; then the masters.
		stopEach(d.others, 10*time.Second)
		stopEach(d.masters, 10*time.Second)
		if d.hub != nil {
			d.hub.stop(10 * time.Second)
		}
		stopAll()
		if werr := g.Wait(); err == nil && werr != nil {
			err = werr
		}
		if err == nil || ctx.Err() != nil {
			err = nil
			fmt.Fprintln(a.stdout, "\nlicmesh dev stopped.")
		}
	}()

	d.hub = d.proc("hub", "hubd", "run", "--data-dir", hub.dir, "--listen", hub.addr, "--log-level", o.logLevel)
	if err := launch(d.hub); err != nil {
		return err
	}
	for i := range 3 {
		args := []string{"run", "--node-id", fmt.Sprintf("m%d", i+1), "--data-dir", filepath.Join(d.dir, fmt.Sprintf("m%d", i+1)),
			"--bootstrap-expect", "3", "--cluster-secret-file", secretFile, "--vendor-keys", strings.Join(hub.keys, ","),
			"--api-addr", d.apiAddr(i), "--raft-addr", fmt.Sprintf("127.0.0.1:%d", d.port(10*i+1)),
			"--gossip-addr", fmt.Sprintf("127.0.0.1:%d", d.port(10*i+2)), "--collector-addr", fmt.Sprintf("127.0.0.1:%d", d.port(10*i+43)),
			"--leave-on-terminate=false", "--log-level", o.logLevel,
			// Usage reaches the hub's sales monitor within seconds, and a
			// license changed at the hub reaches the cluster within a minute.
			"--upstream-sync-interval", "5s", "--license-check-interval", "1m"}
		if i > 0 {
			args = append(args, "--join", fmt.Sprintf("127.0.0.1:%d", d.port(2)))
		}
		p := d.proc(fmt.Sprintf("m%d", i+1), "meshd", args...)
		d.masters = append(d.masters, p)
		if err := launch(p); err != nil {
			return err
		}
	}
	ready := make(chan error, 1)
	go func() { ready <- d.waitReady(gctx, a) }()
	select {
	case <-ctx.Done():
		return nil
	case <-gctx.Done():
		return g.Wait()
	case err := <-ready:
		if err != nil {
			return err
		}
	}
	admin, err := a.client()
	if err != nil {
		return err
	}
	st, err := call(ctx, a, admin.GetStatus, &licmeshv1.GetStatusRequest{})
	if err != nil {
		return err
	}
	if err := hub.connect(ctx); err != nil {
		return err
	}
	company, err := hub.demoCustomer(ctx)
	if err != nil {
		return err
	}
	if err := hub.activate(ctx, admin, company); err != nil {
		return err
	}
	token := ""
	if o.collectors > 0 {
		tok, err := call(ctx, a, admin.CreateToken, &licmeshv1.CreateTokenRequest{Role: "collector", TtlSeconds: 3600, MaxUses: uint32(o.collectors)})
		if err != nil {
			return err
		}
		token = tok.GetSecretToken()
	}
	for i := range o.collectors {
		if err := d.startCollector(ctx, i, token, launch); err != nil {
			return err
		}
	}
	d.banner(a, st.GetClusterId(), hub)
	select {
	case <-ctx.Done():
		return nil
	case <-gctx.Done():
		return g.Wait()
	}
}

func stopEach(ps []*devProc, grace time.Duration) {
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() { p.stop(grace) })
	}
	wg.Wait()
}

// clusterSecret makes the cluster secret with `meshd keygen`, unless a
// kept directory has one: then the same cluster restarts.
func (d *devSystem) clusterSecret(ctx context.Context) (string, error) {
	path := filepath.Join(d.dir, "cluster-secret")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	out, err := exec.CommandContext(ctx, d.bins["meshd"], "keygen").Output()
	if err != nil {
		return "", fmt.Errorf("dev: meshd keygen: %w", err)
	}
	return path, os.WriteFile(path, out, 0o600)
}

// waitReady waits for the bootstrap's admin token and for every master to
// know the leader, then points a's client at the first master.
func (d *devSystem) waitReady(ctx context.Context, a *app) error {
	deadline := time.Now().Add(60 * time.Second)
	caFile := filepath.Join(d.dir, "m1", "ca.pem")
	for {
		if err := d.ready(ctx, a, caFile); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("dev: the cluster did not become ready within 60s: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (d *devSystem) ready(ctx context.Context, a *app, caFile string) error {
	var token string
	for i := range d.masters {
		if b, err := os.ReadFile(filepath.Join(d.dir, fmt.Sprintf("m%d", i+1), "admin-token")); err == nil {
			token = strings.TrimSpace(string(b))
		}
	}
	if token == "" {
		return errors.New("no admin token yet")
	}
	for i := range d.masters {
		m := newApp(a.stdout, a.stderr, a.getenv)
		m.cfg = config{Addr: "https://" + d.apiAddr(i), Token: token, CAFile: caFile, Timeout: 2 * time.Second}
		c, err := m.client()
		if err != nil {
			m.close()
			return err
		}
		st, err := call(ctx, m, c.GetStatus, &licmeshv1.GetStatusRequest{})
		m.close()
		if err != nil {
			return err
		}
		if st.GetLeaderId() == "" {
			return fmt.Errorf("m%d knows no leader yet", i+1)
		}
	}
	a.cfg = config{Addr: "https://" + d.apiAddr(0), Token: token, CAFile: caFile, Timeout: a.cfg.Timeout}
	return nil
}

// startCollector starts collector i beside demo installation i: the
// product's database first (so the collector's first sample finds it),
// then the collector, then the product's users.
func (d *devSystem) startCollector(ctx context.Context, i int, token string, launch func(*devProc) error) error {
	name := fmt.Sprintf("c%d", i+1)
	dir := filepath.Join(d.dir, "collectors", name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	db := filepath.Join(dir, "product.db")
	if _, err := os.Stat(db); err != nil {
		if out, err := exec.CommandContext(ctx, d.bins["demoproduct"], "create", "--db", db, "--demo", fmt.Sprint(i)).CombinedOutput(); err != nil {
			return fmt.Errorf("dev: demoproduct create: %w: %s", err, out)
		}
	}
	sources, err := exec.CommandContext(ctx, d.bins["demoproduct"], "sources", "--db", db, "--interval", devUsageInterval.String()).Output()
	if err != nil {
		return fmt.Errorf("dev: demoproduct sources: %w", err)
	}
	sourcesFile := filepath.Join(dir, "sources.yaml")
	if err := os.WriteFile(sourcesFile, sources, 0o600); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("masters:\n")
	for k := range d.masters {
		// Each collector starts with another master first, as a site's
		// collectors would spread over them.
		fmt.Fprintf(&b, "  - 127.0.0.1:%d\n", d.port(10*((i+k)%len(d.masters))+43))
	}
	listen := fmt.Sprintf("127.0.0.1:%d", d.port(80+i))
	fmt.Fprintf(&b, "token: %s\ndata_dir: %s\nlisten: %s\nsocket: \"\"\nlog_level: %s\nusage:\n  sources_file: %s\n  installation: %s\n",
		token, filepath.Join(dir, "data"), listen, d.o.logLevel, sourcesFile, devInstallation(i))
	cfgFile := filepath.Join(dir, "collectord.yaml")
	if err := os.WriteFile(cfgFile, []byte(b.String()), 0o600); err != nil {
		return err
	}
	c := d.proc(name, devCollectord, "run", "--config", cfgFile)
	p := d.proc("p"+fmt.Sprint(i+1), "demoproduct", "run", "--db", db, "--demo", fmt.Sprint(i),
		"--collector", "http://"+listen, "--pools", strings.Join(devPools, ","), "--log-level", d.o.logLevel)
	d.others = append(d.others, c, p)
	if err := launch(c); err != nil {
		return err
	}
	return launch(p)
}

func (d *devSystem) banner(a *app, clusterID string, hub *devHub) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	w := a.stdout
	ca := a.cfg.CAFile
	api := d.apiAddr(0)
	fmt.Fprintf(w, `
licmesh dev cluster %s is up: 3 masters on loopback.

  Dashboard:    https://%s/ui/   (the certificate is the cluster's own CA: %s)
  Admin token:  %s

  Try meshctl:
    export LICMESH_ADDR=https://%s LICMESH_CA=%s LICMESH_TOKEN=%s
    meshctl status; meshctl members; meshctl pool list; meshctl lease list

  Vendor hub:   https://%s/ui/   (hubd; self-signed certificate in %s)
    admin %s, password %s
    The masters trust its vendor key; the demo licenses below were issued by it,
    and the cluster is activated with it: usage appears in its sales monitor
    (https://%s/ui/monitor) within seconds. meshctl upstream shows the sync.

`, clusterID, api, ca, a.cfg.Token, api, ca, a.cfg.Token, hub.addr, filepath.Join(hub.dir, "hub-cert.pem"), devHubAdmin, hub.password, hub.addr)
	if d.o.collectors > 0 {
		names := make([]string, 0, d.o.collectors)
		for i := range min(d.o.collectors, 3) {
			names = append(names, devInstallation(i))
		}
		if d.o.collectors > 3 {
			names = append(names, "...")
		}
		local := d.port(80)
		fmt.Fprintf(w, `  Demo licenses (issued by the hub to "Demo Customer"): a subscription granting designer (hard, 5)
  and analyst (hard, 20), a 14-day trial granting reports (hard, 3), and an on-usage license
  granting viewer (soft, 6). See meshctl license list.

  %d collectors (collectord-full, [c1] ...) each beside a demo product (demoproduct, [p1] ...):
  the products' users take and give back seats in those pools through their collector,
  and each collector measures its installation (%s) every %v
  from the product's ProcessMaker-like SQLite database, which changes as it runs:
    Dashboard:  https://%s/ui/metrics   (Subscriber metrics; an installation's Metrics history)
    meshctl usage month %s; meshctl usage history --installation %s

  The first collector's local API (as the product sees it):
    curl -s -XPOST 127.0.0.1:%d/v1/leases -H 'Content-Type: application/json' -d '{"pool":"analyst","holder":"me"}'
    curl -s 127.0.0.1:%d/v1/leases
    curl -s 127.0.0.1:%d/v1/features/designer_export     # is this module on? (works with every master down)
    curl -s -XPOST 127.0.0.1:%d/v1/credits/consume -H 'Content-Type: application/json' -d '{"unit":"case","amount":1}'

`, d.o.collectors, strings.Join(names, ", "), devUsageInterval, api, time.Now().UTC().Format("2006-01"), devInstallation(0),
			local, local, local, local)
	}
	fmt.Fprintf(w, "  Data directory: %s\n\nPress Ctrl-C to stop.\n\n", d.dir)
}
