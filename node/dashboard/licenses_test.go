package dashboard_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/dashboard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// licenseAdder stands in for the master's AddLicense: it accepts texts
// starting with "-----BEGIN LICMESH LICENSE" and refuses the rest.
type licenseAdder struct {
	mu   sync.Mutex
	got  []string
	fail error
}

func (a *licenseAdder) add(_ context.Context, text string) (*licmeshv1.License, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, text)
	if !strings.HasPrefix(text, "-----BEGIN LICMESH LICENSE") {
		return nil, a.fail
	}
	return &licmeshv1.License{Id: "LIC-2026-0042", Product: "BPM Studio"}, nil
}

func (a *licenseAdder) calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.got)
}

func signedInWithAdder(t *testing.T) (*testEnv, *client, *licenseAdder) {
	t.Helper()
	a := &licenseAdder{fail: errors.New(`license: signature does not verify with key "k1"; is this license for another vendor?`)}
	e := newTestEnv(t, func(c *dashboard.Config) { c.AddLicense = a.add })
	c := e.newClient()
	c.mustSignIn()
	return e, c, a
}

func TestLicensesPageShowsColumns(t *testing.T) {
	_, c := signedIn(t)
	body := mustGet(t, c, "/ui/licenses")
	wantContains(t, body,
		`aria-current="page">Licenses</a>`,
		"LIC-2026-0007", "BPM Studio", "subscription", "Acme Corp",
		"LIC-2025-0001", "BPM Legacy", "term",
		"LIC-2020-0001", "perpetual", "never expires",
		// Pools as name held/seats with the seat bar.
		`<a href="/ui/pools/designer">designer</a> 7/10`,
		`<a href="/ui/pools/runtime">runtime</a> 5/4`,
		`aria-label="7 of 10 seats held"`, `<rect class="fill over" width="120"`,
		// Creation time.
		`<time datetime="2026-03-04T09:26:53Z" title="10d ago">2026-03-04 09:26:53 UTC</time>`,
		// Statuses: expired red, expiring soon amber.
		`<tr class="lic-expired">`, `<span class="status expired">expired</span>`,
		`<tr class="lic-soon">`, `<span class="status soon" title="expires 2026-03-26 09:26:53 UTC">12</span>`,
		`<span class="status " title="expires 2026-09-30 09:26:53 UTC">200</span>`,
	)
	// Clients: designer's leases come from col-01 (twice) and col-02.
	row := regexp.MustCompile(`(?s)LIC-2026-0007.*?<td class="num">(\d+)</td>`).FindStringSubmatch(body)
	if assert.NotNil(t, row, "LIC-2026-0007 clients") {
		assert.Equal(t, "2", row[1], "LIC-2026-0007 clients")
	}
	assert.LessOrEqual(t, strings.Index(body, "LIC-2020-0001"), strings.Index(body, "LIC-2026-0007"), "licenses not in ID order")
	// Without an AddLicense callback there is no paste box.
	assert.NotContains(t, body, "<textarea", "the paste box shows without Config.AddLicense")
	resp, _ := c.post("/ui/licenses", url.Values{"csrf": {csrfIn(t, body)}, "license": {"x"}})
	assert.NotEqual(t, http.StatusOK, resp.StatusCode, "POST /ui/licenses accepted without Config.AddLicense")
}

func TestLicensesClientsAreBoundedByLeaseLimit(t *testing.T) {
	e := newTestEnv(t, func(c *dashboard.Config) { c.LeaseLimit = 1 })
	c := e.newClient()
	c.mustSignIn()
	body := mustGet(t, c, "/ui/licenses")
	wantContains(t, body, `<td class="num">1+</td>`)
}

func TestLicensesFragmentIsThePagesBlock(t *testing.T) {
	e, c := signedIn(t)
	full := mustGet(t, c, "/ui/licenses")
	resp, part := c.getHTMX("/ui/fragments/licenses")
	require.Equal(t, http.StatusOK, resp.StatusCode, "fragment")
	require.NotContains(t, part, "<nav", "the fragment is not the page's live block")
	require.NotContains(t, part, "license-alerts", "the fragment is not the page's live block")
	require.Contains(t, full, strings.TrimSpace(part), "the fragment is not the page's live block")
	wantContains(t, part, `hx-get="/ui/fragments/licenses"`, `hx-trigger="every 2s"`)
	e.src.editLicenses(func(r *licmeshv1.ListLicensesResponse) { r.Licenses[0].Status = "in_grace" })
	_, part = c.getHTMX("/ui/fragments/licenses")
	wantContains(t, part, `<span class="status soon">in grace</span>`)
	e.src.setErr(errors.New("node: not leader"))
	resp, part = c.getHTMX("/ui/fragments/licenses")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "source error:\n%s", part)
	require.Contains(t, part, "could not load the licenses: node: not leader", "source error")
}

