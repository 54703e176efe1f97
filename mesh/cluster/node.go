package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

const (
	// logCacheSize is how many recent log entries stay in memory in front of
	// bolt, so replication to followers rarely reads from disk.
	logCacheSize = 512
	// snapshotsRetained is how many snapshots stay on disk.
	snapshotsRetained = 3
	// transportMaxPool is the number of idle connections kept per peer.
	transportMaxPool = 3
	// boltLockTimeout turns a second process on the same DataDir into an error
	// instead of a hang.
	boltLockTimeout = time.Second
	// pollInterval paces the loops that wait on Raft state, which has no
	// change notification.
	pollInterval = 50 * time.Millisecond
)

// Node is one master: a Raft server plus its memberlist agent.
type Node struct {
	cfg     Config
	id      NodeID
	log     *slog.Logger
	members *memberTable

	store  *raftboltdb.BoltStore
	stream *tlsStreamLayer
	trans  *raft.NetworkTransport
	raft   *raft.Raft
	gossip *memberlist.Memberlist

	// raftLog and gossipLog are kept to silence them in Quiet.
	raftLog, gossipLog *hclogAdapter

	raftAddr   string // advertised
	gossipAddr string // advertised

	hasState atomic.Bool   // published in meta; see MetaKeyRaftState
	notifyCh chan bool     // raft's leadership notifications
	kick     chan struct{} // wakes the reconcile loop
	removed  chan struct{} // closed when a leader says we were removed
	rmOnce   sync.Once
	joined   chan struct{} // closed once gossip joined someone (or nobody to join)
	jOnce    sync.Once

	ctx    context.Context // ends at Shutdown; owns the background goroutines
	cancel context.CancelFunc
	wg     sync.WaitGroup

	gossipMu   sync.Mutex // guards gossipDown and gossipLeft
	gossipDown bool       // memberlist panics on Leave after Shutdown
	gossipLeft bool

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// New opens the stores in cfg.DataDir, starts Raft and memberlist, and starts
// the background work: joining cfg.Join, bootstrapping when BootstrapExpect
// masters are present, and reconciling membership while leader. It returns
// as soon as everything listens; use WaitLeader to wait for a leader.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("node_id", string(cfg.NodeID))
	// The node reads these for its whole life: keep the caller's later
	// changes out.
	cfg.Meta = maps.Clone(cfg.Meta)
	cfg.Join = slices.Clone(cfg.Join)
	cfg.GossipKey = slices.Clone(cfg.GossipKey)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: create data dir: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		cfg:      cfg,
		id:       cfg.NodeID,
		log:      logger,
		notifyCh: make(chan bool, 8),
		kick:     make(chan struct{}, 1),
		removed:  make(chan struct{}),
		joined:   make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
	}
	n.members = newMemberTable(func(id NodeID, err error) {
		n.log.Warn("cluster: ignoring member with unreadable meta", "member", string(id), "error", err)
	})
	if err := n.open(); err != nil {
		_ = n.Shutdown()
		return nil, err
	}

	if len(cfg.Join) == 0 {
		n.markJoined()
	}
	n.goRun(n.watchLeadership)
	n.goRun(n.runReconcile)
	n.goRun(n.runBootstrap)
	n.goRun(n.rememberPeers)
	join := cfg.Join
	if n.hasState.Load() {
		// A restart: the peers last seen alive too, so that a member
		// started with no join list finds the cluster again at once.
		for _, a := range rememberedPeers(cfg.DataDir) {
			if !slices.Contains(join, a) {
				join = append(slices.Clip(join), a)
			}
		}
	}
	if len(join) > 0 {
		n.goRun(func(ctx context.Context) {
			if err := n.Join(ctx, join); err != nil && ctx.Err() == nil {
				n.log.Error("cluster: join", "error", err)
			}
		})
	}
	return n, nil
}

