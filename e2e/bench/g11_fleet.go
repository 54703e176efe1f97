package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"golang.org/x/sync/errgroup"

	"github.com/licmesh/licmesh/mesh/wire"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// EnvCollectors scales G11 down (or up): the number of simulated collectors.
const EnvCollectors = "LICMESH_BENCH_COLLECTORS"

// Entitlement documents as collectors read them: "lme1.<payload>.<sig>",
// both parts base64url without padding, the signature over the context
// string and the payload (licensing/entitlement, which e2e may not import).
const (
	entDocPrefix   = "lme1."
	entSignContext = "licmesh/entitlements/v1\x00"
)

// fleetMessageBytes bounds every message as collectord bounds it.
const fleetMessageBytes = 1 << 20

// FleetConfig shapes G11's load generator: many simulated collectors in
// this process, each speaking the collector protocol as collectord does.
type FleetConfig struct {
	// Collectors is the number of simulated collectors.
	Collectors int
	// LeasesEach is how many leases each collector holds and renews, all
	// in one Renew call every third of the lease TTL.
	LeasesEach int
	// StartConcurrency bounds the collectors enrolling and starting at once.
	StartConcurrency int
	// Sockets is the number of UDP sockets the collectors' QUIC connections
	// share (each collector still has its own connection, TLS session and
	// certificate): one socket per collector would take 10,000 descriptors.
	Sockets int
	// HelloInterval is how often each collector says hello to its master,
	// as collectord does.
	HelloInterval time.Duration
	// ChangeTimeout bounds the wait for a license change to reach every
	// collector's entitlement stream.
	ChangeTimeout time.Duration
}

// DefaultFleetConfig returns the fleet `make bench` simulates.
func DefaultFleetConfig() FleetConfig {
	return FleetConfig{
		Collectors:       10_000,
		LeasesEach:       2,
		StartConcurrency: 48,
		Sockets:          16,
		HelloInterval:    30 * time.Second, // collectord's default
		ChangeTimeout:    60 * time.Second,
	}
}

// FleetConfigFromEnv returns DefaultFleetConfig with Collectors taken from
// $LICMESH_BENCH_COLLECTORS when it is set.
func FleetConfigFromEnv() (FleetConfig, error) {
	fc := DefaultFleetConfig()
	if s := os.Getenv(EnvCollectors); s != "" {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fc, fmt.Errorf("%w: %s=%q is not a number", ErrInvalidConfig, EnvCollectors, s)
		}
		fc.Collectors = n
	}
	return fc, fc.Validate()
}

// Validate reports the first field that is out of range.
func (c FleetConfig) Validate() error {
	switch {
	case c.Collectors < 1 || c.Collectors > 100_000:
		return fmt.Errorf("%w: fleet collectors %d must be 1 to 100000", ErrInvalidConfig, c.Collectors)
	case c.LeasesEach < 1 || c.LeasesEach > 100:
		return fmt.Errorf("%w: fleet leases each %d must be 1 to 100", ErrInvalidConfig, c.LeasesEach)
	case c.StartConcurrency < 1:
		return fmt.Errorf("%w: fleet start concurrency %d must be at least 1", ErrInvalidConfig, c.StartConcurrency)
	case c.Sockets < 1:
		return fmt.Errorf("%w: fleet sockets %d must be at least 1", ErrInvalidConfig, c.Sockets)
	case c.HelloInterval <= 0:
		return fmt.Errorf("%w: fleet hello interval %v must be positive", ErrInvalidConfig, c.HelloInterval)
	case c.ChangeTimeout <= 0:
		return fmt.Errorf("%w: fleet change timeout %v must be positive", ErrInvalidConfig, c.ChangeTimeout)
	}
	return nil
}

// fleetCounts are the fleet's running totals.
type fleetCounts struct {
	renewCalls, renewFailed, renewed, refused atomic.Int64
	hellos, helloFailed                       atomic.Int64
	docs, streamFails                         atomic.Int64
}

