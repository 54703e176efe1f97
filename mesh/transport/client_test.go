package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestClientConfigValidate(t *testing.T) {
	if err := DefaultClientConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  ClientConfig
		want error
	}{
		{"bad mode", ClientConfig{Mode: 7}, ErrBadMode},
		{"negative handshake timeout", ClientConfig{QUICHandshakeTimeout: -1}, ErrBadLimit},
		{"negative retry", ClientConfig{RetryQUICAfter: -1}, ErrBadLimit},
	} {
		if err := tc.cfg.Validate(); !errors.Is(err, tc.want) {
			t.Errorf("%s: Validate = %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, s := range []string{"auto", "QUIC", "tcp"} {
		m, err := ParseMode(s)
		if err != nil || !strings.EqualFold(m.String(), s) {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMode("udp"); !errors.Is(err, ErrBadMode) {
		t.Errorf("ParseMode(udp) = %v, want ErrBadMode", err)
	}
}

func TestRequestOverHTTP3(t *testing.T) {
	pki := newTestPKI(t)
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler()})
	for _, mode := range []Mode{ModeAuto, ModeQUICOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			c := newTestClient(t, ClientConfig{TLS: pki.client, Mode: mode})
			code, body := get(t, c.HTTPClient(), baseURL(s), "/proto")
			if code != http.StatusOK || body != "HTTP/3.0 collector-1" {
				t.Fatalf("got %d %q, want HTTP/3.0 with client cert", code, body)
			}
			if got := c.Protocol(s.Addr()); got != ProtocolH3 {
				t.Fatalf("Protocol = %s, want h3", got)
			}
		})
	}
}

func TestRequestOverHTTP2(t *testing.T) {
	pki := newTestPKI(t)
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler()})
	c := newTestClient(t, ClientConfig{TLS: pki.client, Mode: ModeTCPOnly})
	code, body := get(t, c.HTTPClient(), baseURL(s), "/proto")
	if code != http.StatusOK || body != "HTTP/2.0 collector-1" {
		t.Fatalf("got %d %q, want HTTP/2.0 with client cert", code, body)
	}
	if got := c.Protocol(s.Addr()); got != ProtocolH2 {
		t.Fatalf("Protocol = %s, want h2", got)
	}
	code, body = do(t, c.HTTPClient(), http.MethodPost, baseURL(s)+"/echo", strings.NewReader("ping"))
	if code != http.StatusOK || body != "ping" {
		t.Fatalf("echo: %d %q", code, body)
	}
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
			t.Fatalf("%s: request without client certificate succeeded", mode)
		}
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
	c := newTestClient(t, ClientConfig{TLS: pki.client, QUICHandshakeTimeout: hsTimeout, Now: clock.Now})
	hc := c.HTTPClient()

	start := time.Now()
	code, body := do(t, hc, http.MethodPost, baseURL(s)+"/echo", bytes.NewReader([]byte("first")))
	elapsed := time.Since(start)
	if code != http.StatusOK || body != "first" {
		t.Fatalf("first request: %d %q", code, body)
	}
	// Generous slack: the test machine may be loaded; the dial count below
	// is the exact check.
	if elapsed > hsTimeout+3*time.Second {
		t.Fatalf("fallback took %v, handshake timeout is %v", elapsed, hsTimeout)
	}
	t.Logf("fallback after %v", elapsed)
	if got := c.Protocol(s.Addr()); got != ProtocolH2 {
		t.Fatalf("Protocol = %s, want h2", got)
	}
	if got := c.quicDials.Load(); got != 1 {
		t.Fatalf("quic dials = %d, want 1", got)
	}

	// Later requests go straight to TCP, even a body without GetBody.
	_, body = get(t, hc, baseURL(s), "/proto")
	if !strings.HasPrefix(body, "HTTP/2.0") {
		t.Fatalf("second request: %q", body)
	}
	code, body = do(t, hc, http.MethodPost, baseURL(s)+"/echo", io.MultiReader(strings.NewReader("streamed")))
	if code != http.StatusOK || body != "streamed" {
		t.Fatalf("streamed body: %d %q", code, body)
	}
	if got := c.quicDials.Load(); got != 1 {
		t.Fatalf("quic dials = %d, want still 1: QUIC was tried again", got)
	}
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
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 2*hsTimeout+3*time.Second {
		t.Fatalf("concurrent fallback took %v", d)
	}
	if c.Protocol(s.Addr()) != ProtocolH2 {
		t.Fatal("Protocol should say h2")
	}
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
	if req.GetBody != nil {
		t.Fatal("test wants a request without GetBody")
	}
	resp, err := c.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if string(got) != "piped body" || resp.Proto != "HTTP/2.0" {
		t.Fatalf("got %s %q", resp.Proto, got)
	}
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
		RetryQUICAfter: time.Minute, Now: clock.Now,
	})
	hc := c.HTTPClient()
	get(t, hc, baseURL(s), "/proto")
	if c.quicDials.Load() != 1 || c.Protocol(s.Addr()) != ProtocolH2 {
		t.Fatalf("after first request: dials %d, protocol %s", c.quicDials.Load(), c.Protocol(s.Addr()))
	}

	clock.Advance(59 * time.Second)
	get(t, hc, baseURL(s), "/proto")
	if n := c.quicDials.Load(); n != 1 {
		t.Fatalf("QUIC retried before RetryQUICAfter: dials %d", n)
	}

	clock.Advance(2 * time.Second)
	_, body := get(t, hc, baseURL(s), "/proto")
	if n := c.quicDials.Load(); n != 2 {
		t.Fatalf("QUIC not retried after RetryQUICAfter: dials %d", n)
	}
	if !strings.HasPrefix(body, "HTTP/2.0") || c.Protocol(s.Addr()) != ProtocolH2 {
		t.Fatalf("probe request: %q, protocol %s", body, c.Protocol(s.Addr()))
	}

	clock.Advance(30 * time.Second)
	get(t, hc, baseURL(s), "/proto")
	if n := c.quicDials.Load(); n != 2 {
		t.Fatalf("failed probe did not restart the wait: dials %d", n)
	}
}