func TestLicenseAlertsOnEveryPage(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	c.mustSignIn()
	// The page signing in lands on shows the alerts, and so does every other.
	for _, p := range []string{"/ui/", "/ui/pools", "/ui/licenses", "/ui/pools/designer"} {
		body := mustGet(t, c, p)
		wantContains(t, body, `<div id="license-alerts">`,
			`<p class="banner alert" role="alert">License LIC-2025-0001 (BPM Legacy) expired.</p>`,
			`<p class="banner alert" role="alert">License LIC-2026-0003 (BPM Runtime) expires in 12 days.</p>`)
		assert.NotContains(t, body, "LIC-2026-0007 (", "%s alerts about a license far from expiry", p)
		assert.NotContains(t, body, "LIC-2020-0001 (", "%s alerts about a license far from expiry", p)
		assert.NotContains(t, body, "clock is more than 24 h", "%s shows the tamper alert", p)
	}
	// Fragments do not repeat the alerts.
	_, part := c.getHTMX("/ui/fragments/cluster")
	assert.NotContains(t, part, "license-alerts", "a fragment carries the alerts")
	e.src.editLicenses(func(r *licmeshv1.ListLicensesResponse) {
		r.Tampered = true
		r.Licenses[0].Status = "in_grace"
		r.Licenses[1].DaysLeft = 1
		r.Licenses[1].CreditsUnit, r.Licenses[1].CreditsBought, r.Licenses[1].CreditsRemaining, r.Licenses[1].CreditsLow = "case", 100, 4, true
		r.Licenses[3].CreditsUnit, r.Licenses[3].CreditsBought, r.Licenses[3].CreditsLow = "api_call", 50, true
	})
	body := mustGet(t, c, "/ui/collectors")
	wantContains(t, body,
		"is low on case credits: 4 of 100 left.",
		"has used all its api_call credits: further api_call usage is refused.",
		"This master&#39;s clock is more than 24 h behind the cluster&#39;s trusted time.",
		"License LIC-2026-0007 (BPM Studio) expired and is in its grace period.",
		"License LIC-2026-0003 (BPM Runtime) expires in 1 day.")
	// The sign-in form shows no alerts to strangers.
	_, login := e.newClient().get("/ui/login")
	assert.NotContains(t, login, "license-alerts", "the sign-in form shows license alerts")
}

func TestPasteLicenseSucceeds(t *testing.T) {
	_, c, a := signedInWithAdder(t)
	page := mustGet(t, c, "/ui/licenses")
	wantContains(t, page, `<textarea id="license-text" name="license"`, `action="/ui/licenses"`)
	text := "-----BEGIN LICMESH LICENSE-----\nabc\n-----END LICMESH LICENSE-----\n"
	resp, body := c.post("/ui/licenses", url.Values{"csrf": {csrfIn(t, page)}, "license": {text}})
	require.Equal(t, http.StatusOK, resp.StatusCode, "status\n%s", body)
	wantContains(t, body, `<p class="notice" role="status">Added license LIC-2026-0042 (BPM Studio).</p>`, `id="licenses"`)
	assert.NotContains(t, body, "abc\n-----END", "the textarea kept an accepted license")
	assert.Equal(t, text, a.got[0], "AddLicense got")
}

func TestPasteLicenseRefusedKeepsText(t *testing.T) {
	_, c, _ := signedInWithAdder(t)
	page := mustGet(t, c, "/ui/licenses")
	text := "not a <license>"
	resp, body := c.post("/ui/licenses", url.Values{"csrf": {csrfIn(t, page)}, "license": {text}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "status")
	wantContains(t, body,
		`<p class="banner" role="alert" id="license-problem">license: signature does not verify with key &#34;k1&#34;; is this license for another vendor?</p>`,
		`required>not a &lt;license&gt;</textarea>`,
		`id="licenses"`, `<div id="license-alerts">`)
	resp, body = c.post("/ui/licenses", url.Values{"csrf": {csrfIn(t, page)}, "license": {"  \n"}})
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "empty paste")
	assert.Contains(t, body, "Paste a license to add it.", "empty paste")
}

func TestPasteLicenseNeedsCSRFAndSession(t *testing.T) {
	e, c, a := signedInWithAdder(t)
	lic := "-----BEGIN LICMESH LICENSE-----"
	resp, _ := c.post("/ui/licenses", url.Values{"license": {lic}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "no csrf")
	resp, _ = c.post("/ui/licenses", url.Values{"csrf": {"forged"}, "license": {lic}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "forged csrf")
	// Another browser's token does not fit this session.
	other := e.newClient()
	other.mustSignIn()
	tok := csrfIn(t, mustGet(t, other, "/ui/licenses"))
	resp, _ = c.post("/ui/licenses", url.Values{"csrf": {tok}, "license": {lic}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "another session's csrf")
	anon := e.newClient()
	resp, _ = anon.post("/ui/licenses", url.Values{"csrf": {tok}, "license": {lic}})
	wantRedirectToLogin(t, resp)
	assert.Zero(t, a.calls(), "AddLicense calls")
}

func TestPasteLicenseBodyIsBounded(t *testing.T) {
	_, c, a := signedInWithAdder(t)
	tok := csrfIn(t, mustGet(t, c, "/ui/licenses"))
	big := "-----BEGIN LICMESH LICENSE-----" + strings.Repeat("A", 300<<10)
	resp, _ := c.post("/ui/licenses", url.Values{"csrf": {tok}, "license": {big}})
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "300 KiB license")
	assert.Zero(t, a.calls(), "AddLicense calls")
	// Just under the bound is fine.
	ok := "-----BEGIN LICMESH LICENSE-----" + strings.Repeat("A", 200<<10)
	resp, body := c.post("/ui/licenses", url.Values{"csrf": {tok}, "license": {ok}})
	assert.Equal(t, http.StatusOK, resp.StatusCode, "200 KiB license\n%.300s", body)
}
