package dashboard_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/browsertest"
	"github.com/licmesh/licmesh/node/dashboard"
)

// TestBrowserEveryPageOnAPhone opens every page of the dashboard in
// headless Chromium at a phone's width and a tablet's, signed in with a
// role that sees them all: nothing overflows the window sideways (wide
// tables scroll inside their block), and the nav's links can all be
// reached.
func TestBrowserEveryPageOnAPhone(t *testing.T) {
	f := &settingsFake{fakeAlerts: &fakeAlerts{alerts: []*licmeshv1.Alert{
		{Key: "license_expiry/lic-1/5d", Kind: "license_expiry", Severity: "critical", Summary: "license lic-1 (Designer Suite for Acme Corporation) expires in 5 days", FiredAtMs: t0.UnixMilli(), Episodes: 1},
	}}, read: map[string]bool{},
		channels: []*licmeshv1.AlertChannel{{Id: "ops-hook", Kind: "webhook", Url: "https://hooks.example.com/a/rather/long/path/for/alerts"}}}
	e := newTestEnv(t, func(c *dashboard.Config) {
		c.Alerts = f.funcs()
		c.Allocation = dashboard.AllocationFuncs{
			Departments: func(context.Context) ([]*licmeshv1.Department, error) {
				return []*licmeshv1.Department{{Name: "engineering-and-research", Holders: []string{"alice.longname@acme.example", "bob.longname@acme.example"},
					Held: map[string]uint32{"designer-suite-enterprise": 12}, Reservations: []*licmeshv1.Reservation{{Pool: "designer-suite-enterprise", Reserved: 10, Cap: 15}}}}, nil
			},
			Purchases: func(context.Context) ([]*licmeshv1.Purchase, error) {
				return []*licmeshv1.Purchase{{Id: "pr-3f2a9c81d0e4", Sku: "designer-suite-enterprise", Pool: "designer-suite-enterprise", Quantity: 5,
					State: "requested", RequestedBy: "user:alice.longname@acme.example", Reason: "the new team in the Lyon office"}}, nil
			},
			Request: func(context.Context, *licmeshv1.RequestPurchaseRequest) error { return nil },
			Decide:  func(context.Context, string, bool, string) error { return nil },
		}
		c.Utilization = func(_ context.Context, req *licmeshv1.GetUtilizationRequest) (*licmeshv1.GetUtilizationResponse, error) {
			return &licmeshv1.GetUtilizationResponse{Rows: []*licmeshv1.UtilizationRow{
				{Month: "2026-11", Pool: "designer-suite-enterprise", Seats: 25, Peak: 27, AverageHeld: 14.5, LimitShare: 0.2},
				{Month: "2026-11", Pool: "designer-suite-enterprise", Department: "engineering-and-research", Peak: 12, AverageHeld: 9.5},
			}}, nil
		}
		c.Compliance = func(context.Context, string) (*licmeshv1.GetReconciliationResponse, error) {
			return &licmeshv1.GetReconciliationResponse{JudgedAtMs: t0.UnixMilli(),
				Products:   []*licmeshv1.ProductCompliance{{Sku: "timesheet-admin", Name: "Timesheet Admin User", Licenses: 2, Seats: 25, Held: 27, Status: "over", Detail: "timesheet-admin-user holds 27 of 25"}},
				Mismatches: []*licmeshv1.Mismatch{{Kind: "uncovered_installation", Subject: "c-3uc5tjiy4wwzxlj3", Detail: "collector c-3uc5tjiy4wwzxlj3 on bpm-prod-1.acme.example runs with no license in force covering it"}},
				Inventory:  []*licmeshv1.InventoryRow{{CollectorId: "c-3uc5tjiy4wwzxlj3", Hostname: "bpm-prod-1.acme.example", Version: "1.4.2", Status: "uncovered"}}}, nil
		}
		c.Audit = dashboard.AuditFuncs{List: func(context.Context, *licmeshv1.ListAuditLogRequest) (*licmeshv1.ListAuditLogResponse, error) {
			return &licmeshv1.ListAuditLogResponse{Records: []*licmeshv1.AuditRecord{{Seq: 1, AtMs: t0.UnixMilli(), Actor: "user:alice.longname@acme.example",
				Role: "license_manager", Addr: "[2001:db8::1234]:51234", Via: "dashboard", Action: "ActivateCluster",
				Commands: []string{"SetUpstream", "AddLicense", "AddLicense"}, Outcome: "ok", RequestId: "0123456789abcdef01234567"}}}, nil
		}}
	})
	b := browsertest.Start(t)
	base := e.srv.URL
	b.Run(t, "sign in", chromedp.Navigate(base+"/ui/login"), chromedp.WaitVisible("#token", chromedp.ByQuery),
		chromedp.SendKeys("#token", adminToken, chromedp.ByQuery), chromedp.Click(".signin button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible("#masters", chromedp.ByQuery))
	pages := []string{"/ui/", "/ui/collectors", "/ui/pools", "/ui/pools/designer", "/ui/licenses", "/ui/metrics", "/ui/alerts", "/ui/audit", "/ui/compliance", "/ui/reports", "/ui/allocation"}
	for _, size := range []struct {
		name string
		w, h int64
	}{{"phone", browsertest.PhoneWidth, browsertest.PhoneHeight}, {"tablet", 768, 1024}} {
		b.Run(t, "become a "+size.name, browsertest.Viewport(size.w, size.h))
		for _, page := range pages {
			b.Run(t, size.name+" "+page, chromedp.Navigate(base+page), chromedp.WaitVisible("main h1", chromedp.ByQuery),
				screenshot(size.name+"-"+strings.NewReplacer("/ui/", "", "/", "-").Replace(page)))
			var over int
			b.Run(t, "measure "+page, chromedp.Evaluate(browsertest.HorizontalOverflow, &over))
			assert.Zero(t, over, "%s on a %s overflows the window sideways by %dpx", page, size.name, over)
		}
		var navOK bool
		b.Run(t, "reach the nav's links", chromedp.Evaluate(`(() => { const n = document.querySelector('.topbar nav');
			return n.scrollWidth <= n.clientWidth || getComputedStyle(n).overflowX === 'auto'; })()`, &navOK))
		assert.True(t, navOK, "the nav's links are cut off on a %s", size.name)
	}
	assert.Empty(t, b.Problems(), "the browser reported problems")
}
