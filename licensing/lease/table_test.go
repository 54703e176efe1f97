package lease

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for TTL tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func mustGrant(t *testing.T, tb *Table, id ID, ttl time.Duration) time.Time {
	t.Helper()
	d, err := tb.Grant(id, ttl)
	if err != nil {
		t.Fatalf("Grant(%d): %v", id, err)
	}
	return d
}

func TestTableGrantRenew(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk.Now)
	t0 := clk.Now()
	if d := mustGrant(t, tb, 1, 30*time.Second); !d.Equal(t0.Add(30 * time.Second)) {
		t.Fatalf("deadline = %v", d)
	}
	clk.Advance(10 * time.Second)
	d, err := tb.Renew(1)
	if err != nil || !d.Equal(t0.Add(40*time.Second)) {
		t.Fatalf("Renew = %v, %v", d, err)
	}
	if _, err := tb.Renew(2); !errors.Is(err, ErrUnknownLease) {
		t.Fatalf("Renew unknown = %v", err)
	}
	if _, err := tb.Grant(3, 0); !errors.Is(err, ErrInvalidTTL) {
		t.Fatalf("Grant ttl 0 = %v", err)
	}
	if tb.Len() != 1 {
		t.Fatalf("Len = %d", tb.Len())
	}
}

func TestTableRenewAfterDeadlineFails(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk.Now)
	mustGrant(t, tb, 7, 10*time.Second)
	clk.Advance(10 * time.Second)
	// At the deadline exactly the lease is still live.
	if _, err := tb.Renew(7); err != nil {
		t.Fatalf("Renew at deadline: %v", err)
	}
	clk.Advance(10*time.Second + time.Millisecond)
	if _, err := tb.Renew(7); !errors.Is(err, ErrExpired) {
		t.Fatalf("Renew after deadline = %v, want ErrExpired", err)
	}
	// Still expired on a second try: renewal does not revive it.
	if _, err := tb.Renew(7); !errors.Is(err, ErrExpired) {
		t.Fatalf("second Renew = %v, want ErrExpired", err)
	}
	if got := tb.Expired(0); !slices.Equal(got, []ID{7}) {
		t.Fatalf("Expired = %v", got)
	}
	if !tb.Remove(7) || tb.Remove(7) {
		t.Fatal("Remove should report true once")
	}
	if _, err := tb.Renew(7); !errors.Is(err, ErrUnknownLease) {
		t.Fatalf("Renew after Remove = %v", err)
	}
}

func TestTableResetAllNeverShortens(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk.Now)
	t0 := clk.Now()
	long := mustGrant(t, tb, 1, time.Hour)
	mustGrant(t, tb, 2, time.Second)
	if err := tb.ResetAll([]ID{1, 2, 3}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if d, _ := tb.Deadline(1); !d.Equal(long) {
		t.Errorf("lease 1 deadline = %v, want the longer %v kept", d, long)
	}
	if d, _ := tb.Deadline(2); !d.Equal(t0.Add(time.Minute)) {
		t.Errorf("lease 2 deadline = %v, want extended to %v", d, t0.Add(time.Minute))
	}
	if d, ok := tb.Deadline(3); !ok || !d.Equal(t0.Add(time.Minute)) {
		t.Errorf("lease 3 deadline = %v, %v, want added", d, ok)
	}
	// Lease 2 keeps its own 1 s renewal ttl, but renewing never shortens
	// the minute ResetAll gave it.
	d, err := tb.Renew(2)
	if err != nil || !d.Equal(t0.Add(time.Minute)) {
		t.Errorf("Renew(2) = %v, %v, want deadline kept", d, err)
	}
	if err := tb.ResetAll(nil, 0); !errors.Is(err, ErrInvalidTTL) {
		t.Errorf("ResetAll ttl 0 = %v", err)
	}
}