// fleetTally is a reading of fleetCounts.
type fleetTally struct {
	RenewCalls, RenewFailed, Renewed, Refused int64
	Hellos, HelloFailed                       int64
	Docs, StreamFails                         int64
}

func (c *fleetCounts) read() fleetTally {
	return fleetTally{
		RenewCalls: c.renewCalls.Load(), RenewFailed: c.renewFailed.Load(), Renewed: c.renewed.Load(), Refused: c.refused.Load(),
		Hellos: c.hellos.Load(), HelloFailed: c.helloFailed.Load(),
		Docs: c.docs.Load(), StreamFails: c.streamFails.Load(),
	}
}

func (t fleetTally) minus(o fleetTally) fleetTally {
	return fleetTally{
		RenewCalls: t.RenewCalls - o.RenewCalls, RenewFailed: t.RenewFailed - o.RenewFailed,
		Renewed: t.Renewed - o.Renewed, Refused: t.Refused - o.Refused,
		Hellos: t.Hellos - o.Hellos, HelloFailed: t.HelloFailed - o.HelloFailed,
		Docs: t.Docs - o.Docs, StreamFails: t.StreamFails - o.StreamFails,
	}
}

// fleet is G11's load generator: simulated collectors, each with its own
// identity, QUIC connections, entitlement stream and renewal schedule.
type fleet struct {
	cfg         FleetConfig
	ca          *x509.Certificate
	addrs       []string // the masters' collector addresses
	pool        string   // the pool leases are taken from
	watch       string   // the license ID whose arrival changeAt records
	callTimeout time.Duration
	log         io.Writer

	qconf *quic.Config
	socks []*quic.Transport
	conns atomic.Int64 // QUIC connections open

	sims    []*sim
	counts  fleetCounts
	streams []atomic.Int64 // streams that delivered, open now, by master

	lastErr atomic.Pointer[string] // the last failure, for the notes

	recording atomic.Bool // record renew call latencies
	latMu     sync.Mutex
	lats      []time.Duration

	ctx    context.Context // the collectors' lifetime
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startFleet enrolls fc.Collectors collectors with one join token and
// starts each: hello, leases, entitlement stream, then renewals and hellos
// on their schedules until stop. Collector i enrolls at, and first says
// hello to, master i mod Masters; like collectord it then prefers the
// master that answers, or the leader that master names. On error the
// caller must still stop the fleet.
func startFleet(ctx context.Context, m *MeshCluster, fc FleetConfig, pool, watch string, log io.Writer) (*fleet, error) {
	if log == nil {
		log = io.Discard
	}
	f := &fleet{
		cfg: fc, ca: m.CA(), pool: pool, watch: watch, callTimeout: m.cfg.CallTimeout, log: log,
		qconf: &quic.Config{
			HandshakeIdleTimeout: m.cfg.CallTimeout,
			MaxIdleTimeout:       collectorIdleTimeout,
			KeepAlivePeriod:      collectorIdleTimeout / 3,
		},
		sims:    make([]*sim, fc.Collectors),
		streams: make([]atomic.Int64, m.Masters()),
	}
	f.ctx, f.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for i := range m.Masters() {
		f.addrs = append(f.addrs, m.CollectorAddr(i))
	}
	for range fc.Sockets {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return f, fmt.Errorf("bench: fleet socket: %w", err)
		}
		f.socks = append(f.socks, &quic.Transport{Conn: c})
	}
	tok, err := m.CreateJoinToken(ctx, fc.Collectors+fc.Collectors/10+16, 6*time.Hour)
	if err != nil {
		return f, err
	}
	start := time.Now()
	var started atomic.Int64
	progress := time.NewTicker(15 * time.Second)
	defer progress.Stop()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-progress.C:
				fmt.Fprintf(f.log, "G11: %d of %d collectors started in %s, %d QUIC connections\n",
					started.Load(), fc.Collectors, time.Since(start).Round(time.Second), f.conns.Load())
			}
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fc.StartConcurrency)
	for i := range fc.Collectors {
		g.Go(func() error {
			if err := f.startOne(gctx, i, tok); err != nil {
				return fmt.Errorf("collector %d of %d: %w", i, fc.Collectors, err)
			}
			started.Add(1)
			return nil
		})
	}
	return f, g.Wait()
}

