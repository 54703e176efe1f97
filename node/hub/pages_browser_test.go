package hub

import (
	"os"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/browsertest"
)

// shots is where the browser tests save screenshots for a person to look
// at ($LICMESH_HUB_SCREENSHOTS; none when unset).
func shot(name string) chromedp.Action {
	return browsertest.Screenshot(os.Getenv("LICMESH_HUB_SCREENSHOTS"), "hub-"+name)
}

// browserSignIn signs in through the form.
func browserSignIn(b *browsertest.Browser, t *testing.T, base, email, password, waitFor string) {
	t.Helper()
	b.Run(t, "sign in as "+email,
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible("#email", chromedp.ByQuery),
		chromedp.SendKeys("#email", email, chromedp.ByQuery),
		chromedp.SendKeys("#password", password, chromedp.ByQuery),
		chromedp.Click(".signin button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible(waitFor, chromedp.ByQuery),
	)
}

// fits checks, at the current width, that the page's body does not
// overflow sideways.
func fits(b *browsertest.Browser, t *testing.T, page string) {
	t.Helper()
	var over int
	b.Run(t, "measure "+page, chromedp.Evaluate(browsertest.HorizontalOverflow, &over))
	assert.Zero(t, over, "%s overflows the window sideways by %dpx", page, over)
}

// TestBrowserTrialInOneClick drives the pages in headless Chromium as a
// license manager would: sign in, find the customer with the list's live
// filter, start a trial in one click, download its license file; then the
// same pages at a phone's width. No console error, no CSP violation, and
// nothing wider than the phone.
func TestBrowserTrialInOneClick(t *testing.T) {
	h := startHub(t)
	ctx := t.Context()
	_, err := h.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	require.NoError(t, err)
	for _, name := range []string{"Northwind Traders", "Contoso", "Fabrikam"} {
		_, err := h.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: name, Email: "it@" + strings.Fields(name)[0] + ".example"}))
		require.NoError(t, err)
	}
	b := browsertest.Start(t)
	base := h.url
	browserSignIn(b, t, base, h.init.AdminEmail, h.init.AdminPassword, "#n-companies")
	var companies string
	b.Run(t, "read the overview", chromedp.Text("#n-companies", &companies, chromedp.ByQuery), shot("overview"))
	assert.Equal(t, "3", companies)

	var rows []string
	var loc string
	b.Run(t, "filter the companies as one types",
		chromedp.Click(`nav a[href="/ui/companies"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#companies", chromedp.ByQuery),
		chromedp.Evaluate(`window.hubMark = "same page"`, nil),
		chromedp.SendKeys(`input[name=q]`, "north", chromedp.ByQuery),
		chromedp.Poll(`document.querySelectorAll('#companies tbody tr').length === 1`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#companies tbody td:first-child')).map(td => td.innerText)`, &rows),
		chromedp.Location(&loc),
		shot("companies"),
	)
	assert.Equal(t, []string{"Northwind Traders"}, rows)
	assert.Equal(t, base+"/ui/companies?q=north", loc, "the filter is in the address, to share or reload")
	var mark string
	b.Run(t, "check the filter did not reload the page", chromedp.Evaluate(`window.hubMark || "reloaded"`, &mark))
	assert.Equal(t, "same page", mark)
	b.Run(t, "sort by name, descending, with the heading",
		chromedp.Navigate(base+"/ui/companies"),
		chromedp.WaitVisible("#companies", chromedp.ByQuery),
		chromedp.Evaluate(`window.hubMark = "same page"`, nil),
		chromedp.Click(`#companies thead a[href*="sort=name"]`, chromedp.ByQuery),
		chromedp.Poll(`location.search.includes("dir=desc")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Poll(`document.querySelector('#companies tbody td a').innerText === "Northwind Traders"`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#companies tbody td:first-child')).map(td => td.innerText)`, &rows),
		chromedp.Evaluate(`window.hubMark || "reloaded"`, &mark),
	)
	assert.Equal(t, []string{"Northwind Traders", "Fabrikam", "Contoso"}, rows)
	assert.Equal(t, "same page", mark, "sorting reloaded the page")
	var modules []string
	b.Run(t, "pick a product in the issue form and see its modules",
		chromedp.Navigate(base+"/ui/licenses/new"),
		chromedp.WaitVisible("#issue-form", chromedp.ByQuery),
		chromedp.SetValue(`select[name=sku]`, "timesheet-admin", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('select[name=sku]').dispatchEvent(new Event('change', {bubbles: true}))`, nil),
		chromedp.WaitVisible(`input[name=disable_features]`, chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('input[name=disable_features]')).map(i => i.value)`, &modules),
	)
	assert.Equal(t, []string{"orektic__timesheet", "orektic__reports"}, modules)
	b.Run(t, "go back to the company list", chromedp.Navigate(base+"/ui/companies?q=north"), chromedp.WaitVisible("#companies", chromedp.ByQuery))

	var flash, licenseID string
	b.Run(t, "start a trial in one click",
		chromedp.Click(`#companies tbody a`, chromedp.ByQuery),
		chromedp.WaitVisible(`button.trial-start[data-sku="timesheet-admin"]`, chromedp.ByQuery),
		shot("company"),
		chromedp.Click(`button.trial-start[data-sku="timesheet-admin"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#license-id", chromedp.ByQuery),
		chromedp.Text("#flash", &flash, chromedp.ByQuery),
		chromedp.Text("#license-id", &licenseID, chromedp.ByQuery),
		shot("license"),
	)
	assert.Contains(t, flash, "Trial of timesheet-admin started")
	got, err := h.admin.GetIssuedLicense(ctx, connect.NewRequest(&licmeshv1.GetIssuedLicenseRequest{Id: licenseID}))
	require.NoError(t, err, "the page shows the trial the hub issued")
	assert.Equal(t, "trial", got.Msg.GetLicense().GetType())

	b.Run(t, "download it", b.AllowDownloads(t.TempDir()), chromedp.Click("#download", chromedp.ByQuery))
	file := b.Downloaded(t)
	assert.Equal(t, got.Msg.GetLicense().GetText(), string(file), "the downloaded file is the signed license")
	h.verify(t, &licmeshv1.HubLicense{Id: licenseID, Text: string(file)})

	for _, page := range []string{"/ui/", "/ui/companies", "/ui/licenses", "/ui/licenses/" + licenseID, "/ui/products", "/ui/products/timesheet-admin", "/ui/products/new", "/ui/audit", "/ui/accounts", "/ui/help"} {
		b.Run(t, "desktop "+page, chromedp.Navigate(base+page), chromedp.WaitVisible("main h1", chromedp.ByQuery))
		fits(b, t, page)
	}
	b.Run(t, "take desktop screenshots",
		chromedp.Navigate(base+"/ui/licenses"), chromedp.WaitVisible("#licenses", chromedp.ByQuery), shot("licenses"),
		chromedp.Navigate(base+"/ui/products/new"), chromedp.WaitVisible("#product-form", chromedp.ByQuery), shot("productform"),
		chromedp.Navigate(base+"/ui/audit"), chromedp.WaitVisible("#audit", chromedp.ByQuery), shot("audit"),
	)

	b.Run(t, "become a phone", browsertest.Viewport(browsertest.PhoneWidth, browsertest.PhoneHeight))
	for _, page := range []string{"/ui/", "/ui/companies", "/ui/companies?q=north", "/ui/licenses", "/ui/licenses/" + licenseID, "/ui/products", "/ui/products/new", "/ui/audit", "/ui/quotes", "/ui/accounts", "/ui/keys", "/ui/help"} {
		name := strings.NewReplacer("/ui/", "", "/", "-", "?", "-", "=", "-").Replace(page)
		if name == "" {
			name = "overview"
		}
		b.Run(t, "phone "+page, chromedp.Navigate(base+page), chromedp.WaitVisible("main h1", chromedp.ByQuery), shot("phone-"+name))
		fits(b, t, page)
	}
	var navScrolls bool
	b.Run(t, "reach every link of the top bar on a phone",
		chromedp.Evaluate(`(() => { const n = document.querySelector('.hubbar nav'); return n.scrollWidth <= n.clientWidth || getComputedStyle(n).overflowX === 'auto'; })()`, &navScrolls))
	assert.True(t, navScrolls, "the top bar's links are cut off on a phone")
	assert.Empty(t, b.Problems(), "the browser reported problems")
}

// TestBrowserCustomerPortal drives the customer portal in headless
// Chromium: a customer whose trial has expired signs in, is told so, sees
// every license of the company with its usage and days left, downloads
// one, and reads how to install it by hand; the same on a phone, where the
// table becomes one card per license.
func TestBrowserCustomerPortal(t *testing.T) {
	h := startHub(t)
	ctx := t.Context()
	_, err := h.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	require.NoError(t, err)
	co, err := h.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	require.NoError(t, err)
	coID := co.Msg.GetCompany().GetId()
	_, err = h.admin.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: coID, Sku: "timesheet-admin"}))
	require.NoError(t, err)
	h.clk.Advance(15 * 24 * time.Hour) // the 14-day trial has ended
	paid, err := h.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: coID, Sku: "timesheet-admin", Quantity: 3}))
	require.NoError(t, err)
	acc, err := h.admin.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{Email: "jane@acme.example", Name: "Jane", Role: "customer", CompanyId: coID}))
	require.NoError(t, err)

	b := browsertest.Start(t)
	base := h.url
	browserSignIn(b, t, base, "jane@acme.example", acc.Msg.GetPassword(), "#portal")
	var notice, table string
	var products []string
	b.Run(t, "read the portal",
		chromedp.Text("#alert", &notice, chromedp.ByQuery),
		chromedp.Text("#portal", &table, chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#portal tbody tr td:first-child a')).map(a => a.innerText)`, &products),
		shot("portal"),
	)
	assert.Contains(t, notice, "1 of your licenses has expired")
	assert.Equal(t, []string{"Timesheet Admin User", "Timesheet Admin User"}, products)
	for _, want := range []string{"subscription", "trial", "quantity 3", "orektic__timehseetAdminUser: 1 seat", "not activated", "365", "expired"} {
		assert.Contains(t, table, want, "the portal's table")
	}

	b.Run(t, "download the paid license",
		b.AllowDownloads(t.TempDir()),
		chromedp.Click(`#portal a.download[href$="`+paid.Msg.GetLicense().GetId()+`/file"]`, chromedp.ByQuery))
	assert.Equal(t, paid.Msg.GetLicense().GetText(), string(b.Downloaded(t)))

	var faq string
	b.Run(t, "read how to install it",
		chromedp.Click(`nav a[href="/ui/help"]`, chromedp.ByQuery),
		chromedp.WaitVisible(".faq", chromedp.ByQuery),
		chromedp.Text(".faq", &faq, chromedp.ByQuery),
		shot("help"),
	)
	assert.Contains(t, faq, "meshctl license add")
	assert.Contains(t, faq, "/ui/licenses")
	fits(b, t, "help")

	b.Run(t, "become a phone", browsertest.Viewport(browsertest.PhoneWidth, browsertest.PhoneHeight))
	var display string
	for _, page := range []string{"/ui/", "/ui/licenses/" + paid.Msg.GetLicense().GetId(), "/ui/help", "/ui/keys", "/ui/password"} {
		name := strings.NewReplacer("/ui/", "", "/", "-").Replace(page)
		if name == "" {
			name = "portal"
		}
		b.Run(t, "phone "+page, chromedp.Navigate(base+page), chromedp.WaitVisible("main h1", chromedp.ByQuery), shot("phone-"+name))
		fits(b, t, page)
	}
	b.Run(t, "see the cards",
		chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible("#portal", chromedp.ByQuery),
		chromedp.Evaluate(`getComputedStyle(document.querySelector('#portal tbody tr')).display`, &display))
	assert.Equal(t, "block", display, "on a phone each license is a card")
	assert.Empty(t, b.Problems(), "the browser reported problems")
}
