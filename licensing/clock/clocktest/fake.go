// Package clocktest is the module's fake clock for tests: it moves only when
// told, fires timers as it passes their deadlines, and records how long each
// After was asked to wait.
package clocktest

import (
	"sync"
	"testing"
	"time"

	"github.com/licmesh/licmesh/licensing/clock"
)

var _ clock.Clock = (*Fake)(nil)

// Fake is a clock.Clock that moves only when Advance or Set is called. It is
// safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	cond    *sync.Cond
	now     time.Time
	waiters []waiter
	waits   []time.Duration
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// New returns a fake clock reading now.
func New(now time.Time) *Fake {
	c := &Fake{now: now}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives once the clock has been advanced d.
func (c *Fake) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waits = append(c.waits, d)
	if d <= 0 {
		ch <- c.now
	} else {
		c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	}
	c.cond.Broadcast()
	return ch
}

// Advance moves the clock by d (back when d is negative) and fires the
// timers that are due.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(c.now.Add(d))
}

// Set moves the clock to t, forward or back, and fires the timers that are
// due, as a clock set by hand does.
func (c *Fake) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(t)
}

// setLocked moves the clock to t and fires the due timers. c.mu must be
// held.
func (c *Fake) setLocked(t time.Time) {
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	clear(c.waiters[len(kept):])
	c.waiters = kept
}

// WaitAfters blocks until After has been called n times in all (failing t
// after 10 s) and returns every wait asked for so far.
func (c *Fake) WaitAfters(t testing.TB, n int) []time.Duration {
	t.Helper()
	done := make(chan struct{})
	timer := time.AfterFunc(10*time.Second, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		close(done)
		c.cond.Broadcast()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.waits) < n {
		select {
		case <-done:
			t.Fatalf("After called %d times, want %d", len(c.waits), n)
		default:
		}
		c.cond.Wait()
	}
	return append([]time.Duration(nil), c.waits...)
}
