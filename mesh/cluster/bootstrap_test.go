package cluster

import (
	"strings"
	"testing"
	"time"
)

// A fresh node configured with bootstrap_expect=1 that joins an existing
// cluster must not bootstrap a second one: it waits and is added as a voter.
func TestFreshNodeDoesNotBootstrapBesideCluster(t *testing.T) {
	h := newHarness(t)
	solo := h.start(h.config("a", 1))
	waitFor(t, 5*time.Second, solo.IsLeader, "a leads")
	applyOnLeader(t, []*Node{solo}, "e1")
	waitFor(t, 5*time.Second, solo.hasState.Load, "a publishes raft_state")

	b := h.start(h.config("b", 1, solo.GossipAddr()))
	waitFor(t, 10*time.Second, func() bool { return hasVoter(solo, "b") }, "b added by the leader")
	waitFor(t, 5*time.Second, func() bool { return fsmOf(b).has("e1") }, "b catches up")
	if h.logs.contains(`"msg":"cluster: bootstrapped"`, `"node_id":"b"`) {
		t.Fatal("b bootstrapped its own cluster")
	}
	if id, _ := b.Leader(); id != "a" {
		t.Fatalf("b follows %q, want a", id)
	}
}

func TestBootstrapServersRefusesMismatch(t *testing.T) {
	h := newHarness(t)
	a := h.start(h.config("a", 3))
	c := h.config("c", 5, a.GossipAddr())
	h.start(c)
	waitFor(t, 5*time.Second, func() bool {
		_, problem := a.bootstrapServers()
		return strings.Contains(problem, "different bootstrap_expect")
	}, "a notices c's bootstrap_expect")
	if a.Raft().LastIndex() != 0 {
		t.Fatal("a bootstrapped")
	}
}
