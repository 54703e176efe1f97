package cluster

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// NodeID identifies a master. It is the Raft server ID and the memberlist node
// name, so it must never change for the life of a master's data directory.
type NodeID string

// Default ports, as in the design: 7401 Raft, 7402 gossip.
const (
	DefaultRaftPort   = 7401
	DefaultGossipPort = 7402
)

// maxNodeIDLen bounds IDs so that they fit comfortably in memberlist packets.
const maxNodeIDLen = 128

// Config is everything New needs. Build it from DefaultConfig and check it with
// Validate (New calls Validate too).
type Config struct {
	// NodeID is this master's stable identity (Raft server ID, memberlist name).
	NodeID NodeID
	// DataDir holds raft.db and the snapshots/ directory.
	DataDir string

	// RaftAddr is the host:port the Raft listener binds (port 0 picks one).
	RaftAddr string
	// RaftAdvertise is the host:port peers dial; empty means the bound
	// address, which must then not be a wildcard.
	RaftAdvertise string
	// GossipAddr is the IP:port memberlist binds, TCP and UDP (port 0 picks one).
	GossipAddr string
	// GossipAdvertise is the IP:port peers use for gossip; empty lets
	// memberlist choose (the bound address, or a private IP for a wildcard).
	GossipAdvertise string
	// GossipKey encrypts gossip (AES, 16, 24 or 32 bytes); it is required and
	// every master must share it.
	GossipKey []byte

	// BootstrapExpect is the size of a fresh cluster (1, 3 or 5): once that
	// many masters with the same value see each other (and, when Join is
	// set, after the first successful join) they bootstrap it. 0, the
	// default, means join an existing cluster and wait for the leader to add
	// us. A node with Raft state never bootstraps again.
	BootstrapExpect int
	// Join lists gossip addresses (host:port) of any members, contacted at
	// start with retries until one answers or the node stops.
	Join []string

	// ServerTLS secures the Raft listener. New forces it to require and verify
	// client certificates (against ClientCAs).
	ServerTLS *tls.Config
	// ClientTLS secures Raft dials. It must carry a client certificate and
	// verify the server: the server certificate must be valid for the dialed
	// host (an IP SAN when peers advertise IPs) unless ServerName is set.
	ClientTLS *tls.Config

	// Meta is published in this master's memberlist entry, e.g. its API
	// address. The encoded entry, with the reserved keys, must fit in
	// memberlist's 512 bytes.
	Meta map[string]string
	// LeaveOnTerminate makes Terminate leave the cluster instead of just
	// stopping.
	LeaveOnTerminate bool

	// HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout, CommitTimeout,
	// SnapshotInterval, SnapshotThreshold and TrailingLogs are Raft's tuning,
	// with Raft's meaning.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	SnapshotInterval   time.Duration
	SnapshotThreshold  uint64
	TrailingLogs       uint64

	// RaftTimeout bounds one Raft network operation (dial, handshake, I/O).
	RaftTimeout time.Duration
	// ReconcileInterval is how often the leader compares memberlist with the
	// Raft configuration even when no member event arrives.
	ReconcileInterval time.Duration

	// FSM is the caller's state machine; a raft.BatchingFSM is used as one.
	FSM raft.FSM

	// Logger receives the node's logs; nil means slog.Default().
	Logger *slog.Logger
	// RaftLogLevel and GossipLogLevel filter Raft's and memberlist's own logs,
	// which are chatty below warn.
	RaftLogLevel   slog.Level
	GossipLogLevel slog.Level

	// tuneGossip lets tests shorten memberlist's LAN timers.
	tuneGossip func(*memberlist.Config)
}

// DefaultConfig returns a Config with LAN defaults. NodeID, DataDir, GossipKey,
// ServerTLS, ClientTLS and FSM must still be set, and RaftAdvertise too since
// RaftAddr binds every interface; BootstrapExpect is 0 (join only).
func DefaultConfig() Config {
	rc := raft.DefaultConfig()
	return Config{
		RaftAddr:           net.JoinHostPort("0.0.0.0", strconv.Itoa(DefaultRaftPort)),
		GossipAddr:         net.JoinHostPort("0.0.0.0", strconv.Itoa(DefaultGossipPort)),
		BootstrapExpect:    0,                     // never bootstrap a cluster by accident
		HeartbeatTimeout:   rc.HeartbeatTimeout,   // 1s
		ElectionTimeout:    rc.ElectionTimeout,    // 1s
		LeaderLeaseTimeout: rc.LeaderLeaseTimeout, // 500ms
		CommitTimeout:      rc.CommitTimeout,
		SnapshotInterval:   rc.SnapshotInterval,
		SnapshotThreshold:  rc.SnapshotThreshold,
		TrailingLogs:       rc.TrailingLogs,
		RaftTimeout:        10 * time.Second,
		ReconcileInterval:  5 * time.Second,
		RaftLogLevel:       slog.LevelWarn,
		GossipLogLevel:     slog.LevelWarn,
	}
}