func TestTableExpiredOrder(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk.Now)
	// Grant with deadlines in a scrambled order; IDs 50 and 51 tie.
	ttls := map[ID]time.Duration{
		10: 5 * time.Second, 20: 1 * time.Second, 30: 9 * time.Second,
		40: 3 * time.Second, 51: 2 * time.Second, 50: 2 * time.Second,
		60: time.Hour,
	}
	for _, id := range []ID{10, 20, 30, 40, 51, 50, 60} {
		mustGrant(t, tb, id, ttls[id])
	}
	if got := tb.Expired(0); got != nil {
		t.Fatalf("Expired before any deadline = %v", got)
	}
	clk.Advance(10 * time.Second)
	want := []ID{20, 50, 51, 40, 10, 30}
	if got := tb.Expired(0); !slices.Equal(got, want) {
		t.Fatalf("Expired = %v, want %v", got, want)
	}
	if got := tb.Expired(3); !slices.Equal(got, want[:3]) {
		t.Fatalf("Expired(3) = %v, want %v", got, want[:3])
	}
	tb.Remove(50)
	if got := tb.Expired(2); !slices.Equal(got, []ID{20, 51}) {
		t.Fatalf("Expired(2) after Remove = %v", got)
	}
}

// TestTableHeapInvariant drives many operations and checks Expired against
// a brute-force answer.
func TestTableHeapInvariant(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk.Now)
	live := map[ID]bool{}
	for i := range 2000 {
		id := ID(i%300 + 1)
		switch i % 7 {
		case 0, 1, 2:
			mustGrant(t, tb, id, time.Duration(i%13+1)*time.Second)
			live[id] = true
		case 3:
			tb.Remove(id)
			delete(live, id)
		case 4:
			_, _ = tb.Renew(id)
		case 5:
			clk.Advance(700 * time.Millisecond)
		case 6:
			if err := tb.ResetAll([]ID{id, id + 1}, 4*time.Second); err != nil {
				t.Fatal(err)
			}
			live[id], live[id+1] = true, true
		}
	}
	if tb.Len() != len(live) {
		t.Fatalf("Len = %d, want %d", tb.Len(), len(live))
	}
	now := clk.Now()
	type dl struct {
		id ID
		d  time.Time
	}
	var all []dl
	for id := range live {
		d, ok := tb.Deadline(id)
		if !ok {
			t.Fatalf("lease %d missing", id)
		}
		if d.Before(now) {
			all = append(all, dl{id, d})
		}
	}
	slices.SortFunc(all, func(a, b dl) int {
		if c := a.d.Compare(b.d); c != 0 {
			return c
		}
		return int(a.id) - int(b.id)
	})
	var want []ID
	for _, x := range all {
		want = append(want, x.id)
	}
	if got := tb.Expired(0); !slices.Equal(got, want) {
		t.Fatalf("Expired = %v\nwant %v", got, want)
	}
}

func TestTableConcurrent(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk.Now)
	for id := ID(1); id <= 100; id++ {
		mustGrant(t, tb, id, time.Minute)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := ID((w*500+i)%100 + 1)
				if _, err := tb.Renew(id); err != nil && !errors.Is(err, ErrUnknownLease) {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					tb.Expired(10)
					clk.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if tb.Len() != 100 {
		t.Fatalf("Len = %d", tb.Len())
	}
}

func TestRenewDoesNotAllocate(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk.Now)
	for id := ID(1); id <= 1000; id++ {
		mustGrant(t, tb, id, time.Minute)
	}
	id := ID(1)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := tb.Renew(id); err != nil {
			t.Fatal(err)
		}
		id = id%1000 + 1
	})
	if allocs != 0 {
		t.Fatalf("Renew allocates %.1f times per call", allocs)
	}
}

func BenchmarkRenew(b *testing.B) {
	tb := NewTable(nil)
	const n = 100_000
	for id := ID(1); id <= n; id++ {
		if _, err := tb.Grant(id, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	id := ID(1)
	for b.Loop() {
		if _, err := tb.Renew(id); err != nil {
			b.Fatal(err)
		}
		id = id%n + 1
	}
}
