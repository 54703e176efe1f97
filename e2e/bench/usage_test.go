package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

// tinyUsageConfig shrinks U1 and U2 to test size.
func tinyUsageConfig(t *testing.T) Config {
	t.Helper()
	cfg := tinyMeshConfig(t)
	cfg.Usage.Samples = 30
	cfg.Usage.BatchRecords = 10
	cfg.Usage.Interval = time.Second
	cfg.Usage.Window = 3 * time.Second
	cfg.Usage.DBUsers = 40
	cfg.Usage.DBCases = 300
	cfg.Usage.DBLogons = 200
	return cfg
}

func TestU1(t *testing.T) {
	cfg := tinyUsageConfig(t)
	runs, err := MeasureU1(t.Context(), cfg)
	require.NoError(t, err)
	require.Len(t, runs, 4, "runs: %+v", runs)
	for _, r := range runs {
		calls := (30/r.Collectors + r.PerCall - 1) / r.PerCall * r.Collectors
		assert.Equal(t, 30, r.Samples, "implausible run %+v", r)
		assert.Equal(t, calls, r.Calls, "implausible run %+v", r)
		assert.Positive(t, r.PerSecond, "implausible run %+v", r)
		assert.Equal(t, 10, r.Users, "implausible run %+v", r)
		// One entry per call, give or take an unrelated one; never fewer.
		assert.GreaterOrEqual(t, r.Use.Entries, uint64(r.Calls), "%d/call c=%d: raft entries for %d calls", r.PerCall, r.Collectors, r.Calls)
		assert.LessOrEqual(t, r.Use.Entries, uint64(r.Calls)+2, "%d/call c=%d: raft entries for %d calls", r.PerCall, r.Collectors, r.Calls)
	}
	rows := u1Rows(runs)
	names := map[string]Result{}
	for _, row := range rows {
		names[row.Name] = row
	}
	for _, c := range []int{1, 3} {
		row, ok := names[fmt.Sprintf("usage 10/call ÷ 1/call c=%d", c)]
		if assert.True(t, ok, "no ratio row at c=%d", c) {
			assert.NotNil(t, row.Met, "ratio row at c=%d: %+v", c, row)
			assert.Positive(t, row.Value, "ratio row at c=%d: %+v", c, row)
			assert.Contains(t, row.Note, "1/call", "ratio row at c=%d: %+v", c, row)
		}
	}
	assert.GreaterOrEqual(t, names["usage raft entries per sample 1/call c=1"].Value, 1.0, "entries per sample at one sample per call")
	batched := u1Rows(runs[2:3])
	// A batched run without its 1/call run is not met.
	if assert.Len(t, batched, 3, "rows %+v", batched) {
		if assert.NotNil(t, batched[2].Met, "rows %+v", batched) {
			assert.False(t, *batched[2].Met, "a batched run without its 1/call run: %+v", batched)
		}
	}
}

// TestUsageSenderRefused shows that a report the masters refuse fails the
// sender, and one they do not acknowledge in full does too.
func TestUsageSenderRefused(t *testing.T) {
	cfg := tinyUsageConfig(t)
	m, err := StartMesh(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(m.Close)
	cols, err := m.EnrollCollectors(t.Context(), 1)
	require.NoError(t, err)
	t.Cleanup(func() { closeCollectors(cols) })
	s := newUsageSender(cols[0].Client(m.CollectorAddr(0)), "refused", 2)
	require.NoError(t, s.report(t.Context(), 2, cfg.Mesh.CallTimeout))
	s.users[0].Role = "wizard"
	err = s.report(t.Context(), 1, cfg.Mesh.CallTimeout)
	assert.ErrorIs(t, err, ErrMesh, "a record with an unknown role")
	assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "a record with an unknown role: %v", err)
	s.users[0].Role = "staff"
	// An older epoch is ignored whole: answered, but not acknowledged.
	s.epoch--
	assert.ErrorIs(t, s.report(t.Context(), 1, cfg.Mesh.CallTimeout), ErrNotAcked, "a report from an older spool")
}

