package agenttest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/clock"
	"github.com/licmesh/licmesh/licensing/entitlement"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/licmesh/licmesh/mesh/pki/pkitest"
	"github.com/licmesh/licmesh/mesh/transport"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// Hooks rewrite a master's answers before they are sent; nil hooks leave
// them alone. A hook may also return an error to send instead.
type Hooks struct {
	Enroll           func(*licmeshv1.EnrollResponse) error
	Hello            func(*licmeshv1.HelloResponse) error
	Acquire          func(*licmeshv1.AcquireResponse) error
	Renew            func(*licmeshv1.RenewResponse) error
	Release          func(*licmeshv1.ReleaseResponse) error
	RenewCertificate func(*licmeshv1.RenewCertificateResponse) error
	// SeatOps sees a SeatOps call's operations before they are applied;
	// an error it returns is the call's answer.
	SeatOps func(*licmeshv1.SeatOpsRequest) error
	// Before runs ahead of a call ("Acquire", "Renew", ...), before the
	// master does anything: an error it returns is the answer, as from a
	// master that cannot serve.
	Before func(method string) error
}

// Cluster is a set of fake masters sharing one state.
type Cluster struct {
	t         testing.TB
	ClusterID string
	CA        *pki.CA
	SignPub   ed25519.PublicKey
	signPriv  ed25519.PrivateKey
	token     pki.JoinToken

	mu            sync.Mutex
	ttl           time.Duration
	certTTL       time.Duration
	pools         map[string]int
	offline       map[string]Offline
	leases        map[lease.ID]*Lease
	nextID        uint64
	nextCollector int
	masters       []*Master
	advertised    []string // nil: the running masters' addresses
	leader        string   // the address Hello names as the leader
	// noRenewPresence answers renewals without presence.
	noRenewPresence bool
	hooks           Hooks
	calls           map[string]int
	lastCSR         []byte
	started         int
	clock           clock.Clock
	upd             updates
}

// Lease is a lease as the fake cluster holds it.
type Lease struct {
	ID        lease.ID
	Fence     uint64
	Pool      string
	Holder    string
	Collector string
	Deadline  time.Time
	// Grace is the pool's offline grace at the grant; Borrowed, when not
	// zero, the borrow's end; Offline marks a seat a collector let in with
	// no master.
	Grace    time.Duration
	Borrowed time.Time
	Offline  bool
}

// Offline is a pool's offline terms in the fake cluster.
type Offline struct {
	Grace     time.Duration
	MaxBorrow time.Duration
	// FailOpen grants an acquire marked offline even past the seats.
	FailOpen bool
}

// NewCluster makes a cluster with one pool "seats" of 10 seats, a lease TTL
// of 30s and a certificate TTL of one hour. It starts no master.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	ca := pkitest.NewCA(t, "test-cluster")
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	tok, err := pki.NewJoinToken(ca.Pin())
	require.NoError(t, err)
	return &Cluster{
		t: t, ClusterID: "test-cluster", CA: ca, SignPub: pub, signPriv: priv, token: tok,
		ttl: 30 * time.Second, certTTL: time.Hour,
		pools:   map[string]int{"seats": 10},
		offline: map[string]Offline{},
		leases:  map[lease.ID]*Lease{},
		nextID:  100,
		clock:   clock.System{},
		calls:   map[string]int{},
		upd:     updates{changed: make(chan struct{}), artifacts: map[string][]byte{}},
	}
}

// Token returns the cluster's join token as text.
func (c *Cluster) Token() string { return c.token.String() }

// TokenWithPin returns a join token with the cluster's ID and secret but
// another pin, as a typo or a man in the middle would give.
func (c *Cluster) TokenWithPin(pin pki.Pin) string {
	t := c.token
	t.Pin = pin
	return t.String()
}

// SetClock sets the clock the masters sign certificates and leases with
// (the system clock by default), so that a test's fake clock moves them too.
func (c *Cluster) SetClock(clk clock.Clock) { c.mu.Lock(); c.clock = clk; c.mu.Unlock() }

