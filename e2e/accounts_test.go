package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

// signInForm is the sign-in form's CSRF field.
var signInForm = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// dashUser is a browser without the browser: a cookie jar over a client
// that trusts the cluster CA. Cookies are kept per host, not per port, so
// the one session goes to every master on 127.0.0.1 as it would to every
// master behind one name.
type dashUser struct {
	t  *testing.T
	hc *http.Client
}

func newDashUser(t *testing.T, m *harness.Master) *dashUser {
	t.Helper()
	hc, err := m.HTTPClient()
	require.NoError(t, err)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &dashUser{t: t, hc: hc}
}

func (u *dashUser) get(m *harness.Master, path string) (int, string) {
	u.t.Helper()
	resp, err := u.hc.Get("https://" + m.APIAddr() + path)
	require.NoError(u.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// status is get's status, or 0 when m does not answer.
func (u *dashUser) status(m *harness.Master, path string) int {
	resp, err := u.hc.Get("https://" + m.APIAddr() + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// statusKeeping is status without taking what the answer sets: a master
// that ends the session clears the cookie, and the next master must still
// be asked with it.
func (u *dashUser) statusKeeping(m *harness.Master, path string) int {
	u.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://"+m.APIAddr()+path, nil)
	require.NoError(u.t, err)
	for _, c := range u.hc.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	hc := *u.hc
	hc.Jar = nil
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (u *dashUser) signIn(m *harness.Master, name, password string) int {
	u.t.Helper()
	_, page := u.get(m, "/ui/login")
	csrf := signInForm.FindStringSubmatch(page)
	require.NotNil(u.t, csrf, "no sign-in form on %s", m.ID)
	resp, err := u.hc.PostForm("https://"+m.APIAddr()+"/ui/login", url.Values{"csrf": {csrf[1]}, "user": {name}, "password": {password}})
	require.NoError(u.t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestAccountsAcrossMasters: people made with meshctl sign in to one
// master's dashboard with their password, and the session holds on every
// other master and through a restart of the one they signed in to; a
// viewer's API token is refused what a viewer may not do; disabling the
// user on a third master ends the session everywhere at once.
func TestAccountsAcrossMasters(t *testing.T) {
	t.Parallel()
	c := harness.StartCluster(t, 3, harness.Options{})
	c.WaitReady(30 * time.Second)
	m0, m1, m2 := c.Masters[0], c.Masters[1], c.Masters[2]

	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("alice's long password\n"), 0o600))
	out, errOut, code := m0.Meshctl("user", "create", "alice", "--role", "license_manager", "--password-file", pwFile)
	require.Equal(t, 0, code, "user create: %s %s", out, errOut)
	assert.Contains(t, out, "license_manager")
	_, errOut, code = m0.Meshctl("user", "create", "alice", "--role", "viewer", "--password-file", pwFile)
	assert.Equal(t, 1, code, "a second alice")
	assert.Contains(t, errOut, "user exists")
	assert.NotContains(t, errOut, "alice's long password")
	_, errOut, code = m1.Meshctl("user", "create", "vic", "--role", "viewer", "--password-file", pwFile)
	require.Equal(t, 0, code, errOut)

	// A viewer's own token reads and is refused a change.
	tok, errOut, code := m1.Meshctl("token", "create", "--role", "viewer", "--user", "vic", "--ttl", "1h")
	require.Equal(t, 0, code, errOut)
	tok = strings.TrimSpace(tok)
	out, errOut, code = m2.Meshctl("whoami", "--token", tok)
	require.Equal(t, 0, code, "%s: token %q", errOut, tok)
	assert.Contains(t, out, "user:vic")
	_, _, code = m2.Meshctl("pool", "list", "--token", tok)
	assert.Equal(t, 0, code, "a viewer lists pools")
	_, errOut, code = m2.Meshctl("pool", "create", "sneaky", "--seats", "3", "--token", tok)
	assert.Equal(t, 1, code, "a viewer created a pool")
	assert.Contains(t, errOut, "may not call CreatePool")

	// One sign-in, every master.
	u := newDashUser(t, m0)
	require.Equal(t, http.StatusSeeOther, u.signIn(m0, "alice", "alice's long password"))
	for _, m := range c.Masters {
		status, body := u.get(m, "/ui/")
		assert.Equal(t, http.StatusOK, status, "%s takes the session", m.ID)
		assert.Contains(t, body, "user:alice", m.ID)
	}
	// And after a kill -9 and restart of the master signed in to.
	m0.Process().Kill()
	m0.Start()
	require.Eventually(t, func() bool {
		return u.status(m0, "/ui/") == http.StatusOK
	}, 30*time.Second, 100*time.Millisecond, "the session after %s restarted", m0.ID)

	// Disabled on another master, the session ends everywhere.
	_, errOut, code = m2.Meshctl("user", "set", "alice", "--disable")
	require.Equal(t, 0, code, errOut)
	// The password is refused at once, even on a master that has not
	// applied the change yet: it catches up with the leader first.
	assert.Equal(t, http.StatusUnauthorized, newDashUser(t, m1).signIn(m1, "alice", "alice's long password"), "a disabled user signed in")
	for _, m := range c.Masters {
		require.Eventually(t, func() bool {
			return u.statusKeeping(m, "/ui/") == http.StatusSeeOther
		}, 10*time.Second, 50*time.Millisecond, "%s still honours a disabled user's session", m.ID)
	}
	out, _, code = m1.Meshctl("user", "list")
	require.Equal(t, 0, code)
	assert.Regexp(t, `alice\s+license_manager\s+no`, out)

	// Every change above, from whichever master, left exactly one record,
	// the refused ones too, and so did each sign-in; the reads left none.
	out, errOut, code = m1.Meshctl("audit", "list", "--all", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var log struct {
		Records []struct {
			Actor, Action, Code, Outcome, Addr string
			Commands                           []string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &log), out)
	var got []string
	for i := len(log.Records) - 1; i >= 0; i-- {
		r := log.Records[i]
		who := "admin"
		if r.Actor == "user:vic" || r.Actor == "user:alice" {
			who = strings.TrimPrefix(r.Actor, "user:")
		}
		got = append(got, who+" "+r.Action+" "+r.Code)
		assert.Contains(t, r.Addr, "127.0.0.1:", "where from")
	}
	assert.Equal(t, []string{
		"admin CreateUser ",
		"admin CreateUser already_exists",
		"admin CreateUser ",
		"admin CreateToken ",
		"vic CreatePool permission_denied",
		"alice SignIn ",
		"admin UpdateUser ",
		"alice SignIn unauthenticated",
	}, got)
	assert.NotContains(t, out, "alice's long password")
}
