package master

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/alert"
	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/mesh/mailer/mailertest"
	"github.com/licmesh/licmesh/mesh/webhook"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// alertMaster is a master that trusts a test vendor key, and a function
// that puts in force a license of that key expiring at expires.
func alertMaster(t *testing.T) (*Server, func(id string, expires time.Time, seats int)) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, clk := startMaster(t, func(c *Config) { c.VendorKeys = []string{license.FormatPublicKey("vendor-test", pub)} })
	add := func(id string, expires time.Time, seats int) {
		t.Helper()
		now := clk.Now().UTC().Truncate(time.Second)
		p := &license.Payload{
			Format: license.FormatVersion, ID: license.LicenseID(id), Customer: license.Customer{ID: "c1", Name: "Acme"},
			Product: license.Product{SKU: "designer-suite", Name: "Designer Suite", Application: "designer", Version: "1.0.0"},
			Type:    license.Subscription, Subscription: &license.SubscriptionTerms{RenewalPeriodCount: 1, RenewalPeriodUnit: license.Year},
			IssuedAt: now.Add(-time.Hour), NotBefore: now.Add(-time.Hour), ExpiresAt: expires, Grace: license.Duration(7 * 24 * time.Hour),
			Quantity: 1, LicenseTemplate: []license.TemplateEntry{{Name: "designer", Users: seats, UsersCalculation: license.Fixed}},
		}
		text, err := license.SealPayload(p, priv, "vendor-test")
		require.NoError(t, err)
		_, err = adminHandler{s}.AddLicense(t.Context(), connect.NewRequest(&licmeshv1.AddLicenseRequest{Text: string(text)}))
		require.NoError(t, err)
	}
	return s, add
}

// TestExpiryAlertsOnSchedule walks a license from 31 days before its
// expiry, a day at a time, running the leader's rounds (several a day,
// as the leader does): seed 001's five alerts fire, each once, on its
// day; then the expiry. Acknowledging one records who.
func TestExpiryAlertsOnSchedule(t *testing.T) {
	s, add := alertMaster(t)
	clk := s.cfg.Clock.(interface {
		Now() time.Time
		Advance(time.Duration)
	})
	expires := clk.Now().Add(31 * 24 * time.Hour).Truncate(time.Second)
	add("lic-exp", expires, 5)
	ctx := t.Context()
	firedOn := map[string]int{}
	for day := 0; day <= 32; day++ {
		for range 3 {
			require.NoError(t, s.evaluateAlerts(ctx))
		}
		for _, r := range s.fsm.Alerts(fsm.AlertFilter{}) {
			if _, seen := firedOn[r.Key]; !seen {
				firedOn[r.Key] = day
			}
			assert.Equal(t, 1, r.Episodes, "%s fired once", r.Key)
		}
		clk.Advance(24 * time.Hour)
	}
	assert.Equal(t, map[string]int{
		"license_expiry/lic-exp/30d": 1, "license_expiry/lic-exp/15d": 16, "license_expiry/lic-exp/5d": 26,
		"license_expiry/lic-exp/3d": 28, "license_expiry/lic-exp/1d": 30, "license_expired/lic-exp": 31,
	}, firedOn)
	active := s.fsm.Alerts(fsm.AlertFilter{Active: true})
	require.Len(t, active, 1, "only the expiry holds once the license has expired")

	resp, err := s.ackAlert(ctx, "license_expired/lic-exp", "token:abc")
	require.NoError(t, err)
	assert.Equal(t, "token:abc", resp.Msg.GetAlert().GetAckedBy())
	_, err = s.ackAlert(ctx, "license_expired/nope", "token:abc")
	require.Error(t, err)
	assert.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
}

