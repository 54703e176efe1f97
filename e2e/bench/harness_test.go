package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate(), "default config")
	for name, edit := range map[string]func(*Config){
		"zero duration":        func(c *Config) { c.Duration = 0 },
		"negative warmup":      func(c *Config) { c.Warmup = -time.Second },
		"no fsync samples":     func(c *Config) { c.FsyncSamples = 0 },
		"no concurrency":       func(c *Config) { c.Concurrency = nil },
		"zero concurrency":     func(c *Config) { c.Concurrency = []int{1, 0} },
		"repeated level":       func(c *Config) { c.Concurrency = []int{16, 16} },
		"empty payload":        func(c *Config) { c.PayloadBytes = 0 },
		"lease over heartbeat": func(c *Config) { c.Raft.LeaderLeaseTimeout = 2 * c.Raft.HeartbeatTimeout },
		"no nodes":             func(c *Config) { c.Raft.Nodes = 0 },
	} {
		cfg := DefaultConfig()
		edit(&cfg)
		assert.ErrorIs(t, cfg.Validate(), ErrInvalidConfig, name)
		_, err := NewSession(cfg)
		assert.ErrorIs(t, err, ErrInvalidConfig, "%s: NewSession", name)
	}
}

func TestSummarize(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	got := Summarize(s)
	want := Latencies{N: 100, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	assert.Equal(t, want, got)
	assert.Equal(t, Latencies{}, Summarize(nil), "empty")
	single := Summarize([]time.Duration{7})
	assert.Equal(t, time.Duration(7), single.P50, "single: got %+v", single)
	assert.Equal(t, time.Duration(7), single.P99, "single: got %+v", single)
}

func TestClosedLoop(t *testing.T) {
	var calls atomic.Int64
	tp, err := ClosedLoop(t.Context(), Load{Concurrency: 4, Warmup: 20 * time.Millisecond, Duration: 300 * time.Millisecond},
		func(ctx context.Context, worker int) error {
			// assert, not require: workers run on their own goroutines.
			assert.GreaterOrEqual(t, worker, 0, "worker out of range")
			assert.Less(t, worker, 4, "worker out of range")
			calls.Add(1)
			return nil
		})
	require.NoError(t, err)
	assert.NotZero(t, tp.Ops, "got %+v after %d calls", tp, calls.Load())
	assert.LessOrEqual(t, int64(tp.Ops), calls.Load(), "got %+v after %d calls", tp, calls.Load())
	assert.Equal(t, 4, tp.Concurrency, "got %+v", tp)

	boom := errors.New("boom")
	_, err = ClosedLoop(t.Context(), Load{Concurrency: 2, Duration: time.Minute}, func(context.Context, int) error { return boom })
	assert.ErrorIs(t, err, boom, "op error")
	_, err = ClosedLoop(t.Context(), Load{}, nil)
	assert.ErrorIs(t, err, ErrInvalidConfig, "zero load")
}

// TestClosedLoopKeepsTail checks the window accounting with one worker and
// no warm-up: every operation starts inside the window, and the last one,
// started before the end, necessarily finishes after it. So it is in the
// latency sample but not in the throughput count.
func TestClosedLoopKeepsTail(t *testing.T) {
	tp, err := ClosedLoop(t.Context(), Load{Concurrency: 1, Duration: 200 * time.Millisecond},
		func(context.Context, int) error {
			time.Sleep(2 * time.Millisecond) // the operation being timed
			return nil
		})
	require.NoError(t, err)
	assert.Equal(t, tp.Ops+1, tp.Latency.N, "latency samples, want ops %d + 1", tp.Ops)
	assert.GreaterOrEqual(t, tp.Latency.P50, 2*time.Millisecond, "p50 below the op's own 2ms")
}

func TestRegistry(t *testing.T) {
	r := DefaultRegistry()
	all := r.All()
	require.GreaterOrEqual(t, len(all), 2, "default registry: %+v", all)
	require.Equal(t, "B0", all[0].ID, "default registry: %+v", all)
	require.Equal(t, "B1", all[1].ID, "default registry: %+v", all)
	got, err := r.Select([]string{"B1", " b0"})
	require.NoError(t, err)
	// Select keeps the registry's order.
	if assert.Len(t, got, 2, "select: got %v", got) {
		assert.Equal(t, "B0", got[0].ID, "select keeps registry order: got %v", got)
	}
	_, err = r.Select([]string{"B0", "G9"})
	if assert.ErrorIs(t, err, ErrUnknownMeasurement, "unknown ID") {
		assert.ErrorContains(t, err, "G9", "unknown ID")
	}
	noop := func(context.Context, *Session) ([]Result, error) { return nil, nil }
	assert.ErrorIs(t, r.Register(Measurement{ID: "b1", Run: noop}), ErrDuplicateMeasurement, "duplicate")
	assert.ErrorIs(t, r.Register(Measurement{ID: "X", Run: nil}), ErrInvalidConfig, "nil Run")
}

func TestSessionRunKeepsGoingAfterFailure(t *testing.T) {
	s, err := NewSession(DefaultConfig())
	require.NoError(t, err)
	boom := errors.New("boom")
	ms := []Measurement{
		{ID: "X1", Name: "fails", Run: func(context.Context, *Session) ([]Result, error) { return nil, boom }},
		{ID: "X2", Name: "works", Run: func(context.Context, *Session) ([]Result, error) {
			return []Result{
				{ID: "X2", Name: "ratio", Value: 2, Unit: "x", Goal: "≥ 1x", Met: Verdict(true)},
				{ID: "X2", Name: "ratio over zero", Value: math.Inf(1), Unit: "x"},
			}, nil
		}},
	}
	var seen []string
	table, err := s.Run(t.Context(), ms, func(m Measurement) { seen = append(seen, m.ID) })
	assert.ErrorIs(t, err, boom)
	if assert.Len(t, table, 3, "table: %+v", table) {
		assert.Equal(t, "MISSED", table[0].VerdictText(), "table: %+v", table)
		assert.Contains(t, table[0].Note, "boom", "table: %+v", table)
		assert.Equal(t, "met", table[1].VerdictText(), "table: %+v", table)
		// The infinite row is made safe.
		assert.Equal(t, 0.0, table[2].Value, "infinite row not made safe: %+v", table[2])
		assert.Equal(t, "MISSED", table[2].VerdictText(), "infinite row not made safe: %+v", table[2])
		assert.Contains(t, table[2].Note, "+Inf", "infinite row not made safe: %+v", table[2])
	}
	assert.NoError(t, table.WriteJSON(io.Discard), "JSON after a failure")
	assert.Equal(t, "X1,X2", strings.Join(seen, ","), "progress saw")
	assert.True(t, table.Missed(), "Missed() = false with a failed row")
}

func TestTableOutput(t *testing.T) {
	table := Table{
		{ID: "B0", Name: "fsync p50", Value: 0.1234, Unit: "ms", Note: "n=200"},
		{ID: "G1", Name: "grants vs raw raft", Value: 0.42, Unit: "x", Goal: "≥ 0.5x", Met: Verdict(false)},
		{ID: "G2", Name: "renewals", Value: 123456.7, Unit: "renewals/s", Goal: "≥ 50000", Met: Verdict(true)},
	}
	var text bytes.Buffer
	require.NoError(t, table.WriteText(&text))
	lines := strings.Split(strings.TrimRight(text.String(), "\n"), "\n")
	require.Len(t, lines, 4, "text table:\n%s", text.String())
	require.True(t, strings.HasPrefix(lines[0], "ID"), "text table:\n%s", text.String())
	for i, want := range []string{"0.1234", "MISSED", "123457"} {
		assert.Contains(t, lines[i+1], want, "line %d", i+1)
	}
	// Columns line up: the value column starts at the same offset on every line.
	col := strings.Index(lines[0], "VALUE")
	for _, l := range lines[1:] {
		assert.Equal(t, byte(' '), l[col-1], "misaligned line %q", l)
		assert.NotEqual(t, byte(' '), l[col], "misaligned line %q", l)
	}

	var js bytes.Buffer
	require.NoError(t, table.WriteJSON(&js))
	var back Table
	require.NoError(t, json.Unmarshal(js.Bytes(), &back), "json:\n%s", js.String())
	if assert.Len(t, back, 3, "round trip: %+v", back) {
		assert.Nil(t, back[0].Met, "round trip: %+v", back)
		if assert.NotNil(t, back[1].Met, "round trip: %+v", back) {
			assert.False(t, *back[1].Met, "round trip: %+v", back)
		}
		assert.Equal(t, 123456.7, back[2].Value, "round trip: %+v", back)
	}
	js.Reset()
	if assert.NoError(t, Table(nil).WriteJSON(&js), "empty table JSON") {
		assert.Equal(t, "[]", strings.TrimSpace(js.String()), "empty table JSON")
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 18277.4: "18277", 759.33: "759.3", 4.694: "4.69", 0.16912: "0.1691", 0.0000123: "1.23e-05",
	} {
		assert.Equal(t, want, FormatValue(v), "FormatValue(%v)", v)
	}
}

// TestMain removes the binaries the harness built for the tests, if it
// built any ($LICMESH_BIN unset), once every test is done with them.
func TestMain(m *testing.M) {
	code := m.Run()
	harness.RemoveBuilt()
	os.Exit(code)
}
