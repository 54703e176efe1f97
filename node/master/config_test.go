package master

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/node/fsm"
)

func validConfig(t *testing.T) Config {
	t.Helper()
	c := DefaultConfig()
	c.NodeID = "m1"
	c.DataDir = t.TempDir()
	s, err := NewClusterSecret()
	require.NoError(t, err)
	c.ClusterSecret = s
	return c
}

func TestConfigValidateNamesEveryProblem(t *testing.T) {
	c := validConfig(t)
	require.NoError(t, c.Validate(), "default config with a secret is invalid")
	c.NodeID = "bad id"
	c.ClusterSecret = "c2hvcnQ="
	c.BootstrapExpect = 2
	c.APIAddr = "localhost"
	c.LeaseTTL = time.Millisecond
	c.LogFormat = "xml"
	err := c.Validate()
	require.Error(t, err, "bad config accepted")
	for _, field := range []string{"node_id", "cluster_secret", "bootstrap_expect", "api_addr", "lease_ttl", "log_format"} {
		assert.ErrorContains(t, err, field, "error does not name %s", field)
	}
	assert.NotContains(t, err.Error(), "c2hvcnQ", "the error repeats the secret")
}

func TestDerivedIdentityIsTheSameOnEveryMaster(t *testing.T) {
	s, _ := NewClusterSecret()
	secret, err := DecodeClusterSecret(s)
	require.NoError(t, err)
	a, err := deriveIdentity(secret)
	require.NoError(t, err)
	b, _ := deriveIdentity(secret)
	require.Equal(t, a.clusterID, b.clusterID, "two masters with one secret derived different identities")
	require.Equal(t, string(a.ca.CertPEM()), string(b.ca.CertPEM()), "two masters with one secret derived different identities")
	require.Equal(t, string(a.gossipKey), string(b.gossipKey), "two masters with one secret derived different identities")
	require.NotEqual(t, string(secret), string(a.gossipKey), "the gossip key must not be the secret itself")
	s2, _ := NewClusterSecret()
	secret2, _ := DecodeClusterSecret(s2)
	c, _ := deriveIdentity(secret2)
	require.NotEqual(t, a.clusterID, c.clusterID, "two secrets gave one cluster ID")
}

func TestReasonsRoundTrip(t *testing.T) {
	for _, r := range reasons {
		err := fromWire(r.reason, "detail of "+r.reason)
		assert.Equal(t, r.reason, reasonOf(err), "reason came back as another")
		assert.EqualError(t, err, "detail of "+r.reason, "%s lost its message", r.reason)
	}
	// A rollout that is gone must cross from the leader as itself: a
	// master reporting on it stops on that alone.
	err := fromWire(reasonOf(fsm.ErrRolloutState), "no rollout r-1")
	assert.ErrorIs(t, err, fsm.ErrRolloutState)
}
