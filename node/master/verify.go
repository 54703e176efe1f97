package master

import (
	"context"
	"sync"
	"time"
)

// leaderCheck confirms leadership for renewals answered from memory. A
// master that believes it leads may be deposed without knowing it: frozen
// by SIGSTOP, a long GC or a VM pause, it wakes with renewals queued in its
// sockets while a newer leader has already expired their leases and granted
// the seats again. raft.State() still says leader then, and LeaderLeaseTimeout
// only helps while its timers run.
//
// So a renewal is answered only after a verification that started after the
// renewal arrived has heard from a quorum that still follows this master.
// Verifications are shared: all callers waiting when one starts ride on it,
// and a caller arriving while one is in flight waits for the next, since the
// one in flight may have started before it arrived. One verification is in
// flight at a time, so the cost is one verification per round, however many
// renewals wait.
//
// It is safe for concurrent use.
type leaderCheck struct {
	// verify returns nil only if a quorum has recognized this master as
	// leader at some instant after verify was called.
	verify func() error

	// spacing is the least time from one round's start to the next one's
	// while rounds follow each other. Under load a round costs the same
	// whatever it confirms, so spacing them trades a little latency for
	// fewer of them.
	spacing   time.Duration
	lastStart time.Time // of the last round; only run touches it

	mu      sync.Mutex
	running bool          // run is starting or waiting on rounds
	next    *verification // the round callers join; starts when the last ends
}

// verification is one round's outcome, readable once done is closed.
type verification struct {
	done chan struct{}
	err  error
}

// wait returns the round's outcome once it ends, or ctx's error first.
func (v *verification) wait(ctx context.Context) error {
	select {
	case <-v.done:
		return v.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func newLeaderCheck(verify func() error, spacing time.Duration) *leaderCheck {
	return &leaderCheck{verify: verify, spacing: spacing}
}

// Confirm returns nil once a quorum has recognized this master as leader at
// some instant after Confirm was called, or the reason it could not. The
// round it joins goes on if ctx ends first, for the other callers.
func (c *leaderCheck) Confirm(ctx context.Context) error {
	return c.join().wait(ctx)
}

// join returns the round that has not started yet, starting the rounds if
// none is in flight. A caller that joins before it does the work the round
// confirms overlaps the two.
func (c *leaderCheck) join() *verification {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next == nil {
		c.next = &verification{done: make(chan struct{})}
	}
	v := c.next
	if !c.running {
		c.running = true
		go c.run()
	}
	return v
}

// run starts rounds, one at a time and at most one per spacing, each for
// the callers that joined before it started, and returns once a round ends
// with nobody waiting for another. It owns running while it runs; verify's
// own bound (raft answers every barrier once it steps down or shuts down)
// and spacing are its way out.
func (c *leaderCheck) run() {
	for first := true; ; first = false {
		// Spacing is for rounds that follow each other under load; the
		// first round of a quiet spell starts at once, so a lone renewal
		// waits for one confirmation and nothing more.
		if wait := c.spacing - time.Since(c.lastStart); wait > 0 && !first {
			time.Sleep(wait)
		}
		c.mu.Lock()
		v := c.next
		c.next = nil
		c.running = v != nil
		c.mu.Unlock()
		if v == nil {
			return
		}
		c.lastStart = time.Now()
		v.err = c.verify()
		close(v.done)
	}
}
