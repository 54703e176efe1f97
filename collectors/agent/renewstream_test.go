package agent

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// TestRenewalsShareOneStream: a collector's renewals ride one RenewStream
// to the master they go to, each answered on it; a master from before the
// stream is renewed by Renew calls, and asked again for a stream only an
// hour later.
func TestRenewalsShareOneStream(t *testing.T) {
	for _, tc := range []struct {
		name    string
		old     bool
		streams int
	}{
		{"stream", false, 1},
		{"old master", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := agenttest.NewCluster(t)
			m := c.StartMaster()
			if tc.old {
				m.LackRenewStream()
			}
			a, clk := enrolled(t, c, m)
			acquire(t, a, "seats", "alice")
			var s schedule
			for range 12 {
				clk.Advance(10 * time.Second)
				a.step(context.Background(), &s)
			}
			assert.Equal(t, 12, c.Calls("Renew"), "renewals")
			assert.Equal(t, tc.streams, c.Calls("RenewStream"), "streams opened")
			validLease(t, a, "seats", "alice")
			if !tc.old {
				return
			}
			// The old master may be updated within the hour: the stream is
			// asked for again after it.
			require.Len(t, a.renewals.unary, 1)
			for _, until := range a.renewals.unary {
				assert.True(t, until.After(clk.Now()), "renewed by Renew until %v, now %v", until, clk.Now())
				assert.False(t, until.After(clk.Now().Add(unaryFor)), "renewed by Renew until %v, now %v", until, clk.Now())
			}
		})
	}
}

// TestRenewalStreamFollowsTheMaster: when the master a collector renews
// through stops, its renewal goes to the next master, on a stream of its
// own there.
func TestRenewalStreamFollowsTheMaster(t *testing.T) {
	c := agenttest.NewCluster(t)
	m1 := c.StartMaster()
	m2 := c.StartMaster()
	a, clk := enrolled(t, c, m1, m2)
	acquire(t, a, "seats", "alice")
	var s schedule
	clk.Advance(10 * time.Second)
	a.step(context.Background(), &s)
	require.Equal(t, 1, c.Calls("RenewStream"))
	m1.Close()
	for range 3 {
		clk.Advance(10 * time.Second)
		a.step(context.Background(), &s)
	}
	assert.Equal(t, 2, c.Calls("RenewStream"), "streams opened")
	assert.Equal(t, 4, c.Calls("Renew"), "renewals")
	validLease(t, a, "seats", "alice")
}

// TestRenewalStreamCutAtTheDeadline: a renewal its master does not answer
// within the request timeout cuts the stream and goes to the next master,
// as a call that timed out does.
func TestRenewalStreamCutAtTheDeadline(t *testing.T) {
	c := agenttest.NewCluster(t)
	m1 := c.StartMaster()
	m2 := c.StartMaster()
	a, clk := enrolled(t, c, m1, m2)
	acquire(t, a, "seats", "alice")
	hang := make(chan struct{})
	defer close(hang)
	var renewals atomic.Int32
	c.SetHooks(agenttest.Hooks{Renew: func(*licmeshv1.RenewResponse) error {
		if renewals.Add(1) == 2 {
			<-hang
		}
		return nil
	}})
	var s schedule
	clk.Advance(10 * time.Second)
	a.step(context.Background(), &s)
	require.Equal(t, 1, c.Calls("RenewStream"))
	clk.Advance(10 * time.Second)
	start := time.Now()
	a.step(context.Background(), &s)
	assert.GreaterOrEqual(t, time.Since(start), a.cfg.RequestTimeout, "gave up before the request timeout")
	assert.Equal(t, 2, c.Calls("RenewStream"), "streams opened")
	assert.Equal(t, int32(3), renewals.Load(), "renewals answered or hung")
	l := validLease(t, a, "seats", "alice")
	assert.Equal(t, 30*time.Second, l.Remaining, "renewed by the second master")
}
