// Package pki holds the cluster's identity material and tokens: the cluster
// CA that the masters create at bootstrap, the certificates it issues to
// masters (server and client) and to collectors (client only, from a CSR),
// the TLS configurations built on them, the CA pin that lets a collector trust
// the cluster before it has a certificate, and the join and admin tokens.
//
// Identities travel in certificates as a URI SAN, licmesh://master/<id> or
// licmesh://collector/<id>; PeerIdentity and VerifiedPeer read them back.
//
// Token secrets and private keys are never rendered by fmt, slog or error
// messages; the only way to get a token's secret as text is the token's
// String method, which exists to hand the token to a person once.
package pki
