package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// gossipLeaveTimeout bounds the wait for our leave messages to go out when
// ctx has no earlier deadline.
const gossipLeaveTimeout = 5 * time.Second

// Leave takes this node out of the cluster gracefully and shuts it down. A
// leader first hands leadership over (or, failing that, removes itself). Then
// the node announces its departure in memberlist, the leader removes it from
// the Raft configuration, and Leave waits until this node sees itself removed
// or ctx ends (ErrLeaveIncomplete; an operator can then use RemovePeer).
func (n *Node) Leave(ctx context.Context) error {
	if n.closed.Load() {
		return ErrShutdown
	}
	servers, err := n.configuration()
	if err != nil {
		return err
	}
	_, member := servers[n.id]
	others := countVoters(servers)
	if member && servers[n.id].Suffrage == raft.Voter {
		others--
	}
	if member && others > 0 && n.IsLeader() {
		n.handOver(ctx)
	}
	n.leaveGossip(ctx)
	if member && others > 0 {
		err = n.waitRemoved(ctx)
	}
	return errors.Join(err, n.Shutdown())
}

// handOver transfers leadership, or removes this node itself while still
// leader, so that a leader never leaves silently.
func (n *Node) handOver(ctx context.Context) {
	err := waitFuture(ctx, n.raft.LeadershipTransfer())
	if err == nil {
		n.log.Info("cluster: handed leadership over before leaving")
		return
	}
	n.log.Warn("cluster: leadership transfer failed, removing ourselves", "error", err)
	if n.IsLeader() {
		if err := n.removeServer(ctx, n.id); err != nil {
			n.log.Warn("cluster: remove ourselves", "error", err)
		}
	}
}

// leaveGossip announces our departure; memberlist keeps running so that the
// message keeps spreading, and so that the leader can tell us we are out.
func (n *Node) leaveGossip(ctx context.Context) {
	n.gossipMu.Lock()
	if n.gossipDown || n.gossipLeft {
		n.gossipMu.Unlock()
		return
	}
	// From here on markHasState sends no alive message that would revive us.
	n.gossipLeft = true
	n.gossipMu.Unlock()

	timeout := gossipLeaveTimeout
	if d, err := timeoutFrom(ctx); err == nil && d > 0 && d < timeout {
		timeout = d
	}
	n.sendLeaveIntent(timeout)

	n.gossipMu.Lock()
	defer n.gossipMu.Unlock()
	if n.gossipDown { // memberlist panics on Leave after Shutdown
		return
	}
	if err := n.gossip.Leave(timeout); err != nil {
		n.log.Warn("cluster: gossip leave", "error", err)
	}
}

// waitRemoved waits until the leader says we are removed (msgRemoved) or
// our own view of the configuration no longer lists us.
func (n *Node) waitRemoved(ctx context.Context) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		servers, err := n.configuration()
		if err != nil {
			return err
		}
		if _, ok := servers[n.id]; !ok {
			n.log.Info("cluster: left the cluster")
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrLeaveIncomplete, ctx.Err())
		case <-n.removed:
			n.log.Info("cluster: left the cluster")
			return nil
		case <-t.C:
		}
	}
}

// sendLeaveIntent tells every alive member, over memberlist's TCP channel,
// that our coming departure is a leave and not a failure.
func (n *Node) sendLeaveIntent(timeout time.Duration) {
	n.members.markLeaving(n.id)
	var targets []memberEntry
	for _, e := range n.members.snapshot() {
		if e.id != n.id && e.state == StateAlive {
			targets = append(targets, e)
		}
	}
	sent := make(chan struct{}, len(targets))
	for _, e := range targets {
		n.sendAsync(e, userMsg(msgLeaveIntent, n.id), sent)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for range targets {
		select {
		case <-sent:
		case <-t.C:
			return
		}
	}
}
