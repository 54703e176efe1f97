package agent

import (
	"testing"
	"time"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/licensing/entitlement"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func entDoc(c *agenttest.Cluster, collector string, serial uint64, issued time.Time, features ...string) *entitlement.Document {
	return &entitlement.Document{
		Format: entitlement.FormatVersion, ClusterID: c.ClusterID, CollectorID: collector, Serial: serial, IssuedAt: issued,
		Entitlements: []entitlement.Entitlement{{
			License: "lic-1", Product: entitlement.Product{SKU: "ts"}, NotBefore: issued.Add(-time.Hour),
			ExpiresAt: issued.Add(time.Hour), GraceEnd: issued.Add(2 * time.Hour), Covered: true, Features: features,
		}},
	}
}

func TestEntitlementsAcceptedInOrderAndSaved(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)
	me := string(a.identity().CollectorID)
	_, err := a.CheckFeature("reports", "")
	require.ErrorIs(t, err, ErrNoEntitlements, "feature check before any document")
	now := clk.Now()
	require.NoError(t, a.acceptEntitlements(c.SignEntitlements(entDoc(c, me, 5, now, "reports"))))
	ch, err := a.CheckFeature("reports", "ts")
	require.NoError(t, err, "CheckFeature")
	require.True(t, ch.Enabled, "CheckFeature = %+v", ch)
	require.Equal(t, "lic-1", ch.License, "CheckFeature = %+v", ch)
	// An older serial (a lagging master) changes nothing.
	require.NoError(t, a.acceptEntitlements(c.SignEntitlements(entDoc(c, me, 3, now))))
	e, _ := a.Entitlements()
	require.Equal(t, uint64(5), e.Serial, "serial after an older document")
	// Another collector's document, or a forged one, is refused.
	require.ErrorIs(t, a.acceptEntitlements(c.SignEntitlements(entDoc(c, "c-other", 9, now))), entitlement.ErrWrongCollector,
		"another collector's document")
	other := agenttest.NewCluster(t)
	require.ErrorIs(t, a.acceptEntitlements(other.SignEntitlements(entDoc(c, me, 9, now))), entitlement.ErrBadSignature,
		"a document signed by another cluster")
	// Past expiry plus grace, the feature is off.
	clk.Advance(2*time.Hour + time.Second)
	ch, _ = a.CheckFeature("reports", "")
	require.False(t, ch.Enabled, "feature on past grace: %+v", ch)

	// A new agent on the same data directory starts from the saved copy.
	a.closeTransport()
	b, _ := newAgent(t, a.Config())
	e, err = b.Entitlements()
	require.NoError(t, err, "restarted agent's entitlements")
	require.Equal(t, uint64(5), e.Serial, "restarted agent's entitlements = %+v", e)
	require.Equal(t, "disk", e.Source, "restarted agent's entitlements = %+v", e)
}

// TestTrustedTimeNeverGoesBack: with the host clock set back, documents
// are judged at their issue time plus the time since they arrived.
func TestTrustedTimeNeverGoesBack(t *testing.T) {
	issued := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	got := time.Date(2026, 11, 1, 12, 0, 5, 0, time.UTC) // the local clock was 5 s ahead
	e := ents{doc: &entitlement.Document{IssuedAt: issued}, got: got}
	for _, tc := range []struct {
		now, want time.Time
	}{
		{got.Add(time.Minute), got.Add(time.Minute)},                          // clock moves on: the clock
		{got.Add(-365 * 24 * time.Hour), issued},                              // set back a year: the issue time
		{issued.Add(-time.Hour), issued},                                      // set back an hour: the issue time
		{time.Date(2026, 11, 1, 12, 0, 6, 0, time.UTC), got.Add(time.Second)}, // one second on
	} {
		at := e.trustedNow(tc.now)
		assert.True(t, at.Equal(tc.want), "trustedNow(%v) = %v, want %v", tc.now, at, tc.want)
	}
}
