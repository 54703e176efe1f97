package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	"github.com/licmesh/licmesh/mesh/selfupdate"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// build is a stand-in collectord build: a script that prints its version
// for `version`.
func build(version string) []byte { return []byte("#!/bin/sh\necho " + version + "\n") }

// installBuild writes the build of version as a binary in a fresh
// directory and returns its path.
func installBuild(t *testing.T, version string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in builds are shell scripts")
	}
	exe := filepath.Join(t.TempDir(), "collectord")
	require.NoError(t, os.WriteFile(exe, build(version), 0o755))
	return exe
}

// requireBuild checks that path holds the build of version.
func requireBuild(t *testing.T, path, version string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(build(version)), string(b), "%s", path)
}

// updateAgent makes an agent, version "test", whose binary is exe.
func updateAgent(t *testing.T, cfg config.Config, exe string, healthy func(context.Context) error) (*Agent, *clocktest.Fake) {
	t.Helper()
	clk := newFakeClock()
	a, err := New(cfg, Options{Clock: clk, Logger: testLogger(t), Version: "test", Hostname: "host1",
		Rand: func(n int64) int64 { return n / 2 }, Executable: exe, Healthy: healthy})
	require.NoError(t, err, "New")
	t.Cleanup(a.closeTransport)
	return a, clk
}

// running is an agent's Run in the background.
type running struct {
	done chan struct{}
	err  error // Run's answer, once done is closed
}

// runAgent runs the agent until it is ready; the test's end stops it.
func runAgent(t *testing.T, a *Agent) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{done: make(chan struct{})}
	go func() { r.err = a.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not stop")
		}
	})
	select {
	case <-a.Ready():
	case <-r.done:
		require.FailNowf(t, "Run returned before ready", "%v", r.err)
	}
	return r
}

// result waits for Run to return by itself.
func (r *running) result(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(20 * time.Second):
		require.FailNow(t, "Run did not return")
		return nil
	}
}

// ended reports whether Run has returned.
func (r *running) ended() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// artifact registers b with the cluster as the build for this platform.
func artifact(c *agenttest.Cluster, b []byte) *licmeshv1.UpdateArtifact {
	return &licmeshv1.UpdateArtifact{Os: runtime.GOOS, Arch: runtime.GOARCH, Sha256: c.AddArtifact(b), Size: int64(len(b))}
}

func order(rollout, action, version string, arts ...*licmeshv1.UpdateArtifact) *licmeshv1.UpdateOrder {
	return &licmeshv1.UpdateOrder{RolloutId: rollout, Action: action, Version: version, Artifacts: arts}
}

// waitReports waits until the masters have n update reports.
func waitReports(t *testing.T, c *agenttest.Cluster, n int) []*licmeshv1.ReportUpdateRequest {
	t.Helper()
	require.Eventually(t, func() bool { return len(c.UpdateReports()) >= n }, 20*time.Second, 5*time.Millisecond,
		"want %d update reports", n)
	return c.UpdateReports()
}

func readMarker(t *testing.T, cfg config.Config) (selfupdate.Pending, bool) {
	t.Helper()
	p, ok, err := selfupdate.ReadPending(filepath.Join(cfg.DataDir, PendingFile))
	require.NoError(t, err, "marker")
	return p, ok
}