// startOne enrolls collector i and starts it, retrying each step a few
// times: under the start's load a handshake may time out.
func (f *fleet) startOne(ctx context.Context, i int, tok JoinToken) error {
	seed := i % len(f.addrs)
	var col *Collector
	err := retry(ctx, 3, func() error {
		ectx, cancel := context.WithTimeout(ctx, f.callTimeout)
		defer cancel()
		c, err := Enroll(ectx, f.addrs[seed], f.ca, tok, fmt.Sprintf("g11-%d", i))
		col = c
		return err
	})
	if err != nil {
		return err
	}
	// Its own transport has not dialled yet; the simulated collector dials
	// through the fleet's shared sockets instead.
	_ = col.Close()
	s := &sim{f: f, id: col.ID, first: make(chan struct{}), last: -1,
		conns: make([]*quic.Conn, len(f.addrs)), busy: make([]int, len(f.addrs))}
	f.sims[i] = s
	s.h3 = &http3.Transport{TLSClientConfig: col.tls, QUICConfig: f.qconf, Dial: f.dialer(s, i)}
	hc := &http.Client{Transport: s.h3}
	for _, a := range f.addrs {
		s.clients = append(s.clients, licmeshv1connect.NewCollectorServiceClient(hc, "https://"+a,
			connect.WithReadMaxBytes(fleetMessageBytes), connect.WithSendMaxBytes(fleetMessageBytes)))
	}
	for k := range f.addrs {
		s.order = append(s.order, (seed+k)%len(f.addrs))
	}
	if err := retry(ctx, 3, func() error { return s.hello(ctx, true) }); err != nil {
		return err
	}
	for l := range f.cfg.LeasesEach {
		holder := fmt.Sprintf("g11-%d-%d", i, l)
		if err := retry(ctx, 3, func() error { return s.acquire(ctx, holder) }); err != nil {
			return err
		}
	}
	f.wg.Add(2)
	go s.watchLoop()
	go s.renewLoop()
	t := time.NewTimer(2 * f.callTimeout)
	defer t.Stop()
	select {
	case <-s.first:
		return nil
	case <-t.C:
		return fmt.Errorf("%w: no entitlement document within %v (last error: %s)", ErrMesh, 2*f.callTimeout, f.lastError())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dialer returns collector i's QUIC dial function, on one of the shared
// sockets; s remembers each master's connection.
func (f *fleet) dialer(s *sim, i int) func(context.Context, string, *tls.Config, *quic.Config) (*quic.Conn, error) {
	tr := f.socks[i%len(f.socks)]
	return func(ctx context.Context, addr string, tlsConf *tls.Config, qconf *quic.Config) (*quic.Conn, error) {
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return nil, err
		}
		c, err := tr.Dial(ctx, ua, tlsConf, qconf)
		if err != nil {
			return nil, err
		}
		f.conns.Add(1)
		context.AfterFunc(c.Context(), func() { f.conns.Add(-1) })
		if j := f.index(addr); j >= 0 {
			s.mu.Lock()
			s.conns[j] = c
			s.mu.Unlock()
		}
		return c, nil
	}
}

// begin and end bracket a call or stream to master i.
func (s *sim) begin(i int) {
	s.mu.Lock()
	s.busy[i]++
	s.mu.Unlock()
}

func (s *sim) end(i int) {
	s.mu.Lock()
	s.busy[i]--
	s.mu.Unlock()
}

// answered notes that master i answered; on a move to it, the connections
// to the other masters that carry nothing are closed, as collectord's
// transport does (transport.Client.CloseIdleExcept).
func (s *sim) answered(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == i {
		return
	}
	s.last = i
	s.closeIdleExceptLocked(i)
}

// closeIdleExceptLocked closes the connections to masters other than i
// that carry nothing; s.mu is held.
func (s *sim) closeIdleExceptLocked(i int) {
	for j, c := range s.conns {
		if j != i && c != nil && s.busy[j] == 0 {
			_ = c.CloseWithError(quic.ApplicationErrorCode(http3.ErrCodeNoError), "not in use")
			s.conns[j] = nil
		}
	}
}

// record starts recording renew call latencies, dropping earlier ones.
func (f *fleet) record() {
	f.latMu.Lock()
	f.lats = nil
	f.latMu.Unlock()
	f.recording.Store(true)
}

// recorded stops recording and returns what was recorded.
func (f *fleet) recorded() []time.Duration {
	f.recording.Store(false)
	f.latMu.Lock()
	defer f.latMu.Unlock()
	out := f.lats
	f.lats = nil
	return out
}

func (f *fleet) recordRenew(d time.Duration) {
	if !f.recording.Load() {
		return
	}
	f.latMu.Lock()
	f.lats = append(f.lats, d)
	f.latMu.Unlock()
}

// index returns the position of a master's collector address, or -1.
func (f *fleet) index(addr string) int {
	for i, a := range f.addrs {
		if a == addr {
			return i
		}
	}
	return -1
}

func (f *fleet) noteError(err error) {
	s := err.Error()
	f.lastErr.Store(&s)
}

func (f *fleet) lastError() string {
	if p := f.lastErr.Load(); p != nil {
		return *p
	}
	return "none"
}

// ttl returns the lease TTL the masters announced.
func (f *fleet) ttl() time.Duration {
	for _, s := range f.sims {
		if s != nil && s.ttl > 0 {
			return s.ttl
		}
	}
	return 0
}

// changed returns, for each collector, when its stream delivered the
// first document naming the watched license (zero for not yet).
func (f *fleet) changed() []time.Time {
	out := make([]time.Time, len(f.sims))
	for i, s := range f.sims {
		if s == nil {
			continue
		}
		if ns := s.changeAt.Load(); ns != 0 {
			out[i] = time.Unix(0, ns)
		}
	}
	return out
}

// openStreams returns the streams open by master.
func (f *fleet) openStreams() []int64 {
	out := make([]int64, len(f.streams))
	for i := range f.streams {
		out[i] = f.streams[i].Load()
	}
	return out
}

// stop ends every collector, closes their connections (telling each master
// goodbye) and the sockets.
func (f *fleet) stop() {
	f.cancel()
	waited := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		fmt.Fprintln(f.log, "G11: some simulated collectors did not stop within 30s")
	}
	for _, s := range f.sims {
		if s != nil && s.h3 != nil {
			_ = s.h3.Close()
		}
	}
	for _, tr := range f.socks {
		_ = tr.Close()
	}
}

