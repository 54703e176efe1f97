package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	"github.com/licmesh/licmesh/licensing/entitlement"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// TestGraceWhileMastersUnreachable: with every master gone, a lease of a
// pool with an offline grace stays its holder's past its end, through the
// grace, and then ends; the product asking again meanwhile keeps it.
func TestGraceWhileMastersUnreachable(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetOffline("seats", agenttest.Offline{Grace: 2 * time.Minute})
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)
	l := acquire(t, a, "seats", "alice")
	assert.Equal(t, 2*time.Minute, l.Grace)
	m.Close()

	var s schedule
	clk.Advance(31 * time.Second)
	a.step(context.Background(), &s)
	got, _ := a.Lease(l.ID)
	require.Equal(t, leasebook.StateGrace, got.State, "past the lease's end with no master: %+v", got)
	assert.True(t, got.Holds())
	again, err := a.Acquire(context.Background(), "seats", "alice")
	require.NoError(t, err, "the holder keeps working")
	assert.Equal(t, l.ID, again.ID)
	v := a.Verify(string(got.Token))
	assert.True(t, v.Valid, "the token verifies in its grace: %+v", v)

	clk.Advance(118 * time.Second) // 149s: a second of grace left
	a.step(context.Background(), &s)
	got, _ = a.Lease(l.ID)
	require.Equal(t, leasebook.StateGrace, got.State)
	assert.Equal(t, time.Second, got.Remaining)
	clk.Advance(time.Second)
	a.step(context.Background(), &s)
	got, _ = a.Lease(l.ID)
	require.Equal(t, leasebook.StateExpired, got.State, "at the end of the grace")
	_, err = a.Acquire(context.Background(), "seats", "alice")
	require.ErrorIs(t, err, ErrUnavailable)
}

// TestGraceRenewedWhenMasterBack: a master back within the grace renews the
// lease and it is valid again.
func TestGraceRenewedWhenMasterBack(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetOffline("seats", agenttest.Offline{Grace: 2 * time.Minute})
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)
	l := acquire(t, a, "seats", "alice")
	c.SetHooks(agenttest.Hooks{Renew: func(*licmeshv1.RenewResponse) error {
		return connect.NewError(connect.CodeUnavailable, errors.New("down for the test"))
	}})
	var s schedule
	clk.Advance(40 * time.Second)
	a.step(context.Background(), &s)
	got, _ := a.Lease(l.ID)
	require.Equal(t, leasebook.StateGrace, got.State)
	c.SetHooks(agenttest.Hooks{})
	require.NoError(t, a.renewAll(context.Background()))
	got, _ = a.Lease(l.ID)
	assert.Equal(t, leasebook.StateValid, got.State)
}

// bootClock is a host's boot clock for tests: an ID and time since boot
// that moves with a fake clock but not with its wall time.
type bootClock struct {
	id  string
	clk *clocktest.Fake
	at  time.Time // the fake clock's time at "boot"
}

func (b *bootClock) read() (string, time.Duration, bool) { return b.id, b.clk.Now().Sub(b.at), true }

// TestBorrowOffline: a borrowed seat is the holder's with no master until
// the borrow ends, across a restart of the collector, whatever the wall
// clock says: set forward a day it does not end early, set back a day it
// does not last longer; after a reboot it is judged by trusted wall time.
func TestBorrowOffline(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetOffline("seats", agenttest.Offline{MaxBorrow: 72 * time.Hour})
	m := c.StartMaster()
	cfg := testConfig(t, c.Token(), m)
	clk := newFakeClock()
	c.SetClock(clk)
	boot := &bootClock{id: "boot-1", clk: clk, at: clk.Now().Add(-time.Hour)}
	opts := Options{Clock: clk, Logger: testLogger(t), Version: "test", Hostname: "host1", Rand: func(n int64) int64 { return n / 2 }, BootClock: boot.read}
	a, err := New(cfg, opts)
	require.NoError(t, err)
	t.Cleanup(a.closeTransport)
	require.NoError(t, a.enroll(context.Background()))
	require.NoError(t, a.hello(context.Background()))

	l, err := a.Borrow(context.Background(), "seats", "alice", 48*time.Hour)
	require.NoError(t, err)
	assert.Equal(t, leasebook.StateBorrowed, l.State)
	assert.True(t, l.Borrowed)
	assert.Equal(t, 48*time.Hour, l.Remaining)
	m.Close()

	var s schedule
	clk.Advance(24 * time.Hour)
	a.step(context.Background(), &s)
	got, _ := a.Lease(l.ID)
	require.Equal(t, leasebook.StateBorrowed, got.State, "a day later with no master")
	assert.Zero(t, c.Calls("Renew"), "a borrowed lease is not renewed")

	// Restarted, the host's wall clock a day ahead: the boot clock keeps
	// the day that is left.
	a.closeTransport()
	opts.Clock = clocktest.New(clk.Now().Add(24 * time.Hour))
	boot.clk, boot.at = opts.Clock.(*clocktest.Fake), boot.at.Add(24*time.Hour)
	b, err := New(cfg, opts)
	require.NoError(t, err)
	t.Cleanup(b.closeTransport)
	got, ok := b.Lease(l.ID)
	require.True(t, ok, "the borrow outlives the restart")
	require.Equal(t, leasebook.StateBorrowed, got.State)
	assert.Equal(t, 24*time.Hour, got.Remaining, "a wall clock set forward ends nothing early")
	v := b.Verify(string(got.Token))
	assert.True(t, v.Valid, "the collector verifies it by its own count: %+v", v)
	_, err = b.Acquire(context.Background(), "seats", "alice")
	require.NoError(t, err, "the holder works with no master")

	// After a reboot (another boot ID) with the wall clock set back a
	// day: judged from no earlier than when it was saved, it lasts no
	// longer than its end.
	clk.Advance(12 * time.Hour) // 12h of the borrow left
	a.saveBorrows()             // as the first run, on the true time, last saved it
	opts.Clock = clocktest.New(clk.Now().Add(-24 * time.Hour))
	boot.id = "boot-2"
	r, err := New(cfg, opts)
	require.NoError(t, err)
	t.Cleanup(r.closeTransport)
	got, ok = r.Lease(l.ID)
	require.True(t, ok)
	assert.LessOrEqual(t, got.Remaining, 12*time.Hour, "a wall clock set back extends nothing")

	// At its end it ends.
	opts.Clock.(*clocktest.Fake).Advance(12 * time.Hour)
	var s2 schedule
	r.step(context.Background(), &s2)
	got, _ = r.Lease(l.ID)
	assert.Equal(t, leasebook.StateExpired, got.State)
	assert.False(t, r.Verify(string(got.Token)).Valid)
}