// TestUpdateInstall: an order on the stream brings the build for this
// platform from a master that has it (the first one does not), swaps it in
// with the old one kept, leaves the marker for the new version's trial and
// ends Run for a restart that releases nothing.
func TestUpdateInstall(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.StreamEntitlements()
	m1, m2 := c.StartMaster(), c.StartMaster()
	m1.LackArtifacts()
	cfg := testConfig(t, c.Token(), m1, m2)
	exe := installBuild(t, "test")
	a, clk := updateAgent(t, cfg, exe, nil)
	done := runAgent(t, a)
	acquire(t, a, "seats", "alice")

	c.SetUpdate(order("r-1", ActionInstall, "2.0.0",
		&licmeshv1.UpdateArtifact{Os: "plan9", Arch: "mips", Sha256: c.AddArtifact([]byte("other")), Size: 5},
		artifact(c, build("2.0.0"))))
	require.ErrorIs(t, done.result(t), ErrRestart, "Run after the swap")

	requireBuild(t, exe, "2.0.0")
	requireBuild(t, exe+selfupdate.PrevSuffix, "test")
	assert.NoFileExists(t, exe+selfupdate.NextSuffix)
	p, ok := readMarker(t, cfg)
	require.True(t, ok, "no marker for the next start")
	assert.Equal(t, "r-1", p.RolloutID)
	assert.Equal(t, ActionInstall, p.Action)
	assert.Equal(t, "test", p.From)
	assert.Equal(t, "2.0.0", p.To)
	assert.True(t, p.StartedAt.Equal(clk.Now().UTC().Round(0)), "started %v, the clock says %v", p.StartedAt, clk.Now())
	assert.Equal(t, 2*time.Minute, p.Deadline.Sub(p.StartedAt), "trial time")
	assert.Empty(t, c.UpdateReports(), "reported before the new version ran")
	assert.Equal(t, 1, c.Downloads(), "builds served")
	assert.Len(t, c.Leases(), 1, "a restart released the lease")
	st := a.Status().Update
	require.NotNil(t, st)
	assert.Equal(t, UpdateRestarting, st.State)
	assert.Equal(t, "2.0.0", st.Target)
}

// TestUpdateRefused: a build that is not what the order says, or no build
// for this platform, is reported failed, and nothing is swapped.
func TestUpdateRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		art    func(c *agenttest.Cluster) *licmeshv1.UpdateArtifact
		detail string
	}{
		"bad hash": {func(c *agenttest.Cluster) *licmeshv1.UpdateArtifact {
			b, other := build("2.0.0"), sha256.Sum256([]byte("something else"))
			c.ServeArtifact(hex.EncodeToString(other[:]), b)
			return &licmeshv1.UpdateArtifact{Os: runtime.GOOS, Arch: runtime.GOARCH, Sha256: hex.EncodeToString(other[:]), Size: int64(len(b))}
		}, "wrong sha256"},
		"wrong size": {func(c *agenttest.Cluster) *licmeshv1.UpdateArtifact {
			a := artifact(c, build("2.0.0"))
			a.Size++
			return a
		}, "wrong size"},
		"says another version": {func(c *agenttest.Cluster) *licmeshv1.UpdateArtifact {
			return artifact(c, build("2.0.1"))
		}, `says version "2.0.1", want "2.0.0"`},
		"no build here": {func(c *agenttest.Cluster) *licmeshv1.UpdateArtifact {
			return &licmeshv1.UpdateArtifact{Os: "plan9", Arch: "mips", Sha256: c.AddArtifact(build("2.0.0")), Size: 20}
		}, "no build for " + runtime.GOOS + "/" + runtime.GOARCH},
		"not on any master": {func(c *agenttest.Cluster) *licmeshv1.UpdateArtifact {
			b := build("2.0.0")
			h := sha256.Sum256(b)
			return &licmeshv1.UpdateArtifact{Os: runtime.GOOS, Arch: runtime.GOARCH, Sha256: hex.EncodeToString(h[:]), Size: int64(len(b))}
		}, "404 Not Found"},
	} {
		t.Run(name, func(t *testing.T) {
			c := agenttest.NewCluster(t)
			c.StreamEntitlements()
			m := c.StartMaster()
			cfg := testConfig(t, c.Token(), m)
			exe := installBuild(t, "test")
			a, _ := updateAgent(t, cfg, exe, nil)
			done := runAgent(t, a)
			c.SetUpdate(order("r-1", ActionInstall, "2.0.0", tc.art(c)))

			r := waitReports(t, c, 1)[0]
			assert.False(t, r.GetOk(), "report %v", r)
			assert.Equal(t, "r-1", r.GetRolloutId())
			assert.Equal(t, ActionInstall, r.GetAction())
			assert.Equal(t, "test", r.GetVersion(), "the version running")
			assert.Contains(t, r.GetDetail(), tc.detail)
			requireBuild(t, exe, "test")
			assert.NoFileExists(t, exe+selfupdate.NextSuffix)
			assert.NoFileExists(t, exe+selfupdate.PrevSuffix)
			_, ok := readMarker(t, cfg)
			assert.False(t, ok, "marker left after a failed update")
			require.Eventually(t, func() bool { return a.Status().Update.State == UpdateFailed }, 5*time.Second, 5*time.Millisecond)
			require.False(t, done.ended(), "Run ended after a failed update")
		})
	}
}