// open creates the stores, Raft and memberlist; on error closeAll undoes it.
func (n *Node) open() error {
	cfg := n.cfg
	raftLog := newHclogAdapter(n.log, "raft", cfg.RaftLogLevel)
	n.raftLog = raftLog

	boltOpts := *bbolt.DefaultOptions
	boltOpts.Timeout = boltLockTimeout
	path := filepath.Join(cfg.DataDir, "raft.db")
	store, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &boltOpts})
	if err != nil {
		return fmt.Errorf("cluster: open raft store %s: %w", path, err)
	}
	n.store = store
	logs, err := raft.NewLogCache(logCacheSize, store)
	if err != nil {
		return fmt.Errorf("cluster: log cache: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, snapshotsRetained, raftLog.Named("snapshot"))
	if err != nil {
		return fmt.Errorf("cluster: open snapshot store: %w", err)
	}
	hasState, err := raft.HasExistingState(logs, store, snaps)
	if err != nil {
		return fmt.Errorf("cluster: read raft state: %w", err)
	}
	n.hasState.Store(hasState)

	n.stream, err = newTLSStreamLayer(cfg.RaftAddr, cfg.RaftAdvertise, cfg.ServerTLS, cfg.ClientTLS, cfg.RaftTimeout)
	if err != nil {
		return err
	}
	n.raftAddr = n.stream.Addr().String()
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  n.stream,
		MaxPool: transportMaxPool,
		Timeout: cfg.RaftTimeout,
		Logger:  raftLog.Named("transport"),
	})

	meta := encodeMeta(fullMeta(cfg.Meta, n.raftAddr, cfg.BootstrapExpect, true))
	if len(meta) > memberlist.MetaMaxSize {
		return fmt.Errorf("%w: meta: encodes to %d bytes with raft_addr %q, memberlist allows %d",
			ErrInvalidConfig, len(meta), n.raftAddr, memberlist.MetaMaxSize)
	}

	rc := cfg.raftConfig()
	rc.Logger = raftLog
	rc.NotifyCh = n.notifyCh
	n.raft, err = raft.NewRaft(rc, cfg.FSM, logs, store, snaps, n.trans)
	if err != nil {
		return fmt.Errorf("cluster: start raft: %w", err)
	}

	mc, err := n.gossipConfig()
	if err != nil {
		return err
	}
	n.gossip, err = memberlist.Create(mc)
	if err != nil {
		return fmt.Errorf("cluster: start memberlist on %s: %w", cfg.GossipAddr, err)
	}
	// Read once, right after Create: later reads of LocalNode would race
	// with memberlist's own updates.
	n.gossipAddr = n.gossip.LocalNode().Address()
	n.log.Info("cluster: node started", "raft_addr", n.raftAddr, "gossip_addr", n.gossipAddr,
		"bootstrap_expect", cfg.BootstrapExpect, "has_state", hasState)
	return nil
}

func (n *Node) gossipConfig() (*memberlist.Config, error) {
	cfg := n.cfg
	mc := memberlist.DefaultLANConfig()
	mc.Name = string(cfg.NodeID)
	host, port, _ := splitAddr(cfg.GossipAddr, true)
	if host == "" {
		host = "0.0.0.0"
	}
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertiseAddr, mc.AdvertisePort = "", port
	if cfg.GossipAdvertise != "" {
		ahost, aport, _ := splitAddr(cfg.GossipAdvertise, false)
		mc.AdvertiseAddr, mc.AdvertisePort = ahost, aport
	}
	mc.SecretKey = append([]byte(nil), cfg.GossipKey...)
	mc.GossipVerifyIncoming = true
	mc.GossipVerifyOutgoing = true
	mc.Events = n.members
	mc.Delegate = gossipDelegate{meta: n.localMeta, members: n.members, onRemoved: n.onRemoved}
	mc.LogOutput = nil
	n.gossipLog = newHclogAdapter(n.log, "memberlist", cfg.GossipLogLevel)
	mc.Logger = newGossipLogger(n.gossipLog)
	if cfg.tuneGossip != nil {
		cfg.tuneGossip(mc)
	}
	return mc, nil
}

// localMeta is what memberlist publishes for this node.
func (n *Node) localMeta() []byte {
	return encodeMeta(fullMeta(n.cfg.Meta, n.raftAddr, n.cfg.BootstrapExpect, n.hasState.Load()))
}

func (n *Node) markJoined() { n.jOnce.Do(func() { close(n.joined) }) }

// onRemoved runs in memberlist's receive path: it must not block.
func (n *Node) onRemoved(id NodeID) {
	if id == n.id {
		n.rmOnce.Do(func() { close(n.removed) })
	}
}

// goRun starts fn as a goroutine owned by the node; Shutdown cancels its
// context and waits for it.
func (n *Node) goRun(fn func(ctx context.Context)) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		fn(n.ctx)
	}()
}

// Quiet silences Raft's and memberlist's own logs from now on. A master that
// is stopping calls it first: what they say while peers go away (failed
// heartbeats, refused connections) is expected then, and only noise.
func (n *Node) Quiet() {
	for _, a := range []*hclogAdapter{n.raftLog, n.gossipLog} {
		if a != nil {
			a.SetLevel(hclog.Off)
		}
	}
}

// Shutdown stops the node without leaving: peers see it fail, as after a
// kill, and it stays in the Raft configuration. It is idempotent; concurrent
// callers all wait for the first to finish.
func (n *Node) Shutdown() error {
	n.closeOnce.Do(func() { n.closeErr = n.closeAll() })
	return n.closeErr
}

// closeAll stops memberlist first (no more events), then Raft (which resolves
// every pending future, unblocking the goroutines), then waits for the
// goroutines before closing the store they may still read.
func (n *Node) closeAll() error {
	n.closed.Store(true)
	n.cancel()
	var errs []error
	if err := n.stopGossip(); err != nil {
		errs = append(errs, err)
	}
	if n.raft != nil {
		if err := n.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("cluster: stop raft: %w", err))
		}
	}
	if n.trans != nil {
		if err := n.trans.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cluster: close raft transport: %w", err))
		}
	} else if n.stream != nil {
		_ = n.stream.Close()
	}
	n.wg.Wait()
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cluster: close raft store: %w", err))
		}
	}
	return errors.Join(errs...)
}