// TestPoolThresholdFiresOnce: a pool filling up fires its threshold once,
// not on every grant; at its limit the limit alert holds instead; a rule
// set by the site changes the threshold; bad rules are refused by field.
func TestPoolThresholdFiresOnce(t *testing.T) {
	s, add := alertMaster(t)
	add("lic-pool", s.now().Add(365*24*time.Hour), 10)
	col := enrolled(t, s, "spare", 1)
	ctx := t.Context()
	for i := range 9 {
		acquire(t, s, "designer", string(rune('a'+i)), col)
		require.NoError(t, s.evaluateAlerts(ctx))
	}
	rs := s.fsm.Alerts(fsm.AlertFilter{Kind: alert.PoolUsage})
	require.Len(t, rs, 1, "%+v", rs)
	assert.Equal(t, "pool_usage/designer/80%", rs[0].Key)
	assert.Equal(t, 1, rs[0].Episodes, "once, through grants 8 and 9")
	acquire(t, s, "designer", "j", col)
	require.NoError(t, s.evaluateAlerts(ctx))
	active := s.fsm.Alerts(fsm.AlertFilter{Kind: alert.PoolUsage, Active: true})
	require.Len(t, active, 1)
	assert.Equal(t, "pool_usage/designer/100%", active[0].Key)
	assert.Equal(t, alert.Critical, active[0].Severity)

	admin := adminHandler{s}
	_, err := admin.SetAlertRule(ctx, connect.NewRequest(&licmeshv1.SetAlertRuleRequest{Rule: &licmeshv1.AlertRule{Kind: "pool_usage", Thresholds: []int32{50}}}))
	require.NoError(t, err)
	require.NoError(t, s.evaluateAlerts(ctx))
	active = s.fsm.Alerts(fsm.AlertFilter{Kind: alert.PoolUsage, Active: true})
	require.Len(t, active, 1)
	assert.Equal(t, "pool_usage/designer/50%", active[0].Key)
	rules, err := admin.ListAlertRules(ctx, connect.NewRequest(&licmeshv1.ListAlertRulesRequest{}))
	require.NoError(t, err)
	for _, r := range rules.Msg.GetRules() {
		if r.GetKind() == "pool_usage" {
			assert.False(t, r.GetDefault())
			assert.Equal(t, []int32{50}, r.GetThresholds())
		}
	}
	for name, r := range map[string]*licmeshv1.AlertRule{
		"unknown kind":       {Kind: "expiry"},
		"negative threshold": {Kind: "license_expiry", Thresholds: []int32{-3}},
		"bad after":          {Kind: "collector_silent", After: "soon"},
		"missing":            nil,
	} {
		_, err := admin.SetAlertRule(ctx, connect.NewRequest(&licmeshv1.SetAlertRuleRequest{Rule: r}))
		require.Error(t, err, name)
		assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "%s: %v", name, err)
		assert.Contains(t, err.Error(), "invalid rule", name)
	}
	_, err = admin.SetAlertRule(ctx, connect.NewRequest(&licmeshv1.SetAlertRuleRequest{Rule: &licmeshv1.AlertRule{Kind: "pool_usage"}, Reset_: true}))
	require.NoError(t, err, "reset to the default")
	_, err = admin.ListAlerts(ctx, connect.NewRequest(&licmeshv1.ListAlertsRequest{Kind: "bogus"}))
	assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
}

