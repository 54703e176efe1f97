package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	"github.com/licmesh/licmesh/mesh/pki/pkitest"
)

// testPKI is a CA with one server and one client certificate for 127.0.0.1.
type testPKI struct {
	server *tls.Config // requires and verifies a client certificate
	client *tls.Config // trusts the CA, presents the client certificate
	anon   *tls.Config // trusts the CA, presents nothing
}

func newTestPKI(t testing.TB) testPKI {
	t.Helper()
	ca := pkitest.NewCA(t, "test-ca")
	server := pkitest.MasterCert(t, ca, "master")
	client := pkitest.CollectorCert(t, ca, "collector-1")
	return testPKI{
		server: ca.ServerTLS(server, tls.RequireAndVerifyClientCert),
		client: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client}},
		anon:   &tls.Config{RootCAs: ca.Pool()},
	}
}

// testHandler serves the endpoints the tests use.
type testHandler struct {
	release chan struct{} // /stream waits on it between chunks
	aborts  atomic.Int64  // /abort calls seen
	echoes  atomic.Int64  // /echo calls seen
}

func newTestHandler() *testHandler { return &testHandler{release: make(chan struct{})} }

func (h *testHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/proto":
		cn := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "%s %s", r.Proto, cn)
	case "/echo":
		h.echoes.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write(body)
	case "/abort":
		h.aborts.Add(1)
		_, _ = io.ReadAll(r.Body)
		panic(http.ErrAbortHandler)
	case "/stream":
		rc := http.NewResponseController(w)
		for i := range 3 {
			if i > 0 {
				select {
				case <-h.release:
				case <-r.Context().Done():
					return
				}
			}
			fmt.Fprintf(w, "chunk-%d\n", i)
			if err := rc.Flush(); err != nil {
				return
			}
		}
	case "/hold":
		// A long stream that ends only when the request context does.
		_, _ = w.Write([]byte("holding\n"))
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
	default:
		http.NotFound(w, r)
	}
}

// startServer runs a Server for cfg until the test ends.
func startServer(t testing.TB, cfg ServerConfig) *Server {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := NewServer(cfg)
	require.NoError(t, err, "NewServer")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done, "Run")
	})
	return s
}

func newTestClient(t testing.TB, cfg ClientConfig) *Client {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if cfg.QUICHandshakeTimeout == 0 {
		// Where QUIC should work, a loaded test machine must not make a slow
		// handshake look like blocked UDP.
		cfg.QUICHandshakeTimeout = 5 * time.Second
	}
	c := NewClient(cfg)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// newFakeClock is a clock for RetryQUICAfter decisions.
func newFakeClock() *clocktest.Fake { return clocktest.New(time.Unix(1_700_000_000, 0)) }

// get fetches path and returns status and body.
func get(t testing.TB, hc *http.Client, base, path string) (int, string) {
	t.Helper()
	return do(t, hc, http.MethodGet, base+path, nil)
}

func do(t testing.TB, hc *http.Client, method, url string, body io.Reader) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err, "%s %s", method, url)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "%s %s: read body", method, url)
	return resp.StatusCode, string(b)
}

func baseURL(s *Server) string { return "https://" + s.Addr() }
