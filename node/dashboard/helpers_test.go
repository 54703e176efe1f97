package dashboard_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	"github.com/licmesh/licmesh/node/dashboard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testEnv is a dashboard mounted under /ui on a real TLS test server, as the
// master mounts it, over an in-memory Source and a fake clock.
type testEnv struct {
	t     *testing.T
	src   *memSource
	clock *clocktest.Fake
	srv   *httptest.Server
}

func sessionKey() []byte { return bytes.Repeat([]byte{0x42}, 32) }

func newTestEnv(t *testing.T, opts ...func(*dashboard.Config)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, src: newMemSource(), clock: clocktest.New(t0)}
	cfg := dashboard.DefaultConfig()
	cfg.Source = e.src
	cfg.Auth = checkCreds
	cfg.SessionKey = sessionKey()
	cfg.Clock = e.clock
	for _, o := range opts {
		o(&cfg)
	}
	h, err := dashboard.New(cfg)
	require.NoError(t, err, "New")
	mux := http.NewServeMux()
	mux.Handle("/ui/", h)
	mux.Handle("/ui", h)
	e.srv = httptest.NewTLSServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// client is one browser: its own cookie jar, redirects not followed so tests
// see them.
type client struct {
	t   *testing.T
	e   *testEnv
	hc  *http.Client
	jar *cookiejar.Jar
}

func (e *testEnv) newClient() *client {
	e.t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	// srv.Client() is shared; each browser needs its own client and jar.
	hc := &http.Client{
		Transport:     e.srv.Client().Transport,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &client{t: e.t, e: e, hc: hc, jar: jar}
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	require.NoError(c.t, err, "%s %s", req.Method, req.URL.Path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err, "%s %s: read body", req.Method, req.URL.Path)
	return resp, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	require.NoError(c.t, err)
	return c.do(req)
}

// getHTMX fetches path as htmx's polling does.
func (c *client) getHTMX(path string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	require.NoError(c.t, err)
	req.Header.Set("HX-Request", "true")
	return c.do(req)
}

func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfIn(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	require.NotNil(t, m, "no csrf field in page:\n%s", body)
	return m[1]
}

// signIn goes through the sign-in form with token and returns the response
// to the POST.
func (c *client) signIn(token string) (*http.Response, string) {
	c.t.Helper()
	resp, body := c.get("/ui/login")
	require.Equal(c.t, http.StatusOK, resp.StatusCode, "GET /ui/login")
	return c.post("/ui/login", url.Values{"csrf": {csrfIn(c.t, body)}, "token": {token}})
}

func (c *client) mustSignIn() {
	c.t.Helper()
	resp, body := c.signIn(adminToken)
	require.Equal(c.t, http.StatusSeeOther, resp.StatusCode, "sign-in:\n%s", body)
	require.Equal(c.t, "/ui/", resp.Header.Get("Location"), "sign-in:\n%s", body)
}

func (c *client) uiURL() *url.URL {
	u, err := url.Parse(c.e.srv.URL + "/ui/")
	require.NoError(c.t, err)
	return u
}

func (c *client) cookie(name string) *http.Cookie {
	for _, ck := range c.jar.Cookies(c.uiURL()) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func (c *client) setCookie(name, value string) {
	c.jar.SetCookies(c.uiURL(), []*http.Cookie{{Name: name, Value: value, Path: "/ui", Secure: true}})
}

func findCookie(resp *http.Response, name string) *http.Cookie {
	for _, ck := range resp.Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// wantRedirectToLogin fails unless resp sends the browser to the sign-in form.
func wantRedirectToLogin(t *testing.T, resp *http.Response) {
	t.Helper()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "want 303 to /ui/login")
	require.Equal(t, "/ui/login", resp.Header.Get("Location"), "want 303 to /ui/login")
}

func wantContains(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		assert.Contains(t, body, w, "page lacks %q", w)
	}
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func mustRequest(t *testing.T, method, target string) *http.Request {
	t.Helper()
	return httptest.NewRequest(method, "https://dash.test"+target, nil)
}
