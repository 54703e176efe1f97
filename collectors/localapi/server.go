package localapi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Config says where the API listens.
type Config struct {
	// Listen is a loopback host:port ("" for none). Port 0 picks one.
	Listen string
	// Socket is a unix socket path ("" for none).
	Socket string
	// RequestTimeout bounds each request.
	RequestTimeout time.Duration
	// MaxInFlight bounds requests served at once; 0 means
	// DefaultMaxInFlight.
	MaxInFlight int
	// Usage, when set, reports usage metering for /v1/status.
	Usage func() UsageStatus
}

// Server serves the API on its listeners.
type Server struct {
	cfg  Config
	log  *slog.Logger
	srv  *http.Server
	tcp  net.Listener
	unix net.Listener
}

// Listen opens the listeners now, so that a port or socket in use is reported
// before the agent starts, and returns a server ready to Run. The socket gets
// mode 0660; a stale socket left by a crash is replaced.
func Listen(svc Service, cfg Config, log *slog.Logger) (*Server, error) {
	if cfg.Listen == "" && cfg.Socket == "" {
		return nil, ErrNoListener
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, log: log}
	if cfg.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("localapi: listen %s: %w", cfg.Listen, err)
		}
		s.tcp = ln
	}
	if cfg.Socket != "" {
		ln, err := listenUnix(cfg.Socket)
		if err != nil {
			if s.tcp != nil {
				s.tcp.Close()
			}
			return nil, err
		}
		s.unix = ln
	}
	s.srv = &http.Server{
		Handler:           NewHandler(svc, cfg.RequestTimeout, cfg.MaxInFlight, log).WithUsage(cfg.Usage),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// listenUnix binds a unix socket at path with mode 0660, replacing a stale
// socket but never a live one or a non-socket file.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("%w: %s", ErrNotSocket, path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%w: %s", ErrSocketInUse, path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("localapi: remove stale socket %s: %w", path, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("localapi: create socket directory: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("localapi: listen on socket %s: %w", path, err)
	}
	// Close must not unlink: Run removes the file itself, once.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		os.Remove(path)
		return nil, fmt.Errorf("localapi: set socket mode: %w", err)
	}
	return ln, nil
}

// Addr returns the TCP address served, "" when TCP is off.
func (s *Server) Addr() string {
	if s.tcp == nil {
		return ""
	}
	return s.tcp.Addr().String()
}

// SocketPath returns the socket served, "" when off.
func (s *Server) SocketPath() string { return s.cfg.Socket }

// Run serves until ctx ends, then stops accepting, lets requests in flight
// finish (within the request timeout) and removes the socket.
func (s *Server) Run(ctx context.Context) error {
	var (
		wg   sync.WaitGroup
		errc = make(chan error, 2)
	)
	serve := func(ln net.Listener) {
		defer wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("localapi: serve %s: %w", ln.Addr(), err)
		}
	}
	for _, ln := range []net.Listener{s.tcp, s.unix} {
		if ln != nil {
			wg.Add(1)
			go serve(ln)
		}
	}
	if s.tcp != nil {
		s.log.Info("collectord: local api listening", "addr", s.Addr())
	}
	if s.unix != nil {
		s.log.Info("collectord: local api listening", "socket", s.cfg.Socket)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RequestTimeout+time.Second)
	defer cancel()
	if serr := s.srv.Shutdown(sctx); serr != nil {
		s.srv.Close()
	}
	wg.Wait()
	if s.unix != nil {
		os.Remove(s.cfg.Socket)
	}
	return err
}

// Close closes the listeners of a server that will not Run, and removes its
// socket.
func (s *Server) Close() error {
	var err error
	if s.tcp != nil {
		err = s.tcp.Close()
	}
	if s.unix != nil {
		err = errors.Join(err, s.unix.Close())
		os.Remove(s.cfg.Socket)
	}
	return err
}
