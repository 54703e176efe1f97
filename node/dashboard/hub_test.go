package dashboard_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/dashboard"
)

const (
	hubURL = "https://hub.example.com:7500"
	// hubKey is the API key the fake hub takes; no page but step 2's
	// form, and no log line, may hold it.
	hubKey = "lmh1.key-7.s3cr3t-api-key-0123456789"
)

// fakeHub stands in for the master's link with its hub: it lists
// companies for hubKey, activates for one of them (after which Status
// says so), and starts trials for addresses without an account.
type fakeHub struct {
	mu        sync.Mutex
	status    *licmeshv1.GetUpstreamResponse
	companies []*licmeshv1.HubCompany
	refuse    error // Activate's answer, when set
	accounts  map[string]bool
	checkErr  error
	calls     []string
	activated *licmeshv1.ActivateClusterRequest
	trial     *licmeshv1.StartClusterTrialRequest
}

func newFakeHub() *fakeHub {
	return &fakeHub{
		status: &licmeshv1.GetUpstreamResponse{},
		companies: []*licmeshv1.HubCompany{
			{Id: "co-2", Name: "Globex", Products: []string{"BPM Runtime"}},
			{Id: "co-1", Name: "Acme Corp", Products: []string{"BPM Studio", "BPM Runtime"}},
		},
		accounts: map[string]bool{"known@acme.example": true},
	}
}

func (f *fakeHub) funcs() dashboard.HubFuncs {
	return dashboard.HubFuncs{Status: f.Status, Companies: f.Companies, Activate: f.Activate, Trial: f.Trial, CheckNow: f.CheckNow}
}

func (f *fakeHub) called(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
}

func (f *fakeHub) callList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeHub) setStatus(st *licmeshv1.GetUpstreamResponse) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = st
}

func (f *fakeHub) Status(context.Context) (*licmeshv1.GetUpstreamResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return proto.Clone(f.status).(*licmeshv1.GetUpstreamResponse), nil
}

func (f *fakeHub) Companies(_ context.Context, req *licmeshv1.ListHubCompaniesRequest) (*licmeshv1.ListHubCompaniesResponse, error) {
	f.called("companies")
	if req.GetApiKey() != hubKey {
		return nil, errors.New("hub " + req.GetHub().GetUrl() + ": unauthenticated: the API key is unknown or revoked")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return &licmeshv1.ListHubCompaniesResponse{Companies: cloneAll(f.companies)}, nil
}

func (f *fakeHub) Activate(_ context.Context, req *licmeshv1.ActivateClusterRequest) (*licmeshv1.ActivateClusterResponse, error) {
	f.called("activate")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return nil, f.refuse
	}
	f.activated = proto.Clone(req).(*licmeshv1.ActivateClusterRequest)
	for _, c := range f.companies {
		if c.Id == req.GetCompanyId() && req.GetApiKey() == hubKey {
			f.status = &licmeshv1.GetUpstreamResponse{Activated: true, HubUrl: req.GetHub().GetUrl(), CompanyId: c.Id, CompanyName: c.Name,
				ActivatedAtMs: t0.UnixMilli()}
			return &licmeshv1.ActivateClusterResponse{CompanyId: c.Id, CompanyName: c.Name, LicenseIds: []string{"LIC-2026-0101", "LIC-2026-0102"}}, nil
		}
	}
	return nil, errors.New("hub " + req.GetHub().GetUrl() + ": permission_denied: the key may not activate for " + req.GetCompanyId())
}

func (f *fakeHub) Trial(_ context.Context, req *licmeshv1.StartClusterTrialRequest) (*licmeshv1.StartClusterTrialResponse, error) {
	f.called("trial")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.trial = proto.Clone(req).(*licmeshv1.StartClusterTrialRequest)
	if !strings.Contains(req.GetEmail(), "@") {
		return nil, errors.New("hub " + req.GetHub().GetUrl() + ": invalid_argument: " + req.GetEmail() + " is not an e-mail address")
	}
	if f.accounts[req.GetEmail()] {
		return &licmeshv1.StartClusterTrialResponse{}, nil
	}
	return &licmeshv1.StartClusterTrialResponse{CompanyId: "co-9", LicenseId: "LIC-TRIAL-0009"}, nil
}

