// Package master is meshd's server: one master of the customer site's Raft
// cluster. It wires the replicated state machine (node/fsm) to the cluster
// (mesh/cluster), serves collectors over QUIC with mTLS (mesh/transport),
// serves operators over HTTPS (the admin API, the dashboard, health and
// metrics), and runs the leader's duties: the lease coalescer, renewals from
// memory, expiry, and the cluster's one-time bootstrap of its identity.
//
// Any master accepts any request. Writes that reach a follower are forwarded
// to the leader in one hop over the PeerService, authenticated by the
// masters' own certificates.
package master
