package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// RawRaftConfig configures a RawRaftCluster. The defaults mirror what a
// production master runs with, minus TLS, so the cluster is a fair floor.
type RawRaftConfig struct {
	// Nodes is the number of voters, all bootstrapped together.
	Nodes int
	// Dir is the parent of the cluster's own temp dir; empty means the OS
	// temp dir. The cluster's dir is removed on Close.
	Dir string
	// HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout and CommitTimeout
	// go to raft.Config unchanged.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// LogCacheSize is the number of recent entries raft.NewLogCache keeps in
	// memory in front of each bolt log store.
	LogCacheSize int
	// MaxPool is the number of pooled TCP connections per peer.
	MaxPool int
	// TransportTimeout is the I/O deadline of the network transport.
	TransportTimeout time.Duration
	// StartTimeout bounds bootstrap plus the first election.
	StartTimeout time.Duration
	// Logger receives raft's logs; nil discards them so they never mix with
	// the table.
	Logger hclog.Logger
}

// DefaultRawRaftConfig returns production-like timeouts for three nodes.
func DefaultRawRaftConfig() RawRaftConfig {
	rc := raft.DefaultConfig()
	return RawRaftConfig{
		Nodes:              3,
		HeartbeatTimeout:   time.Second,
		ElectionTimeout:    time.Second,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      rc.CommitTimeout,
		LogCacheSize:       512,
		MaxPool:            3,
		TransportTimeout:   10 * time.Second,
		StartTimeout:       30 * time.Second,
	}
}

// Validate reports the first field that is out of range.
func (c RawRaftConfig) Validate() error {
	switch {
	case c.Nodes < 1:
		return fmt.Errorf("%w: raft nodes %d must be at least 1", ErrInvalidConfig, c.Nodes)
	case c.HeartbeatTimeout < 5*time.Millisecond:
		return fmt.Errorf("%w: raft heartbeat timeout %v must be at least 5ms", ErrInvalidConfig, c.HeartbeatTimeout)
	case c.ElectionTimeout < c.HeartbeatTimeout:
		return fmt.Errorf("%w: raft election timeout %v must be at least the heartbeat timeout %v",
			ErrInvalidConfig, c.ElectionTimeout, c.HeartbeatTimeout)
	case c.LeaderLeaseTimeout < 5*time.Millisecond || c.LeaderLeaseTimeout > c.HeartbeatTimeout:
		return fmt.Errorf("%w: raft leader lease timeout %v must be between 5ms and the heartbeat timeout %v",
			ErrInvalidConfig, c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	case c.CommitTimeout < time.Millisecond:
		return fmt.Errorf("%w: raft commit timeout %v must be at least 1ms", ErrInvalidConfig, c.CommitTimeout)
	case c.LogCacheSize < 1:
		return fmt.Errorf("%w: raft log cache size %d must be at least 1", ErrInvalidConfig, c.LogCacheSize)
	case c.MaxPool < 1:
		return fmt.Errorf("%w: raft max pool %d must be at least 1", ErrInvalidConfig, c.MaxPool)
	case c.TransportTimeout <= 0:
		return fmt.Errorf("%w: raft transport timeout %v must be positive", ErrInvalidConfig, c.TransportTimeout)
	case c.StartTimeout <= 0:
		return fmt.Errorf("%w: raft start timeout %v must be positive", ErrInvalidConfig, c.StartTimeout)
	}
	return nil
}

// RawRaftCluster is a hashicorp/raft cluster on loopback with nothing of the
// project in it: bolt stores behind a log cache, file snapshots, plain TCP
// transport and a no-op FSM. It is the baseline every Raft-backed benchmark
// divides by. Its methods are safe for concurrent use.
type RawRaftCluster struct {
	dir    string
	nodes  []*rawNode
	logger hclog.Logger

	closeOnce sync.Once
	closeErr  error
}

// rawNode is one member and the resources Close must release.
type rawNode struct {
	id    raft.ServerID
	addr  raft.ServerAddress
	raft  *raft.Raft
	trans *raft.NetworkTransport
	store *raftboltdb.BoltStore
}

// NewRawRaftCluster starts cfg.Nodes voters, bootstraps them all with the
// same configuration and returns once a leader has committed a barrier.
// The caller must Close the cluster.
func NewRawRaftCluster(ctx context.Context, cfg RawRaftConfig) (*RawRaftCluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(cfg.Dir, "rawraft-")
	if err != nil {
		return nil, fmt.Errorf("bench: raft temp dir: %w", err)
	}
	c := &RawRaftCluster{dir: dir}
	if err := c.start(ctx, cfg); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

func (c *RawRaftCluster) start(ctx context.Context, cfg RawRaftConfig) error {
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Output: io.Discard, Level: hclog.Off})
	}
	// Transports first: bootstrapping needs every member's address.
	for i := range cfg.Nodes {
		trans, err := raft.NewTCPTransportWithConfig("127.0.0.1:0", nil, &raft.NetworkTransportConfig{
			MaxPool: cfg.MaxPool,
			Timeout: cfg.TransportTimeout,
			Logger:  logger,
		})
		if err != nil {
			return fmt.Errorf("bench: raft transport: %w", err)
		}
		c.nodes = append(c.nodes, &rawNode{
			id:    raft.ServerID("node-" + strconv.Itoa(i)),
			addr:  trans.LocalAddr(),
			trans: trans,
		})
	}
	var servers raft.Configuration
	for _, n := range c.nodes {
		servers.Servers = append(servers.Servers, raft.Server{Suffrage: raft.Voter, ID: n.id, Address: n.addr})
	}
	c.logger = logger
	for _, n := range c.nodes {
		if err := n.open(c.dir, cfg, logger, &servers); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	leader, err := c.Leader(ctx)
	if err != nil {
		return err
	}
	if err := leader.Barrier(cfg.StartTimeout).Error(); err != nil {
		return fmt.Errorf("%w: first barrier: %w", ErrNoLeader, err)
	}
	return nil
}

