package hub

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/hub/store"
)

var signupLink = regexp.MustCompile(`https://[^\s"<>]+/signup/confirm\?token=[A-Za-z0-9_-]+`)

// mailHub starts a hub that mails through the SMTP server at smtpAddr
// (authenticating as "hub"), takes sign-ups for seed 002's product, and
// has that product published.
func mailHub(t *testing.T, smtpAddr string, opts ...func(*Config)) *testHub {
	t.Helper()
	host, port, err := net.SplitHostPort(smtpAddr)
	require.NoError(t, err)
	pwFile := filepath.Join(t.TempDir(), "smtp.pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("smtp-secret\n"), 0o600))
	h := startHub(t, append([]func(*Config){func(c *Config) {
		c.SMTPHost, c.SMTPTLS, c.SMTPUsername, c.SMTPPasswordFile = host, "none", "hub", pwFile
		c.SMTPPort, _ = net.LookupPort("tcp", port)
		c.MailFrom = "Vendor <noreply@vendor.example>"
		c.SignupProduct = "timesheet-admin"
	}}, opts...)...)
	_, err = h.admin.SaveProduct(t.Context(), connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	require.NoError(t, err)
	return h
}

// public is a client with no credential.
func (h *testHub) public(t *testing.T) licmeshv1connect.HubServiceClient {
	return licmeshv1connect.NewHubServiceClient(h.httpClient(t), h.url)
}

func (h *testHub) signUp(t *testing.T, email, company string) (*licmeshv1.SignUpResponse, error) {
	r, err := h.public(t).SignUp(t.Context(), connect.NewRequest(&licmeshv1.SignUpRequest{Email: email, Company: company}))
	if err != nil {
		return nil, err
	}
	return r.Msg, nil
}

// outbox is the hub's mail outbox, newest first.
func (h *testHub) outbox(t *testing.T) []store.Mail {
	t.Helper()
	var ms []store.Mail
	require.NoError(t, h.s.store.Read(t.Context(), func(tx *store.Tx) error {
		var err error
		ms, err = tx.ListMail(t.Context(), 1000)
		return err
	}))
	return ms
}

// counts is how many of each thing the hub holds: what a refused sign-up
// must leave as it was.
func (h *testHub) counts(t *testing.T) map[string]int {
	t.Helper()
	n := map[string]int{}
	ctx := t.Context()
	require.NoError(t, h.s.store.Read(ctx, func(tx *store.Tx) error {
		cs, err := tx.ListCompanies(ctx, "")
		n["companies"] = len(cs)
		if err != nil {
			return err
		}
		as, err := tx.ListAccounts(ctx, store.AccountFilter{})
		n["accounts"] = len(as)
		if err != nil {
			return err
		}
		ls, err := tx.ListLicenses(ctx, store.LicenseFilter{})
		n["licenses"] = len(ls)
		if err != nil {
			return err
		}
		ms, err := tx.ListMail(ctx, 1000)
		n["mails"] = len(ms)
		if err != nil {
			return err
		}
		au, err := tx.AuditLog(ctx, time.Time{}, 1000)
		n["audit"] = len(au)
		if err != nil {
			return err
		}
		n["signups"], err = tx.CountSignups(ctx, store.SignupFilter{})
		return err
	}))
	return n
}

// browser is a person's browser: cookies, and the hub's certificate
// trusted.
type browser struct {
	t  *testing.T
	hc *http.Client
}

func (h *testHub) browser(t *testing.T) *browser {
	hc := h.httpClient(t)
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, hc: hc}
}

func (b *browser) get(link string) (int, string) {
	b.t.Helper()
	resp, err := b.hc.Get(link)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, string(body)
}

var nonceField = regexp.MustCompile(`name="nonce" value="([^"]+)"`)

// setPassword opens link and posts the form with pw (twice, or pw2).
func (b *browser) setPassword(link, pw, pw2 string) (int, string) {
	b.t.Helper()
	code, page := b.get(link)
	if code != http.StatusOK {
		return code, page
	}
	nonce := nonceField.FindStringSubmatch(page)
	require.NotNil(b.t, nonce, page)
	return b.post(link, pw, pw2, nonce[1])
}

func (b *browser) post(link, pw, pw2, nonce string) (int, string) {
	b.t.Helper()
	u, err := url.Parse(link)
	require.NoError(b.t, err)
	token := u.Query().Get("token")
	u.RawQuery = ""
	resp, err := b.hc.PostForm(u.String(), url.Values{"token": {token}, "nonce": {nonce}, "password": {pw}, "password2": {pw2}})
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, string(body)
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

// TestSignUp is seed 001's trial button end to end: a sign-up mails a link
// and a trial license that a master accepts; the link sets the password
// and signs in, once.
func TestSignUp(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr)
	ctx := t.Context()

	r, err := h.signUp(t, " Jane@Acme.example ", "Acme Corp")
	require.NoError(t, err)
	assert.Equal(t, "jane@acme.example", r.GetEmail())

	m := mailSrv.wait(t, 1)[0]
	assert.Equal(t, []string{"jane@acme.example"}, m.Envelope.To)
	assert.Equal(t, "noreply@vendor.example", m.Envelope.From)
	assert.Equal(t, "Your Timesheet Admin User trial: set your password", m.Subject)
	link := signupLink.FindString(m.Text)
	require.NotEmpty(t, link, "the text has the link:\n%s", m.Text)
	assert.True(t, strings.HasPrefix(link, h.url+"/signup/confirm?token="), link)
	assert.Contains(t, m.HTML, `href="`+link+`"`, "the HTML part links it too")

	// The license: attached, in the body, signed by the hub's vendor key,
	// a trial of the product for the new company.
	require.Len(t, m.Attachments, 1)
	var file, text string
	for name, body := range m.Attachments {
		file, text = name, body
	}
	assert.Regexp(t, `^lic_[a-z2-7]{20}\.lic$`, file)
	assert.Contains(t, m.Text, strings.TrimSpace(text), "the license is in the body, to paste")
	v, err := license.Verify([]byte(text), h.keyring(t), license.VerifyOptions{Now: h.clk.Now(), AnyCluster: true})
	require.NoError(t, err, "the mailed license verifies with the hub's vendor keys")
	assert.Equal(t, license.Trial, v.Type)
	assert.Equal(t, "Acme Corp", v.Customer.Name)
	assert.Equal(t, license.SKU("timesheet-admin"), v.Product.SKU)
	assert.Equal(t, strings.TrimSuffix(file, ".lic"), string(v.ID))

	// What the vendor sees: the company, its customer account, the trial,
	// all made by "signup".
	cs, err := h.admin.ListCompanies(ctx, connect.NewRequest(&licmeshv1.ListCompaniesRequest{}))
	require.NoError(t, err)
	require.Len(t, cs.Msg.GetCompanies(), 1)
	co, err := h.admin.GetCompany(ctx, connect.NewRequest(&licmeshv1.GetCompanyRequest{Id: cs.Msg.GetCompanies()[0].GetId()}))
	require.NoError(t, err)
	assert.Equal(t, "jane@acme.example", co.Msg.GetCompany().GetEmail())
	require.Len(t, co.Msg.GetUsers(), 1)
	assert.Equal(t, "customer", co.Msg.GetUsers()[0].GetRole())
	require.Len(t, co.Msg.GetLicenses(), 1)
	assert.Equal(t, string(v.ID), co.Msg.GetLicenses()[0].GetId())
	audit, err := h.admin.ListAudit(ctx, connect.NewRequest(&licmeshv1.ListAuditRequest{}))
	require.NoError(t, err)
	var bySignup []string
	for _, e := range audit.Msg.GetEntries() {
		if e.GetActor() == "signup" {
			bySignup = append(bySignup, e.GetAction())
			assert.Equal(t, "127.0.0.1", e.GetRemote())
		}
	}
	assert.ElementsMatch(t, []string{"company.create", "account.create", "trial.created"}, bySignup)

	// No password works before the link is followed.
	_, err = h.public(t).SignIn(ctx, connect.NewRequest(&licmeshv1.SignInRequest{Email: "jane@acme.example", Password: "!signup-pending"}))
	assert.Equal(t, connect.CodeUnauthenticated, code(t, err))

	// The link: a form; two different passwords or a short one are
	// refused without using it up; then it sets the password and signs in.
	// (A second browser opens it too, to post once it is used.)
	b, b2 := h.browser(t), h.browser(t)
	status, page := b2.get(link)
	require.Equal(t, http.StatusOK, status, page)
	nonce2 := nonceField.FindStringSubmatch(page)[1]
	status, page = b.get(link)
	require.Equal(t, http.StatusOK, status, page)
	assert.Contains(t, page, "jane@acme.example")
	nonce := nonceField.FindStringSubmatch(page)[1]
	status, page = b.post(link, "correct horse battery", "correct horse battery!", nonce)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, page, "The two passwords differ.")
	status, page = b.post(link, "short", "short", nonce)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, page, "at least 12 characters")
	status, _ = h.browser(t).post(link, "correct horse battery", "correct horse battery", nonce)
	assert.Equal(t, http.StatusForbidden, status, "a post from a browser that did not open the form (no nonce cookie)")
	status, page = b.post(link, "correct horse battery", "correct horse battery", nonce)
	require.Equal(t, http.StatusOK, status, page)
	assert.Contains(t, page, "you are signed in as <b>jane@acme.example</b>")

	// The browser is signed in: its session (cookie and CSRF token) is
	// Jane's, a customer of Acme.
	csrf := csrfMeta.FindStringSubmatch(page)
	require.NotNil(t, csrf, page)
	me, err := licmeshv1connect.NewHubServiceClient(b.hc, h.url, connect.WithInterceptors(header(csrfHeader, csrf[1]))).
		WhoAmI(ctx, connect.NewRequest(&licmeshv1.WhoAmIRequest{}))
	require.NoError(t, err)
	assert.Equal(t, "jane@acme.example", me.Msg.GetEmail())
	assert.Equal(t, "customer", me.Msg.GetRole())
	assert.Equal(t, co.Msg.GetCompany().GetId(), me.Msg.GetCompanyId())
	jane := h.signedIn(t, "jane@acme.example", "correct horse battery")
	ls, err := jane.ListIssuedLicenses(ctx, connect.NewRequest(&licmeshv1.ListIssuedLicensesRequest{}))
	require.NoError(t, err)
	require.Len(t, ls.Msg.GetLicenses(), 1, "the portal shows her trial")

	// The link is used up, in any browser.
	status, page = b.get(link)
	assert.Equal(t, http.StatusGone, status)
	assert.Contains(t, page, "expired or was already used")
	status, _ = b2.post(link, "another password!", "another password!", nonce2)
	assert.Equal(t, http.StatusGone, status, "a form opened before the link was used")
	_, err = h.public(t).SignIn(ctx, connect.NewRequest(&licmeshv1.SignInRequest{Email: "jane@acme.example", Password: "another password!"}))
	assert.Equal(t, connect.CodeUnauthenticated, code(t, err), "the refused reuse changed nothing")

	// Delivered once; the outbox no longer holds the message.
	require.Eventually(t, func() bool { return !h.outbox(t)[0].SentAt.IsZero() }, 10*time.Second, 10*time.Millisecond)
	sent := h.outbox(t)[0]
	assert.Empty(t, sent.Message)
	assert.Equal(t, 1, sent.Attempts)
	assert.Len(t, mailSrv.mails(), 1)
}

