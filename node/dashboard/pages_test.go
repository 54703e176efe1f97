package dashboard_test

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/dashboard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func signedIn(t *testing.T) (*testEnv, *client) {
	t.Helper()
	e := newTestEnv(t)
	c := e.newClient()
	c.mustSignIn()
	return e, c
}

func mustGet(t *testing.T, c *client, path string) string {
	t.Helper()
	resp, body := c.get(path)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s:\n%s", path, body)
	return body
}

func TestClusterPageShowsStatusAndMasters(t *testing.T) {
	_, c := signedIn(t)
	body := mustGet(t, c, "/ui/")
	wantContains(t, body,
		"clu-7f3a9c", "master-a", "master-b", "master-c",
		"10.0.0.1:7400", "10.0.0.2:7400", "10.0.0.3:7400",
		`<dd id="term" class="num">4</dd>`,
		`<dd id="commit-index" class="num">1842</dd>`,
		`<dd id="applied-index" class="num">1841</dd>`,
		`<time datetime="2026-03-14T09:26:50Z">2026-03-14 09:26:50 UTC</time> <span class="sub">3s ago</span>`,
		`<nav aria-label="main">`, `aria-current="page">Cluster</a>`,
	)
	// The leader is marked, and only the leader.
	assert.Equal(t, 1, strings.Count(body, `<span class="badge">leader</span>`), "leader badges")
	assert.Regexp(t, regexp.MustCompile(`<tr class="leader">\s*<td class="mono">master-a <span class="badge">leader</span>`), body,
		"master-a is not the marked leader")
	// Masters are listed in ID order.
	a, b, cc := strings.Index(body, ">master-a"), strings.Index(body, ">master-b"), strings.Index(body, ">master-c")
	assert.LessOrEqual(t, a, b, "masters not in order: a@%d b@%d c@%d", a, b, cc)
	assert.LessOrEqual(t, b, cc, "masters not in order: a@%d b@%d c@%d", a, b, cc)
}

func TestCollectorsPageShowsCollectors(t *testing.T) {
	_, c := signedIn(t)
	body := mustGet(t, c, "/ui/collectors")
	wantContains(t, body, "col-01", "bpm-prod-1", "col-02", "bpm-prod-2", "v0.3.0", "h3", "h2",
		">12s ago</time>", ">5m ago</time>", `aria-current="page">Collectors</a>`)
}

func TestPoolsPageShowsBars(t *testing.T) {
	_, c := signedIn(t)
	body := mustGet(t, c, "/ui/pools")
	wantContains(t, body,
		`<a href="/ui/pools/designer">designer</a>`, "hard", "7 / 10",
		`<a href="/ui/pools/runtime">runtime</a>`, "soft", "5 / 4",
		`aria-label="7 of 10 seats held"`,
		`<rect class="fill ok" width="84"`,    // 7/10 of 120
		`<rect class="fill over" width="120"`, // soft pool past its seats
		`<td class="num">3</td>`,              // runtime's overage grants
	)
	assert.Equal(t, 2, strings.Count(body, "<svg class=\"seatbar\""), "seat bars")
}

func TestPoolPageShowsLeases(t *testing.T) {
	_, c := signedIn(t)
	body := mustGet(t, c, "/ui/pools/designer")
	wantContains(t, body,
		"alice@example.com", "bob@example.com", "col-01", "col-02",
		`<td class="num">1801</td>`, `<td class="num">1790</td>`,
		">40s ago</time>", ">in 50s</time>", ">2m ago</time>", ">in 30s</time>",
		"7 / 10", `aria-current="page">Pools</a>`,
		`hx-get="/ui/fragments/pools/designer"`,
	)
	assert.NotContains(t, body, "secret-lease-doc", "the page shows a lease's signed token")
	assert.LessOrEqual(t, strings.Index(body, ">11</td>"), strings.Index(body, ">12</td>"), "leases not in ID order")
	body = mustGet(t, c, "/ui/pools/runtime")
	wantContains(t, body, "No leases held.")
}

func TestUnknownPoolIs404(t *testing.T) {
	_, c := signedIn(t)
	resp, body := c.get("/ui/pools/nope")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "status")
	wantContains(t, body, `there is no pool named &#34;nope&#34;`, `class="banner"`)
	resp, body = c.get("/ui/no-such-page")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "unknown page:\n%s", body)
	require.Contains(t, body, "There is no page at /ui/no-such-page", "unknown page")
}