// open creates the node's stores and raft instance, and bootstraps it with
// servers when given (a node restarted on its data is not bootstrapped).
func (n *rawNode) open(dir string, cfg RawRaftConfig, logger hclog.Logger, servers *raft.Configuration) error {
	nodeDir := filepath.Join(dir, string(n.id))
	if err := os.MkdirAll(nodeDir, 0o700); err != nil {
		return fmt.Errorf("bench: raft node dir: %w", err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(nodeDir, "raft.db")})
	if err != nil {
		return fmt.Errorf("bench: open bolt store: %w", err)
	}
	n.store = store
	logs, err := raft.NewLogCache(cfg.LogCacheSize, store)
	if err != nil {
		return fmt.Errorf("bench: raft log cache: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(nodeDir, 2, logger)
	if err != nil {
		return fmt.Errorf("bench: raft snapshot store: %w", err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = n.id
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.Logger = logger
	r, err := raft.NewRaft(rc, noopFSM{}, logs, store, snaps, n.trans)
	if err != nil {
		return fmt.Errorf("bench: new raft %s: %w", n.id, err)
	}
	n.raft = r
	if servers == nil {
		return nil
	}
	if err := r.BootstrapCluster(*servers).Error(); err != nil {
		return fmt.Errorf("bench: bootstrap %s: %w", n.id, err)
	}
	return nil
}

// LeaderIndex waits until some node is leader and returns its index.
func (c *RawRaftCluster) LeaderIndex(ctx context.Context) (int, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		for i, n := range c.nodes {
			if n.raft != nil && n.raft.State() == raft.Leader {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		case <-tick.C:
		}
	}
}

// Kill stops node i without a word to its peers, as kill -9 looks to them:
// its raft stops, its transport's connections close, its stores close.
func (c *RawRaftCluster) Kill(i int) error {
	n := c.nodes[i]
	if n.raft == nil {
		return nil
	}
	err := n.raft.Shutdown().Error() // also closes the transport
	err = errors.Join(err, n.store.Close())
	n.raft, n.store = nil, nil
	return err
}

// Restart reopens a killed node on its data and its address.
func (c *RawRaftCluster) Restart(i int, cfg RawRaftConfig) error {
	n := c.nodes[i]
	trans, err := raft.NewTCPTransportWithConfig(string(n.addr), nil, &raft.NetworkTransportConfig{
		MaxPool: cfg.MaxPool,
		Timeout: cfg.TransportTimeout,
		Logger:  c.logger,
	})
	if err != nil {
		return fmt.Errorf("bench: raft transport of %s again: %w", n.id, err)
	}
	n.trans = trans
	return n.open(c.dir, cfg, c.logger, nil)
}

// Leader waits until some node is leader and returns it. A leader found here
// may lose leadership at any time; callers that must not fail on that should
// retry.
func (c *RawRaftCluster) Leader(ctx context.Context) (*raft.Raft, error) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, n := range c.nodes {
			if n.raft != nil && n.raft.State() == raft.Leader {
				return n.raft, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		case <-tick.C:
		}
	}
}

// Nodes returns the members' raft instances in ID order.
func (c *RawRaftCluster) Nodes() []*raft.Raft {
	out := make([]*raft.Raft, 0, len(c.nodes))
	for _, n := range c.nodes {
		out = append(out, n.raft)
	}
	return out
}

// Dir returns the directory holding the members' bolt files and snapshots.
func (c *RawRaftCluster) Dir() string { return c.dir }

// Close shuts every member down, closes its stores and removes the cluster's
// directory. It is safe to call more than once.
func (c *RawRaftCluster) Close() error {
	c.closeOnce.Do(func() {
		var errs []error
		for _, n := range c.nodes {
			if n.raft != nil {
				// Shutdown's future also closes the transport.
				errs = append(errs, n.raft.Shutdown().Error())
			} else {
				errs = append(errs, n.trans.Close())
			}
		}
		for _, n := range c.nodes {
			if n.store != nil {
				errs = append(errs, n.store.Close())
			}
		}
		errs = append(errs, os.RemoveAll(c.dir))
		if err := errors.Join(errs...); err != nil {
			c.closeErr = fmt.Errorf("bench: close raft cluster: %w", err)
		}
	})
	return c.closeErr
}

// noopFSM applies nothing, so the baseline measures consensus and storage only.
type noopFSM struct{}

func (noopFSM) Apply(*raft.Log) any                 { return nil }
func (noopFSM) Snapshot() (raft.FSMSnapshot, error) { return noopSnapshot{}, nil }
func (noopFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	_, err := io.Copy(io.Discard, rc)
	return err
}

// noopSnapshot persists an empty snapshot.
type noopSnapshot struct{}

func (noopSnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (noopSnapshot) Release()                             {}