// TestUpdateAlreadyRunning: an order for the running version is reported
// done at once (as from a collector that restarted into it), nothing
// downloaded.
func TestUpdateAlreadyRunning(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.StreamEntitlements()
	m := c.StartMaster()
	exe := installBuild(t, "test")
	a, _ := updateAgent(t, testConfig(t, c.Token(), m), exe, nil)
	runAgent(t, a)
	c.SetUpdate(order("r-2", ActionInstall, "test", artifact(c, build("test"))))
	r := waitReports(t, c, 1)[0]
	assert.True(t, r.GetOk(), "report %v", r)
	assert.Equal(t, "test", r.GetVersion())
	assert.Equal(t, "r-2", r.GetRolloutId())
	assert.Zero(t, c.Downloads(), "downloads")
	requireBuild(t, exe, "test")
	require.Eventually(t, func() bool { return a.Status().Update.State == UpdateDone }, 5*time.Second, 5*time.Millisecond)
}

// TestUpdatesUnmanaged: with updates_managed off, orders are ignored.
func TestUpdatesUnmanaged(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.StreamEntitlements()
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	cfg.UpdatesManaged = false
	exe := installBuild(t, "test")
	a, _ := updateAgent(t, cfg, exe, nil)
	runAgent(t, a)
	c.SetUpdate(order("r-3", ActionInstall, "2.0.0", artifact(c, build("2.0.0"))))
	require.Eventually(t, func() bool {
		u := a.Status().Update
		return u != nil && u.State == UpdateIgnored
	}, 10*time.Second, 5*time.Millisecond)
	assert.Zero(t, c.Downloads())
	assert.Empty(t, c.UpdateReports())
	requireBuild(t, exe, "test")
}

// TestUpdateRollbackToPrevious: a rollback to the version kept beside the
// binary puts it back without a download.
func TestUpdateRollbackToPrevious(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.StreamEntitlements()
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	exe := installBuild(t, "test")
	require.NoError(t, os.WriteFile(exe+selfupdate.PrevSuffix, build("1.0.0"), 0o755))
	a, _ := updateAgent(t, cfg, exe, nil)
	done := runAgent(t, a)
	c.SetUpdate(order("r-4", ActionRollback, "1.0.0", artifact(c, build("1.0.0"))))
	require.ErrorIs(t, done.result(t), ErrRestart)
	requireBuild(t, exe, "1.0.0")
	requireBuild(t, exe+selfupdate.PrevSuffix, "test")
	p, ok := readMarker(t, cfg)
	require.True(t, ok)
	assert.Equal(t, ActionRollback, p.Action)
	assert.Equal(t, "1.0.0", p.To)
	assert.Equal(t, "test", p.From)
	assert.Zero(t, c.Downloads(), "downloads")
}

// TestOrderHandledOncePerProcess: the stream repeats the order with every
// document; an order handled is not offered again, and a newer one replaces
// one not yet looked at.
func TestOrderHandledOncePerProcess(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, _ := newAgent(t, testConfig(t, c.Token(), m))
	o1, o2 := order("r-1", ActionInstall, "2.0.0"), order("r-2", ActionInstall, "3.0.0")
	a.offerUpdate(o1)
	a.offerUpdate(o2)
	require.Len(t, a.upd.orders, 1)
	got := <-a.upd.orders
	require.True(t, bytes.Equal([]byte(got.GetRolloutId()), []byte("r-2")), "the newer order is kept")
	require.True(t, a.upd.claim(keyOf(o1)))
	require.False(t, a.upd.claim(keyOf(o1)), "claimed twice")
	a.offerUpdate(o1)
	require.Empty(t, a.upd.orders, "a handled order offered again")
	a.offerUpdate(nil)
	require.Empty(t, a.upd.orders, "no order")
}

