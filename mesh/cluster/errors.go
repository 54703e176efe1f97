package cluster

import "errors"

var (
	// ErrInvalidConfig is wrapped by every error Validate returns.
	ErrInvalidConfig = errors.New("cluster: invalid config")
	// ErrNotLeader is returned by leader-only operations on a follower.
	ErrNotLeader = errors.New("cluster: not the leader")
	// ErrLeadershipLost means leadership was lost while an operation was in
	// flight: it may or may not have been committed.
	ErrLeadershipLost = errors.New("cluster: leadership lost, outcome unknown")
	// ErrUnknownPeer is returned when a peer ID is not in the Raft configuration.
	ErrUnknownPeer = errors.New("cluster: unknown peer")
	// ErrLastVoter is returned when a removal would leave no voter.
	ErrLastVoter = errors.New("cluster: refusing to remove the last voter")
	// ErrRemoveSelf is returned when RemovePeer names the local node; use Leave.
	ErrRemoveSelf = errors.New("cluster: cannot remove the local node, use Leave")
	// ErrPeerAlive is returned when RemovePeer names a peer memberlist still sees
	// alive: the leader would add it right back.
	ErrPeerAlive = errors.New("cluster: peer is alive, it must leave or be stopped first")
	// ErrShutdown is returned by operations on a node that was shut down.
	ErrShutdown = errors.New("cluster: node is shut down")
	// ErrJoin is returned when no gossip member could be contacted.
	ErrJoin = errors.New("cluster: join failed")
	// ErrLeaveIncomplete is returned by Leave when the node was still in the
	// Raft configuration when ctx ended; it was shut down anyway.
	ErrLeaveIncomplete = errors.New("cluster: leave not confirmed by the cluster")
	// ErrPeerUntrusted is returned when a peer's Raft port does not present a
	// certificate the cluster trusts.
	ErrPeerUntrusted = errors.New("cluster: peer failed the TLS check")
)