func TestSignUpLinkExpires(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr, func(c *Config) { c.SignupLinkTTL = 24 * time.Hour })
	_, err := h.signUp(t, "late@acme.example", "Acme")
	require.NoError(t, err)
	link := signupLink.FindString(mailSrv.wait(t, 1)[0].Text)
	require.NotEmpty(t, link)
	b := h.browser(t)
	status, page := b.get(link)
	require.Equal(t, http.StatusOK, status)
	nonce := nonceField.FindStringSubmatch(page)[1]

	h.clk.Advance(24 * time.Hour)
	status, page = b.get(link)
	assert.Equal(t, http.StatusGone, status)
	assert.Contains(t, page, "expired or was already used")
	status, _ = b.post(link, "correct horse battery", "correct horse battery", nonce)
	assert.Equal(t, http.StatusGone, status, "the form opened in time is refused once the link has expired")
	_, err = h.public(t).SignIn(t.Context(), connect.NewRequest(&licmeshv1.SignInRequest{Email: "late@acme.example", Password: "correct horse battery"}))
	assert.Equal(t, connect.CodeUnauthenticated, code(t, err))
}

// TestSignUpMailWaitsForTheMailServer: the mail server is down when the
// sign-up commits; the mail stays in the outbox, retried with backoff,
// and is delivered, once, when the server is up.
func TestSignUpMailWaitsForTheMailServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	h := mailHub(t, addr)

	_, err = h.signUp(t, "early@acme.example", "Acme")
	require.NoError(t, err)
	var failed store.Mail
	require.Eventually(t, func() bool {
		failed = h.outbox(t)[0]
		return failed.LastError != ""
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, failed.Attempts)
	assert.Contains(t, failed.LastError, "connection refused")
	assert.Equal(t, h.clk.Now().Add(mailFirstRetry), failed.NextAt, "the next attempt in 30 s")
	assert.NotEmpty(t, failed.Message, "the mail is kept")

	// Another failure backs off further.
	h.clk.Advance(mailFirstRetry)
	require.Eventually(t, func() bool {
		m := h.outbox(t)[0]
		return m.Attempts == 2 && m.NextAt.Equal(h.clk.Now().Add(2*mailFirstRetry))
	}, 10*time.Second, 10*time.Millisecond, "the second retry waits 60 s")

	mailSrv := startSMTP(t, addr, "hub", "smtp-secret")
	assert.Empty(t, mailSrv.mails(), "nothing is sent before the retry is due")
	// The sender sleeps on the hub's clock: move it until the retry has
	// happened.
	require.Eventually(t, func() bool {
		h.clk.Advance(mailFirstRetry)
		return len(mailSrv.mails()) > 0
	}, 10*time.Second, 20*time.Millisecond)
	m := mailSrv.wait(t, 1)[0]
	assert.Equal(t, []string{"early@acme.example"}, m.Envelope.To)
	assert.NotEmpty(t, signupLink.FindString(m.Text))
	require.Eventually(t, func() bool { return !h.outbox(t)[0].SentAt.IsZero() }, 10*time.Second, 10*time.Millisecond)
	h.clk.Advance(time.Hour)
	time.Sleep(50 * time.Millisecond) // a duplicate would have had the time to arrive
	assert.Len(t, mailSrv.mails(), 1, "delivered once")
	assert.Equal(t, 3, h.outbox(t)[0].Attempts)
}

