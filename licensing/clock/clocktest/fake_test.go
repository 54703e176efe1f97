package clocktest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fired reports whether ch has a value ready.
func fired(ch <-chan time.Time) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestAdvanceFiresDueTimers(t *testing.T) {
	c := New(t0)
	now := c.After(0)
	soon := c.After(time.Second)
	later := c.After(time.Minute)
	require.True(t, fired(now), "After(0) fires at once")

	c.Advance(999 * time.Millisecond)
	require.False(t, fired(soon), "a timer fired before its deadline")
	c.Advance(time.Millisecond)
	require.Equal(t, t0.Add(time.Second), <-soon, "a timer receives the time it fired at")
	require.False(t, fired(later))
	require.Equal(t, t0.Add(time.Second), c.Now())
	require.Equal(t, []time.Duration{0, time.Second, time.Minute}, c.WaitAfters(t, 3))
}

func TestSetMovesBothWays(t *testing.T) {
	c := New(t0)
	timer := c.After(time.Hour)
	c.Set(t0.Add(-time.Hour)) // set back: nothing is due
	require.Equal(t, t0.Add(-time.Hour), c.Now())
	require.False(t, fired(timer), "setting the clock back fired a timer")
	c.Advance(time.Hour)
	require.False(t, fired(timer), "the timer's deadline moved with the clock")
	c.Set(t0.Add(2 * time.Hour))
	require.Equal(t, t0.Add(2*time.Hour), <-timer)
}

func TestConcurrentUse(t *testing.T) {
	c := New(t0)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				ch := c.After(time.Millisecond)
				c.Advance(time.Millisecond)
				<-ch
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	require.Equal(t, t0.Add(400*time.Millisecond), c.Now())
	require.Len(t, c.WaitAfters(t, 400), 400)
}
