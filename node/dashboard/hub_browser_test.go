package dashboard_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"

	"github.com/licmesh/licmesh/node/dashboard"
)

// TestBrowserHubActivation drives seed 001's activation in headless
// Chromium, with no script of ours: the button opens the dialog as the
// page's :target and its close link shuts it, step 1 lists the API key's
// companies in the dialog the answer renders open, and step 2 activates
// for the company picked.
func TestBrowserHubActivation(t *testing.T) {
	f := newFakeHub()
	e := newTestEnv(t, func(c *dashboard.Config) { c.Hub = f.funcs() })
	ctx, problems := startBrowser(t)
	base := e.srv.URL

	run(t, ctx, "sign in and open the hub page",
		chromedp.Navigate(base+"/ui/login"),
		chromedp.WaitVisible("#token", chromedp.ByQuery),
		chromedp.SendKeys("#token", adminToken, chromedp.ByQuery),
		chromedp.Click(".signin button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible("#masters", chromedp.ByQuery),
		chromedp.Click(`nav a[href="/ui/hub"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#open-activate", chromedp.ByQuery),
		chromedp.WaitNotVisible("#activate", chromedp.ByQuery),
		screenshot("hub"),
	)
	var state string
	run(t, ctx, "read the status", chromedp.Text("#hub-state", &state, chromedp.ByQuery))
	assert.Contains(t, state, "not activated", "status before activation")

	var loc, role, labelledBy, title string
	run(t, ctx, "open the dialog, close it, open it again",
		chromedp.Click("#open-activate", chromedp.ByQuery),
		chromedp.WaitVisible("#activate-api-key", chromedp.ByQuery),
		chromedp.Location(&loc),
		chromedp.Click("#activate .modal-close", chromedp.ByQuery),
		chromedp.WaitNotVisible("#activate", chromedp.ByQuery),
		chromedp.Click("#open-activate", chromedp.ByQuery),
		chromedp.WaitVisible("#activate-api-key", chromedp.ByQuery),
		chromedp.AttributeValue("#activate", "role", &role, nil, chromedp.ByQuery),
		chromedp.AttributeValue("#activate", "aria-labelledby", &labelledBy, nil, chromedp.ByQuery),
		chromedp.Text("#activate-title", &title, chromedp.ByQuery),
		screenshot("hub-step1"),
	)
	assert.Equal(t, base+"/ui/hub#activate", loc, "the button does not open the dialog as the :target")
	assert.Equal(t, "dialog", role, "the dialog's role")
	assert.Equal(t, "activate-title", labelledBy, "the dialog's label")
	assert.Equal(t, "Activate with your vendor's hub", title, "the dialog's title")

	var companies []string
	run(t, ctx, "step 1: the hub and the API key",
		chromedp.SendKeys("#activate-hub-url", hubURL, chromedp.ByQuery),
		chromedp.SendKeys("#activate-api-key", hubKey, chromedp.ByQuery),
		chromedp.Click("#companies-submit", chromedp.ByQuery),
		chromedp.WaitVisible(`#activate input[name=company][value="co-2"]`, chromedp.ByQuery),
		chromedp.Location(&loc),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#activate label.choice')).map(l => l.innerText.split('\n')[0].trim())`, &companies),
		screenshot("hub-step2"),
	)
	assert.Equal(t, base+"/ui/hub/companies", loc, "after step 1")
	assert.Equal(t, []string{"Acme Corp", "Globex"}, companies, "the companies offered")

	var notice string
	run(t, ctx, "step 2: pick a company and activate",
		chromedp.Click(`#activate input[name=company][value="co-2"]`, chromedp.ByQuery),
		chromedp.Click("#activate-submit", chromedp.ByQuery),
		chromedp.WaitVisible("#hub-notice", chromedp.ByQuery),
		chromedp.WaitNotVisible("#activate", chromedp.ByQuery),
		chromedp.Text("#hub-notice", &notice, chromedp.ByQuery),
		chromedp.Text("#hub-state", &state, chromedp.ByQuery),
		screenshot("hub-activated"),
	)
	assert.Equal(t, "Activated for Globex; licenses in force: LIC-2026-0101, LIC-2026-0102.", notice, "the notice")
	assert.Contains(t, state, "activated with its vendor's hub for Globex (co-2)", "status after activation")
	assert.Empty(t, problems(), "browser reported problems")
}
