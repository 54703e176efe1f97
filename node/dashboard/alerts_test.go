package dashboard_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/dashboard"
)

// fakeAlerts is the cluster's alerts as the dashboard reaches them.
type fakeAlerts struct {
	mu     sync.Mutex
	alerts []*licmeshv1.Alert
	acks   []string
}

func (f *fakeAlerts) funcs() dashboard.AlertFuncs {
	return dashboard.AlertFuncs{
		List: func(_ context.Context, req *licmeshv1.ListAlertsRequest) ([]*licmeshv1.Alert, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			var out []*licmeshv1.Alert
			for _, a := range f.alerts {
				if (req.Active && a.GetResolvedAtMs() != 0) || (req.Unacked && a.GetAckedBy() != "") {
					continue
				}
				out = append(out, a)
			}
			return out, nil
		},
		Ack: func(_ context.Context, key, by string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, a := range f.alerts {
				if a.GetKey() == key {
					a.AckedBy, a.AckedAtMs = by, t0.UnixMilli()
					f.acks = append(f.acks, key+" by "+by)
					return nil
				}
			}
			return errors.New("fsm: unknown alert")
		},
	}
}

// TestAlertsPage: the nav counts the alerts that hold and no one
// acknowledged; the page lists active and resolved ones; acknowledging one
// (a signed-in form with its CSRF token) records who, and the count drops.
func TestAlertsPage(t *testing.T) {
	ms := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	f := &fakeAlerts{alerts: []*licmeshv1.Alert{
		{Key: "license_expiry/lic-1/5d", Kind: "license_expiry", Severity: "critical", Summary: "license lic-1 (Designer) expires in 5 days", FiredAtMs: ms(-time.Hour), Episodes: 1},
		{Key: "pool_usage/designer/80%", Kind: "pool_usage", Severity: "warning", Summary: "pool designer is at 80% of its seats", FiredAtMs: ms(-2 * time.Hour), Episodes: 2},
		{Key: "collector_silent/c-1", Kind: "collector_silent", Severity: "warning", Summary: "collector c-1 has not been heard from", FiredAtMs: ms(-48 * time.Hour), ResolvedAtMs: ms(-47 * time.Hour), Episodes: 1},
	}}
	e := newTestEnv(t, func(c *dashboard.Config) { c.Alerts = f.funcs() })
	c := e.newClient()
	c.mustSignIn()
	resp, body := c.get("/ui/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `id="alerts-nav"`)
	assert.Contains(t, body, `<span class="badge" title="2 alerts no one acknowledged">2</span>`)

	resp, body = c.get("/ui/alerts")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	active := body[strings.Index(body, `id="alerts-active"`):strings.Index(body, `id="alerts-past"`)]
	assert.Contains(t, active, "expires in 5 days")
	assert.Contains(t, active, "2 times")
	assert.NotContains(t, active, "collector c-1")
	assert.Contains(t, body[strings.Index(body, `id="alerts-past"`):], "collector c-1")

	// Without the CSRF token, refused; with it, acknowledged by whoever is
	// signed in.
	resp, _ = c.post("/ui/alerts/ack", url.Values{"key": {"pool_usage/designer/80%"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = c.post("/ui/alerts/ack", url.Values{"csrf": {csrfIn(t, body)}, "key": {"pool_usage/designer/80%"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Len(t, f.acks, 1)
	assert.Contains(t, f.acks[0], "pool_usage/designer/80% by ")
	_, body = c.get("/ui/alerts")
	assert.Contains(t, body, `title="1 alerts no one acknowledged">1</span>`)
	resp, _ = c.post("/ui/alerts/ack", url.Values{"csrf": {csrfIn(t, body)}, "key": {"nope"}})
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)

	// A fragment is the page's block.
	resp, frag := c.getHTMX("/ui/fragments/alerts")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, strings.HasPrefix(strings.TrimSpace(frag), `<div id="alerts-live"`), frag)
}

// settingsFake adds read marks, preferences and channels to fakeAlerts.
type settingsFake struct {
	*fakeAlerts
	read     map[string]bool
	prefs    *licmeshv1.AlertPrefs
	channels []*licmeshv1.AlertChannel
	tests    []string
}

func (f *settingsFake) funcs() dashboard.AlertFuncs {
	fs := f.fakeAlerts.funcs()
	list := fs.List
	fs.List = func(ctx context.Context, req *licmeshv1.ListAlertsRequest) ([]*licmeshv1.Alert, error) {
		as, err := list(ctx, &licmeshv1.ListAlertsRequest{Active: req.Active, Unacked: req.Unacked})
		f.mu.Lock()
		defer f.mu.Unlock()
		var out []*licmeshv1.Alert
		for _, a := range as {
			a.Unread = !f.read[a.GetKey()]
			if req.Unread && !a.Unread {
				continue
			}
			out = append(out, a)
		}
		return out, err
	}
	fs.Read = func(_ context.Context, keys []string, all bool) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if all {
			for _, a := range f.alerts {
				f.read[a.GetKey()] = true
			}
		}
		for _, k := range keys {
			f.read[k] = true
		}
		return nil
	}
	fs.Prefs = func(context.Context) (*licmeshv1.AlertPrefs, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.prefs, nil
	}
	fs.SetPrefs = func(_ context.Context, p *licmeshv1.AlertPrefs) error {
		if p.GetQuietFrom() != "" && p.GetZone() == "" {
			return errors.New("quiet hours need a time zone, like Europe/Paris")
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.prefs = p
		return nil
	}
	fs.Channels = func(context.Context) ([]*licmeshv1.AlertChannel, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.channels, nil
	}
	fs.SetChannel = func(_ context.Context, req *licmeshv1.SetAlertChannelRequest) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.channels = append(f.channels, req.Channel)
		return nil
	}
	fs.TestChannel = func(_ context.Context, id string) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.tests = append(f.tests, id)
		return nil
	}
	fs.RemoveChannel = func(context.Context, string) error { return nil }
	return fs
}

// TestAlertsPageForAPerson: a person's unread alerts are marked and
// counted in the nav, and read with a button; they set their own alert
// mail; channels are listed to all and changed, or tested, only by those
// who may.
func TestAlertsPageForAPerson(t *testing.T) {
	f := &settingsFake{fakeAlerts: &fakeAlerts{alerts: []*licmeshv1.Alert{
		{Key: "pool_usage/designer/80%", Kind: "pool_usage", Severity: "warning", Summary: "pool designer is at 80%", FiredAtMs: t0.UnixMilli(), Episodes: 1},
		{Key: "license_expiry/lic-1/5d", Kind: "license_expiry", Severity: "critical", Summary: "lic-1 expires in 5 days", FiredAtMs: t0.UnixMilli(), Episodes: 1},
	}}, read: map[string]bool{"license_expiry/lic-1/5d": true},
		channels: []*licmeshv1.AlertChannel{{Id: "ops-mail", Kind: "email", Emails: []string{"ops@acme.example"}}}}
	e := newTestEnv(t, func(c *dashboard.Config) { c.Alerts = f.funcs() })
	c := e.newClient()
	_, page := c.get("/ui/login")
	resp, body := c.post("/ui/login", url.Values{"csrf": {csrfIn(t, page)}, "user": {"vera"}, "password": {veraPassword}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)

	_, body = c.get("/ui/alerts")
	assert.Contains(t, body, `title="1 alerts you have not read">1</span>`)
	assert.Contains(t, body, `class="alert-warning unread"`)
	assert.Contains(t, body, "Mark all 1 read")
	assert.Contains(t, body, `id="prefs-form"`)
	assert.Contains(t, body, "ops@acme.example", "channels are shown to readers")
	assert.NotContains(t, body, "Send a test", "a viewer tests no channel")
	assert.NotContains(t, body, `id="channel-form"`)

	resp, _ = c.post("/ui/alerts/read", url.Values{"csrf": {csrfIn(t, body)}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, body = c.get("/ui/alerts")
	assert.NotContains(t, body, "alerts you have not read")
	assert.NotContains(t, body, " unread")

	resp, _ = c.post("/ui/alerts/prefs", url.Values{"csrf": {csrfIn(t, body)}, "email": {"vera@acme.example"},
		"kinds": {"license_expiry", "pool_usage"}, "min_severity": {"warning"}, "quiet_from": {"22:00"}, "quiet_to": {"07:00"}, "zone": {"Europe/Paris"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, []string{"license_expiry", "pool_usage"}, f.prefs.GetKinds())
	assert.Equal(t, "Europe/Paris", f.prefs.GetZone())
	_, body = c.get("/ui/alerts")
	assert.Contains(t, body, `value="vera@acme.example"`)
	assert.Contains(t, body, `value="pool_usage" checked`)
	resp, body = c.post("/ui/alerts/prefs", url.Values{"csrf": {csrfIn(t, body)}, "quiet_from": {"22:00"}, "quiet_to": {"07:00"}})
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.Contains(t, body, "need a time zone")

	_, body = c.get("/ui/alerts")
	resp, _ = c.post("/ui/alerts/channels/test", url.Values{"csrf": {csrfIn(t, body)}, "id": {"ops-mail"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a viewer tests a channel")

	// The admin token: no personal part, the channel forms.
	a := e.newClient()
	a.mustSignIn()
	_, body = a.get("/ui/alerts")
	assert.NotContains(t, body, `id="prefs-form"`, "a token bound to nobody has no alert mail of its own")
	assert.Contains(t, body, "Send a test")
	resp, _ = a.post("/ui/alerts/channels/test", url.Values{"csrf": {csrfIn(t, body)}, "id": {"ops-mail"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, []string{"ops-mail"}, f.tests)
	resp, _ = a.post("/ui/alerts/channels", url.Values{"csrf": {csrfIn(t, body)}, "id": {"hook"}, "kind": {"webhook"},
		"url": {"https://hooks.example.com/x"}, "secret": {"0123456789abcdef"}, "kinds": {"pool_usage, license_expiry"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Len(t, f.channels, 2)
	assert.Equal(t, []string{"pool_usage", "license_expiry"}, f.channels[1].GetKinds())
	assert.Equal(t, "https://hooks.example.com/x", f.channels[1].GetUrl())
}

// TestAllocationPageForms: a license manager's purchase form reaches
// Allocation.Request; deciding needs the users permission.
func TestAllocationPageForms(t *testing.T) {
	var mu sync.Mutex
	var got *licmeshv1.RequestPurchaseRequest
	var dept *licmeshv1.SetDepartmentRequest
	var res *licmeshv1.SetReservationRequest
	e := newTestEnv(t, func(c *dashboard.Config) {
		c.Allocation = dashboard.AllocationFuncs{
			Departments: func(context.Context) ([]*licmeshv1.Department, error) { return nil, nil },
			Purchases: func(context.Context) ([]*licmeshv1.Purchase, error) {
				return []*licmeshv1.Purchase{{Id: "pr-1", Sku: "bpm", Module: "reports", State: "requested"}}, nil
			},
			Request: func(_ context.Context, r *licmeshv1.RequestPurchaseRequest) error {
				mu.Lock()
				defer mu.Unlock()
				got = r
				return nil
			},
			Decide: func(context.Context, string, bool, string) error { return nil },
			SetDepartment: func(_ context.Context, r *licmeshv1.SetDepartmentRequest) error {
				mu.Lock()
				defer mu.Unlock()
				dept = r
				return nil
			},
			Reserve: func(_ context.Context, r *licmeshv1.SetReservationRequest) error {
				mu.Lock()
				defer mu.Unlock()
				res = r
				return nil
			},
		}
	})
	c := e.newClient()
	c.mustSignIn()
	_, body := c.get("/ui/allocation")
	assert.Contains(t, body, `id="department-form"`)
	resp, _ := c.post("/ui/departments", url.Values{"csrf": {csrfIn(t, body)}, "name": {"eng"}, "holders": {"alice, bob"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, _ = c.post("/ui/departments/reserve", url.Values{"csrf": {csrfIn(t, body)}, "department": {"eng"}, "pool": {"designer"}, "reserved": {"2"}, "cap": {"3"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, body3 := c.post("/ui/departments/reserve", url.Values{"csrf": {csrfIn(t, body)}, "department": {"eng"}, "pool": {"designer"}, "reserved": {"two"}})
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.Contains(t, body3, `reserved "two" is not a number of seats`)
	mu.Lock()
	assert.Equal(t, []string{"alice", "bob"}, dept.Holders)
	assert.Equal(t, &licmeshv1.SetReservationRequest{Department: "eng", Pool: "designer", Reserved: 2, Cap: 3}, res)
	mu.Unlock()
	assert.Contains(t, body, `id="purchase-form"`)
	assert.Contains(t, body, "module reports")
	assert.NotContains(t, body, ">Approve<", "the admin token here has no users permission")
	resp, _ = c.post("/ui/purchases", url.Values{"csrf": {csrfIn(t, body)}, "sku": {"bpm"}, "pool": {"designer"}, "quantity": {"5"}, "reason": {"team"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	mu.Lock()
	assert.Equal(t, &licmeshv1.RequestPurchaseRequest{Sku: "bpm", Pool: "designer", Quantity: 5, Reason: "team"}, got)
	mu.Unlock()
	resp, body2 := c.post("/ui/purchases", url.Values{"csrf": {csrfIn(t, body)}, "sku": {"bpm"}, "pool": {"designer"}})
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.Contains(t, body2, "give a number of seats, or a module")
	resp, _ = c.post("/ui/purchases/decide", url.Values{"csrf": {csrfIn(t, body)}, "id": {"pr-1"}, "decision": {"approve"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}
