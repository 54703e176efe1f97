package dashboard_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/dashboard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoginWrongTokenIs401WithoutCookie(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	resp, body := c.signIn("lmt1.adm-42.not-the-secret")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "status")
	assert.Contains(t, strings.ToLower(body), "that api token was refused", "page does not say the token was refused")
	assert.Contains(t, body, `name="token"`, "the form is not shown again")
	assert.Nil(t, findCookie(resp, "licmesh_session"), "a refused sign-in set a session cookie")
	r, _ := c.get("/ui/")
	assert.Equal(t, http.StatusSeeOther, r.StatusCode, "after a refused sign-in GET /ui/, want a redirect")
}

// TestLoginUnavailableIs503 covers a master that cannot judge a sign-in
// now (it cannot reach the leader to know its state is current): the form
// says so with a 503 and names no cause, and no session starts.
func TestLoginUnavailableIs503(t *testing.T) {
	e := newTestEnv(t, func(c *dashboard.Config) {
		c.Auth = func(context.Context, dashboard.Credentials) (dashboard.Principal, error) {
			return dashboard.Principal{}, fmt.Errorf("%w: dial 10.0.0.7:7400: connection refused", dashboard.ErrSignInUnavailable)
		}
	})
	c := e.newClient()
	resp, body := c.signIn(adminToken)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "status:\n%s", body)
	assert.Contains(t, body, "cannot check sign-ins now")
	assert.NotContains(t, body, "10.0.0.7", "the cause reached the page")
	assert.Nil(t, findCookie(resp, "licmesh_session"), "a sign-in that could not be judged set a session cookie")
}

func TestLoginEmptyTokenIsRefused(t *testing.T) {
	e := newTestEnv(t)
	resp, body := e.newClient().signIn("   ")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "want 400 asking for a token:\n%s", body)
	require.Contains(t, body, "Give your user name and password, or paste an API token.", "want 400 asking for a token")
}

func TestLoginGoodTokenSetsSessionCookie(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	resp, _ := c.signIn(adminToken)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "want 303 to /ui/")
	require.Equal(t, "/ui/", resp.Header.Get("Location"), "want 303 to /ui/")
	ck := findCookie(resp, "licmesh_session")
	require.NotNil(t, ck, "no session cookie")
	assert.True(t, ck.HttpOnly, "cookie HttpOnly")
	assert.True(t, ck.Secure, "cookie Secure")
	assert.Equal(t, http.SameSiteStrictMode, ck.SameSite, "cookie SameSite")
	assert.Equal(t, "/ui", ck.Path, "cookie Path")
	assert.Equal(t, int((12 * time.Hour).Seconds()), ck.MaxAge, "cookie Max-Age, want 12h")
	payload, _, _ := strings.Cut(ck.Value, ".")
	decoded, _ := base64.RawURLEncoding.DecodeString(payload)
	for _, v := range []string{ck.Value, string(decoded)} {
		require.NotContains(t, v, adminToken, "the session cookie carries the admin token")
		require.NotContains(t, v, "0123456789abcdef", "the session cookie carries the admin token")
	}
	assert.Contains(t, string(decoded), "adm-42", "the session does not carry the principal")
	resp, body := c.get("/ui/")
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET /ui/ after sign-in")
	wantContains(t, body, "clu-7f3a9c", "adm-42", "Sign out")
	// A signed-in browser asking for the form goes to the cluster page.
	resp, _ = c.get("/ui/login")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "GET /ui/login when signed in")
	assert.Equal(t, "/ui/", resp.Header.Get("Location"), "GET /ui/login when signed in")
}

