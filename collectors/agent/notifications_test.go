package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/collectors/agent/agenttest"
	"github.com/licmesh/licmesh/licensing/alert"
	"github.com/licmesh/licmesh/licensing/entitlement"
)

// TestNotifications: the product's notices follow seed 001's expiry
// schedule from the signed entitlements at trusted time, with no master:
// none a month out, the 15-day one two weeks before, the expiry after it,
// credits running low.
func TestNotifications(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)
	_, err := a.Notifications()
	require.ErrorIs(t, err, ErrNoEntitlements)
	now := clk.Now()
	doc := entDoc(c, string(a.identity().CollectorID), 1, now)
	e := &doc.Entitlements[0]
	e.Product.Name = "Designer"
	e.ExpiresAt, e.GraceEnd = now.Add(40*24*time.Hour), now.Add(47*24*time.Hour)
	e.Credits = &entitlement.Credits{Unit: "case", Remaining: 12, Low: true}
	require.NoError(t, a.acceptEntitlements(c.SignEntitlements(doc)))
	m.Close()

	keys := func() []string {
		t.Helper()
		n, err := a.Notifications()
		require.NoError(t, err)
		var out []string
		for _, x := range n.Notifications {
			out = append(out, x.Key)
		}
		return out
	}
	assert.Equal(t, []string{"credits_low/lic-1:case"}, keys())
	clk.Advance(26 * 24 * time.Hour)
	assert.Equal(t, []string{"credits_low/lic-1:case", "license_expiry/lic-1/15d"}, keys())
	clk.Advance(14*24*time.Hour + time.Minute)
	assert.Equal(t, []string{"credits_low/lic-1:case", "license_expired/lic-1"}, keys())
	n, _ := a.Notifications()
	assert.Contains(t, n.Notifications[1].Summary, "in its grace until")
}

// TestNotificationsFollowTheSiteRules: a schedule the site set (signed into
// the entitlements) replaces the default one for the product's notices,
// and a kind the site turned off says nothing.
func TestNotificationsFollowTheSiteRules(t *testing.T) {
	c := agenttest.NewCluster(t)
	m := c.StartMaster()
	a, clk := enrolled(t, c, m)
	now := clk.Now()
	doc := entDoc(c, string(a.identity().CollectorID), 1, now)
	e := &doc.Entitlements[0]
	e.ExpiresAt, e.GraceEnd = now.Add(50*24*time.Hour), now.Add(57*24*time.Hour)
	e.Credits = &entitlement.Credits{Unit: "case", Remaining: 12, Low: true}
	doc.NoticeRules = []alert.Rule{{Kind: alert.LicenseExpiry, Thresholds: []int{60, 7}}, {Kind: alert.CreditsLow, Disabled: true}}
	require.NoError(t, a.acceptEntitlements(c.SignEntitlements(doc)))
	m.Close()
	n, err := a.Notifications()
	require.NoError(t, err)
	require.Len(t, n.Notifications, 1, "%+v", n.Notifications)
	assert.Equal(t, "license_expiry/lic-1/60d", n.Notifications[0].Key, "50 days out, within the site's 60")
}