// stopGossip shuts memberlist down once.
func (n *Node) stopGossip() error {
	n.gossipMu.Lock()
	defer n.gossipMu.Unlock()
	if n.gossip == nil || n.gossipDown {
		return nil
	}
	n.gossipDown = true
	if err := n.gossip.Shutdown(); err != nil {
		return fmt.Errorf("cluster: stop memberlist: %w", err)
	}
	return nil
}

func (n *Node) gossipRunning() bool {
	n.gossipMu.Lock()
	defer n.gossipMu.Unlock()
	return n.gossip != nil && !n.gossipDown
}

// Terminate stops the node as the config asks: Leave when LeaveOnTerminate is
// set, Shutdown otherwise.
func (n *Node) Terminate(ctx context.Context) error {
	if n.cfg.LeaveOnTerminate {
		return n.Leave(ctx)
	}
	return n.Shutdown()
}

// Join contacts the gossip members at addrs (host:port), retrying with backoff
// until one answers or ctx ends.
func (n *Node) Join(ctx context.Context, addrs []string) error {
	if len(addrs) == 0 {
		return fmt.Errorf("%w: no addresses", ErrJoin)
	}
	const maxBackoff = 5 * time.Second
	backoff := 100 * time.Millisecond
	for {
		if n.closed.Load() || !n.gossipRunning() {
			return ErrShutdown
		}
		contacted, err := n.gossip.Join(addrs)
		if err == nil && contacted > 0 {
			n.log.Info("cluster: joined gossip", "contacted", contacted)
			n.markJoined()
			return nil
		}
		if err == nil {
			err = errors.New("no member answered")
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: %v: %w", ErrJoin, err, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// ID returns this node's ID.
func (n *Node) ID() NodeID { return n.id }

// RaftAddr returns the Raft address this node advertises.
func (n *Node) RaftAddr() string { return n.raftAddr }

// GossipAddr returns the gossip address this node advertises (useful when
// GossipAddr bound port 0).
func (n *Node) GossipAddr() string { return n.gossipAddr }

// Raft returns the underlying Raft instance, for reads such as Barrier or
// VerifyLeader. Membership must go through Node.
func (n *Node) Raft() *raft.Raft { return n.raft }

// IsLeader reports whether this node is the Raft leader right now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the current leader's ID and Raft address, empty if unknown.
func (n *Node) Leader() (NodeID, string) {
	addr, id := n.raft.LeaderWithID()
	return NodeID(id), string(addr)
}

// LeaderMeta returns the leader's Config.Meta as published in memberlist (for
// example its API address), or nil if the leader or its entry is unknown.
func (n *Node) LeaderMeta() map[string]string {
	id, _ := n.Leader()
	if id == "" {
		return nil
	}
	e, ok := n.members.get(id)
	if !ok {
		return nil
	}
	return e.userMeta()
}

// LeaderCh is raft's LeaderCh: true when this node becomes leader, false when
// it stops being leader. It keeps only the latest value, and is meant for a
// single consumer.
func (n *Node) LeaderCh() <-chan bool { return n.raft.LeaderCh() }

// WaitLeader blocks until some node is known as leader and returns its ID.
func (n *Node) WaitLeader(ctx context.Context) (NodeID, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		if id, _ := n.Leader(); id != "" {
			return id, nil
		}
		if n.closed.Load() {
			return "", ErrShutdown
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("cluster: wait for leader: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// Stats returns raft.Stats.
func (n *Node) Stats() map[string]string { return n.raft.Stats() }

// Members lists every master this node knows of, from memberlist (including
// dead and left ones) and from the Raft configuration, sorted by ID.
func (n *Node) Members() []Member {
	servers := map[NodeID]raft.Server{}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			servers[NodeID(s.ID)] = s
		}
	}
	leader, _ := n.Leader()
	var out []Member
	for _, e := range n.members.snapshot() {
		if !e.isMaster() {
			continue
		}
		s, inRaft := servers[e.id]
		delete(servers, e.id)
		out = append(out, Member{
			ID:         e.id,
			GossipAddr: e.gossipAddr,
			RaftAddr:   e.raftAddr(),
			Meta:       e.userMeta(),
			State:      e.state,
			Voter:      inRaft && s.Suffrage == raft.Voter,
			Leader:     e.id == leader,
		})
	}
	for id, s := range servers {
		out = append(out, Member{
			ID:       id,
			RaftAddr: string(s.Address),
			Meta:     map[string]string{},
			State:    StateUnknown,
			Voter:    s.Suffrage == raft.Voter,
			Leader:   id == leader,
		})
	}
	sortMembers(out)
	return out
}
