package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// Coordinated updates (issue 15, promise P5), with real binaries of two
// versions: a release published on a real hub reaches a 3-master,
// 4-collector site; every collector moves first, in waves, then the
// masters one at a time, the leader last, while a client keeps taking
// seats; a release whose collectors fail their health check stops at the
// canary, which goes back, and no master moves; the offline bundle does
// the same with the hub stopped.

var versioned struct {
	once sync.Once
	dir  string
	err  error
}

// TestMain removes the builds made for the tests once every test is done
// with them.
func TestMain(m *testing.M) {
	code := m.Run()
	if versioned.dir != "" {
		os.RemoveAll(versioned.dir)
	}
	harness.RemoveBuilt()
	os.Exit(code)
}

// versionedBinaries builds meshd and collectord as 1.0.0 and 2.0.0, once
// per test binary: dir/<version>/{meshd,collectord}.
func versionedBinaries(t *testing.T) string {
	t.Helper()
	versioned.once.Do(func() {
		dir, err := os.MkdirTemp("", "licmesh-versions-")
		if err != nil {
			versioned.err = err
			return
		}
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..")
		for _, v := range []string{"1.0.0", "2.0.0"} {
			ld := "-X github.com/licmesh/licmesh/node/version.Version=" + v + " -X main.version=" + v
			for _, b := range []struct{ pkg, cgo string }{{"./cmd/meshd", ""}, {"./cmd/collectord", "CGO_ENABLED=0"}} {
				cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ld, "-o", filepath.Join(dir, v)+"/", b.pkg)
				cmd.Dir = root
				cmd.Env = os.Environ()
				if b.cgo != "" {
					cmd.Env = append(cmd.Env, b.cgo)
				}
				if out, err := cmd.CombinedOutput(); err != nil {
					versioned.err = fmt.Errorf("go build %s at %s: %v\n%s", b.pkg, v, err, out)
					return
				}
			}
		}
		versioned.dir = dir
	})
	require.NoError(t, versioned.err)
	return versioned.dir
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// publish publishes version on hub through meshctl, as the vendor's
// release manager would, and returns the hub's release root file.
func publish(t *testing.T, hub *harness.Hub, bins, version string) string {
	t.Helper()
	key, err := hub.SignIn(hub.Admin, hub.Pass)
	require.NoError(t, err)
	stage := t.TempDir()
	plat := runtime.GOOS + "-" + runtime.GOARCH
	copyFile(t, filepath.Join(bins, version, "meshd"), filepath.Join(stage, "meshd-"+plat))
	copyFile(t, filepath.Join(bins, version, "collectord"), filepath.Join(stage, "collectord-"+plat))
	notes := filepath.Join(stage, "notes.txt")
	require.NoError(t, os.WriteFile(notes, []byte("Faster seats.\n"), 0o644))
	env := []string{"LICMESH_HUB_ADDR=" + hub.URL(), "LICMESH_HUB_CA=" + hub.CertFile(), "LICMESH_HUB_KEY=" + key}
	meshctl := filepath.Join(mustBinaries(t), "meshctl")
	out, errOut, code := harness.RunCmd(meshctl, []string{"hub", "release", "publish", "--version", version, "--notes-file", notes,
		"--doc-url", "https://docs.example.com/" + version, filepath.Join(stage, "meshd-"+plat), filepath.Join(stage, "collectord-"+plat)}, env)
	require.Equal(t, 0, code, "publish: %s", errOut)
	assert.Contains(t, out, "published "+version)
	root := filepath.Join(stage, "root.json")
	_, errOut, code = harness.RunCmd(meshctl, []string{"hub", "release", "root", "-f", root}, env)
	require.Equal(t, 0, code, "release root: %s", errOut)
	return root
}

func mustBinaries(t *testing.T) string {
	t.Helper()
	dir, err := harness.Binaries()
	require.NoError(t, err)
	return dir
}

// updateSite is a 3-master cluster and 4 collectors, all on 1.0.0, each
// with its own copy of its binary.
type updateSite struct {
	c      *harness.Cluster
	leader *harness.Master
	cols   []*harness.Collector
}

