package cluster

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// watchLeadership drains raft's notify channel (raft blocks on it) and wakes
// the reconcile loop when this node becomes leader.
func (n *Node) watchLeadership(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case leader := <-n.notifyCh:
			if leader {
				n.log.Info("cluster: became leader")
				select {
				case n.kick <- struct{}{}:
				default:
				}
			} else {
				n.log.Info("cluster: lost leadership")
			}
		}
	}
}

// runReconcile makes the Raft configuration follow memberlist while this node
// is leader: on every member event, on gaining leadership, and every
// ReconcileInterval.
func (n *Node) runReconcile(ctx context.Context) {
	t := time.NewTicker(n.cfg.ReconcileInterval)
	defer t.Stop()
	warned := map[NodeID]string{}    // last add failure logged per member
	told := map[NodeID]memberEntry{} // left members sent msgRemoved
	for {
		watch := n.members.watch()
		select {
		case <-ctx.Done():
			return
		case <-watch:
		case <-n.kick:
		case <-t.C:
		}
		if n.IsLeader() {
			n.reconcile(ctx, warned, told)
		}
	}
}

// reconcile adds alive masters missing from the configuration (or present
// with an old address) as voters, and removes masters that left gracefully.
// Dead masters stay: memberlist is discovery, Raft handles failures.
func (n *Node) reconcile(ctx context.Context, warned map[NodeID]string, told map[NodeID]memberEntry) {
	servers, err := n.configuration()
	if err != nil {
		return
	}
	for _, e := range n.members.snapshot() {
		if !e.isMaster() || e.id == n.id {
			continue
		}
		if ctx.Err() != nil || !n.IsLeader() {
			return
		}
		s, inRaft := servers[e.id]
		switch e.state {
		case StateAlive:
			delete(told, e.id) // it came back; tell it again if it leaves again
			addr := e.raftAddr()
			if addr == "" || (inRaft && s.Suffrage == raft.Voter && string(s.Address) == addr) {
				continue
			}
			if err := n.addVoter(ctx, e.id, addr); err != nil {
				if msg := err.Error(); warned[e.id] != msg {
					warned[e.id] = msg
					n.log.Warn("cluster: cannot add master", "member", string(e.id), "raft_addr", addr, "error", err)
				}
				continue
			}
			delete(warned, e.id)
		case StateLeft:
			if inRaft {
				if err := n.removeServer(ctx, e.id); err != nil {
					n.log.Warn("cluster: cannot remove master that left", "member", string(e.id), "error", err)
					continue
				}
				n.log.Info("cluster: removed master that left", "member", string(e.id))
			}
			// Also when a previous leader removed it: that leader may have
			// lost leadership before telling it.
			if prev, ok := told[e.id]; !ok || prev.gossipAddr != e.gossipAddr {
				told[e.id] = e
				n.sendAsync(e, userMsg(msgRemoved, e.id))
			}
		}
	}
}

// addVoter first proves that addr serves Raft with a certificate of our CA:
// a voter we cannot replicate to would only weaken the quorum.
func (n *Node) addVoter(ctx context.Context, id NodeID, addr string) error {
	vctx, cancel := context.WithTimeout(ctx, n.cfg.RaftTimeout)
	err := n.stream.verifyPeer(vctx, addr)
	cancel()
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, n.cfg.RaftTimeout)
	defer cancel()
	f := n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, n.cfg.RaftTimeout)
	if err := waitFuture(actx, f); err != nil {
		return err
	}
	n.log.Info("cluster: added voter", "member", string(id), "raft_addr", addr)
	return nil
}

func (n *Node) removeServer(ctx context.Context, id NodeID) error {
	timeout, err := timeoutFrom(ctx)
	if err != nil {
		return err
	}
	if timeout == 0 || timeout > n.cfg.RaftTimeout {
		timeout = n.cfg.RaftTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return waitFuture(rctx, n.raft.RemoveServer(raft.ServerID(id), 0, timeout))
}

// sendAsync sends a user message to a member over memberlist's TCP channel,
// in a goroutine that Shutdown waits for (it ends on memberlist's TCP
// timeout at the latest). done, if not nil, gets one value when it ends.
func (n *Node) sendAsync(e memberEntry, msg []byte, done ...chan<- struct{}) {
	host, portStr, err := net.SplitHostPort(e.gossipAddr)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil {
		return
	}
	to := &memberlist.Node{Name: string(e.id), Addr: net.ParseIP(host), Port: uint16(port)}
	n.wg.Go(func() {
		if n.gossipRunning() {
			if err := n.gossip.SendReliable(to, msg); err != nil {
				n.log.Debug("cluster: send to member", "member", string(e.id), "error", err)
			}
		}
		for _, d := range done {
			d <- struct{}{}
		}
	})
}

// configuration returns this node's latest view of the Raft configuration.
func (n *Node) configuration() (map[NodeID]raft.Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, mapRaftErr(err)
	}
	servers := map[NodeID]raft.Server{}
	for _, s := range f.Configuration().Servers {
		servers[NodeID(s.ID)] = s
	}
	return servers, nil
}

func countVoters(servers map[NodeID]raft.Server) int {
	voters := 0
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	return voters
}

// RemovePeer removes a failed master from the Raft configuration for good. It
// runs on the leader only (ErrNotLeader otherwise) and refuses an unknown ID
// (ErrUnknownPeer), the last voter (ErrLastVoter), the local node
// (ErrRemoveSelf: use Leave) and a peer memberlist still sees alive
// (ErrPeerAlive: the leader would add it right back).
func (n *Node) RemovePeer(ctx context.Context, id NodeID) error {
	if !n.IsLeader() {
		return ErrNotLeader
	}
	servers, err := n.configuration()
	if err != nil {
		return err
	}
	s, ok := servers[id]
	switch {
	case !ok:
		return fmt.Errorf("%w: %q", ErrUnknownPeer, id)
	case s.Suffrage == raft.Voter && countVoters(servers) <= 1:
		return fmt.Errorf("%w: %q", ErrLastVoter, id)
	case id == n.id:
		return ErrRemoveSelf
	}
	if e, ok := n.members.get(id); ok && e.state == StateAlive {
		return fmt.Errorf("%w: %q", ErrPeerAlive, id)
	}
	if err := n.removeServer(ctx, id); err != nil {
		return err
	}
	n.log.Info("cluster: removed peer", "member", string(id))
	return nil
}
