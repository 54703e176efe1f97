package fsm

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/lease"
)

// offlinePool is a hard pool of seats with two minutes of offline grace,
// lending for up to three days, failing open as asked.
func offlinePool(h *harness, seats int, failOpen bool) {
	h.t.Helper()
	h.ok(CreatePoolType, CreatePool{Pool: lease.Pool{Name: "p", Seats: seats, Enforce: lease.Hard,
		Grace: 2 * time.Minute, MaxBorrow: 72 * time.Hour, FailOpen: failOpen}, Now: t0})
}

// TestGraceTravelsWithTheLease: a lease carries its pool's grace from the
// grant on (into its signed document too), and keeps it when the pool's
// changes.
func TestGraceTravelsWithTheLease(t *testing.T) {
	h := bootstrapped(t)
	offlinePool(h, 2, false)
	r := h.batch(t0+1, acq("p", "alice", "c1"))
	require.NoError(t, r[0].Err)
	l := *r[0].Lease
	assert.Equal(t, int64(120_000), l.GraceMs)
	assert.Zero(t, l.Borrowed)
	doc := l.Document("acme-prod", timeMs(t0+1), timeMs(t0+30_001))
	assert.Equal(t, 2*time.Minute, doc.Grace)
	assert.False(t, doc.Borrowed)

	h.ok(UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "p", Seats: 2, Enforce: lease.Hard}, Now: t0 + 2})
	got, ok := h.f.Lease(l.ID)
	require.True(t, ok)
	assert.Equal(t, int64(120_000), got.GraceMs, "what the collector was told stays true")
	r = h.batch(t0+3, acq("p", "bob", "c1"))
	assert.Zero(t, r[0].Lease.GraceMs, "a grant after the change has none")
}

// TestBorrow: a borrowed seat ends when the borrow does, no expiry takes it
// before, and a release returns it early.
func TestBorrow(t *testing.T) {
	h := bootstrapped(t)
	offlinePool(h, 1, false)
	until := t0 + 48*3600_000
	r := h.ok(BorrowLeaseType, BorrowLease{Now: t0, Pool: "p", Holder: "alice", CollectorID: "c1", TTLms: 30_000, Until: until})
	require.Len(t, r.Ops, 1)
	l := *r.Ops[0].Lease
	assert.False(t, r.Ops[0].Existing)
	assert.Equal(t, until, l.Borrowed)
	doc := l.Document("acme-prod", timeMs(t0), timeMs(t0+30_000))
	assert.True(t, doc.Borrowed)
	assert.Equal(t, timeMs(until), doc.ExpiresAt, "the document ends with the borrow")

	// The seat is taken: nobody else gets it.
	res := h.batch(t0+1, acq("p", "bob", "c2"))
	require.ErrorIs(t, res[0].Err, ErrPoolFull)
	// A leader whose table says it is over cannot expire it early...
	res = h.batch(t0+60_000, exp(l.ID))
	require.ErrorIs(t, res[0].Err, ErrBorrowed)
	_, ok := h.f.Lease(l.ID)
	assert.True(t, ok)
	// ...but once trusted time passes the end it can.
	res = h.batch(until, exp(l.ID))
	require.NoError(t, res[0].Err)
	_, ok = h.f.Lease(l.ID)
	assert.False(t, ok)

	// A held lease becomes borrowed; a release returns it early.
	res = h.batch(until+1, acq("p", "carol", "c1"))
	require.NoError(t, res[0].Err)
	id := res[0].Lease.ID
	r = h.ok(BorrowLeaseType, BorrowLease{Now: until + 1000, Pool: "p", Holder: "carol", CollectorID: "c1", TTLms: 30_000, Until: until + 3600_000})
	assert.True(t, r.Ops[0].Existing)
	assert.Equal(t, id, r.Ops[0].Lease.ID)
	assert.GreaterOrEqual(t, r.Ops[0].Lease.Borrowed, until+3600_000)
	res = h.batch(until+2000, rel(id, "c1"))
	require.NoError(t, res[0].Err)
	res = h.batch(until+3000, acq("p", "bob", "c2"))
	require.NoError(t, res[0].Err, "the early return freed the seat")
}

