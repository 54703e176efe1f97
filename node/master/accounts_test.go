package master

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// adminMethods are the AdminService calls as the IDL declares them, so a
// call added to admin.proto is in every test below without anyone listing
// it.
func adminMethods(t *testing.T) []string {
	t.Helper()
	svc := licmeshv1.File_licmesh_v1_admin_proto.Services().ByName("AdminService")
	require.NotNil(t, svc)
	var out []string
	for i := range svc.Methods().Len() {
		out = append(out, string(svc.Methods().Get(i).Name()))
	}
	require.Greater(t, len(out), 30)
	return out
}

func procedure(method string) string { return "/licmesh.v1.AdminService/" + method }

func TestEveryAdminCallHasAPermission(t *testing.T) {
	methods := adminMethods(t)
	for _, m := range methods {
		assert.NotEmpty(t, methodPerms[procedure(m)], "%s has no permission in methodPerms: nobody may call it", m)
	}
	for p := range methodPerms {
		assert.True(t, slices.Contains(methods, strings.TrimPrefix(p, procedure(""))), "methodPerms names %s, which the IDL does not have", p)
	}
}

// roleSpec is the table, written out apart from methodPerms so
// that a change to either has to be made to both on purpose: which roles,
// besides admin, may make each call. Every role may read and see itself.
var roleSpec = map[string][]fsm.Role{
	"RemovePeer":             {},
	"CreatePool":             {fsm.RoleLicenseManager},
	"SetDepartment":          {fsm.RoleLicenseManager},
	"SetReservation":         {fsm.RoleLicenseManager},
	"SetLicenseCost":         {fsm.RoleLicenseManager},
	"RequestPurchase":        {fsm.RoleLicenseManager},
	"ExportPurchaseRequests": {fsm.RoleLicenseManager},
	"DecidePurchase":         {},
	"AddLicense":             {fsm.RoleLicenseManager},
	"RemoveLicense":          {fsm.RoleLicenseManager},
	"ListHubCompanies":       {fsm.RoleLicenseManager},
	"ActivateCluster":        {fsm.RoleLicenseManager},
	"StartClusterTrial":      {fsm.RoleLicenseManager},
	"MakeActivationRequest":  {fsm.RoleLicenseManager},
	"CheckLicensesNow":       {fsm.RoleLicenseManager},
	"ExportUsage":            {fsm.RoleLicenseManager},
	"ImportUsageReceipt":     {fsm.RoleLicenseManager},
	"SetAlertRule":           {fsm.RoleLicenseManager},
	"SetAlertChannel":        {fsm.RoleLicenseManager},
	"RemoveAlertChannel":     {fsm.RoleLicenseManager},
	"TestAlertChannel":       {fsm.RoleLicenseManager},
	"AckAlert":               {fsm.RoleLicenseManager, fsm.RoleIT},
	"CreateUser":             {},
	"UpdateUser":             {},
	"ListUsers":              {fsm.RoleAuditor},
	"ListAuditLog":           {fsm.RoleAuditor},
	"CheckUpdates":           {fsm.RoleIT},
	"DownloadUpdate":         {fsm.RoleIT},
	"InstallUpdate":          {fsm.RoleIT},
	"RollbackUpdate":         {fsm.RoleIT},
	"SetUpdateSettings":      {fsm.RoleIT},
}

func specAllows(method string, role fsm.Role) bool {
	only, restricted := roleSpec[method]
	return role == fsm.RoleAdmin || !restricted || slices.Contains(only, role)
}

// apiServer serves s's HTTPS API port (admin API and dashboard) on a test
// TLS server.
func apiServer(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(s.apiMux())
	t.Cleanup(srv.Close)
	return srv
}

// call posts body to an admin API method as JSON with token, and returns
// the status and the Connect error message, if any.
func call(t *testing.T, srv *httptest.Server, token, method, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+procedure(method), strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var e struct{ Message string }
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Message
}

// userWithToken makes a user of role with a password and an API token of
// the same role, through the admin API as the master's own call.
func userWithToken(t *testing.T, s *Server, name string, role fsm.Role) string {
	t.Helper()
	ctx := context.Background()
	h := adminHandler{s}
	_, err := h.CreateUser(ctx, connect.NewRequest(&licmeshv1.CreateUserRequest{Name: name, Role: string(role), Password: name + " long password"}))
	require.NoError(t, err)
	tok, err := h.CreateToken(ctx, connect.NewRequest(&licmeshv1.CreateTokenRequest{Role: string(role), User: name, TtlSeconds: 3600}))
	require.NoError(t, err)
	return tok.Msg.SecretToken
}