func TestSignUpRefusesBadInputAndChangesNothing(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr, func(c *Config) { c.SignupProducts = []string{"other-product"} })
	before := h.counts(t)
	for name, tc := range map[string]struct {
		req  *licmeshv1.SignUpRequest
		code connect.Code
		msg  string
	}{
		"no email":          {&licmeshv1.SignUpRequest{Company: "Acme"}, connect.CodeInvalidArgument, `email "": one plain address`},
		"not an email":      {&licmeshv1.SignUpRequest{Email: "jane at acme", Company: "Acme"}, connect.CodeInvalidArgument, "email"},
		"two emails":        {&licmeshv1.SignUpRequest{Email: "a@acme.example, b@acme.example", Company: "Acme"}, connect.CodeInvalidArgument, "email"},
		"a name and email":  {&licmeshv1.SignUpRequest{Email: "Jane <jane@acme.example>", Company: "Acme"}, connect.CodeInvalidArgument, "email"},
		"empty company":     {&licmeshv1.SignUpRequest{Email: "jane@acme.example", Company: "  "}, connect.CodeInvalidArgument, "company: the company's name"},
		"long company":      {&licmeshv1.SignUpRequest{Email: "jane@acme.example", Company: strings.Repeat("x", 201)}, connect.CodeInvalidArgument, "company"},
		"long name":         {&licmeshv1.SignUpRequest{Email: "jane@acme.example", Company: "Acme", Name: strings.Repeat("x", 201)}, connect.CodeInvalidArgument, "name"},
		"unoffered product": {&licmeshv1.SignUpRequest{Email: "jane@acme.example", Company: "Acme", Sku: "enterprise"}, connect.CodeInvalidArgument, `sku "enterprise": sign-up offers timesheet-admin, other-product`},
		// Offered but never published: the vendor's mistake, refused as
		// sign-up being off, and rolled back.
		"unpublished product": {&licmeshv1.SignUpRequest{Email: "jane@acme.example", Company: "Acme", Sku: "other-product"}, connect.CodeFailedPrecondition, "sign-up is not available: product other-product is not published"},
	} {
		_, err := h.public(t).SignUp(t.Context(), connect.NewRequest(tc.req))
		assert.Equal(t, tc.code, code(t, err), name)
		assert.ErrorContains(t, err, tc.msg, name)
		assert.Equal(t, before, h.counts(t), "%s: nothing changed", name)
	}

	// A hub with no sign-up product takes no sign-ups.
	off := startHub(t)
	before = off.counts(t)
	_, err := off.signUp(t, "jane@acme.example", "Acme")
	assert.Equal(t, connect.CodeFailedPrecondition, code(t, err))
	assert.ErrorContains(t, err, "hub: sign-up is not available")
	assert.Equal(t, before, off.counts(t))
	assert.Empty(t, mailSrv.mails())
}

