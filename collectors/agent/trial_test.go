package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/mesh/selfupdate"
)

// afterSwap sets the scene a swap to "test" (the agents' version) leaves:
// the binary, the one it replaced (1.0.0) and the marker.
func afterSwap(t *testing.T, cfg config.Config, to, detail string) string {
	t.Helper()
	exe := installBuild(t, to)
	require.NoError(t, os.WriteFile(exe+selfupdate.PrevSuffix, build("1.0.0"), 0o755))
	require.NoError(t, os.MkdirAll(cfg.DataDir, 0o700))
	now := time.Now().UTC().Round(0)
	require.NoError(t, selfupdate.WritePending(filepath.Join(cfg.DataDir, PendingFile), selfupdate.Pending{
		RolloutID: "r-1", Action: ActionInstall, From: "1.0.0", To: "test",
		StartedAt: now, Deadline: now.Add(2 * time.Minute), Detail: detail,
	}))
	return exe
}

// TestTrialHealthy: the new version, once it has a document from a master,
// its local API and a passing health command, reports the update done,
// once, and removes the marker.
func TestTrialHealthy(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.StreamEntitlements()
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	cfg.UpdateHealthCommand = []string{"sh", "-c", `test "$LICMESH_VERSION" = test`}
	exe := afterSwap(t, cfg, "test", "")
	// The masters still send the order the collector restarted for.
	c.SetUpdate(order("r-1", ActionInstall, "test", artifact(c, build("test"))))
	var probes atomic.Int32
	a, _ := updateAgent(t, cfg, exe, func(context.Context) error { probes.Add(1); return nil })
	runAgent(t, a)

	r := waitReports(t, c, 1)[0]
	assert.True(t, r.GetOk(), "report %v", r)
	assert.Equal(t, "r-1", r.GetRolloutId())
	assert.Equal(t, ActionInstall, r.GetAction())
	assert.Equal(t, "test", r.GetVersion())
	require.Eventually(t, func() bool { _, ok := readMarker(t, cfg); return !ok }, 5*time.Second, 5*time.Millisecond, "marker kept")
	require.Eventually(t, func() bool { return a.Status().Update.State == UpdateDone }, 5*time.Second, 5*time.Millisecond)
	assert.Len(t, c.UpdateReports(), 1, "reported twice")
	assert.NotZero(t, probes.Load(), "local API not checked")
	requireBuild(t, exe, "test")
}

// TestTrialHealthCommandFails: a failing health command puts the previous
// version back, with the reason in the marker for it to report.
func TestTrialHealthCommandFails(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.StreamEntitlements()
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	cfg.UpdateHealthCommand = []string{"sh", "-c", "echo product down; exit 3"}
	exe := afterSwap(t, cfg, "test", "")
	a, _ := updateAgent(t, cfg, exe, nil)
	done := runAgent(t, a)
	require.ErrorIs(t, done.result(t), ErrRestart)
	requireBuild(t, exe, "1.0.0")
	requireBuild(t, exe+selfupdate.PrevSuffix, "test")
	p, ok := readMarker(t, cfg)
	require.True(t, ok, "marker")
	assert.Contains(t, p.Detail, "update_health_command failed: exit status 3: product down")
	assert.Empty(t, c.UpdateReports(), "the old version reports, after the restart")
}

// TestTrialDeadline: a new version with no document from a master by the
// deadline is reverted.
func TestTrialDeadline(t *testing.T) {
	c := agenttest.NewCluster(t) // no entitlement stream
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	exe := afterSwap(t, cfg, "test", "")
	a, clk := updateAgent(t, cfg, exe, nil)
	done := runAgent(t, a)
	for i := 0; !done.ended(); i++ {
		require.Less(t, i, 1000, "not reverted after %v", 10*time.Duration(i)*time.Second)
		clk.Advance(10 * time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	require.ErrorIs(t, done.result(t), ErrRestart)
	requireBuild(t, exe, "1.0.0")
	p, _ := readMarker(t, cfg)
	assert.Contains(t, p.Detail, "not healthy by the trial's deadline")
	assert.Contains(t, p.Detail, "no entitlement document from a master")
}

// TestRevertedReports: the previous version, started again after a revert,
// reports the failure with its reason (retrying until a master takes it)
// and removes the marker; it does not act on the order again.
func TestRevertedReports(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.StreamEntitlements()
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	exe := afterSwap(t, cfg, "test", "")
	// The marker says the swap was to 2.0.0; this is "test", the old one.
	p, _ := readMarker(t, cfg)
	p.To, p.From, p.Detail = "2.0.0", "test", "update_health_command failed: exit status 1"
	require.NoError(t, selfupdate.WritePending(filepath.Join(cfg.DataDir, PendingFile), p))
	c.SetUpdate(order("r-1", ActionInstall, "2.0.0", artifact(c, build("2.0.0"))))
	var refused atomic.Bool
	c.SetHooks(agenttest.Hooks{Before: func(method string) error {
		if method == "ReportUpdate" && !refused.Swap(true) {
			return connect.NewError(connect.CodeUnavailable, errors.New("leader election"))
		}
		return nil
	}})
	a, clk := updateAgent(t, cfg, exe, nil)
	runAgent(t, a)
	for i := 0; len(c.UpdateReports()) == 0; i++ {
		require.Less(t, i, 2000, "no report")
		clk.Advance(100 * time.Millisecond)
		time.Sleep(5 * time.Millisecond)
	}
	r := c.UpdateReports()[0]
	assert.False(t, r.GetOk(), "report %v", r)
	assert.Equal(t, "test", r.GetVersion(), "the version running")
	assert.Equal(t, "reverted: update_health_command failed: exit status 1", r.GetDetail())
	assert.GreaterOrEqual(t, c.Calls("ReportUpdate"), 2, "the refused report was not retried")
	require.Eventually(t, func() bool { _, ok := readMarker(t, cfg); return !ok }, 5*time.Second, 5*time.Millisecond, "marker kept")
	require.Eventually(t, func() bool { return a.Status().Update.State == UpdateFailed }, 5*time.Second, 5*time.Millisecond)
	assert.Zero(t, c.Downloads(), "the failed version downloaded again")
	requireBuild(t, exe, "test")
}

// TestDamagedMarker: a marker that does not parse is removed; the collector
// runs on.
func TestDamagedMarker(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	require.NoError(t, os.MkdirAll(cfg.DataDir, 0o700))
	path := filepath.Join(cfg.DataDir, PendingFile)
	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	a, _ := updateAgent(t, cfg, installBuild(t, "test"), nil)
	runAgent(t, a)
	require.Eventually(t, func() bool { _, err := os.Stat(path); return os.IsNotExist(err) }, 5*time.Second, 5*time.Millisecond)
	assert.Nil(t, a.Status().Update)
}
