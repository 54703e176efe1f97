package leasebook

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/lease"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func grant(id lease.ID, holder string, ttl time.Duration) Grant {
	return Grant{ID: id, Fence: uint64(id) * 10, Pool: "pool", Holder: holder, Token: lease.Token("tok-" + holder), TTL: ttl}
}

func add(t *testing.T, b *Book, g Grant, sentAt time.Time) Lease {
	t.Helper()
	r, err := b.Reserve()
	if err != nil {
		t.Fatalf("reserve: %v", err)
	}
	defer r.Cancel()
	l, err := b.Add(r, g, sentAt)
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	return l
}

func TestValidityCountsFromSend(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	sent := clk.Now()
	clk.Advance(2 * time.Second) // the answer took 2s to come back
	l := add(t, b, grant(1, "alice", 30*time.Second), sent)
	if l.State != StateValid || l.Remaining != 28*time.Second {
		t.Fatalf("lease = %+v, want valid with 28s left (counted from the send)", l)
	}
	clk.Advance(28 * time.Second)
	if l, _ := b.Get(1); l.State != StateExpired || l.Remaining != 0 {
		t.Fatalf("at sent+ttl: %+v, want expired", l)
	}
}

func TestRenewAtAThirdOfTTL(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	t0 := clk.Now()
	add(t, b, grant(1, "alice", 30*time.Second), t0)
	due, ok := b.RenewDue()
	if !ok || !due.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("RenewDue = %v %v, want t0+10s", due, ok)
	}
	// A second lease acquired later is renewed in the same batch.
	clk.Advance(4 * time.Second)
	add(t, b, grant(2, "bob", 30*time.Second), clk.Now())
	clk.Advance(6 * time.Second)
	if got := b.RenewBatch(); len(got) != 2 {
		t.Fatalf("RenewBatch = %v, want both leases", got)
	}
	sent := clk.Now()
	clk.Advance(time.Second)
	out, err := b.ApplyRenew(sent, []Renewal{
		{ID: 1, OK: true, TTL: 30 * time.Second, Token: "tok-1b"},
		{ID: 2, OK: true, TTL: 30 * time.Second, Token: "tok-2b"},
	})
	if err != nil || out.Renewed != 2 {
		t.Fatalf("ApplyRenew = %+v, %v", out, err)
	}
	l, _ := b.Get(1)
	if l.Remaining != 29*time.Second || l.Token != "tok-1b" {
		t.Fatalf("after renew: %+v, want 29s left and the fresh token", l)
	}
	if due, _ := b.RenewDue(); !due.Equal(sent.Add(10 * time.Second)) {
		t.Fatalf("next renewal at %v, want sent+10s (one schedule for both)", due)
	}
}

func TestValidWhileUnreachableUntilEnd(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	add(t, b, grant(1, "alice", 30*time.Second), clk.Now())
	// No master answers: nothing is applied, the lease is valid until its
	// own end and expired after.
	clk.Advance(29*time.Second + 999*time.Millisecond)
	if l, _ := b.Get(1); l.State != StateValid {
		t.Fatalf("just before the end: %s, want valid", l.State)
	}
	if sw := b.Sweep(); len(sw.Expired) != 0 {
		t.Fatalf("sweep before end reported %v", sw.Expired)
	}
	clk.Advance(time.Millisecond)
	if l, _ := b.Get(1); l.State != StateExpired {
		t.Fatalf("at the end: %s, want expired", l.State)
	}
	if _, ok := b.Find("pool", "alice"); ok {
		t.Fatal("Find returned an expired lease")
	}
	if sw := b.Sweep(); len(sw.Expired) != 1 {
		t.Fatalf("sweep reported %d expired, want 1", len(sw.Expired))
	}
	if sw := b.Sweep(); len(sw.Expired) != 0 {
		t.Fatal("sweep reported the same expiry twice")
	}
	if c := b.Counts(); c.Held != 1 || c.Expired != 1 || c.Valid != 0 {
		t.Fatalf("counts = %+v", c)
	}
	// A master answers again and still knows it: valid again.
	sent := clk.Now()
	out, err := b.ApplyRenew(sent, []Renewal{{ID: 1, OK: true, TTL: 30 * time.Second, Token: "t2"}})
	if err != nil || len(out.Revived) != 1 {
		t.Fatalf("revive: %+v %v", out, err)
	}
}

func TestRenewNeverShortens(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	add(t, b, grant(1, "alice", 60*time.Second), clk.Now())
	clk.Advance(20 * time.Second)
	if _, err := b.ApplyRenew(clk.Now(), []Renewal{{ID: 1, OK: true, TTL: 10 * time.Second, Token: "t"}}); err != nil {
		t.Fatal(err)
	}
	if l, _ := b.Get(1); l.Remaining != 40*time.Second {
		t.Fatalf("remaining %v, want 40s (a shorter TTL does not cut a promised validity)", l.Remaining)
	}
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
	if err != nil || len(out.Lost) != 1 || out.Lost[0].ID != 1 {
		t.Fatalf("ApplyRenew = %+v, %v", out, err)
	}
	l, _ := b.Get(1)
	if l.State != StateLost || l.Reason != "unknown_lease" || l.Remaining != 0 {
		t.Fatalf("lost lease = %+v", l)
	}
	if ids := b.RenewBatch(); len(ids) != 1 || ids[0] != 2 {
		t.Fatalf("RenewBatch = %v, want only the kept lease", ids)
	}
	if _, ok := b.Find("pool", "alice"); ok {
		t.Fatal("Find returned a lost lease")
	}
	clk.Advance(DefaultRetention)
	if sw := b.Sweep(); sw.Dropped != 1 {
		t.Fatalf("sweep dropped %d, want the lost lease after retention", sw.Dropped)
	}
	if _, ok := b.Get(1); ok {
		t.Fatal("lost lease still listed after retention")
	}
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
		if _, err := b.ApplyRenew(clk.Now(), bad); !errors.Is(err, ErrBadGrant) {
			t.Errorf("ApplyRenew(%+v) err = %v, want ErrBadGrant", bad, err)
		}
	}
	if after, _ := b.Get(1); after != before {
		t.Fatalf("lease changed: %+v -> %+v", before, after)
	}
}

