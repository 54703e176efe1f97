package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/licmesh/licmesh/licensing/clock"
)

// Mode selects which protocols a Client uses.
type Mode int

const (
	// ModeAuto uses HTTP/3 and falls back to HTTP/2 per host when QUIC cannot
	// connect.
	ModeAuto Mode = iota
	// ModeQUICOnly uses HTTP/3 only.
	ModeQUICOnly
	// ModeTCPOnly uses HTTP/2 over TLS/TCP only.
	ModeTCPOnly
)

// String returns the name ParseMode accepts.
func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeQUICOnly:
		return "quic"
	case ModeTCPOnly:
		return "tcp"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "auto", "quic" or "tcp".
func ParseMode(s string) (Mode, error) {
	for _, m := range []Mode{ModeAuto, ModeQUICOnly, ModeTCPOnly} {
		if strings.EqualFold(s, m.String()) {
			return m, nil
		}
	}
	return 0, fmt.Errorf("mode %q (want auto, quic or tcp): %w", s, ErrBadMode)
}

// Protocol names returned by Client.Protocol.
const (
	ProtocolH3 = "h3"
	ProtocolH2 = "h2"
)

// Defaults for ClientConfig; a zero field takes these.
const (
	DefaultQUICHandshakeTimeout = 1500 * time.Millisecond
	DefaultRetryQUICAfter       = time.Minute
)

const (
	clientDialTimeout = 10 * time.Second
	// clientPeerTimeout drops a connection whose peer went silent; keepalives
	// at a third of it hold NAT and firewall state open for server streams.
	clientPeerTimeout = 30 * time.Second
)

// ClientConfig configures a Client. Zero fields take the defaults.
type ClientConfig struct {
	// TLS is the client's TLS config: RootCAs (the cluster CA) and, for mutual
	// TLS, Certificates. Nil uses the system roots. NextProtos is replaced
	// per protocol.
	TLS *tls.Config
	// Mode selects the protocols; the zero value is ModeAuto.
	Mode Mode
	// QUICHandshakeTimeout bounds a QUIC dial and handshake; after it, Auto
	// mode sends the request over TCP.
	QUICHandshakeTimeout time.Duration
	// RetryQUICAfter is how long a host stays on TCP before QUIC is tried again.
	RetryQUICAfter time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Clock decides when a host tries QUIC again; nil means the system
	// clock. Tests inject a fake.
	Clock clock.Clock
}

// DefaultClientConfig returns a config with every default filled in.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{
		Mode:                 ModeAuto,
		QUICHandshakeTimeout: DefaultQUICHandshakeTimeout,
		RetryQUICAfter:       DefaultRetryQUICAfter,
	}
}

// Validate reports the first problem with c, naming the field.
func (c ClientConfig) Validate() error {
	if c.Mode < ModeAuto || c.Mode > ModeTCPOnly {
		return fmt.Errorf("client config: mode %d: %w", int(c.Mode), ErrBadMode)
	}
	if c.QUICHandshakeTimeout < 0 {
		return fmt.Errorf("client config: QUICHandshakeTimeout is negative: %w", ErrBadLimit)
	}
	if c.RetryQUICAfter < 0 {
		return fmt.Errorf("client config: RetryQUICAfter is negative: %w", ErrBadLimit)
	}
	return nil
}

