package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// Defaults for ServerConfig; a zero field in a ServerConfig takes these.
const (
	DefaultAddr              = ":7443"
	DefaultMaxRequestBytes   = 4 << 20
	DefaultMaxHeaderBytes    = 1 << 20
	DefaultMaxStreams        = 256
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultPeerTimeout       = 30 * time.Second
	DefaultShutdownTimeout   = 5 * time.Second
)

// listenAttempts bounds the retries when port 0 picks a TCP port whose UDP
// twin is taken.
const listenAttempts = 8

// ServerConfig configures a Server. Zero numeric fields take the defaults
// above; negative ones are rejected by Validate.
type ServerConfig struct {
	// Addr is host:port for both TCP and UDP. Port 0 picks a free port number
	// that is free on both.
	Addr string
	// TLS must carry a certificate (Certificates, GetCertificate or
	// GetConfigForClient). Set ClientAuth and ClientCAs here for mutual TLS.
	// NextProtos is replaced per protocol.
	TLS *tls.Config
	// Handler serves every request on both protocols.
	Handler http.Handler
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// DisableQUIC serves TCP only and binds no UDP socket.
	DisableQUIC bool
	// MaxHeaderBytes limits request headers on both protocols.
	MaxHeaderBytes int
	// MaxRequestBytes limits a request body; larger ones get 413, or an
	// *http.MaxBytesError from the body when the size was not announced.
	MaxRequestBytes int64
	// MaxStreams bounds concurrent requests per connection (HTTP/2
	// MaxConcurrentStreams, QUIC MaxIncomingStreams).
	MaxStreams int
	// ReadHeaderTimeout bounds the TLS handshake and request headers on TCP,
	// and the QUIC handshake.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request on TCP. Zero means no limit,
	// which streaming RPCs need.
	ReadTimeout time.Duration
	// IdleTimeout closes connections with no request in flight.
	IdleTimeout time.Duration
	// PeerTimeout is how long a connection may go without hearing from the
	// peer (QUIC idle timeout, HTTP/2 ping) before it is dropped.
	PeerTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown in Run; connections still
	// busy after it (long streams) are closed.
	ShutdownTimeout time.Duration
	// StatelessResetKey, 32 bytes when set, lets the server reset QUIC
	// connections it has no state for. Derive it from a secret so that it
	// survives restarts: a server that crashed and came back then tells its
	// old clients at their first packet, instead of leaving them to wait
	// out the idle timeout on a connection nobody will answer.
	StatelessResetKey []byte
}

// DefaultServerConfig returns a config with every default filled in; the
// caller still sets TLS and Handler.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		Addr:              DefaultAddr,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		MaxRequestBytes:   DefaultMaxRequestBytes,
		MaxStreams:        DefaultMaxStreams,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		PeerTimeout:       DefaultPeerTimeout,
		ShutdownTimeout:   DefaultShutdownTimeout,
	}
}

// Validate reports the first problem with c, naming the field.
func (c ServerConfig) Validate() error {
	if c.TLS == nil || (len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil && c.TLS.GetConfigForClient == nil) {
		return fmt.Errorf("server config: %w", ErrNoTLS)
	}
	if c.Handler == nil {
		return fmt.Errorf("server config: %w", ErrNoHandler)
	}
	if c.Addr != "" {
		if _, err := splitPort(c.Addr); err != nil {
			return err
		}
	}
	if n := len(c.StatelessResetKey); n != 0 && n != len(quic.StatelessResetKey{}) {
		return fmt.Errorf("server config: StatelessResetKey has %d bytes, want %d: %w", n, len(quic.StatelessResetKey{}), ErrBadLimit)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"MaxHeaderBytes", int64(c.MaxHeaderBytes)},
		{"MaxRequestBytes", c.MaxRequestBytes},
		{"MaxStreams", int64(c.MaxStreams)},
		{"ReadHeaderTimeout", int64(c.ReadHeaderTimeout)},
		{"ReadTimeout", int64(c.ReadTimeout)},
		{"IdleTimeout", int64(c.IdleTimeout)},
		{"PeerTimeout", int64(c.PeerTimeout)},
		{"ShutdownTimeout", int64(c.ShutdownTimeout)},
	} {
		if f.v < 0 {
			return fmt.Errorf("server config: %s is negative: %w", f.name, ErrBadLimit)
		}
	}
	return nil
}

