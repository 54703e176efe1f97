package agent

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// TestSeatOpsTravelTogether: acquires the product makes while a call is
// under way leave together, in few SeatOps calls, each answered as its own.
func TestSeatOpsTravelTogether(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetPool("seats", 40)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	gate := make(chan struct{})
	var held, heldOps atomic.Int32
	c.SetHooks(agenttest.Hooks{SeatOps: func(req *licmeshv1.SeatOpsRequest) error {
		if held.Load() < seatCallsInFlight {
			heldOps.Add(int32(len(req.GetOps())))
			held.Add(1)
			<-gate // the first calls hold every slot while the rest queue
		}
		return nil
	}})
	const n = 50
	var g errgroup.Group
	refused := atomic.Int32{}
	for i := range n {
		g.Go(func() error {
			_, err := a.Acquire(context.Background(), "seats", fmt.Sprintf("u%d", i))
			if rej, ok := errors.AsType[*RejectedError](err); ok && rej.Code == connect.CodeResourceExhausted {
				refused.Add(1)
				return nil
			}
			return err
		})
	}
	// Every acquire is in a held call, or waits while every slot is held
	// (one of them may wait outside the queue, for the next free slot).
	require.Eventually(t, func() bool {
		inCalls := int(heldOps.Load())
		return inCalls == n || held.Load() == seatCallsInFlight && inCalls+a.seats.Queued() >= n-1
	}, 5*time.Second, time.Millisecond, "the acquires wait behind the calls in flight")
	close(gate)
	require.NoError(t, g.Wait())
	assert.Equal(t, int32(n-40), refused.Load(), "each beyond the pool's 40 seats is refused on its own")
	assert.Equal(t, 40, a.Status().Leases.Valid)
	assert.Equal(t, n, c.Calls("Acquire"), "one acquire per holder at the master")
	assert.LessOrEqual(t, c.Calls("SeatOps"), seatCallsInFlight+2, "calls for %d acquires", n)
}

// TestSeatOpsOnAnOldMaster: a master from before SeatOps (a site part-way
// through its masters' update) is sent the single calls instead.
func TestSeatOpsOnAnOldMaster(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	m.LackSeatOps()
	a, _ := enrolled(t, c, m)
	l := acquire(t, a, "seats", "alice")
	_, pending, err := a.Release(context.Background(), l.ID)
	require.NoError(t, err)
	require.False(t, pending)
	assert.Equal(t, 1, c.Calls("Acquire"))
	assert.Equal(t, 1, c.Calls("Release"))
	assert.Empty(t, c.Leases(), "released at the master")
}
