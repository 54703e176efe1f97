package hub

import (
	"html"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// openSignup opens the sign-up form, as a person's browser would, and
// returns its nonce.
func (u *webUser) openSignup() string {
	u.t.Helper()
	status, page := u.get("/signup")
	require.Equal(u.t, http.StatusOK, status, page)
	m := nonceField.FindStringSubmatch(page)
	require.NotNil(u.t, m, "the form has its nonce:\n%s", page)
	return m[1]
}

// signUpForm opens the sign-up form, fills it in with form and sends it.
func (u *webUser) signUpForm(form url.Values) (*http.Response, string) {
	u.t.Helper()
	f := url.Values{"nonce": {u.openSignup()}}
	maps.Copy(f, form)
	return u.send(http.MethodPost, "/signup", f)
}

// invalid reports whether the page marks input id as wrong.
func invalid(page, id string) bool {
	return regexp.MustCompile(`<(input|select)[^>]* id="` + id + `"[^>]*aria-invalid="true"`).MatchString(page)
}

// saveProduct publishes seed 002's product again under sku and name.
func (h *testHub) saveProduct(t *testing.T, sku, name string) {
	t.Helper()
	p := seed002Product()
	p.Sku, p.Name = sku, name
	_, err := h.admin.SaveProduct(t.Context(), connect.NewRequest(&licmeshv1.SaveProductRequest{Product: p}))
	require.NoError(t, err)
}

// TestSignUpForm is the trial button as a web page: the form mails the
// link and a license that verifies, exactly as the SignUp call does; the
// link's page, drawn like the rest of the hub, sets the password.
func TestSignUpForm(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr)

	u := h.web(t)
	resp, page := u.send(http.MethodGet, "/signup", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	assert.Equal(t, signupCSP, resp.Header.Get("Content-Security-Policy"))
	assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
	for _, want := range []string{`<h1>Start a free trial</h1>`, `name="email"`, `name="company"`, `name="name"`, `<input type="hidden" name="sku" value="timesheet-admin">`,
		"Try Timesheet Admin User with a 14-day trial.", `/ui/static/hub.css?v=`, `href="/ui/login"`} {
		assert.Contains(t, page, want)
	}
	assert.NotContains(t, page, "<select", "one product: no choice")
	assert.NotContains(t, page, "<style", "nothing inline: the CSP allows none")

	before := h.counts(t)
	form := url.Values{"nonce": {u.openSignup()}, "email": {" Jane@Acme.example "}, "company": {"Acme Corp"}, "name": {"Jane Doe"}, "sku": {"timesheet-admin"}}
	resp, page = u.send(http.MethodPost, "/signup", form)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	assert.Contains(t, page, "<h1>Check your mailbox</h1>")
	assert.Contains(t, page, "We sent a mail to <b>jane@acme.example</b>")
	after := h.counts(t)
	for k, n := range map[string]int{"companies": 1, "accounts": 1, "licenses": 1, "mails": 1, "signups": 1} {
		assert.Equal(t, before[k]+n, after[k], k)
	}

	m := mailSrv.wait(t, 1)[0]
	assert.Equal(t, []string{"jane@acme.example"}, m.Envelope.To)
	link := signupLink.FindString(m.Text)
	require.NotEmpty(t, link, "the mail has the link:\n%s", m.Text)
	require.Len(t, m.Attachments, 1)
	for _, text := range m.Attachments {
		v, err := license.Verify([]byte(text), h.keyring(t), license.VerifyOptions{Now: h.clk.Now(), AnyCluster: true})
		require.NoError(t, err, "the mailed license verifies with the hub's vendor keys")
		assert.Equal(t, license.Trial, v.Type)
		assert.Equal(t, "Acme Corp", v.Customer.Name)
		assert.Equal(t, license.SKU("timesheet-admin"), v.Product.SKU)
	}
	audit, err := h.admin.ListAudit(t.Context(), connect.NewRequest(&licmeshv1.ListAuditRequest{}))
	require.NoError(t, err)
	var bySignup []string
	for _, e := range audit.Msg.GetEntries() {
		if e.GetActor() == "signup" {
			bySignup = append(bySignup, e.GetAction())
			assert.Equal(t, "127.0.0.1", e.GetRemote())
		}
	}
	assert.ElementsMatch(t, []string{"company.create", "account.create", "trial.created"}, bySignup, "audited as the call is")

	// The form's nonce is used up: sending it again (a reload) is
	// refused, and sends nothing.
	before = h.counts(t)
	resp, _ = u.send(http.MethodPost, "/signup", form)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, before, h.counts(t))

	// The link's page: the hub's layout, the same strict CSP.
	b := h.browser(t)
	status, page := b.get(link)
	require.Equal(t, http.StatusOK, status, page)
	assert.Contains(t, page, `/ui/static/hub.css?v=`)
	assert.Contains(t, page, "Choose the password of <b>jane@acme.example</b>")
	status, page = b.setPassword(link, "correct horse battery", "correct horse battery!")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, alert(page), "The two passwords differ.")
	assert.True(t, invalid(page, "password2"), "the second password is marked")
	status, page = b.setPassword(link, "correct horse battery", "correct horse battery")
	require.Equal(t, http.StatusOK, status, page)
	assert.Contains(t, page, "you are signed in as <b>jane@acme.example</b>")
	assert.Contains(t, page, `<form class="signout" method="post" action="/ui/logout">`, "the top bar shows her signed in")
	h.signedIn(t, "jane@acme.example", "correct horse battery")
}

