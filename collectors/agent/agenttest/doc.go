// Package agenttest is a fake master cluster for testing collectors, like
// httptest for servers: real TLS (HTTP/2 on TCP, mutual TLS with a real
// cluster CA from mesh/pki), the real CollectorService protocol, lease tokens
// signed with a real cluster key, in-memory seats and leases shared by every
// master of the cluster, and hooks that let a test make a master answer wrong.
// For updates it streams entitlement documents with a scripted update order,
// serves builds at /v1/artifacts/<sha256> and records ReportUpdate.
//
// It grants leases like the masters do from the collector's point of view and
// nothing more: no Raft, no persistence.
package agenttest
