package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBootstrapThreeAndApply(t *testing.T) {
	h := newHarness(t)
	nodes := h.startCluster(3)

	applyOnLeader(t, nodes, "e1")
	for _, n := range nodes {
		require.Eventually(t, func() bool { return fsmOf(n).has("e1") }, 5*time.Second, poll, string(n.ID())+" applies e1")
	}

	err := onFollower(t, nodes, func(f *Node) error {
		_, err := f.Apply(context.Background(), []byte("x"))
		return err
	})
	require.ErrorIs(t, err, ErrNotLeader, "Apply on follower")

	for _, n := range nodes {
		require.Eventually(t, func() bool {
			id, _ := n.Leader()
			return id != "" && n.LeaderMeta()["api_addr"] == "api-"+string(id)+":7400"
		}, 5*time.Second, poll, string(n.ID())+" finds the leader's api_addr in LeaderMeta")
	}
	require.Eventually(t, func() bool {
		ms := nodes[1].Members()
		if len(ms) != 3 {
			return false
		}
		leaders := 0
		for _, m := range ms {
			if m.State != StateAlive || !m.Voter || m.RaftAddr == "" || m.GossipAddr == "" {
				return false
			}
			if _, reserved := m.Meta[MetaKeyRaftAddr]; reserved {
				return false
			}
			if m.Leader {
				leaders++
			}
		}
		return leaders == 1
	}, 5*time.Second, poll, "Members shows three alive voters and one leader")

	l := waitLeader(t, nodes...)
	require.Equal(t, "Leader", l.Stats()["state"], "Stats state")
}

func TestLeaderFailoverAndRestart(t *testing.T) {
	h := newHarness(t)
	nodes := h.startCluster(3)
	applyOnLeader(t, nodes, "before")
	old := waitLeader(t, nodes...)

	oldCfg := old.cfg
	oldCfg.RaftAddr, oldCfg.GossipAddr = old.RaftAddr(), old.GossipAddr()
	require.NoError(t, old.Shutdown(), "Shutdown")

	rest := followers(old, nodes...)
	start := time.Now()
	leader := waitLeader(t, rest...)
	t.Logf("new leader %s after %v", leader.ID(), time.Since(start))
	applyOnLeader(t, rest, "after")

	// The old leader comes back with the same data and addresses and catches up.
	oldCfg.FSM = &countFSM{}
	oldCfg.Join = []string{rest[0].GossipAddr(), rest[1].GossipAddr()}
	back := h.start(oldCfg)
	all := append(rest, back)
	require.Eventually(t, func() bool {
		return fsmOf(back).has("before") && fsmOf(back).has("after")
	}, 15*time.Second, poll, "restarted node replays both entries")
	applyOnLeader(t, all, "again")
	require.Eventually(t, func() bool { return fsmOf(back).has("again") }, 5*time.Second, poll, "restarted node gets new entries")
	require.Len(t, voters(back), 3, "voters after restart")
}

func TestJoinerAddedAsVoter(t *testing.T) {
	h := newHarness(t)
	nodes := h.startCluster(3)
	applyOnLeader(t, nodes, "e1")

	fourth := h.start(h.config("m4", 0, nodes[1].GossipAddr()))
	require.Eventually(t, func() bool { return hasVoter(fourth, "m4") }, 10*time.Second, poll, "m4 added as voter")
	require.Eventually(t, func() bool { return fsmOf(fourth).has("e1") }, 5*time.Second, poll, "m4 catches up")
	all := append(nodes, fourth)
	leader := waitLeader(t, all...)
	require.Len(t, voters(leader), 4, "voters")
	require.Eventually(t, fourth.hasState.Load, 5*time.Second, poll, "m4 publishes raft_state after being added")
}

