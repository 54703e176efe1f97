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