// Validate reports the first problem in c, naming the field. It never
// mentions the gossip key's bytes.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if err := validateNodeID(c.NodeID); err != nil {
		return bad("node_id: %v", err)
	}
	if c.DataDir == "" {
		return bad("data_dir is empty")
	}
	raftHost, _, err := splitAddr(c.RaftAddr, true)
	if err != nil {
		return bad("raft_addr: %v", err)
	}
	if c.RaftAdvertise != "" {
		if _, port, err := splitAddr(c.RaftAdvertise, false); err != nil {
			return bad("raft_advertise: %v", err)
		} else if port == 0 {
			return bad("raft_advertise %q: port 0 cannot be dialed", c.RaftAdvertise)
		}
	} else if isWildcard(raftHost) {
		return bad("raft_advertise is required when raft_addr %q binds every interface", c.RaftAddr)
	}
	gossipHost, _, err := splitAddr(c.GossipAddr, true)
	if err != nil {
		return bad("gossip_addr: %v", err)
	}
	if gossipHost != "" && net.ParseIP(gossipHost) == nil {
		return bad("gossip_addr %q: host must be an IP address", c.GossipAddr)
	}
	if c.GossipAdvertise != "" {
		host, port, err := splitAddr(c.GossipAdvertise, false)
		if err != nil {
			return bad("gossip_advertise: %v", err)
		}
		if net.ParseIP(host) == nil || isWildcard(host) || port == 0 {
			return bad("gossip_advertise %q: must be a specific IP and a non-zero port", c.GossipAdvertise)
		}
	}
	switch len(c.GossipKey) {
	case 16, 24, 32:
	case 0:
		return bad("gossip_key is required (16, 24 or 32 bytes)")
	default:
		return bad("gossip_key must be 16, 24 or 32 bytes, got %d", len(c.GossipKey))
	}
	switch c.BootstrapExpect {
	case 0, 1, 3, 5:
	default:
		return bad("bootstrap_expect must be 1, 3 or 5 (or 0 to join an existing cluster), got %d", c.BootstrapExpect)
	}
	for i, a := range c.Join {
		if _, port, err := splitAddr(a, false); err != nil {
			return bad("join[%d]: %v", i, err)
		} else if port == 0 {
			return bad("join[%d] %q: port 0 cannot be dialed", i, a)
		}
	}
	if err := validateTLS(c.ServerTLS, c.ClientTLS); err != nil {
		return bad("%v", err)
	}
	if err := validateMeta(c.Meta, c.worstCaseRaftAdvertise()); err != nil {
		return bad("meta: %v", err)
	}
	if c.FSM == nil {
		return bad("fsm is nil")
	}
	if c.RaftTimeout <= 0 {
		return bad("raft_timeout must be positive, got %v", c.RaftTimeout)
	}
	if c.ReconcileInterval <= 0 {
		return bad("reconcile_interval must be positive, got %v", c.ReconcileInterval)
	}
	rc := c.raftConfig()
	if err := raft.ValidateConfig(rc); err != nil {
		return bad("raft tuning: %v", err)
	}
	return nil
}

// raftConfig maps the tuning fields onto a raft.Config; logger, notify channel
// and local ID are added by New.
func (c Config) raftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.NodeID)
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	rc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	rc.CommitTimeout = c.CommitTimeout
	rc.SnapshotInterval = c.SnapshotInterval
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.TrailingLogs = c.TrailingLogs
	// A removed leader must not stop Raft under the Node's feet; it becomes a
	// follower without a vote and never campaigns.
	rc.ShutdownOnRemove = false
	return rc
}

// worstCaseRaftAdvertise is the longest Raft address the node may publish,
// known before the listener is bound.
func (c Config) worstCaseRaftAdvertise() string {
	if c.RaftAdvertise != "" {
		return c.RaftAdvertise
	}
	host, _, _ := net.SplitHostPort(c.RaftAddr)
	return net.JoinHostPort(host, "65535")
}

func validateNodeID(id NodeID) error {
	if id == "" {
		return fmt.Errorf("empty")
	}
	if len(id) > maxNodeIDLen {
		return fmt.Errorf("longer than %d bytes", maxNodeIDLen)
	}
	for _, r := range string(id) {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("%q contains a space or control character", id)
		}
	}
	return nil
}

// splitAddr parses host:port. An empty host is allowed only for bind
// addresses.
func splitAddr(addr string, bind bool) (string, int, error) {
	if addr == "" {
		return "", 0, fmt.Errorf("empty, want host:port")
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port", addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: bad port %q", addr, portStr)
	}
	if host == "" && !bind {
		return "", 0, fmt.Errorf("%q: host is empty", addr)
	}
	if strings.ContainsAny(host, " /") {
		return "", 0, fmt.Errorf("%q: bad host", addr)
	}
	return host, port, nil
}

func isWildcard(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

func validateTLS(server, client *tls.Config) error {
	if server == nil {
		return fmt.Errorf("server_tls is required (Raft runs over mutual TLS)")
	}
	if client == nil {
		return fmt.Errorf("client_tls is required (Raft runs over mutual TLS)")
	}
	if len(server.Certificates) == 0 && server.GetCertificate == nil && server.GetConfigForClient == nil {
		return fmt.Errorf("server_tls has no certificate")
	}
	if server.ClientCAs == nil && server.GetConfigForClient == nil && server.VerifyPeerCertificate == nil {
		return fmt.Errorf("server_tls has no client_cas to verify peers with")
	}
	if len(client.Certificates) == 0 && client.GetClientCertificate == nil {
		return fmt.Errorf("client_tls has no client certificate")
	}
	if client.InsecureSkipVerify {
		return fmt.Errorf("client_tls must verify the server (insecure_skip_verify is set)")
	}
	return nil
}