// TestBorrowRefused: a pool that lends nothing, a borrow longer than the
// pool allows, an unknown pool, a holder held through another collector,
// a full pool: each refused by name, nothing changed.
func TestBorrowRefused(t *testing.T) {
	h := bootstrapped(t)
	offlinePool(h, 1, false)
	h.pool("plain", 1, lease.Hard)
	res := h.batch(t0, acq("p", "alice", "c1"))
	require.NoError(t, res[0].Err)
	before := stateBytes(t, h.f)
	for name, c := range map[string]struct {
		cmd  BorrowLease
		want error
	}{
		"no borrowing": {BorrowLease{Pool: "plain", Holder: "bob", Until: t0 + 3600_000}, ErrNoBorrow},
		"too long":     {BorrowLease{Pool: "p", Holder: "alice", Until: t0 + 73*3600_000}, ErrBorrowTooLong},
		"unknown pool": {BorrowLease{Pool: "nope", Holder: "bob", Until: t0 + 3600_000}, ErrUnknownPool},
		"elsewhere":    {BorrowLease{Pool: "p", Holder: "alice", CollectorID: "c2", Until: t0 + 3600_000}, ErrHeldElsewhere},
		"full":         {BorrowLease{Pool: "p", Holder: "bob", Until: t0 + 3600_000}, ErrPoolFull},
	} {
		c.cmd.Now, c.cmd.TTLms = t0, 30_000
		if c.cmd.CollectorID == "" {
			c.cmd.CollectorID = "c1"
		}
		r := h.apply(BorrowLeaseType, c.cmd)
		require.ErrorIs(t, r.Err, c.want, name)
		assert.Equal(t, before, stateBytes(t, h.f), "%s changed the state", name)
	}
	_, err := Encode(BorrowLeaseType, BorrowLease{Now: t0, Pool: "p", Holder: "bob", CollectorID: "c1", TTLms: 30_000, Until: t0})
	require.ErrorIs(t, err, ErrMalformed, "an end not after now")
}

// TestOfflineAcquire: a holder a fail-open collector let in while cut off
// is granted when the masters hear of it, as overage if the pool is full,
// and marked; a pool that fails closed refuses it.
func TestOfflineAcquire(t *testing.T) {
	h := bootstrapped(t)
	offlinePool(h, 1, true)
	off := func(holder string) LeaseOp {
		op := acq("p", holder, "c1")
		op.Offline = true
		return op
	}
	res := h.batch(t0, off("alice"), off("bob"), acq("p", "carol", "c2"))
	require.NoError(t, res[0].Err)
	assert.True(t, res[0].Lease.Offline)
	assert.False(t, res[0].Lease.Overage, "a free seat is no overage")
	require.NoError(t, res[1].Err)
	assert.True(t, res[1].Lease.Overage, "past the seats it is counted")
	require.ErrorIs(t, res[2].Err, ErrPoolFull, "an online acquire still meets the limit")
	ps, _ := h.f.Pool("p")
	assert.Equal(t, uint64(1), ps.OverageGrants)

	h2 := bootstrapped(t)
	offlinePool(h2, 1, false)
	res = h2.batch(t0, off("alice"), off("bob"))
	require.NoError(t, res[0].Err)
	require.ErrorIs(t, res[1].Err, ErrPoolFull, "a pool that fails closed admits no extra seat")
	r := h2.apply(LeaseBatchType, LeaseBatch{Now: t0, Ops: []LeaseOp{{Kind: Release, LeaseID: 1 << 16, CollectorID: "c1", Offline: true}}})
	require.ErrorIs(t, r.Ops[0].Err, ErrInvalidOp)
}

// TestOfflineSnapshot: grace, borrow and offline marks survive a snapshot.
func TestOfflineSnapshot(t *testing.T) {
	h := bootstrapped(t)
	offlinePool(h, 3, true)
	op := acq("p", "bob", "c1")
	op.Offline = true
	res := h.batch(t0, acq("p", "alice", "c1"), op)
	require.NoError(t, res[1].Err)
	h.ok(BorrowLeaseType, BorrowLease{Now: t0 + 1, Pool: "p", Holder: "carol", CollectorID: "c1", TTLms: 30_000, Until: t0 + 3600_000})
	snap := snapshotBytes(t, h.f)
	f := New()
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(snap))))
	want := h.f.Leases(LeaseFilter{})
	assert.Equal(t, want, f.Leases(LeaseFilter{}))
	assert.Equal(t, snap, snapshotBytes(t, f), "the restored state writes the same snapshot")
	var borrowed, offline, grace int
	for _, l := range want {
		if l.Borrowed != 0 {
			borrowed++
		}
		if l.Offline {
			offline++
		}
		if l.GraceMs != 0 {
			grace++
		}
	}
	assert.Equal(t, [3]int{1, 1, 2}, [3]int{borrowed, offline, grace})
	for _, fs := range []*FSM{h.f, f} {
		ps, _ := fs.Pool("p")
		assert.Equal(t, 1, ps.Borrowed, "borrowed, before and after the restore")
		assert.Equal(t, 1, ps.Offline)
	}
	h.batch(t0+2, rel(res[1].Lease.ID, "c1"))
	ps, _ := h.f.Pool("p")
	assert.Zero(t, ps.Offline, "released")
}