// TestAlertChannelsDeliver: a fired alert reaches a real SMTP server and a
// webhook, whose receiver checks the HMAC signature; the webhook's 500 is
// retried when due, once it answers 200 the delivery is done; a test of a
// channel is delivered as any alert; bad channels are refused by field.
func TestAlertChannelsDeliver(t *testing.T) {
	smtpSrv := mailertest.Start(t, "127.0.0.1:0", "alerts", "smtp-secret")
	host, port, err := net.SplitHostPort(smtpSrv.Addr)
	require.NoError(t, err)
	pw := filepath.Join(t.TempDir(), "smtp-password")
	require.NoError(t, os.WriteFile(pw, []byte("smtp-secret\n"), 0o600))

	const secret = "a-webhook-secret-of-some-length"
	var mu sync.Mutex
	var got []WebhookBody
	fail := 1
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
		if !hmac.Equal([]byte(r.Header.Get(webhook.HeaderSignature)), []byte(webhook.Sign([]byte(secret), ts, body))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if fail > 0 {
			fail--
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		var b WebhookBody
		if json.Unmarshal(body, &b) == nil && b.Delivery == r.Header.Get(webhook.HeaderDelivery) {
			got = append(got, b)
		}
	}))
	t.Cleanup(hook.Close)

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, clk := startMaster(t, func(c *Config) {
		c.VendorKeys = []string{license.FormatPublicKey("vendor-test", pub)}
		p, _ := strconv.Atoi(port)
		c.SMTPHost, c.SMTPPort, c.SMTPTLS, c.SMTPUsername, c.SMTPPasswordFile = host, p, "none", "alerts", pw
		c.MailFrom = "licmesh <alerts@acme.example>"
		c.AlertWebhookHTTP = true
	})
	admin := adminHandler{s}
	ctx := t.Context()
	_, err = admin.SetAlertChannel(ctx, connect.NewRequest(&licmeshv1.SetAlertChannelRequest{
		Channel: &licmeshv1.AlertChannel{Id: "ops-hook", Kind: "webhook", Url: hook.URL + "/alerts?token=abc"}, Secret: secret}))
	require.NoError(t, err)
	_, err = admin.SetAlertChannel(ctx, connect.NewRequest(&licmeshv1.SetAlertChannelRequest{
		Channel: &licmeshv1.AlertChannel{Id: "ops-mail", Kind: "email", Emails: []string{"ops@acme.example"}, Kinds: []string{"license_expiry"}}}))
	require.NoError(t, err)
	chans, err := admin.ListAlertChannels(ctx, connect.NewRequest(&licmeshv1.ListAlertChannelsRequest{}))
	require.NoError(t, err)
	require.Len(t, chans.Msg.GetChannels(), 2)
	assert.True(t, chans.Msg.GetChannels()[0].GetHasSecret())
	assert.Contains(t, chans.Msg.GetChannels()[0].GetUrl(), "redacted", "a token in the query is not shown")

	// A person asks for her own alert mail, expiries only.
	_, err = admin.CreateUser(ctx, connect.NewRequest(&licmeshv1.CreateUserRequest{Name: "alice", Role: "viewer", Password: "alice's long password"}))
	require.NoError(t, err)
	alice, _ := s.fsm.User("alice")
	actx := withPrincipal(ctx, userPrincipal(alice))
	_, err = admin.SetAlertPrefs(actx, connect.NewRequest(&licmeshv1.SetAlertPrefsRequest{Prefs: &licmeshv1.AlertPrefs{
		Email: "alice@acme.example", Kinds: []string{"license_expiry"}}}))
	require.NoError(t, err)
	_, err = admin.SetAlertPrefs(actx, connect.NewRequest(&licmeshv1.SetAlertPrefsRequest{User: "bob", Prefs: &licmeshv1.AlertPrefs{}}))
	assert.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err), "a viewer sets another's preferences")
	_, err = admin.SetAlertPrefs(actx, connect.NewRequest(&licmeshv1.SetAlertPrefsRequest{Prefs: &licmeshv1.AlertPrefs{QuietFrom: "22:00"}}))
	assert.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), "half quiet hours")

	now := clk.Now().UTC().Truncate(time.Second)
	p := &license.Payload{
		Format: license.FormatVersion, ID: "lic-mail", Customer: license.Customer{ID: "c1", Name: "Acme"},
		Product: license.Product{SKU: "designer-suite", Name: "Designer Suite", Application: "designer", Version: "1.0.0"},
		Type:    license.Subscription, Subscription: &license.SubscriptionTerms{RenewalPeriodCount: 1, RenewalPeriodUnit: license.Year},
		IssuedAt: now.Add(-time.Hour), NotBefore: now.Add(-time.Hour), ExpiresAt: now.Add(10 * 24 * time.Hour),
		Quantity: 1, LicenseTemplate: []license.TemplateEntry{{Name: "designer", Users: 2, UsersCalculation: license.Fixed}},
	}
	text, err := license.SealPayload(p, priv, "vendor-test")
	require.NoError(t, err)
	_, err = admin.AddLicense(ctx, connect.NewRequest(&licmeshv1.AddLicenseRequest{Text: string(text)}))
	require.NoError(t, err)
	require.NoError(t, s.evaluateAlerts(ctx))

	require.NoError(t, s.deliverDue(ctx))
	mails := smtpSrv.Wait(t, 2)
	var to []string
	for _, m := range mails {
		to = append(to, m.To...)
		assert.Contains(t, string(m.Raw), "license lic-mail (Designer Suite) expires in 10 days")
	}
	assert.ElementsMatch(t, []string{"ops@acme.example", "alice@acme.example"}, to)

	// Alice reads it; the list says so for her.
	list := func() *licmeshv1.ListAlertsResponse {
		r, err := admin.ListAlerts(actx, connect.NewRequest(&licmeshv1.ListAlertsRequest{Unread: true}))
		require.NoError(t, err)
		return r.Msg
	}
	require.Len(t, list().GetAlerts(), 1)
	assert.True(t, list().GetAlerts()[0].GetUnread())
	read, err := admin.MarkAlertsRead(actx, connect.NewRequest(&licmeshv1.MarkAlertsReadRequest{All: true}))
	require.NoError(t, err)
	assert.Zero(t, read.Msg.GetUnread())
	assert.Empty(t, list().GetAlerts())
	ds, err := admin.ListAlertDeliveries(ctx, connect.NewRequest(&licmeshv1.ListAlertDeliveriesRequest{Channel: "ops-hook"}))
	require.NoError(t, err)
	require.Len(t, ds.Msg.GetDeliveries(), 1)
	d := ds.Msg.GetDeliveries()[0]
	assert.Equal(t, "pending", d.GetState())
	assert.Contains(t, d.GetLastError(), "500")
	assert.NotContains(t, d.GetLastError(), "token=abc", "no secret of the URL in the error")

	require.NoError(t, s.deliverDue(ctx))
	assert.Empty(t, got, "not due before its retry")
	clk.Advance(11 * time.Second)
	require.NoError(t, s.deliverDue(ctx))
	mu.Lock()
	require.Len(t, got, 1)
	assert.Equal(t, "license_expiry/lic-mail/15d", got[0].Alert.Key)
	assert.Equal(t, s.id.clusterID, got[0].ClusterID)
	mu.Unlock()
	ds, _ = admin.ListAlertDeliveries(ctx, connect.NewRequest(&licmeshv1.ListAlertDeliveriesRequest{Channel: "ops-hook"}))
	assert.Equal(t, "delivered", ds.Msg.GetDeliveries()[0].GetState())
	assert.Equal(t, uint32(2), ds.Msg.GetDeliveries()[0].GetAttempts())
	assert.Len(t, smtpSrv.Mails(), 2, "each mail went once")

	// A test of the webhook channel.
	tr, err := admin.TestAlertChannel(ctx, connect.NewRequest(&licmeshv1.TestAlertChannelRequest{Id: "ops-hook"}))
	require.NoError(t, err)
	assert.Equal(t, "ops-hook/test#1", tr.Msg.GetDelivery())
	require.NoError(t, s.deliverDue(ctx))
	mu.Lock()
	require.Len(t, got, 2)
	assert.True(t, got[1].Test)
	mu.Unlock()

	// Refusals, each by name, nothing changed.
	s.cfg.AlertWebhookHTTP = false
	for name, c := range map[string]struct {
		req  *licmeshv1.SetAlertChannelRequest
		code connect.Code
		msg  string
	}{
		"http":      {&licmeshv1.SetAlertChannelRequest{Channel: &licmeshv1.AlertChannel{Id: "plain", Kind: "webhook", Url: "http://hooks.example.com/x"}, Secret: secret}, connect.CodeInvalidArgument, "must be https"},
		"kind":      {&licmeshv1.SetAlertChannelRequest{Channel: &licmeshv1.AlertChannel{Id: "k", Kind: "email", Emails: []string{"a@b.example"}, Kinds: []string{"expiry"}}}, connect.CodeInvalidArgument, "not a kind of alert"},
		"no secret": {&licmeshv1.SetAlertChannelRequest{Channel: &licmeshv1.AlertChannel{Id: "new", Kind: "webhook", Url: "https://hooks.example.com/x"}}, connect.CodeInvalidArgument, "secret"},
		"missing":   {&licmeshv1.SetAlertChannelRequest{}, connect.CodeInvalidArgument, "missing"},
	} {
		_, err := admin.SetAlertChannel(ctx, connect.NewRequest(c.req))
		require.Error(t, err, name)
		assert.Equal(t, c.code, connect.CodeOf(err), "%s: %v", name, err)
		assert.Contains(t, err.Error(), c.msg, name)
	}
	s.cfg.SMTPHost = ""
	_, err = admin.SetAlertChannel(ctx, connect.NewRequest(&licmeshv1.SetAlertChannelRequest{Channel: &licmeshv1.AlertChannel{Id: "m", Kind: "email", Emails: []string{"a@b.example"}}}))
	assert.Equal(t, connect.CodeFailedPrecondition, connect.CodeOf(err))
	chans, _ = admin.ListAlertChannels(ctx, connect.NewRequest(&licmeshv1.ListAlertChannelsRequest{}))
	assert.Len(t, chans.Msg.GetChannels(), 2)
	_, err = admin.RemoveAlertChannel(ctx, connect.NewRequest(&licmeshv1.RemoveAlertChannelRequest{Id: "nope"}))
	assert.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
}

