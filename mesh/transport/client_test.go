package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientConfigValidate(t *testing.T) {
	require.NoError(t, DefaultClientConfig().Validate())
	for _, tc := range []struct {
		name string
		cfg  ClientConfig
		want error
	}{
		{"bad mode", ClientConfig{Mode: 7}, ErrBadMode},
		{"negative handshake timeout", ClientConfig{QUICHandshakeTimeout: -1}, ErrBadLimit},
		{"negative retry", ClientConfig{RetryQUICAfter: -1}, ErrBadLimit},
	} {
		assert.ErrorIs(t, tc.cfg.Validate(), tc.want, "%s: Validate", tc.name)
	}
	for _, s := range []string{"auto", "QUIC", "tcp"} {
		m, err := ParseMode(s)
		if assert.NoError(t, err, "ParseMode(%q)", s) {
			assert.True(t, strings.EqualFold(m.String(), s), "ParseMode(%q) = %v", s, m)
		}
	}
	_, err := ParseMode("udp")
	assert.ErrorIs(t, err, ErrBadMode, "ParseMode(udp)")
}

func TestRequestOverHTTP3(t *testing.T) {
	pki := newTestPKI(t)
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler()})
	for _, mode := range []Mode{ModeAuto, ModeQUICOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			c := newTestClient(t, ClientConfig{TLS: pki.client, Mode: mode})
			code, body := get(t, c.HTTPClient(), baseURL(s), "/proto")
			// Want HTTP/3.0 with the client certificate.
			require.Equal(t, http.StatusOK, code, "status")
			require.Equal(t, "HTTP/3.0 collector-1", body)
			require.Equal(t, ProtocolH3, c.Protocol(s.Addr()), "Protocol")
		})
	}
}

func TestRequestOverHTTP2(t *testing.T) {
	pki := newTestPKI(t)
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler()})
	c := newTestClient(t, ClientConfig{TLS: pki.client, Mode: ModeTCPOnly})
	code, body := get(t, c.HTTPClient(), baseURL(s), "/proto")
	// Want HTTP/2.0 with the client certificate.
	require.Equal(t, http.StatusOK, code, "status")
	require.Equal(t, "HTTP/2.0 collector-1", body)
	require.Equal(t, ProtocolH2, c.Protocol(s.Addr()), "Protocol")
	code, body = do(t, c.HTTPClient(), http.MethodPost, baseURL(s)+"/echo", strings.NewReader("ping"))
	require.Equal(t, http.StatusOK, code, "echo status")
	require.Equal(t, "ping", body, "echo")
}

func TestClientWithoutCertificateIsRefused(t *testing.T) {
	pki := newTestPKI(t)
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler()})
	for _, mode := range []Mode{ModeQUICOnly, ModeTCPOnly} {
		c := newTestClient(t, ClientConfig{TLS: pki.anon, Mode: mode, QUICHandshakeTimeout: time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL(s)+"/proto", nil)
		resp, err := c.RoundTrip(req)
		cancel()
		if err == nil {
			_ = resp.Body.Close()
		}
		require.Error(t, err, "%s: request without client certificate succeeded", mode)
		t.Logf("%s: refused: %v", mode, err)
	}
}

// TestAutoFallsBackToTCP simulates blocked UDP with a server that serves TCP
// only: the first request must arrive over HTTP/2 about one handshake timeout
// later, bodies included, and later requests must not wait for QUIC again.
func TestAutoFallsBackToTCP(t *testing.T) {
	pki := newTestPKI(t)
	h := newTestHandler()
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: h, DisableQUIC: true})
	const hsTimeout = 400 * time.Millisecond
	clock := newFakeClock()
	c := newTestClient(t, ClientConfig{TLS: pki.client, QUICHandshakeTimeout: hsTimeout, Clock: clock})
	hc := c.HTTPClient()

	start := time.Now()
	code, body := do(t, hc, http.MethodPost, baseURL(s)+"/echo", bytes.NewReader([]byte("first")))
	elapsed := time.Since(start)
	require.Equal(t, http.StatusOK, code, "first request status")
	require.Equal(t, "first", body, "first request")
	// Generous slack: the test machine may be loaded; the dial count below
	// is the exact check.
	require.LessOrEqual(t, elapsed, hsTimeout+3*time.Second, "fallback took too long; handshake timeout is %v", hsTimeout)
	t.Logf("fallback after %v", elapsed)
	require.Equal(t, ProtocolH2, c.Protocol(s.Addr()), "Protocol")
	require.Equal(t, int64(1), c.quicDials.Load(), "quic dials")

	// Later requests go straight to TCP, even a body without GetBody.
	_, body = get(t, hc, baseURL(s), "/proto")
	require.True(t, strings.HasPrefix(body, "HTTP/2.0"), "second request: %q", body)
	code, body = do(t, hc, http.MethodPost, baseURL(s)+"/echo", io.MultiReader(strings.NewReader("streamed")))
	require.Equal(t, http.StatusOK, code, "streamed body status")
	require.Equal(t, "streamed", body, "streamed body")
	require.Equal(t, int64(1), c.quicDials.Load(), "quic dials, want still 1: QUIC was tried again")
}

