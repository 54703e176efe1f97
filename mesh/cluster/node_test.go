package cluster

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBootstrapThreeAndApply(t *testing.T) {
	h := newHarness(t)
	nodes := h.startCluster(3)

	applyOnLeader(t, nodes, "e1")
	for _, n := range nodes {
		waitFor(t, 5*time.Second, func() bool { return fsmOf(n).has("e1") }, string(n.ID())+" applies e1")
	}

	err := onFollower(t, nodes, func(f *Node) error {
		_, err := f.Apply(context.Background(), []byte("x"))
		return err
	})
	if !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Apply on follower: got %v, want ErrNotLeader", err)
	}

	for _, n := range nodes {
		waitFor(t, 5*time.Second, func() bool {
			id, _ := n.Leader()
			return id != "" && n.LeaderMeta()["api_addr"] == "api-"+string(id)+":7400"
		}, string(n.ID())+" finds the leader's api_addr in LeaderMeta")
	}
	waitFor(t, 5*time.Second, func() bool {
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
	}, "Members shows three alive voters and one leader")

	l := waitLeader(t, nodes...)
	if st := l.Stats()["state"]; st != "Leader" {
		t.Fatalf("Stats state = %q", st)
	}
}

func TestLeaderFailoverAndRestart(t *testing.T) {
	h := newHarness(t)
	nodes := h.startCluster(3)
	applyOnLeader(t, nodes, "before")
	old := waitLeader(t, nodes...)

	oldCfg := old.cfg
	oldCfg.RaftAddr, oldCfg.GossipAddr = old.RaftAddr(), old.GossipAddr()
	if err := old.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

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
	waitFor(t, 15*time.Second, func() bool {
		return fsmOf(back).has("before") && fsmOf(back).has("after")
	}, "restarted node replays both entries")
	applyOnLeader(t, all, "again")
	waitFor(t, 5*time.Second, func() bool { return fsmOf(back).has("again") }, "restarted node gets new entries")
	if got := len(voters(back)); got != 3 {
		t.Fatalf("voters after restart = %d, want 3", got)
	}
}

func TestJoinerAddedAsVoter(t *testing.T) {
	h := newHarness(t)
	nodes := h.startCluster(3)
	applyOnLeader(t, nodes, "e1")

	fourth := h.start(h.config("m4", 0, nodes[1].GossipAddr()))
	waitFor(t, 10*time.Second, func() bool { return hasVoter(fourth, "m4") }, "m4 added as voter")
	waitFor(t, 5*time.Second, func() bool { return fsmOf(fourth).has("e1") }, "m4 catches up")
	all := append(nodes, fourth)
	leader := waitLeader(t, all...)
	if got := len(voters(leader)); got != 4 {
		t.Fatalf("voters = %d, want 4", got)
	}
	waitFor(t, 5*time.Second, fourth.hasState.Load, "m4 publishes raft_state after being added")
}

