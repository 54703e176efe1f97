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

func webhook(id string) AlertChannel {
	return AlertChannel{ID: id, Kind: ChannelWebhook, URL: "https://hooks.example.com/" + id, Secret: "0123456789abcdef0123"}
}

// TestDeliveries: a fired alert is queued once to each channel that takes
// it (by kind and severity), a repeat of the firing queues nothing, a
// failure is retried when due and given up after the last attempt, a test
// is queued on demand, and all of it survives a snapshot.
func TestDeliveries(t *testing.T) {
	h := bootstrapped(t)
	h.ok(SetAlertChannelType, SetAlertChannel{Channel: webhook("all"), Now: t0})
	crit := webhook("critical-only")
	crit.MinSeverity = alert.Critical
	h.ok(SetAlertChannelType, SetAlertChannel{Channel: crit, Now: t0})
	mail := AlertChannel{ID: "ops-mail", Kind: ChannelEmail, Emails: []string{"ops@acme.example"}, Kinds: []alert.Kind{alert.PoolUsage}}
	h.ok(SetAlertChannelType, SetAlertChannel{Channel: mail, Now: t0})

	a := poolAlert("p", "80%")
	h.ok(FireAlertsType, FireAlerts{Fire: []alert.Alert{a}, Now: t0 + 1})
	h.ok(FireAlertsType, FireAlerts{Fire: []alert.Alert{a}, Now: t0 + 2})
	ds := h.f.Deliveries(DeliveryFilter{})
	ids := []string{}
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	assert.ElementsMatch(t, []string{"all/pool_usage/p/80%#1", "ops-mail/pool_usage/p/80%#1"}, ids, "a warning: not to the critical-only channel; once")
	due := h.f.Deliveries(DeliveryFilter{DueBy: t0 + 5})
	require.Len(t, due, 2)

	h.ok(AlertDeliveredType, AlertDelivered{ID: "all/pool_usage/p/80%#1", Error: "HTTP 500", NextAt: t0 + 10_000, Now: t0 + 3})
	assert.Len(t, h.f.Deliveries(DeliveryFilter{DueBy: t0 + 5}), 1, "the failed one waits for its retry")
	for i := range maxDeliveryAttempts {
		h.ok(AlertDeliveredType, AlertDelivered{ID: "all/pool_usage/p/80%#1", Error: "HTTP 500", NextAt: t0 + 20_000, Now: t0 + 4 + int64(i)})
	}
	h.ok(AlertDeliveredType, AlertDelivered{ID: "ops-mail/pool_usage/p/80%#1", OK: true, Now: t0 + 20})
	var failed, done int
	for _, d := range h.f.Deliveries(DeliveryFilter{}) {
		if d.Failed {
			failed++
			assert.Equal(t, maxDeliveryAttempts, d.Attempts)
			assert.Equal(t, "HTTP 500", d.LastError)
		}
		if d.Done {
			done++
		}
	}
	assert.Equal(t, [2]int{1, 1}, [2]int{failed, done})
	assert.Empty(t, h.f.Deliveries(DeliveryFilter{DueBy: t0 + 1_000_000}))

	r := h.ok(TestAlertChannelType, TestAlertChannel{Channel: "ops-mail", By: "token:abc", Now: t0 + 30})
	assert.Equal(t, []string{"ops-mail/test#1"}, r.Alerts)
	r = h.apply(TestAlertChannelType, TestAlertChannel{Channel: "nope", By: "token:abc", Now: t0 + 30})
	require.ErrorIs(t, r.Err, ErrUnknownChannel)

	snap := snapshotBytes(t, h.f)
	f := New()
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(snap))))
	assert.Equal(t, h.f.AlertChannels(), f.AlertChannels())
	assert.Equal(t, h.f.Deliveries(DeliveryFilter{}), f.Deliveries(DeliveryFilter{}))
	assert.Equal(t, snap, snapshotBytes(t, f))

	h.ok(SetAlertChannelType, SetAlertChannel{Channel: AlertChannel{ID: "ops-mail"}, Remove: true, Now: t0 + 40})
	assert.Len(t, h.f.AlertChannels(), 2)
	assert.Empty(t, h.f.Deliveries(DeliveryFilter{Channel: "ops-mail", DueBy: t0 + 1_000_000}), "its pending test went with it")
}

// TestChannelValidation refuses bad channels by field.
func TestChannelValidation(t *testing.T) {
	for name, c := range map[string]AlertChannel{
		"id":          {ID: "Ops!", Kind: ChannelEmail, Emails: []string{"a@b.example"}},
		"kind":        {ID: "x", Kind: "sms"},
		"no emails":   {ID: "x", Kind: ChannelEmail},
		"bad email":   {ID: "x", Kind: ChannelEmail, Emails: []string{"not mail"}},
		"bad url":     {ID: "x", Kind: ChannelWebhook, URL: "ftp://x", Secret: "0123456789abcdef"},
		"short key":   {ID: "x", Kind: ChannelWebhook, URL: "https://x.example", Secret: "short"},
		"bad kind":    {ID: "x", Kind: ChannelEmail, Emails: []string{"a@b.example"}, Kinds: []alert.Kind{"nope"}},
		"bad sev":     {ID: "x", Kind: ChannelEmail, Emails: []string{"a@b.example"}, MinSeverity: "loud"},
		"mail secret": {ID: "x", Kind: ChannelEmail, Emails: []string{"a@b.example"}, Secret: "0123456789abcdef"},
	} {
		_, err := Encode(SetAlertChannelType, SetAlertChannel{Channel: c, Now: t0})
		require.ErrorIs(t, err, ErrMalformed, name)
	}
}

// TestNoticeRulesReachTheEntitlements: a rule of a kind products show
// changes what collectors are sent; one of the site's operations does not.
func TestNoticeRulesReachTheEntitlements(t *testing.T) {
	h := bootstrapped(t)
	before := h.f.EntitlementsChanged()
	h.ok(SetAlertRuleType, SetAlertRule{Rule: alert.Rule{Kind: alert.PoolUsage, Thresholds: []int{90}}, By: "admin", Now: t0})
	assert.Equal(t, before, h.f.EntitlementsChanged())
	h.ok(SetAlertRuleType, SetAlertRule{Rule: alert.Rule{Kind: alert.LicenseExpiry, Thresholds: []int{60, 7}}, By: "admin", Now: t0})
	assert.Greater(t, h.f.EntitlementsChanged(), before)
	b, ok := h.f.EntitlementBase()
	require.True(t, ok)
	require.Len(t, b.NoticeRules, 1)
	assert.Equal(t, []int{60, 7}, b.NoticeRules[0].Thresholds)
}