// sim is one simulated collector.
type sim struct {
	f       *fleet
	id      string
	h3      *http3.Transport
	clients []licmeshv1connect.CollectorServiceClient // by master

	mu    sync.Mutex
	order []int // masters to try, preferred first
	// As collectord's transport does: the connection to each master, the
	// calls and streams in flight on it, and the master that last
	// answered, so that a move lets go of the connections left idle.
	conns []*quic.Conn
	busy  []int
	last  int

	// Set by the first hello, before the loops start.
	ttl time.Duration
	pub ed25519.PublicKey

	// Touched only by startOne, then by renewLoop.
	leases    []uint64
	tokenEnds []int64
	rs        *renewStream // the renewal stream, nil when none is open
	rsMaster  int          // the master rs goes to

	// Touched only by watchLoop.
	serial   uint64
	verified bool

	firstOnce sync.Once
	first     chan struct{} // closed at the first verified document
	changeAt  atomic.Int64  // unix ns of the first document naming the watched license
}

// call tries fn on each master in turn, preferred first, until one
// answers; like collectord it then prefers that master, or the leader the
// answer names.
func (s *sim) call(ctx context.Context, fn func(ctx context.Context, master int) (leader string, err error)) error {
	var errs []error
	for _, i := range s.snapshot() {
		cctx, cancel := context.WithTimeout(ctx, s.f.callTimeout)
		s.begin(i)
		leader, err := fn(cctx, i)
		s.end(i)
		cancel()
		if err == nil {
			s.answered(i)
			s.succeeded(i, leader)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs = append(errs, fmt.Errorf("%s: %w", s.f.addrs[i], err))
		s.failed(i)
	}
	err := errors.Join(errs...)
	s.f.noteError(err)
	return err
}

func (s *sim) snapshot() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.order...)
}

