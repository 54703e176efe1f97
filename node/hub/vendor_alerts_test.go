package hub

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/mesh/webhook"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// TestVendorAlerts: the vendor's internal list hears of a trial nearing
// its end and of a renewal due, each once, however often (and however
// many processes at once) the rules run; a trial that ended resolves.
func TestVendorAlerts(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr, func(c *Config) {
		c.AlertEmails = []string{"sales@vendor.example"}
		c.AlertInterval = time.Hour
	})
	ctx := t.Context()
	co, err := h.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	require.NoError(t, err)
	coID := co.Msg.GetCompany().GetId()
	trial, err := h.admin.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: coID, Sku: "timesheet-admin"}))
	require.NoError(t, err)
	paid, err := h.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: coID, Sku: "timesheet-admin", Quantity: 2}))
	require.NoError(t, err)
	require.NoError(t, h.s.evaluateVendorAlerts(ctx))
	assert.Empty(t, mailSrv.mails(), "nothing due yet")

	// Five days before the trial ends: its alert, once, even with two
	// evaluations at once (two hub processes).
	trialEnd := time.UnixMilli(trial.Msg.GetLicense().GetExpiresAtMs())
	h.clk.Advance(trialEnd.Add(-5 * 24 * time.Hour).Sub(h.clk.Now()))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { assert.NoError(t, h.s.evaluateVendorAlerts(ctx)) })
	}
	wg.Wait()
	require.NoError(t, h.s.evaluateVendorAlerts(ctx))
	m := mailSrv.wait(t, 1)
	require.Len(t, m, 1)
	assert.Equal(t, []string{"sales@vendor.example"}, m[0].Envelope.To)
	assert.Contains(t, m[0].Subject, "the trial of license "+trial.Msg.GetLicense().GetId())
	assert.Contains(t, m[0].Text, "trial_end/"+trial.Msg.GetLicense().GetId()+"/7d")

	// Ten days before the paid license's end: the renewal reminder; the
	// ended trial resolves.
	expires := time.UnixMilli(paid.Msg.GetLicense().GetExpiresAtMs())
	h.clk.Advance(expires.Add(-10 * 24 * time.Hour).Sub(h.clk.Now()))
	require.NoError(t, h.s.evaluateVendorAlerts(ctx))
	m = mailSrv.wait(t, 2)
	assert.Contains(t, m[1].Subject, "license "+paid.Msg.GetLicense().GetId())
	assert.Contains(t, m[1].Subject, "expires in 10 days")
	var active []string
	require.NoError(t, h.s.store.Read(ctx, func(tx *store.Tx) error {
		as, err := tx.ListVendorAlerts(ctx, true, 0)
		for _, a := range as {
			active = append(active, a.Key)
		}
		return err
	}))
	assert.Equal(t, []string{"license_expiry/" + paid.Msg.GetLicense().GetId() + "/15d"}, active)
	require.NoError(t, h.s.evaluateVendorAlerts(ctx))
	require.NoError(t, h.s.store.Read(ctx, func(tx *store.Tx) error {
		all, err := tx.ListVendorAlerts(ctx, false, 0)
		require.Len(t, all, 2, "the trial's and the renewal's")
		for _, a := range all {
			assert.Equal(t, 1, a.Episodes, "%s fired once (its mail goes in the same transaction)", a.Key)
		}
		return err
	}))
	assert.Len(t, mailSrv.mails(), 2, "each alert mailed once")
}

// TestVendorAlertsByWebhook: a hub with no mail server posts its alerts to
// the vendor's webhook, signed, once each; a receiver that answers 500 gets
// the same delivery again after the backoff.
func TestVendorAlertsByWebhook(t *testing.T) {
	secret := []byte("the-vendor-hook-secret")
	var mu sync.Mutex
	var got []VendorAlertBody
	failures := 1
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
		if !hmac.Equal([]byte(r.Header.Get(webhook.HeaderSignature)), []byte(webhook.Sign(secret, ts, body))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 {
			failures--
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		var b VendorAlertBody
		if json.Unmarshal(body, &b) == nil && b.Delivery == r.Header.Get(webhook.HeaderDelivery) {
			got = append(got, b)
		}
	}))
	t.Cleanup(recv.Close)
	secretFile := filepath.Join(t.TempDir(), "hook.secret")
	require.NoError(t, os.WriteFile(secretFile, append(secret, '\n'), 0o600))
	h := startHub(t, func(c *Config) {
		c.AlertWebhookURL, c.AlertWebhookSecretFile, c.AlertWebhookHTTP = recv.URL+"/hooks?token=t0k", secretFile, true
		c.AlertInterval = time.Hour
	})
	ctx := t.Context()
	_, err := h.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	require.NoError(t, err)
	co, err := h.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	require.NoError(t, err)
	trial, err := h.admin.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: co.Msg.GetCompany().GetId(), Sku: "timesheet-admin"}))
	require.NoError(t, err)
	trialEnd := time.UnixMilli(trial.Msg.GetLicense().GetExpiresAtMs())
	h.clk.Advance(trialEnd.Add(-5 * 24 * time.Hour).Sub(h.clk.Now()))
	require.NoError(t, h.s.evaluateVendorAlerts(ctx))
	require.NoError(t, h.s.evaluateVendorAlerts(ctx))

	// Wait for the hub to record the failed attempt, not just for the
	// receiver to answer it: the retry is due mailFirstRetry after the
	// hub's clock reads at recording, and moving the clock before that
	// would put it out of reach.
	require.Eventually(t, func() bool {
		ms := h.outbox(t)
		return len(ms) == 1 && ms[0].Attempts == 1 && ms[0].LastError != ""
	}, 10*time.Second, 10*time.Millisecond, "the first attempt")
	mu.Lock()
	require.Zero(t, failures, "the first attempt was answered with a failure")
	mu.Unlock()
	h.clk.Advance(mailFirstRetry)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	}, 10*time.Second, 10*time.Millisecond, "the retry")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "trial_end/"+trial.Msg.GetLicense().GetId()+"/7d", got[0].Alert.Key)
	assert.Equal(t, "trial_end", got[0].Alert.Kind)
	assert.NotEmpty(t, got[0].Hub)
}

func TestAlertWebhookConfig(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(*Config)
		want string
	}{
		"http":      {func(c *Config) { c.AlertWebhookURL, c.AlertWebhookSecretFile = "http://hooks.example/x", "/s" }, "https only"},
		"no secret": {func(c *Config) { c.AlertWebhookURL = "https://hooks.example/x" }, "needs its signing secret"},
		"no url":    {func(c *Config) { c.AlertWebhookSecretFile = "/s" }, "without alert_webhook_url"},
		"creds": {func(c *Config) {
			c.AlertWebhookURL, c.AlertWebhookSecretFile = "https://u:p@hooks.example/x?token=zz", "/s"
		}, "without credentials"},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		var problems []string
		cfg.validateMail(func(field, format string, args ...any) {
			problems = append(problems, field+": "+fmt.Sprintf(format, args...))
		})
		joined := strings.Join(problems, "; ")
		assert.Contains(t, joined, c.want, name)
		assert.NotContains(t, joined, "zz", "%s: a token of the URL in the error", name)
		assert.NotContains(t, joined, "u:p", name)
	}
}