// withDefaults fills zero fields and, since NewClient cannot fail, replaces
// values Validate rejects with defaults as well.
func (c ClientConfig) withDefaults() ClientConfig {
	if c.Mode < ModeAuto || c.Mode > ModeTCPOnly {
		c.Mode = ModeAuto
	}
	if c.QUICHandshakeTimeout <= 0 {
		c.QUICHandshakeTimeout = DefaultQUICHandshakeTimeout
	}
	if c.RetryQUICAfter <= 0 {
		c.RetryQUICAfter = DefaultRetryQUICAfter
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	if c.TLS == nil {
		c.TLS = &tls.Config{}
	}
	return c
}

// Client is an http.RoundTripper for the collector protocol. It is safe for
// concurrent use. In ModeAuto it sends over HTTP/3 and, when a QUIC
// connection to a host cannot be set up (UDP blocked), sends over HTTP/2
// instead and keeps that host on HTTP/2 for RetryQUICAfter. A request is moved
// to TCP only when QUIC failed before any of it was sent, so a non-idempotent
// call is never delivered twice. Once RetryQUICAfter has passed, one request
// to the host tries QUIC again (and may wait QUICHandshakeTimeout) while the
// others keep using TCP.
type Client struct {
	cfg ClientConfig
	log *slog.Logger
	h3  *http3.Transport
	h2  *http.Transport
	fb  *fallbackTracker

	quicDials atomic.Int64 // QUIC dial attempts, for tests

	mu      sync.Mutex
	closed  bool
	udpConn *net.UDPConn    // created on the first QUIC dial
	quicTr  *quic.Transport // shares udpConn among connections
	// conns holds every open QUIC connection, including those http3 dropped
	// from its pool after an error, so Close can tell each server goodbye:
	// closing the quic.Transport alone drops them silently.
	conns map[*quic.Conn]string // → the authority it was dialled for
	// busy counts the QUIC requests to each authority that have not ended
	// (a response body counts until it is closed or read to its end), so
	// CloseIdleExcept never cuts one off.
	busy map[string]int
}

var (
	_ http.RoundTripper = (*Client)(nil)
	_ io.Closer         = (*Client)(nil)
)

// NewClient returns a Client for cfg. Callers that load cfg from user input
// call cfg.Validate first; NewClient replaces invalid values with defaults.
func NewClient(cfg ClientConfig) *Client {
	cfg = cfg.withDefaults()
	c := &Client{
		cfg:   cfg,
		log:   cfg.Logger,
		fb:    newFallbackTracker(cfg.RetryQUICAfter),
		conns: make(map[*quic.Conn]string),
		busy:  make(map[string]int),
	}
	c.h3 = &http3.Transport{
		TLSClientConfig: cfg.TLS,
		QUICConfig: &quic.Config{
			HandshakeIdleTimeout: cfg.QUICHandshakeTimeout,
			MaxIdleTimeout:       clientPeerTimeout,
			KeepAlivePeriod:      clientPeerTimeout / 3,
		},
		Dial:   c.dialQUIC,
		Logger: cfg.Logger,
	}
	tlsConf := cfg.TLS.Clone()
	if tlsConf.MinVersion < tls.VersionTLS12 {
		tlsConf.MinVersion = tls.VersionTLS12
	}
	var protos http.Protocols
	protos.SetHTTP2(true) // HTTP/1.1 cannot carry bidirectional streams
	c.h2 = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: clientDialTimeout, KeepAlive: clientPeerTimeout / 2}).DialContext,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: clientDialTimeout,
		ForceAttemptHTTP2:   true,
		Protocols:           &protos,
		IdleConnTimeout:     90 * time.Second,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: clientPeerTimeout / 2,
			PingTimeout:     clientPeerTimeout / 2,
		},
	}
	return c
}

// HTTPClient returns an *http.Client using c, without a timeout: streams are
// long-lived and callers bound calls with contexts.
func (c *Client) HTTPClient() *http.Client { return &http.Client{Transport: c} }

// Protocol returns the protocol requests to host use now: ProtocolH3 or
// ProtocolH2. host is host:port as in the request URL; a missing port means
// 443. A host not contacted yet reports ProtocolH3 in ModeAuto.
func (c *Client) Protocol(host string) string {
	switch {
	case c.cfg.Mode == ModeTCPOnly:
		return ProtocolH2
	case c.cfg.Mode == ModeQUICOnly:
		return ProtocolH3
	case c.fb.onTCP(authority(host)):
		return ProtocolH2
	}
	return ProtocolH3
}

