package fsm

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHardPoolGrantsExactlySeats(t *testing.T) {
	h := bootstrapped(t)
	h.pool("hard5", 5, lease.Hard)
	var ops []LeaseOp
	for i := range 10 {
		ops = append(ops, acq("hard5", fmt.Sprintf("user%d", i), "c1"))
	}
	res := h.batch(t0+1, ops...)
	granted := 0
	for i, r := range res {
		switch {
		case r.Err == nil:
			granted++
			require.NotNil(t, r.Lease, "op %d: %+v", i, r)
			require.False(t, r.Existing, "op %d: %+v", i, r)
			want := lease.ID(h.index<<16 | uint64(i))
			require.Equal(t, want, r.Lease.ID, "op %d: id", i)
			require.Equal(t, h.index, r.Lease.Fence, "op %d: fence", i)
		case errors.Is(r.Err, ErrPoolFull):
			require.GreaterOrEqual(t, i, 5, "op %d refused, yet earlier ops should take the seats first", i)
		default:
			require.NoError(t, r.Err, "op %d", i)
		}
	}
	require.Equal(t, 5, granted, "granted")
	ps, _ := h.f.Pool("hard5")
	assert.Equal(t, 5, ps.Held, "pool = %+v", ps)
	assert.Equal(t, 5, ps.PeakHeld, "pool = %+v", ps)
	assert.Zero(t, ps.OverageGrants, "pool = %+v", ps)
	// A release frees a seat for the next batch.
	res2 := h.batch(t0+2, rel(res[0].Lease.ID, "c1"), acq("hard5", "user9", "c1"), acq("hard5", "user8", "c1"))
	require.NoError(t, res2[0].Err, "release then acquire: %+v", res2)
	require.NoError(t, res2[1].Err, "release then acquire: %+v", res2)
	require.ErrorIs(t, res2[2].Err, ErrPoolFull, "release then acquire: %+v", res2)
}

func TestSoftPoolRecordsOverage(t *testing.T) {
	h := bootstrapped(t)
	h.pool("soft2", 2, lease.Soft)
	res := h.batch(t0+10, acq("soft2", "a", "c1"), acq("soft2", "b", "c1"), acq("soft2", "c", "c1"), acq("soft2", "d", "c2"))
	for i, r := range res {
		require.NoError(t, r.Err, "op %d", i)
		require.Equal(t, i >= 2, r.Lease.Overage, "op %d: overage", i)
	}
	ps, _ := h.f.Pool("soft2")
	assert.Equal(t, 4, ps.Held, "pool = %+v", ps)
	assert.Equal(t, uint64(2), ps.OverageGrants, "pool = %+v", ps)
	assert.Equal(t, 4, ps.PeakHeld, "pool = %+v", ps)
	assert.Equal(t, t0+10, ps.LastOverageAt, "pool = %+v", ps)
	// Releasing keeps the history.
	h.batch(t0+11, rel(res[3].Lease.ID, "c2"), rel(res[2].Lease.ID, "c1"))
	ps, _ = h.f.Pool("soft2")
	assert.Equal(t, 2, ps.Held, "pool after release = %+v", ps)
	assert.Equal(t, uint64(2), ps.OverageGrants, "pool after release = %+v", ps)
	assert.Equal(t, 4, ps.PeakHeld, "pool after release = %+v", ps)
}

func TestAcquireExisting(t *testing.T) {
	h := bootstrapped(t)
	h.pool("p", 1, lease.Hard)
	first := h.batch(t0, acq("p", "alice", "c1"))[0]
	res := h.batch(t0+5, acq("p", "alice", "c1"), acq("p", "alice", "c2"), acq("p", "bob", "c1"))
	require.NoError(t, res[0].Err, "re-acquire")
	require.True(t, res[0].Existing, "re-acquire = %+v, want the first lease", res[0])
	require.Equal(t, *first.Lease, *res[0].Lease, "re-acquire, want the first lease")
	require.ErrorIs(t, res[1].Err, ErrHeldElsewhere, "acquire through another collector")
	require.ErrorIs(t, res[2].Err, ErrPoolFull, "second holder")
	c := h.f.Counts()
	require.Equal(t, 1, c.Leases, "Counts = %+v", c)
}

func TestReleaseAndExpire(t *testing.T) {
	h := bootstrapped(t)
	h.pool("p", 10, lease.Hard)
	rec := &recorder{}
	h.f.SetObserver(rec)
	res := h.batch(t0, acq("p", "a", "c1"), acq("p", "b", "c1"), acq("nope", "x", "c1"))
	require.ErrorIs(t, res[2].Err, ErrUnknownPool, "unknown pool")
	a, b := res[0].Lease.ID, res[1].Lease.ID
	res = h.batch(t0+1,
		rel(a, "c2"),      // wrong collector
		rel(a+1000, "c1"), // unknown
		rel(a, "c1"),      // ok
		rel(a, "c1"),      // already gone
		exp(b),            // ok
		exp(b),            // idempotent
		LeaseOp{Kind: Acquire, Pool: "p", Holder: "", CollectorID: "c1", TTLms: 1}, // invalid
		LeaseOp{Kind: Release, LeaseID: b, CollectorID: "c1", Pool: "p"},           // invalid
		LeaseOp{Kind: Expire, LeaseID: b, CollectorID: "c1"},                       // invalid
	)
	wants := []error{ErrNotHolder, ErrUnknownLease, nil, ErrUnknownLease, nil, nil, ErrInvalidOp, ErrInvalidOp, ErrInvalidOp}
	for i, w := range wants {
		require.ErrorIs(t, res[i].Err, w, "op %d", i)
	}
	require.NotNil(t, res[2].Lease, "removed-lease copies wrong: %+v", res)
	require.Equal(t, a, res[2].Lease.ID, "removed-lease copies wrong: %+v", res)
	require.NotNil(t, res[4].Lease, "removed-lease copies wrong: %+v", res)
	require.Equal(t, b, res[4].Lease.ID, "removed-lease copies wrong: %+v", res)
	require.Nil(t, res[5].Lease, "removed-lease copies wrong: %+v", res)
	want := []string{fmt.Sprintf("+%d", a), fmt.Sprintf("+%d", b), fmt.Sprintf("-%d", a), fmt.Sprintf("-%d", b)}
	require.Equal(t, want, rec.events, "observer saw")
	c := h.f.Counts()
	require.Zero(t, c.Leases, "Counts = %+v", c)
	_, ok := h.f.Lease(a)
	require.False(t, ok, "released lease still there")
}

