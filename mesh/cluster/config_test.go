package cluster

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	h := newHarness(t)
	base := h.config("v1", 3)
	require.NoError(t, base.Validate(), "valid config")
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"short gossip key", func(c *Config) { c.GossipKey = []byte("short") }, "gossip_key must be 16, 24 or 32 bytes, got 5"},
		{"no gossip key", func(c *Config) { c.GossipKey = nil }, "gossip_key is required"},
		{"bootstrap_expect 2", func(c *Config) { c.BootstrapExpect = 2 }, "bootstrap_expect must be 1, 3 or 5"},
		{"missing server tls", func(c *Config) { c.ServerTLS = nil }, "server_tls is required"},
		{"missing client tls", func(c *Config) { c.ClientTLS = nil }, "client_tls is required"},
		{"client skips verify", func(c *Config) { c.ClientTLS = c.ClientTLS.Clone(); c.ClientTLS.InsecureSkipVerify = true }, "insecure_skip_verify"},
		{"server without client CAs", func(c *Config) { c.ServerTLS = c.ServerTLS.Clone(); c.ServerTLS.ClientCAs = nil }, "client_cas"},
		{"no node id", func(c *Config) { c.NodeID = "" }, "node_id: empty"},
		{"node id with space", func(c *Config) { c.NodeID = "a b" }, "node_id"},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "data_dir is empty"},
		{"bad raft addr", func(c *Config) { c.RaftAddr = "nope" }, "raft_addr"},
		{"wildcard without advertise", func(c *Config) { c.RaftAddr = "0.0.0.0:7401" }, "raft_advertise is required"},
		{"advertise port 0", func(c *Config) { c.RaftAdvertise = "10.0.0.1:0" }, "port 0"},
		{"gossip hostname", func(c *Config) { c.GossipAddr = "localhost:7402" }, "must be an IP"},
		{"bad join", func(c *Config) { c.Join = []string{"10.0.0.1"} }, "join[0]"},
		{"reserved meta", func(c *Config) { c.Meta = map[string]string{MetaKeyRaftAddr: "x"} }, `key "raft_addr" is reserved`},
		{"huge meta", func(c *Config) { c.Meta = map[string]string{"big": strings.Repeat("x", 500)} }, "memberlist allows 512"},
		{"no fsm", func(c *Config) { c.FSM = nil }, "fsm is nil"},
		{"lease above heartbeat", func(c *Config) { c.LeaderLeaseTimeout = time.Second }, "raft tuning"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mutate(&c)
			err := c.Validate()
			require.ErrorIs(t, err, ErrInvalidConfig, "Validate()")
			require.ErrorContains(t, err, tt.want, "Validate()")
			require.NotContains(t, err.Error(), string(testGossipKey), "error reveals the gossip key")
		})
	}
}

func TestNewRejectsBadConfigWithoutSideEffects(t *testing.T) {
	h := newHarness(t)
	cfg := h.config("v1", 2)
	cfg.DataDir = filepath.Join(t.TempDir(), "not-created")
	_, err := New(cfg)
	require.ErrorIs(t, err, ErrInvalidConfig, "New")
	_, err = os.Stat(cfg.DataDir)
	require.ErrorIs(t, err, os.ErrNotExist, "data dir was created")
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	require.Equal(t, time.Second, c.HeartbeatTimeout, "raft default HeartbeatTimeout")
	require.Equal(t, time.Second, c.ElectionTimeout, "raft default ElectionTimeout")
	require.Equal(t, 500*time.Millisecond, c.LeaderLeaseTimeout, "raft default LeaderLeaseTimeout")
	require.ErrorIs(t, c.Validate(), ErrInvalidConfig, "DefaultConfig alone must not validate")
}

func TestNewReleasesEverythingOnFailure(t *testing.T) {
	h := newHarness(t)
	busy, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	cfg := h.config("f1", 1)
	cfg.GossipAddr = busy.LocalAddr().String()
	_, err = New(cfg)
	require.ErrorContains(t, err, "memberlist", "New with a busy gossip port")
	// The store and the Raft listener were released: the same data dir opens.
	cfg.GossipAddr = "127.0.0.1:0"
	n := h.start(cfg)
	require.Eventually(t, n.IsLeader, 5*time.Second, poll, "f1 leads after the retry")
}
