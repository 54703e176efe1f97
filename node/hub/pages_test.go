package hub

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/node/hub/store"
)

// TestPagesPerRole fetches every page as every role: each renders for the
// roles whose calls allow it and is refused (403, or 404 for what is not
// the role's to see) for the others; a browser that has not signed in is
// sent to the sign-in form.
func TestPagesPerRole(t *testing.T) {
	w := newPageWorld(t)
	staff := []string{"admin", "license_manager", "release_manager", "sales"}
	sellers := slices.Concat(staff, []string{"reseller", "reseller2"})
	managers := []string{"admin", "license_manager"}
	everyone := slices.Concat(sellers, []string{"customer"})
	pages := []struct {
		path string
		ok   []string
		// hidden are the roles that get 404 rather than 403: the thing
		// exists, but is not theirs to know of.
		hidden []string
	}{
		{"/ui/", everyone, nil},
		{"/ui/help", everyone, nil},
		{"/ui/password", everyone, nil},
		{"/ui/keys", everyone, nil},
		{"/ui/products", sellers, nil},
		{"/ui/products/new", managers, nil},
		{"/ui/products/timesheet-admin", sellers, nil},
		{"/ui/products/timesheet-admin/edit", managers, nil},
		{"/ui/companies", sellers, nil},
		{"/ui/companies/" + w.co1, slices.Concat(staff, []string{"reseller", "customer"}), []string{"reseller2"}},
		{"/ui/companies/" + w.co2, slices.Concat(staff, []string{"reseller2"}), []string{"reseller", "customer"}},
		{"/ui/companies/" + w.coD, staff, []string{"reseller", "reseller2", "customer"}},
		{"/ui/licenses", sellers, nil},
		{"/ui/licenses/new", managers, nil},
		{"/ui/licenses/" + w.lic1, slices.Concat(staff, []string{"reseller", "customer"}), []string{"reseller2"}},
		{"/ui/licenses/" + w.lic1 + "/file", slices.Concat(staff, []string{"reseller", "customer"}), []string{"reseller2"}},
		{"/ui/licenses/" + w.licD, staff, []string{"reseller", "reseller2", "customer"}},
		{"/ui/resellers", staff, nil},
		{"/ui/accounts", managers, nil},
		{"/ui/audit", []string{"admin"}, nil},
		{"/ui/releases", everyone, nil},
	}
	anon := w.web(t)
	for _, p := range pages {
		for _, role := range roles {
			status, body := w.as[role].get(p.path)
			switch {
			case slices.Contains(p.ok, role):
				assert.Equal(t, http.StatusOK, status, "%s as %s: %s", p.path, role, alert(body))
			case slices.Contains(p.hidden, role):
				assert.Equal(t, http.StatusNotFound, status, "%s as %s", p.path, role)
			default:
				assert.Equal(t, http.StatusForbidden, status, "%s as %s", p.path, role)
				assert.Contains(t, alert(body), "may not", "%s as %s: the refusal says why", p.path, role)
			}
		}
		resp, _ := anon.send(http.MethodGet, p.path, nil)
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "%s signed out", p.path)
		assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/ui/login"), "%s signed out goes to sign in, not %q", p.path, resp.Header.Get("Location"))
	}
}

var navLinks = regexp.MustCompile(`(?s)<nav aria-label="main">(.*?)</nav>`)
var hrefs = regexp.MustCompile(`href="([^"]+)"`)

