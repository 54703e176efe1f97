// Package transport carries the collector protocol: one http.Handler (the
// ConnectRPC handlers) served over HTTP/3 on UDP and over HTTP/2 on TLS/TCP on
// the same port number, and a client that prefers HTTP/3 and falls back to
// HTTP/2 by itself where UDP is blocked.
//
// Both sides use the caller's *tls.Config unchanged apart from ALPN, so mutual
// TLS is whatever that config says. HTTP/3 connections never use 0-RTT: a
// replayed lease request must not be possible.
//
// The server listens in NewServer, so Addr is known before Run starts serving;
// the client remembers per host which protocol works and retries QUIC after
// ClientConfig.RetryQUICAfter.
package transport