func startUpdateSite(t *testing.T, hub *harness.Hub, v *vendorSite, bins string, env []string, colYAML string, settings ...string) *updateSite {
	t.Helper()
	binDir := t.TempDir()
	for _, id := range []string{"m1", "m2", "m3"} {
		copyFile(t, filepath.Join(bins, "1.0.0", "meshd"), filepath.Join(binDir, id, "meshd"))
	}
	c := harness.StartCluster(t, 3, harness.Options{BinDir: binDir, Env: append([]string{"LICMESH_ROLLOUT_TICK=200ms"}, env...),
		ExtraArgs: []string{"--vendor-keys", hub.Vendor, "--license-check-interval", "2s"}})
	s := &updateSite{c: c, leader: c.WaitReady(60 * time.Second)}
	// Before activation, so that nothing checks the hub until the test
	// says so.
	_, errOut, code := s.leader.Meshctl(append([]string{"update", "settings"}, settings...)...)
	require.Equal(t, 0, code, "settings: %s", errOut)
	_, errOut, code = s.leader.Meshctl("activate", "--hub", hub.URL(), "--hub-ca", hub.CertFile(), "--api-key", v.key)
	require.Equal(t, 0, code, "activate: %s", errOut)
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		out, _, _ := s.leader.Meshctl("pool", "list", "-o", "csv")
		assert.Contains(ct, out, "orektic__timehseetProjects,2,hard,")
	}, 30*time.Second, 200*time.Millisecond, "the bound license is in force")
	token := s.leader.JoinToken(10)
	for i := range 4 {
		col := harness.NewCollector(t, fmt.Sprintf("c%d", i+1), c.CollectorAddrs(), token, colYAML)
		col.Bin = filepath.Join(t.TempDir(), "collectord")
		copyFile(t, filepath.Join(bins, "1.0.0", "collectord"), col.Bin)
		col.Start()
		s.cols = append(s.cols, col)
	}
	for _, col := range s.cols {
		col.WaitReady(60 * time.Second)
	}
	return s
}

// dumpOnFailure has every master print its goroutines into its log when
// the test fails, and keeps the logs under $LICMESH_E2E_DUMP when set: a
// stalled rollout is read from what each loop was blocked on.
func (s *updateSite) dumpOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, m := range s.c.Masters {
			if p := m.Process(); p != nil && p.Running() {
				_ = p.Signal(syscall.SIGQUIT)
			}
		}
		time.Sleep(time.Second)
		dir := os.Getenv("LICMESH_E2E_DUMP")
		if dir == "" {
			return
		}
		for _, m := range s.c.Masters {
			if p := m.Process(); p != nil {
				copyFile(t, p.LogPath, filepath.Join(dir, t.Name()+"-"+m.ID+".log"))
			}
		}
	})
}

// status is the update status as a master answers it.
func (s *updateSite) status(t require.TestingT) *licmeshv1.UpdateStatusResponse {
	for _, m := range s.c.Masters {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := m.Admin().UpdateStatus(ctx, connect.NewRequest(&licmeshv1.UpdateStatusRequest{}))
		cancel()
		if err == nil {
			return r.Msg
		}
	}
	require.FailNow(t, "no master answers")
	return nil
}

// meshctl runs meshctl on any master that answers.
func (s *updateSite) meshctl(t *testing.T, args ...string) string {
	t.Helper()
	var last string
	for _, m := range s.c.Masters {
		out, errOut, code := m.Meshctl(args...)
		if code == 0 {
			return out
		}
		last = errOut
	}
	require.FailNow(t, "meshctl "+strings.Join(args, " ")+": "+last)
	return ""
}

// rolloutOf returns the rollout id, current or past.
func rolloutOf(st *licmeshv1.UpdateStatusResponse, version string) *licmeshv1.Rollout {
	if r := st.GetRollout(); r != nil && r.GetVersion() == version {
		return r
	}
	return nil
}

// waitPhase waits until the rollout to version reaches one of phases.
func (s *updateSite) waitPhase(t *testing.T, version string, timeout time.Duration, phases ...string) *licmeshv1.Rollout {
	t.Helper()
	var r *licmeshv1.Rollout
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		r = rolloutOf(s.status(ct), version)
		if assert.NotNil(ct, r) {
			assert.Contains(ct, phases, r.GetPhase(), "rollout %s: %s (%s)", r.GetId(), r.GetPhase(), r.GetHaltReason())
		}
	}, timeout, 250*time.Millisecond)
	return r
}