func TestSignUpRateLimit(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr, func(c *Config) { c.SignupRate = 2 })
	for _, e := range []string{"a@acme.example", "b@acme.example"} {
		_, err := h.signUp(t, e, "Acme")
		require.NoError(t, err)
	}
	before := h.counts(t)
	_, err := h.signUp(t, "c@acme.example", "Acme")
	assert.Equal(t, connect.CodeResourceExhausted, code(t, err))
	assert.ErrorContains(t, err, "too many sign-ups from this address: 2 in the last hour")
	assert.Equal(t, before, h.counts(t), "nothing changed")
	_, err = h.signUp(t, "a@acme.example", "Acme")
	assert.Equal(t, connect.CodeResourceExhausted, code(t, err), "an existing address counts too")

	h.clk.Advance(time.Hour + time.Millisecond)
	_, err = h.signUp(t, "c@acme.example", "Acme")
	require.NoError(t, err, "an hour later")
	assert.Len(t, mailSrv.wait(t, 3), 3)
}

// TestSignUpForAnExistingEmail: the answer is the one a new address gets;
// the difference is only in the mail, which only the address's owner
// reads.
func TestSignUpForAnExistingEmail(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr, func(c *Config) { c.SignupRate = 100 })

	// An account in use: "you already have an account", nothing else.
	before := h.counts(t)
	r, err := h.signUp(t, "ADMIN@vendor.example", "Evil Corp")
	require.NoError(t, err)
	assert.Equal(t, "admin@vendor.example", r.GetEmail())
	m := mailSrv.wait(t, 1)[0]
	assert.Equal(t, "You already have an account", m.Subject)
	assert.Contains(t, m.Text, h.url+"/")
	assert.Empty(t, signupLink.FindString(m.Text+m.HTML), "no link that could reset anything")
	assert.Empty(t, m.Attachments)
	after := h.counts(t)
	assert.Equal(t, before["companies"], after["companies"])
	assert.Equal(t, before["accounts"], after["accounts"])
	assert.Equal(t, before["licenses"], after["licenses"])
	h.signedIn(t, h.init.AdminEmail, h.init.AdminPassword) // the password is unchanged

	// An account that never set its password: a new link (the old one
	// ends), the same trial, no second company.
	_, err = h.signUp(t, "jane@acme.example", "Acme")
	require.NoError(t, err)
	first := mailSrv.wait(t, 2)[1]
	_, err = h.signUp(t, "jane@acme.example", "Acme Again")
	require.NoError(t, err)
	again := mailSrv.wait(t, 3)[2]
	oldLink, newLink := signupLink.FindString(first.Text), signupLink.FindString(again.Text)
	require.NotEmpty(t, newLink)
	assert.NotEqual(t, oldLink, newLink)
	assert.Equal(t, first.Attachments, again.Attachments, "the same trial license")
	assert.Contains(t, again.Text, "Here is a new link to finish signing up for Acme.")
	cs, err := h.admin.ListCompanies(t.Context(), connect.NewRequest(&licmeshv1.ListCompaniesRequest{}))
	require.NoError(t, err)
	assert.Len(t, cs.Msg.GetCompanies(), 1)
	status, _ := h.browser(t).get(oldLink)
	assert.Equal(t, http.StatusGone, status, "the old link ended")
	status, _ = h.browser(t).setPassword(newLink, "correct horse battery", "correct horse battery")
	assert.Equal(t, http.StatusOK, status)

	// However often the form is filled in, an address gets at most a few
	// sign-up mails an hour; the answer does not change.
	for range 3 {
		_, err = h.signUp(t, "jane@acme.example", "Acme")
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		for _, m := range h.outbox(t) {
			if m.SentAt.IsZero() {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond)
	var toJane int
	for _, m := range mailSrv.mails() {
		if m.To[0] == "jane@acme.example" {
			toJane++
		}
	}
	assert.Equal(t, signupMailsPerEmail, toJane)
}

func TestResellerTrialIsMailedOnRequest(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr)
	ctx := t.Context()
	rs, err := h.admin.CreateReseller(ctx, connect.NewRequest(&licmeshv1.CreateResellerRequest{Name: "DataDog"}))
	require.NoError(t, err)
	dd := h.account(t, store.RoleReseller, "api@datadog.example", "", rs.Msg.GetReseller().GetId())
	co, err := dd.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Initech", Email: "it@initech.example"}))
	require.NoError(t, err)
	tr, err := dd.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: co.Msg.GetCompany().GetId(), Sku: "timesheet-admin", Notify: true}))
	require.NoError(t, err)
	m := mailSrv.wait(t, 1)[0]
	assert.Equal(t, []string{"it@initech.example"}, m.Envelope.To)
	assert.Equal(t, "Your Timesheet Admin User trial license", m.Subject)
	assert.Equal(t, tr.Msg.GetLicense().GetText(), m.Attachments[tr.Msg.GetLicense().GetId()+".lic"])

	// Without notify, no mail; on a hub without mail, notify is refused
	// and the trial is not started.
	co2, err := dd.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Hooli", Email: "it@hooli.example"}))
	require.NoError(t, err)
	_, err = dd.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: co2.Msg.GetCompany().GetId(), Sku: "timesheet-admin"}))
	require.NoError(t, err)
	assert.Len(t, h.outbox(t), 1)

	plain := startHub(t)
	_, err = plain.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	require.NoError(t, err)
	co3, err := plain.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	require.NoError(t, err)
	_, err = plain.admin.StartTrial(ctx, connect.NewRequest(&licmeshv1.StartTrialRequest{CompanyId: co3.Msg.GetCompany().GetId(), Sku: "timesheet-admin", Notify: true}))
	assert.Equal(t, connect.CodeFailedPrecondition, code(t, err))
	assert.ErrorContains(t, err, ErrMailOff.Error())
	assert.Zero(t, plain.counts(t)["licenses"], "rolled back")
}

// TestMailLoopStopsWithRun: Run returns only once the sender has stopped,
// so closing the store after it is safe.
func TestMailLoopStopsWithRun(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	done := make(chan struct{})
	go func() { h.s.mailLoop(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("mailLoop did not stop with its context")
	}
}