func (c ServerConfig) withDefaults() ServerConfig {
	d := DefaultServerConfig()
	if c.Addr == "" {
		c.Addr = d.Addr
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = d.MaxRequestBytes
	}
	if c.MaxStreams == 0 {
		c.MaxStreams = d.MaxStreams
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.PeerTimeout == 0 {
		c.PeerTimeout = d.PeerTimeout
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = d.ShutdownTimeout
	}
	return c
}

type serverState int

const (
	stateListening serverState = iota
	stateRunning
	stateClosed
)

// Server serves one handler over HTTP/3 (UDP) and HTTP/2 (TLS/TCP) on the same
// port number. NewServer binds the sockets; Run serves until its context ends;
// Close releases the sockets of a server that is never run.
type Server struct {
	cfg     ServerConfig
	log     *slog.Logger
	tcpLn   net.Listener
	udpConn *net.UDPConn    // nil with DisableQUIC
	quicTr  *quic.Transport // nil with DisableQUIC
	quicLn  *quic.Listener  // nil with DisableQUIC
	httpSrv *http.Server
	h3Srv   *http3.Server // nil with DisableQUIC

	mu    sync.Mutex
	state serverState
}

// NewServer validates cfg and binds the TCP listener and, unless DisableQUIC,
// the UDP socket on the same port. The server does not serve until Run.
func NewServer(cfg ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger}
	if err := s.listen(); err != nil {
		return nil, err
	}
	s.httpSrv = s.newHTTPServer()
	if !cfg.DisableQUIC {
		if err := s.listenQUIC(); err != nil {
			s.closeSockets()
			return nil, err
		}
	}
	return s, nil
}

// Addr returns the bound address, host:port, shared by TCP and UDP.
func (s *Server) Addr() string { return s.tcpLn.Addr().String() }

// QUICEnabled reports whether the server serves HTTP/3.
func (s *Server) QUICEnabled() bool { return s.quicLn != nil }

// Run serves both protocols until ctx ends, then shuts down gracefully within
// ShutdownTimeout and releases the sockets. It returns nil after a shutdown
// caused by ctx, and an error if a protocol stopped serving on its own. A
// server runs once.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.state != stateListening {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.state = stateRunning
	s.mu.Unlock()
	defer func() {
		s.closeSockets()
		s.mu.Lock()
		s.state = stateClosed
		s.mu.Unlock()
	}()

	s.log.Info("transport serving", "addr", s.Addr(), "quic", s.QUICEnabled())
	errc := make(chan error, 2)
	running := 1
	go func() { errc <- s.httpSrv.ServeTLS(s.tcpLn, "", "") }()
	if s.h3Srv != nil {
		running++
		go func() { errc <- s.h3Srv.ServeListener(s.quicLn) }()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		running--
		runErr = fmt.Errorf("transport: serving stopped: %w", err)
	}
	s.shutdown()
	for ; running > 0; running-- {
		<-errc // http.ErrServerClosed after shutdown; nothing to report
	}
	s.log.Info("transport stopped", "addr", s.Addr())
	return runErr
}

// Close releases the sockets of a server whose Run was never called. While Run
// is running it does nothing: Run's context owns the shutdown.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateListening {
		return nil
	}
	s.state = stateClosed
	s.closeSockets()
	return nil
}

// shutdown drains both protocols in parallel and forces them closed once
// ShutdownTimeout has passed.
func (s *Server) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			s.log.Warn("transport: tcp shutdown forced", "error", err)
			_ = s.httpSrv.Close()
		}
	})
	if s.h3Srv != nil {
		wg.Go(func() {
			// Shutdown closes the server by itself when ctx expires.
			if err := s.h3Srv.Shutdown(ctx); err != nil {
				s.log.Warn("transport: quic shutdown forced", "error", err)
			}
		})
	}
	wg.Wait()
}

func (s *Server) closeSockets() {
	_ = s.tcpLn.Close()
	if s.quicLn != nil {
		_ = s.quicLn.Close()
		_ = s.quicTr.Close()
	}
	if s.udpConn != nil {
		_ = s.udpConn.Close()
	}
}

