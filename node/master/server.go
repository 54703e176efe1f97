package master

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/licmesh/licmesh/licensing/clock"
	"github.com/licmesh/licmesh/licensing/lease"
	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/mesh/batch"
	"github.com/licmesh/licmesh/mesh/cluster"
	"github.com/licmesh/licmesh/mesh/confload"
	"github.com/licmesh/licmesh/mesh/selfupdate"
	"github.com/licmesh/licmesh/mesh/transport"
	"github.com/licmesh/licmesh/mesh/webhook"
	"github.com/licmesh/licmesh/node/fsm"
	"github.com/licmesh/licmesh/node/version"
)

// Server is one running master.
type Server struct {
	cfg   Config
	log   *slog.Logger
	clock clock.Clock // cfg.Clock, never nil; read it through now
	id    *identity
	cert  tls.Certificate

	vendorKeys license.Keyring
	// smtpPassword is read from smtp_password_file at start; webhookClient
	// posts alerts.
	smtpPassword  string
	webhookClient *http.Client

	fsm   *fsm.FSM
	node  *cluster.Node
	table *lease.Table
	m     *metrics

	leaderOps   *batch.Coalescer[fsm.LeaseOp, fsm.OpResult]
	followerOps *batch.Coalescer[fsm.LeaseOp, fsm.OpResult]
	leaderCheck *leaderCheck // confirms leadership before a renewal is answered
	peers       *peerClients

	apiLn    net.Listener
	colSrv   *transport.Server
	signer   atomic.Pointer[signer]
	presence *presence
	ents     *entWatch
	entCache entCache

	// leading is set once this master has taken up the leader's duties
	// (barrier passed, deadlines reset) and cleared when it steps down.
	// Renewals are answered only while it is set: a fresh leader's table
	// still holds the deadlines it saw as a follower.
	leading atomic.Bool

	leaderMu     sync.Mutex
	leaderCancel context.CancelFunc
	leaderDone   chan struct{}

	// sync is the leader's upstream loop state; syncNudge wakes the loop
	// (after an activation, or on demand).
	sync      syncState
	syncNudge chan struct{}

	// signins throttles password sign-ins per user name.
	signins *signinLimiter

	// updateNudge wakes the leader's update loop for a check now;
	// restartCh closes when the master must restart on a new release.
	updateNudge chan struct{}
	restartCh   chan struct{}
	// stopping ends when the master starts to stop: the long-lived
	// collector streams end then, rather than hold the shutdown. Run sets
	// it before the collector port serves.
	stopping context.Context
	// started is when Run began; caughtUpOnce is set once this master has
	// caught up with the cluster after it, and collectors are served.
	started       time.Time
	caughtUpOnce  atomic.Bool
	catchupTarget atomic.Uint64
	// addrCache holds collectorAddrs' last reading.
	addrCache atomic.Pointer[addrCache]
	// exe is this binary's path, resolved at start (before a swap).
	exe         string
	restartOnce sync.Once
}

// signer holds the cluster's lease-signing key once the state has it.
type signer struct {
	clusterID string
	priv      ed25519.PrivateKey
	pub       ed25519.PublicKey
}

