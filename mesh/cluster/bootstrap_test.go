package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A fresh node configured with bootstrap_expect=1 that joins an existing
// cluster must not bootstrap a second one: it waits and is added as a voter.
func TestFreshNodeDoesNotBootstrapBesideCluster(t *testing.T) {
	h := newHarness(t)
	solo := h.start(h.config("a", 1))
	require.Eventually(t, solo.IsLeader, 5*time.Second, poll, "a leads")
	applyOnLeader(t, []*Node{solo}, "e1")
	require.Eventually(t, solo.hasState.Load, 5*time.Second, poll, "a publishes raft_state")

	b := h.start(h.config("b", 1, solo.GossipAddr()))
	require.Eventually(t, func() bool { return hasVoter(solo, "b") }, 10*time.Second, poll, "b added by the leader")
	require.Eventually(t, func() bool { return fsmOf(b).has("e1") }, 5*time.Second, poll, "b catches up")
	require.False(t, h.logs.contains(`"msg":"cluster: bootstrapped"`, `"node_id":"b"`), "b bootstrapped its own cluster")
	id, _ := b.Leader()
	require.Equal(t, NodeID("a"), id, "b follows")
}

func TestBootstrapServersRefusesMismatch(t *testing.T) {
	h := newHarness(t)
	a := h.start(h.config("a", 3))
	c := h.config("c", 5, a.GossipAddr())
	h.start(c)
	require.Eventually(t, func() bool {
		_, problem := a.bootstrapServers()
		return strings.Contains(problem, "different bootstrap_expect")
	}, 5*time.Second, poll, "a notices c's bootstrap_expect")
	require.Zero(t, a.Raft().LastIndex(), "a bootstrapped")
}
