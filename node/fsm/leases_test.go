package fsm

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/licmesh/licmesh/licensing/lease"
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
			if r.Lease == nil || r.Existing {
				t.Fatalf("op %d: %+v", i, r)
			}
			want := lease.ID(h.index<<16 | uint64(i))
			if r.Lease.ID != want || r.Lease.Fence != h.index {
				t.Fatalf("op %d: id %d fence %d, want %d / %d", i, r.Lease.ID, r.Lease.Fence, want, h.index)
			}
		case errors.Is(r.Err, ErrPoolFull):
			if i < 5 {
				t.Fatalf("op %d refused, yet earlier ops should take the seats first", i)
			}
		default:
			t.Fatalf("op %d: %v", i, r.Err)
		}
	}
	if granted != 5 {
		t.Fatalf("granted %d, want 5", granted)
	}
	if ps, _ := h.f.Pool("hard5"); ps.Held != 5 || ps.PeakHeld != 5 || ps.OverageGrants != 0 {
		t.Fatalf("pool = %+v", ps)
	}
	// A release frees a seat for the next batch.
	res2 := h.batch(t0+2, rel(res[0].Lease.ID, "c1"), acq("hard5", "user9", "c1"), acq("hard5", "user8", "c1"))
	if res2[0].Err != nil || res2[1].Err != nil || !errors.Is(res2[2].Err, ErrPoolFull) {
		t.Fatalf("release then acquire: %+v", res2)
	}
}

func TestSoftPoolRecordsOverage(t *testing.T) {
	h := bootstrapped(t)
	h.pool("soft2", 2, lease.Soft)
	res := h.batch(t0+10, acq("soft2", "a", "c1"), acq("soft2", "b", "c1"), acq("soft2", "c", "c1"), acq("soft2", "d", "c2"))
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("op %d: %v", i, r.Err)
		}
		if r.Lease.Overage != (i >= 2) {
			t.Fatalf("op %d: overage = %v", i, r.Lease.Overage)
		}
	}
	ps, _ := h.f.Pool("soft2")
	if ps.Held != 4 || ps.OverageGrants != 2 || ps.PeakHeld != 4 || ps.LastOverageAt != t0+10 {
		t.Fatalf("pool = %+v", ps)
	}
	// Releasing keeps the history.
	h.batch(t0+11, rel(res[3].Lease.ID, "c2"), rel(res[2].Lease.ID, "c1"))
	ps, _ = h.f.Pool("soft2")
	if ps.Held != 2 || ps.OverageGrants != 2 || ps.PeakHeld != 4 {
		t.Fatalf("pool after release = %+v", ps)
	}
}

func TestAcquireExisting(t *testing.T) {
	h := bootstrapped(t)
	h.pool("p", 1, lease.Hard)
	first := h.batch(t0, acq("p", "alice", "c1"))[0]
	res := h.batch(t0+5, acq("p", "alice", "c1"), acq("p", "alice", "c2"), acq("p", "bob", "c1"))
	if res[0].Err != nil || !res[0].Existing || *res[0].Lease != *first.Lease {
		t.Fatalf("re-acquire = %+v, want the first lease", res[0])
	}
	if !errors.Is(res[1].Err, ErrHeldElsewhere) {
		t.Fatalf("acquire through another collector = %v", res[1].Err)
	}
	if !errors.Is(res[2].Err, ErrPoolFull) {
		t.Fatalf("second holder = %v", res[2].Err)
	}
	if c := h.f.Counts(); c.Leases != 1 {
		t.Fatalf("Counts = %+v", c)
	}
}

func TestReleaseAndExpire(t *testing.T) {
	h := bootstrapped(t)
	h.pool("p", 10, lease.Hard)
	rec := &recorder{}
	h.f.SetObserver(rec)
	res := h.batch(t0, acq("p", "a", "c1"), acq("p", "b", "c1"), acq("nope", "x", "c1"))
	if !errors.Is(res[2].Err, ErrUnknownPool) {
		t.Fatalf("unknown pool: %v", res[2].Err)
	}
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
		if !errors.Is(res[i].Err, w) || (w == nil) != (res[i].Err == nil) {
			t.Fatalf("op %d: err %v, want %v", i, res[i].Err, w)
		}
	}
	if res[2].Lease == nil || res[2].Lease.ID != a || res[4].Lease == nil || res[4].Lease.ID != b || res[5].Lease != nil {
		t.Fatalf("removed-lease copies wrong: %+v", res)
	}
	want := []string{fmt.Sprintf("+%d", a), fmt.Sprintf("+%d", b), fmt.Sprintf("-%d", a), fmt.Sprintf("-%d", b)}
	if !slices.Equal(rec.events, want) {
		t.Fatalf("observer saw %v, want %v", rec.events, want)
	}
	if c := h.f.Counts(); c.Leases != 0 {
		t.Fatalf("Counts = %+v", c)
	}
	if _, ok := h.f.Lease(a); ok {
		t.Fatal("released lease still there")
	}
}

