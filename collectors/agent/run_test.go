package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/identity"
	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/lease"
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
		t.Fatalf("Run returned before ready: %v", err)
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
			if clk.Now().Sub(start) > time.Duration(i)*10*time.Second+2*time.Second {
				t.Fatalf("renewal %d not made by %v", i, clk.Now().Sub(start))
			}
			clk.Advance(time.Second)
			time.Sleep(5 * time.Millisecond)
		}
	}
	if got, _ := a.Lease(l.ID); got.State != leasebook.StateValid {
		t.Fatalf("lease after 30s of renewals: %+v", got)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(c.Leases()); n != 0 {
		t.Fatalf("%d leases still held at the masters after a clean stop", n)
	}
	if st := a.Status(); st.Phase != PhaseStopped {
		t.Fatalf("phase %s", st.Phase)
	}
}

func TestRunKeepsLeasesWithoutReleaseOnShutdown(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	cfg.ReleaseOnShutdown = false
	a, _ := newAgent(t, cfg)
	stop := startRun(t, a)
	acquire(t, a, "seats", "alice")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Leases()); n != 1 {
		t.Fatalf("masters hold %d leases, want the one left to lapse", n)
	}
}

func TestRunDataDirLocked(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	a, _ := newAgent(t, cfg)
	startRun(t, a)
	b, _ := newAgent(t, cfg)
	if err := b.Run(context.Background()); !errors.Is(err, identity.ErrLocked) {
		t.Fatalf("second Run on the same data_dir: %v", err)
	}
}

func TestCertificateRenewal(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetCertTTL(30 * time.Minute)
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)
	c.SetClock(clk.Now)
	first := a.identity().Cert.Leaf
	renewAt := certRenewAt(a.identity())
	if life := first.NotAfter.Sub(first.NotBefore); renewAt.Sub(first.NotBefore) != life*2/3 {
		t.Fatalf("renewal at %v, want 2/3 of the life", renewAt)
	}

	var s schedule
	a.step(context.Background(), &s)
	if n := c.Calls("RenewCertificate"); n != 0 {
		t.Fatalf("renewed %d times too early", n)
	}
	clk.Advance(renewAt.Sub(clk.Now()))
	a.step(context.Background(), &s)
	if n := c.Calls("RenewCertificate"); n != 1 {
		t.Fatalf("RenewCertificate calls = %d at 2/3 of the life", n)
	}
	next := a.identity().Cert.Leaf
	if !next.NotAfter.After(first.NotAfter) || next.PublicKey == first.PublicKey {
		t.Fatalf("certificate not replaced: %v -> %v", first.NotAfter, next.NotAfter)
	}
	// The new certificate is on disk and used for the next handshake.
	stored, err := a.store.Load()
	if err != nil || !stored.Cert.Leaf.Equal(next) {
		t.Fatalf("stored identity: %v", err)
	}
	a.transport().(interface{ CloseIdleConnections() }).CloseIdleConnections()
	if err := a.hello(context.Background()); err != nil {
		t.Fatalf("hello with the renewed certificate: %v", err)
	}
	if _, err := os.Stat(filepath.Join(a.cfg.DataDir, identity.NextKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("next-key.pem left behind: %v", err)
	}
}

func TestExpiredCertificateNeedsToken(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetCertTTL(2 * time.Second)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	cfg := a.cfg
	cfg.Token = ""
	clk := newFakeClock()
	clk.Advance(time.Hour)
	_, err := New(cfg, Options{Clock: clk, Logger: testLogger(t)})
	if !errors.Is(err, ErrCertificateExpired) {
		t.Fatalf("New with an expired certificate and no token: %v", err)
	}
	// With the token it enrolls again.
	cfg.Token = c.Token()
	b, err := New(cfg, Options{Clock: clk, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if b.identity() != nil {
		t.Fatal("expired identity installed")
	}
}

func TestVerify(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	l := acquire(t, a, "seats", "alice")

	v := a.Verify(string(l.Token))
	if !v.Valid || !v.Held || v.State != leasebook.StateValid || v.Document.Holder != "alice" {
		t.Fatalf("Verify(held token) = %+v", v)
	}
	doc := *v.Document
	doc.ExpiresAt = time.Now().Add(-time.Minute)
	doc.IssuedAt = doc.ExpiresAt.Add(-time.Minute)
	if v := a.Verify(string(c.Sign(doc))); v.Valid || v.Reason != VerifyExpired || v.Document == nil {
		t.Fatalf("Verify(expired) = %+v", v)
	}
	if v := a.Verify(otherKeyToken(t, string(l.Token))); v.Valid || v.Reason != VerifyBadSignature {
		t.Fatalf("Verify(other key) = %+v", v)
	}
	if v := a.Verify("hello"); v.Valid || v.Reason != VerifyMalformed {
		t.Fatalf("Verify(garbage) = %+v", v)
	}
	doc = *a.Verify(string(l.Token)).Document
	doc.ClusterID = "other"
	if v := a.Verify(string(c.Sign(doc))); v.Valid || v.Reason != VerifyWrongCluster {
		t.Fatalf("Verify(other cluster) = %+v", v)
	}
	doc.ClusterID, doc.LeaseID = c.ClusterID, lease.ID(9999)
	if v := a.Verify(string(c.Sign(doc))); !v.Valid || v.Held {
		t.Fatalf("Verify(valid, not held here) = %+v", v)
	}
}