func (f *fakeHub) CheckNow(context.Context) (*licmeshv1.CheckLicensesNowResponse, error) {
	f.called("check")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.checkErr != nil {
		return nil, f.checkErr
	}
	return &licmeshv1.CheckLicensesNowResponse{Summary: "added LIC-2026-0103; removed revoked LIC-2026-0101"}, nil
}

// lockedBuffer collects a logger's output from concurrent handlers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// signedInWithHub is a signed-in browser on a dashboard whose hub page is
// served by a fakeHub, and the dashboard's log.
func signedInWithHub(t *testing.T, edit ...func(*dashboard.HubFuncs)) (*testEnv, *client, *fakeHub, *lockedBuffer) {
	t.Helper()
	f := newFakeHub()
	logs := &lockedBuffer{}
	e := newTestEnv(t, func(c *dashboard.Config) {
		c.Hub = f.funcs()
		for _, ed := range edit {
			ed(&c.Hub)
		}
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	c := e.newClient()
	c.mustSignIn()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dashboard log:\n%s", logs)
		}
	})
	return e, c, f, logs
}

// activatedStatus is a leader's view some hours into an activation.
func activatedStatus() *licmeshv1.GetUpstreamResponse {
	ms := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	return &licmeshv1.GetUpstreamResponse{
		Activated: true, HubUrl: hubURL, CompanyId: "co-1", CompanyName: "Acme Corp", ActivatedAtMs: ms(-50 * time.Hour),
		HeadSeq: 12, AckedSeq: 11, AckedAtMs: ms(-3 * time.Minute), AckedVia: "receipt",
		Outbox: 1, OutboxBytes: 2355, Dirty: 4,
		LastSyncMs: ms(-3 * time.Minute), NextAttemptMs: ms(30 * time.Second),
		LastError: "hub https://hub.example.com:7500: unavailable: connection refused", LastErrorMs: ms(-90 * time.Second),
		LastCheckMs: ms(-2 * time.Hour), LastCheckSummary: "added LIC-2026-0103",
	}
}

// leading makes the fake Source's answering master the leader.
func leading(e *testEnv) {
	e.src.mu.Lock()
	defer e.src.mu.Unlock()
	e.src.status.State = "leader"
}

func TestHubPageNotActivated(t *testing.T) {
	_, c, f, _ := signedInWithHub(t)
	resp, body := c.get("/ui/hub")
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET /ui/hub:\n%s", body)
	wantContains(t, body,
		`aria-current="page">Hub</a>`, "<title>Vendor hub · licmesh</title>",
		"This cluster is not activated with a vendor's hub.",
		`hx-get="/ui/fragments/hub" hx-trigger="every 5s" hx-swap="outerHTML"`,
		// The actions, outside the live block.
		`<a id="open-activate" class="button" href="#activate">Activate with your vendor's hub</a>`,
		`<a id="open-trial" class="button secondary" href="#trial">Start a trial</a>`,
		// The dialogs, closed until they are the :target.
		`<div id="activate" class="modal" role="dialog" aria-modal="true" aria-labelledby="activate-title" tabindex="-1">`,
		`<h2 id="activate-title">Activate with your vendor's hub</h2>`,
		`action="/ui/hub/companies"`,
		`<input id="activate-api-key" name="api_key" type="password" required autocomplete="off" spellcheck="false">`,
		`<div id="trial" class="modal" role="dialog" aria-modal="true" aria-labelledby="trial-title" tabindex="-1">`,
		`action="/ui/hub/trial"`,
	)
	assert.NotContains(t, body, "check-now", "the check button shows before activation")
	assert.NotRegexp(t, regexp.MustCompile(`<script>|<script [^>]*>[^<]|\son[a-z]+=|style="|<style`), body,
		"the page has inline script or style, which the CSP would block")
	live := liveBlock(t, body)
	assert.NotContains(t, live, "<form", "a form is inside the polled block, which would wipe it")
	// Every page links to the hub page.
	wantContains(t, mustGet(t, c, "/ui/pools"), `<a href="/ui/hub">Hub</a>`)
	assert.Empty(t, f.callList(), "a GET called the hub")
}

