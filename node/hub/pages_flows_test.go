package hub

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// follow posts a form that must succeed and returns where it led.
func (u *webUser) follow(path string, form url.Values) (string, string) {
	u.t.Helper()
	resp, body := u.post(path, form)
	require.Equal(u.t, http.StatusSeeOther, resp.StatusCode, "%s: %s", path, alert(body))
	to := resp.Header.Get("Location")
	status, page := u.get(to)
	require.Equal(u.t, http.StatusOK, status, to)
	return to, page
}

var flashText = regexp.MustCompile(`id="flash">([^<]*)<`)

// TestPagesChangeThroughTheAPI makes a product, a company and a trial with
// the forms, then extends, converts, packs, tailors and revokes through
// the license page: each lands where the API would have put it, with the
// API's audit record, made by the person signed in.
func TestPagesChangeThroughTheAPI(t *testing.T) {
	h := startHub(t)
	ctx := t.Context()
	acc, err := h.admin.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{Email: "lm@vendor.example", Name: "Lee", Role: "license_manager"}))
	require.NoError(t, err)
	lm := h.webAs(t, "lm@vendor.example", acc.Msg.GetPassword())

	// "Add a row" shows the form again with one more row, saving nothing.
	resp, body := lm.post("/ui/products", url.Values{"sku": {"bpm-studio"}, "add_row": {"license_template"},
		"license_template.name": {"designer", ""}, "license_template.users": {"1", ""}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 3, strings.Count(body, `name="license_template.name"`), "the typed row, the empty one, and the added one")
	assert.Contains(t, body, `value="designer"`)

	to, page := lm.follow("/ui/products", productFormValues("bpm-studio"))
	assert.Equal(t, "/ui/products/bpm-studio", to)
	assert.Contains(t, flashText.FindStringSubmatch(page)[1], "saved as version 1")
	p, err := h.admin.GetProduct(ctx, connect.NewRequest(&licmeshv1.GetProductRequest{Sku: "bpm-studio"}))
	require.NoError(t, err)
	pr := p.Msg.GetProduct()
	assert.Equal(t, "subscription", pr.GetType())
	assert.EqualValues(t, 30, pr.GetTrialPeriodCount())
	require.Len(t, pr.GetLicenseTemplate(), 2, "the empty row is dropped")
	assert.Equal(t, "per qty", pr.GetLicenseTemplate()[0].GetUsersCalculation())
	assert.Equal(t, "soft", pr.GetLicenseTemplate()[1].GetEnforce())
	assert.Equal(t, "simulation", pr.GetFeatures()[0].GetName())
	// The edit form comes back filled in.
	_, page = lm.get("/ui/products/bpm-studio/edit")
	assert.Contains(t, page, `value="viewer"`)
	assert.Contains(t, page, `name="sku" value="bpm-studio" required placeholder="timesheet-admin" readonly`)

	to, _ = lm.follow("/ui/companies", url.Values{"name": {"Acme"}, "email": {"it@acme.example"}})
	co := strings.TrimPrefix(to, "/ui/companies/")
	to, page = lm.follow("/ui/companies/"+co+"/trials", url.Values{"sku": {"bpm-studio"}})
	trial := strings.TrimPrefix(to, "/ui/licenses/")
	assert.Contains(t, flashText.FindStringSubmatch(page)[1], "Trial of bpm-studio started")

	// The file is the signed license, named for it.
	resp, file := lm.send(http.MethodGet, "/ui/licenses/"+trial+"/file", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, `attachment; filename="`+trial+`.lic"`, resp.Header.Get("Content-Disposition"))
	v := h.verify(t, &licmeshv1.HubLicense{Id: trial, Text: file})
	assert.Equal(t, license.Trial, v.Type)

	h.clk.Advance(time.Hour)
	to, _ = lm.follow("/ui/licenses/"+trial+"/extend", url.Values{"by": {""}})
	extended := strings.TrimPrefix(to, "/ui/licenses/")
	to, _ = lm.follow("/ui/licenses/"+extended+"/convert", url.Values{"quantity": {"3"}})
	paid := strings.TrimPrefix(to, "/ui/licenses/")
	to, page = lm.follow("/ui/licenses/"+paid+"/add", url.Values{"add_quantity": {"2"}})
	packed := strings.TrimPrefix(to, "/ui/licenses/")
	assert.Contains(t, flashText.FindStringSubmatch(page)[1], "2 seats added: license "+packed+" replaces "+paid)
	to, _ = lm.follow("/ui/licenses", url.Values{"company_id": {co}, "sku": {"bpm-studio"}, "quantity": {"1"}, "duration": {"90d"},
		"disable_features": {"simulation"}, "credits": {"500"}, "credit_unit": {"case"}})
	tailored := strings.TrimPrefix(to, "/ui/licenses/")
	to, _ = lm.follow("/ui/licenses/"+tailored+"/add", url.Values{"enable_features": {"simulation"}})
	moduled := strings.TrimPrefix(to, "/ui/licenses/")
	_, page = lm.follow("/ui/licenses/"+moduled+"/revoke", url.Values{"confirm": {moduled}})
	assert.Contains(t, page, "This license was revoked")

	got, err := h.admin.GetCompany(ctx, connect.NewRequest(&licmeshv1.GetCompanyRequest{Id: co}))
	require.NoError(t, err)
	status := map[string]string{}
	for _, l := range got.Msg.GetLicenses() {
		status[l.GetId()] = l.GetStatus()
	}
	assert.Equal(t, map[string]string{trial: "superseded", extended: "superseded", paid: "superseded", packed: "current", tailored: "superseded", moduled: "revoked"}, status)
	pk, err := h.admin.GetIssuedLicense(ctx, connect.NewRequest(&licmeshv1.GetIssuedLicenseRequest{Id: packed}))
	require.NoError(t, err)
	assert.EqualValues(t, 5, pk.Msg.GetLicense().GetQuantity())
	ml := h.verify(t, mustLicense(t, h, moduled))
	assert.True(t, ml.FeatureEnabled("simulation"))
	require.NotNil(t, ml.Credits)
	assert.EqualValues(t, 500, ml.Credits.Balance)

	audit, err := h.admin.ListAudit(ctx, connect.NewRequest(&licmeshv1.ListAuditRequest{Limit: 100}))
	require.NoError(t, err)
	var actions []string
	for _, e := range audit.Msg.GetEntries() {
		if e.GetActor() == "lm@vendor.example" {
			actions = append(actions, e.GetAction())
			assert.Equal(t, "127.0.0.1", e.GetRemote(), "the audit records where the browser was")
		}
	}
	for _, want := range []string{"product.save", "company.create", "trial.created", "license.extended", "trial.converted", "license.added", "license.issued", "license.revoked"} {
		assert.Contains(t, actions, want, "the pages' changes are audited as the API's")
	}

	// The company page tells its story.
	_, page = lm.get("/ui/companies/" + co)
	for _, want := range []string{"trial.created", "license.extended", "trial.converted", "license.added", "license.revoked", `id="n-current">1<`, "trial already used"} {
		assert.Contains(t, page, want, "the company page")
	}
}

