package master

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// gatedVerify is a verify function whose rounds start on demand: each call
// reports on started and returns what the test sends on results.
type gatedVerify struct {
	calls   atomic.Int64
	started chan struct{}
	results chan error
}

func newGatedVerify() *gatedVerify {
	return &gatedVerify{started: make(chan struct{}), results: make(chan error)}
}

func (g *gatedVerify) verify() error {
	g.calls.Add(1)
	g.started <- struct{}{}
	return <-g.results
}

// pass lets the next round start and succeed, and checks that v, which
// rides on it, is answered so.
func (g *gatedVerify) pass(t *testing.T, v *verification) {
	t.Helper()
	<-g.started
	g.results <- nil
	<-v.done
	require.NoError(t, v.err)
}

func isDone(v *verification) bool {
	select {
	case <-v.done:
		return true
	default:
		return false
	}
}

func TestLeaderCheckLateCallersWaitForTheNextRound(t *testing.T) {
	g := newGatedVerify()
	c := newLeaderCheck(g.verify, 0, 0, 1)

	first := c.join(true)
	<-g.started // round 1 is in flight

	// Arriving now, these may not ride on round 1: it began before them.
	late := []*verification{c.join(true), c.join(true), c.join(true)}
	for _, v := range late {
		require.Same(t, late[0], v, "callers waiting together share one round")
	}
	require.NotSame(t, first, late[0])

	g.results <- nil
	<-first.done
	require.NoError(t, first.err)

	<-g.started // round 2 starts by itself for the late callers
	require.False(t, isDone(late[0]), "late callers are answered by round 2, not round 1")
	lost := errors.New("leadership lost")
	g.results <- lost
	<-late[0].done
	require.ErrorIs(t, late[0].err, lost)
	require.EqualValues(t, 2, g.calls.Load(), "one verification per round")

	// Nobody waits: no round runs until the next caller.
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.running && c.next == nil
	}, time.Second, time.Millisecond)
	g.pass(t, c.join(true))
	require.EqualValues(t, 3, g.calls.Load())
}

func TestLeaderCheckSharesRoundsUnderLoad(t *testing.T) {
	var calls atomic.Int64
	c := newLeaderCheck(func() error {
		calls.Add(1)
		time.Sleep(2 * time.Millisecond) // a quorum round trip
		return nil
	}, 0, 0, 1)
	const callers = 200
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- c.Confirm(context.Background(), true)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	n := calls.Load()
	t.Logf("%d callers confirmed by %d verifications", callers, n)
	require.Less(t, n, int64(callers/4), "concurrent callers share verifications")
}

func TestLeaderCheckSpacesRounds(t *testing.T) {
	const spacing = 30 * time.Millisecond
	var starts []time.Time
	c := newLeaderCheck(func() error {
		starts = append(starts, time.Now()) // rounds never overlap
		return nil
	}, spacing, 0, 1)
	for range 3 {
		require.NoError(t, c.Confirm(context.Background(), true))
	}
	require.Len(t, starts, 3)
	for i := 1; i < len(starts); i++ {
		require.GreaterOrEqual(t, starts[i].Sub(starts[i-1]), spacing, "round %d", i)
	}
}

// lulling reports whether run is waiting out a lull for more callers.
func lulling(c *leaderCheck) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.filled != nil
}

