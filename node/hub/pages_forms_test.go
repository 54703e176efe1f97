package hub

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// productFormValues is seed 002's product as the product form posts it,
// with the form's empty spare rows.
func productFormValues(sku string) url.Values {
	return url.Values{
		"sku": {sku}, "name": {"BPM Studio"}, "application": {"bpm"}, "app_version": {"7.0"}, "type": {"subscription"},
		"billing": {"monthly"}, "trial_period_count": {"30"}, "trial_period_unit": {"day"},
		"license_template.name": {"designer", "viewer", ""}, "license_template.users": {"1", "10", ""},
		"license_template.users_calculation": {"per qty", "", ""}, "license_template.amount": {"", "", ""},
		"license_template.amount_calculation": {"", "", ""}, "license_template.enforce": {"", "soft", ""}, "license_template.overage": {"", "", ""},
		"trial_template.name": {"designer", ""}, "trial_template.users": {"3", ""},
		"features.name": {"simulation", ""},
	}
}

// TestFormPostsNeedTheCSRFToken posts every form of the pages with no
// token, a forged one and another session's: each is refused, and nothing
// changes. The sign-in form has its own double-submit token.
func TestFormPostsNeedTheCSRFToken(t *testing.T) {
	w := newPageWorld(t)
	ctx := t.Context()
	keys, err := w.admin.ListAPIKeys(ctx, connect.NewRequest(&licmeshv1.ListAPIKeysRequest{}))
	require.NoError(t, err)
	accounts, err := w.admin.ListAccounts(ctx, connect.NewRequest(&licmeshv1.ListAccountsRequest{Role: "sales"}))
	require.NoError(t, err)
	lic := "/ui/licenses/" + w.licD
	posts := []struct {
		path string
		form url.Values
	}{
		{"/ui/logout", nil},
		{"/ui/password", url.Values{"old_password": {w.init.AdminPassword}, "new_password": {"a-new-password-1"}, "new_password_again": {"a-new-password-1"}}},
		{"/ui/keys", url.Values{"name": {"ci"}}},
		{"/ui/keys/" + keys.Msg.GetKeys()[0].GetId() + "/revoke", nil},
		{"/ui/products", productFormValues("bpm-studio")},
		{"/ui/companies", url.Values{"name": {"Umbrella"}, "email": {"it@umbrella.example"}}},
		{"/ui/companies/" + w.coD + "/trials", url.Values{"sku": {"timesheet-admin"}}},
		{"/ui/companies/" + w.coD + "/users", url.Values{"email": {"new@initech.example"}}},
		{"/ui/companies/" + w.coD + "/export", nil},
		{"/ui/companies/" + w.coD + "/erase", url.Values{"confirm": {"initech"}}},
		{"/ui/licenses", url.Values{"company_id": {w.coD}, "sku": {"timesheet-admin"}, "quantity": {"1"}}},
		{lic + "/extend", url.Values{"by": {"7d"}}},
		{lic + "/convert", url.Values{"quantity": {"2"}}},
		{lic + "/add", url.Values{"enable_features": {"orektic__reports"}}},
		{lic + "/revoke", url.Values{"confirm": {w.licD}}},
		{"/ui/resellers", url.Values{"name": {"Partner Three"}}},
		{"/ui/accounts", url.Values{"email": {"x@vendor.example"}, "role": {"sales"}}},
		{"/ui/accounts/" + accounts.Msg.GetAccounts()[0].GetId() + "/disable", nil},
	}
	admin := w.as["admin"]
	before := w.auditCount(t)
	tokens := map[string]string{"no token": "", "a forged token": "forged-" + admin.csrf[7:], "another session's token": w.as["license_manager"].csrf}
	for _, p := range posts {
		for name, token := range tokens {
			f := url.Values{}
			for k, v := range p.form {
				f[k] = v
			}
			if token != "" {
				f.Set("csrf", token)
			}
			resp, body := admin.send(http.MethodPost, p.path, f)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s with %s", p.path, name)
			assert.Contains(t, alert(body), "CSRF token", "%s with %s: the refusal says why", p.path, name)
		}
	}
	assert.Equal(t, before, w.auditCount(t), "a refused form changed something")
	status, _ := admin.get("/ui/")
	assert.Equal(t, http.StatusOK, status, "the refused sign-out did not sign out")

	// The token is taken from htmx's header as well as from the field.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url+"/ui/resellers", strings.NewReader("name=Partner+Three"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", admin.csrf)
	resp, err := admin.hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "a post with the header")
	assert.Equal(t, before+1, w.auditCount(t))

	// The sign-in form: its token must match the cookie set with the form.
	anon := w.web(t)
	resp, body := anon.send(http.MethodPost, "/ui/login", url.Values{"email": {w.init.AdminEmail}, "password": {w.init.AdminPassword}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a sign-in without the form's token")
	assert.Contains(t, alert(body), "did not come from this hub")
	resp, _ = anon.send(http.MethodPost, "/ui/login", url.Values{"csrf": {"guessed"}, "email": {w.init.AdminEmail}, "password": {w.init.AdminPassword}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a sign-in with a guessed token")
	for _, c := range resp.Cookies() {
		assert.NotEqual(t, sessionCookie, c.Name, "a session for a refused sign-in")
	}
}

// TestBadFormInputNamesTheFieldAndChangesNothing posts every form with
// input the hub refuses: each answer names the field (and marks it), and
// the audit log, which records every change, does not move.
func TestBadFormInputNamesTheFieldAndChangesNothing(t *testing.T) {
	w := newPageWorld(t)
	lic := "/ui/licenses/" + w.licD
	// A paid license with a module off, for the pack and module forms.
	paid, err := w.admin.IssueLicense(t.Context(), connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: w.coD, Sku: "timesheet-admin", Quantity: 1,
		Tailoring: &licmeshv1.Tailoring{DisableFeatures: []string{"orektic__reports"}}}))
	require.NoError(t, err)
	paidLic := "/ui/licenses/" + paid.Msg.GetLicense().GetId()
	issue := func(set ...string) url.Values {
		v := url.Values{"company_id": {w.coD}, "sku": {"timesheet-admin"}, "quantity": {"1"}}
		for i := 0; i < len(set); i += 2 {
			v.Set(set[i], set[i+1])
		}
		return v
	}
	product := func(set ...string) url.Values {
		v := productFormValues("bpm-studio")
		for i := 0; i < len(set); i += 2 {
			v.Set(set[i], set[i+1])
		}
		return v
	}
	noTemplate := product()
	noTemplate.Del("license_template.name")
	cases := []struct {
		name   string
		path   string
		form   url.Values
		field  string
		status int
	}{
		{"convert to a word", lic + "/convert", url.Values{"quantity": {"many"}}, "quantity", 400},
		{"convert to none", lic + "/convert", url.Values{"quantity": {"0"}}, "quantity", 400},
		{"extend by a word", lic + "/extend", url.Values{"by": {"forever"}}, "by", 400},
		{"a negative pack", paidLic + "/add", url.Values{"add_quantity": {"-3"}}, "add_quantity", 400},
		{"a pack of words", paidLic + "/add", url.Values{"add_quantity": {"five"}}, "add_quantity", 400},
		{"a pack too big", paidLic + "/add", url.Values{"add_quantity": {"5000000"}}, "quantity", 400},
		{"no module ticked", paidLic + "/add", url.Values{}, "enable_features", 400},
		{"a module the product lacks", paidLic + "/add", url.Values{"enable_features": {"orektic__nope"}}, "enable_features", 400},
		{"revoke unconfirmed", lic + "/revoke", url.Values{"confirm": {"yes"}}, "confirm", 400},
		{"issue a word's worth", "/ui/licenses", issue("quantity", "lots"), "quantity", 400},
		{"issue none", "/ui/licenses", issue("quantity", "0"), "quantity", 400},
		{"issue for a while", "/ui/licenses", issue("duration", "a while"), "duration", 400},
		{"issue to no one", "/ui/licenses", issue("company_id", ""), "company_id", 400},
		{"issue credits without a unit", "/ui/licenses", issue("credits", "100"), "credit_unit", 400},
		{"issue a negative grace", "/ui/licenses", issue("grace", "-1d"), "grace", 400},
		{"a product of no type", "/ui/products", product("type", "bogus"), "type", 400},
		{"a trial of two weeks", "/ui/products", product("trial_period_count", "two weeks"), "trial_period_count", 400},
		{"a product without a template", "/ui/products", noTemplate, "license_template", 400},
		{"a product without a SKU", "/ui/products", product("sku", ""), "sku", 400},
		{"a company without an email", "/ui/companies", url.Values{"name": {"Umbrella"}, "email": {"not an email"}}, "email", 400},
		{"a company without a name", "/ui/companies", url.Values{"name": {" "}, "email": {"it@umbrella.example"}}, "name", 400},
		{"a second trial", "/ui/companies/" + w.coD + "/trials", url.Values{"sku": {"timesheet-admin"}}, "trial", 409},
		{"a user without an email", "/ui/companies/" + w.coD + "/users", url.Values{"email": {"nope"}, "name": {"Nope"}}, "email", 400},
		{"a user without a name", "/ui/companies/" + w.coD + "/users", url.Values{"email": {"peter@initech.example"}}, "name", 400},
		{"erase unconfirmed", "/ui/companies/" + w.coD + "/erase", url.Values{"confirm": {"Initech?"}}, "confirm", 400},
		{"an account of no role", "/ui/accounts", url.Values{"email": {"x@vendor.example"}, "name": {"X"}, "role": {"emperor"}}, "role", 400},
		{"a customer of no company", "/ui/accounts", url.Values{"email": {"x@vendor.example"}, "name": {"X"}, "role": {"customer"}}, "company_id", 400},
		{"a reseller of no reseller", "/ui/accounts", url.Values{"email": {"x@vendor.example"}, "name": {"X"}, "role": {"reseller"}}, "reseller_id", 400},
		{"an account without an email", "/ui/accounts", url.Values{"email": {"nope"}, "name": {"X"}, "role": {"sales"}}, "email", 400},
		{"an account without a name", "/ui/accounts", url.Values{"email": {"x@vendor.example"}, "role": {"sales"}}, "name", 400},
		{"an email taken", "/ui/accounts", url.Values{"email": {"lm@vendor.example"}, "name": {"X"}, "role": {"sales"}}, "email", 409},
		{"a reseller without a name", "/ui/resellers", url.Values{"name": {" "}}, "name", 400},
		{"a key without a name", "/ui/keys", url.Values{"name": {""}}, "name", 400},
		{"a wrong old password", "/ui/password", url.Values{"old_password": {"not-my-password"}, "new_password": {"long-enough-pw"}, "new_password_again": {"long-enough-pw"}}, "old_password", 400},
		{"a short new password", "/ui/password", url.Values{"old_password": {w.init.AdminPassword}, "new_password": {"short"}, "new_password_again": {"short"}}, "new_password", 400},
		{"two new passwords", "/ui/password", url.Values{"old_password": {w.init.AdminPassword}, "new_password": {"long-enough-pw"}, "new_password_again": {"long-enough-pw2"}}, "new_password_again", 400},
	}
	admin := w.as["admin"]
	before := w.auditCount(t)
	for _, c := range cases {
		resp, body := admin.post(c.path, c.form)
		assert.Equal(t, c.status, resp.StatusCode, "%s: %s", c.name, alert(body))
		assert.Contains(t, alert(body), c.field, "%s: the error names the field", c.name)
		if c.field != "trial" {
			assert.True(t, strings.Contains(body, `aria-invalid="true"`), "%s: the field is not marked", c.name)
		}
	}
	assert.Equal(t, before, w.auditCount(t), "refused input changed something")
	// The form comes back as it was typed.
	_, body := admin.post("/ui/companies", url.Values{"name": {"Umbrella Corp"}, "email": {"not an email"}})
	assert.Contains(t, body, `value="Umbrella Corp"`)
}

// TestResellerCannotReachAnotherResellersCustomers tries, by URL, every
// page and form of a company and a license of another reseller's customer
// (and of the vendor's direct one): each answers not found, shows nothing
// of it, and changes nothing. Its own customers it can serve.
func TestResellerCannotReachAnotherResellersCustomers(t *testing.T) {
	w := newPageWorld(t)
	r := w.as["reseller"]
	before := w.auditCount(t)
	for _, foreign := range []struct{ co, lic, name string }{{w.co2, w.lic2, "globex"}, {w.coD, w.licD, "initech"}} {
		for _, path := range []string{"/ui/companies/" + foreign.co, "/ui/licenses/" + foreign.lic, "/ui/licenses/" + foreign.lic + "/file", "/ui/licenses?company=" + foreign.co} {
			status, body := r.get(path)
			assert.Equal(t, http.StatusNotFound, status, path)
			assert.NotContains(t, body, foreign.name, "%s shows the other company", path)
			assert.NotContains(t, body, "BEGIN LICMESH LICENSE", "%s shows the license", path)
		}
		for path, form := range map[string]url.Values{
			"/ui/companies/" + foreign.co + "/trials": {"sku": {"timesheet-admin"}},
			"/ui/companies/" + foreign.co + "/users":  {"email": {"mole@evil.example"}},
			"/ui/licenses/" + foreign.lic + "/add":    {"add_quantity": {"5"}},
		} {
			resp, body := r.post(path, form)
			assert.Contains(t, []int{http.StatusNotFound, http.StatusForbidden}, resp.StatusCode, path)
			assert.NotContains(t, body, foreign.name, path)
		}
	}
	for _, path := range []string{"/ui/", "/ui/companies", "/ui/licenses", "/ui/companies?format=csv", "/ui/licenses?format=csv"} {
		status, body := r.get(path)
		require.Equal(t, http.StatusOK, status, path)
		for _, other := range []string{"globex", "initech", w.lic2, w.licD} {
			assert.NotContains(t, body, other, "%s lists another's", path)
		}
		if !strings.Contains(path, "csv") && path != "/ui/" {
			assert.Contains(t, body, "acme", "%s lists its own", path)
		}
	}
	assert.Equal(t, before, w.auditCount(t))

	// Its own: a new customer, a trial in one click, a seat pack.
	resp, _ := r.post("/ui/companies", url.Values{"name": {"Hooli"}, "email": {"it@hooli.example"}, "reseller_id": {w.r2}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a customer for another reseller")
	resp, _ = r.post("/ui/companies", url.Values{"name": {"Hooli"}, "email": {"it@hooli.example"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	co := strings.TrimPrefix(resp.Header.Get("Location"), "/ui/companies/")
	resp, _ = r.post("/ui/companies/"+co+"/trials", url.Values{"sku": {"timesheet-admin"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	paid, err := w.admin.ConvertTrial(t.Context(), connect.NewRequest(&licmeshv1.ConvertTrialRequest{LicenseId: w.lic1, Quantity: 2}))
	require.NoError(t, err)
	resp, _ = r.post("/ui/licenses/"+paid.Msg.GetLicense().GetId()+"/add", url.Values{"add_quantity": {"5"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, body := r.get(resp.Header.Get("Location"))
	assert.Contains(t, body, "5 seats added")
	resp, _ = r.post("/ui/licenses/"+paid.Msg.GetLicense().GetId()+"/add", url.Values{"enable_features": {"orektic__reports"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "modules are the vendor's")
}
