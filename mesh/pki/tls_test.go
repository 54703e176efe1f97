package pki

import (
	"context"
	"crypto/tls"
	"errors"
	"sync"
	"testing"
	"time"
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
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	csr, key, err := NewCSR("c1")
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.SignCSR(csr, "c1", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	collector, err := TLSCertificate(key, der, ca.Cert().Raw)
	if err != nil {
		t.Fatal(err)
	}
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
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			if cs.Version != tls.VersionTLS13 {
				t.Errorf("version %x, want TLS 1.3", cs.Version)
			}
			role, id, err := VerifiedPeer(cs)
			if err != nil || role != RoleMaster || id != "m1" {
				t.Errorf("client sees %v %q %v, want master m1", role, id, err)
			}
			r := waitResult(t, results)
			if r.err != nil || r.role != tt.wantRole || r.id != tt.wantID {
				t.Errorf("server sees %v %q %v, want %v %s", r.role, r.id, r.err, tt.wantRole, tt.wantID)
			}
		})
	}
}

func TestMutualTLSRejects(t *testing.T) {
	c := newCluster(t, "c1")
	other := newCluster(t, "c2")
	addr, results := startServer(t, c.ca.ServerTLS(c.master, tls.RequireAndVerifyClientCert))

	t.Run("no client certificate", func(t *testing.T) {
		if _, err := dial(t, addr, ClientTLS(c.ca.Pool(), nil, "localhost")); err == nil {
			t.Fatal("dial succeeded without a client certificate")
		}
		if r := waitResult(t, results); r.err == nil {
			t.Fatal("server accepted a client without a certificate")
		}
	})
	t.Run("client from another cluster", func(t *testing.T) {
		if _, err := dial(t, addr, ClientTLS(c.ca.Pool(), &other.collector, "localhost")); err == nil {
			t.Fatal("dial succeeded with another cluster's certificate")
		}
		if r := waitResult(t, results); r.err == nil {
			t.Fatal("server accepted another cluster's certificate")
		}
	})
	t.Run("server from another cluster", func(t *testing.T) {
		if _, err := dial(t, addr, ClientTLS(other.ca.Pool(), &other.collector, "localhost")); err == nil {
			t.Fatal("client trusted another cluster's server")
		}
		waitResult(t, results)
	})
}

func TestPinnedTLS(t *testing.T) {
	c := newCluster(t, "c1")
	other := newCluster(t, "c2")
	addr, results := startServer(t, c.ca.ServerTLS(c.master, tls.VerifyClientCertIfGiven))

	t.Run("right pin", func(t *testing.T) {
		cs, err := dial(t, addr, PinnedClientTLS(c.ca.Pin()))
		if err != nil {
			t.Fatalf("dial with the right pin: %v", err)
		}
		if cs.Version != tls.VersionTLS13 {
			t.Errorf("version %x, want TLS 1.3", cs.Version)
		}
		// An enrolling collector has no certificate: the server must not
		// take it for anyone.
		if r := waitResult(t, results); !errors.Is(r.err, ErrNotVerified) {
			t.Errorf("server VerifiedPeer error = %v, want ErrNotVerified", r.err)
		}
	})
	t.Run("another cluster's pin", func(t *testing.T) {
		_, err := dial(t, addr, PinnedClientTLS(other.ca.Pin()))
		if !errors.Is(err, ErrPinMismatch) {
			t.Fatalf("dial error = %v, want ErrPinMismatch", err)
		}
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
			if !errors.Is(err, tt.want) {
				t.Fatalf("dial error = %v, want %v", err, tt.want)
			}
			t.Log(err)
			waitResult(t, results)
		})
	}
}

func TestVerifyPinnedEmptyChain(t *testing.T) {
	if err := verifyPinned(Pin{}, nil, time.Now()); !errors.Is(err, ErrUntrustedServer) {
		t.Fatalf("err = %v, want ErrUntrustedServer", err)
	}
}

func TestVerifiedPeerUnverified(t *testing.T) {
	if _, _, err := VerifiedPeer(tls.ConnectionState{}); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("err = %v, want ErrNotVerified", err)
	}
}
