package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/mesh/transport"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validLease returns holder's lease in pool from a's book, which must hold
// it as valid.
func validLease(t *testing.T, a *Agent, pool, holder string) leasebook.Lease {
	t.Helper()
	l, ok := a.book.Find(pool, holder)
	require.True(t, ok, "no lease of %s in %s", holder, pool)
	assert.Equal(t, leasebook.StateValid, l.State, "lease of %s in %s", holder, pool)
	return l
}

func acquire(t *testing.T, a *Agent, pool, holder string) leasebook.Lease {
	t.Helper()
	l, err := a.Acquire(context.Background(), pool, holder)
	require.NoError(t, err, "Acquire(%s, %s)", pool, holder)
	return l
}

func TestAcquireRenewRelease(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)

	l := acquire(t, a, "seats", "alice")
	require.Equal(t, leasebook.StateValid, l.State, "lease = %+v", l)
	require.Equal(t, 30*time.Second, l.Remaining, "lease = %+v", l)
	require.NotEmpty(t, l.Token, "lease = %+v", l)
	// Acquiring again for the same holder is answered locally.
	again := acquire(t, a, "seats", "alice")
	require.Equal(t, l.ID, again.ID, "second acquire: %+v", again)
	require.Equal(t, 1, c.Calls("Acquire"), "second acquire: calls")
	acquire(t, a, "seats", "bob")

	var s schedule
	a.step(context.Background(), &s)
	require.Zero(t, c.Calls("Renew"), "renewed before a third of the TTL")
	clk.Advance(10 * time.Second)
	a.step(context.Background(), &s)
	require.Equal(t, 1, c.Calls("Renew"), "renew calls at TTL/3, want one for both leases")
	got, _ := a.Lease(l.ID)
	require.Equal(t, 30*time.Second, got.Remaining, "after renewal: %+v, want 30s left counted from the renewal", got)

	rel, pending, err := a.Release(context.Background(), l.ID)
	require.NoError(t, err, "Release")
	require.False(t, pending, "Release = %+v: pending", rel)
	require.Equal(t, l.ID, rel.ID, "Release = %+v", rel)
	_, ok := a.Lease(l.ID)
	require.False(t, ok, "released lease still listed")
	require.Len(t, c.Leases(), 1, "cluster leases")
	_, _, err = a.Release(context.Background(), l.ID)
	require.ErrorIs(t, err, ErrUnknownLease, "second release")
}