func TestLeaveAndRemovePeer(t *testing.T) {
	h := newHarness(t)
	nodes := h.startCluster(3)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// RemovePeer refuses bad requests without changing anything.
	err := onFollower(t, nodes, func(f *Node) error { return f.RemovePeer(ctx, "m1") })
	require.ErrorIs(t, err, ErrNotLeader, "RemovePeer on follower")
	_, err = onLeader(t, nodes, func(l *Node) error { return l.RemovePeer(ctx, "nobody") })
	require.ErrorIs(t, err, ErrUnknownPeer, "RemovePeer unknown")
	_, err = onLeader(t, nodes, func(l *Node) error { return l.RemovePeer(ctx, l.ID()) })
	require.ErrorIs(t, err, ErrRemoveSelf, "RemovePeer self")
	dead := followers(waitLeader(t, nodes...), nodes...)[0]
	_, err = onLeader(t, nodes, func(l *Node) error { return l.RemovePeer(ctx, dead.ID()) })
	require.ErrorIs(t, err, ErrPeerAlive, "RemovePeer alive")

	// A stopped node stays a voter (memberlist is not failover) until removed.
	require.NoError(t, dead.Shutdown())
	live := followers(dead, nodes...)
	require.Eventually(t, func() bool {
		_, err = onLeader(t, live, func(l *Node) error { return l.RemovePeer(ctx, dead.ID()) })
		return !errors.Is(err, ErrPeerAlive)
	}, 15*time.Second, poll, "RemovePeer of the stopped node")
	require.NoError(t, err, "RemovePeer dead")
	for _, n := range live {
		require.Eventually(t, func() bool { return !hasVoter(n, dead.ID()) }, 5*time.Second, poll, "removal replicated")
	}

	// A graceful leave of a follower: the leader removes it.
	leaving := followers(waitLeader(t, live...), live...)[0]
	require.NoError(t, leaving.Leave(ctx), "Leave")
	last := followers(leaving, live...)[0]
	require.Eventually(t, last.IsLeader, 10*time.Second, poll, "the last node leads")
	require.Equal(t, []NodeID{last.ID()}, voters(last), "voters after leave")
	applyOnLeader(t, []*Node{last}, "alone")

	// It is now the last voter.
	require.ErrorIs(t, last.RemovePeer(ctx, last.ID()), ErrLastVoter, "RemovePeer last voter")
	states := map[NodeID]MemberState{}
	for _, m := range last.Members() {
		states[m.ID] = m.State
	}
	require.Equal(t, StateLeft, states[leaving.ID()], "member states = %v, want %s left", states, leaving.ID())
	require.Equal(t, StateDead, states[dead.ID()], "member states = %v, want %s dead", states, dead.ID())
}

func TestLeaderLeaves(t *testing.T) {
	h := newHarness(t)
	nodes := h.startCluster(3)
	leader := waitLeader(t, nodes...)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	require.NoError(t, leader.Leave(ctx), "leader Leave")
	rest := followers(leader, nodes...)
	for _, n := range rest {
		require.Eventually(t, func() bool { return len(voters(n)) == 2 && !hasVoter(n, leader.ID()) }, 5*time.Second, poll,
			string(n.ID())+" sees two voters")
	}
	applyOnLeader(t, rest, "after")
}

func TestSingleNode(t *testing.T) {
	h := newHarness(t)
	n := h.start(h.config("solo", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, err := n.WaitLeader(ctx)
	require.NoError(t, err, "WaitLeader")
	require.Equal(t, NodeID("solo"), id, "WaitLeader")
	require.Eventually(t, n.IsLeader, 5*time.Second, poll, "solo leads")
	res, err := n.Apply(ctx, []byte("x"))
	require.NoError(t, err, "Apply")
	require.Equal(t, 1, res, "Apply")
	require.ErrorIs(t, n.RemovePeer(ctx, "solo"), ErrLastVoter, "RemovePeer last voter")
	require.Eventually(t, n.hasState.Load, 5*time.Second, poll, "raft_state published")

	// Restart: existing state, no second bootstrap, same data.
	cfg := n.cfg
	cfg.RaftAddr, cfg.GossipAddr = n.RaftAddr(), n.GossipAddr()
	require.NoError(t, n.Shutdown())
	require.NoError(t, n.Shutdown(), "second Shutdown")
	cfg.FSM = &countFSM{}
	n2 := h.start(cfg)
	require.True(t, n2.hasState.Load(), "restarted node does not see its state")
	require.Eventually(t, func() bool { return fsmOf(n2).has("x") }, 5*time.Second, poll, "replay after restart")
	require.GreaterOrEqual(t, n2.Raft().LastIndex(), uint64(2), "LastIndex")
	require.NoError(t, n2.Leave(ctx), "Leave of the only node")
	_, err = n2.Apply(ctx, []byte("y"))
	require.ErrorIs(t, err, ErrNotLeader, "Apply after Leave")
	_, err = n2.WaitLeader(ctx)
	require.ErrorIs(t, err, ErrShutdown, "WaitLeader after Leave")
}

// TestSeedRestartRejoinsGossip: the first member, started with no join list,
// restarts on its data and finds the others through the peers it last saw
// alive, at once rather than when they happen to probe it: without gossip it
// knows no leader's address and can forward nothing.
func TestSeedRestartRejoinsGossip(t *testing.T) {
	h := newHarness(t)
	nodes := h.startCluster(3)
	seed := nodes[0]
	require.Empty(t, seed.cfg.Join, "the first member has no join list")
	require.Eventually(t, func() bool { return len(rememberedPeers(seed.cfg.DataDir)) == 2 }, 10*time.Second, poll, "the seed remembers its peers")

	cfg := seed.cfg
	cfg.RaftAddr, cfg.GossipAddr = seed.RaftAddr(), seed.GossipAddr()
	require.NoError(t, seed.Shutdown())
	cfg.FSM = &countFSM{}
	back := h.start(cfg)
	require.Eventually(t, func() bool {
		alive := 0
		for _, m := range back.Members() {
			if m.State == StateAlive && m.ID != back.ID() {
				alive++
			}
		}
		_, leaderMetaKnown := back.LeaderMeta()["api_addr"]
		return alive == 2 && leaderMetaKnown
	}, 5*time.Second, poll, "the restarted seed sees its peers and the leader's meta")
}