// TestBorrowRefused: a pool that lends nothing, a borrow longer than the
// pool or licmesh allows, a bad holder: clear errors, no lease.
func TestBorrowRefused(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetOffline("seats", agenttest.Offline{MaxBorrow: time.Hour})
	c.SetPool("plain", 3)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	ctx := context.Background()
	_, err := a.Borrow(ctx, "plain", "alice", time.Hour)
	var rej *RejectedError
	require.ErrorAs(t, err, &rej)
	assert.Contains(t, rej.Message, "lends no seats")
	_, err = a.Borrow(ctx, "seats", "alice", 2*time.Hour)
	require.ErrorAs(t, err, &rej)
	assert.Contains(t, rej.Message, "longer than the pool allows")
	_, err = a.Borrow(ctx, "seats", "alice", 91*24*time.Hour)
	require.ErrorIs(t, err, ErrInvalidInput)
	_, err = a.Borrow(ctx, "seats", "", time.Hour)
	require.ErrorIs(t, err, ErrInvalidInput)
	assert.Empty(t, a.Leases())
	assert.Empty(t, c.Leases())
}

// TestFailOpen: with no master answering, a pool whose licenses all fail
// open lets a new holder in (no token: no master granted it); when a
// master answers again the seat is asked for as offline, and the masters'
// grant replaces it. A pool that fails closed refuses, and a seat the
// masters refuse when they are back is lost with their reason.
func TestFailOpen(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetPool("seats", 1)
	c.SetPool("closed", 5)
	c.SetOffline("seats", agenttest.Offline{FailOpen: true})
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)
	me := string(a.identity().CollectorID)
	doc := entDoc(c, me, 1, clk.Now())
	doc.Entitlements[0].Pools = []entitlement.Pool{{Name: "seats", Seats: 1, Enforce: "hard", FailOpen: true}, {Name: "closed", Seats: 5, Enforce: "hard"}}
	require.NoError(t, a.acceptEntitlements(c.SignEntitlements(doc)))
	acquire(t, a, "seats", "alice")
	c.SetHooks(agenttest.Hooks{Before: func(method string) error {
		if method == "Acquire" {
			return connect.NewError(connect.CodeUnavailable, errors.New("down for the test"))
		}
		return nil
	}})

	l, err := a.Acquire(context.Background(), "seats", "bob")
	require.NoError(t, err, "a fail-open pool lets a newcomer in with no master")
	assert.Equal(t, leasebook.StateOffline, l.State)
	assert.True(t, leasebook.IsOffline(l.ID))
	assert.Empty(t, l.Token, "no master signed it")
	again, err := a.Acquire(context.Background(), "seats", "bob")
	require.NoError(t, err)
	assert.Equal(t, l.ID, again.ID, "asked again, the same seat")
	_, err = a.Acquire(context.Background(), "closed", "carol")
	require.ErrorIs(t, err, ErrUnavailable, "a pool that fails closed refuses")
	var s schedule
	clk.Advance(time.Minute)
	a.step(context.Background(), &s)
	got, _ := a.Lease(l.ID)
	assert.Equal(t, leasebook.StateOffline, got.State, "no master: it waits")

	// A master back: the seat is asked for as offline and counted, past
	// the pool's one seat.
	c.SetHooks(agenttest.Hooks{})
	clk.Advance(time.Minute)
	a.step(context.Background(), &s)
	assert.Empty(t, a.book.Offline(), "settled")
	real, ok := a.book.Find("seats", "bob")
	require.True(t, ok)
	assert.False(t, leasebook.IsOffline(real.ID))
	assert.Equal(t, leasebook.StateValid, real.State)
	var counted bool
	for _, x := range c.Leases() {
		if x.Holder == "bob" {
			counted = x.Offline
		}
	}
	assert.True(t, counted, "the masters know it came in offline")

	// Let in offline, then refused by the masters (the pool no longer
	// fails open): lost, with their reason.
	c.SetHooks(agenttest.Hooks{Before: func(method string) error {
		if method == "Acquire" {
			return connect.NewError(connect.CodeUnavailable, errors.New("down for the test"))
		}
		return nil
	}})
	d, err := a.Acquire(context.Background(), "seats", "dave")
	require.NoError(t, err)
	c.SetOffline("seats", agenttest.Offline{})
	c.SetHooks(agenttest.Hooks{})
	clk.Advance(time.Minute)
	a.step(context.Background(), &s)
	got, _ = a.Lease(d.ID)
	assert.Equal(t, leasebook.StateLost, got.State)
	assert.Contains(t, got.Reason, "seats are taken")
	_, held := a.book.Find("seats", "dave")
	assert.False(t, held)
}
