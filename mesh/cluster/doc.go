// Package cluster runs a master's Raft node and finds its peers with memberlist.
//
// A Node owns one hashicorp/raft instance (raft-boltdb/v2 log and stable store,
// file snapshots, a NetworkTransport over TCP with mutual TLS) and one
// encrypted memberlist agent. memberlist is only for discovery: it tells the
// node which masters exist and at which Raft address, so that
//
//   - a fresh cluster bootstraps once BootstrapExpect masters see each other
//     (every one of them computes the same configuration, the consul way, and a
//     node that already has Raft state never bootstraps again);
//   - the leader adds every alive master it does not yet have as a voter, after
//     checking with a TLS handshake that the peer's Raft port presents a
//     certificate of the cluster CA;
//   - the leader removes a master that left gracefully. memberlist's events do
//     not tell a leave from a failure, so a leaving master first sends every
//     member a leave intent, and the leader tells it once it is removed.
//
// A master that merely fails (memberlist state dead) stays in the Raft
// configuration: Raft handles the failover, and an operator removes a dead
// master for good with RemovePeer.
//
// Concurrency: every exported method of Node is safe for concurrent use. New
// starts the node's background goroutines (join, bootstrap, leadership watch,
// reconcile); Shutdown or Leave stops them and waits for them.
package cluster
