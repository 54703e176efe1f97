package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// tinyConfig keeps the real measurements but shrinks them to test size. The
// window is wider than the bare minimum because `make test` shares the CPUs
// with other packages' tests and fuzzers, and one stalled apply at
// concurrency 1 must not leave a window empty.
func tinyConfig(t *testing.T) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Dir = t.TempDir()
	cfg.Duration = 500 * time.Millisecond
	cfg.Warmup = 100 * time.Millisecond
	cfg.FsyncSamples = 10
	cfg.TCPSamples = 50
	cfg.UDPSamples = 50
	cfg.Concurrency = []int{1, 16}
	cfg.Raft.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Output: t.Output(), Level: hclog.Error})
	return cfg
}

func TestMeasureB0(t *testing.T) {
	rows, err := MeasureB0(t.Context(), tinyConfig(t))
	if err != nil {
		t.Fatalf("MeasureB0: %v", err)
	}
	if len(rows) != 4 {
		t.Fatalf("got %d rows, want 4: %+v", len(rows), rows)
	}
	for _, r := range rows {
		if r.ID != "B0" || r.Value <= 0 || r.Unit == "" || r.Met != nil {
			t.Errorf("bad row %+v", r)
		}
	}
	if rows[1].Value < rows[0].Value {
		t.Errorf("fsync p99 %v below p50 %v", rows[1].Value, rows[0].Value)
	}
}

func TestB0ProbesStopOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := TCPRoundTrip(ctx, 10, time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("TCPRoundTrip on cancelled ctx: %v, want context.Canceled", err)
	}
	if _, err := FsyncLatency(ctx, t.TempDir(), 4096, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("FsyncLatency on cancelled ctx: %v, want context.Canceled", err)
	}
}

// TestSessionB1 runs the raw raft baseline once through the registry and
// checks that a later caller (as G1 will be) gets the same numbers without a
// second cluster.
func TestSessionB1(t *testing.T) {
	cfg := tinyConfig(t)
	s, err := NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := DefaultRegistry().Select([]string{"b1"})
	if err != nil {
		t.Fatal(err)
	}
	table, err := s.Run(t.Context(), ms, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(table) != 4 {
		t.Fatalf("got %d rows, want 2 per concurrency: %+v", len(table), table)
	}
	byConc, rows, err := s.B1(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(table) {
		t.Errorf("memoized rows %d, table rows %d", len(rows), len(table))
	}
	for _, n := range cfg.Concurrency {
		tp, ok := byConc[n]
		if !ok {
			t.Fatalf("no result for concurrency %d", n)
		}
		if tp.Ops == 0 || tp.PerSecond <= 0 || tp.Latency.P50 <= 0 || tp.Latency.P99 < tp.Latency.P50 {
			t.Errorf("concurrency %d: implausible %+v", n, tp)
		}
		if tp.Concurrency != n || tp.Window != cfg.Duration {
			t.Errorf("concurrency %d: got %+v", n, tp)
		}
	}
	if table[0].Name != "raw raft apply c=1" || table[0].Unit != "entries/s" || table[1].Unit != "ms" {
		t.Errorf("unexpected first rows: %+v", table[:2])
	}
	// A second measurement would give different counts: equal means memoized.
	again, _, err := s.B1(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for n, tp := range byConc {
		if again[n] != tp {
			t.Errorf("concurrency %d re-measured: %+v then %+v", n, tp, again[n])
		}
	}
	// Callers get copies: editing one must not change the session's baseline.
	delete(again, 1)
	if third, _, _ := s.B1(t.Context()); len(third) != len(cfg.Concurrency) {
		t.Errorf("session baseline changed through a returned map")
	}
}

func TestRawRaftClusterClose(t *testing.T) {
	cfg := tinyConfig(t).raftConfig()
	c, err := NewRawRaftCluster(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Nodes()); got != 3 {
		t.Errorf("got %d nodes, want 3", got)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := NewRawRaftCluster(t.Context(), RawRaftConfig{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("zero config: %v, want ErrInvalidConfig", err)
	}
}