func mustLicense(t *testing.T, h *testHub, id string) *licmeshv1.HubLicense {
	t.Helper()
	r, err := h.admin.GetIssuedLicense(t.Context(), connect.NewRequest(&licmeshv1.GetIssuedLicenseRequest{Id: id}))
	require.NoError(t, err)
	return r.Msg.GetLicense()
}

// csvRows fetches a list as CSV.
func (u *webUser) csv(path string) [][]string {
	u.t.Helper()
	resp, body := u.send(http.MethodGet, path, nil)
	require.Equal(u.t, http.StatusOK, resp.StatusCode, path)
	require.Equal(u.t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Contains(u.t, resp.Header.Get("Content-Disposition"), "attachment")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(u.t, err, path)
	return rows
}

var firstCells = regexp.MustCompile(`<tr[^>]*>\s*<td data-label="[^"]+"><a[^>]*>([^<]*)</a>`)

// cells lists the first column's links of a list page, in order.
func cells(body string) []string {
	var out []string
	for _, m := range firstCells.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestListsFilterSortPageAndExport: the lists filter, sort and page on the
// server from their query, and export exactly their rows as CSV with every
// formula-looking cell made text.
func TestListsFilterSortPageAndExport(t *testing.T) {
	h := startHub(t)
	ctx := t.Context()
	_, err := h.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	require.NoError(t, err)
	var ids []string
	for i := range 60 {
		c, err := h.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: fmt.Sprintf("Company %02d", i), Email: fmt.Sprintf("it@c%02d.example", i)}))
		require.NoError(t, err)
		ids = append(ids, c.Msg.GetCompany().GetId())
	}
	evil, err := h.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: `=HYPERLINK("http://evil.example","x")`, Email: "it@evil.example"}))
	require.NoError(t, err)
	for _, id := range ids[:3] {
		_, err := h.admin.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: id, Sku: "timesheet-admin"}))
		require.NoError(t, err)
	}
	h.clk.Advance(20 * 24 * time.Hour) // those trials have expired
	for i, id := range ids[3:6] {
		_, err := h.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: id, Sku: "timesheet-admin", Quantity: int64(i + 1)}))
		require.NoError(t, err)
	}
	_, err = h.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: evil.Msg.GetCompany().GetId(), Sku: "timesheet-admin", Quantity: 1, Type: "perpetual"}))
	require.NoError(t, err)
	admin := h.webAs(t, h.init.AdminEmail, h.init.AdminPassword)

	// Companies: 61, by name, 50 to a page.
	_, body := admin.get("/ui/companies")
	assert.Contains(t, body, "1–50 of 61")
	names := cells(body)
	require.Len(t, names, 50)
	assert.Equal(t, "=HYPERLINK(&#34;http://evil.example&#34;,&#34;x&#34;)", names[0], "sorted by name: = comes first")
	assert.Equal(t, "Company 48", names[49])
	_, body = admin.get("/ui/companies?page=2")
	assert.Contains(t, body, "51–61 of 61")
	assert.Equal(t, "Company 59", cells(body)[10])
	_, body = admin.get("/ui/companies?sort=name&dir=desc")
	assert.Equal(t, "Company 59", cells(body)[0])
	assert.Contains(t, body, `href="/ui/companies?dir=asc&amp;sort=name"`, "the sorted heading reverses the order")
	_, body = admin.get("/ui/companies?q=company+0")
	assert.Contains(t, body, "1–10 of 10")
	rows := admin.csv("/ui/companies?format=csv&sort=licenses&dir=desc")
	require.Len(t, rows, 62)
	var counts []string
	for _, r := range rows[1:9] {
		counts = append(counts, r[3])
	}
	assert.Equal(t, []string{"1", "1", "1", "1", "1", "1", "1", "0"}, counts, "sorted by licenses in force, most first")

	rows = admin.csv("/ui/companies?format=csv&q=company+0&sort=name&dir=desc")
	require.Len(t, rows, 11, "a header and every matching row, not one page")
	assert.Equal(t, []string{"Name", "Email", "Reseller", "Licenses", "Trials", "Created", "ID"}, rows[0])
	assert.Equal(t, "Company 09", rows[1][0])
	rows = admin.csv("/ui/companies?format=csv&q=hyperlink")
	require.Len(t, rows, 2)
	assert.Equal(t, `'=HYPERLINK("http://evil.example","x")`, rows[1][0], "a formula is exported as text")

	// Licenses: filter by company, SKU, type and status; sort by days left.
	_, body = admin.get("/ui/licenses?status=expired")
	assert.Contains(t, body, "1–3 of 3")
	_, body = admin.get("/ui/licenses?type=subscription&sku=timesheet-admin&status=current")
	assert.Contains(t, body, "1–3 of 3")
	_, body = admin.get("/ui/licenses?company=" + ids[4])
	assert.Contains(t, body, "1–1 of 1")
	assert.Contains(t, body, "Company 04")
	_, body = admin.get("/ui/licenses?type=perpetual")
	assert.Contains(t, body, "never")
	rows = admin.csv("/ui/licenses?format=csv&sort=quantity&dir=desc&type=subscription")
	require.Len(t, rows, 4)
	assert.Equal(t, []string{"License", "Company", "Product", "SKU", "Type", "Qty", "Status", "Issued", "Expires", "Days left"}, rows[0])
	assert.Equal(t, []string{"3", "2", "1"}, []string{rows[1][5], rows[2][5], rows[3][5]})
	assert.Equal(t, "365", rows[1][9])
	rows = admin.csv("/ui/licenses?format=csv&sort=left")
	assert.Equal(t, "expired", rows[1][9], "fewest days left first")
	assert.Equal(t, "never", rows[len(rows)-1][9], "a perpetual license last")
	rows = admin.csv("/ui/licenses?format=csv&type=perpetual")
	assert.Equal(t, `'=HYPERLINK("http://evil.example","x")`, rows[1][1])

	// The overview counts them and lists what needs attention.
	_, body = admin.get("/ui/")
	assert.Contains(t, body, `id="n-companies">61<`)
	assert.Contains(t, body, `id="n-expired" class="status expired">3<`)
	assert.Contains(t, body, `7 licenses issued from`)
}

