package bench

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, err, "MeasureB0")
	require.Len(t, rows, 4, "rows: %+v", rows)
	for _, r := range rows {
		assert.Equal(t, "B0", r.ID, "bad row %+v", r)
		assert.Positive(t, r.Value, "bad row %+v", r)
		assert.NotEmpty(t, r.Unit, "bad row %+v", r)
		assert.Nil(t, r.Met, "bad row %+v", r)
	}
	assert.GreaterOrEqual(t, rows[1].Value, rows[0].Value, "fsync p99 below p50")
}

func TestB0ProbesStopOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := TCPRoundTrip(ctx, 10, time.Second)
	assert.ErrorIs(t, err, context.Canceled, "TCPRoundTrip on cancelled ctx")
	_, err = FsyncLatency(ctx, t.TempDir(), 4096, 10)
	assert.ErrorIs(t, err, context.Canceled, "FsyncLatency on cancelled ctx")
}

// TestSessionB1 runs the raw raft baseline once through the registry and
// checks that a later caller (as G1 will be) gets the same numbers without a
// second cluster.
func TestSessionB1(t *testing.T) {
	cfg := tinyConfig(t)
	s, err := NewSession(cfg)
	require.NoError(t, err)
	ms, err := DefaultRegistry().Select([]string{"b1"})
	require.NoError(t, err)
	table, err := s.Run(t.Context(), ms, nil)
	require.NoError(t, err, "Run")
	require.Len(t, table, 4, "want 2 rows per concurrency: %+v", table)
	byConc, rows, err := s.B1(t.Context())
	require.NoError(t, err)
	assert.Len(t, rows, len(table), "memoized rows, table rows %d", len(table))
	for _, n := range cfg.Concurrency {
		tp, ok := byConc[n]
		require.True(t, ok, "no result for concurrency %d", n)
		// Plausible numbers.
		assert.NotZero(t, tp.Ops, "concurrency %d: implausible %+v", n, tp)
		assert.Positive(t, tp.PerSecond, "concurrency %d: implausible %+v", n, tp)
		assert.Positive(t, tp.Latency.P50, "concurrency %d: implausible %+v", n, tp)
		assert.GreaterOrEqual(t, tp.Latency.P99, tp.Latency.P50, "concurrency %d: implausible %+v", n, tp)
		assert.Equal(t, n, tp.Concurrency, "concurrency %d: got %+v", n, tp)
		assert.Equal(t, cfg.Duration, tp.Window, "concurrency %d: got %+v", n, tp)
	}
	assert.Equal(t, "raw raft apply c=1", table[0].Name, "unexpected first rows: %+v", table[:2])
	assert.Equal(t, "entries/s", table[0].Unit, "unexpected first rows: %+v", table[:2])
	assert.Equal(t, "ms", table[1].Unit, "unexpected first rows: %+v", table[:2])
	// A second measurement would give different counts: equal means memoized.
	again, _, err := s.B1(t.Context())
	require.NoError(t, err)
	for n, tp := range byConc {
		assert.Equal(t, tp, again[n], "concurrency %d re-measured", n)
	}
	// Callers get copies: editing one must not change the session's baseline.
	delete(again, 1)
	third, _, _ := s.B1(t.Context())
	assert.Len(t, third, len(cfg.Concurrency), "session baseline changed through a returned map")
}

func TestRawRaftClusterClose(t *testing.T) {
	cfg := tinyConfig(t).raftConfig()
	c, err := NewRawRaftCluster(t.Context(), cfg)
	require.NoError(t, err)
	assert.Len(t, c.Nodes(), 3, "nodes")
	require.NoError(t, c.Close(), "Close")
	require.NoError(t, c.Close(), "second Close")
	_, err = NewRawRaftCluster(t.Context(), RawRaftConfig{})
	assert.ErrorIs(t, err, ErrInvalidConfig, "zero config")
}

// TestMeasureB4 kills a raw cluster's leader twice: each trial ends with an
// entry applied by a survivor, after at least a heartbeat timeout (the
// survivors must notice), and the killed node comes back on its data.
func TestMeasureB4(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Mesh.FailoverTrials = 2
	r, err := MeasureB4(t.Context(), cfg)
	require.NoError(t, err)
	require.Len(t, r.Trials, 2)
	for _, d := range r.Trials {
		assert.GreaterOrEqual(t, d, cfg.Raft.HeartbeatTimeout, "a failover faster than the heartbeat timeout: nothing was killed")
		assert.Less(t, d, cfg.Mesh.FailoverTimeout)
	}
	assert.Positive(t, r.Attempts)
	rows := b4Rows(r, cfg.Raft.HeartbeatTimeout)
	require.Len(t, rows, 2)
	assert.Equal(t, "B4", rows[0].ID)
}
