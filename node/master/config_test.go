package master

import (
	"strings"
	"testing"
	"time"
)

func validConfig(t *testing.T) Config {
	t.Helper()
	c := DefaultConfig()
	c.NodeID = "m1"
	c.DataDir = t.TempDir()
	s, err := NewClusterSecret()
	if err != nil {
		t.Fatal(err)
	}
	c.ClusterSecret = s
	return c
}

func TestConfigValidateNamesEveryProblem(t *testing.T) {
	c := validConfig(t)
	if err := c.Validate(); err != nil {
		t.Fatalf("default config with a secret is invalid: %v", err)
	}
	c.NodeID = "bad id"
	c.ClusterSecret = "c2hvcnQ="
	c.BootstrapExpect = 2
	c.APIAddr = "localhost"
	c.LeaseTTL = time.Millisecond
	c.LogFormat = "xml"
	err := c.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, field := range []string{"node_id", "cluster_secret", "bootstrap_expect", "api_addr", "lease_ttl", "log_format"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
	if strings.Contains(err.Error(), "c2hvcnQ") {
		t.Error("the error repeats the secret")
	}
}

func TestDerivedIdentityIsTheSameOnEveryMaster(t *testing.T) {
	s, _ := NewClusterSecret()
	secret, err := DecodeClusterSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	a, err := deriveIdentity(secret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := deriveIdentity(secret)
	if a.clusterID != b.clusterID || string(a.ca.CertPEM()) != string(b.ca.CertPEM()) || string(a.gossipKey) != string(b.gossipKey) {
		t.Fatal("two masters with one secret derived different identities")
	}
	if string(a.gossipKey) == string(secret) {
		t.Fatal("the gossip key must not be the secret itself")
	}
	s2, _ := NewClusterSecret()
	secret2, _ := DecodeClusterSecret(s2)
	c, _ := deriveIdentity(secret2)
	if c.clusterID == a.clusterID {
		t.Fatal("two secrets gave one cluster ID")
	}
}

func TestReasonsRoundTrip(t *testing.T) {
	for _, r := range reasons {
		err := fromWire(r.reason, "detail of "+r.reason)
		if reasonOf(err) != r.reason {
			t.Errorf("%s came back as %s", r.reason, reasonOf(err))
		}
		if err.Error() != "detail of "+r.reason {
			t.Errorf("%s lost its message: %v", r.reason, err)
		}
	}
}