// TestSignInPage: the sign-in form's refusals, the way back to the page
// asked for (and never to another site), sign-out, the session's end, and
// a customer's notice of expired licenses at each sign-in.
func TestSignInPage(t *testing.T) {
	h := startHub(t)
	ctx := t.Context()
	_, err := h.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	require.NoError(t, err)
	co, err := h.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	require.NoError(t, err)
	coID := co.Msg.GetCompany().GetId()
	_, err = h.admin.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: coID, Sku: "timesheet-admin"}))
	require.NoError(t, err)
	cust, err := h.admin.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{Email: "jane@acme.example", Name: "Jane", Role: "customer", CompanyId: coID}))
	require.NoError(t, err)

	form := func(u *webUser, email, password, next string) (*http.Response, string) {
		_, body := u.get("/ui/login")
		m := csrfField.FindStringSubmatch(body)
		require.NotNil(t, m)
		return u.send(http.MethodPost, "/ui/login", url.Values{"csrf": {m[1]}, "email": {email}, "password": {password}, "next": {next}})
	}
	u := h.web(t)
	resp, body := form(u, h.init.AdminEmail, "wrong password!", "")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, alert(body), "Wrong email or password")
	assert.Contains(t, body, `value="admin@vendor.example"`, "the email is kept")
	resp, body = form(u, "", "x", "")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, alert(body), "email")

	// Back to the page asked for; never elsewhere.
	resp, _ = u.send(http.MethodGet, "/ui/licenses?type=trial", nil)
	assert.Equal(t, "/ui/login?next=%2Fui%2Flicenses%3Ftype%3Dtrial", resp.Header.Get("Location"))
	_, body = u.get(resp.Header.Get("Location"))
	assert.Contains(t, body, `name="next" value="/ui/licenses?type=trial"`)
	for next, want := range map[string]string{"/ui/licenses?type=trial": "/ui/licenses?type=trial", "//evil.example/ui/": "/ui/", "https://evil.example/": "/ui/", "/ui/\\evil": "/ui/"} {
		u := h.web(t)
		resp, _ := form(u, h.init.AdminEmail, h.init.AdminPassword, next)
		assert.Equal(t, want, resp.Header.Get("Location"), "next=%s", next)
	}

	// No notice for staff, nor for a customer whose licenses are fine.
	staff := h.webAs(t, h.init.AdminEmail, h.init.AdminPassword)
	_, body = staff.get("/ui/")
	assert.NotContains(t, body, `id="alert"`)
	c := h.webAs(t, "jane@acme.example", cust.Msg.GetPassword())
	_, body = c.get("/ui/")
	assert.NotContains(t, body, `id="alert"`)
	h.clk.Advance(15 * 24 * time.Hour)
	c = h.web(t)
	resp, _ = form(c, "jane@acme.example", cust.Msg.GetPassword(), "")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, body = c.get("/ui/")
	assert.Contains(t, body, "1 of your licenses has expired", "the notice at sign-in")
	assert.Contains(t, body, `class="status expired"`)
	_, body = c.get("/ui/")
	assert.NotContains(t, body, `id="alert"`, "the notice is shown once per sign-in")

	// Sign-out ends the session on the hub, not just in the browser.
	staffCookies := staff.hc.Jar.Cookies(mustURL(t, h.url+"/ui/"))
	resp, _ = staff.post("/ui/logout", nil)
	assert.Equal(t, "/ui/login", resp.Header.Get("Location"))
	replay := h.web(t)
	replay.hc.Jar.SetCookies(mustURL(t, h.url+"/ui/"), staffCookies)
	resp, _ = replay.send(http.MethodGet, "/ui/", nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "the old session cookie still works")

	// A session ends at its TTL: a page goes to the form, an htmx request
	// is told to go there instead of swapping the form into a table.
	h.clk.Advance(h.s.cfg.SessionTTL)
	resp, _ = c.send(http.MethodGet, "/ui/licenses/x", nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url+"/ui/companies?q=a", nil)
	require.NoError(t, err)
	req.Header.Set("HX-Request", "true")
	r, err := c.hc.Do(req)
	require.NoError(t, err)
	r.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, r.StatusCode)
	assert.Equal(t, "/ui/login?next=%2Fui%2Fcompanies%3Fq%3Da", r.Header.Get("HX-Redirect"))

	// Guessing is slowed as the API's sign-in slows it.
	g := h.web(t)
	for range signinMaxFailures {
		form(g, "jane@acme.example", "guess-guess-guess", "")
	}
	resp, body = form(g, "jane@acme.example", cust.Msg.GetPassword(), "")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Contains(t, alert(body), "failed sign-ins")
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

