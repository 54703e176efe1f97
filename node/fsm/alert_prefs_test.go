package fsm

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/alert"
)

func userDeliveries(f *FSM, user string) map[string]int64 {
	out := map[string]int64{}
	for _, d := range f.Deliveries(DeliveryFilter{Channel: UserChannel(user)}) {
		out[d.Alert.Key] = d.NextAt
	}
	return out
}

// TestPersonalAlertMailKeepsQuietHours: a person is mailed the alerts
// their preferences take, at once outside their quiet hours (in their own
// zone) and when the quiet hours end inside them; critical ones come
// through unless they asked otherwise; a disabled account gets nothing.
func TestPersonalAlertMailKeepsQuietHours(t *testing.T) {
	paris, err := loadBuiltinZone("Europe/Paris")
	require.NoError(t, err)
	at := func(h, m int) int64 { return time.Date(2026, 12, 7, h, m, 0, 0, paris).UnixMilli() }
	h := bootstrapped(t)
	for _, name := range []string{"alice", "bob", "carol"} {
		h.ok(CreateUserType, CreateUser{Name: name, Role: RoleViewer, PasswordHash: testPasswordHash, By: "admin", Now: t0})
	}
	quiet := AlertPrefs{Email: "alice@acme.example", Kinds: []alert.Kind{alert.PoolUsage, alert.LicenseExpiry},
		MinSeverity: alert.Warning, QuietFrom: "22:00", QuietTo: "07:00", Zone: "Europe/Paris"}
	h.ok(SetAlertPrefsType, SetAlertPrefs{User: "alice", Prefs: quiet, By: "user:alice", Now: t0})
	strict := quiet
	strict.Email, strict.QuietCritical = "bob@acme.example", true
	h.ok(SetAlertPrefsType, SetAlertPrefs{User: "bob", Prefs: strict, By: "user:bob", Now: t0})
	h.ok(SetAlertPrefsType, SetAlertPrefs{User: "carol", Prefs: AlertPrefs{Email: "carol@acme.example"}, By: "user:carol", Now: t0})
	h.ok(UpdateUserType, UpdateUser{Name: "carol", Disable: true, By: "admin", Now: t0})

	day := poolAlert("p", "80%")
	h.ok(FireAlertsType, FireAlerts{Fire: []alert.Alert{day}, Now: at(13, 0)})
	night := poolAlert("q", "80%")
	info := alert.Alert{Key: "pool_usage/r/50%", Kind: alert.PoolUsage, Subject: "r", Threshold: "50%", Severity: alert.Info, Summary: "r"}
	crit := alert.Alert{Key: "pool_usage/p/100%", Kind: alert.PoolUsage, Subject: "p", Threshold: "100%", Severity: alert.Critical, Summary: "p full"}
	silent := alert.Alert{Key: "collector_silent/c1", Kind: alert.CollectorSilent, Subject: "c1", Severity: alert.Warning, Summary: "c1 silent"}
	h.ok(FireAlertsType, FireAlerts{Fire: []alert.Alert{night, info, crit, silent}, Now: at(23, 30)})

	morning := time.Date(2026, 12, 8, 7, 0, 0, 0, paris).UnixMilli()
	assert.Equal(t, map[string]int64{day.Key: at(13, 0), night.Key: morning, crit.Key: at(23, 30)}, userDeliveries(h.f, "alice"),
		"alice: at once by day, at 07:00 by night, critical at once; not info, not a kind she left out")
	assert.Equal(t, map[string]int64{day.Key: at(13, 0), night.Key: morning, crit.Key: morning}, userDeliveries(h.f, "bob"),
		"bob holds critical alerts too")
	assert.Empty(t, userDeliveries(h.f, "carol"), "a disabled account")

	// Reads are each person's own, and a new episode is unread again.
	unread := h.f.Unread("alice")
	assert.Len(t, unread, 5)
	h.ok(MarkAlertsReadType, MarkAlertsRead{User: "alice", Keys: []string{day.Key, "nonexistent/key"}, Now: at(23, 31)})
	assert.False(t, h.f.Unread("alice")[day.Key])
	assert.True(t, h.f.Unread("bob")[day.Key], "bob's reads are his own")
	h.ok(FireAlertsType, FireAlerts{Resolve: []string{day.Key}, Now: at(23, 32)})
	assert.False(t, h.f.Unread("alice")[day.Key], "resolving is not news")
	h.ok(FireAlertsType, FireAlerts{Fire: []alert.Alert{day}, Now: at(23, 33)})
	assert.True(t, h.f.Unread("alice")[day.Key], "firing again is")
	h.ok(MarkAlertsReadType, MarkAlertsRead{User: "alice", Now: at(23, 34)})
	assert.Empty(t, h.f.Unread("alice"))
	r := h.apply(MarkAlertsReadType, MarkAlertsRead{User: "zed", Now: at(23, 34)})
	require.ErrorIs(t, r.Err, ErrUnknownUser)

	snap := snapshotBytes(t, h.f)
	f := New()
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(snap))))
	assert.Equal(t, h.f.Unread("bob"), f.Unread("bob"))
	assert.Empty(t, f.Unread("alice"))
	assert.Equal(t, h.f.Users(), f.Users())
	assert.Equal(t, snap, snapshotBytes(t, f))
}

func TestAlertPrefsRefuseBadInput(t *testing.T) {
	for name, p := range map[string]AlertPrefs{
		"bad email":      {Email: "alice at acme"},
		"unknown kind":   {Kinds: []alert.Kind{"weather"}},
		"bad severity":   {MinSeverity: "dire"},
		"half quiet":     {QuietFrom: "22:00"},
		"bad clock":      {QuietFrom: "25:00", QuietTo: "07:00", Zone: "UTC"},
		"quiet, no zone": {QuietFrom: "22:00", QuietTo: "07:00"},
		"unknown zone":   {Zone: "Mars/Olympus"},
	} {
		_, err := Encode(SetAlertPrefsType, SetAlertPrefs{User: "alice", Prefs: p, By: "x", Now: t0})
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}