// now reads the cluster's clock.
func (c *Cluster) now() time.Time {
	c.mu.Lock()
	clk := c.clock
	c.mu.Unlock()
	return clk.Now()
}

// SetTTL sets the lease TTL granted from now on.
func (c *Cluster) SetTTL(d time.Duration) { c.mu.Lock(); c.ttl = d; c.mu.Unlock() }

// SetCertTTL sets the lifetime of certificates issued from now on.
func (c *Cluster) SetCertTTL(d time.Duration) { c.mu.Lock(); c.certTTL = d; c.mu.Unlock() }

// SetPool creates or resizes a pool.
func (c *Cluster) SetPool(name string, seats int) { c.mu.Lock(); c.pools[name] = seats; c.mu.Unlock() }

// SetOffline sets a pool's offline grace and maximum borrow for grants
// from now on.
func (c *Cluster) SetOffline(pool string, o Offline) { c.mu.Lock(); c.offline[pool] = o; c.mu.Unlock() }

// SetHooks replaces the answer hooks.
func (c *Cluster) SetHooks(h Hooks) { c.mu.Lock(); c.hooks = h; c.mu.Unlock() }

// Advertise sets the masters list sent to collectors (nil: the running
// masters).
func (c *Cluster) Advertise(addrs []string) { c.mu.Lock(); c.advertised = addrs; c.mu.Unlock() }

// LackRenewPresence makes the masters answer renewals as masters from
// before RenewResponse.presence did: a renewal never stands for a hello.
func (c *Cluster) LackRenewPresence() { c.mu.Lock(); c.noRenewPresence = true; c.mu.Unlock() }

// SetLeader makes Hello name addr as the leader.
func (c *Cluster) SetLeader(addr string) { c.mu.Lock(); c.leader = addr; c.mu.Unlock() }

// Calls returns how many times a method ("Acquire", "Renew", ...) was served.
func (c *Cluster) Calls(method string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.calls[method] }

// LastCSR returns the last certificate request received by RenewCertificate.
func (c *Cluster) LastCSR() []byte { c.mu.Lock(); defer c.mu.Unlock(); return c.lastCSR }

// Forget drops a lease, as if it had expired on the masters.
func (c *Cluster) Forget(id lease.ID) { c.mu.Lock(); delete(c.leases, id); c.mu.Unlock() }

// Leases returns the leases the cluster holds.
func (c *Cluster) Leases() []Lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Lease, 0, len(c.leases))
	for _, l := range c.leases {
		out = append(out, *l)
	}
	return out
}

// Sign signs a lease document with the cluster key.
func (c *Cluster) Sign(doc lease.Document) lease.Token {
	tok, err := lease.Sign(doc, c.signPriv)
	if err != nil {
		c.t.Errorf("agenttest: sign: %v", err)
	}
	return tok
}

// Master is one fake master.
type Master struct {
	c      *Cluster
	NodeID string
	addr   string
	stop   func()
	once   sync.Once
	// noArtifacts makes the master answer 404 for every build; c.mu.
	noArtifacts bool
	// noSeatOps makes the master one too old to know SeatOps; c.mu.
	noSeatOps bool
	// noRenewStream makes the master one too old to know RenewStream; c.mu.
	noRenewStream bool
}

// LackSeatOps makes m a master of a release before SeatOps: it answers the
// call Unimplemented, as such a master does.
func (m *Master) LackSeatOps() { m.c.mu.Lock(); m.noSeatOps = true; m.c.mu.Unlock() }

// LackRenewStream makes m a master of a release before RenewStream: it
// answers the call's path 404, as such a master's generated handler does.
func (m *Master) LackRenewStream() { m.c.mu.Lock(); m.noRenewStream = true; m.c.mu.Unlock() }

// StartMaster starts a master on 127.0.0.1 with TLS over TCP (HTTP/2, as
// httptest serves it). It is closed at the end of the test.
func (c *Cluster) StartMaster() *Master {
	c.t.Helper()
	m, tlsConf, h := c.newMaster()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.TLS = tlsConf
	srv.StartTLS()
	m.addr = strings.TrimPrefix(srv.URL, "https://")
	m.stop = func() {
		srv.CloseClientConnections()
		srv.Close()
	}
	return c.register(m)
}

