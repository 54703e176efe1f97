package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

func TestTokenSamplerPicksTheFirstThenOneInEvery(t *testing.T) {
	s := newTokenSampler(4)
	var got []bool
	for range 9 {
		got = append(got, s.due("m1:7443"))
	}
	require.Equal(t, []bool{true, false, false, false, true, false, false, false, true}, got)
	require.True(t, s.due("m2:7443"), "the first token from another master")
	require.False(t, s.due("m2:7443"))

	require.True(t, s.failed("m1:7443"), "the first failure is news")
	require.False(t, s.failed("m1:7443"), "and the second is not")
	for range 5 {
		require.True(t, s.due("m1:7443"), "a master whose token failed has every token checked")
	}
	require.True(t, s.failed("m3:7443")) // before any token: a hello that named another key
	require.True(t, s.due("m3:7443"))
	require.True(t, s.due("m3:7443"))

	all := newTokenSampler(1)
	for range 3 {
		require.True(t, all.due("m1:7443"))
	}
	// Many addresses: memory stays bounded, and each one's first token is
	// still checked.
	for i := range 3 * maxSampledMasters {
		require.True(t, s.due(fmt.Sprintf("m%d:7443", 100+i)))
	}
	require.LessOrEqual(t, len(s.by), maxSampledMasters)
}

func TestForgedTokenOnAMastersFirstGrantIsRefused(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	forge := func(r *licmeshv1.AcquireResponse) error {
		r.Lease.Token = otherKeyToken(t, r.Lease.Token)
		return nil
	}
	c.SetHooks(agenttest.Hooks{Acquire: forge})
	_, err := a.Acquire(context.Background(), "seats", "alice")
	require.ErrorIs(t, err, ErrUnavailable, "a forged first token was accepted")
	require.Contains(t, err.Error(), "signature")
	// From then on that master's every token is checked, not one in
	// tokenCheckEvery.
	for _, holder := range []string{"bob", "carol", "dave"} {
		_, err := a.Acquire(context.Background(), "seats", holder)
		require.ErrorIs(t, err, ErrUnavailable, "forged token for %s accepted", holder)
	}
	c.SetHooks(agenttest.Hooks{})
	acquire(t, a, "seats", "erin")
}

func TestTokenSignaturesAreSampledUntilAHelloNamesAnotherKey(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, _ := enrolled(t, c, m)
	acquire(t, a, "seats", "alice") // the master's first token: checked, and good

	// A later one is checked for what it says, not for its signature:
	// the master is authenticated by mutual TLS and signs with the
	// cluster key. The product's own check still sees the forgery.
	var forged string
	c.SetHooks(agenttest.Hooks{Acquire: func(r *licmeshv1.AcquireResponse) error {
		r.Lease.Token = otherKeyToken(t, r.Lease.Token)
		forged = r.Lease.Token
		return nil
	}})
	bob := acquire(t, a, "seats", "bob")
	require.Equal(t, forged, string(bob.Token))
	require.Equal(t, VerifyBadSignature, a.Verify(forged).Reason, "the product's check")

	// A master that announces a key other than the enrolled one has every
	// token it sends checked.
	c.SetHooks(agenttest.Hooks{Hello: func(r *licmeshv1.HelloResponse) error {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		r.SigningPublicKey = pub
		return nil
	}})
	require.NoError(t, a.hello(context.Background()))
	c.SetHooks(agenttest.Hooks{Acquire: func(r *licmeshv1.AcquireResponse) error {
		r.Lease.Token = otherKeyToken(t, r.Lease.Token)
		return nil
	}})
	_, err := a.Acquire(context.Background(), "seats", "carol")
	require.ErrorIs(t, err, ErrUnavailable, "forged token accepted from a master with another key")
}
