package transport

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// crashable starts a server whose sockets the test can pull out from under
// it, as a kill -9 would: no CONNECTION_CLOSE reaches the clients.
func crashable(t *testing.T, cfg ServerConfig) (s *Server, crash func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := NewServer(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	return s, func() {
		_ = s.udpConn.Close()
		_ = s.tcpLn.Close()
		cancel()
		<-done
	}
}

// roundTrip sends one GET with its own deadline and reports how long it
// took and whether it got an answer.
func roundTrip(c *Client, url string, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/proto", nil)
	start := time.Now()
	resp, err := c.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	return time.Since(start), err
}

// TestRestartedServerResetsOldConnections: with a stateless reset key that
// survives the restart, a client's connection to the crashed server is
// reset at its first packet, and the client is back on QUIC at once rather
// than after its idle timeout.
func TestRestartedServerResetsOldConnections(t *testing.T) {
	pki := newTestPKI(t)
	key := bytes.Repeat([]byte{7}, 32)
	s1, crash := crashable(t, ServerConfig{Addr: "127.0.0.1:0", TLS: pki.server, Handler: newTestHandler(), StatelessResetKey: key})
	addr := s1.Addr()
	c := newTestClient(t, ClientConfig{TLS: pki.client, Mode: ModeQUICOnly})
	_, err := roundTrip(c, "https://"+addr, 5*time.Second)
	require.NoError(t, err)
	crash()
	startServer(t, ServerConfig{Addr: addr, TLS: pki.server, Handler: newTestHandler(), StatelessResetKey: key})
	took, _ := roundTrip(c, "https://"+addr, 5*time.Second)
	require.LessOrEqual(t, took, 2*time.Second, "the first request after the restart took too long: the old connection was not reset")
	_, err = roundTrip(c, "https://"+addr, 5*time.Second)
	require.NoError(t, err, "request after the reset")
}

// TestUnansweredRequestDropsTheConnection: where the server cannot reset
// (no key, or another key), the first request waits out its deadline, and
// the next one dials afresh instead of waiting on a dead connection.
func TestUnansweredRequestDropsTheConnection(t *testing.T) {
	pki := newTestPKI(t)
	s1, crash := crashable(t, ServerConfig{Addr: "127.0.0.1:0", TLS: pki.server, Handler: newTestHandler()})
	addr := s1.Addr()
	c := newTestClient(t, ClientConfig{TLS: pki.client, Mode: ModeQUICOnly})
	_, err := roundTrip(c, "https://"+addr, 5*time.Second)
	require.NoError(t, err)
	dials := c.quicDials.Load()
	crash()
	startServer(t, ServerConfig{Addr: addr, TLS: pki.server, Handler: newTestHandler()})
	if _, err := roundTrip(c, "https://"+addr, time.Second); err == nil {
		t.Log("the old connection answered after the restart (a reset arrived anyway)")
	}
	_, err = roundTrip(c, "https://"+addr, 5*time.Second)
	require.NoError(t, err, "request after an unanswered one")
	require.NotEqual(t, dials, c.quicDials.Load(), "no new connection was dialled")
}

func TestStatelessResetKeyLength(t *testing.T) {
	pki := newTestPKI(t)
	err := (ServerConfig{TLS: pki.server, Handler: newTestHandler(), StatelessResetKey: []byte("short")}).Validate()
	require.Error(t, err, "a 5-byte stateless reset key was accepted")
}
