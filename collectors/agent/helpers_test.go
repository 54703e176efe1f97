package agent

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// fakeClock is a clock tests advance by hand; its timers fire when it passes
// their deadline.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now().Round(0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !c.now.Before(t.at) {
			t.ch <- c.now
			continue
		}
		kept = append(kept, t)
	}
	c.timers = kept
}

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
func newAgent(t *testing.T, cfg config.Config) (*Agent, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	a, err := New(cfg, Options{Clock: clk, Logger: testLogger(t), Version: "test", Hostname: "host1", Rand: func(n int64) int64 { return n / 2 }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(a.closeTransport)
	return a, clk
}

// enrolled returns an agent enrolled with the cluster and connected.
func enrolled(t *testing.T, c *agenttest.Cluster, masters ...*agenttest.Master) (*Agent, *fakeClock) {
	t.Helper()
	a, clk := newAgent(t, testConfig(t, c.Token(), masters...))
	if err := a.enroll(context.Background()); err != nil {
		t.Fatalf("enroll: %v", err)
	}
	if err := a.hello(context.Background()); err != nil {
		t.Fatalf("hello: %v", err)
	}
	return a, clk
}

type licmeshEnroll = licmeshv1.EnrollResponse

type licmeshRelease = licmeshv1.ReleaseResponse
