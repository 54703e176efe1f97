package lease

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/clock/clocktest"
)

func newFakeClock() *clocktest.Fake {
	return clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}

func mustGrant(t *testing.T, tb *Table, id ID, ttl time.Duration) time.Time {
	t.Helper()
	d, err := tb.Grant(id, ttl, 0)
	require.NoError(t, err, "Grant(%d)", id)
	return d
}

func TestTableGrantRenew(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk)
	t0 := clk.Now()
	require.Equal(t, t0.Add(30*time.Second), mustGrant(t, tb, 1, 30*time.Second), "deadline")
	clk.Advance(10 * time.Second)
	d, err := tb.Renew(1)
	require.NoError(t, err, "Renew")
	require.Equal(t, t0.Add(40*time.Second), d, "Renew")
	_, err = tb.Renew(2)
	require.ErrorIs(t, err, ErrUnknownLease, "Renew unknown")
	_, err = tb.Grant(3, 0, 0)
	require.ErrorIs(t, err, ErrInvalidTTL, "Grant ttl 0")
	require.Equal(t, 1, tb.Len())
}

func TestTableRenewAfterDeadlineFails(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk)
	mustGrant(t, tb, 7, 10*time.Second)
	clk.Advance(10 * time.Second)
	// At the deadline exactly the lease is still live.
	_, err := tb.Renew(7)
	require.NoError(t, err, "Renew at deadline")
	clk.Advance(10*time.Second + time.Millisecond)
	_, err = tb.Renew(7)
	require.ErrorIs(t, err, ErrExpired, "Renew after deadline")
	// Still expired on a second try: renewal does not revive it.
	_, err = tb.Renew(7)
	require.ErrorIs(t, err, ErrExpired, "second Renew")
	require.Equal(t, []ID{7}, tb.Expired(0))
	require.True(t, tb.Remove(7), "first Remove")
	require.False(t, tb.Remove(7), "second Remove")
	_, err = tb.Renew(7)
	require.ErrorIs(t, err, ErrUnknownLease, "Renew after Remove")
}

func TestTableResetAllNeverShortens(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk)
	t0 := clk.Now()
	long := mustGrant(t, tb, 1, time.Hour)
	mustGrant(t, tb, 2, time.Second)
	require.NoError(t, tb.ResetAll([]ID{1, 2, 3}, time.Minute))
	d, ok := tb.Deadline(1)
	assert.True(t, ok)
	assert.Equal(t, long, d, "lease 1: the longer deadline kept")
	d, ok = tb.Deadline(2)
	assert.True(t, ok)
	assert.Equal(t, t0.Add(time.Minute), d, "lease 2: extended")
	d, ok = tb.Deadline(3)
	assert.True(t, ok, "lease 3 added")
	assert.Equal(t, t0.Add(time.Minute), d, "lease 3")
	// Lease 2 keeps its own 1 s renewal ttl, but renewing never shortens
	// the minute ResetAll gave it.
	d, err := tb.Renew(2)
	if assert.NoError(t, err, "Renew(2)") {
		assert.Equal(t, t0.Add(time.Minute), d, "Renew(2): deadline kept")
	}
	assert.ErrorIs(t, tb.ResetAll(nil, 0), ErrInvalidTTL, "ResetAll ttl 0")
}

func TestTableExpiredOrder(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk)
	// Grant with deadlines in a scrambled order; IDs 50 and 51 tie.
	ttls := map[ID]time.Duration{
		10: 5 * time.Second, 20: 1 * time.Second, 30: 9 * time.Second,
		40: 3 * time.Second, 51: 2 * time.Second, 50: 2 * time.Second,
		60: time.Hour,
	}
	for _, id := range []ID{10, 20, 30, 40, 51, 50, 60} {
		mustGrant(t, tb, id, ttls[id])
	}
	require.Nil(t, tb.Expired(0), "Expired before any deadline")
	clk.Advance(10 * time.Second)
	want := []ID{20, 50, 51, 40, 10, 30}
	require.Equal(t, want, tb.Expired(0))
	require.Equal(t, want[:3], tb.Expired(3))
	tb.Remove(50)
	require.Equal(t, []ID{20, 51}, tb.Expired(2), "Expired(2) after Remove")
}

// TestTableHeapInvariant drives many operations, with Expired (which
// settles renewed entries into place) called among them, and checks each
// Expired against a brute-force answer from the deadlines.
func TestTableHeapInvariant(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk)
	live := map[ID]bool{}
	want := func() []ID {
		now := clk.Now()
		type dl struct {
			id ID
			d  time.Time
		}
		var all []dl
		for id := range live {
			d, ok := tb.Deadline(id)
			require.True(t, ok, "lease %d missing", id)
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
		var ids []ID
		for _, x := range all {
			ids = append(ids, x.id)
		}
		return ids
	}
	for i := range 5000 {
		id := ID(i%300 + 1)
		switch i % 9 {
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
			require.NoError(t, tb.ResetAll([]ID{id, id + 1}, 4*time.Second))
			live[id], live[id+1] = true, true
		case 7:
			tb.Hold(id, clk.Now().Add(time.Duration(i%5)*time.Second))
		case 8:
			if i%5 == 0 {
				require.Equal(t, want(), tb.Expired(0), "Expired after %d steps", i)
			}
		}
	}
	require.Equal(t, len(live), tb.Len(), "Len")
	all := want()
	require.Equal(t, all, tb.Expired(0))
	require.Equal(t, all[:min(3, len(all))], tb.Expired(3))
}

