//go:build unix

package meter

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/sources"
)

// productDB makes a SQLite product database with users (raw IDs
// user-N@corp.example), two logons and seven cases, and returns its path.
func productDB(t *testing.T, users int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "product.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	stmts := []string{
		"CREATE TABLE users (uid TEXT, role TEXT, enabled INT, locked INT, trashed INT)",
		"CREATE TABLE logons (uid TEXT, role TEXT, started INT, ended INT)",
		"CREATE TABLE cases (id INT)",
		"INSERT INTO cases VALUES (1), (2), (3), (4), (5), (6), (7)",
		fmt.Sprintf("INSERT INTO logons VALUES ('user-1@corp.example', 'staff', %d, NULL), ('user-2@corp.example', 'admin', %d, %d)",
			t0.Add(-time.Hour).Unix(), t0.Add(-3*time.Hour).Unix(), t0.Add(-2*time.Hour).Unix()),
	}
	roles := []string{"admin", "staff", "manager", "rep"}
	for i := range users {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO users VALUES ('user-%d@corp.example', '%s', %d, 0, 0)", i, roles[i%4], i%2))
	}
	for _, s := range stmts {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
	return path
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestSQLiteSourceEndToEnd runs a real SQLite source through the meter to
// the masters: samples arrive with every user pseudonymised, no raw ID is
// on disk or on the wire, and a sample every 10 s costs well under 0.5% of
// a core.
func TestSQLiteSourceEndToEnd(t *testing.T) {
	e := newEnv(t)
	db := productDB(t, 50)
	cfgs, err := sources.ParseFile("sources.yaml", []byte(`
sources:
  - name: product
    kind: sql
    interval: 10s
    timeout: 5s
    time_zone: UTC
    roles: {admin: super}
    sql:
      driver: sqlite
      dsn: `+db+`
      since_format: unix
      scalars:
        users: SELECT COUNT(*) FROM users
        cases: SELECT COUNT(*) FROM cases
      users: SELECT uid AS id, role, enabled, locked, trashed AS in_trash FROM users
      logons: SELECT uid AS user_id, role, 0 AS locked, started AS started_at, ended AS ended_at FROM logons WHERE ended IS NULL OR ended > ?
`))
	require.NoError(t, err)
	key, err := LoadKey(filepath.Join(t.TempDir(), "pseudonym.key"))
	require.NoError(t, err)
	jobs, err := sources.Jobs(cfgs, sources.Options{Clock: e.clock, HashKey: key})
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, j := range jobs {
			j.Source.Close()
		}
	})
	m := e.open(jobs...)
	e.run(m)
	epoch := m.Stats().Epoch

	// The runner's first wait is 0 (SourceRand 0), then 9 s (interval
	// less the jitter): each 10 s step is one collection.
	require.Eventually(t, func() bool { return len(e.master.committed(epoch)) == 1 }, 10*time.Second, poll, "the first sample delivered")
	const cycles = 30
	before := cpuTime(t)
	for i := 1; i <= cycles; i++ {
		e.clock.WaitAfters(t, i+1)
		e.clock.Advance(10 * time.Second)
		require.Eventually(t, func() bool { return len(e.master.committed(epoch)) == i+1 }, 10*time.Second, poll, "a sample delivered")
	}
	perSample := (cpuTime(t) - before) / cycles
	t.Logf("CPU per sample (collect, spool, report; race detector on if -race): %v", perSample)
	budget := 10 * time.Second / 200 // 0.5% of a core at one sample per 10 s
	assert.LessOrEqual(t, perSample, budget, "a sample costs %v of CPU, over the %v budget", perSample, budget)

	recs := e.master.committed(epoch)
	s := recs[len(recs)-1].GetSample()
	assert.Equal(t, "product", s.GetSource(), "last sample: %v", s)
	assert.Equal(t, int64(50), s.GetScalars()["users"], "last sample: %v", s)
	assert.Equal(t, int64(7), s.GetScalars()["cases"], "last sample: %v", s)
	assert.Equal(t, e.clock.Now().UnixMilli(), s.GetAtMs(), "last sample: %v", s)
	require.Len(t, s.GetUsers(), 50, "users")
	want := sources.Pseudonym(key, "user-4@corp.example")
	found := false
	for _, u := range s.GetUsers() {
		require.NotContains(t, u.GetUserId(), "corp.example", "a raw user ID reached the masters: %v", u)
		if u.GetUserId() == string(want) {
			found = u.GetRole() == "super" && !u.GetEnabled()
		}
	}
	assert.True(t, found, "user-4 is not among the users as super, disabled, pseudonym %s", want)
	assert.Len(t, s.GetLogons(), 2, "logons: %v", s.GetLogons())
	// Nor is one in the spool.
	files, _ := filepath.Glob(filepath.Join(e.cfg.SpoolDir, "*"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err == nil {
			assert.False(t, bytes.Contains(raw, []byte("corp.example")), "%s holds a raw user ID", f)
		}
	}
	st := m.Stats()
	if assert.Len(t, st.Sources, 1, "source stats %+v", st.Sources) {
		assert.Equal(t, cycles+1, st.Sources[0].Runs, "source stats %+v", st.Sources)
		assert.Zero(t, st.Sources[0].Failures, "source stats %+v", st.Sources)
	}
}

// TestIdleCostsNothing: between samples the meter waits on channels, with
// no polling: a second of idling takes (almost) no CPU.
func TestIdleCostsNothing(t *testing.T) {
	e := newEnv(t)
	m := e.open()
	e.run(m)
	m.record(t.Context(), sampleN(0, 10))
	require.Eventually(t, func() bool { return m.Stats().RecordsAcked == 1 }, 10*time.Second, poll, "delivered")
	before, calls := cpuTime(t), e.master.callCount()
	time.Sleep(time.Second) // the measurement: real time passing with nothing to do
	used := cpuTime(t) - before
	assert.LessOrEqual(t, used, 50*time.Millisecond, "idle for 1s used %v of CPU", used)
	assert.Equal(t, calls, e.master.callCount(), "reports while idle")
}