func TestRenewWithoutTokenKeepsToken(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	add(t, b, grant(1, "alice", 30*time.Second), clk.Now())
	clk.Advance(10 * time.Second)
	if _, err := b.ApplyRenew(clk.Now(), []Renewal{{ID: 1, OK: true, TTL: 30 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	if l, _ := b.Get(1); l.Token != "tok-alice" || l.Remaining != 30*time.Second {
		t.Fatalf("lease = %+v, want the old token and renewed validity", l)
	}
}

func TestCapacity(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 2)
	add(t, b, grant(1, "a", time.Minute), clk.Now())
	r, err := b.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reserve(); !errors.Is(err, ErrFull) {
		t.Fatalf("third reservation: err = %v, want ErrFull (reservations count)", err)
	}
	r.Cancel()
	r.Cancel() // idempotent
	add(t, b, grant(2, "b", time.Minute), clk.Now())
	if _, err := b.Reserve(); !errors.Is(err, ErrFull) {
		t.Fatalf("full book: err = %v, want ErrFull", err)
	}
	// A lost lease makes room.
	if _, err := b.ApplyRenew(clk.Now(), []Renewal{{ID: 1, Reason: "expired"}}); err != nil {
		t.Fatal(err)
	}
	if r, err := b.Reserve(); err != nil {
		t.Fatalf("reserve after a loss: %v", err)
	} else {
		r.Cancel()
	}
	if _, ok := b.Get(1); ok {
		t.Fatal("lost lease was not dropped to make room")
	}
}

func TestAddCollisionAndRefresh(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	add(t, b, grant(1, "alice", time.Minute), clk.Now())
	r, _ := b.Reserve()
	defer r.Cancel()
	if _, err := b.Add(r, grant(1, "mallory", time.Minute), clk.Now()); !errors.Is(err, ErrCollision) {
		t.Fatalf("collision: err = %v", err)
	}
	if l, _ := b.Get(1); l.Holder != "alice" {
		t.Fatalf("collision changed the lease: %+v", l)
	}
	clk.Advance(50 * time.Second)
	l, err := b.Add(r, grant(1, "alice", time.Minute), clk.Now())
	if err != nil || l.Remaining != time.Minute {
		t.Fatalf("refresh: %+v %v", l, err)
	}
	if n := len(b.List()); n != 1 {
		t.Fatalf("refresh added an entry: %d", n)
	}
}

func TestReleasing(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	add(t, b, grant(1, "alice", 30*time.Second), clk.Now())
	if _, err := b.MarkReleasing(1); err != nil {
		t.Fatal(err)
	}
	if len(b.RenewBatch()) != 0 {
		t.Fatal("a releasing lease is renewed")
	}
	if ids := b.Releasing(); len(ids) != 1 {
		t.Fatalf("Releasing = %v", ids)
	}
	clk.Advance(30 * time.Second)
	if sw := b.Sweep(); sw.Dropped != 1 {
		t.Fatalf("unconfirmed release not dropped at the lease's end: %+v", sw)
	}
	if _, err := b.Remove(1); !errors.Is(err, ErrUnknown) {
		t.Fatalf("Remove after drop: %v", err)
	}
}

func TestNextSweep(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	if _, ok := b.NextSweep(); ok {
		t.Fatal("empty book has a sweep due")
	}
	t0 := clk.Now()
	add(t, b, grant(1, "alice", 30*time.Second), t0)
	if at, ok := b.NextSweep(); !ok || !at.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("NextSweep = %v %v, want the lease's end", at, ok)
	}
}

// A released lease whose release no master confirmed keeps its holder
// indexed, so a new acquire for that holder settles it first instead of
// being handed the same lease back and losing it to the late release.
func TestPendingReleaseMustBeSettledBeforeReacquire(t *testing.T) {
	clk := newFakeClock()
	b := New(clk, 10)
	add(t, b, grant(1, "alice", 30*time.Second), clk.Now())
	if _, err := b.MarkReleasing(1); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Find("pool", "alice"); ok {
		t.Fatal("a releasing lease is still found as valid")
	}
	id, ok := b.FindReleasing("pool", "alice")
	if !ok || id != 1 {
		t.Fatalf("FindReleasing = %d %v", id, ok)
	}
	if !b.RemoveIfReleasing(1) {
		t.Fatal("the releasing lease was not removed")
	}
	if _, ok := b.FindReleasing("pool", "alice"); ok {
		t.Fatal("still releasing after removal")
	}
	// A valid lease is never removed by a late release confirmation.
	add(t, b, grant(2, "alice", 30*time.Second), clk.Now())
	if b.RemoveIfReleasing(2) {
		t.Fatal("RemoveIfReleasing removed a valid lease")
	}
	if _, ok := b.Get(2); !ok {
		t.Fatal("valid lease gone")
	}
}