// TestOwnAccountPages: an API key shown once and working, then revoked; a
// password changed; an account made by an admin, its password shown once,
// then disabled.
func TestOwnAccountPages(t *testing.T) {
	w := newPageWorld(t)
	admin := w.as["admin"]
	resp, body := admin.post("/ui/keys", url.Values{"name": {"ci"}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := regexp.MustCompile(`readonly value="(lmh1\.[^"]+)"`).FindStringSubmatch(body)
	require.NotNil(t, m, "the new key is shown")
	secret := m[1]
	c := w.client(t, secret)
	who, err := c.WhoAmI(t.Context(), connect.NewRequest(&licmeshv1.WhoAmIRequest{}))
	require.NoError(t, err)
	assert.Equal(t, w.init.AdminEmail, who.Msg.GetEmail())
	_, body = admin.get("/ui/keys")
	assert.NotContains(t, body, secret, "shown once")
	id := strings.Split(secret, ".")[1]
	admin.follow("/ui/keys/"+id+"/revoke", nil)
	_, err = c.WhoAmI(t.Context(), connect.NewRequest(&licmeshv1.WhoAmIRequest{}))
	assert.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "a revoked key")

	// The pages take an API key too, for scripts (a CSV export, say).
	resp, body = admin.send(http.MethodGet, "/ui/keys?format=csv", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "Name,Key ID,Created,Last used,Revoked")

	// A password changed with the form.
	lm := w.as["license_manager"]
	_, page := lm.follow("/ui/password", url.Values{"old_password": {w.password["lm@vendor.example"]}, "new_password": {"correct horse battery"}, "new_password_again": {"correct horse battery"}})
	assert.Contains(t, page, "Your password was changed")
	h2 := w.web(t)
	_, body = h2.get("/ui/login")
	resp, _ = h2.send(http.MethodPost, "/ui/login", url.Values{"csrf": {csrfField.FindStringSubmatch(body)[1]}, "email": {"lm@vendor.example"}, "password": {w.password["lm@vendor.example"]}})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the old password")
	w.webAs(t, "lm@vendor.example", "correct horse battery")

	// An account: the password shown once, then disabled.
	resp, body = admin.post("/ui/accounts", url.Values{"email": {"new@vendor.example"}, "name": {"New Person"}, "role": {"sales"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, alert(body))
	pw := regexp.MustCompile(`readonly value="([^"]+)" aria-label="the new password"`).FindStringSubmatch(body)
	require.NotNil(t, pw, "the new password is shown")
	w.webAs(t, "new@vendor.example", pw[1])
	_, body = admin.get("/ui/accounts?role=sales&status=active")
	assert.Contains(t, body, "new@vendor.example")
	accounts, err := w.admin.ListAccounts(t.Context(), connect.NewRequest(&licmeshv1.ListAccountsRequest{Role: "sales"}))
	require.NoError(t, err)
	for _, a := range accounts.Msg.GetAccounts() {
		if a.GetEmail() == "new@vendor.example" {
			admin.follow("/ui/accounts/"+a.GetId()+"/disable", nil)
		}
	}
	_, body = admin.get("/ui/accounts?status=disabled")
	assert.Contains(t, body, "new@vendor.example")
	g := w.web(t)
	_, body = g.get("/ui/login")
	resp, _ = g.send(http.MethodPost, "/ui/login", url.Values{"csrf": {csrfField.FindStringSubmatch(body)[1]}, "email": {"new@vendor.example"}, "password": {pw[1]}})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a disabled account")

	// A license manager makes customers' users only, and sees only them.
	_, body = lm.get("/ui/accounts")
	assert.NotContains(t, body, "<option>admin</option>", "a license manager is offered the admin role")
	assert.NotContains(t, body, "sales-page@vendor.example")
	resp, _ = lm.post("/ui/accounts", url.Values{"email": {"boss@vendor.example"}, "name": {"Boss"}, "role": {"admin"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a license manager making an admin")
}

// TestAuditPages pages back through a log longer than a page whose
// entries share one millisecond (the clock does not move): every entry is
// shown once, and the filters select.
func TestAuditPages(t *testing.T) {
	h := startHub(t)
	for i := range 70 {
		_, err := h.admin.CreateReseller(t.Context(), connect.NewRequest(&licmeshv1.CreateResellerRequest{Name: fmt.Sprintf("Partner %02d", i)}))
		require.NoError(t, err)
	}
	all, err := h.admin.ListAudit(t.Context(), connect.NewRequest(&licmeshv1.ListAuditRequest{Limit: 1000}))
	require.NoError(t, err)
	admin := h.webAs(t, h.init.AdminEmail, h.init.AdminPassword)
	targets := regexp.MustCompile(`data-label="Target" class="mono">([^<]*)<`)
	seen := map[string]int{}
	next := "/ui/audit"
	pages := 0
	for next != "" {
		status, body := admin.get(next)
		require.Equal(t, http.StatusOK, status)
		for _, m := range targets.FindAllStringSubmatch(body, -1) {
			seen[m[1]]++
		}
		next = ""
		if m := regexp.MustCompile(`href="([^"]+)" id="older"`).FindStringSubmatch(body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
		pages++
		require.Less(t, pages, 5)
	}
	assert.Equal(t, 2, pages)
	assert.Len(t, seen, len(all.Msg.GetEntries()), "every entry, once")
	for target, n := range seen {
		assert.Equal(t, 1, n, target)
	}
	_, body := admin.get("/ui/audit?action=reseller.create&q=Partner+1")
	assert.Contains(t, body, "1–10 of 10")
	rows := admin.csv("/ui/audit?format=csv&action=reseller.")
	assert.Len(t, rows, 71)
}