// seatClient takes and gives back seats through whichever collector is up,
// all the time, and records the longest time without a seat granted.
type seatClient struct {
	mu      sync.Mutex
	last    time.Time
	maxGap  time.Duration
	granted atomic.Int64
	// transient counts calls the collector gave up on as unavailable;
	// errs are refusals, which must not happen.
	transient atomic.Int64
	errs      []string
}

func runSeatClient(t *testing.T, cols []*harness.Collector) (*seatClient, func()) {
	sc := &seatClient{last: time.Now()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			col := cols[i%len(cols)]
			// A holder per collector, as a product's users log on through
			// their own application server.
			l, err := col.Acquire("orektic__timehseetProjects", fmt.Sprintf("%s-u%d", col.Name, i%7))
			now := time.Now()
			var ne *net.OpError
			switch {
			case err == nil:
				sc.mu.Lock()
				sc.maxGap = max(sc.maxGap, now.Sub(sc.last))
				sc.last = now
				sc.mu.Unlock()
				sc.granted.Add(1)
				_ = col.Release(l.ID)
			case errors.As(err, &ne) || strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "EOF"):
				// That collector is restarting on its new release: the
				// product would use another.
			case strings.HasPrefix(err.Error(), "503 "):
				// Every master busy for the call's whole budget (a master
				// restarting while leadership moves): the product retries,
				// and the longest gap between grants says what it cost.
				sc.transient.Add(1)
			default:
				sc.mu.Lock()
				if len(sc.errs) < 20 {
					sc.errs = append(sc.errs, err.Error())
				}
				sc.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return sc, func() { cancel(); <-done }
}

// waitMasters waits until gossip shows every master on version (a
// restarted master's new version reaches the others within a gossip round
// or two).
func (s *updateSite) waitMasters(t *testing.T, version string) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		vs := versionsOf(s.status(ct).GetMasters())
		assert.Len(ct, vs, 3)
		for id, ver := range vs {
			assert.Equal(ct, version, ver, "master %s", id)
		}
	}, 30*time.Second, 250*time.Millisecond)
}

func versionsOf(nodes []*licmeshv1.NodeVersion) map[string]string {
	out := map[string]string{}
	for _, n := range nodes {
		out[n.GetId()] = n.GetVersion()
	}
	return out
}