// TestSignUpFormAnswersAlikeForKnownAddresses: the page a sign-up gets
// does not tell whether the address already has an account (the SignUp
// call's rule); only the mail does.
func TestSignUpFormAnswersAlikeForKnownAddresses(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr)
	newResp, newPage := h.web(t).signUpForm(url.Values{"email": {"new@acme.example"}, "company": {"Acme"}})
	knownResp, knownPage := h.web(t).signUpForm(url.Values{"email": {"Admin@Vendor.example"}, "company": {"Evil Corp"}})
	require.Equal(t, http.StatusOK, newResp.StatusCode, newPage)
	assert.Equal(t, newResp.StatusCode, knownResp.StatusCode)
	assert.Contains(t, knownPage, "Check your mailbox")
	assert.Equal(t, strings.ReplaceAll(newPage, "new@acme.example", "ADDRESS"), strings.ReplaceAll(knownPage, "admin@vendor.example", "ADDRESS"))
	assert.Equal(t, len(newResp.Cookies()), len(knownResp.Cookies()))
	subjects := map[string]string{}
	for _, m := range mailSrv.wait(t, 2) {
		subjects[m.Envelope.To[0]] = m.Subject
	}
	assert.Equal(t, "You already have an account", subjects["admin@vendor.example"])
	assert.Contains(t, subjects["new@acme.example"], "set your password")
}

func TestSignUpFormOffersTheConfiguredProducts(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr, func(c *Config) { c.SignupProducts = []string{"timesheet-pro", "never-published"} })
	h.saveProduct(t, "timesheet-pro", "Timesheet Pro")
	u := h.web(t)
	status, page := u.get("/signup")
	require.Equal(t, http.StatusOK, status, page)
	options := regexp.MustCompile(`<option value="([^"]+)"`).FindAllStringSubmatch(page, -1)
	var skus []string
	for _, o := range options {
		skus = append(skus, o[1])
	}
	assert.Equal(t, []string{"timesheet-admin", "timesheet-pro"}, skus, "the published ones, the default first")
	assert.Contains(t, page, `<option value="timesheet-admin" selected>Timesheet Admin User (14-day trial)</option>`)

	resp, page := u.signUpForm(url.Values{"email": {"jane@acme.example"}, "company": {"Acme"}, "sku": {"timesheet-pro"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	m := mailSrv.wait(t, 1)[0]
	assert.Equal(t, "Your Timesheet Pro trial: set your password", m.Subject)
}

// TestSignUpFormRefusesBadInputAndChangesNothing: each refusal names its
// field, marks its input, keeps what was typed, and changes nothing.
func TestSignUpFormRefusesBadInputAndChangesNothing(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr, func(c *Config) { c.SignupProducts = []string{"never-published"}; c.SignupRate = 100 })
	before := h.counts(t)
	for name, tc := range map[string]struct {
		form   url.Values
		status int
		field  string
		msg    string
	}{
		"no email":          {url.Values{"company": {"Acme"}}, http.StatusBadRequest, "email", `email "": one plain address`},
		"not an email":      {url.Values{"email": {"jane at acme"}, "company": {"Acme"}}, http.StatusBadRequest, "email", `email "jane at acme"`},
		"two emails":        {url.Values{"email": {"a@acme.example, b@acme.example"}, "company": {"Acme"}}, http.StatusBadRequest, "email", "email"},
		"a name and email":  {url.Values{"email": {"Jane <jane@acme.example>"}, "company": {"Acme"}}, http.StatusBadRequest, "email", "email"},
		"empty company":     {url.Values{"email": {"jane@acme.example"}, "company": {"  "}}, http.StatusBadRequest, "company", "company: the company's name"},
		"long company":      {url.Values{"email": {"jane@acme.example"}, "company": {strings.Repeat("x", 201)}}, http.StatusBadRequest, "company", "company: the company's name, 1 to 200 characters"},
		"long name":         {url.Values{"email": {"jane@acme.example"}, "company": {"Acme"}, "name": {strings.Repeat("x", 201)}}, http.StatusBadRequest, "name", "name: at most 200 characters"},
		"unoffered product": {url.Values{"email": {"jane@acme.example"}, "company": {"Acme"}, "sku": {"enterprise"}}, http.StatusBadRequest, "sku", `sku "enterprise": sign-up offers timesheet-admin, never-published`},
	} {
		resp, page := h.web(t).signUpForm(tc.form)
		assert.Equal(t, tc.status, resp.StatusCode, name)
		assert.Contains(t, html.UnescapeString(alert(page)), tc.msg, name)
		if tc.field != "sku" { // the one product is a hidden input
			assert.True(t, invalid(page, tc.field), "%s: the %s input is marked:\n%s", name, tc.field, page)
		}
		for k, v := range tc.form {
			if k == "sku" {
				continue // a product not offered is not kept: the form offers the default
			}
			assert.Contains(t, page, `value="`+template.HTMLEscapeString(v[0])+`"`, "%s: what was typed is kept", name)
		}
		assert.Contains(t, page, `name="nonce"`, "%s: the form is there to correct", name)
		assert.NotContains(t, page, "Check your mailbox", name)
		assert.Equal(t, before, h.counts(t), "%s: nothing changed", name)
	}

	// Offered but never published: the vendor's mistake, refused as
	// sign-up being off, rolled back.
	resp, page := h.web(t).signUpForm(url.Values{"email": {"jane@acme.example"}, "company": {"Acme"}, "sku": {"never-published"}})
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, page, signupUnavailableText)
	assert.Equal(t, before, h.counts(t))
	assert.Empty(t, mailSrv.mails())
}