// liveBlock is the page's self-refreshing block.
func liveBlock(t *testing.T, page string) string {
	t.Helper()
	i := strings.Index(page, `<div id="hub-live"`)
	require.GreaterOrEqual(t, i, 0, "no live block:\n%s", page)
	j := strings.Index(page[i:], "\n</div>")
	require.GreaterOrEqual(t, j, 0, "live block not closed")
	return page[i : i+j]
}

func TestHubPageShowsActivation(t *testing.T) {
	e, c, f, _ := signedInWithHub(t)
	f.setStatus(activatedStatus())
	leading(e)
	body := mustGet(t, c, "/ui/hub")
	wantContains(t, body,
		`This cluster is activated with its vendor's hub for <strong>Acme Corp (co-1)</strong>.`,
		`<dd id="hub-url" class="mono">https://hub.example.com:7500</dd>`,
		`<dd id="hub-activated"><time datetime="2026-03-12T07:26:53Z">2026-03-12 07:26:53 UTC</time> <span class="sub">2d ago</span></dd>`,
		`12 sealed, 11 acknowledged`, `last by an imported receipt, <time datetime="2026-03-14T09:23:53Z" title="2026-03-14T09:23:53Z">3m ago</time>`,
		`<dd id="hub-waiting">1 batch (2.3 KiB) not yet acknowledged; usage changed in 4 periods since the last batch.</dd>`,
		`<span class="sub">3m ago</span>`, `<span class="sub">in 30s</span>`,
		`<dd id="hub-check"><time datetime="2026-03-14T07:26:53Z">2026-03-14 07:26:53 UTC</time> <span class="sub">2h ago</span><span class="sub">added LIC-2026-0103</span></dd>`,
		`<p class="hub-failing" id="hub-last-error">The sync with the hub is failing (<time datetime="2026-03-14T09:25:23Z" title="2026-03-14T09:25:23Z">1m ago</time>): hub https://hub.example.com:7500: unavailable: connection refused</p>`,
		// The dialogs start from the hub the cluster is linked to.
		`<input id="activate-hub-url" name="hub_url" type="url" value="https://hub.example.com:7500"`,
		`<button type="submit" id="check-now" class="secondary">Check licenses now</button>`,
	)
	assert.NotContains(t, body, "hub-leader", "the leader is told where the leader is")

	// Once a sync succeeds the error is history, and an acknowledgement
	// online says so.
	st := activatedStatus()
	st.LastSyncMs, st.AckedVia, st.Outbox, st.OutboxBytes, st.Dirty = t0.UnixMilli(), "online", 0, 0, 0
	st.LastCheckError = "license check with https://hub.example.com:7500: unavailable"
	f.setStatus(st)
	resp, part := c.getHTMX("/ui/fragments/hub")
	require.Equal(t, http.StatusOK, resp.StatusCode, "fragment")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "fragment Cache-Control")
	require.NotContains(t, part, "<nav", "the fragment is not the page's live block")
	require.NotContains(t, part, `id="activate"`, "the fragment carries the dialogs")
	wantContains(t, part,
		`<dd id="hub-waiting">Nothing: the hub has every batch.</dd>`,
		`last online, <time`,
		`<p class="muted note" id="hub-last-error">The last error, since recovered, was (<time`,
		`<p class="hub-failing" id="hub-check-error">The last license check failed: license check with https://hub.example.com:7500: unavailable</p>`,
	)
	assert.NotContains(t, part, "is failing", "a recovered error still reads as failing")
}

