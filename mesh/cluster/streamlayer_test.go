package cluster

import (
	"context"
	"crypto/tls"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

func TestStreamLayerMutualTLS(t *testing.T) {
	ca := newTestCA(t, "good")
	other := newTestCA(t, "other")
	srvTLS, cliTLS := ca.tlsPair(t, "a")
	_, rogueCli := other.tlsPair(t, "rogue")

	sl, err := newTLSStreamLayer("127.0.0.1:0", "", srvTLS, cliTLS, 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sl.Close() })
	addr := sl.Addr().String()

	// The server echoes one byte per connection.
	go func() {
		for {
			c, err := sl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 1)
				if _, err := io.ReadFull(c, b); err == nil {
					_, _ = c.Write(b)
				}
			}()
		}
	}()

	c, err := sl.Dial(raft.ServerAddress(addr), 2*time.Second)
	require.NoError(t, err, "trusted dial")
	_, err = c.Write([]byte{7})
	require.NoError(t, err)
	b := make([]byte, 1)
	_, err = io.ReadFull(c, b)
	require.NoError(t, err, "echo")
	require.Equal(t, []byte{7}, b, "echo")
	_ = c.Close()

	// A client with a certificate from another CA: the server refuses it.
	// (With TLS 1.3 the client learns it on its first read.)
	rogue := rogueCli.Clone()
	rogue.RootCAs = ca.pool // it even trusts our server
	rc, err := tls.Dial("tcp", addr, rogue)
	if err == nil {
		_ = rc.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = rc.Write([]byte{1})
		_, err = io.ReadFull(rc, b)
		_ = rc.Close()
	}
	require.Error(t, err, "server accepted a client certificate from another CA")

	// A client without any certificate is refused too.
	noCert := &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS13}
	nc, err := tls.Dial("tcp", addr, noCert)
	if err == nil {
		_ = nc.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = nc.Write([]byte{1})
		_, err = io.ReadFull(nc, b)
		_ = nc.Close()
	}
	require.Error(t, err, "server accepted a client without a certificate")

	// verifyPeer rejects a server whose certificate comes from another CA.
	rogueSrv, _ := other.tlsPair(t, "rogue")
	rsl, err := newTLSStreamLayer("127.0.0.1:0", "", rogueSrv, rogueCli, 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rsl.Close() })
	go func() {
		for {
			c, err := rsl.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); _ = c.Close() }()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	require.Error(t, sl.verifyPeer(ctx, rsl.Addr().String()), "verifyPeer trusted a server from another CA")
	require.NoError(t, sl.verifyPeer(ctx, addr), "verifyPeer of a trusted server")
}

func TestSilentClientTimesOut(t *testing.T) {
	ca := newTestCA(t, "good")
	srvTLS, cliTLS := ca.tlsPair(t, "a")
	sl, err := newTLSStreamLayer("127.0.0.1:0", "", srvTLS, cliTLS, 200*time.Millisecond)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sl.Close() })
	done := make(chan error, 1)
	go func() {
		c, err := sl.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = c.Read(make([]byte, 1))
		done <- err
	}()
	var d netDialer
	raw, err := d.dial(sl.Addr().String())
	require.NoError(t, err)
	defer raw.Close()
	select {
	case err := <-done:
		require.Error(t, err, "read succeeded without a handshake")
	case <-time.After(5 * time.Second):
		t.Fatal("handshake of a silent client never timed out")
	}
}

func TestRogueNodeNeverJoins(t *testing.T) {
	h := newHarness(t)
	nodes := h.startCluster(3)

	// Same gossip key (it learnt it somehow) but Raft certificates from
	// another CA.
	rogueCA := newTestCA(t, "rogue-ca")
	cfg := h.config("rogue", 0, nodes[0].GossipAddr())
	cfg.ServerTLS, cfg.ClientTLS = rogueCA.tlsPair(t, "rogue")
	rogue := h.start(cfg)

	require.Eventually(t, func() bool {
		return h.logs.contains("cannot add master", `"member":"rogue"`)
	}, 10*time.Second, poll, "leader refuses the rogue")
	leader := applyOnLeader(t, nodes, "secret")
	for _, m := range leader.Members() {
		if m.ID == "rogue" {
			require.Equal(t, StateAlive, m.State, "rogue member = %+v, want alive non-voter", m)
			require.False(t, m.Voter, "rogue member = %+v, want alive non-voter", m)
		}
	}
	for _, n := range nodes {
		require.False(t, hasVoter(n, "rogue"), "%s has the rogue in its configuration", n.ID())
	}
	require.False(t, fsmOf(rogue).has("secret"), "rogue received log entries")
	require.Zero(t, rogue.Raft().LastIndex(), "rogue received log entries")
	id, _ := rogue.Leader()
	require.Empty(t, id, "rogue knows leader")
}