func TestLeaderCheckWaitsOutALullForPatientCallers(t *testing.T) {
	g := newGatedVerify()
	c := newLeaderCheck(g.verify, 0, time.Hour, 3)

	first := c.join(true)
	<-g.started // the first round of a quiet spell starts at once
	a, b := c.join(true), c.join(true)
	g.results <- nil
	<-first.done

	// Two renewals wait for the next round: it waits for a third.
	require.Eventually(t, func() bool { return lulling(c) }, 10*time.Second, time.Millisecond)
	require.EqualValues(t, 1, g.calls.Load(), "a round started short of a full one")
	third := c.join(true)
	require.Same(t, a, third)
	<-g.started
	require.False(t, lulling(c))
	g.results <- nil
	for _, v := range []*verification{a, b, third} {
		<-v.done
		require.NoError(t, v.err)
	}

	// An impatient caller (a linearizable read) ends the lull at once.
	d := c.join(true)
	<-g.started
	e := c.join(true)
	g.results <- nil
	<-d.done
	require.Eventually(t, func() bool { return lulling(c) }, 10*time.Second, time.Millisecond)
	read := c.join(false)
	require.Same(t, e, read)
	g.pass(t, read)
	require.EqualValues(t, 4, g.calls.Load())
}

func TestLeaderCheckLullEnds(t *testing.T) {
	const lull = 30 * time.Millisecond
	g := newGatedVerify()
	c := newLeaderCheck(g.verify, 0, lull, 1000)
	t0 := time.Now() // no later than round 1's start
	v := c.join(true)
	<-g.started // starts at once
	w := c.join(true)
	g.results <- nil
	<-v.done
	<-g.started // w's round, alone, waits out the lull and goes
	require.GreaterOrEqual(t, time.Since(t0), lull, "round 2 started before the lull ended")
	g.results <- nil
	<-w.done
	require.NoError(t, w.err)
}

func TestLeaderCheckConfirmGivesUpWithItsContext(t *testing.T) {
	g := newGatedVerify()
	c := newLeaderCheck(g.verify, 0, 0, 1)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Confirm(ctx, true) }()
	<-g.started
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)

	// The round goes on for others; a caller after it gets a round of its own.
	other := make(chan error, 1)
	go func() { other <- c.Confirm(context.Background(), true) }()
	g.results <- nil
	<-g.started
	g.results <- nil
	require.NoError(t, <-other)
	require.EqualValues(t, 2, g.calls.Load())
}

// A master that raft still calls leader answers a renewal only after a
// confirmation that began after the renewal arrived, and refuses it when the
// quorum does not confirm.
func TestRenewalWaitsForLeadershipConfirmedAfterItArrived(t *testing.T) {
	s, clk := startMaster(t)
	col := enrolled(t, s, "designer", 1)
	l := acquire(t, s, "designer", "alice", col)
	ids := []uint64{uint64(l.ID)}

	// The real confirmation, a barrier, on this one-node cluster.
	before := lastIndex(s)
	res, err := s.renew(context.Background(), col, ids)
	require.NoError(t, err)
	require.True(t, res[0].Ok, "renewal: %+v", res[0])
	require.Equal(t, before+1, lastIndex(s), "one barrier entry for the renewal")

	g := newGatedVerify()
	s.leaderCheck = newLeaderCheck(g.verify, 0, 0, 1)
	type answer struct {
		res []*licmeshv1.RenewResult
		err error
	}
	renew := func() <-chan answer {
		ch := make(chan answer, 1)
		go func() {
			res, err := s.renew(context.Background(), col, ids)
			ch <- answer{res, err}
		}()
		return ch
	}

	clk.Advance(s.cfg.LeaseTTL / 2)
	deposed := renew()
	<-g.started
	select {
	case a := <-deposed:
		t.Fatalf("renewal answered before its confirmation: %+v", a)
	default:
	}
	g.results <- raft.ErrLeadershipLost
	a := <-deposed
	require.ErrorIs(t, a.err, ErrNotLeader)
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(toConnect(a.err)))
	require.Nil(t, a.res, "results of an unconfirmed renewal")

	confirmed := renew()
	<-g.started
	g.results <- nil
	a = <-confirmed
	require.NoError(t, a.err)
	require.True(t, a.res[0].Ok, "renewal: %+v", a.res[0])
	after, _ := s.table.Deadline(l.ID)
	require.Equal(t, s.now().Add(s.cfg.LeaseTTL), after, "a confirmed renewal gives a full TTL")
}