func TestHubPageOnAFollowerNamesTheLeader(t *testing.T) {
	_, c, f, _ := signedInWithHub(t)
	st := activatedStatus()
	st.LastSyncMs, st.NextAttemptMs, st.LastError, st.LastErrorMs = 0, 0, "", 0 // a follower knows none of these
	f.setStatus(st)
	body := mustGet(t, c, "/ui/hub")
	wantContains(t, body, `<p class="muted note" id="hub-leader">The leader, master-a (10.0.0.1:7400), sends usage to the hub`)
	assert.NotContains(t, body, "hub-last-sync", "a follower shows the sync's state it does not know")
}

func TestHubFragmentIsThePagesBlock(t *testing.T) {
	e, c, f, _ := signedInWithHub(t)
	f.setStatus(activatedStatus())
	leading(e)
	full := mustGet(t, c, "/ui/hub")
	resp, part := c.getHTMX("/ui/fragments/hub")
	require.Equal(t, http.StatusOK, resp.StatusCode, "fragment")
	require.Contains(t, full, strings.TrimSpace(part), "the fragment is not the page's live block")
}

// step1 posts the activation's first step from a fresh page.
func step1(t *testing.T, c *client, key string) (*http.Response, string) {
	t.Helper()
	page := mustGet(t, c, "/ui/hub")
	return c.post("/ui/hub/companies", url.Values{"csrf": {csrfIn(t, page)}, "hub_url": {hubURL}, "hub_ca": {""}, "api_key": {key}})
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// step2Fields are the hidden fields of step 2's form.
func step2Fields(t *testing.T, body string) url.Values {
	t.Helper()
	i := strings.Index(body, `action="/ui/hub/activate"`)
	require.GreaterOrEqual(t, i, 0, "no step 2 form:\n%s", body)
	form := body[i : i+strings.Index(body[i:], "</form>")]
	v := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(form, -1) {
		v.Set(m[1], m[2])
	}
	return v
}

func TestHubActivationInTwoSteps(t *testing.T) {
	_, c, f, logs := signedInWithHub(t)
	page := mustGet(t, c, "/ui/hub")
	assert.NotContains(t, page, hubKey, "the page holds the API key before step 1")

	resp, body := step1(t, c, hubKey)
	require.Equal(t, http.StatusOK, resp.StatusCode, "step 1:\n%s", body)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "step 2 carries the API key: it must not be cached")
	wantContains(t, body,
		`<div id="activate" class="modal open" role="dialog"`,
		"Step 2 of 2",
		`<legend>Company at <span class="mono">https://hub.example.com:7500</span></legend>`,
		// Sorted by name, none chosen for the operator among two.
		`<input type="radio" name="company" value="co-1" autofocus required> <span>Acme Corp<span class="sub">BPM Studio, BPM Runtime</span></span>`,
		`<input type="radio" name="company" value="co-2" required> <span>Globex<span class="sub">BPM Runtime</span></span>`,
	)
	assert.Less(t, strings.Index(body, `value="co-1"`), strings.Index(body, `value="co-2"`), "companies not sorted by name")
	hidden := step2Fields(t, body)
	assert.Equal(t, hubURL, hidden.Get("hub_url"), "step 2's hidden hub URL")
	assert.Equal(t, hubKey, hidden.Get("api_key"), "step 2's hidden API key")
	assert.Equal(t, 1, strings.Count(body, hubKey), "the API key appears outside step 2's hidden field")
	assert.Contains(t, liveBlock(t, body), "not activated", "the status before activation")

	hidden.Set("company", "co-1")
	resp, body = c.post("/ui/hub/activate", hidden)
	require.Equal(t, http.StatusOK, resp.StatusCode, "step 2:\n%s", body)
	wantContains(t, body,
		`<p class="notice" role="status" id="hub-notice">Activated for Acme Corp; licenses in force: LIC-2026-0101, LIC-2026-0102.</p>`,
		`This cluster is activated with its vendor's hub for <strong>Acme Corp (co-1)</strong>.`,
		`<div id="activate" class="modal" role="dialog"`,
	)
	assert.NotContains(t, body, hubKey, "the answer to step 2 holds the API key")
	f.mu.Lock()
	got := f.activated
	f.mu.Unlock()
	require.NotNil(t, got, "Activate was not called")
	assert.Equal(t, "co-1", got.GetCompanyId(), "activated company")
	assert.Equal(t, hubKey, got.GetApiKey(), "activated with key")
	assert.Equal(t, hubURL, got.GetHub().GetUrl(), "activated hub")
	assert.Contains(t, logs.String(), "dashboard: cluster activated", "the activation is not logged")
	assert.NotContains(t, logs.String(), hubKey, "the API key was logged")
}