func TestPoolShrinkEvictsNoOne(t *testing.T) {
	h := bootstrapped(t)
	h.pool("p", 3, lease.Hard)
	res := h.batch(t0, acq("p", "a", "c"), acq("p", "b", "c"), acq("p", "c", "c"))
	h.ok(UpdatePoolType, UpdatePool{Pool: lease.Pool{Name: "p", Seats: 1, Enforce: lease.Hard}, Now: t0 + 1})
	if ps, _ := h.f.Pool("p"); ps.Held != 3 {
		t.Fatalf("held after shrink = %d", ps.Held)
	}
	if r := h.batch(t0+2, acq("p", "d", "c"))[0]; !errors.Is(r.Err, ErrPoolFull) {
		t.Fatalf("acquire over shrunk pool: %v", r.Err)
	}
	// Two releases leave 1 held, still not under 1 seat.
	h.batch(t0+3, rel(res[0].Lease.ID, "c"), rel(res[1].Lease.ID, "c"))
	if r := h.batch(t0+4, acq("p", "d", "c"))[0]; !errors.Is(r.Err, ErrPoolFull) {
		t.Fatalf("acquire at seats: %v", r.Err)
	}
	h.batch(t0+5, rel(res[2].Lease.ID, "c"))
	if r := h.batch(t0+6, acq("p", "d", "c"))[0]; r.Err != nil {
		t.Fatalf("acquire under seats: %v", r.Err)
	}
}

func TestLeaseBatchBadIndex(t *testing.T) {
	h := bootstrapped(t)
	h.pool("p", 1, lease.Hard)
	data := encode(t, LeaseBatchType, LeaseBatch{Now: t0, Ops: []LeaseOp{acq("p", "a", "c")}})
	h.f.mu.Lock()
	r := h.f.applyLocked(maxLeaseIndex, data)
	h.f.mu.Unlock()
	if !errors.Is(r.Err, ErrBadIndex) {
		t.Fatalf("index 2^48: %v", r.Err)
	}
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
	if got := h.f.LeasesPerCollector(); !maps.Equal(got, perCol) {
		t.Fatalf("LeasesPerCollector = %v, want %v", got, perCol)
	}
	if len(all) != len(ids) || len(all) != h.f.Counts().Leases {
		t.Fatalf("Leases %d, LeaseIDs %d, Counts %d", len(all), len(ids), h.f.Counts().Leases)
	}
	for i := range all {
		if all[i].ID != ids[i] || (i > 0 && ids[i] <= ids[i-1]) {
			t.Fatalf("not sorted by ID at %d", i)
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
		if !slices.Equal(got, want) {
			t.Fatalf("Leases(%+v) = %v, want %v", f, got, want)
		}
	}
	for _, f := range []LeaseFilter{
		{}, {Pool: "p1"}, {Pool: "p2", Holder: "u3"}, {Holder: "u1"}, {CollectorID: "c2"},
		{Pool: "p1", CollectorID: "c0"}, {Pool: "p2", Limit: 2}, {Limit: 3}, {Pool: "zz"}, {CollectorID: "zz"},
		{Pool: "p1", Holder: "u0", CollectorID: "c1"},
	} {
		check(f)
	}
	l, ok := h.f.Lease(all[0].ID)
	if !ok || l != all[0] {
		t.Fatalf("Lease = %+v", l)
	}
	doc := l.Document("acme-prod", timeMs(t0), timeMs(t0+30_000))
	if doc.LeaseID != l.ID || doc.Fence != l.Fence || doc.Holder != l.Holder || doc.Validate() != nil {
		t.Fatalf("Document = %+v (%v)", doc, doc.Validate())
	}
}
