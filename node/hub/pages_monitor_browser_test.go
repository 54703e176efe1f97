package hub

import (
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/upstream"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/browsertest"
)

// TestBrowserMonitor drives the usage monitor in headless Chromium as a
// sales person would: the list of installations, then the subscriber grid,
// whose month drop-down swaps the grid (and its download link) in place;
// then an installation's and a company's history with their charts; then
// the pages at a phone's width. No console error, no CSP violation.
func TestBrowserMonitor(t *testing.T) {
	h := startHub(t)
	ctx := t.Context()
	ids := map[string]string{}
	for _, name := range []string{"Northwind", "Contoso"} {
		co, err := h.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: name, Email: "it@" + name + ".example"}))
		require.NoError(t, err)
		ids[name] = co.Msg.GetCompany().GetId()
	}
	h.seedSite(t, "northwind-1", ids["Northwind"], "UTC", "timesheet-admin")
	h.seedUsage(t, "online", upstream.Batch{ClusterID: "northwind-1", Months: []upstream.Month{
		seedMonth("prod", "2026-10", true, 40, 400), seedMonth("prod", "2026-11", false, 44, 420)}})
	h.seedSite(t, "contoso-1", ids["Contoso"], "UTC", "timesheet-admin")
	h.seedUsage(t, "file", upstream.Batch{ClusterID: "contoso-1", Months: []upstream.Month{
		seedMonth("main", "2026-10", true, 7, 70), seedMonth("main", "2026-11", false, 9, 90)}})

	b := browsertest.Start(t)
	base := h.url
	browserSignIn(b, t, base, h.init.AdminEmail, h.init.AdminPassword, "#n-companies")

	var installations []string
	b.Run(t, "open the monitor from the top bar",
		chromedp.Click(`nav a[href="/ui/monitor"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#monitor", chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#monitor tbody td:first-child')).map(td => td.innerText)`, &installations),
		shot("monitor"),
	)
	assert.Equal(t, []string{"Contoso", "Northwind"}, installations)

	var subscribers []string
	var loc, download, mark string
	b.Run(t, "open the subscriber grid",
		chromedp.Click(`a[href="/ui/monitor/grid"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#subscribers", chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#subscribers tbody tr')).map(tr => tr.cells[0].innerText.trim() + ":" + tr.cells[15].innerText)`, &subscribers),
		shot("monitor-grid"),
	)
	assert.Equal(t, []string{"Contoso main:10", "Northwind prod:45"}, subscribers, "November's most users")
	b.Run(t, "choose October in the drop-down",
		chromedp.Evaluate(`window.hubMark = "same page"`, nil),
		chromedp.SetValue(`#month`, "2026-10", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#month').dispatchEvent(new Event('change', {bubbles: true}))`, nil),
		chromedp.Poll(`document.querySelector('#subscribers tbody tr').cells[15].innerText === "8"`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#subscribers tbody tr')).map(tr => tr.cells[0].innerText.trim() + ":" + tr.cells[15].innerText)`, &subscribers),
		chromedp.Location(&loc),
		chromedp.AttributeValue("#download", "href", &download, nil, chromedp.ByQuery),
		chromedp.Evaluate(`window.hubMark || "reloaded"`, &mark),
	)
	assert.Equal(t, []string{"Contoso main:8", "Northwind prod:41"}, subscribers, "October's most users")
	assert.Equal(t, base+"/ui/monitor/grid?month=2026-10", loc, "the month is in the address, to share or reload")
	assert.Equal(t, "/ui/monitor/grid?format=xlsx&month=2026-10", download, "the download follows the month")
	assert.Equal(t, "same page", mark, "the drop-down reloaded the page")

	var points int
	b.Run(t, "follow a subscriber to its history, and an installation",
		// Clicked in the page: the month's rows may be drawn once more
		// after the poll above saw them, and a node the browser had
		// looked up for a protocol-level click is gone by then.
		chromedp.Evaluate(`document.querySelector('#subscribers tbody tr:last-child th a').click()`, nil),
		chromedp.WaitVisible("svg.chart.line", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('svg.chart.line circle').length`, &points),
		shot("monitor-company"),
		chromedp.Navigate(base+"/ui/monitor/northwind-1/prod"),
		chromedp.WaitVisible("#history", chromedp.ByQuery),
		shot("monitor-installation"),
		chromedp.Navigate(base+"/ui/companies/"+ids["Northwind"]),
		chromedp.WaitVisible("#metrics", chromedp.ByQuery),
		shot("company-metrics"),
	)
	assert.Equal(t, 4, points, "two months of users and cases")

	pages := []string{"/ui/monitor", "/ui/monitor/grid", "/ui/monitor/northwind-1/prod", "/ui/monitor/company/" + ids["Northwind"], "/ui/companies/" + ids["Northwind"]}
	for _, page := range pages {
		b.Run(t, "desktop "+page, chromedp.Navigate(base+page), chromedp.WaitVisible("main h1", chromedp.ByQuery))
		fits(b, t, page)
	}
	b.Run(t, "become a phone", browsertest.Viewport(browsertest.PhoneWidth, browsertest.PhoneHeight))
	for _, page := range pages {
		b.Run(t, "phone "+page, chromedp.Navigate(base+page), chromedp.WaitVisible("main h1", chromedp.ByQuery))
		fits(b, t, page)
	}
	b.Run(t, "phone screenshots", chromedp.Navigate(base+"/ui/monitor"), chromedp.WaitVisible("#monitor", chromedp.ByQuery), shot("phone-monitor"))
	assert.Empty(t, b.Problems(), "the browser reported problems")
}
