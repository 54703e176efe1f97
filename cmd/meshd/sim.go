package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/collectors/agent"
	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/collectors/localapi"
	"github.com/licmesh/licmesh/licensing/lease"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/master"
	"github.com/licmesh/licmesh/node/version"
)

// devPools are the pools the demo licenses grant: hard ones, a soft one (it
// records overage) and a roomy one.
var devPools = []string{"designer", "viewer", "analyst", "reports"}

// runSimulation puts the demo licenses in force and makes a join token
// through the admin API, then runs dc.collectors real collector agents in this process. Each
// keeps a few user sessions that acquire a seat, hold it for a while (so
// it is renewed) and release it, and meters a demo installation's usage
// (runDevUsage). The first collector also serves its local API for the
// product, so a newcomer can try it with curl.
func runSimulation(ctx context.Context, dc devConfig, dir, token string, vendorKey ed25519.PrivateKey, masters []*master.Server, out interface{ Write([]byte) (int, error) }, log *slog.Logger) error {
	admin, err := devAdmin(masters[0], token)
	if err != nil {
		return err
	}
	if err := addDemoLicenses(ctx, admin, vendorKey, masters[0].ClusterID()); err != nil {
		return err
	}
	if dc.collectors == 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	tok, err := admin.CreateToken(ctx, connect.NewRequest(&licmeshv1.CreateTokenRequest{
		Role: "collector", TtlSeconds: 3600, MaxUses: uint32(dc.collectors),
	}))
	if err != nil {
		return fmt.Errorf("dev: create join token: %w", err)
	}
	var addrs []string
	for _, m := range masters {
		addrs = append(addrs, m.CollectorAddr())
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	errs := make(chan error, dc.collectors)
	for i := range dc.collectors {
		cfg := config.DefaultConfig()
		cfg.Masters = append(addrs[i%len(addrs):], addrs[:i%len(addrs)]...)
		cfg.Token = tok.Msg.SecretToken
		cfg.DataDir = filepath.Join(dir, "collectors", fmt.Sprintf("c%d", i+1))
		cfg.Listen, cfg.Socket = "", ""
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return err
		}
		clog := log.With("collector", fmt.Sprintf("c%d", i+1))
		a, err := agent.New(cfg, agent.Options{Logger: clog, Version: version.Version, Hostname: fmt.Sprintf("app-server-%d", i+1)})
		if err != nil {
			return fmt.Errorf("dev: collector %d: %w", i+1, err)
		}
		wg.Add(3)
		go func() { defer wg.Done(); errs <- a.Run(ctx) }()
		go func() { defer wg.Done(); simulateSessions(ctx, a, i, clog) }()
		go func() {
			defer wg.Done()
			ulog := clog.With("installation", devInstallation(i))
			if err := runDevUsage(ctx, i, cfg.DataDir, a, a.Ready(), ulog); err != nil {
				ulog.Error("dev: usage metering stopped", "err", err)
			}
		}()
		if i == 0 {
			api, err := localapi.Listen(a, localapi.Config{
				Listen: fmt.Sprintf("127.0.0.1:%d", dc.basePort+80), RequestTimeout: cfg.RequestTimeout,
			}, clog)
			if err != nil {
				return fmt.Errorf("dev: collector local API: %w", err)
			}
			wg.Add(1)
			go func() { defer wg.Done(); _ = api.Run(ctx) }()
			fmt.Fprintf(out, `  The first collector's local API (as the product sees it):
    curl -s -XPOST 127.0.0.1:%d/v1/leases -H 'Content-Type: application/json' -d '{"pool":"analyst","holder":"me"}'
    curl -s 127.0.0.1:%d/v1/leases
    curl -s 127.0.0.1:%d/v1/features/designer_export     # is this module on? (works with every master down)
    curl -s -XPOST 127.0.0.1:%d/v1/credits/consume -H 'Content-Type: application/json' -d '{"unit":"case","amount":1}'

`, dc.basePort+80, dc.basePort+80, dc.basePort+80, dc.basePort+80)
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-errs:
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("dev: a collector stopped: %w", err)
		}
		<-ctx.Done()
		return ctx.Err()
	}
}

// simulateSessions runs four users' sessions on collector a until ctx ends.
func simulateSessions(ctx context.Context, a *agent.Agent, n int, log *slog.Logger) {
	select {
	case <-ctx.Done():
		return
	case <-a.Ready():
	}
	var wg sync.WaitGroup
	for s := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(n), uint64(s)))
			for ctx.Err() == nil {
				pool := devPools[rng.IntN(len(devPools))]
				holder := fmt.Sprintf("user-%d-%d", n+1, rng.IntN(6))
				l, err := a.Acquire(ctx, pool, holder)
				if err != nil {
					log.Debug("sim: no seat", "pool", pool, "holder", holder, "err", err)
					sleep(ctx, time.Duration(1+rng.IntN(3))*time.Second)
					continue
				}
				sleep(ctx, time.Duration(3+rng.IntN(25))*time.Second)
				if ctx.Err() != nil {
					return
				}
				if _, _, err := a.Release(ctx, lease.ID(l.ID)); err != nil && !errors.Is(err, context.Canceled) {
					log.Debug("sim: release failed", "lease_id", l.ID, "err", err)
				}
				sleep(ctx, time.Duration(rng.IntN(3000))*time.Millisecond)
			}
		}()
	}
	wg.Wait()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// devAdmin is an admin API client for m with the bootstrap token.
func devAdmin(m *master.Server, token string) (licmeshv1connect.AdminServiceClient, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(m.CACertPEM()) {
		return nil, errors.New("dev: bad CA certificate")
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: strings.Split(m.APIAddr(), ":")[0]}, ForceAttemptHTTP2: true,
	}}
	return licmeshv1connect.NewAdminServiceClient(hc, "https://"+m.APIAddr(),
		connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+token)
				return next(ctx, req)
			}
		}))), nil
}
