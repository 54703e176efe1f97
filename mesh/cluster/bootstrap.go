package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/raft"
)

const (
	// bootstrapRecheck paces the bootstrap loop between member events.
	bootstrapRecheck = 250 * time.Millisecond
	// metaUpdateTimeout bounds the wait for our meta update to go out.
	metaUpdateTimeout = time.Second
)

// runBootstrap waits until this node has Raft state, bootstrapping the
// cluster itself when BootstrapExpect masters are present, then publishes
// that it has state. A node that starts with state skips all of it: a cluster
// is never bootstrapped twice.
func (n *Node) runBootstrap(ctx context.Context) {
	if n.hasState.Load() {
		return
	}
	t := time.NewTicker(bootstrapRecheck)
	defer t.Stop()
	var warned string
	joined := n.joined // nil once seen closed, so that it wakes us only once
	for {
		watch := n.members.watch()
		if n.raft.LastIndex() > 0 {
			// Bootstrapped by us or a peer, or added by the leader.
			n.markHasState(ctx)
			return
		}
		if n.cfg.BootstrapExpect > 0 && n.hasJoined() {
			servers, problem := n.bootstrapServers()
			switch {
			case servers != nil:
				n.bootstrap(ctx, servers)
			case problem != "" && problem != warned:
				n.log.Warn("cluster: not bootstrapping", "reason", problem)
			}
			warned = problem
		}
		select {
		case <-ctx.Done():
			return
		case <-watch:
		case <-joined:
			joined = nil
		case <-t.C:
		}
	}
}

// hasJoined reports whether the initial join is done, so that a node with a
// Join list sees the existing cluster (and its raft_state) before it would
// bootstrap; with BootstrapExpect 1 it would otherwise bootstrap at once.
func (n *Node) hasJoined() bool {
	select {
	case <-n.joined:
		return true
	default:
		return false
	}
}

// bootstrapServers returns the configuration to bootstrap with, or nil and
// why not (empty when simply still waiting). Every fresh master computes the
// same sorted list from the same memberlist view, so several of them
// bootstrapping at once write identical first entries.
func (n *Node) bootstrapServers() ([]raft.Server, string) {
	var servers []raft.Server
	for _, e := range n.members.snapshot() {
		if !e.isMaster() || e.state != StateAlive {
			continue
		}
		if e.id != n.id && e.hasState() {
			// A cluster already exists: wait for its leader to add us.
			return nil, "member " + string(e.id) + " already has raft state; waiting to be added by the leader"
		}
		switch e.expect() {
		case n.cfg.BootstrapExpect:
		case 0:
			continue // a joiner; the leader adds it later
		default:
			return nil, "member " + string(e.id) + " advertises a different bootstrap_expect (" +
				e.meta[MetaKeyBootstrapExpect] + ")"
		}
		if e.raftAddr() == "" {
			continue
		}
		servers = append(servers, raft.Server{
			Suffrage: raft.Voter,
			ID:       raft.ServerID(e.id),
			Address:  raft.ServerAddress(e.raftAddr()),
		})
	}
	switch {
	case len(servers) < n.cfg.BootstrapExpect:
		return nil, ""
	case len(servers) > n.cfg.BootstrapExpect:
		// Different nodes could pick different subsets: refuse rather than
		// risk two clusters.
		return nil, "more masters with this bootstrap_expect than expected"
	}
	for _, s := range servers {
		if NodeID(s.ID) == n.id {
			return servers, "" // already sorted by ID
		}
	}
	return nil, ""
}

func (n *Node) bootstrap(ctx context.Context, servers []raft.Server) {
	ids := make([]string, len(servers))
	for i, s := range servers {
		ids[i] = string(s.ID)
	}
	err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error()
	switch {
	case err == nil:
		n.log.Info("cluster: bootstrapped", "servers", ids)
	case errors.Is(err, raft.ErrCantBootstrap):
		// A peer's leader reached us first; we have state now.
	case ctx.Err() == nil:
		n.log.Error("cluster: bootstrap", "servers", ids, "error", err)
	}
}

// markHasState publishes raft_state=1 so that fresh masters join this cluster
// instead of bootstrapping another.
func (n *Node) markHasState(ctx context.Context) {
	n.hasState.Store(true)
	// Holding gossipMu keeps Leave from starting meanwhile: an alive message
	// sent after the leave message would revive us in the peers' eyes.
	n.gossipMu.Lock()
	defer n.gossipMu.Unlock()
	if n.gossipDown || n.gossipLeft || ctx.Err() != nil {
		return
	}
	if err := n.gossip.UpdateNode(metaUpdateTimeout); err != nil {
		// The meta still spreads with the next push/pull.
		n.log.Debug("cluster: publish raft state", "error", err)
	}
}