// TestNavShowsOnlyWhatTheRoleMayUse follows every link of each role's top
// bar: none leads to a refusal.
func TestNavShowsOnlyWhatTheRoleMayUse(t *testing.T) {
	w := newPageWorld(t)
	want := map[string][]string{
		"admin":           {"/ui/", "/ui/companies", "/ui/licenses", "/ui/products", "/ui/monitor", "/ui/releases", "/ui/resellers", "/ui/accounts", "/ui/quotes", "/ui/audit", "/ui/help"},
		"license_manager": {"/ui/", "/ui/companies", "/ui/licenses", "/ui/products", "/ui/monitor", "/ui/releases", "/ui/resellers", "/ui/accounts", "/ui/quotes", "/ui/help"},
		"sales":           {"/ui/", "/ui/companies", "/ui/licenses", "/ui/products", "/ui/monitor", "/ui/releases", "/ui/resellers", "/ui/quotes", "/ui/help"},
		"reseller":        {"/ui/", "/ui/companies", "/ui/licenses", "/ui/products", "/ui/monitor", "/ui/help"},
		"customer":        {"/ui/", "/ui/monitor", "/ui/releases", "/ui/help"},
	}
	for role, links := range want {
		_, body := w.as[role].get("/ui/")
		nav := navLinks.FindStringSubmatch(body)
		require.NotNil(t, nav, role)
		var got []string
		for _, m := range hrefs.FindAllStringSubmatch(nav[1], -1) {
			got = append(got, m[1])
		}
		assert.Equal(t, links, got, "%s's top bar", role)
		for _, l := range got {
			status, _ := w.as[role].get(l)
			assert.Equal(t, http.StatusOK, status, "%s follows its own link %s", role, l)
		}
	}
	// The buttons follow the role too: a sales person sees no change
	// buttons on a license, a license manager sees them.
	_, body := w.as["sales"].get("/ui/licenses/" + w.licD)
	for _, action := range []string{"/extend", "/convert", "/revoke", "/add"} {
		assert.NotContains(t, body, w.licD+action, "sales sees the %s button", action)
	}
	_, body = w.as["license_manager"].get("/ui/licenses/" + w.licD)
	for _, action := range []string{"/extend", "/convert", "/revoke"} {
		assert.Contains(t, body, w.licD+action, "a license manager lacks the %s button", action)
	}
	_, body = w.as["reseller"].get("/ui/licenses/" + w.lic1)
	assert.NotContains(t, body, w.lic1+"/extend", "a reseller may not extend")
	assert.NotContains(t, body, "trial-start", "no trial button on a license page")
	_, body = w.as["reseller"].get("/ui/companies/" + w.co1)
	assert.Contains(t, body, "already used", "its customer's trial is shown as used")
	assert.NotContains(t, body, "/ui/licenses/new", "a reseller does not issue licenses")
}

// TestRootRedirectsToThePages: / and /ui lead to /ui/.
func TestRootRedirectsToThePages(t *testing.T) {
	h := startHub(t)
	u := h.web(t)
	for _, p := range []string{"/", "/ui"} {
		resp, _ := u.send(http.MethodGet, p, nil)
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode, p)
		assert.Equal(t, "/ui/", resp.Header.Get("Location"), p)
	}
	resp, _ := u.send(http.MethodGet, "/ui/", nil)
	assert.Equal(t, "/ui/login", resp.Header.Get("Location"))
	resp, body := u.send(http.MethodGet, "/ui/login", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	csp := resp.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "script-src 'self'")
	assert.NotContains(t, csp, "unsafe-inline")
	assert.NotRegexp(t, `<script>|<script [^>]*>[^<]`, body, "no inline script")
	assert.NotContains(t, body, "style=", "no inline style")
	for _, asset := range []string{"htmx.min.js", "dashboard.css", "hub.css", "favicon.svg"} {
		m := regexp.MustCompile(`"(/ui/static/` + regexp.QuoteMeta(asset) + `\?v=[0-9a-f]+)"`).FindStringSubmatch(body)
		require.NotNil(t, m, asset)
		status, _ := u.get(m[1])
		assert.Equal(t, http.StatusOK, status, asset)
	}
	status, _ := u.get("/ui/static/README")
	assert.Equal(t, http.StatusNotFound, status)
}

// TestQuotesPage: a site's request is listed open with an answer form for
// those who may answer; the answer moves it to the answered list; a sales
// person reads it with no form.
func TestQuotesPage(t *testing.T) {
	w := newPageWorld(t)
	ctx := t.Context()
	require.NoError(t, w.s.store.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.ReceiveQuoteRequest(ctx, store.QuoteRequest{ID: "pr-1", ClusterID: "lm-aaaaaaaaaaaa", SKU: "timesheet-admin",
			Pool: "designer", Quantity: 5, Reason: "the new team", RequestedBy: "user:lem", ApprovedBy: "user:ada",
			RequestedAt: w.clk.Now(), ReceivedAt: w.clk.Now()})
		return err
	}))
	_, body := w.as["sales"].get("/ui/quotes")
	assert.Contains(t, body, "5 seats of designer")
	assert.NotContains(t, body, "/quotes/pr-1/answer", "sales answers nothing")
	_, body = w.as["license_manager"].get("/ui/quotes")
	assert.Contains(t, body, "/quotes/pr-1/answer")
	_, page := w.as["license_manager"].follow("/ui/quotes/pr-1/answer", url.Values{"answer": {"quoted: 600 EUR a year"}})
	answered := page[strings.Index(page, `id="quotes-answered"`):]
	assert.Contains(t, answered, "quoted: 600 EUR a year")
	resp, _ := w.as["sales"].post("/ui/quotes/pr-1/answer", url.Values{"answer": {"x"}})
	assert.NotEqual(t, http.StatusSeeOther, resp.StatusCode, "sales answered")
}
