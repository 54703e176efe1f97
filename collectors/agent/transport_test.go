package agent

import (
	"testing"
	"time"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/collectors/config"
)

func TestQUIC(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMasterTransport(false)
	cfg := testConfig(t, c.Token(), m)
	cfg.Transport = config.TransportAuto
	a, clk := newAgent(t, cfg)
	startRun(t, a)
	if st := a.Status(); st.Protocol != "h3" || st.Transport != "auto" {
		t.Fatalf("status: protocol %q transport %q, want h3 over auto", st.Protocol, st.Transport)
	}
	l := acquire(t, a, "seats", "alice")
	for c.Calls("Renew") == 0 {
		clk.Advance(time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	if got, _ := a.Lease(l.ID); got.State != "valid" {
		t.Fatalf("lease over QUIC: %+v", got)
	}
}

func TestFallsBackToTCPWhenUDPBlocked(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMasterTransport(true) // no UDP listener: QUIC cannot connect
	cfg := testConfig(t, c.Token(), m)
	cfg.Transport = config.TransportAuto
	a, _ := newAgent(t, cfg)
	startRun(t, a)
	if st := a.Status(); st.Protocol != "h2" {
		t.Fatalf("protocol %q, want h2 after falling back", st.Protocol)
	}
	acquire(t, a, "seats", "alice")
}
