package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/mesh/pki"
	"github.com/licmesh/licmesh/mesh/pki/pkitest"
)

// poll is how often require.Eventually checks a condition.
const poll = 20 * time.Millisecond

// testCA is a throwaway cluster CA and the pool that trusts it.
type testCA struct {
	ca   *pki.CA
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	ca := pkitest.NewCA(t, name)
	return &testCA{ca: ca, pool: ca.Pool()}
}

// tlsPair issues a node certificate for 127.0.0.1 usable as server and
// client, and returns the server and client TLS configs.
func (ca *testCA) tlsPair(t *testing.T, name string) (server, client *tls.Config) {
	t.Helper()
	cert := pkitest.MasterCert(t, ca.ca, name)
	return ca.ca.ServerTLS(cert, tls.RequireAndVerifyClientCert), pki.ClientTLS(ca.pool, &cert, "")
}

// countFSM applies uint64 increments and remembers every entry, in order.
type countFSM struct {
	mu      sync.Mutex
	entries []string
}

func (f *countFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, string(l.Data))
	return len(f.entries)
}

func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &countSnapshot{entries: append([]string(nil), f.entries...)}, nil
}

func (f *countFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = nil
	if len(b) > 0 {
		f.entries = strings.Split(string(b), "\n")
	}
	return nil
}

func (f *countFSM) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.entries...)
}

func (f *countFSM) has(entry string) bool {
	for _, e := range f.list() {
		if e == entry {
			return true
		}
	}
	return false
}

type countSnapshot struct{ entries []string }

func (s *countSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write([]byte(strings.Join(s.entries, "\n"))); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *countSnapshot) Release() {}

// logSink collects log records for assertions and mirrors them to t.Log
// until the test ends (goroutines may outlive it by a moment).
type logSink struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
	msgs []string
}

func newLogSink(t *testing.T) *logSink {
	s := &logSink{t: t}
	t.Cleanup(func() {
		s.mu.Lock()
		s.done = true
		s.mu.Unlock()
	})
	return s
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, string(p))
	if !s.done && testing.Verbose() {
		s.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (s *logSink) contains(sub ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
next:
	for _, m := range s.msgs {
		for _, x := range sub {
			if !strings.Contains(m, x) {
				continue next
			}
		}
		return true
	}
	return false
}

func fastGossip(c *memberlist.Config) {
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.GossipInterval = 50 * time.Millisecond
	c.PushPullInterval = 5 * time.Second
	c.TCPTimeout = 2 * time.Second
	c.SuspicionMult = 2
}

var testGossipKey = []byte("0123456789abcdef0123456789abcdef")

// harness starts nodes that share a CA, a gossip key and a log sink.
type harness struct {
	t    *testing.T
	ca   *testCA
	logs *logSink
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, ca: newTestCA(t, "cluster-test-ca"), logs: newLogSink(t)}
}

// config returns a fast test config for node id with its own data dir.
func (h *harness) config(id string, expect int, join ...string) Config {
	h.t.Helper()
	cfg := DefaultConfig()
	cfg.NodeID = NodeID(id)
	cfg.DataDir = h.t.TempDir()
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.GossipAddr = "127.0.0.1:0"
	cfg.GossipKey = testGossipKey
	cfg.BootstrapExpect = expect
	cfg.Join = join
	cfg.ServerTLS, cfg.ClientTLS = h.ca.tlsPair(h.t, id)
	cfg.Meta = map[string]string{"api_addr": "api-" + id + ":7400"}
	cfg.HeartbeatTimeout = 200 * time.Millisecond
	cfg.ElectionTimeout = 200 * time.Millisecond
	cfg.LeaderLeaseTimeout = 100 * time.Millisecond
	cfg.CommitTimeout = 10 * time.Millisecond
	cfg.RaftTimeout = 2 * time.Second
	cfg.ReconcileInterval = 300 * time.Millisecond
	cfg.FSM = &countFSM{}
	cfg.Logger = slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.RaftLogLevel = slog.LevelWarn
	cfg.GossipLogLevel = slog.LevelWarn
	cfg.tuneGossip = fastGossip
	return cfg
}

