package agent

import (
	"testing"
	"time"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/config"
	"github.com/licmesh/licmesh/collectors/leasebook"
	"github.com/stretchr/testify/require"
)

func TestQUIC(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMasterTransport(false)
	cfg := testConfig(t, c.Token(), m)
	cfg.Transport = config.TransportAuto
	a, clk := newAgent(t, cfg)
	startRun(t, a)
	st := a.Status()
	require.Equal(t, "h3", st.Protocol, "status: want h3 over auto")
	require.Equal(t, "auto", st.Transport, "status: want h3 over auto")
	l := acquire(t, a, "seats", "alice")
	for c.Calls("Renew") == 0 {
		clk.Advance(time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	got, _ := a.Lease(l.ID)
	require.Equal(t, leasebook.StateValid, got.State, "lease over QUIC: %+v", got)
}

func TestFallsBackToTCPWhenUDPBlocked(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMasterTransport(true) // no UDP listener: QUIC cannot connect
	cfg := testConfig(t, c.Token(), m)
	cfg.Transport = config.TransportAuto
	a, _ := newAgent(t, cfg)
	startRun(t, a)
	require.Equal(t, "h2", a.Status().Protocol, "protocol, want h2 after falling back")
	acquire(t, a, "seats", "alice")
}
