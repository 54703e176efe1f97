package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tinyMeshConfig shrinks the G measurements to test size; the masters are
// real meshd processes from harness.Binaries.
func tinyMeshConfig(t *testing.T) Config {
	t.Helper()
	cfg := tinyConfig(t)
	cfg.Duration = 300 * time.Millisecond
	cfg.Mesh.Concurrency = []int{4}
	cfg.Mesh.Collectors = 3
	cfg.Mesh.RenewWorkers = 4
	cfg.Mesh.LeasesPerWorker = 3
	cfg.Mesh.FailoverTrials = 1
	cfg.Mesh.Log = t.Output()
	return cfg
}

// TestG1 runs G1 and the B1 baseline it divides by through a session, as
// benchtable does, against three real masters.
func TestG1(t *testing.T) {
	cfg := tinyMeshConfig(t)
	s, err := NewSession(cfg)
	require.NoError(t, err)
	ms, err := DefaultRegistry().Select([]string{"G1"})
	require.NoError(t, err)
	table, err := s.Run(t.Context(), ms, nil)
	require.NoError(t, err, "Run\n%+v", table)
	runs, rows, err := s.G1(t.Context())
	require.NoError(t, err)
	assert.Len(t, rows, len(table), "G1 was measured twice: memoized rows, %d in the table", len(table))
	r, ok := runs[4]
	require.True(t, ok, "no run at concurrency 4: %+v", runs)
	// Every op is one acquire or one release, and each needs a Raft entry
	// that carries at least it.
	assert.NotZero(t, r.Ops, "implausible run %+v", r)
	assert.GreaterOrEqual(t, r.Use.Ops, int64(r.Ops), "implausible run %+v", r)
	assert.NotZero(t, r.Use.Entries, "implausible run %+v", r)
	assert.NotZero(t, r.Use.Batches, "implausible run %+v", r)
	assert.LessOrEqual(t, r.Use.OpsPerEntry(), float64(r.Concurrency), "ops per entry with only %d workers", r.Concurrency)
	names := map[string]Result{}
	for _, row := range table {
		assert.Equal(t, "G1", row.ID, "row in a G1-only run")
		names[row.Name] = row
	}
	for _, want := range []string{"lease ops c=4", "lease ops c=4 ÷ B1", "lease op c=4 p99", "lease ops per raft entry c=4"} {
		assert.Contains(t, names, want, "no row %q in %+v", want, table)
	}
	ratio := names["lease ops c=4 ÷ B1"]
	assert.NotNil(t, ratio.Met, "ratio row %+v", ratio)
	assert.Positive(t, ratio.Value, "ratio row %+v", ratio)
	assert.Contains(t, ratio.Note, "B1", "ratio row %+v", ratio)
	p99 := names["lease op c=4 p99"]
	assert.NotNil(t, p99.Met, "p99 row %+v", p99)
	assert.Positive(t, p99.Value, "p99 row %+v", p99)
}

func TestG3(t *testing.T) {
	cfg := tinyMeshConfig(t)
	r, err := MeasureG3(t.Context(), cfg)
	require.NoError(t, err)
	assert.NotZero(t, r.Ops, "implausible run %+v", r)
	assert.Equal(t, 3, r.LeasesPerCall, "implausible run %+v", r)
	assert.GreaterOrEqual(t, r.Use.Ops, int64(r.Ops*3), "implausible run %+v", r)
	// Renewals are answered from memory: the log gets at most the
	// leadership confirmation's barrier, one per round however many
	// renewals wait on it (so at most one per call at this tiny load; the
	// real G3's load shares a round among thousands), and the odd
	// unrelated entry.
	assert.LessOrEqual(t, r.Use.Entries, uint64(r.Ops)+2, "raft entries for %d renewals in %d calls", r.Use.Ops, r.Ops)
	rows := g3Rows(r, 100, 4, nil)
	if assert.GreaterOrEqual(t, len(rows), 4, "rows %+v", rows) {
		assert.NotNil(t, rows[1].Met, "rows %+v", rows)
		assert.NotNil(t, rows[2].Met, "rows %+v", rows)
	}
	noG1 := g3Rows(r, 0, 4, ErrMesh)
	if assert.NotNil(t, noG1[1].Met, "without G1: %+v", noG1[1]) {
		assert.False(t, *noG1[1].Met, "without G1: %+v", noG1[1])
	}
	assert.Contains(t, noG1[1].Note, "no G1", "without G1")
}

func TestG4(t *testing.T) {
	cfg := tinyMeshConfig(t)
	r, err := MeasureG4(t.Context(), cfg)
	require.NoError(t, err)
	require.Len(t, r.Trials, 1, "implausible run %+v", r)
	require.GreaterOrEqual(t, r.Attempts, 1, "implausible run %+v", r)
	require.Positive(t, r.Latency.P50, "implausible run %+v", r)
	// No survivor can grant before a new leader is elected, which takes at
	// least a heartbeat timeout.
	assert.GreaterOrEqual(t, r.Trials[0], cfg.Raft.HeartbeatTimeout/2, "failover under half the %v heartbeat timeout", cfg.Raft.HeartbeatTimeout)
	rows := g4Rows(r, cfg.Raft.HeartbeatTimeout)
	if assert.Len(t, rows, 2, "rows %+v", rows) {
		assert.NotNil(t, rows[0].Met, "rows %+v", rows)
		assert.Equal(t, "s", rows[0].Unit, "rows %+v", rows)
	}
}

func TestG10(t *testing.T) {
	cfg := tinyMeshConfig(t)
	r, err := MeasureG10(t.Context(), cfg, time.Second)
	require.NoError(t, err)
	require.Greater(t, r.RSSMiB, 1.0, "implausible run %+v", r)
	require.GreaterOrEqual(t, r.PeakMiB, r.RSSMiB, "implausible run %+v", r)
	require.GreaterOrEqual(t, r.Window, time.Second, "implausible run %+v", r)
	rows := g10Rows(r)
	if assert.Len(t, rows, 2, "rows %+v", rows) {
		assert.NotNil(t, rows[0].Met, "rows %+v", rows)
		assert.Equal(t, "% core", rows[1].Unit, "rows %+v", rows)
	}
}