// RoundTrip sends req over the protocol chosen for its host.
func (c *Client) RoundTrip(req *http.Request) (*http.Response, error) {
	if c.cfg.Mode == ModeTCPOnly {
		return c.h2.RoundTrip(req)
	}
	if req.URL == nil {
		return nil, ErrNoURL
	}
	host := authority(req.URL.Host)
	if c.cfg.Mode == ModeQUICOnly {
		resp, err := c.h3RoundTrip(req, host)
		if err != nil && errors.Is(req.Context().Err(), context.DeadlineExceeded) {
			c.dropConns(host)
		}
		return resp, err
	}
	r := c.fb.choose(host, c.cfg.Clock.Now())
	if r == routeTCP {
		return c.h2.RoundTrip(req)
	}
	return c.roundTripQUIC(req, host, r == routeProbe)
}

func (c *Client) roundTripQUIC(req *http.Request, host string, probe bool) (*http.Response, error) {
	h3req := req
	var guard *bodyGuard
	if req.Body != nil && req.Body != http.NoBody {
		guard = newBodyGuard(req.Body)
		h3req = shallowCopy(req)
		h3req.Body = guard
	}
	resp, err := c.h3RoundTrip(h3req, host)
	if err == nil {
		if guard != nil {
			guard.settle()
		}
		resp.Request = req
		if c.fb.quicOK(host) {
			c.log.Info("transport: quic works again", "host", host)
		}
		return resp, nil
	}
	if !errors.Is(err, ErrQUICDial) || req.Context().Err() != nil {
		if guard != nil {
			guard.settle()
		}
		if errors.Is(req.Context().Err(), context.DeadlineExceeded) {
			c.dropConns(host)
		}
		if probe {
			c.fb.probeDone(host)
		}
		return nil, err
	}
	if c.fb.quicFailed(host, c.cfg.Clock.Now()) {
		c.log.Warn("transport: quic unreachable, using tcp", "host", host,
			"retry_after", c.cfg.RetryQUICAfter, "error", err)
	}
	tcpReq, rerr := replayable(req, guard)
	if rerr != nil {
		return nil, fmt.Errorf("%w: %w", rerr, err)
	}
	resp, err = c.h2.RoundTrip(tcpReq)
	if err != nil {
		return nil, err
	}
	resp.Request = req
	return resp, nil
}

// h3RoundTrip sends req over HTTP/3, counted in busy[host] until its
// response ends.
func (c *Client) h3RoundTrip(req *http.Request, host string) (*http.Response, error) {
	c.mu.Lock()
	c.busy[host]++
	c.mu.Unlock()
	resp, err := c.h3.RoundTrip(req)
	if err != nil {
		c.ended(host)
		return nil, err
	}
	resp.Body = &countedBody{ReadCloser: resp.Body, end: func() { c.ended(host) }}
	return resp, nil
}

func (c *Client) ended(host string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy[host]--; c.busy[host] <= 0 {
		delete(c.busy, host)
	}
}

// countedBody calls end once, when the body is closed or read to its end
// (or to an error), whichever comes first.
type countedBody struct {
	io.ReadCloser
	once sync.Once
	end  func()
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(b.end)
	}
	return n, err
}

func (b *countedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.end)
	return err
}

// CloseIdleExcept closes the QUIC connections to every host but keep that
// carry no request, and returns how many it closed. A client that has moved
// to another server (a collector that found the leader) calls it so the
// server it left does not keep the connection's state until its idle
// timeout: each costs a server tens of KiB and a few goroutines. A request
// sent after it dials afresh.
func (c *Client) CloseIdleExcept(keep string) int {
	keep = authority(keep)
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for conn, h := range c.conns {
		if h == keep || c.busy[h] > 0 {
			continue
		}
		// Under c.mu, so no request to h can start on conn meanwhile: one
		// that starts after finds it closed and dials a new one. Closing
		// waits only for conn's own loop, never for c.mu.
		_ = conn.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "not in use")
		delete(c.conns, conn)
		n++
	}
	if n > 0 {
		c.log.Debug("transport: closed quic connections not in use", "kept", keep, "connections", n)
	}
	return n
}

// replayable returns req ready to be sent again after a QUIC dial failure:
// with the untouched original body, or a fresh one from GetBody.
func replayable(req *http.Request, guard *bodyGuard) (*http.Request, error) {
	if guard == nil {
		return req, nil
	}
	if rc, ok := guard.detach(); ok {
		r := shallowCopy(req)
		r.Body = rc
		return r, nil
	}
	guard.settle()
	if req.GetBody == nil {
		return nil, ErrBodyNotReplayable
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBodyNotReplayable, err)
	}
	r := shallowCopy(req)
	r.Body = body
	return r, nil
}