func TestHubActivationOneCompanyIsChosen(t *testing.T) {
	_, c, f, _ := signedInWithHub(t)
	f.mu.Lock()
	f.companies = f.companies[1:]
	f.mu.Unlock()
	resp, body := step1(t, c, hubKey)
	require.Equal(t, http.StatusOK, resp.StatusCode, "step 1:\n%s", body)
	wantContains(t, body, `<input type="radio" name="company" value="co-1" checked autofocus required>`)

	f.mu.Lock()
	f.companies = nil
	f.mu.Unlock()
	resp, body = step1(t, c, hubKey)
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "no company")
	wantContains(t, body, "The hub lists no company this API key&#39;s account may activate for")
	assert.NotContains(t, body, hubKey, "step 1 echoed the API key")
}

func TestHubActivationRefusals(t *testing.T) {
	_, c, f, logs := signedInWithHub(t)
	// A wrong key: step 1 again, the refusal verbatim, the hub kept, the
	// key not.
	wrong := "lmh1.key-7.wrong-key-987654321"
	resp, body := step1(t, c, wrong)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "wrong key")
	wantContains(t, body,
		`<div id="activate" class="modal open" role="dialog"`,
		`<p class="banner" role="alert" id="activate-problem">hub https://hub.example.com:7500: unauthenticated: the API key is unknown or revoked</p>`,
		`<input id="activate-hub-url" name="hub_url" type="url" value="https://hub.example.com:7500"`,
		`<input id="activate-api-key" name="api_key" type="password" required autocomplete="off" spellcheck="false" autofocus>`,
		`<a class="modal-close" href="/ui/hub" aria-label="Close">`,
	)
	assert.NotContains(t, body, wrong, "a refused step 1 echoed the API key")
	assert.Contains(t, logs.String(), "dashboard: hub companies refused", "the refusal is not logged")

	// The hub refuses the activation: the refusal verbatim, step 2 kept
	// with the company chosen.
	_, body = step1(t, c, hubKey)
	fields := step2Fields(t, body)
	f.mu.Lock()
	f.refuse = errors.New(`the hub's license does not verify with this cluster's vendor keys: license: signature does not verify with key "k1"`)
	f.mu.Unlock()
	fields.Set("company", "co-2")
	resp, body = c.post("/ui/hub/activate", fields)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "refused activation")
	wantContains(t, body,
		`<p class="banner" role="alert" id="activate-problem">the hub&#39;s license does not verify with this cluster&#39;s vendor keys: license: signature does not verify with key &#34;k1&#34;</p>`,
		`<div id="activate" class="modal open" role="dialog"`,
		`<input type="radio" name="company" value="co-2" checked required>`,
	)
	assert.Equal(t, hubKey, step2Fields(t, body).Get("api_key"), "the kept step 2 lost the API key")
	assert.Contains(t, liveBlock(t, body), "not activated", "a refused activation shows as activated")

	// Without a company chosen, the companies are listed again.
	fields.Del("company")
	resp, body = c.post("/ui/hub/activate", fields)
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "no company")
	wantContains(t, body, "Choose the company to activate the cluster for.", `value="co-1"`)
	// Without a key, step 1 again.
	fields.Del("api_key")
	fields.Set("company", "co-1")
	resp, body = c.post("/ui/hub/activate", fields)
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "no key")
	wantContains(t, body, "The form lost the hub&#39;s address or the API key", `action="/ui/hub/companies"`)
	assert.NotContains(t, logs.String(), hubKey, "the API key was logged")
	assert.NotContains(t, logs.String(), wrong, "the API key was logged")
}

