package agent

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/lease"
)

func acquire(t *testing.T, a *Agent, pool, holder string) leasebook.Lease {
	t.Helper()
	l, err := a.Acquire(context.Background(), pool, holder)
	if err != nil {
		t.Fatalf("Acquire(%s, %s): %v", pool, holder, err)
	}
	return l
}

func TestAcquireRenewRelease(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)

	l := acquire(t, a, "seats", "alice")
	if l.State != leasebook.StateValid || l.Remaining != 30*time.Second || l.Token == "" {
		t.Fatalf("lease = %+v", l)
	}
	// Acquiring again for the same holder is answered locally.
	if again := acquire(t, a, "seats", "alice"); again.ID != l.ID || c.Calls("Acquire") != 1 {
		t.Fatalf("second acquire: %+v, %d calls", again, c.Calls("Acquire"))
	}
	acquire(t, a, "seats", "bob")

	var s schedule
	a.step(context.Background(), &s)
	if n := c.Calls("Renew"); n != 0 {
		t.Fatalf("renewed %d times before a third of the TTL", n)
	}
	clk.Advance(10 * time.Second)
	a.step(context.Background(), &s)
	if n := c.Calls("Renew"); n != 1 {
		t.Fatalf("renew calls at TTL/3 = %d, want one for both leases", n)
	}
	got, _ := a.Lease(l.ID)
	if got.Remaining != 30*time.Second {
		t.Fatalf("after renewal: %+v, want 30s left counted from the renewal", got)
	}

	rel, pending, err := a.Release(context.Background(), l.ID)
	if err != nil || pending || rel.ID != l.ID {
		t.Fatalf("Release = %+v %v %v", rel, pending, err)
	}
	if _, ok := a.Lease(l.ID); ok {
		t.Fatal("released lease still listed")
	}
	if n := len(c.Leases()); n != 1 {
		t.Fatalf("cluster holds %d leases, want 1", n)
	}
	if _, _, err := a.Release(context.Background(), l.ID); !errors.Is(err, ErrUnknownLease) {
		t.Fatalf("second release: %v", err)
	}
}

func TestAcquireRefusals(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetPool("one", 1)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	acquire(t, a, "one", "alice")

	var rej *RejectedError
	_, err := a.Acquire(context.Background(), "one", "bob")
	if !errors.As(err, &rej) || rej.Code != connect.CodeResourceExhausted {
		t.Fatalf("full pool: %v", err)
	}
	_, err = a.Acquire(context.Background(), "nopool", "bob")
	if !errors.As(err, &rej) || rej.Code != connect.CodeNotFound {
		t.Fatalf("unknown pool: %v", err)
	}
	for _, in := range [][2]string{{"", "x"}, {"Bad Pool", "x"}, {"one", ""}, {"one", "a\nb"}} {
		if _, err := a.Acquire(context.Background(), in[0], in[1]); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Acquire(%q, %q) = %v, want ErrInvalidInput", in[0], in[1], err)
		}
	}
}

func TestCapacity(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	cfg.MaxLeases = 2
	a, _ := newAgent(t, cfg)
	if err := a.enroll(context.Background()); err != nil {
		t.Fatal(err)
	}
	acquire(t, a, "seats", "a")
	acquire(t, a, "seats", "b")
	if _, err := a.Acquire(context.Background(), "seats", "c"); !errors.Is(err, ErrFull) {
		t.Fatalf("third acquire: %v, want ErrFull", err)
	}
	if n := c.Calls("Acquire"); n != 2 {
		t.Fatalf("a refused acquire reached the master (%d calls)", n)
	}
}

func TestValidWhileMastersUnreachable(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)
	l := acquire(t, a, "seats", "alice")
	m.Close()

	var s schedule
	for range 4 {
		clk.Advance(7 * time.Second) // renewals due from 10s on, all fail
		a.step(context.Background(), &s)
	}
	got, _ := a.Lease(l.ID)
	if got.State != leasebook.StateValid || got.Remaining != 2*time.Second {
		t.Fatalf("at 28s with no master: %+v, want valid with 2s left", got)
	}
	if st := a.Status(); st.Phase != PhaseDisconnected || st.LastError == "" {
		t.Fatalf("status: %+v", st)
	}
	clk.Advance(2 * time.Second)
	a.step(context.Background(), &s)
	got, _ = a.Lease(l.ID)
	if got.State != leasebook.StateExpired {
		t.Fatalf("at the lease's end: %s, want expired", got.State)
	}
	if st := a.Status(); st.Leases.Expired != 1 || st.Leases.Valid != 0 {
		t.Fatalf("status counts: %+v", st.Leases)
	}
	// A lease that expired here is not handed out again.
	if _, err := a.Acquire(context.Background(), "seats", "alice"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("acquire with no master: %v, want ErrUnavailable", err)
	}
}

