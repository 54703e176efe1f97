package cluster

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"

	"github.com/licmesh/licmesh/mesh/diskfile"
)

// peersFile keeps the gossip addresses of the other members last seen
// alive. A master that restarts with Raft state rejoins gossip through them
// even when its own join list is empty (the first master of a cluster) or
// stale: without gossip it knows no leader's address, so it can forward
// nothing, until the others happen to probe it.
const peersFile = "gossip-peers.json"

// maxRememberedPeers bounds the file.
const maxRememberedPeers = 64

// rememberedPeers reads the file; a missing or unreadable one is no peers.
func rememberedPeers(dataDir string) []string {
	b, err := os.ReadFile(filepath.Join(dataDir, peersFile))
	if err != nil {
		return nil
	}
	var addrs []string
	if json.Unmarshal(b, &addrs) != nil || len(addrs) > maxRememberedPeers {
		return nil
	}
	return addrs
}

// alivePeers are the gossip addresses of the alive members but this one.
func (n *Node) alivePeers() []string {
	var out []string
	for _, e := range n.members.snapshot() {
		if e.id != n.id && e.state == StateAlive && e.gossipAddr != "" {
			out = append(out, e.gossipAddr)
		}
	}
	slices.Sort(out)
	if len(out) > maxRememberedPeers {
		out = out[:maxRememberedPeers]
	}
	return out
}

// rememberPeers writes the alive peers to the data dir at every change of
// the set, until ctx ends. An empty set is not written: a node alone for a
// while keeps the peers it had.
func (n *Node) rememberPeers(ctx context.Context) {
	var last []string
	for {
		changed := n.members.watch()
		if peers := n.alivePeers(); len(peers) > 0 && !slices.Equal(peers, last) {
			if err := writePeers(n.cfg.DataDir, peers); err != nil {
				n.log.Warn("cluster: cannot remember the gossip peers", "error", err)
			} else {
				last = peers
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

func writePeers(dataDir string, peers []string) error {
	b, err := json.Marshal(peers)
	if err != nil {
		return err
	}
	return diskfile.Replace(filepath.Join(dataDir, peersFile), b, 0o600)
}