// TestRolloutCollectorsFirstThenMastersLeaderLast publishes 2.0.0 on a
// real hub; the 1.0.0 site finds it at a check and installs it on its own
// (auto-download and auto-install, the defaults), then goes back when the
// vendor withdraws it.
func TestRolloutCollectorsFirstThenMastersLeaderLast(t *testing.T) {
	t.Parallel()
	bins := versionedBinaries(t)
	hub := harness.StartHub(t)
	v := newVendorSite(t, hub)
	// Installs come by themselves (the default), with this plan.
	s := startUpdateSite(t, hub, v, bins, nil, "", "--auto-install", "on", "--canary", "1", "--batch", "2", "--wave-timeout", "2m")
	s.dumpOnFailure(t)
	publish(t, hub, bins, "1.0.0")
	publish(t, hub, bins, "2.0.0")

	sc, stop := runSeatClient(t, s.cols)
	leaderBefore := s.c.Leader()
	require.NotNil(t, leaderBefore)
	// The check finds 2.0.0; the leader downloads it and starts the
	// rollout on its own.
	out := s.meshctl(t, "update", "check")
	assert.Contains(t, out, "2.0.0")
	r := s.waitPhase(t, "2.0.0", 4*time.Minute, "done", "halted")
	stop()
	require.Equal(t, "done", r.GetPhase(), "halted: %s", r.GetHaltReason())
	assert.Equal(t, "auto-install", r.GetStartedBy())
	for _, rel := range s.status(t).GetReleases() {
		if rel.GetVersion() == "2.0.0" {
			assert.True(t, rel.GetDownloaded())
			assert.Equal(t, "Faster seats.\n", rel.GetNotes())
		}
	}

	// Everything runs 2.0.0, by its own account.
	s.waitMasters(t, "2.0.0")
	for _, col := range s.cols {
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			cs, err := col.Status()
			if assert.NoError(ct, err) {
				assert.Equal(ct, "2.0.0", cs["version"], "collector %s", col.Name)
			}
		}, 20*time.Second, 200*time.Millisecond)
	}

	// The record: every collector on 2.0.0 before the first master was
	// told to move; the masters one at a time; the leader of the start
	// last.
	var lastCollector int64
	waves := map[int32]int{}
	for _, u := range r.GetCollectors() {
		require.Equal(t, "updated", u.GetState(), "collector %s: %s", u.GetId(), u.GetDetail())
		lastCollector = max(lastCollector, u.GetAtMs())
		waves[u.GetWave()]++
	}
	assert.Equal(t, map[int32]int{0: 1, 1: 2, 2: 1}, waves, "a canary, then batches of 2")
	ms := r.GetMasters()
	require.Len(t, ms, 3)
	for i, u := range ms {
		require.Equal(t, "updated", u.GetState(), "master %s: %s", u.GetId(), u.GetDetail())
		assert.Greater(t, u.GetOrderedAtMs(), lastCollector, "master %s was ordered before the last collector was on 2.0.0", u.GetId())
		if i > 0 {
			assert.GreaterOrEqual(t, u.GetOrderedAtMs(), ms[i-1].GetAtMs(), "master %s moved before %s was back", u.GetId(), ms[i-1].GetId())
		}
	}
	assert.Equal(t, leaderBefore.ID, ms[2].GetId(), "the leader goes last")

	// Quorum was never lost: seats kept coming, never more than about an
	// election apart.
	sc.mu.Lock()
	assert.Empty(t, sc.errs, "refusals during the rollout")
	assert.Greater(t, sc.granted.Load(), int64(50))
	assert.Less(t, sc.maxGap, 5*time.Second, "the longest wait for a seat")
	sc.mu.Unlock()
	t.Logf("seats granted during the rollout: %d, longest gap %s, calls given up as unavailable: %d", sc.granted.Load(), sc.maxGap, sc.transient.Load())

	// The vendor withdraws 2.0.0: at its next check the site goes back to
	// 1.0.0 by itself, the masters first this time, so that no master
	// runs a release newer than its collectors' at any point.
	key, err := hub.SignIn(hub.Admin, hub.Pass)
	require.NoError(t, err)
	_, errOut, code := harness.RunCmd(filepath.Join(mustBinaries(t), "meshctl"), []string{"hub", "release", "withdraw", "2.0.0", "--reason", "corrupts the spool"},
		[]string{"LICMESH_HUB_ADDR=" + hub.URL(), "LICMESH_HUB_CA=" + hub.CertFile(), "LICMESH_HUB_KEY=" + key})
	require.Equal(t, 0, code, "withdraw: %s", errOut)
	s.meshctl(t, "update", "check")
	back := s.waitPhase(t, "1.0.0", 3*time.Minute, "done", "halted")
	require.Equal(t, "done", back.GetPhase(), "halted: %s", back.GetHaltReason())
	assert.True(t, back.GetDowngrade())
	var lastMaster int64
	for _, u := range back.GetMasters() {
		require.Equal(t, "updated", u.GetState(), "master %s: %s", u.GetId(), u.GetDetail())
		lastMaster = max(lastMaster, u.GetAtMs())
	}
	for _, u := range back.GetCollectors() {
		require.Equal(t, "updated", u.GetState(), "collector %s: %s", u.GetId(), u.GetDetail())
		assert.Greater(t, u.GetOrderedAtMs(), lastMaster, "collector %s went back before every master had", u.GetId())
	}
	s.waitMasters(t, "1.0.0")
}