// New prepares a master: it derives the cluster identity, opens the Raft
// stores and binds every port, so that a misconfiguration or a taken port is
// reported before Run. Nothing is served until Run.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System{}
		if off := cfg.ClockOffset; off != 0 {
			cfg.Clock = clock.Offset(off)
		}
		if cfg.ClockFile != "" {
			cfg.Clock = &clock.FileOffset{Path: cfg.ClockFile}
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	secret, _ := DecodeClusterSecret(cfg.ClusterSecret)
	id, err := deriveIdentity(secret)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("master: data dir: %w", err)
	}
	s := &Server{
		syncNudge: make(chan struct{}, 1), updateNudge: make(chan struct{}, 1), restartCh: make(chan struct{}),
		cfg:     cfg,
		log:     cfg.Logger.With("node_id", cfg.NodeID),
		clock:   cfg.Clock,
		id:      id,
		fsm:     fsm.New(),
		table:   lease.NewTable(cfg.Clock),
		signins: newSigninLimiter(),
	}
	s.vendorKeys, _ = license.ParseKeyring(cfg.VendorKeys...) // checked by Validate
	if cfg.SMTPPasswordFile != "" {
		b, err := confload.ReadFile(cfg.SMTPPasswordFile, 4<<10)
		if err != nil {
			return nil, fmt.Errorf("config: smtp_password_file: %w", err)
		}
		s.smtpPassword = strings.TrimRight(string(b), "\r\n")
	}
	s.webhookClient = webhook.NewClient(deliveryTimeout)
	s.m = newMetrics(s)
	s.presence = newPresence()
	s.ents = newEntWatch()
	s.stopping = context.Background() // until Run
	s.fsm.SetObserver(tableObserver{s})

	host := cfg.AdvertiseHost
	if host == "" {
		host, _, _ = net.SplitHostPort(cfg.APIAddr)
	}
	hosts := []string{host}
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	s.cert, err = id.ca.IssueNode(cfg.NodeID, dedupe(hosts), 10*365*24*time.Hour, cfg.Clock.Now())
	if err != nil {
		return nil, fmt.Errorf("master: node certificate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "ca.pem"), id.ca.CertPEM(), 0o644); err != nil {
		return nil, fmt.Errorf("master: write ca.pem: %w", err)
	}

	s.apiLn, err = net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return nil, fmt.Errorf("master: api_addr: %w", err)
	}
	s.peers = newPeerClients(s)
	s.colSrv, err = transport.NewServer(transport.ServerConfig{
		Addr:        cfg.CollectorAddr,
		TLS:         s.serverTLS(),
		Handler:     s.collectorMux(),
		Logger:      s.log,
		DisableQUIC: cfg.DisableQUIC,
		// Per master and stable across its restarts, so a master back from
		// a crash resets its collectors' old QUIC connections at once.
		StatelessResetKey: deriveKey(secret, "quic stateless reset key "+cfg.NodeID, 32),
	})
	if err != nil {
		s.apiLn.Close()
		return nil, fmt.Errorf("master: collector_addr: %w", err)
	}

	ccfg := cluster.DefaultConfig()
	ccfg.NodeID = cluster.NodeID(cfg.NodeID)
	ccfg.DataDir = filepath.Join(cfg.DataDir, "raft")
	ccfg.RaftAddr = cfg.RaftAddr
	ccfg.GossipAddr = cfg.GossipAddr
	if cfg.AdvertiseHost != "" {
		ccfg.RaftAdvertise = withHost(cfg.RaftAddr, cfg.AdvertiseHost)
		ccfg.GossipAdvertise = withHost(cfg.GossipAddr, cfg.AdvertiseHost)
	}
	ccfg.GossipKey = id.gossipKey
	ccfg.BootstrapExpect = cfg.BootstrapExpect
	ccfg.Join = cfg.Join
	ccfg.ServerTLS = s.raftServerTLS()
	ccfg.ClientTLS = s.raftClientTLS()
	ccfg.Meta = map[string]string{
		metaAPI:       advertised(s.apiLn.Addr().String(), cfg.AdvertiseHost),
		metaCollector: advertised(s.colSrv.Addr(), cfg.AdvertiseHost),
		metaVersion:   version.Version,
		metaFSM:       strconv.Itoa(int(fsm.MaxMsgType)),
	}
	ccfg.HeartbeatTimeout = cfg.HeartbeatTimeout
	ccfg.ElectionTimeout = cfg.ElectionTimeout
	ccfg.LeaderLeaseTimeout = cfg.HeartbeatTimeout / 2
	ccfg.FSM = s.fsm
	ccfg.Logger = cfg.Logger
	if err := os.MkdirAll(ccfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("master: raft dir: %w", err)
	}
	s.node, err = cluster.New(ccfg)
	if err != nil {
		s.apiLn.Close()
		s.colSrv.Close()
		return nil, err
	}
	// Two flush slots: one batch in Raft while the next one fills. More
	// slots send more, smaller entries (each costs an fsync and an apply on
	// every master); fewer leave Raft's pipeline idle.
	s.leaderOps = batch.New(maxLeaseBatch, 2, s.applyLeaseOps)
	s.followerOps = batch.New(maxLeaseBatch, 2, s.forwardLeaseOps)
	// A barrier, not raft's VerifyLeader: VerifyLeader also counts replies
	// to heartbeats already in flight when it began, which after a pause may
	// predate a newer leader's election. A barrier commits only once a
	// quorum has stored an entry made after the renewals arrived.
	s.leaderCheck = newLeaderCheck(func() error {
		s.m.leaderChecks.Inc()
		return s.node.Raft().Barrier(0).Error()
	}, confirmSpacing, confirmLull, confirmFullRound)
	return s, nil
}

// maxLeaseBatch bounds the lease operations in one Raft entry.
const maxLeaseBatch = 4096

// confirmSpacing is the least time between two confirmations of leadership
// that follow each other. A confirmation is a Raft entry, which costs
// milliseconds of CPU over the cluster whatever it confirms: under load,
// spacing them lets each carry more renewals, for a few milliseconds' wait
// that a renewal sent a third of a TTL ahead does not notice. It only
// governs rounds of confirmFullRound calls or more (the lull below keeps
// smaller ones waiting longer), so each of those costs a call at most a
// 64th of an entry; a collector that waits for its answer before it renews
// again is held to the rounds' pace, which at 20 ms capped G3 at about
// 200k renewals a second, and at 10 ms does not (about 300k, bound by CPU).
const confirmSpacing = 10 * time.Millisecond

