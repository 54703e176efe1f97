package fsm

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/alert"
)

func poolAlert(pool, threshold string) alert.Alert {
	return alert.Alert{Key: "pool_usage/" + pool + "/" + threshold, Kind: alert.PoolUsage, Subject: pool, Threshold: threshold,
		Severity: alert.Warning, Summary: "pool " + pool + " at " + threshold}
}

// TestAlertsFireOnce: a key fires once however often the leader (or a new
// one) says it holds; it resolves when its condition clears, and fires
// again, unacknowledged, when it comes back.
func TestAlertsFireOnce(t *testing.T) {
	h := bootstrapped(t)
	a := poolAlert("p", "80%")
	r := h.ok(FireAlertsType, FireAlerts{Fire: []alert.Alert{a}, Now: t0 + 1})
	assert.Equal(t, []string{a.Key}, r.Alerts)
	r = h.ok(FireAlertsType, FireAlerts{Fire: []alert.Alert{a}, Now: t0 + 2})
	assert.Empty(t, r.Alerts, "firing already")
	h.ok(AckAlertType, AckAlert{Key: a.Key, By: "alice", Now: t0 + 3})
	got := h.f.Alerts(AlertFilter{})
	require.Len(t, got, 1)
	assert.Equal(t, "alice", got[0].AckedBy)
	assert.Equal(t, t0+1, got[0].FiredAt)
	assert.Empty(t, h.f.Alerts(AlertFilter{Unacked: true}))

	h.ok(FireAlertsType, FireAlerts{Resolve: []string{a.Key}, Now: t0 + 4})
	assert.Empty(t, h.f.Alerts(AlertFilter{Active: true}))
	r = h.ok(FireAlertsType, FireAlerts{Fire: []alert.Alert{a}, Now: t0 + 5})
	assert.Equal(t, []string{a.Key}, r.Alerts, "a new episode")
	got = h.f.Alerts(AlertFilter{Active: true, Unacked: true})
	require.Len(t, got, 1)
	assert.Equal(t, 2, got[0].Episodes)
	assert.Empty(t, got[0].AckedBy)

	r = h.apply(AckAlertType, AckAlert{Key: "pool_usage/none/80%", By: "alice", Now: t0 + 6})
	require.ErrorIs(t, r.Err, ErrUnknownAlert)
}

// TestAlertRulesAndSnapshot: the site's rules and alerts survive a
// snapshot; a reset rule is the default again; bad rules are refused.
func TestAlertRulesAndSnapshot(t *testing.T) {
	h := bootstrapped(t)
	h.ok(SetAlertRuleType, SetAlertRule{Rule: alert.Rule{Kind: alert.LicenseExpiry, Thresholds: []int{7, 60}}, By: "admin", Now: t0})
	h.ok(SetAlertRuleType, SetAlertRule{Rule: alert.Rule{Kind: alert.LicenseExpiry, Subject: "lic-9", Disabled: true}, By: "admin", Now: t0})
	h.ok(FireAlertsType, FireAlerts{Fire: []alert.Alert{poolAlert("p", "80%"), poolAlert("q", "100%")}, Now: t0 + 1})
	h.ok(FireAlertsType, FireAlerts{Resolve: []string{"pool_usage/q/100%"}, Now: t0 + 2})
	rules := h.f.AlertRules()
	require.Len(t, rules, 2)
	assert.Equal(t, []int{60, 7}, rules[0].Thresholds, "sorted, largest first")

	snap := snapshotBytes(t, h.f)
	f := New()
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(snap))))
	assert.Equal(t, h.f.AlertRules(), f.AlertRules())
	assert.Equal(t, h.f.Alerts(AlertFilter{}), f.Alerts(AlertFilter{}))
	assert.Equal(t, snap, snapshotBytes(t, f))

	h.ok(SetAlertRuleType, SetAlertRule{Rule: alert.Rule{Kind: alert.LicenseExpiry}, Reset: true, By: "admin", Now: t0 + 3})
	assert.Len(t, h.f.AlertRules(), 1)
	_, err := Encode(SetAlertRuleType, SetAlertRule{Rule: alert.Rule{Kind: "nope"}, By: "admin", Now: t0})
	require.ErrorIs(t, err, ErrMalformed)
	_, err = Encode(FireAlertsType, FireAlerts{Fire: []alert.Alert{{Key: "x", Kind: alert.PoolUsage, Severity: alert.Warning, Summary: "s"}}, Now: t0})
	require.ErrorIs(t, err, ErrMalformed, "a key that does not start with its kind")
}

// TestAlertsPruned: resolved alerts past the retention are dropped.
func TestAlertsPruned(t *testing.T) {
	h := bootstrapped(t)
	h.ok(FireAlertsType, FireAlerts{Fire: []alert.Alert{poolAlert("p", "80%")}, Now: t0})
	h.ok(FireAlertsType, FireAlerts{Resolve: []string{"pool_usage/p/80%"}, Now: t0 + 1})
	h.ok(FireAlertsType, FireAlerts{Fire: []alert.Alert{poolAlert("q", "80%")}, Now: t0 + alertRetention.Milliseconds() + 2})
	got := h.f.Alerts(AlertFilter{})
	require.Len(t, got, 1)
	assert.Equal(t, "pool_usage/q/80%", got[0].Key)
}