// TestBundleRolloutHaltsOnUnhealthyCanaryThenCompletes: the hub is gone;
// a bundle brings 2.0.0; the collectors' health check fails on it, so the
// canary goes back to 1.0.0 and no master moves. Fixed, the same bundle
// installs everywhere.
func TestBundleRolloutHaltsOnUnhealthyCanaryThenCompletes(t *testing.T) {
	t.Parallel()
	bins := versionedBinaries(t)
	hub := harness.StartHub(t)
	v := newVendorSite(t, hub)
	root := publish(t, hub, bins, "2.0.0")
	broken := filepath.Join(t.TempDir(), "broken")
	require.NoError(t, os.WriteFile(broken, nil, 0o644))
	health := fmt.Sprintf("update_health_command: [\"sh\", \"-c\", \"test \\\"$LICMESH_VERSION\\\" != 2.0.0 || test ! -e %s\"]\nupdate_trial_timeout: 30s\n", broken)
	s := startUpdateSite(t, hub, v, bins, []string{"LICMESH_RELEASE_ROOT_FILE=" + root}, health, "--auto-download", "off", "--auto-install", "off")

	key, err := hub.SignIn(hub.Admin, hub.Pass)
	require.NoError(t, err)
	bundle := filepath.Join(t.TempDir(), "2.0.0.bundle.tar")
	_, errOut, code := harness.RunCmd(filepath.Join(mustBinaries(t), "meshctl"), []string{"hub", "release", "bundle", "2.0.0", "-f", bundle},
		[]string{"LICMESH_HUB_ADDR=" + hub.URL(), "LICMESH_HUB_CA=" + hub.CertFile(), "LICMESH_HUB_KEY=" + key})
	require.Equal(t, 0, code, "bundle: %s", errOut)
	hub.Stop()

	// A tampered bundle is refused, and nothing of it is kept.
	raw, err := os.ReadFile(bundle)
	require.NoError(t, err)
	bad := filepath.Join(t.TempDir(), "bad.tar")
	tampered := append([]byte(nil), raw...)
	tampered[len(tampered)-2048] ^= 0xff // in the last artifact's bytes
	require.NoError(t, os.WriteFile(bad, tampered, 0o644))
	_, errOut, code = s.leader.Meshctl("update", "upload", bad)
	require.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "refused")
	assert.Empty(t, s.status(t).GetReleases(), "a refused bundle records nothing")

	out := s.meshctl(t, "update", "upload", bundle)
	assert.Contains(t, out, "stored 2 artifacts")
	s.meshctl(t, "update", "install", "2.0.0", "--canary", "1", "--batch", "3", "--max-failures", "0", "--wave-timeout", "2m")
	r := s.waitPhase(t, "2.0.0", 3*time.Minute, "halted", "done")
	require.Equal(t, "halted", r.GetPhase())
	t.Logf("halted: %s", r.GetHaltReason())
	canary := r.GetCollectors()[0]
	require.Equal(t, int32(0), canary.GetWave())
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		r := rolloutOf(s.status(ct), "2.0.0")
		if assert.NotNil(ct, r) {
			for _, u := range r.GetCollectors() {
				if u.GetWave() == 0 {
					assert.Contains(ct, []string{"rolled_back", "failed"}, u.GetState(), "canary %s: %s", u.GetId(), u.GetDetail())
				} else {
					assert.Equal(ct, "pending", u.GetState(), "collector %s was not in the failed wave", u.GetId())
				}
			}
		}
	}, 90*time.Second, 250*time.Millisecond)
	st := s.status(t)
	for id, ver := range versionsOf(st.GetMasters()) {
		assert.Equal(t, "1.0.0", ver, "master %s moved although a collector failed", id)
	}
	for _, col := range s.cols {
		require.EventuallyWithT(t, func(ct *assert.CollectT) {
			cs, err := col.Status()
			if assert.NoError(ct, err) {
				assert.Equal(ct, "1.0.0", cs["version"], "collector %s", col.Name)
			}
		}, 60*time.Second, 250*time.Millisecond)
	}

	// Fixed: the same bundle installs, collectors first, then masters.
	require.NoError(t, os.Remove(broken))
	s.meshctl(t, "update", "install", "2.0.0", "--canary", "1", "--batch", "3", "--max-failures", "0", "--wave-timeout", "2m")
	r = s.waitPhase(t, "2.0.0", 4*time.Minute, "done", "halted")
	require.Equal(t, "done", r.GetPhase(), "halted: %s", r.GetHaltReason())
	s.waitMasters(t, "2.0.0")
}