func (s *sim) preferred() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order[0]
}

// succeeded prefers master i, or the leader it named.
func (s *sim) succeeded(i int, leader string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prefer(i)
	if j := s.f.index(leader); j >= 0 {
		s.prefer(j)
	}
}

// failed moves past master i if it is the preferred one.
func (s *sim) failed(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.order[0] == i {
		s.order = append(s.order[1:], s.order[0])
	}
}

// prefer rotates the order to start at master i; s.mu is held.
func (s *sim) prefer(i int) {
	for k, j := range s.order {
		if j == i {
			s.order = append(s.order[k:], s.order[:k]...)
			return
		}
	}
}

// hello says hello; the first one learns the lease TTL and the cluster's
// signing key.
func (s *sim) hello(ctx context.Context, first bool) error {
	err := s.call(ctx, func(ctx context.Context, i int) (string, error) {
		r, err := s.clients[i].Hello(ctx, connect.NewRequest(&licmeshv1.HelloRequest{
			ProtocolVersion: wire.ProtocolVersion, Version: "bench", Held: uint32(len(s.leases)),
		}))
		if err != nil {
			return "", err
		}
		if first {
			if r.Msg.LeaseTtlMs <= 0 || len(r.Msg.SigningPublicKey) != ed25519.PublicKeySize {
				return "", fmt.Errorf("%w: hello without a lease TTL or signing key", ErrMesh)
			}
			s.ttl = time.Duration(r.Msg.LeaseTtlMs) * time.Millisecond
			s.pub = r.Msg.SigningPublicKey
		}
		return r.Msg.Leader, nil
	})
	s.f.counts.hellos.Add(1)
	if err != nil {
		s.f.counts.helloFailed.Add(1)
	}
	return err
}

// acquire takes a lease for holder from the fleet's pool.
func (s *sim) acquire(ctx context.Context, holder string) error {
	return s.call(ctx, func(ctx context.Context, i int) (string, error) {
		r, err := s.clients[i].Acquire(ctx, connect.NewRequest(&licmeshv1.AcquireRequest{Pool: s.f.pool, Holder: holder}))
		if err != nil {
			return "", err
		}
		l := r.Msg.Lease
		if l == nil || l.Id == 0 {
			return "", fmt.Errorf("%w: acquire for %s granted no lease", ErrMesh, holder)
		}
		s.leases = append(s.leases, l.Id)
		s.tokenEnds = append(s.tokenEnds, l.ExpiresAtMs)
		return "", nil
	})
}