func TestLoginNeedsTheFormsCSRFToken(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	// A cross-site POST: no sign-in ticket cookie, no form token.
	resp, body := c.post("/ui/login", url.Values{"token": {adminToken}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "POST without the form")
	require.Nil(t, findCookie(resp, "licmesh_session"), "POST without the form set a session cookie")
	wantContains(t, body, "did not come from this dashboard")
	// The ticket cookie of this browser with a token from another's form.
	other := e.newClient()
	_, otherForm := other.get("/ui/login")
	c.get("/ui/login")
	resp, _ = c.post("/ui/login", url.Values{"token": {adminToken}, "csrf": {csrfIn(t, otherForm)}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "POST with another browser's form token")
	// A form left open past its ticket's life.
	_, form := c.get("/ui/login")
	e.clock.Advance(31 * time.Minute)
	resp, _ = c.post("/ui/login", url.Values{"token": {adminToken}, "csrf": {csrfIn(t, form)}})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "POST of an expired form")
}

func TestUnauthenticatedRequestsGoToLogin(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	for _, p := range []string{"/ui/", "/ui/collectors", "/ui/pools", "/ui/pools/designer"} {
		resp, body := c.get(p)
		wantRedirectToLogin(t, resp)
		assert.NotContains(t, body, "clu-7f3a9c", "GET %s leaked data to an anonymous browser", p)
		assert.NotContains(t, body, "alice", "GET %s leaked data to an anonymous browser", p)
	}
	resp, _ := c.get("/ui")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "GET /ui")
	assert.Equal(t, "/ui/", resp.Header.Get("Location"), "GET /ui")
	// htmx polling gets told where to go rather than a sign-in form to swap in.
	for _, p := range []string{"/ui/fragments/cluster", "/ui/fragments/pools", "/ui/fragments/pools/designer"} {
		resp, body := c.getHTMX(p)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "GET %s, want 401 to /ui/login", p)
		assert.Equal(t, "/ui/login", resp.Header.Get("HX-Redirect"), "GET %s, want 401 to /ui/login", p)
		assert.NotContains(t, body, "designer", "GET %s leaked data", p)
	}
}

func TestTamperedSessionCookieIsRejected(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	c.mustSignIn()
	good := c.cookie("licmesh_session").Value
	payload, sig, _ := strings.Cut(good, ".")
	decoded, err := base64.RawURLEncoding.DecodeString(payload)
	require.NoError(t, err)
	promoted := strings.Replace(string(decoded), `"adm-42"`, `"root"`, 1)
	flipped := []byte(sig)
	flipped[3] ^= 1
	for name, v := range map[string]string{
		"principal changed":  base64.RawURLEncoding.EncodeToString([]byte(promoted)) + "." + sig,
		"signature flipped":  payload + "." + string(flipped),
		"signature dropped":  payload,
		"empty signature":    payload + ".",
		"garbage":            "not-a-session",
		"expiry pushed back": base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(decoded), `"exp":`, `"exp":9`, 1))) + "." + sig,
	} {
		t.Run(name, func(t *testing.T) {
			c.setCookie("licmesh_session", v)
			resp, body := c.get("/ui/")
			wantRedirectToLogin(t, resp)
			assert.NotContains(t, body, "clu-7f3a9c", "a tampered cookie saw the cluster page")
		})
	}
	c.setCookie("licmesh_session", good)
	resp, _ := c.get("/ui/")
	require.Equal(t, http.StatusOK, resp.StatusCode, "the untouched cookie no longer works")
}

func TestSessionFromAnotherKeyIsRejected(t *testing.T) {
	e1 := newTestEnv(t)
	e2 := newTestEnv(t, func(c *dashboard.Config) { c.SessionKey = bytes.Repeat([]byte{0x43}, 32) })
	c1 := e1.newClient()
	c1.mustSignIn()
	c2 := e2.newClient()
	c2.setCookie("licmesh_session", c1.cookie("licmesh_session").Value)
	resp, _ := c2.get("/ui/")
	wantRedirectToLogin(t, resp)
}

func TestExpiredSessionRedirectsToLogin(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	c.mustSignIn()
	e.clock.Advance(12*time.Hour - time.Second)
	resp, _ := c.get("/ui/pools")
	require.Equal(t, http.StatusOK, resp.StatusCode, "a second before expiry")
	e.clock.Advance(time.Second)
	resp, _ = c.get("/ui/pools")
	wantRedirectToLogin(t, resp)
	if ck := findCookie(resp, "licmesh_session"); assert.NotNil(t, ck, "the expired cookie was not cleared") {
		assert.Negative(t, ck.MaxAge, "the expired cookie was not cleared: %v", ck)
	}
	resp, _ = c.getHTMX("/ui/fragments/pools")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "polling an expired session")
	assert.Equal(t, "/ui/login", resp.Header.Get("HX-Redirect"), "polling an expired session")
}