// TestSeatGrantedAfterTheProductGaveUpIsReleased: a product that stops
// waiting while the masters grant its seat does not leave that seat held
// by nobody until its TTL: the collector releases it as soon as the grant
// arrives, and the one seat of the pool is there for the next holder.
func TestSeatGrantedAfterTheProductGaveUpIsReleased(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetPool("one", 1)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	entered, proceed := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c.SetHooks(agenttest.Hooks{SeatOps: func(req *licmeshv1.SeatOpsRequest) error {
		if req.GetOps()[0].GetHolder() == "alice" {
			once.Do(func() { close(entered); <-proceed })
		}
		return nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { _, err := a.Acquire(ctx, "one", "alice"); gaveUp <- err }()
	<-entered // alice's acquire is at the master
	cancel()
	require.Error(t, <-gaveUp, "an acquire whose product gave up")
	close(proceed) // the master grants it now, to nobody
	require.Eventually(t, func() bool {
		return c.Calls("Release") == 1 && len(c.Leases()) == 0 && len(a.book.Releasing()) == 0
	}, 10*time.Second, 5*time.Millisecond, "the seat granted after the product gave up is still held, or its release not confirmed")
	acquire(t, a, "one", "bob")
}

func TestAcquireRefusals(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetPool("one", 1)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	acquire(t, a, "one", "alice")

	var rej *RejectedError
	_, err := a.Acquire(context.Background(), "one", "bob")
	require.ErrorAs(t, err, &rej, "full pool")
	require.Equal(t, connect.CodeResourceExhausted, rej.Code, "full pool: %v", err)
	_, err = a.Acquire(context.Background(), "nopool", "bob")
	require.ErrorAs(t, err, &rej, "unknown pool")
	require.Equal(t, connect.CodeNotFound, rej.Code, "unknown pool: %v", err)
	for _, in := range [][2]string{{"", "x"}, {"Bad Pool", "x"}, {"one", ""}, {"one", "a\nb"}} {
		_, err := a.Acquire(context.Background(), in[0], in[1])
		assert.ErrorIs(t, err, ErrInvalidInput, "Acquire(%q, %q)", in[0], in[1])
	}
}

func TestCapacity(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	cfg.MaxLeases = 2
	a, _ := newAgent(t, cfg)
	require.NoError(t, a.enroll(context.Background()))
	acquire(t, a, "seats", "a")
	acquire(t, a, "seats", "b")
	_, err := a.Acquire(context.Background(), "seats", "c")
	require.ErrorIs(t, err, ErrFull, "third acquire")
	require.Equal(t, 2, c.Calls("Acquire"), "a refused acquire reached the master")
}

// TestRenewalsStandForHellos: while renewals get through and the master
// counts them as the collector's presence, the collector says a full hello
// only every tenth interval; with a master from before that (no presence
// in its answers) it says one every interval, as it always did.
func TestRenewalsStandForHellos(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old      bool
		min, max int
	}{
		{"presence", false, 1, 2},
		{"old master", true, 10, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := agenttest.NewCluster(t)
			if tc.old {
				c.LackRenewPresence()
			}
			m := c.StartMaster()
			a, clk := enrolled(t, c, m)
			acquire(t, a, "seats", "alice")
			var s schedule
			a.step(context.Background(), &s)
			hellos := c.Calls("Hello")
			// Ten hello intervals (30 s), in steps of a renewal's third of
			// the TTL (10 s).
			for range 30 {
				clk.Advance(10 * time.Second)
				a.step(context.Background(), &s)
			}
			said := c.Calls("Hello") - hellos
			assert.GreaterOrEqual(t, said, tc.min, "hellos over ten intervals")
			assert.LessOrEqual(t, said, tc.max, "hellos over ten intervals")
			assert.Equal(t, 30, c.Calls("Renew"), "renewals")
			assert.Equal(t, PhaseConnected, a.Status().Phase)
			validLease(t, a, "seats", "alice")
		})
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
	require.Equal(t, leasebook.StateValid, got.State, "at 28s with no master: %+v, want valid with 2s left", got)
	require.Equal(t, 2*time.Second, got.Remaining, "at 28s with no master: %+v, want valid with 2s left", got)
	st := a.Status()
	require.Equal(t, PhaseDisconnected, st.Phase, "status: %+v", st)
	require.NotEmpty(t, st.LastError, "status: %+v", st)
	clk.Advance(2 * time.Second)
	a.step(context.Background(), &s)
	got, _ = a.Lease(l.ID)
	require.Equal(t, leasebook.StateExpired, got.State, "at the lease's end")
	st = a.Status()
	require.Equal(t, 1, st.Leases.Expired, "status counts: %+v", st.Leases)
	require.Zero(t, st.Leases.Valid, "status counts: %+v", st.Leases)
	// A lease that expired here is not handed out again.
	_, err := a.Acquire(context.Background(), "seats", "alice")
	require.ErrorIs(t, err, ErrUnavailable, "acquire with no master")
}

func TestLostWhenMasterForgets(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)
	l := acquire(t, a, "seats", "alice")
	keep := acquire(t, a, "seats", "bob")
	c.Forget(l.ID)
	clk.Advance(10 * time.Second)
	require.NoError(t, a.renewAll(context.Background()))
	got, _ := a.Lease(l.ID)
	require.Equal(t, leasebook.StateLost, got.State, "forgotten lease: %+v, want lost/unknown_lease", got)
	require.Equal(t, ReasonUnknownLease, got.Reason, "forgotten lease: %+v, want lost/unknown_lease", got)
	k, _ := a.Lease(keep.ID)
	require.Equal(t, leasebook.StateValid, k.State, "kept lease: %+v", k)
	// A lost lease is released locally only.
	_, pending, err := a.Release(context.Background(), l.ID)
	require.NoError(t, err, "release of a lost lease")
	require.False(t, pending, "release of a lost lease: pending")
}

func TestFailover(t *testing.T) {
	c := agenttest.NewCluster(t)
	m1 := c.StartMaster()
	m2 := c.StartMaster()
	a, clk := enrolled(t, c, m1, m2)
	require.Equal(t, m1.Addr(), a.Status().CurrentMaster, "current master")
	l := acquire(t, a, "seats", "alice")
	m1.Close()

	clk.Advance(10 * time.Second)
	require.NoError(t, a.renewAll(context.Background()), "renew with one master down")
	got, _ := a.Lease(l.ID)
	require.Equal(t, 30*time.Second, got.Remaining, "lease after failover: %+v", got)
	require.Equal(t, m2.Addr(), a.Status().CurrentMaster, "current master")
	// The next call goes straight to the master that worked.
	before := c.Calls("Acquire")
	acquire(t, a, "seats", "bob")
	require.Equal(t, before+1, c.Calls("Acquire"), "acquire did not go to the working master")
	require.Equal(t, m2.Addr(), a.masters.Current(), "acquire did not go to the working master")
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
	require.NoError(t, err, "release with masters away")
	require.True(t, pending, "release with masters away: %+v", got)
	require.Equal(t, leasebook.StateReleasing, got.State, "release with masters away: %+v", got)
	_, ok := a.book.Find("seats", "alice")
	require.False(t, ok, "a releasing lease is still handed out")
	c.SetHooks(agenttest.Hooks{})
	var s schedule
	clk.Advance(time.Second)
	a.step(context.Background(), &s)
	_, ok = a.Lease(l.ID)
	require.False(t, ok, "pending release not retried")
}

func TestRenewalBatches(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetPool("big", 5000)
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	cfg.LogLevel = "info"
	a, clk := newAgent(t, cfg)
	a.log = slog.New(slog.DiscardHandler)
	require.NoError(t, a.enroll(context.Background()))
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
	require.NoError(t, g.Wait())
	clk.Advance(10 * time.Second)
	require.NoError(t, a.renewAll(context.Background()))
	require.Equal(t, 3, c.Calls("Renew"), "renew calls, want 3 batches of at most %d", a.renewBatchSize)
	require.Equal(t, n, a.Status().Leases.Valid, "valid")
}

// TestLeavesTheFollowerItMovedFrom: once the collector's calls go to the
// leader a follower named, its connection to that follower, which carries
// nothing any more, is closed, so the follower does not keep it until its
// idle timeout.
func TestLeavesTheFollowerItMovedFrom(t *testing.T) {
	c := agenttest.NewCluster(t)
	m1 := c.StartMasterTransport(false)
	m2 := c.StartMasterTransport(false)
	var closed []string // "kept:count" for each CloseIdleExcept call
	var mu sync.Mutex
	cfg := testConfig(t, c.Token(), m1, m2)
	cfg.Transport = config.TransportQUIC
	a, err := New(cfg, Options{Clock: newFakeClock(), Logger: testLogger(t), Version: "test", Hostname: "host1",
		NewTransport: func(tlsConf *tls.Config, mode transport.Mode) Transport {
			return &recordingTransport{Client: transport.NewClient(transport.ClientConfig{TLS: tlsConf, Mode: mode}), mu: &mu, closed: &closed}
		}})
	require.NoError(t, err)
	t.Cleanup(a.closeTransport)
	require.NoError(t, a.enroll(context.Background()), "enroll")
	require.NoError(t, a.hello(context.Background()), "hello")
	c.SetLeader(m2.Addr())
	require.NoError(t, a.hello(context.Background()), "hello naming the leader")
	acquire(t, a, "seats", "alice")
	acquire(t, a, "seats", "bob")
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, closed, "the agent never let go of a connection")
	assert.Equal(t, m2.Addr()+":1", closed[len(closed)-1], "the move to the leader closes the follower's connection")
	assert.Equal(t, 1, strings.Count(strings.Join(closed, " "), m2.Addr()), "calls to the same master let go again")
}