// TestConcurrentRequestsFallBackTogether starts requests together against a
// TCP-only server: they share the failing QUIC dial and all arrive over TCP.
func TestConcurrentRequestsFallBackTogether(t *testing.T) {
	pki := newTestPKI(t)
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler(), DisableQUIC: true})
	const hsTimeout = 300 * time.Millisecond
	c := newTestClient(t, ClientConfig{TLS: pki.client, QUICHandshakeTimeout: hsTimeout})
	hc := c.HTTPClient()
	const n = 8
	errs := make(chan error, n)
	start := time.Now()
	for i := range n {
		go func() {
			body := strings.Repeat("x", i+1)
			req, _ := http.NewRequest(http.MethodPost, baseURL(s)+"/echo", strings.NewReader(body))
			resp, err := hc.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err == nil && (string(got) != body || resp.Proto != "HTTP/2.0") {
				err = errors.New("wrong echo " + resp.Proto + " " + string(got))
			}
			errs <- err
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	require.LessOrEqual(t, time.Since(start), 2*hsTimeout+3*time.Second, "concurrent fallback took too long")
	require.Equal(t, ProtocolH2, c.Protocol(s.Addr()), "Protocol should say h2")
}

// TestFallbackReplaysBodyWithoutGetBody sends a pipe body, as ConnectRPC does
// for client streams, into a QUIC dial failure: it must reach the server whole
// over TCP.
func TestFallbackReplaysBodyWithoutGetBody(t *testing.T) {
	pki := newTestPKI(t)
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler(), DisableQUIC: true})
	c := newTestClient(t, ClientConfig{TLS: pki.client, QUICHandshakeTimeout: 300 * time.Millisecond})

	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("piped "))
		_, _ = pw.Write([]byte("body"))
		_ = pw.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, baseURL(s)+"/echo", pr)
	require.Nil(t, req.GetBody, "test wants a request without GetBody")
	resp, err := c.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	require.Equal(t, "piped body", string(got))
	require.Equal(t, "HTTP/2.0", resp.Proto)
}

// TestRetryQUICAfterWhileStillBlocked advances the injected clock past
// RetryQUICAfter: exactly one request tries QUIC again, fails, and the host
// stays on TCP for another RetryQUICAfter.
func TestRetryQUICAfterWhileStillBlocked(t *testing.T) {
	pki := newTestPKI(t)
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler(), DisableQUIC: true})
	clock := newFakeClock()
	c := newTestClient(t, ClientConfig{
		TLS: pki.client, QUICHandshakeTimeout: 300 * time.Millisecond,
		RetryQUICAfter: time.Minute, Clock: clock,
	})
	hc := c.HTTPClient()
	get(t, hc, baseURL(s), "/proto")
	require.Equal(t, int64(1), c.quicDials.Load(), "after first request: dials")
	require.Equal(t, ProtocolH2, c.Protocol(s.Addr()), "after first request: protocol")

	clock.Advance(59 * time.Second)
	get(t, hc, baseURL(s), "/proto")
	require.Equal(t, int64(1), c.quicDials.Load(), "QUIC retried before RetryQUICAfter: dials")

	clock.Advance(2 * time.Second)
	_, body := get(t, hc, baseURL(s), "/proto")
	require.Equal(t, int64(2), c.quicDials.Load(), "QUIC not retried after RetryQUICAfter: dials")
	require.True(t, strings.HasPrefix(body, "HTTP/2.0"), "probe request: %q", body)
	require.Equal(t, ProtocolH2, c.Protocol(s.Addr()), "probe request: protocol")

	clock.Advance(30 * time.Second)
	get(t, hc, baseURL(s), "/proto")
	require.Equal(t, int64(2), c.quicDials.Load(), "failed probe did not restart the wait: dials")
}

// TestQUICRestoredAfterRetry puts a host on TCP as if QUIC had failed, then
// lets the clock pass RetryQUICAfter against a server that does serve QUIC:
// the client must move back to HTTP/3.
func TestQUICRestoredAfterRetry(t *testing.T) {
	pki := newTestPKI(t)
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler()})
	clock := newFakeClock()
	c := newTestClient(t, ClientConfig{TLS: pki.client, RetryQUICAfter: time.Minute, Clock: clock})
	hc := c.HTTPClient()

	c.fb.quicFailed(s.Addr(), clock.Now())
	_, body := get(t, hc, baseURL(s), "/proto")
	require.True(t, strings.HasPrefix(body, "HTTP/2.0"), "while on fallback: %q", body)
	require.Equal(t, ProtocolH2, c.Protocol(s.Addr()), "Protocol should say h2 while on fallback")

	clock.Advance(time.Minute + time.Second)
	_, body = get(t, hc, baseURL(s), "/proto")
	require.True(t, strings.HasPrefix(body, "HTTP/3.0"), "after RetryQUICAfter: %q, want HTTP/3.0", body)
	require.Equal(t, ProtocolH3, c.Protocol(s.Addr()), "Protocol should say h3 once QUIC works again")
}

