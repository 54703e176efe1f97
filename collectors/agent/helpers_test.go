package agent

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

func newFakeClock() *clocktest.Fake { return clocktest.New(time.Now().Round(0)) }

// testLogger sends logs to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// testConfig is a config for masters over TCP, in a fresh data directory.
func testConfig(t *testing.T, token string, masters ...*agenttest.Master) config.Config {
	t.Helper()
	cfg := config.DefaultConfig()
	for _, m := range masters {
		cfg.Masters = append(cfg.Masters, m.Addr())
	}
	cfg.Token = token
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Transport = config.TransportTCP
	cfg.RequestTimeout = 2 * time.Second
	cfg.Listen, cfg.Socket = "", ""
	return cfg
}

// newAgent makes an agent with a fake clock.
func newAgent(t *testing.T, cfg config.Config) (*Agent, *clocktest.Fake) {
	t.Helper()
	clk := newFakeClock()
	a, err := New(cfg, Options{Clock: clk, Logger: testLogger(t), Version: "test", Hostname: "host1", Rand: func(n int64) int64 { return n / 2 }})
	require.NoError(t, err, "New")
	t.Cleanup(a.closeTransport)
	return a, clk
}

// enrolled returns an agent enrolled with the cluster and connected.
func enrolled(t *testing.T, c *agenttest.Cluster, masters ...*agenttest.Master) (*Agent, *clocktest.Fake) {
	t.Helper()
	a, clk := newAgent(t, testConfig(t, c.Token(), masters...))
	require.NoError(t, a.enroll(context.Background()), "enroll")
	require.NoError(t, a.hello(context.Background()), "hello")
	return a, clk
}

type licmeshEnroll = licmeshv1.EnrollResponse

type licmeshRelease = licmeshv1.ReleaseResponse