// renew renews every lease in one call, telling the master when each held
// token ends so that it signs fresh ones only when they run short.
// renew renews the collector's leases in one call, and reports whether
// the master counted it as the collector's presence.
func (s *sim) renew(ctx context.Context) (presence bool, _ error) {
	var results []*licmeshv1.RenewResult
	start := time.Now()
	err := s.call(ctx, func(ctx context.Context, i int) (string, error) {
		r, err := s.renewOn(ctx, i, &licmeshv1.RenewRequest{LeaseIds: s.leases, TokenExpiresAtMs: s.tokenEnds, Version: "bench"})
		if err != nil {
			return "", err
		}
		if len(r.Results) != len(s.leases) {
			return "", fmt.Errorf("%w: renew %d leases got %d results", ErrMesh, len(s.leases), len(r.Results))
		}
		results, presence = r.Results, r.Presence
		return r.Leader, nil
	})
	c := &s.f.counts
	c.renewCalls.Add(1)
	if err != nil {
		c.renewFailed.Add(1)
		return false, err
	}
	s.f.recordRenew(time.Since(start))
	for k, res := range results {
		if !res.Ok || res.LeaseId != s.leases[k] {
			c.refused.Add(1)
			s.f.noteError(fmt.Errorf("%w: lease %d not renewed: %s", ErrMesh, res.LeaseId, res.Reason))
			continue
		}
		c.renewed.Add(1)
		if res.Token != "" {
			s.tokenEnds[k] = res.ExpiresAtMs
		}
	}
	return presence, nil
}

// renewOn renews on the sim's renewal stream to master i, as collectord
// does: the stream is opened at the first renewal there, kept while
// renewals get through, and closed on a failure or a move to another
// master, which also lets go of the connection it kept in use. It counts
// as a call in flight on its master while it is open.
func (s *sim) renewOn(ctx context.Context, i int, req *licmeshv1.RenewRequest) (*licmeshv1.RenewResponse, error) {
	if s.rs != nil && s.rsMaster != i {
		s.closeRenewStream()
		s.mu.Lock()
		s.closeIdleExceptLocked(i)
		s.mu.Unlock()
	}
	if s.rs == nil {
		s.begin(i)
		s.rs, s.rsMaster = openRenewStream(s.f.ctx, s.clients[i]), i
	}
	r, err := s.rs.renew(ctx, req)
	if err != nil {
		s.closeRenewStream()
	}
	return r, err
}

// closeRenewStream closes the renewal stream, if one is open.
func (s *sim) closeRenewStream() {
	if s.rs == nil {
		return
	}
	s.rs.close()
	s.end(s.rsMaster)
	s.rs = nil
}

// renewLoop renews every third of the TTL and says hello every
// HelloInterval, each with ±5% jitter, until the fleet stops. As collectord
// does, it leaves out a hello when a renewal the master counted as its
// presence got through within the interval, up to nine in a row.
func (s *sim) renewLoop() {
	defer s.f.wg.Done()
	defer s.closeRenewStream()
	ctx := s.f.ctx
	period := s.ttl / 3
	now := time.Now()
	nextRenew, nextHello := now.Add(jitter(period)), now.Add(jitter(s.f.cfg.HelloInterval))
	var seen time.Time // the last renewal that counted as presence
	skips := 0
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := nextRenew
		if nextHello.Before(next) {
			next = nextHello
		}
		t.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		switch {
		case now.Before(nextHello):
		case skips < 9 && !seen.IsZero() && now.Sub(seen) < s.f.cfg.HelloInterval:
			skips++
			nextHello = seen.Add(jitter(s.f.cfg.HelloInterval))
		default:
			skips = 0
			_ = s.hello(ctx, false)
			nextHello = now.Add(jitter(s.f.cfg.HelloInterval))
		}
		if !now.Before(nextRenew) {
			sent := time.Now()
			if presence, err := s.renew(ctx); err != nil {
				nextRenew = time.Now().Add(time.Second) // retry soon: the leases still run
			} else {
				nextRenew = sent.Add(jitter(period))
				if presence {
					seen = sent
				}
			}
		}
	}
}

// jitter returns d ± 5%.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.95 + 0.1*rand.Float64()))
}

// watchLoop keeps an entitlement stream open to the preferred master, as
// collectord does, until the fleet stops.
func (s *sim) watchLoop() {
	defer s.f.wg.Done()
	ctx := s.f.ctx
	for ctx.Err() == nil {
		i := s.preferred()
		n, err := s.watchOnce(ctx, i)
		if ctx.Err() != nil {
			return
		}
		if n == 0 {
			s.f.counts.streamFails.Add(1)
			if err != nil {
				s.f.noteError(fmt.Errorf("entitlement stream from %s: %w", s.f.addrs[i], err))
			}
			s.failed(i)
			_ = sleepCtx(ctx, time.Second)
		}
	}
}