// TestNoRetryAfterRequestWasSent makes the handler abort the HTTP/3 stream
// after reading the request: the client must return the error and not send
// the request again over TCP.
func TestNoRetryAfterRequestWasSent(t *testing.T) {
	pki := newTestPKI(t)
	h := newTestHandler()
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: h})
	c := newTestClient(t, ClientConfig{TLS: pki.client})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, baseURL(s)+"/abort", strings.NewReader("acquire seat"))
	resp, err := c.RoundTrip(req)
	if err == nil {
		// The abort may surface while reading the body instead.
		_, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
	}
	require.Error(t, err, "aborted request reported success")
	require.Equal(t, int64(1), h.aborts.Load(), "times the handler saw the request")
	require.Equal(t, ProtocolH3, c.Protocol(s.Addr()), "a failure after sending must not switch the host to TCP")
}

func TestFallbackTracker(t *testing.T) {
	tr := newFallbackTracker(time.Minute)
	now := time.Unix(1000, 0)
	const host = "m1:7443"
	require.Equal(t, routeQUIC, tr.choose(host, now), "unknown host")
	require.True(t, tr.quicFailed(host, now), "first failure should report a switch")
	require.False(t, tr.quicFailed(host, now), "second failure should not report a switch")
	require.Equal(t, routeTCP, tr.choose(host, now.Add(59*time.Second)), "before retry")
	later := now.Add(61 * time.Second)
	require.Equal(t, routeProbe, tr.choose(host, later), "after retry")
	require.Equal(t, routeTCP, tr.choose(host, later), "during a probe: want TCP for everyone else")
	tr.probeDone(host)
	require.Equal(t, routeProbe, tr.choose(host, later), "after an inconclusive probe: want another probe")
	require.True(t, tr.quicOK(host), "recovery should report a switch")
	require.Equal(t, routeQUIC, tr.choose(host, later), "after recovery")
	require.False(t, tr.onTCP(host), "after recovery: still on TCP")
	require.False(t, tr.onTCP("other:7443"), "hosts must not share state")
}

func TestAuthority(t *testing.T) {
	for in, want := range map[string]string{
		"m1:7443":  "m1:7443",
		"m1":       "m1:443",
		"[::1]":    "[::1]:443",
		"[::1]:80": "[::1]:80",
	} {
		assert.Equal(t, want, authority(in), "authority(%q)", in)
	}
}

// TestCloseIdleExcept: a client that moved to another server lets go of the
// connections it no longer uses, never of one that carries a request, and
// dials afresh when it comes back.
func TestCloseIdleExcept(t *testing.T) {
	pki := newTestPKI(t)
	a := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler()})
	b := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler()})
	c := newTestClient(t, ClientConfig{TLS: pki.client, Mode: ModeQUICOnly})
	for _, s := range []*Server{a, b} {
		code, _ := get(t, c.HTTPClient(), baseURL(s), "/proto")
		require.Equal(t, http.StatusOK, code)
	}

	// A stream to b in flight keeps b's connection.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL(b)+"/hold", nil)
	require.NoError(t, err)
	resp, err := c.RoundTrip(req)
	require.NoError(t, err)
	line := make([]byte, len("holding\n"))
	_, err = io.ReadFull(resp.Body, line)
	require.NoError(t, err)
	require.Zero(t, c.CloseIdleExcept(a.Addr()), "closed a connection with a stream in flight")

	// Once it has ended, b's connection goes and a's stays.
	cancel()
	_ = resp.Body.Close()
	require.Equal(t, 1, c.CloseIdleExcept(a.Addr()), "connections closed")
	dials := c.quicDials.Load()
	code, _ := get(t, c.HTTPClient(), baseURL(a), "/proto")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, dials, c.quicDials.Load(), "the kept connection was dialled again")
	code, _ = get(t, c.HTTPClient(), baseURL(b), "/proto")
	require.Equal(t, http.StatusOK, code, "request to b after its connection was closed")
	require.Equal(t, dials+1, c.quicDials.Load(), "b was not dialled afresh")
}

// TestCloseIdleExceptNeverCutsARequest: requests to a server that another
// goroutine keeps letting go of all succeed; each either holds its
// connection open or finds it closed and dials a new one.
func TestCloseIdleExceptNeverCutsARequest(t *testing.T) {
	pki := newTestPKI(t)
	a := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler()})
	b := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler()})
	c := newTestClient(t, ClientConfig{TLS: pki.client, Mode: ModeQUICOnly})
	stop := make(chan struct{})
	closed := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				closed <- n
				return
			default:
				n += c.CloseIdleExcept(a.Addr())
				runtime.Gosched()
			}
		}
	}()
	for i := range 200 {
		code, body := do(t, c.HTTPClient(), http.MethodPost, baseURL(b)+"/echo", strings.NewReader("ping"))
		require.Equal(t, http.StatusOK, code, "request %d", i)
		require.Equal(t, "ping", body, "request %d", i)
		if i%4 == 0 {
			time.Sleep(time.Millisecond) // a gap for the closer
		}
	}
	close(stop)
	require.Positive(t, <-closed, "no connection was ever closed: the test proves nothing")
}