func TestSignUpFormRateLimit(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr, func(c *Config) { c.SignupRate = 1 })
	resp, _ := h.web(t).signUpForm(url.Values{"email": {"a@acme.example"}, "company": {"Acme"}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	before := h.counts(t)
	resp, page := h.web(t).signUpForm(url.Values{"email": {"b@acme.example"}, "company": {"Acme"}})
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Contains(t, alert(page), "too many sign-ups from this address: 1 in the last hour; try again later")
	assert.Equal(t, before, h.counts(t))
}

// TestSignUpFormRefusesCrossSitePosts: a post needs the nonce of a form
// this browser opened, as the set-password page does; a form posted from
// another site has neither.
func TestSignUpFormRefusesCrossSitePosts(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr)

	u := h.web(t)
	resp, _ := u.send(http.MethodGet, "/signup", nil)
	var c *http.Cookie
	for _, rc := range resp.Cookies() {
		if rc.Name == signupStartCookie {
			c = rc
		}
	}
	require.NotNil(t, c, "the form sets its nonce cookie")
	assert.Equal(t, http.SameSiteStrictMode, c.SameSite, "no other site's post carries it")
	assert.True(t, c.HttpOnly)
	assert.True(t, c.Secure)
	assert.Equal(t, signupPath, c.Path)

	before := h.counts(t)
	jane := url.Values{"email": {"jane@acme.example"}, "company": {"Acme"}}
	with := func(extra url.Values) url.Values {
		f := maps.Clone(jane)
		maps.Copy(f, extra)
		return f
	}
	nonce := u.openSignup()
	for name, post := range map[string]func() (*http.Response, string){
		"from a browser that never opened the form": func() (*http.Response, string) {
			return h.web(t).send(http.MethodPost, "/signup", with(url.Values{"nonce": {nonce}}))
		},
		"with another nonce than the cookie's": func() (*http.Response, string) {
			return u.send(http.MethodPost, "/signup", with(url.Values{"nonce": {"guessed"}}))
		},
		"without a nonce": func() (*http.Response, string) { return u.send(http.MethodPost, "/signup", jane) },
	} {
		resp, page := post()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, name)
		assert.Contains(t, alert(page), "did not come from this hub", name)
		assert.Equal(t, before, h.counts(t), "%s: nothing changed", name)
	}
	assert.Empty(t, mailSrv.mails())

	// The form as opened in this browser still works (after refusals,
	// whose fresh form replaced the nonce).
	resp, page := u.signUpForm(jane)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	mailSrv.wait(t, 1)
}

func TestSignUpFormWhenSignupIsOff(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	for name, h := range map[string]*testHub{
		"no mail server":     startHub(t),
		"no sign-up product": mailHub(t, mailSrv.Addr, func(c *Config) { c.SignupProduct = "" }),
	} {
		u := h.web(t)
		status, page := u.get("/signup")
		assert.Equal(t, http.StatusNotFound, status, name)
		assert.Contains(t, page, "This hub does not take sign-ups.", name)
		assert.NotContains(t, page, `action="/signup"`, name)
		before := h.counts(t)
		resp, page := u.send(http.MethodPost, "/signup", url.Values{"email": {"jane@acme.example"}, "company": {"Acme"}, "nonce": {"x"}})
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, name)
		assert.Contains(t, page, "This hub does not take sign-ups.", name)
		assert.Equal(t, before, h.counts(t), name)
		_, page = u.get("/ui/login")
		assert.NotContains(t, page, "Start a free trial", "%s: the sign-in page offers no trial", name)
	}
	assert.Empty(t, mailSrv.mails())

	// Open, the sign-in page links the form.
	h := mailHub(t, mailSrv.Addr)
	_, page := h.web(t).get("/ui/login")
	assert.Contains(t, page, `<a href="/signup" id="start-trial">Start a free trial</a>`)
}