// TestQUICRestoredAfterRetry puts a host on TCP as if QUIC had failed, then
// lets the clock pass RetryQUICAfter against a server that does serve QUIC:
// the client must move back to HTTP/3.
func TestQUICRestoredAfterRetry(t *testing.T) {
	pki := newTestPKI(t)
	s := startServer(t, ServerConfig{TLS: pki.server, Handler: newTestHandler()})
	clock := newFakeClock()
	c := newTestClient(t, ClientConfig{TLS: pki.client, RetryQUICAfter: time.Minute, Now: clock.Now})
	hc := c.HTTPClient()

	c.fb.quicFailed(s.Addr(), clock.Now())
	if _, body := get(t, hc, baseURL(s), "/proto"); !strings.HasPrefix(body, "HTTP/2.0") {
		t.Fatalf("while on fallback: %q", body)
	}
	if c.Protocol(s.Addr()) != ProtocolH2 {
		t.Fatal("Protocol should say h2 while on fallback")
	}

	clock.Advance(time.Minute + time.Second)
	if _, body := get(t, hc, baseURL(s), "/proto"); !strings.HasPrefix(body, "HTTP/3.0") {
		t.Fatalf("after RetryQUICAfter: %q, want HTTP/3.0", body)
	}
	if c.Protocol(s.Addr()) != ProtocolH3 {
		t.Fatal("Protocol should say h3 once QUIC works again")
	}
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
	if err == nil {
		t.Fatal("aborted request reported success")
	}
	if n := h.aborts.Load(); n != 1 {
		t.Fatalf("handler saw the request %d times, want 1", n)
	}
	if c.Protocol(s.Addr()) != ProtocolH3 {
		t.Fatal("a failure after sending must not switch the host to TCP")
	}
}

func TestFallbackTracker(t *testing.T) {
	tr := newFallbackTracker(time.Minute)
	now := time.Unix(1000, 0)
	const host = "m1:7443"
	if r := tr.choose(host, now); r != routeQUIC {
		t.Fatalf("unknown host: %v, want QUIC", r)
	}
	if !tr.quicFailed(host, now) {
		t.Fatal("first failure should report a switch")
	}
	if tr.quicFailed(host, now) {
		t.Fatal("second failure should not report a switch")
	}
	if r := tr.choose(host, now.Add(59*time.Second)); r != routeTCP {
		t.Fatalf("before retry: %v, want TCP", r)
	}
	later := now.Add(61 * time.Second)
	if r := tr.choose(host, later); r != routeProbe {
		t.Fatalf("after retry: %v, want probe", r)
	}
	if r := tr.choose(host, later); r != routeTCP {
		t.Fatalf("during a probe: %v, want TCP for everyone else", r)
	}
	tr.probeDone(host)
	if r := tr.choose(host, later); r != routeProbe {
		t.Fatalf("after an inconclusive probe: %v, want another probe", r)
	}
	if !tr.quicOK(host) {
		t.Fatal("recovery should report a switch")
	}
	if r := tr.choose(host, later); r != routeQUIC || tr.onTCP(host) {
		t.Fatalf("after recovery: %v, want QUIC", r)
	}
	if tr.onTCP("other:7443") {
		t.Fatal("hosts must not share state")
	}
}

func TestAuthority(t *testing.T) {
	for in, want := range map[string]string{
		"m1:7443":  "m1:7443",
		"m1":       "m1:443",
		"[::1]":    "[::1]:443",
		"[::1]:80": "[::1]:80",
	} {
		if got := authority(in); got != want {
			t.Errorf("authority(%q) = %q, want %q", in, got, want)
		}
	}
}