// recordingTransport records what CloseIdleExcept kept and closed.
type recordingTransport struct {
	*transport.Client
	mu     *sync.Mutex
	closed *[]string
}

func (r *recordingTransport) CloseIdleExcept(keep string) int {
	n := r.Client.CloseIdleExcept(keep)
	r.mu.Lock()
	*r.closed = append(*r.closed, fmt.Sprintf("%s:%d", keep, n))
	r.mu.Unlock()
	return n
}

func itoa(i int) string { return lease.ID(i).String() }

// TestGoesToTheLeaderNamed: a master that names the leader in its hello
// sends the collector's next calls there, saving the follower's hop; a
// leader the collector does not know of changes nothing.
func TestGoesToTheLeaderNamed(t *testing.T) {
	c := agenttest.NewCluster(t)
	m1 := c.StartMaster()
	m2 := c.StartMaster()
	a, _ := enrolled(t, c, m1, m2)
	require.Equal(t, m1.Addr(), a.masters.Current())
	c.SetLeader("192.0.2.1:7400")
	require.NoError(t, a.hello(context.Background()))
	assert.Equal(t, m1.Addr(), a.masters.Current(), "a leader not in the list")
	c.SetLeader(m2.Addr())
	require.NoError(t, a.hello(context.Background()))
	assert.Equal(t, m2.Addr(), a.masters.Current(), "the next call goes to the leader")
	acquire(t, a, "seats", "alice")
	assert.Equal(t, m2.Addr(), a.masters.Current())
}