func TestPoolShrinkEvictsNoOne(t *testing.T) {
	h := bootstrapped(t)
	h.pool("p", 3, lease.Hard)
	res := h.batch(t0, acq("p", "a", "c"), acq("p", "b", "c"), acq("p", "c", "c"))
	h.ok(UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "p", Seats: 1, Enforce: lease.Hard}, Now: t0 + 1})
	ps, _ := h.f.Pool("p")
	require.Equal(t, 3, ps.Held, "held after shrink")
	require.ErrorIs(t, h.batch(t0+2, acq("p", "d", "c"))[0].Err, ErrPoolFull, "acquire over shrunk pool")
	// Two releases leave 1 held, still not under 1 seat.
	h.batch(t0+3, rel(res[0].Lease.ID, "c"), rel(res[1].Lease.ID, "c"))
	require.ErrorIs(t, h.batch(t0+4, acq("p", "d", "c"))[0].Err, ErrPoolFull, "acquire at seats")
	h.batch(t0+5, rel(res[2].Lease.ID, "c"))
	require.NoError(t, h.batch(t0+6, acq("p", "d", "c"))[0].Err, "acquire under seats")
}

func TestLeaseBatchBadIndex(t *testing.T) {
	h := bootstrapped(t)
	h.pool("p", 1, lease.Hard)
	data := encode(t, LeaseBatchType, LeaseBatch{Now: t0, Ops: []LeaseOp{acq("p", "a", "c")}})
	h.f.mu.Lock()
	r := h.f.applyLocked(maxLeaseIndex, data)
	h.f.mu.Unlock()
	require.ErrorIs(t, r.Err, ErrBadIndex, "index 2^48")
}

func TestLeasesFilter(t *testing.T) {
	h := bootstrapped(t)
	h.pool("p1", 100, lease.Hard)
	h.pool("p2", 100, lease.Hard)
	var ops []LeaseOp
	for i := range 20 {
		ops = append(ops, acq([]string{"p1", "p2"}[i%2], fmt.Sprintf("u%d", i%7), fmt.Sprintf("c%d", i%3)))
	}
	res := h.batch(t0, ops...)
	all := h.f.Leases(LeaseFilter{})
	ids := h.f.LeaseIDs()
	perCol := map[string]int{}
	for _, l := range all {
		perCol[l.CollectorID]++
	}
	require.Equal(t, perCol, h.f.LeasesPerCollector(), "LeasesPerCollector")
	require.Len(t, ids, len(all), "Leases %d, LeaseIDs %d", len(all), len(ids))
	require.Len(t, all, h.f.Counts().Leases, "Leases %d, Counts %d", len(all), h.f.Counts().Leases)
	for i := range all {
		require.Equal(t, ids[i], all[i].ID, "not sorted by ID at %d", i)
		if i > 0 {
			require.Greater(t, ids[i], ids[i-1], "not sorted by ID at %d", i)
		}
	}
	check := func(f LeaseFilter) {
		t.Helper()
		var want []lease.ID
		for _, r := range res {
			if r.Err != nil || r.Existing {
				continue
			}
			l := r.Lease
			if (f.Pool == "" || l.Pool == f.Pool) && (f.Holder == "" || l.Holder == f.Holder) && (f.CollectorID == "" || l.CollectorID == f.CollectorID) {
				want = append(want, l.ID)
			}
		}
		slices.Sort(want)
		if f.Limit > 0 && len(want) > f.Limit {
			want = want[:f.Limit]
		}
		var got []lease.ID
		for _, l := range h.f.Leases(f) {
			got = append(got, l.ID)
		}
		require.Equal(t, want, got, "Leases(%+v)", f)
	}
	for _, f := range []LeaseFilter{
		{}, {Pool: "p1"}, {Pool: "p2", Holder: "u3"}, {Holder: "u1"}, {CollectorID: "c2"},
		{Pool: "p1", CollectorID: "c0"}, {Pool: "p2", Limit: 2}, {Limit: 3}, {Pool: "zz"}, {CollectorID: "zz"},
		{Pool: "p1", Holder: "u0", CollectorID: "c1"},
	} {
		check(f)
	}
	l, ok := h.f.Lease(all[0].ID)
	require.True(t, ok, "Lease")
	require.Equal(t, all[0], l, "Lease")
	doc := l.Document("acme-prod", timeMs(t0), timeMs(t0+30_000))
	assert.Equal(t, l.ID, doc.LeaseID, "Document = %+v", doc)
	assert.Equal(t, l.Fence, doc.Fence, "Document = %+v", doc)
	assert.Equal(t, l.Holder, doc.Holder, "Document = %+v", doc)
	assert.NoError(t, doc.Validate(), "Document = %+v", doc)
}
