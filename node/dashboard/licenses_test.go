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
	if row == nil || row[1] != "2" {
		t.Errorf("LIC-2026-0007 clients = %v, want 2", row)
	}
	if strings.Index(body, "LIC-2020-0001") > strings.Index(body, "LIC-2026-0007") {
		t.Error("licenses not in ID order")
	}
	// Without an AddLicense callback there is no paste box.
	if strings.Contains(body, "<textarea") {
		t.Error("the paste box shows without Config.AddLicense")
	}
	if resp, _ := c.post("/ui/licenses", url.Values{"csrf": {csrfIn(t, body)}, "license": {"x"}}); resp.StatusCode == http.StatusOK {
		t.Error("POST /ui/licenses accepted without Config.AddLicense")
	}
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
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("fragment: %d", resp.StatusCode)
	}
	if strings.Contains(part, "<nav") || strings.Contains(part, "license-alerts") || !strings.Contains(full, strings.TrimSpace(part)) {
		t.Fatalf("the fragment is not the page's live block:\n%s", part)
	}
	wantContains(t, part, `hx-get="/ui/fragments/licenses"`, `hx-trigger="every 2s"`)
	e.src.editLicenses(func(r *licmeshv1.ListLicensesResponse) { r.Licenses[0].Status = "in_grace" })
	_, part = c.getHTMX("/ui/fragments/licenses")
	wantContains(t, part, `<span class="status soon">in grace</span>`)
	e.src.setErr(errors.New("node: not leader"))
	resp, part = c.getHTMX("/ui/fragments/licenses")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(part, "could not load the licenses: node: not leader") {
		t.Fatalf("source error: %d\n%s", resp.StatusCode, part)
	}
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
		if strings.Contains(body, "LIC-2026-0007 (") || strings.Contains(body, "LIC-2020-0001 (") {
			t.Errorf("%s alerts about a license far from expiry", p)
		}
		if strings.Contains(body, "clock is more than 24 h") {
			t.Errorf("%s shows the tamper alert", p)
		}
	}
	// Fragments do not repeat the alerts.
	if _, part := c.getHTMX("/ui/fragments/cluster"); strings.Contains(part, "license-alerts") {
		t.Error("a fragment carries the alerts")
	}
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
	if strings.Contains(login, "license-alerts") {
		t.Error("the sign-in form shows license alerts")
	}
}

func TestPasteLicenseSucceeds(t *testing.T) {
	_, c, a := signedInWithAdder(t)
	page := mustGet(t, c, "/ui/licenses")
	wantContains(t, page, `<textarea id="license-text" name="license"`, `action="/ui/licenses"`)
	text := "-----BEGIN LICMESH LICENSE-----\nabc\n-----END LICMESH LICENSE-----\n"
	resp, body := c.post("/ui/licenses", url.Values{"csrf": {csrfIn(t, page)}, "license": {text}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	wantContains(t, body, `<p class="notice" role="status">Added license LIC-2026-0042 (BPM Studio).</p>`, `id="licenses"`)
	if strings.Contains(body, "abc\n-----END") {
		t.Error("the textarea kept an accepted license")
	}
	if a.got[0] != text {
		t.Errorf("AddLicense got %q", a.got[0])
	}
}

func TestPasteLicenseRefusedKeepsText(t *testing.T) {
	_, c, _ := signedInWithAdder(t)
	page := mustGet(t, c, "/ui/licenses")
	text := "not a <license>"
	resp, body := c.post("/ui/licenses", url.Values{"csrf": {csrfIn(t, page)}, "license": {text}})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", resp.StatusCode)
	}
	wantContains(t, body,
		`<p class="banner" role="alert" id="license-problem">license: signature does not verify with key &#34;k1&#34;; is this license for another vendor?</p>`,
		`required>not a &lt;license&gt;</textarea>`,
		`id="licenses"`, `<div id="license-alerts">`)
	resp, body = c.post("/ui/licenses", url.Values{"csrf": {csrfIn(t, page)}, "license": {"  \n"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Paste a license to add it.") {
		t.Errorf("empty paste: %d", resp.StatusCode)
	}
}

func TestPasteLicenseNeedsCSRFAndSession(t *testing.T) {
	e, c, a := signedInWithAdder(t)
	lic := "-----BEGIN LICMESH LICENSE-----"
	if resp, _ := c.post("/ui/licenses", url.Values{"license": {lic}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("no csrf: %d, want 403", resp.StatusCode)
	}
	if resp, _ := c.post("/ui/licenses", url.Values{"csrf": {"forged"}, "license": {lic}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged csrf: %d, want 403", resp.StatusCode)
	}
	// Another browser's token does not fit this session.
	other := e.newClient()
	other.mustSignIn()
	tok := csrfIn(t, mustGet(t, other, "/ui/licenses"))
	if resp, _ := c.post("/ui/licenses", url.Values{"csrf": {tok}, "license": {lic}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another session's csrf: %d, want 403", resp.StatusCode)
	}
	anon := e.newClient()
	resp, _ := anon.post("/ui/licenses", url.Values{"csrf": {tok}, "license": {lic}})
	wantRedirectToLogin(t, resp)
	if n := a.calls(); n != 0 {
		t.Errorf("AddLicense called %d times", n)
	}
}

func TestPasteLicenseBodyIsBounded(t *testing.T) {
	_, c, a := signedInWithAdder(t)
	tok := csrfIn(t, mustGet(t, c, "/ui/licenses"))
	big := "-----BEGIN LICMESH LICENSE-----" + strings.Repeat("A", 300<<10)
	resp, _ := c.post("/ui/licenses", url.Values{"csrf": {tok}, "license": {big}})
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("300 KiB license: %d, want 413", resp.StatusCode)
	}
	if n := a.calls(); n != 0 {
		t.Errorf("AddLicense called %d times", n)
	}
	// Just under the bound is fine.
	ok := "-----BEGIN LICMESH LICENSE-----" + strings.Repeat("A", 200<<10)
	if resp, body := c.post("/ui/licenses", url.Values{"csrf": {tok}, "license": {ok}}); resp.StatusCode != http.StatusOK {
		t.Errorf("200 KiB license: %d\n%.300s", resp.StatusCode, body)
	}
}