// TestAuditRecordsGoOutByWebhook: a webhook channel that follows the audit
// log gets each change asked of the masters, signed like an alert.
func TestAuditRecordsGoOutByWebhook(t *testing.T) {
	const secret = "an-audit-hook-secret"
	var mu sync.Mutex
	var got []WebhookBody
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
		if !hmac.Equal([]byte(r.Header.Get(webhook.HeaderSignature)), []byte(webhook.Sign([]byte(secret), ts, body))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var b WebhookBody
		require.NoError(t, json.Unmarshal(body, &b))
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	s, _ := startMaster(t, func(c *Config) { c.AlertWebhookHTTP = true })
	srv := apiServer(t, s)
	admin := userWithToken(t, s, "ada", fsm.RoleAdmin)
	_, err := adminHandler{s}.SetAlertChannel(t.Context(), connect.NewRequest(&licmeshv1.SetAlertChannelRequest{
		Channel: &licmeshv1.AlertChannel{Id: "siem", Kind: "webhook", Url: hook.URL, Audit: true, Kinds: []string{"pool_usage"}}, Secret: secret}))
	require.NoError(t, err)
	_, err = adminHandler{s}.SetAlertChannel(t.Context(), connect.NewRequest(&licmeshv1.SetAlertChannelRequest{
		Channel: &licmeshv1.AlertChannel{Id: "ops", Kind: "email", Emails: []string{"ops@acme.example"}, Audit: true}}))
	assert.Error(t, err, "audit to an e-mail channel")

	status, msg := call(t, srv, admin, "CreatePool", `{"name":"designer","seats":3,"enforce":"hard"}`)
	require.Equal(t, http.StatusOK, status, msg)
	status, _ = call(t, srv, admin, "CreatePool", `{"name":"designer","seats":3,"enforce":"hard"}`)
	require.NotEqual(t, http.StatusOK, status)
	require.NoError(t, s.deliverDue(t.Context()))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 2, "one per change: %+v", got)
	assert.Equal(t, "audit", got[0].Alert.Kind)
	assert.Contains(t, got[0].Alert.Summary, "user:ada CreatePool: ok")
	assert.Contains(t, got[1].Alert.Summary, "pool exists")
	assert.NotEqual(t, got[0].Delivery, got[1].Delivery)
}
