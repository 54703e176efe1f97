package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/identity"
	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startRun runs the agent in the background and returns a stop function
// that cancels it and returns Run's error.
func startRun(t *testing.T, a *Agent) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var stopped bool
	var err error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			err = <-done
		}
		return err
	}
	t.Cleanup(func() { stop() })
	select {
	case <-a.Ready():
	case err := <-done:
		require.FailNowf(t, "Run returned before ready", "%v", err)
	}
	return stop
}

func TestRunRenewsAndReleasesOnShutdown(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, clk := newAgent(t, testConfig(t, c.Token(), m))
	stop := startRun(t, a)
	l := acquire(t, a, "seats", "alice")
	acquire(t, a, "seats", "bob")

	// Run waits on the clock; each third of the TTL brings one renewal of
	// both leases. The clock moves a second at a time, giving Run a moment
	// to react to each step.
	start := clk.Now()
	for i := 1; i <= 3; i++ {
		for c.Calls("Renew") < i {
			require.LessOrEqual(t, clk.Now().Sub(start), time.Duration(i)*10*time.Second+2*time.Second,
				"renewal %d not made by %v", i, clk.Now().Sub(start))
			clk.Advance(time.Second)
			time.Sleep(5 * time.Millisecond)
		}
	}
	got, _ := a.Lease(l.ID)
	require.Equal(t, leasebook.StateValid, got.State, "lease after 30s of renewals: %+v", got)
	require.NoError(t, stop(), "Run")
	require.Empty(t, c.Leases(), "leases still held at the masters after a clean stop")
	require.Equal(t, PhaseStopped, a.Status().Phase, "phase")
}

func TestRunKeepsLeasesWithoutReleaseOnShutdown(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	cfg.ReleaseOnShutdown = false
	a, _ := newAgent(t, cfg)
	stop := startRun(t, a)
	acquire(t, a, "seats", "alice")
	require.NoError(t, stop())
	require.Len(t, c.Leases(), 1, "masters' leases, want the one left to lapse")
}

func TestRunDataDirLocked(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	a, _ := newAgent(t, cfg)
	startRun(t, a)
	b, _ := newAgent(t, cfg)
	require.ErrorIs(t, b.Run(context.Background()), identity.ErrLocked, "second Run on the same data_dir")
}

func TestCertificateRenewal(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetCertTTL(30 * time.Minute)
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)
	c.SetClock(clk)
	first := a.identity().Cert.Leaf
	renewAt := certRenewAt(a.identity())
	life := first.NotAfter.Sub(first.NotBefore)
	require.Equal(t, life*2/3, renewAt.Sub(first.NotBefore), "renewal at %v, want 2/3 of the life", renewAt)

	var s schedule
	a.step(context.Background(), &s)
	require.Zero(t, c.Calls("RenewCertificate"), "renewed too early")
	clk.Advance(renewAt.Sub(clk.Now()))
	a.step(context.Background(), &s)
	require.Equal(t, 1, c.Calls("RenewCertificate"), "RenewCertificate calls at 2/3 of the life")
	next := a.identity().Cert.Leaf
	require.True(t, next.NotAfter.After(first.NotAfter), "certificate not replaced: %v -> %v", first.NotAfter, next.NotAfter)
	require.False(t, next.PublicKey == first.PublicKey, "certificate not replaced: same public key")
	// The new certificate is on disk and used for the next handshake.
	stored, err := a.store.Load()
	require.NoError(t, err, "stored identity")
	require.True(t, stored.Cert.Leaf.Equal(next), "stored identity holds another certificate")
	a.transport().(interface{ CloseIdleConnections() }).CloseIdleConnections()
	require.NoError(t, a.hello(context.Background()), "hello with the renewed certificate")
	_, err = os.Stat(filepath.Join(a.cfg.DataDir, identity.NextKeyFile))
	require.ErrorIs(t, err, os.ErrNotExist, "next-key.pem left behind")
}

// TestExpiredCertificateNeedsToken: a collector whose certificate expired
// (masters gone longer than its life) still starts, to serve what it holds
// offline, and says it needs a join token; with one it enrolls again.
func TestExpiredCertificateNeedsToken(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetCertTTL(2 * time.Second)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	old := a.identity().CollectorID
	cfg := a.cfg
	cfg.Token = ""
	clk := newFakeClock()
	clk.Advance(time.Hour)
	b, err := New(cfg, Options{Clock: clk, Logger: testLogger(t)})
	require.NoError(t, err, "New with an expired certificate and no token")
	t.Cleanup(b.closeTransport)
	assert.Contains(t, b.Status().LastError, "restart with a join token")
	enrolls := c.Calls("Enroll")
	var s schedule
	b.step(context.Background(), &s)
	assert.Equal(t, old, b.identity().CollectorID, "no token, no new enrollment")
	assert.Equal(t, enrolls, c.Calls("Enroll"))
	// With the token it enrolls again.
	cfg.Token = c.Token()
	r, err := New(cfg, Options{Clock: clk, Logger: testLogger(t)})
	require.NoError(t, err)
	t.Cleanup(r.closeTransport)
	var s2 schedule
	r.step(context.Background(), &s2)
	assert.Equal(t, enrolls+1, c.Calls("Enroll"), "enrolling again")
}

func TestVerify(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	l := acquire(t, a, "seats", "alice")

	v := a.Verify(string(l.Token))
	require.True(t, v.Valid, "Verify(held token) = %+v", v)
	require.True(t, v.Held, "Verify(held token) = %+v", v)
	require.Equal(t, leasebook.StateValid, v.State, "Verify(held token) = %+v", v)
	require.NotNil(t, v.Document, "Verify(held token) = %+v", v)
	require.Equal(t, "alice", v.Document.Holder, "Verify(held token) = %+v", v)
	doc := *v.Document
	doc.ExpiresAt = time.Now().Add(-time.Minute)
	doc.IssuedAt = doc.ExpiresAt.Add(-time.Minute)
	v = a.Verify(string(c.Sign(doc)))
	require.False(t, v.Valid, "Verify(expired) = %+v", v)
	require.Equal(t, VerifyExpired, v.Reason, "Verify(expired) = %+v", v)
	require.NotNil(t, v.Document, "Verify(expired) = %+v", v)
	v = a.Verify(otherKeyToken(t, string(l.Token)))
	require.False(t, v.Valid, "Verify(other key) = %+v", v)
	require.Equal(t, VerifyBadSignature, v.Reason, "Verify(other key) = %+v", v)
	v = a.Verify("hello")
	require.False(t, v.Valid, "Verify(garbage) = %+v", v)
	require.Equal(t, VerifyMalformed, v.Reason, "Verify(garbage) = %+v", v)
	doc = *a.Verify(string(l.Token)).Document
	doc.ClusterID = "other"
	v = a.Verify(string(c.Sign(doc)))
	require.False(t, v.Valid, "Verify(other cluster) = %+v", v)
	require.Equal(t, VerifyWrongCluster, v.Reason, "Verify(other cluster) = %+v", v)
	doc.ClusterID, doc.LeaseID = c.ClusterID, lease.ID(9999)
	v = a.Verify(string(c.Sign(doc)))
	require.True(t, v.Valid, "Verify(valid, not held here) = %+v", v)
	require.False(t, v.Held, "Verify(valid, not held here) = %+v", v)
}
