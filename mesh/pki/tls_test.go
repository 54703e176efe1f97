package pki

import (
	"context"
	"crypto/tls"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handshakeResult is what the test server saw of one connection.
type handshakeResult struct {
	role Role
	id   string
	err  error // handshake error, or VerifiedPeer's
}

// startServer runs a TLS listener on loopback that handshakes each
// connection, reports the peer it verified and closes the connection. It is
// stopped, and its goroutine waited for, when the test ends.
func startServer(t *testing.T, cfg *tls.Config) (addr string, results <-chan handshakeResult) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err, "listen")
	out := make(chan handshakeResult, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // listener closed
			}
			tc := conn.(*tls.Conn)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var r handshakeResult
			if r.err = tc.HandshakeContext(ctx); r.err == nil {
				r.role, r.id, r.err = VerifiedPeer(tc.ConnectionState())
				// Let the client see the handshake finish before closing.
				_, _ = tc.Write([]byte{1})
			}
			cancel()
			_ = tc.Close()
			out <- r
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	return ln.Addr().String(), out
}

// dial connects to addr with cfg and waits for the server's first byte, so
// that a server-side rejection of the client certificate (which TLS 1.3
// reports after the client's handshake completes) surfaces here too.
func dial(t *testing.T, addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != nil {
		return tls.ConnectionState{}, err
	}
	return conn.(*tls.Conn).ConnectionState(), nil
}

func waitResult(t *testing.T, results <-chan handshakeResult) handshakeResult {
	t.Helper()
	select {
	case r := <-results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("server saw no connection")
		return handshakeResult{}
	}
}

// cluster is a CA with a master's certificate and a collector's, issued at
// the real time because TLS verifies against the real clock.
type cluster struct {
	ca        *CA
	master    tls.Certificate
	collector tls.Certificate
}

func newCluster(t *testing.T, id string) cluster {
	t.Helper()
	now := time.Now()
	ca := newTestCA(t, id, now)
	master, err := ca.IssueNode("m1", []string{"127.0.0.1"}, time.Hour, now)
	require.NoError(t, err)
	csr, key, err := NewCSR("c1")
	require.NoError(t, err)
	der, err := ca.SignCSR(csr, "c1", time.Hour, now)
	require.NoError(t, err)
	collector, err := TLSCertificate(key, der, ca.Cert().Raw)
	require.NoError(t, err)
	return cluster{ca: ca, master: master, collector: collector}
}

func TestMutualTLS(t *testing.T) {
	c := newCluster(t, "c1")
	addr, results := startServer(t, c.ca.ServerTLS(c.master, tls.RequireAndVerifyClientCert))

	for _, tt := range []struct {
		name     string
		cert     tls.Certificate
		wantRole Role
		wantID   string
	}{
		{"collector", c.collector, RoleCollector, "c1"},
		{"master", c.master, RoleMaster, "m1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := dial(t, addr, ClientTLS(c.ca.Pool(), &tt.cert, "localhost"))
			require.NoError(t, err, "dial")
			assert.Equal(t, uint16(tls.VersionTLS13), cs.Version, "version %x, want TLS 1.3", cs.Version)
			role, id, err := VerifiedPeer(cs)
			if assert.NoError(t, err, "client VerifiedPeer") {
				assert.Equal(t, RoleMaster, role, "client sees role")
				assert.Equal(t, "m1", id, "client sees id")
			}
			r := waitResult(t, results)
			if assert.NoError(t, r.err, "server VerifiedPeer") {
				assert.Equal(t, tt.wantRole, r.role, "server sees role")
				assert.Equal(t, tt.wantID, r.id, "server sees id")
			}
		})
	}
}

func TestMutualTLSRejects(t *testing.T) {
	c := newCluster(t, "c1")
	other := newCluster(t, "c2")
	addr, results := startServer(t, c.ca.ServerTLS(c.master, tls.RequireAndVerifyClientCert))

	t.Run("no client certificate", func(t *testing.T) {
		_, err := dial(t, addr, ClientTLS(c.ca.Pool(), nil, "localhost"))
		require.Error(t, err, "dial succeeded without a client certificate")
		require.Error(t, waitResult(t, results).err, "server accepted a client without a certificate")
	})
	t.Run("client from another cluster", func(t *testing.T) {
		_, err := dial(t, addr, ClientTLS(c.ca.Pool(), &other.collector, "localhost"))
		require.Error(t, err, "dial succeeded with another cluster's certificate")
		require.Error(t, waitResult(t, results).err, "server accepted another cluster's certificate")
	})
	t.Run("server from another cluster", func(t *testing.T) {
		_, err := dial(t, addr, ClientTLS(other.ca.Pool(), &other.collector, "localhost"))
		require.Error(t, err, "client trusted another cluster's server")
		waitResult(t, results)
	})
}

func TestPinnedTLS(t *testing.T) {
	c := newCluster(t, "c1")
	other := newCluster(t, "c2")
	addr, results := startServer(t, c.ca.ServerTLS(c.master, tls.VerifyClientCertIfGiven))

	t.Run("right pin", func(t *testing.T) {
		cs, err := dial(t, addr, PinnedClientTLS(c.ca.Pin()))
		require.NoError(t, err, "dial with the right pin")
		assert.Equal(t, uint16(tls.VersionTLS13), cs.Version, "version %x, want TLS 1.3", cs.Version)
		// An enrolling collector has no certificate: the server must not
		// take it for anyone.
		assert.ErrorIs(t, waitResult(t, results).err, ErrNotVerified, "server VerifiedPeer")
	})
	t.Run("another cluster's pin", func(t *testing.T) {
		_, err := dial(t, addr, PinnedClientTLS(other.ca.Pin()))
		require.ErrorIs(t, err, ErrPinMismatch, "dial")
		t.Log(err)
		waitResult(t, results)
	})
}

func TestPinnedTLSRejectsBadChains(t *testing.T) {
	c := newCluster(t, "c1")
	other := newCluster(t, "c2")
	tests := []struct {
		name  string
		chain tls.Certificate
		want  error
	}{
		// A server of another cluster appends our CA to its chain: the
		// pin matches, but the leaf does not verify against it.
		{"foreign leaf with our CA appended", tls.Certificate{
			Certificate: [][]byte{other.master.Certificate[0], c.ca.Cert().Raw},
			PrivateKey:  other.master.PrivateKey,
		}, ErrUntrustedServer},
		// A collector's certificate is for clients only.
		{"collector certificate as server", c.collector, ErrUntrustedServer},
		{"leaf without its CA", tls.Certificate{
			Certificate: c.master.Certificate[:1],
			PrivateKey:  c.master.PrivateKey,
		}, ErrPinMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, results := startServer(t, c.ca.ServerTLS(tt.chain, tls.NoClientCert))
			_, err := dial(t, addr, PinnedClientTLS(c.ca.Pin()))
			require.ErrorIs(t, err, tt.want, "dial")
			t.Log(err)
			waitResult(t, results)
		})
	}
}

func TestVerifyPinnedEmptyChain(t *testing.T) {
	require.ErrorIs(t, verifyPinned(Pin{}, nil, time.Now()), ErrUntrustedServer)
}

func TestVerifiedPeerUnverified(t *testing.T) {
	_, _, err := VerifiedPeer(tls.ConnectionState{})
	require.ErrorIs(t, err, ErrNotVerified)
}