// TestRoleMatrix makes every admin API call, as the IDL lists them, with a
// token of every role over HTTP: a call the role may not make is refused
// with 403 and the permission it needs, and one it may is not refused for
// its role (it may still fail on its empty request).
func TestRoleMatrix(t *testing.T) {
	s, _ := startMaster(t)
	srv := apiServer(t, s)
	tokens := map[fsm.Role]string{}
	for _, r := range fsm.UserRoles {
		tokens[r] = userWithToken(t, s, "u-"+strings.ReplaceAll(string(r), "_", "-"), r)
	}
	for _, m := range adminMethods(t) {
		for _, role := range fsm.UserRoles {
			status, msg := call(t, srv, tokens[role], m, "{}")
			if specAllows(m, role) {
				assert.NotContains(t, msg, "may not call", "%s as %s: refused by role", m, role)
				assert.NotEqual(t, http.StatusUnauthorized, status, "%s as %s: %s", m, role, msg)
			} else {
				assert.Equal(t, http.StatusForbidden, status, "%s as %s: want 403, got %d %s", m, role, status, msg)
				assert.Contains(t, msg, "may not call "+m, "%s as %s", m, role)
			}
		}
		status, _ := call(t, srv, "", m, "{}")
		assert.Equal(t, http.StatusUnauthorized, status, "%s with no token", m)
		status, _ = call(t, srv, "lma1.aaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", m, "{}")
		assert.Equal(t, http.StatusUnauthorized, status, "%s with a made-up token", m)
	}
	// The profiles are the cluster's: admins only.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/debug/pprof/heap", nil)
	req.Header.Set("Authorization", "Bearer "+tokens[fsm.RoleViewer])
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a viewer read a heap profile")
}

// TestTokensActWithNoMoreThanTheirUser: a token cannot be made to do more
// than its user, nor by someone for another; a demoted user's old token
// loses what the user lost, and a disabled user's tokens stop working.
func TestTokensActWithNoMoreThanTheirUser(t *testing.T) {
	s, _ := startMaster(t)
	srv := apiServer(t, s)
	viewer := userWithToken(t, s, "vic", fsm.RoleViewer)
	it := userWithToken(t, s, "ivy", fsm.RoleIT)
	lm := userWithToken(t, s, "lem", fsm.RoleLicenseManager)

	status, msg := call(t, srv, viewer, "CreateToken", `{"role":"admin","ttl_seconds":60}`)
	assert.Equal(t, http.StatusForbidden, status, msg)
	assert.Contains(t, msg, "user vic is viewer")
	status, msg = call(t, srv, viewer, "CreateToken", `{"role":"viewer","ttl_seconds":60,"user":"ivy"}`)
	assert.Equal(t, http.StatusForbidden, status, msg)
	assert.Contains(t, msg, "only for itself")
	status, msg = call(t, srv, viewer, "CreateToken", `{"role":"collector","ttl_seconds":60}`)
	assert.Equal(t, http.StatusForbidden, status, msg)
	status, msg = call(t, srv, it, "CreateToken", `{"role":"collector","ttl_seconds":60}`)
	assert.Equal(t, http.StatusOK, status, msg)
	status, msg = call(t, srv, viewer, "CreateToken", `{"role":"viewer","ttl_seconds":60}`)
	require.Equal(t, http.StatusOK, status, msg)

	// A viewer sees only its own tokens; IT sees join tokens too.
	list := func(token string) []*licmeshv1.Token {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+procedure("ListTokens"), strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out struct{ Tokens []*licmeshv1.Token }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out.Tokens
	}
	for _, tk := range list(viewer) {
		assert.Equal(t, "vic", tk.User, "a viewer sees another's token %+v", tk)
	}
	assert.Len(t, list(viewer), 2)
	roles := map[string]int{}
	for _, tk := range list(it) {
		roles[tk.Role]++
	}
	assert.Equal(t, map[string]int{"collector": 1, "it": 1}, roles)
	// Nor may a viewer revoke another's token.
	other := list(it)[0].Id
	status, msg = call(t, srv, viewer, "RevokeToken", fmt.Sprintf(`{"id":%q}`, other))
	assert.Equal(t, http.StatusForbidden, status, msg)

	// Demoted, the license manager's token acts as a viewer at once.
	status, _ = call(t, srv, lm, "SetAlertRule", `{}`)
	assert.NotEqual(t, http.StatusForbidden, status)
	_, err := adminHandler{s}.UpdateUser(context.Background(), connect.NewRequest(&licmeshv1.UpdateUserRequest{Name: "lem", Role: "viewer"}))
	require.NoError(t, err)
	status, msg = call(t, srv, lm, "SetAlertRule", `{}`)
	assert.Equal(t, http.StatusForbidden, status, msg)
	status, _ = call(t, srv, lm, "ListPools", `{}`)
	assert.Equal(t, http.StatusOK, status, "a demoted user's token still reads")
	// Disabled, its tokens stop.
	_, err = adminHandler{s}.UpdateUser(context.Background(), connect.NewRequest(&licmeshv1.UpdateUserRequest{Name: "lem", Disable: true}))
	require.NoError(t, err)
	status, _ = call(t, srv, lm, "ListPools", `{}`)
	assert.Equal(t, http.StatusUnauthorized, status, "a disabled user's token still works")

	// A session opened with the bootstrap admin token keeps all it may do.
	info, ok := s.fsm.Cluster()
	require.True(t, ok)
	p, err := s.recheck(Principal{ID: "token:" + info.AdminTokenID, TokenID: info.AdminTokenID})
	require.NoError(t, err)
	assert.Equal(t, fsm.RoleAdmin, p.Role)
	assert.True(t, p.Can(PermLicenses) && p.Can(PermUsers), "bootstrap session lost its permissions: %v", p.Perms())
}

