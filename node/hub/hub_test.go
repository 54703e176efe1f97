package hub

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/clock/clocktest"
	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/hub/store"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// testHub is a hub running in this process on loopback, with its clock in
// the test's hands, and its first admin's API client.
type testHub struct {
	s     *Server
	url   string
	clk   *clocktest.Fake
	admin licmeshv1connect.HubServiceClient
	init  InitResult
}

func startHub(t testing.TB, opts ...func(*Config)) *testHub {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "hub")
	cfg.Listen = "127.0.0.1:0"
	clk := clocktest.New(t0)
	cfg.Clock = clk
	for _, o := range opts {
		o(&cfg)
	}
	ir, err := Init(t.Context(), cfg, "Admin@Vendor.example", "Ada Admin")
	require.NoError(t, err)
	s, err := New(t.Context(), cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func(a string) { addr <- a }) }()
	h := &testHub{s: s, url: "https://" + <-addr, clk: clk, init: ir}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		s.Close()
	})
	h.admin = h.signedIn(t, ir.AdminEmail, ir.AdminPassword)
	return h
}

// httpClient trusts the hub's self-signed certificate and keeps cookies.
func (h *testHub) httpClient(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a test of our own self-signed hub
	}}
}

// client calls the hub with an API key.
func (h *testHub) client(t testing.TB, apiKey string) licmeshv1connect.HubServiceClient {
	return licmeshv1connect.NewHubServiceClient(h.httpClient(t), h.url, connect.WithInterceptors(header("Authorization", "Bearer "+apiKey)))
}

func header(k, v string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set(k, v)
			return next(ctx, req)
		}
	}
}

// signedIn signs in with a password and returns a client with an API key
// of that account.
func (h *testHub) signedIn(t testing.TB, email, password string) licmeshv1connect.HubServiceClient {
	t.Helper()
	hc := h.httpClient(t)
	c := licmeshv1connect.NewHubServiceClient(hc, h.url)
	r, err := c.SignIn(t.Context(), connect.NewRequest(&licmeshv1.SignInRequest{Email: email, Password: password}))
	require.NoError(t, err)
	withCSRF := licmeshv1connect.NewHubServiceClient(hc, h.url, connect.WithInterceptors(header(csrfHeader, r.Msg.GetCsrfToken())))
	k, err := withCSRF.CreateAPIKey(t.Context(), connect.NewRequest(&licmeshv1.CreateAPIKeyRequest{Name: "test"}))
	require.NoError(t, err)
	return h.client(t, k.Msg.GetSecret())
}

// account creates an account of role and returns a client signed in as it.
func (h *testHub) account(t *testing.T, role store.Role, email, company, reseller string) licmeshv1connect.HubServiceClient {
	t.Helper()
	r, err := h.admin.CreateAccount(t.Context(), connect.NewRequest(&licmeshv1.CreateAccountRequest{
		Email: email, Name: "User " + email, Role: string(role), CompanyId: company, ResellerId: reseller}))
	require.NoError(t, err)
	return h.signedIn(t, email, r.Msg.GetPassword())
}

func code(t *testing.T, err error) connect.Code {
	t.Helper()
	require.Error(t, err)
	return connect.CodeOf(err)
}

// seed002Product is the Timesheet Admin User product of seed 002.
func seed002Product() *licmeshv1.Product {
	return &licmeshv1.Product{
		Sku: "timesheet-admin", Name: "Timesheet Admin User", Application: "orektic__timesheet", AppVersion: "2.1.0",
		Type: "subscription", Billing: "annually", TrialPeriodCount: 14, TrialPeriodUnit: "day",
		TrialTemplate: []*licmeshv1.TemplateEntry{{Name: "orektic__timehseetAdminUser", Users: 5}},
		LicenseTemplate: []*licmeshv1.TemplateEntry{
			{Name: "orektic__timehseetAdminUser", Users: 1, UsersCalculation: "fixed"},
			{Name: "orektic__timehseetProjects", Users: 1, UsersCalculation: "per qty", Amount: 5, AmountCalculation: "fixed"},
		},
		Features: []*licmeshv1.Feature{{Name: "orektic__timesheet", Type: "checkbox", Scope: "instance"}, {Name: "orektic__reports", Type: "checkbox", Scope: "instance"}},
	}
}