func TestHubPostsNeedCSRFAndSession(t *testing.T) {
	e, c, f, _ := signedInWithHub(t)
	forms := map[string]url.Values{
		"/ui/hub/companies": {"hub_url": {hubURL}, "api_key": {hubKey}},
		"/ui/hub/activate":  {"hub_url": {hubURL}, "api_key": {hubKey}, "company": {"co-1"}},
		"/ui/hub/trial":     {"hub_url": {hubURL}, "email": {"new@acme.example"}},
		"/ui/hub/check":     {},
	}
	other := e.newClient()
	other.mustSignIn()
	otherTok := csrfIn(t, mustGet(t, other, "/ui/hub"))
	for path, form := range forms {
		resp, body := c.post(path, form)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s without csrf", path)
		assert.NotContains(t, body, hubKey, "%s echoed the API key", path)
		form.Set("csrf", otherTok)
		resp, _ = c.post(path, form)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s with another session's csrf", path)
		resp, _ = e.newClient().post(path, form)
		wantRedirectToLogin(t, resp)
	}
	assert.Empty(t, f.callList(), "a refused POST reached the hub")

	// The body is bounded: a pasted CA bundle fits, a huge one does not.
	tok := csrfIn(t, mustGet(t, c, "/ui/hub"))
	resp, _ := c.post("/ui/hub/companies", url.Values{"csrf": {tok}, "hub_url": {hubURL}, "api_key": {hubKey}, "hub_ca": {strings.Repeat("A", 200<<10)}})
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "200 KiB form")
	assert.Empty(t, f.callList(), "an oversized POST reached the hub")
	resp, _ = c.post("/ui/hub/companies", url.Values{"csrf": {tok}, "hub_url": {hubURL}, "api_key": {hubKey}, "hub_ca": {strings.Repeat("A", 60<<10)}})
	assert.Equal(t, http.StatusOK, resp.StatusCode, "60 KiB CA")
}

func TestHubWithoutActions(t *testing.T) {
	f := newFakeHub()
	f.setStatus(activatedStatus())
	e := newTestEnv(t, func(c *dashboard.Config) { c.Hub = dashboard.HubFuncs{Status: f.Status} })
	c := e.newClient()
	c.mustSignIn()
	body := mustGet(t, c, "/ui/hub")
	wantContains(t, body, "Acme Corp (co-1)", `hx-get="/ui/fragments/hub"`)
	for _, s := range []string{"hub-actions", `id="activate"`, `id="trial"`, "<textarea", `type="password"`, "check-now"} {
		assert.NotContains(t, body, s, "the page shows a form without its function")
	}
	tok := csrfIn(t, body)
	for _, p := range []string{"/ui/hub/companies", "/ui/hub/activate", "/ui/hub/trial", "/ui/hub/check"} {
		resp, _ := c.post(p, url.Values{"csrf": {tok}, "hub_url": {hubURL}, "api_key": {hubKey}, "company": {"co-1"}, "email": {"a@b.example"}})
		assert.NotEqual(t, http.StatusOK, resp.StatusCode, "POST %s accepted without its function", p)
	}
	assert.Empty(t, f.callList(), "a POST reached the hub")

	// Actions without Status: no live status, the forms still there.
	e = newTestEnv(t, func(c *dashboard.Config) { h := f.funcs(); h.Status = nil; c.Hub = h })
	c = e.newClient()
	c.mustSignIn()
	body = mustGet(t, c, "/ui/hub")
	wantContains(t, body, "This master does not report its link with a hub.", `id="open-activate"`, `id="check-now"`)
	assert.NotContains(t, body, "/ui/fragments/hub", "a block without a status polls")

	// No hub at all: neither the page nor its nav link.
	_, c = signedIn(t)
	assert.NotContains(t, mustGet(t, c, "/ui/"), `href="/ui/hub"`, "the nav links to a page that is not there")
	resp, _ := c.get("/ui/hub")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "GET /ui/hub without Config.Hub")
}