func TestLeaveAndRemovePeer(t *testing.T) {
	h := newHarness(t)
	nodes := h.startCluster(3)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// RemovePeer refuses bad requests without changing anything.
	err := onFollower(t, nodes, func(f *Node) error { return f.RemovePeer(ctx, "m1") })
	if !errors.Is(err, ErrNotLeader) {
		t.Fatalf("RemovePeer on follower: got %v, want ErrNotLeader", err)
	}
	_, err = onLeader(t, nodes, func(l *Node) error { return l.RemovePeer(ctx, "nobody") })
	if !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("RemovePeer unknown: got %v, want ErrUnknownPeer", err)
	}
	_, err = onLeader(t, nodes, func(l *Node) error { return l.RemovePeer(ctx, l.ID()) })
	if !errors.Is(err, ErrRemoveSelf) {
		t.Fatalf("RemovePeer self: got %v, want ErrRemoveSelf", err)
	}
	dead := followers(waitLeader(t, nodes...), nodes...)[0]
	_, err = onLeader(t, nodes, func(l *Node) error { return l.RemovePeer(ctx, dead.ID()) })
	if !errors.Is(err, ErrPeerAlive) {
		t.Fatalf("RemovePeer alive: got %v, want ErrPeerAlive", err)
	}

	// A stopped node stays a voter (memberlist is not failover) until removed.
	if err := dead.Shutdown(); err != nil {
		t.Fatal(err)
	}
	live := followers(dead, nodes...)
	waitFor(t, 15*time.Second, func() bool {
		_, err := onLeader(t, live, func(l *Node) error { return l.RemovePeer(ctx, dead.ID()) })
		if err != nil && !errors.Is(err, ErrPeerAlive) {
			t.Fatalf("RemovePeer dead: %v", err)
		}
		return err == nil
	}, "RemovePeer of the stopped node")
	for _, n := range live {
		waitFor(t, 5*time.Second, func() bool { return !hasVoter(n, dead.ID()) }, "removal replicated")
	}

	// A graceful leave of a follower: the leader removes it.
	leaving := followers(waitLeader(t, live...), live...)[0]
	if err := leaving.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	last := followers(leaving, live...)[0]
	waitFor(t, 10*time.Second, last.IsLeader, "the last node leads")
	if got := voters(last); len(got) != 1 || got[0] != last.ID() {
		t.Fatalf("voters after leave = %v, want only %s", got, last.ID())
	}
	applyOnLeader(t, []*Node{last}, "alone")

	// It is now the last voter.
	if err := last.RemovePeer(ctx, last.ID()); !errors.Is(err, ErrLastVoter) {
		t.Fatalf("RemovePeer last voter: got %v, want ErrLastVoter", err)
	}
	states := map[NodeID]MemberState{}
	for _, m := range last.Members() {
		states[m.ID] = m.State
	}
	if states[leaving.ID()] != StateLeft || states[dead.ID()] != StateDead {
		t.Fatalf("member states = %v, want %s left and %s dead", states, leaving.ID(), dead.ID())
	}
}

func TestLeaderLeaves(t *testing.T) {
	h := newHarness(t)
	nodes := h.startCluster(3)
	leader := waitLeader(t, nodes...)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := leader.Leave(ctx); err != nil {
		t.Fatalf("leader Leave: %v", err)
	}
	rest := followers(leader, nodes...)
	for _, n := range rest {
		waitFor(t, 5*time.Second, func() bool { return len(voters(n)) == 2 && !hasVoter(n, leader.ID()) },
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
	if err != nil || id != "solo" {
		t.Fatalf("WaitLeader = %q, %v", id, err)
	}
	waitFor(t, 5*time.Second, n.IsLeader, "solo leads")
	res, err := n.Apply(ctx, []byte("x"))
	if err != nil || res != 1 {
		t.Fatalf("Apply = %v, %v; want 1, nil", res, err)
	}
	if err := n.RemovePeer(ctx, "solo"); !errors.Is(err, ErrLastVoter) {
		t.Fatalf("RemovePeer last voter: got %v", err)
	}
	waitFor(t, 5*time.Second, n.hasState.Load, "raft_state published")

	// Restart: existing state, no second bootstrap, same data.
	cfg := n.cfg
	cfg.RaftAddr, cfg.GossipAddr = n.RaftAddr(), n.GossipAddr()
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	cfg.FSM = &countFSM{}
	n2 := h.start(cfg)
	if !n2.hasState.Load() {
		t.Fatal("restarted node does not see its state")
	}
	waitFor(t, 5*time.Second, func() bool { return fsmOf(n2).has("x") }, "replay after restart")
	if idx := n2.Raft().LastIndex(); idx < 2 {
		t.Fatalf("LastIndex = %d", idx)
	}
	if err := n2.Leave(ctx); err != nil {
		t.Fatalf("Leave of the only node: %v", err)
	}
	if _, err := n2.Apply(ctx, []byte("y")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Apply after Leave: got %v", err)
	}
	if _, err := n2.WaitLeader(ctx); !errors.Is(err, ErrShutdown) {
		t.Fatalf("WaitLeader after Leave: got %v", err)
	}
}