// confirmLull and confirmFullRound let a confirmation that only renewals
// wait for gather them: while fewer than confirmFullRound calls wait, it
// waits up to confirmLull from the last one's start. A fleet of 10,000
// idle collectors renews about 1,000 times a second, which with the 20 ms
// spacing alone was 50 Raft entries a second of a dozen renewals each;
// with the lull it is about 16 of 64.
const (
	confirmLull      = 100 * time.Millisecond
	confirmFullRound = 64
)

// Memberlist meta keys.
const (
	metaAPI       = "api"
	metaCollector = "col"
	metaVersion   = "ver"
	// metaFSM is the highest FSM message type the master applies.
	metaFSM = "fsm"
)

// now reads the master's clock.
func (s *Server) now() time.Time { return s.clock.Now() }

// APIAddr is the address the HTTPS API listens on.
func (s *Server) APIAddr() string { return s.apiLn.Addr().String() }

// CollectorAddr is the address of the collector protocol (UDP and TCP).
func (s *Server) CollectorAddr() string { return s.colSrv.Addr() }

// CACertPEM is the cluster CA certificate, for clients of the API.
func (s *Server) CACertPEM() []byte { return s.id.ca.CertPEM() }

// ClusterID is the cluster's identifier, derived from its secret.
func (s *Server) ClusterID() string { return s.id.clusterID }

// Ready reports whether a leader is known and the identity bootstrapped.
func (s *Server) Ready() bool {
	if id, _ := s.node.Leader(); id == "" {
		return false
	}
	_, ok := s.fsm.Cluster()
	return ok
}

// Run serves until ctx ends. With leave set (SIGTERM and
// leave_on_terminate), the master first leaves the cluster gracefully.
func (s *Server) Run(ctx context.Context, leave func() bool) error {
	api := &http.Server{
		Handler:           s.apiMux(),
		TLSConfig:         s.serverTLS(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if exe, err := selfupdate.Executable(); err == nil {
		s.exe = exe
	}
	s.started = time.Now()
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	s.stopping = gctx
	g.Go(func() error {
		err := api.ServeTLS(s.apiLn, "", "")
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("master: api: %w", err)
	})
	g.Go(func() error { return s.colSrv.Run(gctx) })
	g.Go(func() error { return s.leaderOps.Run(gctx) })
	g.Go(func() error { return s.followerOps.Run(gctx) })
	g.Go(func() error { return s.watchLeadership(gctx) })
	g.Go(func() error { s.presence.run(gctx, s); return nil })
	g.Go(func() error { s.ents.run(gctx, s.fsm); return nil })
	g.Go(func() error { s.artifactLoop(gctx); return nil })
	g.Go(func() error { s.catchupLoop(gctx); return nil })
	g.Go(func() error { s.updateTrial(gctx); return nil })
	s.log.Info("master started", "api_addr", s.APIAddr(), "collector_addr", s.CollectorAddr(),
		"raft_addr", s.cfg.RaftAddr, "gossip_addr", s.cfg.GossipAddr, "cluster_id", s.id.clusterID,
		"version", version.Version)

	restarting := false
	select {
	case <-ctx.Done():
	case <-gctx.Done():
	case <-s.restartCh:
		restarting = true
	}
	leaving := !restarting && leave != nil && leave()
	if !leaving {
		// Stopping without leaving: what Raft says as peers vanish now is
		// noise. A graceful leave keeps its logs, since it can fail.
		s.node.Quiet()
	}
	if leaving {
		lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.node.Leave(lctx); err != nil {
			s.log.Warn("graceful leave failed", "err", err)
		} else {
			s.log.Info("left the cluster")
		}
		cancel()
	}
	s.stopLeading()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = api.Shutdown(shutCtx)
	cancel()
	stop()
	err := g.Wait()
	if cerr := s.node.Shutdown(); cerr != nil && err == nil {
		err = cerr
	}
	s.peers.close()
	if restarting && err == nil {
		return ErrRestart
	}
	return err
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func withHost(addr, host string) string {
	_, port, _ := net.SplitHostPort(addr)
	return net.JoinHostPort(host, port)
}

// advertised turns a bound address into one others can dial: the advertise
// host if set, else the bound host (0.0.0.0 is useless to a peer).
func advertised(bound, host string) string {
	h, port, _ := net.SplitHostPort(bound)
	if host != "" {
		h = host
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
		h = "127.0.0.1"
	}
	return net.JoinHostPort(h, port)
}