func (h *harness) start(cfg Config) *Node {
	h.t.Helper()
	n, err := New(cfg)
	require.NoError(h.t, err, "New(%s)", cfg.NodeID)
	h.t.Cleanup(func() { _ = n.Shutdown() })
	return n
}

// startCluster starts size nodes with BootstrapExpect=size, all joining the
// first one, and waits for a leader with size voters.
func (h *harness) startCluster(size int) []*Node {
	h.t.Helper()
	var nodes []*Node
	for i := range size {
		var join []string
		if i > 0 {
			join = []string{nodes[0].GossipAddr()}
		}
		nodes = append(nodes, h.start(h.config(fmt.Sprintf("m%d", i+1), size, join...)))
	}
	leader := waitLeader(h.t, nodes...)
	require.Eventually(h.t, func() bool { return len(voters(leader)) == size }, 10*time.Second, poll, "all voters in the configuration")
	return nodes
}

func fsmOf(n *Node) *countFSM { return n.cfg.FSM.(*countFSM) }

// waitLeader waits until exactly one of nodes leads and all agree on it.
func waitLeader(t *testing.T, nodes ...*Node) *Node {
	t.Helper()
	var leader *Node
	require.Eventually(t, func() bool {
		leader = nil
		for _, n := range nodes {
			if n.IsLeader() {
				if leader != nil {
					return false
				}
				leader = n
			}
		}
		if leader == nil {
			return false
		}
		for _, n := range nodes {
			if id, _ := n.Leader(); id != leader.ID() {
				return false
			}
		}
		return true
	}, 10*time.Second, poll, "a single agreed leader")
	return leader
}

// voters lists the voter IDs in n's view of the configuration.
func voters(n *Node) []NodeID {
	servers, err := n.configuration()
	if err != nil {
		return nil
	}
	var out []NodeID
	for id, s := range servers {
		if s.Suffrage == raft.Voter {
			out = append(out, id)
		}
	}
	return out
}

func hasVoter(n *Node, id NodeID) bool {
	for _, v := range voters(n) {
		if v == id {
			return true
		}
	}
	return false
}

// applyOnLeader applies entry through whichever node leads, retrying across
// elections. An entry may then be applied twice, so tests check presence.
func applyOnLeader(t *testing.T, nodes []*Node, entry string) *Node {
	t.Helper()
	l, err := onLeader(t, nodes, func(l *Node) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := l.Apply(ctx, []byte(entry))
		return err
	})
	require.NoError(t, err, "Apply(%q) on %s", entry, l.ID())
	return l
}

// onLeader runs fn on the current leader, again after a leadership change.
func onLeader(t *testing.T, nodes []*Node, fn func(*Node) error) (*Node, error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := waitLeader(t, nodes...)
		err := fn(l)
		if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrLeadershipLost) || time.Now().After(deadline) {
			return l, err
		}
	}
}

// onFollower runs fn on a node that is not the leader, again if that node
// turned out to lead meanwhile.
func onFollower(t *testing.T, nodes []*Node, fn func(*Node) error) error {
	t.Helper()
	for range 20 {
		f := followers(waitLeader(t, nodes...), nodes...)[0]
		err := fn(f)
		if errors.Is(err, ErrNotLeader) || !f.IsLeader() {
			return err
		}
	}
	require.FailNow(t, "no stable follower")
	return nil
}

func followers(leader *Node, nodes ...*Node) []*Node {
	var out []*Node
	for _, n := range nodes {
		if n != leader {
			out = append(out, n)
		}
	}
	return out
}

// netDialer opens plain TCP connections, for clients that never speak TLS.
type netDialer struct{}

func (netDialer) dial(addr string) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, 2*time.Second)
}