// listen binds TCP and UDP to one port number. With port 0 the kernel picks
// the TCP port, and a taken UDP port means another try with a new one.
func (s *Server) listen() error {
	host, _, err := net.SplitHostPort(s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("addr %q: %w", s.cfg.Addr, ErrBadAddr)
	}
	port, err := splitPort(s.cfg.Addr)
	if err != nil {
		return err
	}
	attempts := 1
	if port == 0 {
		attempts = listenAttempts
	}
	var lastErr error
	for range attempts {
		tcpLn, err := net.Listen("tcp", s.cfg.Addr)
		if err != nil {
			return fmt.Errorf("tcp %s: %w: %w", s.cfg.Addr, ErrListen, err)
		}
		if s.cfg.DisableQUIC {
			s.tcpLn = tcpLn
			return nil
		}
		bound := tcpLn.Addr().(*net.TCPAddr).Port
		udpAddr := net.JoinHostPort(host, strconv.Itoa(bound))
		pc, err := net.ListenPacket("udp", udpAddr)
		if err == nil {
			s.tcpLn, s.udpConn = tcpLn, pc.(*net.UDPConn)
			return nil
		}
		_ = tcpLn.Close()
		lastErr = fmt.Errorf("udp %s: %w: %w", udpAddr, ErrListen, err)
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return lastErr
}

// listenQUIC starts the QUIC listener on the bound UDP socket.
//
// quic-go asks the kernel for ~7 MiB socket buffers and logs one warning when
// it gets less. That is harmless at our message rates; deployments raise
// net.core.rmem_max/wmem_max with the sysctl file the project ships.
func (s *Server) listenQUIC() error {
	tlsConf := s.cfg.TLS.Clone()
	if tlsConf.MinVersion < tls.VersionTLS13 {
		tlsConf.MinVersion = tls.VersionTLS13 // QUIC requires it
	}
	qconf := &quic.Config{
		HandshakeIdleTimeout: s.cfg.ReadHeaderTimeout,
		MaxIdleTimeout:       s.cfg.PeerTimeout,
		KeepAlivePeriod:      s.cfg.PeerTimeout / 3,
		MaxIncomingStreams:   int64(s.cfg.MaxStreams),
		// Allow0RTT stays false: 0-RTT data can be replayed by an attacker.
	}
	s.quicTr = &quic.Transport{Conn: s.udpConn}
	if k := s.cfg.StatelessResetKey; len(k) > 0 {
		var key quic.StatelessResetKey
		copy(key[:], k)
		s.quicTr.StatelessResetKey = &key
	}
	ln, err := s.quicTr.Listen(http3.ConfigureTLSConfig(tlsConf), qconf)
	if err != nil {
		return fmt.Errorf("quic %s: %w: %w", s.udpConn.LocalAddr(), ErrListen, err)
	}
	s.quicLn = ln
	s.h3Srv = &http3.Server{
		Handler:        limitBody(s.cfg.Handler, s.cfg.MaxRequestBytes),
		MaxHeaderBytes: s.cfg.MaxHeaderBytes,
		IdleTimeout:    s.cfg.IdleTimeout,
		Logger:         s.log,
	}
	return nil
}

func (s *Server) newHTTPServer() *http.Server {
	tlsConf := s.cfg.TLS.Clone()
	if tlsConf.MinVersion < tls.VersionTLS12 {
		tlsConf.MinVersion = tls.VersionTLS12
	}
	tlsConf.NextProtos = []string{"h2", "http/1.1"}
	var protos http.Protocols
	protos.SetHTTP1(true) // curl and plain HTTPS clients on the same port
	protos.SetHTTP2(true)
	h := limitBody(s.cfg.Handler, s.cfg.MaxRequestBytes)
	if !s.cfg.DisableQUIC {
		h = advertiseH3(h, s.tcpLn.Addr().(*net.TCPAddr).Port)
	}
	return &http.Server{
		Handler:           h,
		TLSConfig:         tlsConf,
		Protocols:         &protos,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: s.cfg.MaxStreams,
			SendPingTimeout:      s.cfg.PeerTimeout,
		},
		// TLS handshake failures from scanners are noise, not warnings.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// limitBody rejects announced oversized bodies with 413 before the handler
// runs and caps the rest, so the handler sees *http.MaxBytesError.
func limitBody(next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			http.Error(w, ErrRequestTooLarge.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

// advertiseH3 tells TCP clients that the same port speaks HTTP/3.
func advertiseH3(next http.Handler, port int) http.Handler {
	altSvc := fmt.Sprintf(`%s=":%d"; ma=86400`, http3.NextProtoH3, port)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Alt-Svc", altSvc)
		next.ServeHTTP(w, r)
	})
}

func splitPort(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("addr %q: %w", addr, ErrBadAddr)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return 0, fmt.Errorf("addr %q: port must be 0-65535: %w", addr, ErrBadAddr)
	}
	return port, nil
}
