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
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, body)
	}
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
	if n := strings.Count(body, `<span class="badge">leader</span>`); n != 1 {
		t.Errorf("%d leader badges, want 1", n)
	}
	if !regexp.MustCompile(`<tr class="leader">\s*<td class="mono">master-a <span class="badge">leader</span>`).MatchString(body) {
		t.Errorf("master-a is not the marked leader:\n%s", body)
	}
	// Masters are listed in ID order.
	if a, b, cc := strings.Index(body, ">master-a"), strings.Index(body, ">master-b"), strings.Index(body, ">master-c"); a > b || b > cc {
		t.Errorf("masters not in order: a@%d b@%d c@%d", a, b, cc)
	}
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
	if n := strings.Count(body, "<svg class=\"seatbar\""); n != 2 {
		t.Errorf("%d seat bars, want 2", n)
	}
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
	if strings.Contains(body, "secret-lease-doc") {
		t.Error("the page shows a lease's signed token")
	}
	if strings.Index(body, ">11</td>") > strings.Index(body, ">12</td>") {
		t.Error("leases not in ID order")
	}
	body = mustGet(t, c, "/ui/pools/runtime")
	wantContains(t, body, "No leases held.")
}

func TestUnknownPoolIs404(t *testing.T) {
	_, c := signedIn(t)
	resp, body := c.get("/ui/pools/nope")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", resp.StatusCode)
	}
	wantContains(t, body, `there is no pool named &#34;nope&#34;`, `class="banner"`)
	resp, body = c.get("/ui/no-such-page")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "There is no page at /ui/no-such-page") {
		t.Fatalf("unknown page: %d\n%s", resp.StatusCode, body)
	}
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
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", frag, resp.StatusCode)
		}
		if strings.Contains(part, "<html") || strings.Contains(part, "<nav") {
			t.Errorf("%s is a whole page, not a fragment", frag)
		}
		if !strings.Contains(full, strings.TrimSpace(part)) {
			t.Errorf("%s is not the block of %s:\n%s", frag, page, part)
		}
		wantContains(t, part, `hx-get="`+frag+`"`, `hx-trigger="every 2s"`, `hx-swap="outerHTML"`)
		if got := resp.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s Cache-Control %q", frag, got)
		}
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
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("GET %s: %d, want 503", p, resp.StatusCode)
		}
		if !strings.Contains(body, `<p class="banner" role="alert">could not load`) || !strings.Contains(body, "node: not leader") {
			t.Errorf("GET %s: no banner naming the problem:\n%s", p, body)
		}
		if strings.Contains(body, "goroutine") || strings.Contains(body, ".go:") {
			t.Errorf("GET %s shows a stack trace", p)
		}
		// The block keeps polling so it recovers once the Source does.
		if !strings.Contains(body, `hx-trigger="every 2s"`) {
			t.Errorf("GET %s: the failed block stopped polling", p)
		}
	}
	e.src.setErr(nil)
	mustGet(t, c, "/ui/fragments/pools")
}

func TestNamesAreEscaped(t *testing.T) {
	e, c := signedIn(t)
	e.src.addPool(&licmeshv1.Pool{Name: `x/<script>alert(1)</script>`, Seats: 1, Enforce: "hard"})
	body := mustGet(t, c, "/ui/pools")
	if strings.Contains(body, "<script>alert") {
		t.Fatal("a pool name was rendered as HTML")
	}
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
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline code: %q", p, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", p, h)
		}
	}
	body := mustGet(t, c, "/ui/pools")
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]|\son[a-z]+=|style="|<style`).MatchString(body) {
		t.Errorf("the page has inline script or style, which the CSP would block:\n%s", body)
	}
}

func TestStaticFilesAreEmbedded(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	_, login := c.get("/ui/login")
	m := regexp.MustCompile(`<script src="(/ui/static/htmx\.min\.js\?v=[0-9a-f]+)" defer>`).FindStringSubmatch(login)
	if m == nil {
		t.Fatalf("no htmx script tag:\n%s", login)
	}
	resp, js := c.get(m[1])
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") || !strings.Contains(js, "htmx") {
		t.Fatalf("htmx: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, css := c.get("/ui/static/dashboard.css")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(css, ".seatbar") {
		t.Fatalf("css: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, p := range []string{"/ui/static/README", "/ui/static/", "/ui/static/../doc.go"} {
		if resp, _ := c.get(p); resp.StatusCode == http.StatusOK {
			t.Errorf("GET %s: 200, want it refused", p)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := dashboard.DefaultConfig()
	good.Source = newMemSource()
	good.Auth = checkToken
	good.SessionKey = sessionKey()
	if err := good.Validate(); err != nil {
		t.Fatalf("a good config: %v", err)
	}
	for name, tc := range map[string]struct {
		edit func(*dashboard.Config)
		want error
	}{
		"no source":        {func(c *dashboard.Config) { c.Source = nil }, dashboard.ErrNoSource},
		"no auth":          {func(c *dashboard.Config) { c.Auth = nil }, dashboard.ErrNoAuth},
		"short key":        {func(c *dashboard.Config) { c.SessionKey = make([]byte, 16) }, dashboard.ErrSessionKey},
		"no clock":         {func(c *dashboard.Config) { c.Now = nil }, dashboard.ErrNoClock},
		"negative ttl":     {func(c *dashboard.Config) { c.SessionTTL = -time.Hour }, dashboard.ErrSessionTTL},
		"zero lease limit": {func(c *dashboard.Config) { c.LeaseLimit = 0 }, dashboard.ErrLeaseLimit},
		"relative prefix":  {func(c *dashboard.Config) { c.Prefix = "ui" }, dashboard.ErrPrefix},
		"trailing slash":   {func(c *dashboard.Config) { c.Prefix = "/ui/" }, dashboard.ErrPrefix},
		"root prefix":      {func(c *dashboard.Config) { c.Prefix = "/" }, dashboard.ErrPrefix},
		"pattern prefix":   {func(c *dashboard.Config) { c.Prefix = "/{x}" }, dashboard.ErrPrefix},
	} {
		cfg := good
		tc.edit(&cfg)
		if err := cfg.Validate(); !errors.Is(err, tc.want) {
			t.Errorf("%s: Validate = %v, want %v", name, err, tc.want)
		}
	}
	// New fills zero optional fields, but not the required ones.
	if _, err := dashboard.New(dashboard.Config{Source: newMemSource(), Auth: checkToken, SessionKey: sessionKey()}); err != nil {
		t.Errorf("New with only the required fields: %v", err)
	}
	if _, err := dashboard.New(dashboard.Config{Source: newMemSource(), Auth: checkToken}); !errors.Is(err, dashboard.ErrSessionKey) {
		t.Errorf("New without a key: %v", err)
	}
}

func TestCustomPrefix(t *testing.T) {
	src := newMemSource()
	h, err := dashboard.New(dashboard.Config{Source: src, Auth: checkToken, SessionKey: sessionKey(), Prefix: "/admin/ui"})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	h.ServeHTTP(rec, mustRequest(t, "GET", "/admin/ui/login"))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `action="/admin/ui/login"`) {
		t.Fatalf("login under /admin/ui: %d\n%s", rec.Code, rec.Body.String())
	}
	for _, c := range rec.Result().Cookies() {
		if c.Path != "/admin/ui" {
			t.Errorf("cookie %s has path %q", c.Name, c.Path)
		}
	}
}
