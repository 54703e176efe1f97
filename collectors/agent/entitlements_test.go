package agent

import (
	"errors"
	"testing"
	"time"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/licensing/entitlement"
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
	if _, err := a.CheckFeature("reports", ""); !errors.Is(err, ErrNoEntitlements) {
		t.Fatalf("feature check before any document: %v", err)
	}
	now := clk.Now()
	if err := a.acceptEntitlements(c.SignEntitlements(entDoc(c, me, 5, now, "reports"))); err != nil {
		t.Fatal(err)
	}
	if ch, err := a.CheckFeature("reports", "ts"); err != nil || !ch.Enabled || ch.License != "lic-1" {
		t.Fatalf("CheckFeature = %+v, %v", ch, err)
	}
	// An older serial (a lagging master) changes nothing.
	if err := a.acceptEntitlements(c.SignEntitlements(entDoc(c, me, 3, now))); err != nil {
		t.Fatal(err)
	}
	if e, _ := a.Entitlements(); e.Serial != 5 {
		t.Fatalf("serial %d after an older document, want 5", e.Serial)
	}
	// Another collector's document, or a forged one, is refused.
	if err := a.acceptEntitlements(c.SignEntitlements(entDoc(c, "c-other", 9, now))); !errors.Is(err, entitlement.ErrWrongCollector) {
		t.Fatalf("another collector's document: %v", err)
	}
	other := agenttest.NewCluster(t)
	if err := a.acceptEntitlements(other.SignEntitlements(entDoc(c, me, 9, now))); !errors.Is(err, entitlement.ErrBadSignature) {
		t.Fatalf("a document signed by another cluster: %v", err)
	}
	// Past expiry plus grace, the feature is off.
	clk.Advance(2*time.Hour + time.Second)
	if ch, _ := a.CheckFeature("reports", ""); ch.Enabled {
		t.Fatalf("feature on past grace: %+v", ch)
	}

	// A new agent on the same data directory starts from the saved copy.
	a.closeTransport()
	b, _ := newAgent(t, a.Config())
	e, err := b.Entitlements()
	if err != nil || e.Serial != 5 || e.Source != "disk" {
		t.Fatalf("restarted agent's entitlements = %+v, %v", e, err)
	}
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
		if at := e.trustedNow(tc.now); !at.Equal(tc.want) {
			t.Errorf("trustedNow(%v) = %v, want %v", tc.now, at, tc.want)
		}
	}
}