func TestLostWhenMasterForgets(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)
	l := acquire(t, a, "seats", "alice")
	keep := acquire(t, a, "seats", "bob")
	c.Forget(l.ID)
	clk.Advance(10 * time.Second)
	if err := a.renewAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := a.Lease(l.ID)
	if got.State != leasebook.StateLost || got.Reason != ReasonUnknownLease {
		t.Fatalf("forgotten lease: %+v, want lost/unknown_lease", got)
	}
	if k, _ := a.Lease(keep.ID); k.State != leasebook.StateValid {
		t.Fatalf("kept lease: %+v", k)
	}
	// A lost lease is released locally only.
	if _, pending, err := a.Release(context.Background(), l.ID); err != nil || pending {
		t.Fatalf("release of a lost lease: %v %v", pending, err)
	}
}

func TestFailover(t *testing.T) {
	c := agenttest.NewCluster(t)
	m1 := c.StartMaster()
	m2 := c.StartMaster()
	a, clk := enrolled(t, c, m1, m2)
	if got := a.Status().CurrentMaster; got != m1.Addr() {
		t.Fatalf("current master %s, want %s", got, m1.Addr())
	}
	l := acquire(t, a, "seats", "alice")
	m1.Close()

	clk.Advance(10 * time.Second)
	if err := a.renewAll(context.Background()); err != nil {
		t.Fatalf("renew with one master down: %v", err)
	}
	if got, _ := a.Lease(l.ID); got.Remaining != 30*time.Second {
		t.Fatalf("lease after failover: %+v", got)
	}
	if got := a.Status().CurrentMaster; got != m2.Addr() {
		t.Fatalf("current master %s, want %s", got, m2.Addr())
	}
	// The next call goes straight to the master that worked.
	before := c.Calls("Acquire")
	acquire(t, a, "seats", "bob")
	if c.Calls("Acquire") != before+1 || a.masters.Current() != m2.Addr() {
		t.Fatal("acquire did not go to the working master")
	}
}

func TestPendingRelease(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)
	l := acquire(t, a, "seats", "alice")
	c.SetHooks(agenttest.Hooks{Release: func(*licmeshRelease) error {
		return connect.NewError(connect.CodeUnavailable, errors.New("leader election"))
	}})
	got, pending, err := a.Release(context.Background(), l.ID)
	if err != nil || !pending || got.State != leasebook.StateReleasing {
		t.Fatalf("release with masters away: %+v %v %v", got, pending, err)
	}
	if _, ok := a.book.Find("seats", "alice"); ok {
		t.Fatal("a releasing lease is still handed out")
	}
	c.SetHooks(agenttest.Hooks{})
	var s schedule
	clk.Advance(time.Second)
	a.step(context.Background(), &s)
	if _, ok := a.Lease(l.ID); ok {
		t.Fatal("pending release not retried")
	}
}

func TestRenewalBatches(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetPool("big", 5000)
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	cfg.LogLevel = "info"
	a, clk := newAgent(t, cfg)
	a.log = slog.New(slog.DiscardHandler)
	if err := a.enroll(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.renewBatchSize = 100
	const n = 250
	var g errgroup.Group
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			_, err := a.Acquire(context.Background(), "big", "h"+itoa(i))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	if err := a.renewAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls := c.Calls("Renew"); calls != 3 {
		t.Fatalf("renew calls = %d, want 3 batches of at most %d", calls, a.renewBatchSize)
	}
	if st := a.Status(); st.Leases.Valid != n {
		t.Fatalf("valid = %d", st.Leases.Valid)
	}
}

func itoa(i int) string { return lease.ID(i).String() }
