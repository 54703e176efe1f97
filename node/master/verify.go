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
	spacing time.Duration
	// lull is how long from the last round's start a following round
	// waits for fullRound patient callers (renewals) before it starts
	// with fewer. Renewals are sent a third of a TTL ahead, so a tenth of
	// a second is nothing to them, while each round is a Raft entry on
	// every master: a quiet fleet renewing steadily would otherwise pay
	// one every spacing for a handful of renewals each.
	lull      time.Duration
	fullRound int
	lastStart time.Time // of the last round; only run touches it

	mu      sync.Mutex
	running bool          // run is starting or waiting on rounds
	next    *verification // the round callers join; starts when the last ends
	// filled, while run waits out a lull, is closed when the next round
	// has fullRound callers or an impatient one.
	filled chan struct{}
}

// verification is one round's outcome, readable once done is closed.
type verification struct {
	done chan struct{}
	err  error
	// callers joined so far, and whether one of them would not wait out
	// a lull; guarded by the leaderCheck's mu.
	callers   int
	impatient bool
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

// newLeaderCheck returns a leaderCheck whose rounds, while they follow
// each other, start at least spacing apart, and wait up to lull for
// fullRound patient callers (lull <= spacing: they never wait for more).
func newLeaderCheck(verify func() error, spacing, lull time.Duration, fullRound int) *leaderCheck {
	return &leaderCheck{verify: verify, spacing: spacing, lull: lull, fullRound: max(fullRound, 1)}
}

// Confirm returns nil once a quorum has recognized this master as leader at
// some instant after Confirm was called, or the reason it could not. The
// round it joins goes on if ctx ends first, for the other callers. A patient
// caller's round may wait out a lull for others.
func (c *leaderCheck) Confirm(ctx context.Context, patient bool) error {
	return c.join(patient).wait(ctx)
}

// join returns the round that has not started yet, starting the rounds if
// none is in flight. A caller that joins before it does the work the round
// confirms overlaps the two. An impatient caller ends a lull at once.
func (c *leaderCheck) join(patient bool) *verification {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next == nil {
		c.next = &verification{done: make(chan struct{})}
	}
	v := c.next
	v.callers++
	v.impatient = v.impatient || !patient
	if c.filled != nil && (!patient || v.callers >= c.fullRound) {
		close(c.filled)
		c.filled = nil
	}
	if !c.running {
		c.running = true
		go c.run()
	}
	return v
}

// run starts rounds, one at a time and paced (see pace), each for the
// callers that joined before it started, and returns once a round ends
// with nobody waiting for another. It owns running while it runs; verify's
// own bound (raft answers every barrier once it steps down or shuts down)
// and the pacing's are its way out.
func (c *leaderCheck) run() {
	for first := true; ; first = false {
		// Pacing is for rounds that follow each other; the first round
		// of a quiet spell starts at once, so a lone renewal waits for
		// one confirmation and nothing more.
		if !first {
			c.pace()
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

// pace waits before a round that follows another: until spacing after the
// last one started, and then, while fewer than fullRound callers wait and
// none of them is impatient, until lull after it.
func (c *leaderCheck) pace() {
	if wait := c.spacing - time.Since(c.lastStart); wait > 0 {
		time.Sleep(wait)
	}
	wait := c.lull - time.Since(c.lastStart)
	c.mu.Lock()
	if wait <= 0 || c.next == nil || c.next.callers >= c.fullRound || c.next.impatient {
		c.mu.Unlock()
		return
	}
	filled := make(chan struct{})
	c.filled = filled
	c.mu.Unlock()
	t := time.NewTimer(wait)
	select {
	case <-filled:
	case <-t.C:
	}
	t.Stop()
	c.mu.Lock()
	c.filled = nil
	c.mu.Unlock()
}