func TestHubTrial(t *testing.T) {
	_, c, f, _ := signedInWithHub(t)
	page := mustGet(t, c, "/ui/hub")
	form := url.Values{"csrf": {csrfIn(t, page)}, "hub_url": {hubURL}, "hub_ca": {"-----BEGIN CERTIFICATE-----\r\nMIIB\r\n-----END CERTIFICATE-----\r\n"},
		"email": {"new@acme.example"}, "company": {"Acme Corp"}, "name": {"Ada"}}
	resp, body := c.post("/ui/hub/trial", form)
	require.Equal(t, http.StatusOK, resp.StatusCode, "trial:\n%s", body)
	wantContains(t, body, `<p class="notice" role="status" id="hub-notice">Trial started: license LIC-TRIAL-0009 is in force, and the cluster is activated with https://hub.example.com:7500.</p>`,
		`<div id="trial" class="modal" role="dialog"`)
	f.mu.Lock()
	got := f.trial
	f.mu.Unlock()
	assert.Equal(t, "new@acme.example", got.GetEmail(), "trial e-mail")
	assert.Equal(t, "Acme Corp", got.GetCompany(), "trial company")
	assert.Equal(t, "Ada", got.GetName(), "trial name")
	assert.Equal(t, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", got.GetHub().GetCaPem(), "trial hub CA")

	// An address with an account: no trial, and the page says the hub
	// mailed it.
	form.Set("email", "known@acme.example")
	resp, body = c.post("/ui/hub/trial", form)
	require.Equal(t, http.StatusOK, resp.StatusCode, "existing account:\n%s", body)
	wantContains(t, body, `<p class="notice" role="status" id="hub-notice">known@acme.example already has an account at the hub, so no trial was started: the hub has e-mailed that address instead.`)

	// A refusal keeps the dialog open with what was typed.
	form.Set("email", "not-an-address")
	resp, body = c.post("/ui/hub/trial", form)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "refused trial")
	wantContains(t, body,
		`<div id="trial" class="modal open" role="dialog"`,
		`<p class="banner" role="alert" id="trial-problem">hub https://hub.example.com:7500: invalid_argument: not-an-address is not an e-mail address</p>`,
		`<input id="trial-email" name="email" type="email" value="not-an-address"`,
		`<input id="trial-company" name="company" type="text" value="Acme Corp"`,
	)
	form.Set("email", " ")
	resp, body = c.post("/ui/hub/trial", form)
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "no e-mail")
	wantContains(t, body, "Enter your e-mail address")
}

func TestHubCheckNow(t *testing.T) {
	e, c, f, _ := signedInWithHub(t)
	f.setStatus(activatedStatus())
	leading(e)
	page := mustGet(t, c, "/ui/hub")
	tok := csrfIn(t, page)
	resp, body := c.post("/ui/hub/check", url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusOK, resp.StatusCode, "check:\n%s", body)
	wantContains(t, body, `<p class="notice" role="status" id="hub-notice">Licenses checked with the hub: added LIC-2026-0103; removed revoked LIC-2026-0101.</p>`)
	f.mu.Lock()
	f.checkErr = errors.New("license check with https://hub.example.com:7500: unavailable: no route to host")
	f.mu.Unlock()
	resp, body = c.post("/ui/hub/check", url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "failed check")
	wantContains(t, body, `<p class="banner" role="alert" id="hub-problem">license check with https://hub.example.com:7500: unavailable: no route to host</p>`)
}
