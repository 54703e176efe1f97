package leasebook

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	"github.com/licmesh/licmesh/licensing/lease"
)

func newFakeClock() *clocktest.Fake {
	return clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

func grant(id lease.ID, holder string, ttl time.Duration) Grant {
	return Grant{ID: id, Fence: uint64(id) * 10, Pool: "pool", Holder: holder, Token: lease.Token("tok-" + holder), TTL: ttl}
}

func add(t *testing.T, b *Book, g Grant, sentAt time.Time) Lease {
	t.Helper()
	r, err := b.Reserve()
	require.NoError(t, err, "reserve")
	defer r.Cancel()
	l, err := b.Add(r, g, sentAt)
	require.NoError(t, err, "add")
	return l
}

func TestValidityCountsFromSend(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	sent := clk.Now()
	clk.Advance(2 * time.Second) // the answer took 2s to come back
	l := add(t, b, grant(1, "alice", 30*time.Second), sent)
	require.Equal(t, StateValid, l.State)
	require.Equal(t, 28*time.Second, l.Remaining, "counted from the send")
	clk.Advance(28 * time.Second)
	l, _ = b.Get(1)
	require.Equal(t, StateExpired, l.State, "at sent+ttl")
	require.Zero(t, l.Remaining, "at sent+ttl")
}

func TestRenewAtAThirdOfTTL(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	t0 := clk.Now()
	add(t, b, grant(1, "alice", 30*time.Second), t0)
	due, ok := b.RenewDue()
	require.True(t, ok, "RenewDue")
	require.Equal(t, t0.Add(10*time.Second), due, "RenewDue")
	// A second lease acquired later is renewed in the same batch.
	clk.Advance(4 * time.Second)
	add(t, b, grant(2, "bob", 30*time.Second), clk.Now())
	clk.Advance(6 * time.Second)
	require.Len(t, b.RenewBatch(), 2, "RenewBatch: both leases")
	sent := clk.Now()
	clk.Advance(time.Second)
	out, err := b.ApplyRenew(sent, []Renewal{
		{ID: 1, OK: true, TTL: 30 * time.Second, Token: "tok-1b"},
		{ID: 2, OK: true, TTL: 30 * time.Second, Token: "tok-2b"},
	})
	require.NoError(t, err, "ApplyRenew")
	require.Equal(t, 2, out.Renewed, "ApplyRenew = %+v", out)
	l, _ := b.Get(1)
	require.Equal(t, 29*time.Second, l.Remaining, "after renew")
	require.Equal(t, lease.Token("tok-1b"), l.Token, "after renew: the fresh token")
	due, _ = b.RenewDue()
	require.Equal(t, sent.Add(10*time.Second), due, "next renewal: sent+10s (one schedule for both)")
}

func TestValidWhileUnreachableUntilEnd(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	add(t, b, grant(1, "alice", 30*time.Second), clk.Now())
	// No master answers: nothing is applied, the lease is valid until its
	// own end and expired after.
	clk.Advance(29*time.Second + 999*time.Millisecond)
	l, _ := b.Get(1)
	require.Equal(t, StateValid, l.State, "just before the end")
	require.Empty(t, b.Sweep().Expired, "sweep before end")
	clk.Advance(time.Millisecond)
	l, _ = b.Get(1)
	require.Equal(t, StateExpired, l.State, "at the end")
	_, ok := b.Find("pool", "alice")
	require.False(t, ok, "Find returned an expired lease")
	require.Len(t, b.Sweep().Expired, 1, "sweep at the end")
	require.Empty(t, b.Sweep().Expired, "sweep reported the same expiry twice")
	c := b.Counts()
	require.Equal(t, 1, c.Held, "counts = %+v", c)
	require.Equal(t, 1, c.Expired, "counts = %+v", c)
	require.Equal(t, 0, c.Valid, "counts = %+v", c)
	// A master answers again and still knows it: valid again.
	sent := clk.Now()
	out, err := b.ApplyRenew(sent, []Renewal{{ID: 1, OK: true, TTL: 30 * time.Second, Token: "t2"}})
	require.NoError(t, err, "revive")
	require.Len(t, out.Revived, 1, "revive")
}

func TestRenewNeverShortens(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	add(t, b, grant(1, "alice", 60*time.Second), clk.Now())
	clk.Advance(20 * time.Second)
	_, err := b.ApplyRenew(clk.Now(), []Renewal{{ID: 1, OK: true, TTL: 10 * time.Second, Token: "t"}})
	require.NoError(t, err)
	l, _ := b.Get(1)
	require.Equal(t, 40*time.Second, l.Remaining, "a shorter TTL does not cut a promised validity")
}

func TestLostOnUnknownLease(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	add(t, b, grant(1, "alice", 30*time.Second), clk.Now())
	add(t, b, grant(2, "bob", 30*time.Second), clk.Now())
	out, err := b.ApplyRenew(clk.Now(), []Renewal{
		{ID: 1, Reason: "unknown_lease"},
		{ID: 2, OK: true, TTL: 30 * time.Second, Token: "t"},
	})
	require.NoError(t, err, "ApplyRenew")
	require.Len(t, out.Lost, 1, "ApplyRenew = %+v", out)
	require.Equal(t, lease.ID(1), out.Lost[0].ID)
	l, _ := b.Get(1)
	require.Equal(t, StateLost, l.State, "lost lease = %+v", l)
	require.Equal(t, "unknown_lease", l.Reason, "lost lease = %+v", l)
	require.Zero(t, l.Remaining, "lost lease = %+v", l)
	require.Equal(t, []lease.ID{2}, b.RenewBatch(), "RenewBatch: only the kept lease")
	_, ok := b.Find("pool", "alice")
	require.False(t, ok, "Find returned a lost lease")
	clk.Advance(DefaultRetention)
	require.Equal(t, 1, b.Sweep().Dropped, "sweep drops the lost lease after retention")
	_, ok = b.Get(1)
	require.False(t, ok, "lost lease still listed after retention")
}

func TestBadRenewChangesNothing(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	add(t, b, grant(1, "alice", 30*time.Second), clk.Now())
	before, _ := b.Get(1)
	for _, bad := range [][]Renewal{
		{{ID: 1, OK: true, TTL: 0, Token: "t"}},
		{{ID: 1, OK: true, TTL: 48 * time.Hour, Token: "t"}},
		{{ID: 1, OK: true, TTL: -time.Second}},
	} {
		_, err := b.ApplyRenew(clk.Now(), bad)
		assert.ErrorIs(t, err, ErrBadGrant, "ApplyRenew(%+v)", bad)
	}
	after, _ := b.Get(1)
	require.Equal(t, before, after, "lease changed")
}

func TestRenewWithoutTokenKeepsToken(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	add(t, b, grant(1, "alice", 30*time.Second), clk.Now())
	clk.Advance(10 * time.Second)
	_, err := b.ApplyRenew(clk.Now(), []Renewal{{ID: 1, OK: true, TTL: 30 * time.Second}})
	require.NoError(t, err)
	l, _ := b.Get(1)
	require.Equal(t, lease.Token("tok-alice"), l.Token, "the old token")
	require.Equal(t, 30*time.Second, l.Remaining, "renewed validity")
}

func TestCapacity(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 2)
	add(t, b, grant(1, "a", time.Minute), clk.Now())
	r, err := b.Reserve()
	require.NoError(t, err)
	_, err = b.Reserve()
	require.ErrorIs(t, err, ErrFull, "third reservation (reservations count)")
	r.Cancel()
	r.Cancel() // idempotent
	add(t, b, grant(2, "b", time.Minute), clk.Now())
	_, err = b.Reserve()
	require.ErrorIs(t, err, ErrFull, "full book")
	// A lost lease makes room.
	_, err = b.ApplyRenew(clk.Now(), []Renewal{{ID: 1, Reason: "expired"}})
	require.NoError(t, err)
	r, err = b.Reserve()
	require.NoError(t, err, "reserve after a loss")
	r.Cancel()
	_, ok := b.Get(1)
	require.False(t, ok, "lost lease was not dropped to make room")
}