// TestFragmentsAreThePagesBlocks checks that each fragment is exactly the
// live block of its page (one template, not two copies) and polls itself.
func TestFragmentsAreThePagesBlocks(t *testing.T) {
	e, c := signedIn(t)
	for page, frag := range map[string]string{
		"/ui/":               "/ui/fragments/cluster",
		"/ui/collectors":     "/ui/fragments/collectors",
		"/ui/pools":          "/ui/fragments/pools",
		"/ui/pools/designer": "/ui/fragments/pools/designer",
	} {
		full := mustGet(t, c, page)
		resp, part := c.getHTMX(frag)
		require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s", frag)
		assert.NotContains(t, part, "<html", "%s is a whole page, not a fragment", frag)
		assert.NotContains(t, part, "<nav", "%s is a whole page, not a fragment", frag)
		assert.Contains(t, full, strings.TrimSpace(part), "%s is not the block of %s", frag, page)
		wantContains(t, part, `hx-get="`+frag+`"`, `hx-trigger="every 2s"`, `hx-swap="outerHTML"`)
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "%s Cache-Control", frag)
	}
	// A fragment shows the Source's data as it is now.
	e.src.setHeld("designer", 9)
	_, part := c.getHTMX("/ui/fragments/pools")
	wantContains(t, part, "9 / 10", `<rect class="fill full" width="108"`)
}

func TestSourceErrorsShowABanner(t *testing.T) {
	e, c := signedIn(t)
	e.src.setErr(errors.New("node: not leader"))
	for _, p := range []string{"/ui/", "/ui/collectors", "/ui/pools", "/ui/pools/designer",
		"/ui/fragments/cluster", "/ui/fragments/collectors", "/ui/fragments/pools", "/ui/fragments/pools/designer"} {
		resp, body := c.get(p)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "GET %s", p)
		assert.Contains(t, body, `<p class="banner" role="alert">could not load`, "GET %s: no banner naming the problem", p)
		assert.Contains(t, body, "node: not leader", "GET %s: no banner naming the problem", p)
		assert.NotContains(t, body, "goroutine", "GET %s shows a stack trace", p)
		assert.NotContains(t, body, ".go:", "GET %s shows a stack trace", p)
		// The block keeps polling so it recovers once the Source does.
		assert.Contains(t, body, `hx-trigger="every 2s"`, "GET %s: the failed block stopped polling", p)
	}
	e.src.setErr(nil)
	mustGet(t, c, "/ui/fragments/pools")
}

func TestNamesAreEscaped(t *testing.T) {
	e, c := signedIn(t)
	e.src.addPool(&licmeshv1.Pool{Name: `x/<script>alert(1)</script>`, Seats: 1, Enforce: "hard"})
	body := mustGet(t, c, "/ui/pools")
	require.NotContains(t, body, "<script>alert", "a pool name was rendered as HTML")
	wantContains(t, body, `href="/ui/pools/x%2F%3Cscript%3Ealert%281%29%3C%2Fscript%3E"`)
	body = mustGet(t, c, "/ui/pools/x%2F%3Cscript%3Ealert%281%29%3C%2Fscript%3E")
	wantContains(t, body, "No leases held.", `hx-get="/ui/fragments/pools/x%2F%3Cscript%3Ealert%281%29%3C%2Fscript%3E"`)
}

func TestSecurityHeaders(t *testing.T) {
	_, c := signedIn(t)
	for _, p := range []string{"/ui/", "/ui/login", "/ui/fragments/pools", "/ui/static/dashboard.css", "/ui/nowhere"} {
		resp, _ := c.get(p)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
			assert.Contains(t, csp, want, "%s: CSP", p)
		}
		assert.NotContains(t, csp, "unsafe-inline", "%s: CSP allows inline code", p)
		assert.NotContains(t, csp, "unsafe-eval", "%s: CSP allows inline code", p)
		assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), "%s: headers %v", p, h)
		assert.NotEmpty(t, h.Get("Referrer-Policy"), "%s: headers %v", p, h)
		assert.Equal(t, "DENY", h.Get("X-Frame-Options"), "%s: headers %v", p, h)
	}
	body := mustGet(t, c, "/ui/pools")
	assert.NotRegexp(t, regexp.MustCompile(`<script>|<script [^>]*>[^<]|\son[a-z]+=|style="|<style`), body,
		"the page has inline script or style, which the CSP would block")
}