// StartMasterTransport starts a master on the real transport server of
// mesh/transport: HTTP/3 over QUIC and HTTP/2 over TLS/TCP on one port, or
// TCP only with noQUIC (as if UDP were blocked).
func (c *Cluster) StartMasterTransport(noQUIC bool) *Master {
	c.t.Helper()
	m, tlsConf, h := c.newMaster()
	cfg := transport.DefaultServerConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.TLS = tlsConf
	cfg.Handler = h
	cfg.DisableQUIC = noQUIC
	cfg.ShutdownTimeout = 200 * time.Millisecond
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := transport.NewServer(cfg)
	require.NoError(c.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(c.t, srv.Run(ctx), "agenttest: master")
	}()
	m.addr = srv.Addr()
	m.stop = func() { cancel(); <-done }
	return c.register(m)
}

func (c *Cluster) newMaster() (*Master, *tls.Config, http.Handler) {
	c.mu.Lock()
	c.started++
	nodeID := fmt.Sprintf("m%d", c.started)
	c.mu.Unlock()
	cert := pkitest.MasterCert(c.t, c.CA, nodeID)
	m := &Master{c: c, NodeID: nodeID}
	mux := http.NewServeMux()
	path, svc := licmeshv1connect.NewCollectorServiceHandler(&handler{c: c, m: m})
	mux.Handle(path, svc)
	// A master from before RenewStream does not know its path: its
	// generated handler answers 404, which Connect reads as Unimplemented.
	mux.HandleFunc(licmeshv1connect.CollectorServiceRenewStreamProcedure, func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		old := m.noRenewStream
		c.mu.Unlock()
		if old {
			http.NotFound(w, r)
			return
		}
		svc.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /v1/artifacts/{sha}", c.serveArtifact(m))
	tlsConf := c.CA.ServerTLS(cert, tls.VerifyClientCertIfGiven)
	tlsConf.Time = c.now // client certificates are judged on the cluster's clock
	return m, tlsConf, withTLSState(mux)
}

func (c *Cluster) register(m *Master) *Master {
	c.mu.Lock()
	c.masters = append(c.masters, m)
	c.mu.Unlock()
	c.t.Cleanup(m.Close)
	return m
}

// Addr returns the master's host:port.
func (m *Master) Addr() string { return m.addr }

// Close stops the master: connections are refused from now on.
func (m *Master) Close() {
	m.once.Do(func() {
		m.stop()
		m.c.mu.Lock()
		defer m.c.mu.Unlock()
		for i, x := range m.c.masters {
			if x == m {
				m.c.masters = append(m.c.masters[:i], m.c.masters[i+1:]...)
				break
			}
		}
	})
}

type tlsKey struct{}

func withTLSState(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tlsKey{}, r.TLS)))
	})
}

// collector returns the verified collector ID of the caller.
func collector(ctx context.Context) (string, error) {
	cs, _ := ctx.Value(tlsKey{}).(*tls.ConnectionState)
	if cs == nil {
		return "", connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("no TLS"))
	}
	role, id, err := pki.VerifiedPeer(*cs)
	if err != nil || role != pki.RoleCollector {
		return "", connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("a collector certificate is required"))
	}
	return id, nil
}

// mastersLocked is the list sent to collectors.
func (c *Cluster) mastersLocked() []string {
	if c.advertised != nil {
		return c.advertised
	}
	out := make([]string, 0, len(c.masters))
	for _, m := range c.masters {
		out = append(out, m.Addr())
	}
	return out
}

// tokenSecret reads the raw secret back from a token's text.
func tokenSecret(t pki.JoinToken) []byte {
	parts := strings.Split(t.String(), ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[2])
	return b
}

// SignEntitlements signs an entitlement document with the cluster's key,
// as a master would.
func (c *Cluster) SignEntitlements(doc *entitlement.Document) string {
	tok, err := entitlement.Sign(doc, c.signPriv)
	require.NoError(c.t, err, "sign entitlements")
	return tok
}