func TestCheckOrder(t *testing.T) {
	good := order("r-1", ActionInstall, "1.2.3")
	require.NoError(t, checkOrder(good))
	for name, o := range map[string]*licmeshv1.UpdateOrder{
		"no rollout":       order("", ActionInstall, "1.2.3"),
		"unknown action":   order("r-1", "upgrade", "1.2.3"),
		"no version":       order("r-1", ActionInstall, ""),
		"version w/ space": order("r-1", ActionInstall, "1.2 3"),
	} {
		assert.ErrorIs(t, checkOrder(o), ErrBadAnswer, name)
	}
	bad := []*licmeshv1.UpdateArtifact{{Os: "linux", Arch: "amd64", Sha256: "xyz", Size: 10}}
	_, err := pickArtifact(bad, "linux", "amd64")
	assert.ErrorIs(t, err, ErrBadAnswer, "bad sha256")
	bad[0].Sha256, bad[0].Size = hex.EncodeToString(make([]byte, 32)), 0
	_, err = pickArtifact(bad, "linux", "amd64")
	assert.ErrorIs(t, err, ErrBadAnswer, "no size")
}

// TestUpdateRefusesABuildLackingTheSourcesDriver: a staged build whose own
// check of this collector's usage sources fails (a collectord built for
// another site's database) is reported failed with its reason, and nothing
// is swapped; one too old to know the check is taken as before.
func TestUpdateRefusesABuildLackingTheSourcesDriver(t *testing.T) {
	lacking := []byte("#!/bin/sh\nif [ \"$1\" = check ]; then echo 'usage.sources_file: the sqlite driver is not built into this collectord' >&2; exit 1; fi\necho 2.0.0\n")
	old := []byte("#!/bin/sh\nif [ \"$1\" = check ]; then echo 'collectord: unknown command \"check\" (see collectord help)' >&2; exit 1; fi\necho 2.0.0\n")
	for name, tc := range map[string]struct {
		build []byte
		ok    bool
	}{"lacks the driver": {lacking, false}, "before the check": {old, true}} {
		t.Run(name, func(t *testing.T) {
			c := agenttest.NewCluster(t)
			c.StreamEntitlements()
			m := c.StartMaster()
			cfg := testConfig(t, c.Token(), m)
			dir := t.TempDir()
			cfg.Usage.SourcesFile = filepath.Join(dir, "sources.yaml")
			cfg.Usage.Installation, cfg.Usage.SpoolDir, cfg.Usage.PseudonymKeyFile = "inst", filepath.Join(dir, "spool"), filepath.Join(dir, "key")
			require.NoError(t, os.WriteFile(cfg.Usage.SourcesFile, []byte("sources: []\n"), 0o600))
			exe := installBuild(t, "test")
			a, _ := updateAgent(t, cfg, exe, nil)
			done := runAgent(t, a)
			c.SetUpdate(order("r-1", ActionInstall, "2.0.0", artifact(c, tc.build)))
			if tc.ok {
				require.ErrorIs(t, done.result(t), ErrRestart, "Run after the swap")
				return
			}
			r := waitReports(t, c, 1)[0]
			assert.False(t, r.GetOk(), "report %v", r)
			assert.Contains(t, r.GetDetail(), "cannot load this collector's usage sources")
			assert.Contains(t, r.GetDetail(), "the sqlite driver is not built into this collectord")
			requireBuild(t, exe, "test")
			assert.NoFileExists(t, exe+selfupdate.NextSuffix)
		})
	}
}