func TestStaticFilesAreEmbedded(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	_, login := c.get("/ui/login")
	m := regexp.MustCompile(`<script src="(/ui/static/htmx\.min\.js\?v=[0-9a-f]+)" defer>`).FindStringSubmatch(login)
	require.NotNil(t, m, "no htmx script tag:\n%s", login)
	resp, js := c.get(m[1])
	require.Equal(t, http.StatusOK, resp.StatusCode, "htmx")
	require.Contains(t, resp.Header.Get("Content-Type"), "javascript", "htmx")
	require.True(t, strings.Contains(js, "htmx"), "htmx: the script does not mention htmx")
	resp, css := c.get("/ui/static/dashboard.css")
	require.Equal(t, http.StatusOK, resp.StatusCode, "css")
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css"), "css: Content-Type %q", resp.Header.Get("Content-Type"))
	require.True(t, strings.Contains(css, ".seatbar"), "css: the stylesheet has no .seatbar")
	for _, p := range []string{"/ui/static/README", "/ui/static/", "/ui/static/../doc.go"} {
		resp, _ := c.get(p)
		assert.NotEqual(t, http.StatusOK, resp.StatusCode, "GET %s: 200, want it refused", p)
	}
}

func TestConfigValidate(t *testing.T) {
	good := dashboard.DefaultConfig()
	good.Source = newMemSource()
	good.Auth = checkCreds
	good.SessionKey = sessionKey()
	require.NoError(t, good.Validate(), "a good config")
	for name, tc := range map[string]struct {
		edit func(*dashboard.Config)
		want error
	}{
		"no source":        {func(c *dashboard.Config) { c.Source = nil }, dashboard.ErrNoSource},
		"no auth":          {func(c *dashboard.Config) { c.Auth = nil }, dashboard.ErrNoAuth},
		"short key":        {func(c *dashboard.Config) { c.SessionKey = make([]byte, 16) }, dashboard.ErrSessionKey},
		"no clock":         {func(c *dashboard.Config) { c.Clock = nil }, dashboard.ErrNoClock},
		"negative ttl":     {func(c *dashboard.Config) { c.SessionTTL = -time.Hour }, dashboard.ErrSessionTTL},
		"zero lease limit": {func(c *dashboard.Config) { c.LeaseLimit = 0 }, dashboard.ErrLeaseLimit},
		"relative prefix":  {func(c *dashboard.Config) { c.Prefix = "ui" }, dashboard.ErrPrefix},
		"trailing slash":   {func(c *dashboard.Config) { c.Prefix = "/ui/" }, dashboard.ErrPrefix},
		"root prefix":      {func(c *dashboard.Config) { c.Prefix = "/" }, dashboard.ErrPrefix},
		"pattern prefix":   {func(c *dashboard.Config) { c.Prefix = "/{x}" }, dashboard.ErrPrefix},
	} {
		cfg := good
		tc.edit(&cfg)
		assert.ErrorIs(t, cfg.Validate(), tc.want, "%s: Validate", name)
	}
	// New fills zero optional fields, but not the required ones.
	_, err := dashboard.New(dashboard.Config{Source: newMemSource(), Auth: checkCreds, SessionKey: sessionKey()})
	assert.NoError(t, err, "New with only the required fields")
	_, err = dashboard.New(dashboard.Config{Source: newMemSource(), Auth: checkCreds})
	assert.ErrorIs(t, err, dashboard.ErrSessionKey, "New without a key")
}

func TestCustomPrefix(t *testing.T) {
	src := newMemSource()
	h, err := dashboard.New(dashboard.Config{Source: src, Auth: checkCreds, SessionKey: sessionKey(), Prefix: "/admin/ui"})
	require.NoError(t, err)
	rec := newRecorder()
	h.ServeHTTP(rec, mustRequest(t, "GET", "/admin/ui/login"))
	require.Equal(t, http.StatusOK, rec.Code, "login under /admin/ui:\n%s", rec.Body.String())
	require.Contains(t, rec.Body.String(), `action="/admin/ui/login"`, "login under /admin/ui")
	for _, c := range rec.Result().Cookies() {
		assert.Equal(t, "/admin/ui", c.Path, "cookie %s path", c.Name)
	}
}