func TestLogoutNeedsCSRFToken(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	c.mustSignIn()
	other := e.newClient()
	other.mustSignIn()
	_, otherPage := other.get("/ui/")

	for name, form := range map[string]url.Values{
		"no token":                {},
		"garbage token":           {"csrf": {"AAAA"}},
		"another session's token": {"csrf": {csrfIn(t, otherPage)}},
	} {
		resp, body := c.post("/ui/logout", form)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s: logout", name)
		assert.Contains(t, body, "CSRF", "%s: the refusal does not say why", name)
		resp, _ = c.get("/ui/")
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: the session ended anyway", name)
	}
	resp, _ := c.get("/ui/logout")
	require.NotContains(t, []int{http.StatusSeeOther, http.StatusOK}, resp.StatusCode, "GET /ui/logout answered %d; logout must be a POST", resp.StatusCode)

	_, page := c.get("/ui/")
	resp, _ = c.post("/ui/logout", url.Values{"csrf": {csrfIn(t, page)}})
	wantRedirectToLogin(t, resp)
	ck := findCookie(resp, "licmesh_session")
	require.NotNil(t, ck, "logout did not clear the cookie")
	require.Negative(t, ck.MaxAge, "logout did not clear the cookie: %v", ck)
	resp, _ = c.get("/ui/")
	wantRedirectToLogin(t, resp)
	resp, _ = other.get("/ui/")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "another browser's session ended too")
}

// TestCheckEndsOrHoldsSession: Config.Check runs on every request; a
// refusal ends the session (the cookie is dropped), and "cannot tell yet"
// answers 503 and keeps it.
func TestCheckEndsOrHoldsSession(t *testing.T) {
	var (
		mu      sync.Mutex
		verdict error
	)
	set := func(err error) { mu.Lock(); verdict = err; mu.Unlock() }
	e := newTestEnv(t, func(c *dashboard.Config) {
		c.Check = func(_ context.Context, p dashboard.Principal) (dashboard.Principal, error) {
			mu.Lock()
			defer mu.Unlock()
			p.Role = "viewer-now"
			return p, verdict
		}
	})
	c := e.newClient()
	_, page := c.get("/ui/login")
	resp, body := c.post("/ui/login", url.Values{"csrf": {csrfIn(t, page)}, "user": {"vera"}, "password": {veraPassword}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	resp, body = c.get("/ui/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "viewer-now", "the page shows the principal as Check returned it")

	set(fmt.Errorf("%w: behind", dashboard.ErrSessionUnavailable))
	resp, _ = c.get("/ui/")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.NotNil(t, c.cookie("licmesh_session"), "a master catching up dropped the session")

	set(errors.New("user disabled"))
	resp, _ = c.get("/ui/")
	wantRedirectToLogin(t, resp)
	assert.Nil(t, c.cookie("licmesh_session"), "a refused session kept its cookie")
	set(nil)
	resp, _ = c.get("/ui/")
	wantRedirectToLogin(t, resp)
}

// TestViewerSeesNoForms: a principal without "licenses" gets no paste box,
// and its POST is refused with the permission it lacks.
func TestViewerSeesNoForms(t *testing.T) {
	e := newTestEnv(t, func(c *dashboard.Config) {
		c.AddLicense = func(context.Context, string) (*licmeshv1.License, error) {
			return nil, errors.New("should not be called")
		}
	})
	c := e.newClient()
	_, page := c.get("/ui/login")
	resp, body := c.post("/ui/login", url.Values{"csrf": {csrfIn(t, page)}, "user": {"vera"}, "password": {veraPassword}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
	_, body = c.get("/ui/licenses")
	assert.NotContains(t, body, `name="license"`)
	resp, body = c.post("/ui/licenses", url.Values{"csrf": {csrfIn(t, body)}, "license": {"x"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, body, "user:vera (role viewer) may not do this; it needs permission licenses")

	// A wrong password keeps the name typed.
	c2 := e.newClient()
	_, page = c2.get("/ui/login")
	resp, body = c2.post("/ui/login", url.Values{"csrf": {csrfIn(t, page)}, "user": {"Vera "}, "password": {"nope"}})
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, body, "That user name and password were refused.")
	assert.Contains(t, body, `value="vera"`)
	assert.NotContains(t, body, "nope")
}
