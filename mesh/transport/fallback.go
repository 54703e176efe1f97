package transport

import (
	"errors"
	"io"
	"sync"
	"time"
)

// route is the protocol chosen for one request.
type route int

const (
	routeQUIC  route = iota // use HTTP/3
	routeProbe              // use HTTP/3 to find out whether QUIC works again
	routeTCP                // use HTTP/2
)

// fallbackTracker remembers, per host, that QUIC failed and until when to
// stay on TCP. A host with no entry uses QUIC. Only one request at a time
// probes a host whose retry time has passed; the others stay on TCP, so at
// most one request pays the handshake timeout per RetryQUICAfter.
type fallbackTracker struct {
	retryAfter time.Duration

	mu    sync.Mutex
	hosts map[string]*hostFallback
}

type hostFallback struct {
	retryAt time.Time // when QUIC may be tried again
	probing bool      // a request is trying QUIC right now
}

func newFallbackTracker(retryAfter time.Duration) *fallbackTracker {
	return &fallbackTracker{retryAfter: retryAfter, hosts: make(map[string]*hostFallback)}
}

// choose picks the route for a request to host at now. A routeProbe must be
// followed by quicOK, quicFailed or probeDone.
func (t *fallbackTracker) choose(host string, now time.Time) route {
	t.mu.Lock()
	defer t.mu.Unlock()
	h, ok := t.hosts[host]
	switch {
	case !ok:
		return routeQUIC
	case h.probing || now.Before(h.retryAt):
		return routeTCP
	default:
		h.probing = true
		return routeProbe
	}
}

// quicFailed records that QUIC could not connect to host at now. It reports
// whether the host was on QUIC before, so the caller logs the switch once.
func (t *fallbackTracker) quicFailed(host string, now time.Time) (switched bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, wasFallback := t.hosts[host]
	t.hosts[host] = &hostFallback{retryAt: now.Add(t.retryAfter)}
	return !wasFallback
}

// quicOK records that QUIC works for host. It reports whether the host was on
// TCP before.
func (t *fallbackTracker) quicOK(host string) (switched bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, wasFallback := t.hosts[host]
	delete(t.hosts, host)
	return wasFallback
}

// probeDone ends a probe that taught nothing about reachability (the request
// was cancelled, or failed after QUIC had connected).
func (t *fallbackTracker) probeDone(host string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h, ok := t.hosts[host]; ok {
		h.probing = false
	}
}

// onTCP reports whether requests to host currently go over TCP.
func (t *fallbackTracker) onTCP(host string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.hosts[host]
	return ok
}

var errBodyDetached = errors.New("transport: request body moved to another connection")

// bodyGuard stands between http3 and the caller's request body. http3 closes
// the body when a dial fails; the guard holds that Close back while the
// outcome is undecided, so an unread body (a pipe with no GetBody, as
// ConnectRPC uses for client streams) can still be sent over TCP.
type bodyGuard struct {
	rc io.ReadCloser

	mu       sync.Mutex
	touched  bool // Read was called: bytes may have left
	held     bool // the round trip's outcome is undecided
	closeReq bool // Close arrived while held and untouched
	detached bool // the body went to the fallback request
}

func newBodyGuard(rc io.ReadCloser) *bodyGuard { return &bodyGuard{rc: rc, held: true} }

func (g *bodyGuard) Read(p []byte) (int, error) {
	g.mu.Lock()
	if g.detached {
		g.mu.Unlock()
		return 0, errBodyDetached
	}
	g.touched = true
	g.mu.Unlock()
	return g.rc.Read(p)
}

func (g *bodyGuard) Close() error {
	g.mu.Lock()
	if g.detached {
		g.mu.Unlock()
		return nil
	}
	if g.held && !g.touched {
		g.closeReq = true
		g.mu.Unlock()
		return nil
	}
	g.mu.Unlock()
	return g.rc.Close()
}

// settle ends the hold: the body belongs to the HTTP/3 request for good, and
// a Close held back is carried out now.
func (g *bodyGuard) settle() {
	g.mu.Lock()
	g.held = false
	closeNow := g.closeReq
	g.closeReq = false
	g.mu.Unlock()
	if closeNow {
		_ = g.rc.Close()
	}
}

// detach hands the untouched body over for the fallback request. ok is false
// when HTTP/3 already read from it.
func (g *bodyGuard) detach() (rc io.ReadCloser, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.touched {
		return nil, false
	}
	g.detached = true
	return g.rc, true
}
