package transport

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestServerConfigValidate(t *testing.T) {
	pki := newTestPKI(t)
	h := newTestHandler()
	ok := ServerConfig{Addr: "127.0.0.1:0", TLS: pki.server, Handler: h}
	require.NoError(t, ok.Validate(), "valid config")
	cases := []struct {
		name string
		mod  func(*ServerConfig)
		want error
	}{
		{"nil TLS", func(c *ServerConfig) { c.TLS = nil }, ErrNoTLS},
		{"TLS without cert", func(c *ServerConfig) { c.TLS = pki.anon }, ErrNoTLS},
		{"nil handler", func(c *ServerConfig) { c.Handler = nil }, ErrNoHandler},
		{"no port", func(c *ServerConfig) { c.Addr = "127.0.0.1" }, ErrBadAddr},
		{"named port", func(c *ServerConfig) { c.Addr = ":https" }, ErrBadAddr},
		{"port too big", func(c *ServerConfig) { c.Addr = ":70000" }, ErrBadAddr},
		{"negative body limit", func(c *ServerConfig) { c.MaxRequestBytes = -1 }, ErrBadLimit},
		{"negative timeout", func(c *ServerConfig) { c.IdleTimeout = -time.Second }, ErrBadLimit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			require.ErrorIs(t, cfg.Validate(), tc.want, "Validate")
			_, err := NewServer(cfg)
			require.ErrorIs(t, err, tc.want, "NewServer")
		})
	}
}

func TestServerBindsSamePortOnTCPAndUDP(t *testing.T) {
	pki := newTestPKI(t)
	s, err := NewServer(ServerConfig{Addr: "127.0.0.1:0", TLS: pki.server, Handler: newTestHandler(), Logger: testLogger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	_, port, _ := net.SplitHostPort(s.Addr())
	require.Equal(t, port, strconv.Itoa(s.udpConn.LocalAddr().(*net.UDPAddr).Port), "udp port, want the tcp port")

	// The port is taken now: a second server on it must fail cleanly.
	_, err = NewServer(ServerConfig{Addr: s.Addr(), TLS: pki.server, Handler: newTestHandler()})
	require.ErrorIs(t, err, ErrListen, "second server on %s", s.Addr())

	// Close releases both sockets: the address can be bound again.
	addr := s.Addr()
	require.NoError(t, s.Close())
	s2, err := NewServer(ServerConfig{Addr: addr, TLS: pki.server, Handler: newTestHandler()})
	require.NoError(t, err, "rebind after Close")
	_ = s2.Close()
	require.ErrorIs(t, s.Run(context.Background()), ErrServerClosed, "Run after Close")
}

func TestServerAdvertisesAltSvc(t *testing.T) {
	pki := newTestPKI(t)
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler()})
	c := newTestClient(t, ClientConfig{TLS: pki.client, Mode: ModeTCPOnly})
	resp, err := c.HTTPClient().Get(baseURL(s) + "/proto")
	require.NoError(t, err)
	_ = resp.Body.Close()
	_, port, _ := net.SplitHostPort(s.Addr())
	got, want := resp.Header.Get("Alt-Svc"), `h3=":`+port+`"`
	require.True(t, strings.HasPrefix(got, want), "Alt-Svc = %q, want prefix %q", got, want)
}

func TestServerRejectsOversizedBody(t *testing.T) {
	pki := newTestPKI(t)
	h := newTestHandler()
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: h, MaxRequestBytes: 1024})
	for _, mode := range []Mode{ModeQUICOnly, ModeTCPOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			hc := newTestClient(t, ClientConfig{TLS: pki.client, Mode: mode}).HTTPClient()
			big := bytes.Repeat([]byte("x"), 4096)

			// Announced length: refused before the handler runs.
			before := h.echoes.Load()
			code, _ := do(t, hc, http.MethodPost, baseURL(s)+"/echo", bytes.NewReader(big))
			require.Equal(t, http.StatusRequestEntityTooLarge, code, "announced oversized body: status")
			require.Equal(t, before, h.echoes.Load(), "handler ran for a body announced too large")

			// Unknown length: the handler's read fails with MaxBytesError.
			code, _ = do(t, hc, http.MethodPost, baseURL(s)+"/echo", io.MultiReader(bytes.NewReader(big)))
			require.Equal(t, http.StatusRequestEntityTooLarge, code, "streamed oversized body: status")

			// A body within the limit passes.
			code, body := do(t, hc, http.MethodPost, baseURL(s)+"/echo", strings.NewReader("small"))
			require.Equal(t, http.StatusOK, code, "small body: status")
			require.Equal(t, "small", body, "small body")
		})
	}
}

func TestStreamingArrivesIncrementally(t *testing.T) {
	pki := newTestPKI(t)
	h := newTestHandler()
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: h})
	for _, tc := range []struct {
		mode  Mode
		proto string
	}{{ModeQUICOnly, "HTTP/3.0"}, {ModeTCPOnly, "HTTP/2.0"}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			hc := newTestClient(t, ClientConfig{TLS: pki.client, Mode: tc.mode}).HTTPClient()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL(s)+"/stream", nil)
			resp, err := hc.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tc.proto, resp.Proto, "proto")
			lines := bufio.NewReader(resp.Body)
			for i := range 3 {
				if i > 0 {
					// The handler writes chunk i only after this, so chunk
					// i-1 must have arrived on its own.
					h.release <- struct{}{}
				}
				line, err := lines.ReadString('\n')
				require.NoError(t, err, "chunk %d", i)
				require.Equal(t, "chunk-"+strconv.Itoa(i)+"\n", line, "chunk %d", i)
			}
		})
	}
}

// TestRunStopsWithoutLeaks runs a server with a long stream open on each
// protocol, cancels it, and checks that Run returns within the shutdown bound
// and that every goroutine it and the client started is gone.
func TestRunStopsWithoutLeaks(t *testing.T) {
	pki := newTestPKI(t)
	baseline := runtime.NumGoroutine()

	const shutdownTimeout = 500 * time.Millisecond
	s, err := NewServer(ServerConfig{
		Addr: "127.0.0.1:0", TLS: pki.server, Handler: newTestHandler(),
		Logger: testLogger(t), ShutdownTimeout: shutdownTimeout,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	var clients []*Client
	var bodies []io.Closer
	for _, mode := range []Mode{ModeQUICOnly, ModeTCPOnly} {
		c := NewClient(ClientConfig{TLS: pki.client, Mode: mode, Logger: testLogger(t)})
		clients = append(clients, c)
		code, _ := get(t, c.HTTPClient(), baseURL(s), "/proto")
		require.Equal(t, http.StatusOK, code, "%s: status", mode)
		resp, err := c.HTTPClient().Get(baseURL(s) + "/hold")
		require.NoError(t, err)
		_, err = bufio.NewReader(resp.Body).ReadString('\n')
		require.NoError(t, err)
		bodies = append(bodies, resp.Body)
	}

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "Run")
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("Run did not return after cancel")
	}
	t.Logf("Run returned %v after cancel", time.Since(start))
	for _, b := range bodies {
		_ = b.Close()
	}
	for _, c := range clients {
		_ = c.Close()
	}

	const tolerance = 0 // polled, so transient runtime goroutines have time to exit
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline+tolerance {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, baseline %d\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("goroutines: %d, baseline %d", runtime.NumGoroutine(), baseline)
}