func TestAddCollisionAndRefresh(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	add(t, b, grant(1, "alice", time.Minute), clk.Now())
	r, _ := b.Reserve()
	defer r.Cancel()
	_, err := b.Add(r, grant(1, "mallory", time.Minute), clk.Now())
	require.ErrorIs(t, err, ErrCollision)
	l, _ := b.Get(1)
	require.Equal(t, "alice", l.Holder, "collision changed the lease")
	clk.Advance(50 * time.Second)
	l, err = b.Add(r, grant(1, "alice", time.Minute), clk.Now())
	require.NoError(t, err, "refresh")
	require.Equal(t, time.Minute, l.Remaining, "refresh")
	require.Len(t, b.List(), 1, "refresh added an entry")
}

func TestReleasing(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	add(t, b, grant(1, "alice", 30*time.Second), clk.Now())
	_, err := b.MarkReleasing(1)
	require.NoError(t, err)
	require.Empty(t, b.RenewBatch(), "a releasing lease is renewed")
	require.Len(t, b.Releasing(), 1, "Releasing")
	clk.Advance(30 * time.Second)
	sw := b.Sweep()
	require.Equal(t, 1, sw.Dropped, "unconfirmed release not dropped at the lease's end: %+v", sw)
	_, err = b.Remove(1)
	require.ErrorIs(t, err, ErrUnknown, "Remove after drop")
}

