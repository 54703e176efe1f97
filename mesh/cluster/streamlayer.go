package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// tlsStreamLayer is raft's StreamLayer over TCP with mutual TLS. Both sides
// verify each other: the listener requires a client certificate from
// ServerTLS.ClientCAs, and dials verify the server against ClientTLS.RootCAs.
type tlsStreamLayer struct {
	ln        net.Listener // plain TCP; TLS is layered per connection
	advertise net.Addr
	server    *tls.Config
	client    *tls.Config
	// handshakeTimeout bounds an inbound handshake so that a silent client
	// cannot hold one of raft's connection goroutines forever.
	handshakeTimeout time.Duration
}

// advertiseAddr is a net.Addr for a host:port that may be a hostname.
type advertiseAddr string

func (a advertiseAddr) Network() string { return "tcp" }
func (a advertiseAddr) String() string  { return string(a) }

func newTLSStreamLayer(bind, advertise string, server, client *tls.Config, timeout time.Duration) (*tlsStreamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen for raft on %s: %w", bind, err)
	}
	if advertise == "" {
		advertise = ln.Addr().String()
	}
	srv := server.Clone()
	srv.ClientAuth = tls.RequireAndVerifyClientCert
	if srv.MinVersion < tls.VersionTLS12 {
		srv.MinVersion = tls.VersionTLS12
	}
	cli := client.Clone()
	if cli.MinVersion < tls.VersionTLS12 {
		cli.MinVersion = tls.VersionTLS12
	}
	return &tlsStreamLayer{
		ln:               ln,
		advertise:        advertiseAddr(advertise),
		server:           srv,
		client:           cli,
		handshakeTimeout: timeout,
	}, nil
}

// Accept implements net.Listener. The handshake runs on the connection's first
// Read or Write, in raft's per-connection goroutine, not in the accept loop.
func (s *tlsStreamLayer) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		return nil, err
	}
	return &serverConn{Conn: tls.Server(c, s.server), timeout: s.handshakeTimeout}, nil
}

// Close implements net.Listener.
func (s *tlsStreamLayer) Close() error { return s.ln.Close() }

// Addr implements net.Listener; raft uses it as this node's advertised address.
func (s *tlsStreamLayer) Addr() net.Addr { return s.advertise }

// Dial implements raft.StreamLayer: TCP connect and TLS handshake, both within
// timeout.
func (s *tlsStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return s.dialContext(ctx, string(address))
}

func (s *tlsStreamLayer) dialContext(ctx context.Context, address string) (net.Conn, error) {
	d := &tls.Dialer{Config: s.client}
	return d.DialContext(ctx, "tcp", address)
}

// verifyPeer checks that address answers with a certificate the cluster
// trusts, so that the leader never adds a voter it cannot replicate to.
func (s *tlsStreamLayer) verifyPeer(ctx context.Context, address string) error {
	c, err := s.dialContext(ctx, address)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrPeerUntrusted, address, err)
	}
	return c.Close()
}

// serverConn completes the TLS handshake lazily and with a deadline.
type serverConn struct {
	*tls.Conn
	timeout time.Duration
	once    sync.Once
	err     error
}

func (c *serverConn) handshake() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		c.err = c.HandshakeContext(ctx)
	})
	return c.err
}

// Read implements net.Conn.
func (c *serverConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

// Write implements net.Conn.
func (c *serverConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
