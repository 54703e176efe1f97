package dashboard_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/node/browsertest"
)

// startBrowser starts a fresh headless Chromium for one test (see
// node/browsertest), or skips loudly when there is none and
// LICMESH_REQUIRE_BROWSER is unset. The returned problems function lists
// console errors, CSP violations and uncaught exceptions seen so far.
func startBrowser(t *testing.T) (ctx context.Context, problems func() []string) {
	t.Helper()
	b := browsertest.Start(t)
	return b.Ctx, b.Problems
}

// screenshot saves the whole page into $LICMESH_DASH_SCREENSHOTS, if set,
// for a person to look at; tests do not read it.
func screenshot(name string) chromedp.Action {
	return browsertest.Screenshot(os.Getenv("LICMESH_DASH_SCREENSHOTS"), "dash-"+name)
}

func run(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action) {
	t.Helper()
	require.NoError(t, chromedp.Run(ctx, actions...), "%s", step)
}

// TestBrowserSignInAndLiveRefresh drives the dashboard in headless Chromium:
// sign in through the form, read the cluster page, go to the pools, watch an
// htmx refresh pick up a changed held count without a reload, open a pool's
// leases, see the licenses and their alerts, be sent back to the form when
// the session expires, and sign out.
func TestBrowserSignInAndLiveRefresh(t *testing.T) {
	e := newTestEnv(t)
	ctx, problems := startBrowser(t)
	base := e.srv.URL

	var loc string
	run(t, ctx, "open the dashboard",
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible("#token", chromedp.ByQuery),
		chromedp.Location(&loc),
		screenshot("login"),
	)
	require.Equal(t, base+"/ui/login", loc, "an anonymous visit did not land on the sign-in form")

	run(t, ctx, "sign in with a wrong token",
		chromedp.SendKeys("#token", "lmt1.adm-42.wrong", chromedp.ByQuery),
		chromedp.Click(".signin button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible(".signin .banner", chromedp.ByQuery),
	)
	var banner string
	run(t, ctx, "read the refusal", chromedp.Text(".signin .banner", &banner, chromedp.ByQuery))
	require.Contains(t, strings.ToLower(banner), "that api token was refused", "refusal banner")

	var masters, leader string
	run(t, ctx, "sign in",
		chromedp.SendKeys("#token", adminToken, chromedp.ByQuery),
		chromedp.Click(".signin button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible("#masters", chromedp.ByQuery),
		chromedp.Text("#masters", &masters, chromedp.ByQuery),
		chromedp.Text("#leader", &leader, chromedp.ByQuery),
		chromedp.Location(&loc),
		screenshot("cluster"),
	)
	assert.Equal(t, base+"/ui/", loc, "where the browser is after sign-in")
	for _, want := range []string{"master-a", "master-b", "master-c", "10.0.0.2:7400", "leader"} {
		assert.Contains(t, masters, want, "masters table")
	}
	assert.Contains(t, leader, "master-a", "leader shown")
	var alerts string
	run(t, ctx, "read the license alerts shown at sign-in",
		chromedp.Text("#license-alerts", &alerts, chromedp.ByQuery))
	for _, want := range []string{"LIC-2025-0001 (BPM Legacy) expired", "LIC-2026-0003 (BPM Runtime) expires in 12 days"} {
		assert.Contains(t, alerts, want, "license alerts")
	}

	var poolsText string
	var bars []string
	run(t, ctx, "go to the pools",
		chromedp.Click(`nav a[href="/ui/pools"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#pools svg.seatbar", chromedp.ByQuery),
		chromedp.Text("#pools", &poolsText, chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#pools svg.seatbar rect.fill')).map(r => r.getAttribute('width'))`, &bars),
	)
	assert.Contains(t, poolsText, "7 / 10", "pools table")
	assert.Contains(t, poolsText, "5 / 4", "pools table")
	assert.Equal(t, "84,120", strings.Join(bars, ","), "seat bar widths")

	// Mark this page; a reload would lose the mark, an htmx swap keeps it.
	var mark string
	run(t, ctx, "mark the page", chromedp.Evaluate(`window.licmeshMark = "same page"; window.licmeshMark`, &mark))
	e.src.setHeld("designer", 9)
	var refreshed bool
	run(t, ctx, "wait for the htmx refresh",
		chromedp.Poll(`document.querySelector('#pools').innerText.includes('9 / 10')`, &refreshed,
			chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#pools svg.seatbar rect.fill')).map(r => r.getAttribute('width'))`, &bars),
		chromedp.Evaluate(`window.licmeshMark || "reloaded"`, &mark),
		screenshot("pools"),
	)
	assert.Equal(t, "same page", mark, "the page reloaded instead of refreshing its table")
	assert.Equal(t, "108", bars[0], "the bar did not follow the held count: widths %v", bars)

	var leases string
	run(t, ctx, "open a pool's leases",
		chromedp.Click(`#pools a[href="/ui/pools/designer"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#leases", chromedp.ByQuery),
		chromedp.Text("#leases", &leases, chromedp.ByQuery),
		screenshot("pool"),
	)
	for _, want := range []string{"alice@example.com", "bob@example.com", "col-01", "1801", "in 50s", "40s ago"} {
		assert.Contains(t, leases, want, "leases table")
	}

	var licenses, expiredColor string
	run(t, ctx, "go to the licenses",
		chromedp.Click(`nav a[href="/ui/licenses"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#licenses svg.seatbar", chromedp.ByQuery),
		chromedp.Text("#licenses", &licenses, chromedp.ByQuery),
		chromedp.Text("#license-alerts", &alerts, chromedp.ByQuery),
		chromedp.Evaluate(`getComputedStyle(document.querySelector('#licenses tr.lic-expired .status')).color`, &expiredColor),
		screenshot("licenses"),
	)
	for _, want := range []string{"LIC-2026-0007", "BPM Studio", "designer 7/10", "expired", "never expires"} {
		assert.Contains(t, licenses, want, "licenses table")
	}
	assert.Contains(t, alerts, "LIC-2025-0001", "the licenses page lacks the alerts")
	assert.Equal(t, "rgb(201, 60, 60)", expiredColor, "an expired license's status is not red")

	var collectors string
	run(t, ctx, "go to the collectors",
		chromedp.Click(`nav a[href="/ui/collectors"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#collectors", chromedp.ByQuery),
		chromedp.Text("#collectors", &collectors, chromedp.ByQuery),
		screenshot("collectors"),
	)
	for _, want := range []string{"col-01", "bpm-prod-1", "12s ago", "5m ago"} {
		assert.Contains(t, collectors, want, "collectors table")
	}

	// The Source fails while the page is open: the table turns into a banner
	// and comes back when the Source does, all without a reload.
	e.src.setErr(errors.New("node: no leader"))
	var bannerText string
	run(t, ctx, "see the Source's error",
		chromedp.WaitVisible("#collectors-live .banner", chromedp.ByQuery),
		chromedp.Text("#collectors-live .banner", &bannerText, chromedp.ByQuery),
		screenshot("error"),
	)
	assert.Contains(t, strings.ToLower(bannerText), "could not load the collectors: node: no leader", "error banner")
	e.src.setErr(nil)
	run(t, ctx, "see the table come back", chromedp.WaitVisible("#collectors", chromedp.ByQuery))

	// The session ends while the page is open: the next poll sends the
	// browser to the sign-in form rather than swapping it into the table.
	e.clock.Advance(13 * time.Hour)
	run(t, ctx, "be sent to sign in when the session expires",
		chromedp.WaitVisible("#token", chromedp.ByQuery),
		chromedp.Location(&loc),
	)
	assert.Equal(t, base+"/ui/login", loc, "where the browser is after expiry")
	var stale int
	run(t, ctx, "look for the old table", chromedp.Evaluate(`document.querySelectorAll('#collectors').length`, &stale))
	assert.Zero(t, stale, "the sign-in form was swapped into the old page")

	run(t, ctx, "sign in again and sign out",
		chromedp.SendKeys("#token", adminToken, chromedp.ByQuery),
		chromedp.Click(".signin button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible("#masters", chromedp.ByQuery),
		chromedp.Click(".signout button", chromedp.ByQuery),
		chromedp.WaitVisible("#token", chromedp.ByQuery),
		chromedp.Navigate(base+"/ui/pools"),
		chromedp.WaitVisible("#token", chromedp.ByQuery),
		chromedp.Location(&loc),
	)
	assert.Equal(t, base+"/ui/login", loc, "where /ui/pools went after signing out")

	for _, p := range problems() {
		// Expected: the refused sign-in's 401, and the poll that found the
		// session expired.
		if strings.Contains(p, "status of 401") &&
			(strings.HasSuffix(p, base+"/ui/login") || strings.HasSuffix(p, base+"/ui/fragments/collectors")) {
			continue
		}
		if strings.Contains(p, "status of 503") && strings.HasSuffix(p, base+"/ui/fragments/collectors") {
			continue // the injected Source failure
		}
		assert.Fail(t, "browser reported: "+p)
	}
}

// TestBrowserSubscriberMetricsToHistory drives seed 004's metrics pages in
// headless Chromium: open Subscriber metrics from the nav, read the month
// drop-down, pick an older month, follow an installation's name to its
// Metrics history, and fetch its workbook with the browser's session.
func TestBrowserSubscriberMetricsToHistory(t *testing.T) {
	e := newTestEnv(t)
	ctx, problems := startBrowser(t)
	base := e.srv.URL

	run(t, ctx, "sign in",
		chromedp.Navigate(base+"/ui/login"),
		chromedp.WaitVisible("#token", chromedp.ByQuery),
		chromedp.SendKeys("#token", adminToken, chromedp.ByQuery),
		chromedp.Click(".signin button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible("#masters", chromedp.ByQuery),
	)

	rowsJS := `Array.from(document.querySelectorAll('#metrics tbody th[scope=row]')).map(th => th.innerText)`
	var months, rows, titles []string
	var selected string
	run(t, ctx, "open Subscriber metrics",
		chromedp.Click(`nav a[href="/ui/metrics"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#metrics", chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#month option')).map(o => o.innerText)`, &months),
		chromedp.Value("#month", &selected, chromedp.ByQuery),
		chromedp.Evaluate(rowsJS, &rows),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#metrics thead th')).slice(0, 4).map(th => th.innerText + "=" + th.title)`, &titles),
		screenshot("metrics"),
	)
	assert.Equal(t, "Mar 2026,Feb 2026,Jan 2026", strings.Join(months, ","), "drop-down, want newest first")
	assert.Equal(t, "2026-03", selected, "drop-down, want the newest selected")
	assert.Equal(t, "acme-prod,Beta Corp,zeta-labs", strings.Join(rows, ","), "rows, want alphabetical")
	assert.Equal(t, "Installation=Installation,Super=Super users,En. staff=Enabled staff,Ac. staff=Active staff",
		strings.Join(titles, ","), "headers, want short labels with long ones as titles")

	var loc string
	run(t, ctx, "pick February",
		chromedp.SetValue("#month", "2026-02", chromedp.ByQuery),
		chromedp.Click(".month-pick button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible(`#metrics a[href="/ui/metrics/history?installation=a%26b+%3Cx%3E"]`, chromedp.ByQuery),
		chromedp.Location(&loc),
		chromedp.Evaluate(rowsJS, &rows),
		chromedp.Value("#month", &selected, chromedp.ByQuery),
	)
	assert.Equal(t, base+"/ui/metrics?month=2026-02", loc, "after picking February")
	assert.Equal(t, "2026-02", selected, "after picking February")
	assert.Equal(t, "a&b <x>,acme-prod,Beta Corp", strings.Join(rows, ","), "February rows")

	var crumbs, h1, download, contentType string
	run(t, ctx, "follow an installation to its history",
		chromedp.Click(`#metrics a[href="/ui/metrics/history?installation=Beta+Corp"]`, chromedp.ByQuery),
		chromedp.WaitVisible(".crumbs", chromedp.ByQuery),
		chromedp.WaitVisible("#metrics", chromedp.ByQuery),
		chromedp.Location(&loc),
		chromedp.Text("h1", &h1, chromedp.ByQuery),
		chromedp.Text(".crumbs", &crumbs, chromedp.ByQuery),
		chromedp.Evaluate(rowsJS, &rows),
		chromedp.AttributeValue("#download", "href", &download, nil, chromedp.ByQuery),
		chromedp.Evaluate(`fetch(document.querySelector('#download').href).then(r => r.status + " " + r.headers.get('Content-Type'))`,
			&contentType, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
		screenshot("history"),
	)
	assert.Equal(t, base+"/ui/metrics/history?installation=Beta+Corp", loc, "history page")
	assert.Equal(t, "Metrics history", h1, "history page")
	assert.Contains(t, crumbs, "Beta Corp", "history page crumbs")
	assert.Equal(t, "Mar 2026,Feb 2026", strings.Join(rows, ","), "history rows, want newest first")
	assert.Equal(t, "/ui/metrics/history.xlsx?installation=Beta+Corp", download, "download link")
	assert.Equal(t, "200 application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", contentType, "download link answer")
	assert.Empty(t, problems(), "browser reported problems")
}