// TestAccountsRefuseBadInput: each refused with a clear error, and nothing
// changed.
func TestAccountsRefuseBadInput(t *testing.T) {
	s, _ := startMaster(t)
	srv := apiServer(t, s)
	admin := userWithToken(t, s, "ada", fsm.RoleAdmin)
	before := s.fsm.Users()
	for name, c := range map[string]struct{ method, body, want string }{
		"unknown role":    {"CreateUser", `{"name":"bob","role":"root","password":"a long enough password"}`, `unknown role "root"`},
		"no role":         {"CreateUser", `{"name":"bob","password":"a long enough password"}`, "no role"},
		"duplicate user":  {"CreateUser", `{"name":"ada","role":"viewer","password":"a long enough password"}`, "user exists"},
		"short password":  {"CreateUser", `{"name":"bob","role":"viewer","password":"short"}`, "at least 12 are needed"},
		"bad name":        {"CreateUser", `{"name":"Bob Smith","role":"viewer","password":"a long enough password"}`, "must start with a lower-case letter"},
		"unknown user":    {"UpdateUser", `{"name":"nobody","role":"viewer"}`, "unknown user"},
		"empty update":    {"UpdateUser", `{"name":"ada"}`, "changes nothing"},
		"both ways":       {"UpdateUser", `{"name":"ada","enable":true,"disable":true}`, "disable and enable at once"},
		"unknown token":   {"CreateToken", `{"role":"owner","ttl_seconds":60}`, `role "owner"`},
		"token for ghost": {"CreateToken", `{"role":"viewer","ttl_seconds":60,"user":"ghost"}`, "unknown user"},
	} {
		status, msg := call(t, srv, admin, c.method, c.body)
		assert.Contains(t, []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict}, status, "%s: %d %s", name, status, msg)
		assert.Contains(t, msg, c.want, name)
		assert.NotContains(t, msg, "long enough password", "%s: the error carries the password", name)
	}
	assert.Equal(t, before, s.fsm.Users(), "a refused request changed the accounts")
}

// dashBrowser is one browser on the dashboard: a cookie jar over the test
// server's TLS client, redirects not followed.
type dashBrowser struct {
	t   *testing.T
	srv *httptest.Server
	hc  *http.Client
}

