package hub

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// webUser is one browser on the hub's pages: its own cookie jar, and
// redirects not followed, so tests see them.
type webUser struct {
	t    *testing.T
	h    *testHub
	hc   *http.Client
	csrf string
}

// web returns a browser that has not signed in.
func (h *testHub) web(t *testing.T) *webUser {
	t.Helper()
	hc := h.httpClient(t)
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &webUser{t: t, h: h, hc: hc}
}

var (
	csrfField   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	alertBanner = regexp.MustCompile(`(?s)class="banner"[^>]*role="alert"[^>]*>(.*?)</p>`)
)

// signIn signs in through the sign-in page, as a person would.
func (u *webUser) signIn(email, password string) *webUser {
	u.t.Helper()
	status, body := u.get("/ui/login")
	require.Equal(u.t, http.StatusOK, status, "the sign-in form")
	m := csrfField.FindStringSubmatch(body)
	require.NotNil(u.t, m, "the sign-in form has its csrf field")
	resp, _ := u.send(http.MethodPost, "/ui/login", url.Values{"csrf": {m[1]}, "email": {email}, "password": {password}})
	require.Equal(u.t, http.StatusSeeOther, resp.StatusCode, "sign in as %s", email)
	require.Equal(u.t, "/ui/", resp.Header.Get("Location"))
	status, body = u.get("/ui/help")
	require.Equal(u.t, http.StatusOK, status)
	m = csrfField.FindStringSubmatch(body)
	require.NotNil(u.t, m, "a signed-in page carries the session's CSRF token")
	u.csrf = m[1]
	return u
}

// webAs is a browser signed in as email.
func (h *testHub) webAs(t *testing.T, email, password string) *webUser {
	t.Helper()
	return h.web(t).signIn(email, password)
}

func (u *webUser) send(method, path string, form url.Values) (*http.Response, string) {
	u.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(u.t.Context(), method, u.h.url+path, body)
	require.NoError(u.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := u.hc.Do(req)
	require.NoError(u.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(u.t, err)
	return resp, string(b)
}

// get fetches a page: its status and body.
func (u *webUser) get(path string) (int, string) {
	u.t.Helper()
	resp, body := u.send(http.MethodGet, path, nil)
	return resp.StatusCode, body
}

// post posts a form with the session's CSRF token, as the pages' forms do.
func (u *webUser) post(path string, form url.Values) (*http.Response, string) {
	u.t.Helper()
	f := url.Values{"csrf": {u.csrf}}
	for k, v := range form {
		f[k] = v
	}
	return u.send(http.MethodPost, path, f)
}

// alert is the text of the page's refusal banner, if any.
func alert(body string) string {
	m := alertBanner.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// pageWorld is newWorld (two resellers with a customer and a trial each,
// a direct customer with a trial) with one browser signed in per role.
type pageWorld struct {
	*world
	as       map[string]*webUser // by role; reseller is Partner One's, reseller2 Partner Two's
	password map[string]string   // by email
}

func newPageWorld(t *testing.T) *pageWorld {
	t.Helper()
	w := &pageWorld{world: newWorld(t), as: map[string]*webUser{}, password: map[string]string{}}
	mk := func(key string, role store.Role, email, company, reseller string) {
		r, err := w.admin.CreateAccount(t.Context(), connect.NewRequest(&licmeshv1.CreateAccountRequest{
			Email: email, Name: "Page " + key, Role: string(role), CompanyId: company, ResellerId: reseller}))
		require.NoError(t, err)
		w.password[email] = r.Msg.GetPassword()
		w.as[key] = w.webAs(t, email, r.Msg.GetPassword())
	}
	w.as["admin"] = w.webAs(t, w.init.AdminEmail, w.init.AdminPassword)
	w.password[w.init.AdminEmail] = w.init.AdminPassword
	mk("license_manager", store.RoleLicenseManager, "lm@vendor.example", "", "")
	mk("release_manager", store.RoleReleaseManager, "rm@vendor.example", "", "")
	mk("sales", store.RoleSales, "sales-page@vendor.example", "", "")
	mk("reseller", store.RoleReseller, "page@one.example", "", w.r1)
	mk("reseller2", store.RoleReseller, "page@two.example", "", w.r2)
	mk("customer", store.RoleCustomer, "page@acme.example", w.co1, "")
	return w
}

// roles are the keys of pageWorld.as.
var roles = []string{"admin", "license_manager", "release_manager", "sales", "reseller", "reseller2", "customer"}