// CloseIdleConnections closes idle connections of both protocols.
func (c *Client) CloseIdleConnections() {
	c.h3.CloseIdleConnections()
	c.h2.CloseIdleConnections()
}

// Close closes idle TCP connections, every QUIC connection and the UDP
// socket. The Client cannot send over QUIC afterwards.
func (c *Client) Close() error {
	err := c.h3.Close()
	c.h2.CloseIdleConnections()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for conn := range c.conns {
		_ = conn.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "")
	}
	clear(c.conns)
	if c.quicTr != nil {
		err = errors.Join(err, c.quicTr.Close(), c.udpConn.Close())
		c.quicTr, c.udpConn = nil, nil
	}
	return err
}

// dialQUIC is http3's dial hook: it bounds the handshake by
// QUICHandshakeTimeout (http3 detaches dials from the request's context) and
// marks every failure with ErrQUICDial, meaning nothing was sent. It dials
// without 0-RTT, so no request data leaves before the handshake completes.
func (c *Client) dialQUIC(ctx context.Context, addr string, tlsConf *tls.Config, qconf *quic.Config) (*quic.Conn, error) {
	c.quicDials.Add(1)
	ctx, cancel := context.WithTimeout(ctx, c.cfg.QUICHandshakeTimeout)
	defer cancel()
	tr, err := c.quicTransport()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", addr, ErrQUICDial, err)
	}
	udpAddr, err := resolveUDP(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", addr, ErrQUICDial, err)
	}
	conn, err := tr.Dial(ctx, udpAddr, tlsConf, qconf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", addr, ErrQUICDial, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = conn.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "")
		return nil, fmt.Errorf("%s: %w: %w", addr, ErrQUICDial, http3.ErrTransportClosed)
	}
	c.conns[conn] = authority(addr)
	context.AfterFunc(conn.Context(), func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.conns, conn)
	})
	return conn, nil
}

// dropConns closes the QUIC connections to host after a request to it went
// unanswered until its deadline. A server that crashed and came back (or
// lost its state) may never answer on a connection it no longer knows, and
// without this every request would wait out its deadline on that connection
// until the idle timeout; the next request dials a fresh one instead. A
// server that is merely slow loses its connection, which costs one
// handshake.
func (c *Client) dropConns(host string) {
	c.mu.Lock()
	var drop []*quic.Conn
	for conn, h := range c.conns {
		if h == host {
			drop = append(drop, conn)
		}
	}
	c.mu.Unlock()
	for _, conn := range drop {
		_ = conn.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "no answer")
	}
	if len(drop) > 0 {
		c.log.Debug("transport: dropped quic connections after an unanswered request", "host", host, "connections", len(drop))
	}
}

func (c *Client) quicTransport() (*quic.Transport, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, http3.ErrTransportClosed
	}
	if c.quicTr == nil {
		// One dual-stack socket for all connections, as http3 would make.
		udp, err := net.ListenUDP("udp", nil)
		if err != nil {
			return nil, err
		}
		c.udpConn, c.quicTr = udp, &quic.Transport{Conn: udp}
	}
	return c.quicTr, nil
}

func resolveUDP(ctx context.Context, addr string) (*net.UDPAddr, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := net.DefaultResolver.LookupPort(ctx, "udp", portStr)
	if err != nil {
		return nil, err
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("no address for %q", host)
	}
	ip := ips[0].Unmap()
	for _, a := range ips {
		// Prefer IPv4 like most listeners on "localhost" and dual-stack hosts.
		if a.Unmap().Is4() {
			ip = a.Unmap()
			break
		}
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))), nil
}

// authority is host:port with https' default port, as http3 keys its
// connections.
func authority(hostport string) string {
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	u := url.URL{Host: hostport}
	return net.JoinHostPort(u.Hostname(), "443")
}

func shallowCopy(req *http.Request) *http.Request {
	r := new(http.Request)
	*r = *req
	return r
}
