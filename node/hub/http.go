package hub

import (
	"context"
	"errors"
	"net"
	"net/http"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/licmesh/licmesh/licensing/upstream"
	"github.com/licmesh/licmesh/mesh/wire"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/hub/store"
)

// Handler is the hub's HTTPS handler: the HubService API, health,
// metrics, the public sign-up pages under /signup, and the web pages
// under /ui/ (where / redirects).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	// Usage export files come through UploadUsage: the largest request is
	// one (upstream.MaxExportBytes, base64 in JSON), authenticated first.
	path, h := licmeshv1connect.NewHubServiceHandler(&api{s: s},
		connect.WithReadMaxBytes(maxHubRequest), connect.WithCodec(wire.StrictJSON{}), connect.WithInterceptors(s.observe()))
	mux.Handle(path, s.withCaller(h))
	path, h = licmeshv1connect.NewUpstreamServiceHandler(&upstreamAPI{s: s, a: &api{s: s}},
		connect.WithReadMaxBytes(32<<20), connect.WithCodec(wire.StrictJSON{}), connect.WithInterceptors(s.observe()))
	mux.Handle(path, s.withCaller(h))
	path, h = licmeshv1connect.NewReleaseServiceHandler(&releaseAPI{s: s, a: &api{s: s}},
		connect.WithCodec(wire.StrictJSON{}), connect.WithInterceptors(s.observe()))
	mux.Handle(path, s.withCaller(h))
	s.mountReleases(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.store.Ping(r.Context()); err != nil {
			http.Error(w, "not ready: the database does not answer", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{}))
	s.mountSignupPages(mux)
	s.mountPages(mux)
	return securityHeaders(mux)
}

// maxHubRequest bounds a HubService request: an export file of
// upstream.MaxExportBytes, as base64 in JSON, with room to spare.
const maxHubRequest = upstream.MaxExportBytes*4/3 + 1<<20

// securityHeaders are sent with every response.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

type callerKey struct{}

// caller is the outcome of authenticating a request: who, or why not.
type caller struct {
	p      *principal
	err    error
	remote string
}

// withCaller authenticates each API request and leaves the outcome in its
// context; each call decides what it needs (WhoAmI needs anyone, most
// calls a role).
func (s *Server) withCaller(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		ctx := context.WithValue(r.Context(), callerKey{}, &caller{p: p, err: err, remote: host})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// who returns the authenticated principal of ctx, allowed one of acts (none:
// anyone signed in), and the remote address for the audit log.
func who(ctx context.Context, acts ...action) (*principal, string, error) {
	c, _ := ctx.Value(callerKey{}).(*caller)
	if c == nil {
		return nil, "", connect.NewError(connect.CodeUnauthenticated, ErrUnauthenticated)
	}
	if c.err != nil {
		return nil, c.remote, toConnect(c.err)
	}
	if len(acts) > 0 {
		if err := c.p.require(acts...); err != nil {
			return nil, c.remote, toConnect(err)
		}
	}
	return c.p, c.remote, nil
}

// toConnect turns an error into the Connect code a client can act on; the
// message names the problem (never a secret).
func toConnect(err error) error {
	var ce *connect.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return err
	case errors.Is(err, ErrUnauthenticated):
		return connect.NewError(connect.CodeUnauthenticated, err)
	case errors.Is(err, ErrPermission), errors.Is(err, ErrSiteKey):
		return connect.NewError(connect.CodePermissionDenied, err)
	case errors.Is(err, ErrInvalidArgument), errors.Is(err, store.ErrInvalid):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, store.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, ErrNoLicense):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, store.ErrConflict):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeCanceled, err)
	default:
		return connect.NewError(connect.CodeInternal, errors.New("hub: internal error (logged)"))
	}
}

// observe counts calls and their latency.
func (s *Server) observe() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			start := s.clk.Now()
			res, err := next(ctx, req)
			proc := req.Spec().Procedure
			code := "ok"
			if err != nil {
				code = connect.CodeOf(err).String()
			}
			s.m.calls.WithLabelValues(proc, code).Inc()
			s.m.requests.WithLabelValues(proc).Observe(s.clk.Now().Sub(start).Seconds())
			return res, err
		}
	}
}
