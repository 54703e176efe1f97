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
)

// TestSeatOpsTravelTogether: acquires the product makes while a call is
// under way leave together, in few SeatOps calls, each answered as its own.
func TestSeatOpsTravelTogether(t *testing.T) {
	c := agenttest.NewCluster(t)
	c.SetPool("seats", 40)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	gate := make(chan struct{})
	var held atomic.Int32
	c.SetHooks(agenttest.Hooks{Before: func(method string) error {
		if method == "SeatOps" && held.Add(1) <= seatCallsInFlight {
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
	require.Eventually(t, func() bool { return held.Load() >= seatCallsInFlight && a.seats.Queued() == n-seatCallsInFlight }, 5*time.Second, time.Millisecond,
		"every acquire but those in flight waits in the queue")
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
