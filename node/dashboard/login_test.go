package dashboard_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/licmesh/licmesh/node/dashboard"
)

func TestLoginWrongTokenIs401WithoutCookie(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	resp, body := c.signIn("lmt1.adm-42.not-the-secret")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", resp.StatusCode)
	}
	if !strings.Contains(strings.ToLower(body), "that admin token was refused") {
		t.Errorf("page does not say the token was refused:\n%s", body)
	}
	if !strings.Contains(body, `name="token"`) {
		t.Errorf("the form is not shown again")
	}
	if ck := findCookie(resp, "licmesh_session"); ck != nil {
		t.Errorf("a refused sign-in set a session cookie: %v", ck)
	}
	if r, _ := c.get("/ui/"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after a refused sign-in GET /ui/ = %d, want a redirect", r.StatusCode)
	}
}

func TestLoginEmptyTokenIsRefused(t *testing.T) {
	e := newTestEnv(t)
	resp, body := e.newClient().signIn("   ")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Paste an admin token") {
		t.Fatalf("status %d, want 400 asking for a token:\n%s", resp.StatusCode, body)
	}
}

func TestLoginGoodTokenSetsSessionCookie(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	resp, _ := c.signIn(adminToken)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("got %d to %q, want 303 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	ck := findCookie(resp, "licmesh_session")
	if ck == nil {
		t.Fatal("no session cookie")
	}
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/ui" {
		t.Errorf("cookie attributes: HttpOnly=%v Secure=%v SameSite=%v Path=%q; want true true Strict /ui",
			ck.HttpOnly, ck.Secure, ck.SameSite, ck.Path)
	}
	if ck.MaxAge != int((12 * time.Hour).Seconds()) {
		t.Errorf("cookie Max-Age %d, want 12h", ck.MaxAge)
	}
	payload, _, _ := strings.Cut(ck.Value, ".")
	decoded, _ := base64.RawURLEncoding.DecodeString(payload)
	for _, v := range []string{ck.Value, string(decoded)} {
		if strings.Contains(v, adminToken) || strings.Contains(v, "0123456789abcdef") {
			t.Fatalf("the session cookie carries the admin token")
		}
	}
	if !strings.Contains(string(decoded), "adm-42") {
		t.Errorf("the session does not carry the principal: %s", decoded)
	}
	resp, body := c.get("/ui/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /ui/ after sign-in: %d", resp.StatusCode)
	}
	wantContains(t, body, "clu-7f3a9c", "adm-42", "Sign out")
	// A signed-in browser asking for the form goes to the cluster page.
	if resp, _ := c.get("/ui/login"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui/login when signed in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestLoginNeedsTheFormsCSRFToken(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	// A cross-site POST: no sign-in ticket cookie, no form token.
	resp, body := c.post("/ui/login", url.Values{"token": {adminToken}})
	if resp.StatusCode != http.StatusForbidden || findCookie(resp, "licmesh_session") != nil {
		t.Fatalf("POST without the form: %d, session cookie %v", resp.StatusCode, findCookie(resp, "licmesh_session"))
	}
	wantContains(t, body, "did not come from this dashboard")
	// The ticket cookie of this browser with a token from another's form.
	other := e.newClient()
	_, otherForm := other.get("/ui/login")
	c.get("/ui/login")
	resp, _ = c.post("/ui/login", url.Values{"token": {adminToken}, "csrf": {csrfIn(t, otherForm)}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST with another browser's form token: %d, want 403", resp.StatusCode)
	}
	// A form left open past its ticket's life.
	_, form := c.get("/ui/login")
	e.clock.Advance(31 * time.Minute)
	resp, _ = c.post("/ui/login", url.Values{"token": {adminToken}, "csrf": {csrfIn(t, form)}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST of an expired form: %d, want 403", resp.StatusCode)
	}
}

func TestUnauthenticatedRequestsGoToLogin(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	for _, p := range []string{"/ui/", "/ui/collectors", "/ui/pools", "/ui/pools/designer"} {
		resp, body := c.get(p)
		wantRedirectToLogin(t, resp)
		if strings.Contains(body, "clu-7f3a9c") || strings.Contains(body, "alice") {
			t.Errorf("GET %s leaked data to an anonymous browser", p)
		}
	}
	resp, _ := c.get("/ui")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// htmx polling gets told where to go rather than a sign-in form to swap in.
	for _, p := range []string{"/ui/fragments/cluster", "/ui/fragments/pools", "/ui/fragments/pools/designer"} {
		resp, body := c.getHTMX(p)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("HX-Redirect") != "/ui/login" {
			t.Errorf("GET %s: %d HX-Redirect %q, want 401 to /ui/login", p, resp.StatusCode, resp.Header.Get("HX-Redirect"))
		}
		if strings.Contains(body, "designer") {
			t.Errorf("GET %s leaked data", p)
		}
	}
}

func TestTamperedSessionCookieIsRejected(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	c.mustSignIn()
	good := c.cookie("licmesh_session").Value
	payload, sig, _ := strings.Cut(good, ".")
	decoded, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
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
			if strings.Contains(body, "clu-7f3a9c") {
				t.Error("a tampered cookie saw the cluster page")
			}
		})
	}
	c.setCookie("licmesh_session", good)
	if resp, _ := c.get("/ui/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the untouched cookie no longer works: %d", resp.StatusCode)
	}
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
	if resp, _ := c.get("/ui/pools"); resp.StatusCode != http.StatusOK {
		t.Fatalf("a second before expiry: %d, want 200", resp.StatusCode)
	}
	e.clock.Advance(time.Second)
	resp, _ := c.get("/ui/pools")
	wantRedirectToLogin(t, resp)
	if ck := findCookie(resp, "licmesh_session"); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("the expired cookie was not cleared: %v", ck)
	}
	resp, _ = c.getHTMX("/ui/fragments/pools")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("HX-Redirect") != "/ui/login" {
		t.Errorf("polling an expired session: %d HX-Redirect %q", resp.StatusCode, resp.Header.Get("HX-Redirect"))
	}
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
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: logout %d, want 403", name, resp.StatusCode)
		}
		if !strings.Contains(body, "CSRF") {
			t.Errorf("%s: the refusal does not say why: %s", name, body)
		}
		if resp, _ := c.get("/ui/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: the session ended anyway: %d", name, resp.StatusCode)
		}
	}
	if resp, _ := c.get("/ui/logout"); resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusOK {
		t.Fatalf("GET /ui/logout answered %d; logout must be a POST", resp.StatusCode)
	}

	_, page := c.get("/ui/")
	resp, _ := c.post("/ui/logout", url.Values{"csrf": {csrfIn(t, page)}})
	wantRedirectToLogin(t, resp)
	if ck := findCookie(resp, "licmesh_session"); ck == nil || ck.MaxAge >= 0 {
		t.Fatalf("logout did not clear the cookie: %v", ck)
	}
	resp, _ = c.get("/ui/")
	wantRedirectToLogin(t, resp)
	if resp, _ := other.get("/ui/"); resp.StatusCode != http.StatusOK {
		t.Errorf("another browser's session ended too: %d", resp.StatusCode)
	}
}