// keyring is the hub's vendor public keys, as a master would trust them.
func (h *testHub) keyring(t *testing.T) license.Keyring {
	t.Helper()
	ks, err := h.admin.ListVendorKeys(t.Context(), connect.NewRequest(&licmeshv1.ListVendorKeysRequest{}))
	require.NoError(t, err)
	var lines []string
	for _, k := range ks.Msg.GetKeys() {
		lines = append(lines, k.GetPublicKey())
	}
	kr, err := license.ParseKeyring(lines...)
	require.NoError(t, err)
	return kr
}

// verify checks l's text as a master would, at the hub's now.
func (h *testHub) verify(t *testing.T, l *licmeshv1.HubLicense) *license.License {
	t.Helper()
	v, err := license.Verify([]byte(l.GetText()), h.keyring(t), license.VerifyOptions{Now: h.clk.Now()})
	require.NoError(t, err, "the hub's license must verify")
	assert.Equal(t, l.GetId(), string(v.ID))
	return v
}

func TestInitRefusesAnExistingHub(t *testing.T) {
	h := startHub(t)
	_, err := Init(t.Context(), h.s.cfg, "other@vendor.example", "Other")
	require.ErrorContains(t, err, "already holds a hub")
	assert.Equal(t, "admin@vendor.example", h.init.AdminEmail, "emails are stored lower case")
	assert.Len(t, h.init.AdminPassword, 20)
	cfg := h.s.cfg
	cfg.DataDir = filepath.Join(t.TempDir(), "x")
	_, err = Init(t.Context(), cfg, "not an email", "X")
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func TestSignIn(t *testing.T) {
	h := startHub(t)
	c := licmeshv1connect.NewHubServiceClient(h.httpClient(t), h.url)
	_, err := c.SignIn(t.Context(), connect.NewRequest(&licmeshv1.SignInRequest{Email: "admin@vendor.example", Password: "wrong password!"}))
	assert.Equal(t, connect.CodeUnauthenticated, code(t, err))
	assert.NotContains(t, err.Error(), "no account", "the answer does not tell which emails exist")
	_, err = c.SignIn(t.Context(), connect.NewRequest(&licmeshv1.SignInRequest{Email: "nobody@vendor.example", Password: "wrong password!"}))
	assert.Equal(t, connect.CodeUnauthenticated, code(t, err))

	// A session's changes need its CSRF token.
	hc := h.httpClient(t)
	c = licmeshv1connect.NewHubServiceClient(hc, h.url)
	r, err := c.SignIn(t.Context(), connect.NewRequest(&licmeshv1.SignInRequest{Email: "ADMIN@vendor.example", Password: h.init.AdminPassword}))
	require.NoError(t, err)
	_, err = c.CreateCompany(t.Context(), connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	assert.Equal(t, connect.CodePermissionDenied, code(t, err), "a change without the CSRF token")
	_, err = licmeshv1connect.NewHubServiceClient(hc, h.url, connect.WithInterceptors(header(csrfHeader, "forged"))).
		CreateCompany(t.Context(), connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	assert.Equal(t, connect.CodePermissionDenied, code(t, err), "a change with a wrong CSRF token")
	withCSRF := licmeshv1connect.NewHubServiceClient(hc, h.url, connect.WithInterceptors(header(csrfHeader, r.Msg.GetCsrfToken())))
	_, err = withCSRF.CreateCompany(t.Context(), connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	require.NoError(t, err)
	companies, err := h.admin.ListCompanies(t.Context(), connect.NewRequest(&licmeshv1.ListCompaniesRequest{}))
	require.NoError(t, err)
	assert.Len(t, companies.Msg.GetCompanies(), 1, "the refused changes changed nothing")

	// The session ends at sign-out and at its TTL.
	_, err = withCSRF.SignOut(t.Context(), connect.NewRequest(&licmeshv1.SignOutRequest{}))
	require.NoError(t, err)
	_, err = withCSRF.WhoAmI(t.Context(), connect.NewRequest(&licmeshv1.WhoAmIRequest{}))
	assert.Equal(t, connect.CodeUnauthenticated, code(t, err))
	r, err = c.SignIn(t.Context(), connect.NewRequest(&licmeshv1.SignInRequest{Email: "admin@vendor.example", Password: h.init.AdminPassword}))
	require.NoError(t, err)
	// Every call made with a session cookie carries its CSRF token: the
	// API's calls are POSTs.
	_, err = c.WhoAmI(t.Context(), connect.NewRequest(&licmeshv1.WhoAmIRequest{}))
	assert.Equal(t, connect.CodePermissionDenied, code(t, err))
	withCSRF = licmeshv1connect.NewHubServiceClient(hc, h.url, connect.WithInterceptors(header(csrfHeader, r.Msg.GetCsrfToken())))
	_, err = withCSRF.WhoAmI(t.Context(), connect.NewRequest(&licmeshv1.WhoAmIRequest{}))
	require.NoError(t, err)
	h.clk.Advance(h.s.cfg.SessionTTL)
	_, err = withCSRF.WhoAmI(t.Context(), connect.NewRequest(&licmeshv1.WhoAmIRequest{}))
	assert.Equal(t, connect.CodeUnauthenticated, code(t, err), "an expired session")
}

func TestSignInThrottlesGuessing(t *testing.T) {
	h := startHub(t)
	c := licmeshv1connect.NewHubServiceClient(h.httpClient(t), h.url)
	signIn := func(pw string) error {
		_, err := c.SignIn(t.Context(), connect.NewRequest(&licmeshv1.SignInRequest{Email: "admin@vendor.example", Password: pw}))
		return err
	}
	for range signinMaxFailures {
		assert.Equal(t, connect.CodeUnauthenticated, code(t, signIn("guess-guess-guess")))
	}
	assert.Equal(t, connect.CodeResourceExhausted, code(t, signIn(h.init.AdminPassword)), "even the right password, while throttled")
	h.clk.Advance(signinWindow + time.Second)
	require.NoError(t, signIn(h.init.AdminPassword))
}

func TestAPIKeys(t *testing.T) {
	h := startHub(t)
	r, err := h.admin.CreateAPIKey(t.Context(), connect.NewRequest(&licmeshv1.CreateAPIKeyRequest{Name: "ci"}))
	require.NoError(t, err)
	secret := r.Msg.GetSecret()
	require.True(t, strings.HasPrefix(secret, apiKeyPrefix))
	c := h.client(t, secret)
	_, err = c.WhoAmI(t.Context(), connect.NewRequest(&licmeshv1.WhoAmIRequest{}))
	require.NoError(t, err)
	keys, err := h.admin.ListAPIKeys(t.Context(), connect.NewRequest(&licmeshv1.ListAPIKeysRequest{}))
	require.NoError(t, err)
	hidden := secret[strings.LastIndexByte(secret, '.')+1:]
	for _, k := range keys.Msg.GetKeys() {
		assert.NotContains(t, k.String(), hidden, "listing shows no secret")
	}
	for _, bad := range []string{"", "lmh1.", "lmh1.key_aaaaaaaaaaaaaaaaaaaa.short", strings.Replace(secret, secret[len(secret)-4:], "AAAA", 1), "lma1.x.y"} {
		_, err := h.client(t, bad).WhoAmI(t.Context(), connect.NewRequest(&licmeshv1.WhoAmIRequest{}))
		assert.Equal(t, connect.CodeUnauthenticated, code(t, err), "key %q", bad)
		assert.NotContains(t, err.Error(), secret[10:], "errors never echo a secret")
	}
	_, err = h.admin.RevokeAPIKey(t.Context(), connect.NewRequest(&licmeshv1.RevokeAPIKeyRequest{Id: r.Msg.GetKey().GetId()}))
	require.NoError(t, err)
	_, err = c.WhoAmI(t.Context(), connect.NewRequest(&licmeshv1.WhoAmIRequest{}))
	assert.Equal(t, connect.CodeUnauthenticated, code(t, err), "a revoked key")
}

// TestLicenseLifecycle: a seed-002 product; a trial in one click, extended,
// converted to a license, a pack and a module added, revoked. Every
// license verifies as a master would verify it, each replaces the one
// before, and the company's history tells the story.
func TestLicenseLifecycle(t *testing.T) {
	h := startHub(t)
	ctx := t.Context()
	p, err := h.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	require.NoError(t, err)
	assert.EqualValues(t, 1, p.Msg.GetProduct().GetVersion())
	co, err := h.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	require.NoError(t, err)
	coID := co.Msg.GetCompany().GetId()

	trial, err := h.admin.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: coID, Sku: "timesheet-admin"}))
	require.NoError(t, err)
	tl := h.verify(t, trial.Msg.GetLicense())
	assert.Equal(t, license.Trial, tl.Type)
	assert.Equal(t, t0.AddDate(0, 0, 14), tl.ExpiresAt)
	pools, err := tl.PoolsAt(t0)
	require.NoError(t, err)
	require.Len(t, pools, 1)
	assert.Equal(t, 5, pools[0].Seats, "the trial template's pool")
	_, err = h.admin.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: coID, Sku: "timesheet-admin"}))
	assert.Equal(t, connect.CodeAlreadyExists, code(t, err), "one trial per company and product")

	h.clk.Advance(24 * time.Hour)
	ext, err := h.admin.ExtendLicense(ctx, connect.NewRequest(&licmeshv1.ExtendLicenseRequest{LicenseId: trial.Msg.GetLicense().GetId()}))
	require.NoError(t, err)
	el := h.verify(t, ext.Msg.GetLicense())
	assert.Equal(t, t0.AddDate(0, 0, 28), el.ExpiresAt, "extended by the product's trial period")
	assert.True(t, el.Replaces(&tl.Payload))
	_, err = h.admin.ExtendLicense(ctx, connect.NewRequest(&licmeshv1.ExtendLicenseRequest{LicenseId: trial.Msg.GetLicense().GetId()}))
	assert.Equal(t, connect.CodeInvalidArgument, code(t, err), "the superseded trial cannot be changed")

	conv, err := h.admin.ConvertTrial(ctx, connect.NewRequest(&licmeshv1.ConvertTrialRequest{LicenseId: ext.Msg.GetLicense().GetId(), Quantity: 3}))
	require.NoError(t, err)
	cl := h.verify(t, conv.Msg.GetLicense())
	assert.Equal(t, license.Subscription, cl.Type)
	assert.Equal(t, 3, cl.Quantity)
	assert.True(t, cl.Replaces(&el.Payload))
	pools, err = cl.PoolsAt(h.clk.Now())
	require.NoError(t, err)
	require.Len(t, pools, 2)
	assert.Equal(t, 1, pools[0].Seats, "fixed")
	assert.Equal(t, 3, pools[1].Seats, "per qty")
	assert.EqualValues(t, 5, pools[1].Amount)

	pack, err := h.admin.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{LicenseId: conv.Msg.GetLicense().GetId(), AddQuantity: 2}))
	require.NoError(t, err)
	pl := h.verify(t, pack.Msg.GetLicense())
	assert.Equal(t, 5, pl.Quantity)
	// Replacements made within one second are still stamped in order:
	// masters keep a subscription's latest license by issue time.
	assert.True(t, cl.IssuedAt.After(el.IssuedAt), "conversion after extension")
	assert.True(t, pl.IssuedAt.After(cl.IssuedAt), "pack after conversion")
	assert.Equal(t, cl.ExpiresAt, pl.ExpiresAt, "a pack keeps the term")
	assert.Equal(t, cl.SubscriptionID, pl.SubscriptionID)

	// Tailored: a license issued with a module off, then the module added.
	tail, err := h.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: coID, Sku: "timesheet-admin", Quantity: 1,
		Tailoring: &licmeshv1.Tailoring{DisableFeatures: []string{"orektic__reports"}, Duration: "90d", Credits: 1000, CreditUnit: "case"}}))
	require.NoError(t, err)
	tll := h.verify(t, tail.Msg.GetLicense())
	assert.False(t, tll.FeatureEnabled("orektic__reports"))
	assert.True(t, tll.FeatureEnabled("orektic__timesheet"))
	assert.Equal(t, h.clk.Now().Truncate(time.Second).Add(90*24*time.Hour), tll.ExpiresAt)
	mod, err := h.admin.AddToLicense(ctx, connect.NewRequest(&licmeshv1.AddToLicenseRequest{LicenseId: tail.Msg.GetLicense().GetId(), EnableFeatures: []string{"orektic__reports"}}))
	require.NoError(t, err)
	ml := h.verify(t, mod.Msg.GetLicense())
	assert.True(t, ml.FeatureEnabled("orektic__reports"))
	require.NotNil(t, ml.Credits, "a reissue keeps the tailoring")
	assert.EqualValues(t, 1000, ml.Credits.Balance)

	_, err = h.admin.RevokeLicense(ctx, connect.NewRequest(&licmeshv1.RevokeLicenseRequest{LicenseId: mod.Msg.GetLicense().GetId()}))
	require.NoError(t, err)

	got, err := h.admin.GetCompany(ctx, connect.NewRequest(&licmeshv1.GetCompanyRequest{Id: coID}))
	require.NoError(t, err)
	var kinds []string
	for _, e := range got.Msg.GetHistory() {
		kinds = append(kinds, e.GetKind())
	}
	for _, want := range []string{"company.created", "trial.created", "license.extended", "trial.converted", "license.added", "license.issued", "license.revoked"} {
		assert.Contains(t, kinds, want)
	}
	statuses := map[string]string{}
	for _, l := range got.Msg.GetLicenses() {
		statuses[l.GetId()] = l.GetStatus()
	}
	assert.Equal(t, "superseded", statuses[trial.Msg.GetLicense().GetId()])
	assert.Equal(t, "current", statuses[pack.Msg.GetLicense().GetId()])
	assert.Equal(t, "revoked", statuses[mod.Msg.GetLicense().GetId()])

	// A change to the product after licenses were issued makes version 2;
	// the licenses keep version 1.
	changed := seed002Product()
	changed.LicenseTemplate[0].Users = 2
	p2, err := h.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: changed}))
	require.NoError(t, err)
	assert.EqualValues(t, 2, p2.Msg.GetProduct().GetVersion())
	again, err := h.admin.GetIssuedLicense(ctx, connect.NewRequest(&licmeshv1.GetIssuedLicenseRequest{Id: pack.Msg.GetLicense().GetId()}))
	require.NoError(t, err)
	assert.EqualValues(t, 1, again.Msg.GetLicense().GetProductVersion())
}

func TestKeyRotation(t *testing.T) {
	h := startHub(t)
	ctx := t.Context()
	_, err := h.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	require.NoError(t, err)
	co, err := h.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	require.NoError(t, err)
	issue := func() *licmeshv1.HubLicense {
		r, err := h.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: co.Msg.GetCompany().GetId(), Sku: "timesheet-admin", Quantity: 1}))
		require.NoError(t, err)
		return r.Msg.GetLicense()
	}
	before := issue()
	h.clk.Advance(time.Second)
	vk, err := h.s.RotateVendorKey(ctx, "test")
	require.NoError(t, err)
	after := issue()
	assert.Equal(t, vk.KeyID, after.GetKeyId(), "the new key signs")
	assert.NotEqual(t, before.GetKeyId(), after.GetKeyId())
	h.verify(t, before) // the old key still verifies what it signed
	h.verify(t, after)
}