// TestRenewEach: one call renews many leases with the outcomes Renew
// would give each, in order.
func TestRenewEach(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk)
	mustGrant(t, tb, 1, 10*time.Second)
	mustGrant(t, tb, 2, time.Second)
	clk.Advance(2 * time.Second)
	type out struct {
		d   time.Time
		err error
	}
	var got []out
	tb.RenewEach([]ID{1, 2, 3}, func(i int, d time.Time, err error) {
		require.Equal(t, len(got), i)
		got = append(got, out{d, err})
	})
	require.Len(t, got, 3)
	require.NoError(t, got[0].err)
	require.True(t, got[0].d.Equal(clk.Now().Add(10*time.Second)))
	require.ErrorIs(t, got[1].err, ErrExpired)
	require.ErrorIs(t, got[2].err, ErrUnknownLease)
	require.Equal(t, []ID{2}, tb.Expired(0))
}

func TestTableConcurrent(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk)
	for id := ID(1); id <= 100; id++ {
		mustGrant(t, tb, id, time.Minute)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := ID((w*500+i)%100 + 1)
				if _, err := tb.Renew(id); err != nil && !assert.ErrorIs(t, err, ErrUnknownLease) {
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
	require.Equal(t, 100, tb.Len())
}

func TestRenewDoesNotAllocate(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk)
	for id := ID(1); id <= 1000; id++ {
		mustGrant(t, tb, id, time.Minute)
	}
	id := ID(1)
	allocs := testing.AllocsPerRun(1000, func() {
		_, err := tb.Renew(id)
		require.NoError(t, err)
		id = id%1000 + 1
	})
	require.Zero(t, allocs, "Renew allocates per call")
}

func BenchmarkRenew(b *testing.B) {
	tb := NewTable(nil)
	const n = 100_000
	for id := ID(1); id <= n; id++ {
		_, err := tb.Grant(id, time.Minute, 0)
		require.NoError(b, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	id := ID(1)
	for b.Loop() {
		// A plain check: require's bookkeeping would be timed with Renew.
		if _, err := tb.Renew(id); err != nil {
			b.Fatal(err)
		}
		id = id%n + 1
	}
}

// TestTableGrace: a lease with an offline grace stays in the table that
// much past its TTL, through renewals and a new leader's reset; a
// collector back within the grace renews it.
func TestTableGrace(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk)
	t0 := clk.Now()
	d, err := tb.Grant(1, 30*time.Second, 2*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, t0.Add(150*time.Second), d)
	mustGrant(t, tb, 2, 30*time.Second)
	clk.Advance(100 * time.Second)
	assert.Equal(t, []ID{2}, tb.Expired(0), "past its TTL the graceless lease is due, the other is not")
	d, err = tb.Renew(1)
	require.NoError(t, err, "back within the grace")
	assert.Equal(t, t0.Add(250*time.Second), d)
	require.NoError(t, tb.ResetAll([]ID{1}, 10*time.Second))
	dl, _ := tb.Deadline(1)
	assert.Equal(t, t0.Add(250*time.Second), dl, "a reset never shortens")
	clk.Advance(200 * time.Second)
	require.NoError(t, tb.ResetAll([]ID{1}, 10*time.Second))
	dl, _ = tb.Deadline(1)
	assert.Equal(t, clk.Now().Add(130*time.Second), dl, "a reset gives the TTL and the grace")
	_, err = tb.Grant(3, time.Second, -time.Second)
	require.ErrorIs(t, err, ErrInvalidTTL)
}

// TestTableHold: a borrowed lease stays until its end whatever renewals
// and resets say.
func TestTableHold(t *testing.T) {
	clk := newFakeClock()
	tb := NewTable(clk)
	t0 := clk.Now()
	mustGrant(t, tb, 1, 30*time.Second)
	assert.False(t, tb.Hold(9, t0.Add(time.Hour)), "untracked")
	require.True(t, tb.Hold(1, t0.Add(time.Hour)))
	clk.Advance(59 * time.Minute)
	assert.Empty(t, tb.Expired(0))
	_, err := tb.Renew(1)
	require.NoError(t, err)
	dl, _ := tb.Deadline(1)
	assert.Equal(t, t0.Add(time.Hour), dl, "a renewal within the borrow leaves its end")
	clk.Advance(2 * time.Minute)
	assert.Equal(t, []ID{1}, tb.Expired(0))
}