// watchOnce runs one stream and returns how many documents it delivered.
func (s *sim) watchOnce(ctx context.Context, i int) (int, error) {
	s.begin(i)
	defer s.end(i)
	stream, err := s.clients[i].WatchEntitlements(ctx, connect.NewRequest(&licmeshv1.WatchEntitlementsRequest{HaveSerial: s.serial}))
	if err != nil {
		return 0, err
	}
	defer stream.Close()
	n := 0
	for stream.Receive() {
		if err := s.accept(stream.Msg().GetDocument()); err != nil {
			return n, err
		}
		if n == 0 {
			s.f.streams[i].Add(1)
		}
		n++
	}
	if n > 0 {
		s.f.streams[i].Add(-1)
	}
	return n, stream.Err()
}

// entDoc is what the fleet reads of an entitlement document.
type entDoc struct {
	CollectorID  string `json:"collector_id"`
	Serial       uint64 `json:"serial"`
	Entitlements []struct {
		License string `json:"license_id"`
	} `json:"entitlements"`
}

// accept reads a document: it must be addressed to this collector, and
// the first one's signature is checked against the cluster key as
// collectord checks every one (the fleet checks only the first, so that
// the check's CPU does not slow the change it times).
func (s *sim) accept(tok string) error {
	now := time.Now()
	payload, sig, err := splitEntDoc(tok)
	if err != nil {
		return err
	}
	if !s.verified {
		if !ed25519.Verify(s.pub, append([]byte(entSignContext), payload...), sig) {
			return fmt.Errorf("%w: entitlement document signature does not verify", ErrMesh)
		}
		s.verified = true
	}
	var d entDoc
	if err := json.Unmarshal(payload, &d); err != nil {
		return fmt.Errorf("%w: entitlement document: %w", ErrMesh, err)
	}
	if d.CollectorID != s.id {
		return fmt.Errorf("%w: entitlement document for %q sent to %q", ErrMesh, d.CollectorID, s.id)
	}
	s.serial = d.Serial
	s.f.counts.docs.Add(1)
	if s.changeAt.Load() == 0 {
		for _, e := range d.Entitlements {
			if e.License == s.f.watch {
				s.changeAt.Store(now.UnixNano())
				break
			}
		}
	}
	s.firstOnce.Do(func() { close(s.first) })
	return nil
}

// splitEntDoc returns a signed entitlement document's payload and
// signature.
func splitEntDoc(tok string) (payload, sig []byte, err error) {
	rest, ok := strings.CutPrefix(tok, entDocPrefix)
	p, sg, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return nil, nil, fmt.Errorf("%w: entitlement document is not lme1.<payload>.<sig>", ErrMesh)
	}
	if payload, err = base64.RawURLEncoding.DecodeString(p); err != nil {
		return nil, nil, fmt.Errorf("%w: entitlement document payload: %w", ErrMesh, err)
	}
	if sig, err = base64.RawURLEncoding.DecodeString(sg); err != nil {
		return nil, nil, fmt.Errorf("%w: entitlement document signature: %w", ErrMesh, err)
	}
	if !bytes.HasPrefix(payload, []byte("{")) {
		return nil, nil, fmt.Errorf("%w: entitlement document payload is not JSON", ErrMesh)
	}
	return payload, sig, nil
}

// retry calls fn up to n times, a second apart, until it succeeds.
func retry(ctx context.Context, n int, fn func() error) error {
	var err error
	for try := range n {
		if try > 0 {
			if e := sleepCtx(ctx, time.Second); e != nil {
				return errors.Join(err, e)
			}
		}
		if err = fn(); err == nil {
			return nil
		}
	}
	return err
}