func newDashBrowser(t *testing.T, srv *httptest.Server) *dashBrowser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &dashBrowser{t: t, srv: srv, hc: &http.Client{Transport: srv.Client().Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *dashBrowser) get(path string) (int, string) {
	resp, err := b.hc.Get(b.srv.URL + path)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *dashBrowser) post(path string, form url.Values) (int, string) {
	resp, err := b.hc.PostForm(b.srv.URL+path, form)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *dashBrowser) signIn(user, password string) int {
	_, page := b.get("/ui/login")
	m := csrfRE.FindStringSubmatch(page)
	require.NotNil(b.t, m, "no sign-in form")
	status, _ := b.post("/ui/login", url.Values{"csrf": {m[1]}, "user": {user}, "password": {password}})
	return status
}

// TestDashboardByRole signs people in with their passwords and checks what
// each role sees and may post; then that a session ends when its user is
// disabled or changes password, and holds on another master.
func TestDashboardByRole(t *testing.T) {
	s, clk := startMaster(t)
	srv := apiServer(t, s)
	for _, r := range fsm.UserRoles {
		userWithToken(t, s, "u-"+strings.ReplaceAll(string(r), "_", "-"), r)
	}
	pages := []string{"/ui/", "/ui/collectors", "/ui/pools", "/ui/licenses", "/ui/metrics", "/ui/hub", "/ui/alerts", "/ui/compliance", "/ui/reports", "/ui/allocation"}
	for _, r := range fsm.UserRoles {
		name := "u-" + strings.ReplaceAll(string(r), "_", "-")
		b := newDashBrowser(t, srv)
		require.Equal(t, http.StatusSeeOther, b.signIn(name, name+" long password"), "%s signs in", r)
		for _, p := range pages {
			status, body := b.get(p)
			assert.Equal(t, http.StatusOK, status, "%s GET %s", r, p)
			assert.Contains(t, body, "user:"+name, "%s GET %s: who is signed in", r, p)
		}
		_, lic := b.get("/ui/licenses")
		canLicenses := r == fsm.RoleAdmin || r == fsm.RoleLicenseManager
		_, alloc := b.get("/ui/allocation")
		assert.Equal(t, canLicenses, strings.Contains(alloc, `id="purchase-form"`), "%s: the purchase form", r)
		assert.Equal(t, canLicenses, strings.Contains(lic, `name="license"`), "%s: the paste box", r)
		csrf := csrfRE.FindStringSubmatch(lic)
		require.NotNil(t, csrf)
		status, body := b.post("/ui/licenses", url.Values{"csrf": {csrf[1]}, "license": {"not a license"}})
		if canLicenses {
			assert.Equal(t, http.StatusUnprocessableEntity, status, "%s posts a bad license: %s", r, body)
		} else {
			assert.Equal(t, http.StatusForbidden, status, "%s posts a license", r)
			assert.Contains(t, body, "needs permission licenses")
		}
		status, _ = b.post("/ui/alerts/ack", url.Values{"csrf": {csrf[1]}, "key": {"nope"}})
		if r == fsm.RoleViewer || r == fsm.RoleAuditor {
			assert.Equal(t, http.StatusForbidden, status, "%s acknowledges", r)
		} else {
			assert.Equal(t, http.StatusUnprocessableEntity, status, "%s acknowledges an unknown alert", r)
		}
	}

	// A wrong password, and a name that does not exist, look the same.
	b := newDashBrowser(t, srv)
	assert.Equal(t, http.StatusUnauthorized, b.signIn("u-viewer", "not the password"))
	assert.Equal(t, http.StatusUnauthorized, b.signIn("nobody-here", "not the password"))
	// Five failures hold the name for a while, right password or not.
	for range signinFailures {
		b.signIn("u-it", "wrong wrong wrong")
	}
	assert.Equal(t, http.StatusUnauthorized, b.signIn("u-it", "u-it long password"), "throttled")
	clk.Advance(signinWindow)
	assert.Equal(t, http.StatusSeeOther, b.signIn("u-it", "u-it long password"), "after the window")

	// Sessions end when the account changes.
	h := adminHandler{s}
	for _, u := range []*licmeshv1.UpdateUserRequest{
		{Name: "u-viewer", Disable: true},
		{Name: "u-auditor", Password: "a brand new password"},
		{Name: "u-it", Role: "viewer"},
		{Name: "u-license-manager", EndSessions: true},
	} {
		b := newDashBrowser(t, srv)
		password := u.Name + " long password"
		if u.Disable {
			_, err := h.UpdateUser(context.Background(), connect.NewRequest(&licmeshv1.UpdateUserRequest{Name: u.Name, Enable: true}))
			require.NoError(t, err)
		}
		require.Equal(t, http.StatusSeeOther, b.signIn(u.Name, password), "%s signs in", u.Name)
		status, _ := b.get("/ui/")
		require.Equal(t, http.StatusOK, status)
		_, err := h.UpdateUser(context.Background(), connect.NewRequest(u))
		require.NoError(t, err)
		status, _ = b.get("/ui/")
		assert.Equal(t, http.StatusSeeOther, status, "%+v: the session outlived the change", u)
	}

	// The session key is the cluster's: a master started afresh on the same
	// secret (a restart, or another master) signs and reads the same cookies.
	secret, err := DecodeClusterSecret(s.cfg.ClusterSecret)
	require.NoError(t, err)
	id2, err := deriveIdentity(secret)
	require.NoError(t, err)
	assert.Equal(t, s.id.sessionKey, id2.sessionKey)
	assert.NotEqual(t, s.id.gossipKey, s.id.sessionKey)
}

// TestEveryMutationLeavesOneAuditRecord makes changes through the API and
// the dashboard, some refused at each step a refusal can happen, and some
// reads: each change leaves exactly one record, with who, from where and
// how it ended; reads leave none.
func TestEveryMutationLeavesOneAuditRecord(t *testing.T) {
	s, _ := startMaster(t)
	srv := apiServer(t, s)
	admin := userWithToken(t, s, "ada", fsm.RoleAdmin)
	viewer := userWithToken(t, s, "vic", fsm.RoleViewer)
	auditor := userWithToken(t, s, "aud", fsm.RoleAuditor)
	userWithToken(t, s, "lem", fsm.RoleLicenseManager)
	require.Empty(t, s.fsm.Audit(fsm.AuditFilter{}).Records, "the master's own calls are not audited")

	type want struct{ actor, action, code string }
	var wants []want
	do := func(token, actor, method, body, code string) {
		t.Helper()
		status, msg := call(t, srv, token, method, body)
		if code == "" {
			require.Equal(t, http.StatusOK, status, "%s: %s", method, msg)
		} else {
			require.NotEqual(t, http.StatusOK, status, "%s", method)
		}
		if !readOnly[procedure(method)] {
			wants = append(wants, want{actor, method, code})
		}
	}
	do(admin, "user:ada", "CreatePool", `{"name":"designer","seats":3,"enforce":"hard"}`, "")
	do(admin, "user:ada", "CreatePool", `{"name":"designer","seats":3,"enforce":"hard"}`, "already_exists")
	do(admin, "user:ada", "CreatePool", `{"name":"","seats":3}`, "invalid_argument")
	do(admin, "user:ada", "CreateUser", `{"name":"bob","role":"viewer","password":"bob's long password"}`, "")
	do(admin, "user:ada", "UpdateUser", `{"name":"bob","role":"it"}`, "")
	do(admin, "user:ada", "SetAlertRule", `{"rule":{"kind":"license_expiry","thresholds":[60,30]}}`, "")
	do(admin, "user:ada", "SetAlertChannel", `{"channel":{"id":"ops","kind":"webhook","url":"https://hooks.example.com/licmesh"},"secret":"0123456789abcdef0123"}`, "")
	do(admin, "user:ada", "TestAlertChannel", `{"id":"ops"}`, "")
	do(admin, "user:ada", "RemoveAlertChannel", `{"id":"ops"}`, "")
	do(viewer, "user:vic", "CreatePool", `{"name":"sneaky","seats":1}`, "permission_denied")
	do(viewer, "user:vic", "CreateToken", `{"role":"viewer","ttl_seconds":60}`, "")
	do(viewer, "user:vic", "ListPools", `{}`, "")
	do(viewer, "user:vic", "GetStatus", `{}`, "")
	do(auditor, "user:aud", "ListAuditLog", `{}`, "")

	// The dashboard: sign-ins (a refusal of a name that is no account
	// leaves nothing), then its own forms.
	b := newDashBrowser(t, srv)
	require.Equal(t, http.StatusUnauthorized, b.signIn("lem", "not lem's password"))
	wants = append(wants, want{"user:lem", "SignIn", "unauthenticated"})
	require.Equal(t, http.StatusUnauthorized, b.signIn("nobody-at-all", "not a password at all"))
	require.Equal(t, http.StatusSeeOther, b.signIn("lem", "lem long password"))
	wants = append(wants, want{"user:lem", "SignIn", ""})
	_, page := b.get("/ui/licenses")
	csrf := csrfRE.FindStringSubmatch(page)
	require.NotNil(t, csrf)
	status, _ := b.post("/ui/licenses", url.Values{"csrf": {csrf[1]}, "license": {"not a license"}})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	wants = append(wants, want{"user:lem", "AddLicense", "failed_precondition"})
	status, _ = b.post("/ui/alerts/ack", url.Values{"csrf": {csrf[1]}, "key": {"pool_usage/none/80%"}})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	wants = append(wants, want{"user:lem", "AckAlert", "not_found"})

	page2 := s.fsm.Audit(fsm.AuditFilter{Limit: 1000})
	require.Len(t, page2.Records, len(wants), "one record per change: %+v", page2.Records)
	for i, w := range wants {
		r := page2.Records[len(wants)-1-i]
		assert.Equal(t, w.actor, r.Actor, "record %d", i)
		assert.Equal(t, w.action, r.Action, "record %d", i)
		assert.Equal(t, w.code, r.Code, "record %d %s: %s", i, r.Action, r.Outcome)
		if w.code == "" {
			assert.Equal(t, "ok", r.Outcome, "record %d", i)
		} else {
			assert.NotEqual(t, "ok", r.Outcome, "record %d", i)
		}
		assert.Contains(t, r.Addr, "127.0.0.1:", "record %d: where from", i)
		if i < len(wants)-4 {
			assert.Equal(t, "api", r.Via)
		} else {
			assert.Equal(t, "dashboard", r.Via)
		}
	}
	byAction := map[string]fsm.AuditRecord{}
	for _, r := range page2.Records {
		byAction[r.Action+"/"+r.Code] = r
	}
	assert.Equal(t, []string{"CreatePool"}, byAction["CreatePool/"].Commands)
	assert.Equal(t, []string{"CreatePool"}, byAction["CreatePool/already_exists"].Commands, "refused by the FSM, in its entry")
	assert.Empty(t, byAction["CreatePool/invalid_argument"].Commands, "refused before Raft")
	assert.NotContains(t, byAction["CreateUser/"].Outcome+fmt.Sprint(byAction["CreateUser/"].Commands), "long password")

	// Auditors read it on the dashboard, and export it; others may not.
	ab := newDashBrowser(t, srv)
	_, err := adminHandler{s}.UpdateUser(context.Background(), connect.NewRequest(&licmeshv1.UpdateUserRequest{Name: "aud", Password: "aud long password"}))
	require.NoError(t, err)
	require.Equal(t, http.StatusSeeOther, ab.signIn("aud", "aud long password"))
	status, page = ab.get("/ui/audit?actor=user:vic")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, page, `id="audit-nav"`)
	assert.Contains(t, page, "CreateToken")
	assert.Contains(t, page, "permission_denied")
	assert.NotContains(t, page, "TestAlertChannel", "the filter")
	status, csv := ab.get("/ui/audit.csv")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, len(wants)+1, strings.Count(csv, "\n")-1, "one CSV row per record, and the auditor's own sign-in (the master's own UpdateUser is not one):\n%s", csv)
	assert.True(t, strings.HasPrefix(csv, "seq,at,actor,role,from,via,action,changes,outcome,code,request\n"))
	status, js := ab.get("/ui/audit.json?action=CreatePool")
	require.Equal(t, http.StatusOK, status)
	var exported licmeshv1.ListAuditLogResponse
	require.NoError(t, protojsonUnmarshal([]byte(js), &exported))
	assert.Len(t, exported.Records, 4)
	status, _ = ab.get("/ui/audit?since=yesterday")
	assert.Equal(t, http.StatusBadRequest, status)
	status, _ = b.get("/ui/audit")
	assert.Equal(t, http.StatusForbidden, status, "a license manager reads the audit log")
	status, _ = b.get("/ui/audit.csv")
	assert.Equal(t, http.StatusForbidden, status, "a license manager exports the audit log")
	_, page = b.get("/ui/")
	assert.NotContains(t, page, `id="audit-nav"`)

	// Auditors read it over the API, filtered and paged.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+procedure("ListAuditLog"), strings.NewReader(`{"actor":"user:vic","limit":1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+auditor)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var got licmeshv1.ListAuditLogResponse
	body, _ := io.ReadAll(resp.Body)
	require.NoError(t, protojsonUnmarshal(body, &got), "%s", body)
	require.Len(t, got.Records, 1)
	assert.True(t, got.More)
	assert.Equal(t, "CreateToken", got.Records[0].Action)
}

func protojsonUnmarshal(b []byte, m *licmeshv1.ListAuditLogResponse) error {
	return protojson.Unmarshal(b, m)
}