func TestU2(t *testing.T) {
	for _, site := range []U2Site{U2Typical, U2SQLite} {
		t.Run(string(site), func(t *testing.T) { testU2(t, site) })
	}
}

func testU2(t *testing.T, site U2Site) {
	cfg := tinyUsageConfig(t)
	r, err := MeasureU2(t.Context(), cfg, site)
	if errors.Is(err, harness.ErrSkipped) {
		t.Skip(err)
	}
	require.NoError(t, err)
	assert.Equal(t, site, r.Site)
	require.Greater(t, r.RSSMiB, 1.0, "implausible run %+v", r)
	require.GreaterOrEqual(t, r.PeakMiB, r.RSSMiB, "implausible run %+v", r)
	require.GreaterOrEqual(t, r.Window, 3*time.Second, "implausible run %+v", r)
	// /proc counts CPU in 10 ms ticks; an idle collector can use less than
	// one in a 3 s test window, so zero is a reading, not a failure.
	require.GreaterOrEqual(t, r.CPU, time.Duration(0), "implausible run %+v", r)
	// The samples reached the masters.
	assert.GreaterOrEqual(t, r.Acked, uint64(2), "samples did not reach the masters: %+v", r)
	assert.Equal(t, int64(r.DB.Active), r.Users, "samples did not reach the masters: %+v", r)
	assert.Equal(t, int64(300), r.Cases, "samples did not reach the masters: %+v", r)
	rows := u2Rows(r)
	if assert.Len(t, rows, 2, "rows %+v", rows) {
		// The goals are the typical site's.
		assert.Equal(t, site == U2Typical, rows[0].Met != nil, "rows %+v", rows)
		assert.Equal(t, "MiB", rows[0].Unit, "rows %+v", rows)
		assert.Equal(t, "% core", rows[1].Unit, "rows %+v", rows)
		assert.Contains(t, rows[1].Note, "acknowledged", "rows %+v", rows)
	}
}

// TestCreateProduct runs demoproduct as U2 does. The database and its
// queries are collectors/fakeproduct's, whose tests read it with the real
// SQL source; this holds what U2 relies on of the binary: the summary it
// prints is the sizes asked for, and the sources file meters that database
// at U2's interval.
func TestCreateProduct(t *testing.T) {
	uc := tinyUsageConfig(t).Usage
	dir := t.TempDir()
	db, srcFile, err := createProduct(t.Context(), dir, uc)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "processmaker.db"), db.Path)
	assert.FileExists(t, db.Path)
	assert.Equal(t, uc.DBUsers, db.Users, "summary %+v", db)
	assert.Equal(t, uc.DBCases, db.Cases, "summary %+v", db)
	assert.Equal(t, uc.DBLogons, db.Logons, "summary %+v", db)
	// Some but not all users closed: the users scalar counts the others.
	assert.NotZero(t, db.Active, "summary %+v", db)
	assert.Less(t, db.Active, db.Users, "summary %+v", db)
	src, err := os.ReadFile(srcFile)
	require.NoError(t, err)
	assert.Contains(t, string(src), db.Path, "the sources file does not name the database")
	assert.Contains(t, string(src), "interval: "+uc.Interval.String(), "the sources file's interval")
}

func TestUsageConfigValidate(t *testing.T) {
	for name, edit := range map[string]func(*UsageConfig){
		"no samples":         func(c *UsageConfig) { c.Samples = 0 },
		"empty batch":        func(c *UsageConfig) { c.BatchRecords = 0 },
		"batch over limit":   func(c *UsageConfig) { c.BatchRecords = maxUsageRecords + 1 },
		"negative users":     func(c *UsageConfig) { c.Users = -1 },
		"sub-second source":  func(c *UsageConfig) { c.Interval = time.Millisecond },
		"window < interval":  func(c *UsageConfig) { c.Window = c.Interval / 2 },
		"database, no users": func(c *UsageConfig) { c.DBUsers = 0 },
	} {
		cfg := DefaultConfig()
		edit(&cfg.Usage)
		assert.ErrorIs(t, cfg.Validate(), ErrInvalidConfig, name)
	}
}