func TestNextSweep(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	_, ok := b.NextSweep()
	require.False(t, ok, "empty book has a sweep due")
	t0 := clk.Now()
	add(t, b, grant(1, "alice", 30*time.Second), t0)
	at, ok := b.NextSweep()
	require.True(t, ok, "NextSweep")
	require.Equal(t, t0.Add(30*time.Second), at, "NextSweep: the lease's end")
}

// A released lease whose release no master confirmed keeps its holder
// indexed, so a new acquire for that holder settles it first instead of
// being handed the same lease back and losing it to the late release.
func TestPendingReleaseMustBeSettledBeforeReacquire(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	add(t, b, grant(1, "alice", 30*time.Second), clk.Now())
	_, err := b.MarkReleasing(1)
	require.NoError(t, err)
	_, ok := b.Find("pool", "alice")
	require.False(t, ok, "a releasing lease is still found as valid")
	id, ok := b.FindReleasing("pool", "alice")
	require.True(t, ok, "FindReleasing")
	require.Equal(t, lease.ID(1), id, "FindReleasing")
	require.True(t, b.RemoveIfReleasing(1), "the releasing lease was not removed")
	_, ok = b.FindReleasing("pool", "alice")
	require.False(t, ok, "still releasing after removal")
	// A valid lease is never removed by a late release confirmation.
	add(t, b, grant(2, "alice", 30*time.Second), clk.Now())
	require.False(t, b.RemoveIfReleasing(2), "RemoveIfReleasing removed a valid lease")
	_, ok = b.Get(2)
	require.True(t, ok, "valid lease gone")
}

// A grant nobody waits for is recorded as releasing, so a new acquire for
// its holder settles that release first; a lease the book holds already
// (the holder asked again and got it back) is left alone, and so is
// another valid lease of the same holder.
func TestAddReleasing(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 1)
	require.True(t, b.AddReleasing(grant(1, "alice", 30*time.Second), clk.Now()))
	_, ok := b.Find("pool", "alice")
	require.False(t, ok, "an orphaned grant is found as valid")
	id, ok := b.FindReleasing("pool", "alice")
	require.True(t, ok, "FindReleasing")
	require.Equal(t, lease.ID(1), id)
	require.Equal(t, []lease.ID{1}, b.Releasing())
	require.Empty(t, b.RenewBatch(), "an orphaned grant is renewed")
	require.False(t, b.AddReleasing(Grant{Pool: "pool", Holder: "x", TTL: time.Second}, clk.Now()), "a grant with no id")
	require.True(t, b.RemoveIfReleasing(1))

	add(t, b, grant(2, "bob", 30*time.Second), clk.Now())
	require.False(t, b.AddReleasing(grant(2, "bob", 30*time.Second), clk.Now()), "a lease the book holds")
	l, ok := b.Find("pool", "bob")
	require.True(t, ok, "bob's lease is no longer valid")
	require.Equal(t, lease.ID(2), l.ID)
	require.True(t, b.AddReleasing(grant(3, "bob", 30*time.Second), clk.Now()), "another lease of the same holder")
	l, ok = b.Find("pool", "bob")
	require.True(t, ok, "bob's valid lease hidden by an orphan")
	require.Equal(t, lease.ID(2), l.ID)
}
