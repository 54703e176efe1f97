package dashboard_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
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

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/dashboard"
)

// fakeUpdates is the site's updates as the dashboard reaches them: a
// download marks the release downloaded, an install starts a rollout, a
// roll back halts it.
type fakeUpdates struct {
	mu       sync.Mutex
	st       *licmeshv1.UpdateStatusResponse
	calls    []string
	settings []*licmeshv1.UpdateSettings
	bundles  []string // what each bundle upload read
}

func newFakeUpdates() *fakeUpdates {
	ms := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	return &fakeUpdates{st: &licmeshv1.UpdateStatusResponse{
		Settings: &licmeshv1.UpdateSettings{AutoDownload: true, AutoInstall: true, CheckEveryMs: 6 * 3600_000, Channel: "stable",
			Plan: &licmeshv1.RolloutPlan{Canary: 2, BatchSize: 5}},
		CheckedAtMs: ms(-time.Hour), Source: "hub", Trusted: true, Running: "0.3.1", Latest: "0.4.0",
		Releases: []*licmeshv1.SiteRelease{
			{Version: "0.3.1", Channel: "stable", ReleasedMs: ms(-30 * 24 * time.Hour), Covered: true, Downloaded: true},
			{Version: "0.4.0", Channel: "stable", ReleasedMs: ms(-2 * 24 * time.Hour), Covered: true,
				Notes: "Faster leases.\nA new Updates page.", Changelog: "- lease: batch renewals\n- dashboard: updates",
				DocUrl: "https://docs.example.com/0.4.0", VideoUrl: "https://video.example.com/0.4.0", Artifacts: []string{"meshd-linux-amd64"}},
			{Version: "0.3.9", Channel: "stable", ReleasedMs: ms(-5 * 24 * time.Hour), Covered: true, Withdrawn: true},
			{Version: "0.5.0-beta.1", Channel: "beta", ReleasedMs: ms(-24 * time.Hour), Covered: false},
		},
		Masters: []*licmeshv1.NodeVersion{
			{Id: "master-a", Version: "0.3.1", Leader: true, State: "alive"},
			{Id: "master-b", Version: "0.3.1", State: "alive"},
		},
		Collectors: []*licmeshv1.NodeVersion{
			{Id: "col-01", Version: "0.3.1", Hostname: "bpm-prod-1"},
			{Id: "col-02", Version: "0.3.0", Hostname: "bpm-prod-2"},
		},
	}}
}

func (f *fakeUpdates) release(v string) *licmeshv1.SiteRelease {
	for _, r := range f.st.Releases {
		if r.Version == v {
			return r
		}
	}
	return nil
}

func (f *fakeUpdates) edit(fn func(st *licmeshv1.UpdateStatusResponse)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.st)
}

func (f *fakeUpdates) record(call string) {
	f.calls = append(f.calls, call)
}

func (f *fakeUpdates) funcs() dashboard.UpdateFuncs {
	return dashboard.UpdateFuncs{
		Status: func(context.Context) (*licmeshv1.UpdateStatusResponse, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return proto.Clone(f.st).(*licmeshv1.UpdateStatusResponse), nil
		},
		Check: func(context.Context) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.record("check")
			f.st.CheckedAtMs = t0.UnixMilli()
			return nil
		},
		Download: func(_ context.Context, v string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.record("download " + v)
			r := f.release(v)
			if r == nil || r.Withdrawn {
				return errors.New("master: update: release " + v + " is not in the verified metadata (check first)")
			}
			r.Downloaded = true
			return nil
		},
		Install: func(_ context.Context, v string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.record("install " + v)
			f.st.Rollout = &licmeshv1.Rollout{Id: "ro-1", Version: v, Phase: "collectors", Wave: 1, StartedAtMs: t0.UnixMilli(), StartedBy: "adm-42",
				Collectors: []*licmeshv1.RolloutUnit{
					{Id: "col-01", Wave: 1, From: "0.3.1", State: "updated", AtMs: t0.UnixMilli()},
					{Id: "col-02", Wave: 1, From: "0.3.0", State: "failed", Detail: "health check timed out", AtMs: t0.UnixMilli()},
				},
				Masters: []*licmeshv1.RolloutUnit{{Id: "master-a", From: "0.3.1", State: "pending"}, {Id: "master-b", From: "0.3.1", State: "pending"}}}
			return nil
		},
		Rollback: func(context.Context) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.record("rollback")
			if f.st.Rollout == nil {
				return errors.New("master: update: there is no earlier release to go back to")
			}
			f.st.Rollout.Phase, f.st.Rollout.HaltReason = "halted", "rolled back by adm-42"
			return nil
		},
		SetSettings: func(_ context.Context, s *licmeshv1.UpdateSettings) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if s.CheckEveryMs < 60_000 {
				return errors.New("fsm: malformed command: update check interval: between 1 minute and 30 days")
			}
			f.settings = append(f.settings, s)
			f.st.Settings = proto.Clone(s).(*licmeshv1.UpdateSettings)
			return nil
		},
		UploadBundle: func(_ context.Context, r io.Reader) (string, error) {
			b, err := io.ReadAll(r)
			f.mu.Lock()
			defer f.mu.Unlock()
			f.bundles = append(f.bundles, string(b))
			if err != nil {
				return "", err
			}
			if !strings.HasPrefix(string(b), "BUNDLE") {
				return "", errors.New("master: bad request: release: targets: signatures below threshold")
			}
			f.release("0.4.0").Downloaded = true
			return "verified 4 releases, stored 1 artifacts", nil
		},
	}
}

// withUpdates serves f on the Updates page and lets the admin token do
// updates, as the master's admin and IT roles may; vera, a viewer, may
// not.
func withUpdates(f *fakeUpdates) func(*dashboard.Config) {
	return func(c *dashboard.Config) {
		c.Updates = f.funcs()
		c.Auth = func(ctx context.Context, cr dashboard.Credentials) (dashboard.Principal, error) {
			p, err := checkCreds(ctx, cr)
			if err == nil && p.Role == "admin" {
				p.Perms = append(p.Perms, dashboard.PermUpdates)
			}
			return p, err
		}
	}
}

// section is body from the element with id to the end of its table.
func section(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	require.GreaterOrEqual(t, i, 0, "no #%s in page:\n%s", id, body)
	j := strings.Index(body[i:], "</table>")
	if j < 0 {
		return body[i:]
	}
	return body[i : i+j]
}

// releaseRow is the releases table's row for version v.
func releaseRowOf(t *testing.T, body, v string) string {
	t.Helper()
	i := strings.Index(body, `data-version="`+v+`"`)
	require.GreaterOrEqual(t, i, 0, "no row for %s", v)
	j := strings.Index(body[i:], "</tr>")
	return body[i : i+j]
}

// TestUpdatesPage: every master's and collector's version with the leader
// marked; the releases newest first with their notes, links and state;
// Download where a release is only available, Install where it is
// downloaded, neither where it is withdrawn, not covered or running; the
// settings as saved; the bundle form.
func TestUpdatesPage(t *testing.T) {
	f := newFakeUpdates()
	e := newTestEnv(t, withUpdates(f))
	c := e.newClient()
	c.mustSignIn()
	_, home := c.get("/ui/")
	assert.Contains(t, home, `<a href="/ui/updates" id="updates-nav">Updates</a>`, "nav link")

	resp, body := c.get("/ui/updates")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	masters := section(t, body, "update-masters")
	assert.Regexp(t, `<tr class="leader">\s*<td class="mono">master-a <span class="badge">leader</span>`, masters)
	assert.Contains(t, masters, "master-b")
	collectors := section(t, body, "update-collectors")
	wantContains(t, collectors, "col-01", "bpm-prod-2", "0.3.0")
	assert.Contains(t, body, "Collectors by version: 0.3.0 (1), 0.3.1 (1).")
	wantContains(t, body, `<dd id="running" class="mono">0.3.1</dd>`, `<dd id="latest" class="mono">0.4.0</dd>`, `id="check-updates"`)

	rels := section(t, body, "releases")
	order := regexp.MustCompile(`data-version="([^"]+)"`).FindAllStringSubmatch(rels, -1)
	var versions []string
	for _, m := range order {
		versions = append(versions, m[1])
	}
	assert.Equal(t, []string{"0.5.0-beta.1", "0.4.0", "0.3.9", "0.3.1"}, versions, "newest first")

	r := releaseRowOf(t, body, "0.4.0")
	wantContains(t, r, `<span class="badge">latest</span>`, `data-state="available"`, `data-action="download"`,
		"Faster leases.\nA new Updates page.", "- lease: batch renewals", `href="https://docs.example.com/0.4.0"`, `href="https://video.example.com/0.4.0"`, "meshd-linux-amd64")
	assert.NotContains(t, r, `data-action="install"`)
	r = releaseRowOf(t, body, "0.3.9")
	assert.Contains(t, r, `data-state="withdrawn"`)
	assert.NotContains(t, r, "data-action")
	r = releaseRowOf(t, body, "0.5.0-beta.1")
	assert.Contains(t, r, `data-state="not covered by the licenses"`)
	assert.NotContains(t, r, "data-action")
	r = releaseRowOf(t, body, "0.3.1")
	assert.Contains(t, r, `data-state="running"`)
	assert.NotContains(t, r, "data-action")

	wantContains(t, body, `id="auto-download" checked>`, `id="auto-install" checked>`, `<option value="stable" selected>`,
		`id="check-every" value="6h"`, `id="save-settings"`, `enctype="multipart/form-data"`, `id="bundle-file"`)
	assert.NotContains(t, body, `id="rollback"`, "nothing to roll back")
	assert.Contains(t, body, `hx-trigger="every 10s"`, "polls slowly with no rollout")

	// A release downloaded meanwhile (the leader's auto-download) shows
	// Install at the next refresh.
	f.edit(func(st *licmeshv1.UpdateStatusResponse) { st.Releases[1].Downloaded = true })
	_, frag := c.getHTMX("/ui/fragments/updates")
	r = releaseRowOf(t, frag, "0.4.0")
	wantContains(t, r, `data-state="downloaded"`, `data-action="install"`)
	assert.NotContains(t, r, `data-action="download"`)
	assert.NotContains(t, frag, "<html", "a fragment, not a page")
}

// TestUpdatesReadOnly: a viewer sees where updates stand but no button,
// the settings disabled and no bundle form; their POSTs are refused.
func TestUpdatesReadOnly(t *testing.T) {
	f := newFakeUpdates()
	f.st.Releases[1].Downloaded = true
	e := newTestEnv(t, withUpdates(f))
	c := e.newClient()
	resp, body := c.get("/ui/login")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = c.post("/ui/login", url.Values{"csrf": {csrfIn(t, body)}, "user": {"vera"}, "password": {veraPassword}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	resp, body = c.get("/ui/updates")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	wantContains(t, body, `data-version="0.4.0"`, "master-a", `id="auto-install" checked disabled>`, "Only an administrator or IT may change this.")
	for _, no := range []string{"data-action", `id="check-updates"`, `id="save-settings"`, `id="bundle-form"`, `action="/ui/updates/`} {
		assert.NotContains(t, body, no)
	}
	csrf := csrfIn(t, body)
	for _, path := range []string{"check", "download", "install", "rollback", "settings", "bundle"} {
		resp, msg := c.post("/ui/updates/"+path, url.Values{"csrf": {csrf}, "version": {"0.4.0"}, "check_every": {"1h"}})
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s: %s", path, msg)
		assert.Contains(t, msg, "needs permission updates", path)
	}
	assert.Empty(t, f.calls, "a refused form reached the master")
	assert.Empty(t, f.settings)
}

// TestUpdatesDownloadInstallRollback: Download turns into Install once the
// release is downloaded; Install starts a rollout whose progress shows,
// polled every 2 s; Roll back halts it.
func TestUpdatesDownloadInstallRollback(t *testing.T) {
	f := newFakeUpdates()
	e := newTestEnv(t, withUpdates(f))
	c := e.newClient()
	c.mustSignIn()
	_, page := c.get("/ui/updates")
	csrf := csrfIn(t, page)

	resp, body := c.post("/ui/updates/check", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, "Checked the vendor&#39;s hub for releases.")

	resp, body = c.post("/ui/updates/download", url.Values{"csrf": {csrf}, "version": {"0.3.9"}})
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.Contains(t, body, `id="updates-problem">master: update: release 0.3.9 is not in the verified metadata (check first)</p>`)

	resp, body = c.post("/ui/updates/download", url.Values{"csrf": {csrf}, "version": {"0.4.0"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, "Release 0.4.0 is downloaded: install it when you are ready.")
	r := releaseRowOf(t, body, "0.4.0")
	wantContains(t, r, `data-state="downloaded"`, `data-action="install"`, `action="/ui/updates/install"`, `name="version" value="0.4.0"`)
	assert.NotContains(t, r, `data-action="download"`)

	resp, body = c.post("/ui/updates/install", url.Values{"csrf": {csrf}, "version": {"0.4.0"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	wantContains(t, body, "Installing release 0.4.0", `<h2 id="rollout">Rollout of 0.4.0</h2>`, "updating the collectors",
		`<dd id="rollout-wave" class="num">1</dd>`, `hx-trigger="every 2s"`, `id="rollback"`, ">Roll back</button>")
	assert.Contains(t, releaseRowOf(t, body, "0.4.0"), `data-state="installing"`)
	assert.NotContains(t, body, `data-action="install"`, "no install while a rollout runs")
	units := section(t, body, "rollout-collectors")
	assert.Less(t, strings.Index(units, "col-02"), strings.Index(units, "col-01"), "failures first")
	wantContains(t, units, "health check timed out", `class="unit-failed"`)
	wantContains(t, body, "1 failed, 1 updated", "2 pending")

	resp, body = c.post("/ui/updates/rollback", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	wantContains(t, body, "Rolling back", `<p class="hub-failing" id="halt-reason">Halted: rolled back by adm-42</p>`, `hx-trigger="every 10s"`)
	assert.Equal(t, []string{"check", "download 0.3.9", "download 0.4.0", "install 0.4.0", "rollback"}, f.calls)

	// After a finished rollout, Roll back goes to the release it started
	// from.
	f.edit(func(st *licmeshv1.UpdateStatusResponse) {
		st.Rollout.Phase, st.Rollout.HaltReason = "done", ""
		for _, m := range st.Rollout.Masters {
			m.State = "updated"
		}
	})
	_, body = c.get("/ui/updates")
	assert.Contains(t, body, ">Roll back to 0.3.1</button>")
}

// TestUpdatesSettings: the form saves the boxes, the channel and the
// interval, keeping the rollout plan; a refusal shows the form as posted.
func TestUpdatesSettings(t *testing.T) {
	f := newFakeUpdates()
	e := newTestEnv(t, withUpdates(f))
	c := e.newClient()
	c.mustSignIn()
	_, page := c.get("/ui/updates")
	csrf := csrfIn(t, page)

	resp, body := c.post("/ui/updates/settings", url.Values{"csrf": {csrf}, "auto_download": {"on"}, "channel": {"beta"}, "check_every": {"1d"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, "Update settings saved.")
	require.Len(t, f.settings, 1)
	got := f.settings[0]
	assert.True(t, got.AutoDownload)
	assert.False(t, got.AutoInstall)
	assert.Equal(t, "beta", got.Channel)
	assert.Equal(t, int64(24*3600_000), got.CheckEveryMs)
	assert.Equal(t, int32(2), got.GetPlan().GetCanary(), "the plan is kept")
	wantContains(t, body, `id="auto-download" checked>`, `id="auto-install">`, `<option value="beta" selected>`, `id="check-every" value="24h"`)

	resp, body = c.post("/ui/updates/settings", url.Values{"csrf": {csrf}, "auto_install": {"on"}, "channel": {"stable"}, "check_every": {"30s"}})
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	wantContains(t, body, "update check interval: between 1 minute and 30 days", `id="auto-install" checked>`, `id="check-every" value="30s"`)
	resp, body = c.post("/ui/updates/settings", url.Values{"csrf": {csrf}, "check_every": {"often"}})
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.Contains(t, body, "check interval &#34;often&#34;: write it like 6h, 30m or 1d")
	assert.Len(t, f.settings, 1)

	resp, _ = c.post("/ui/updates/settings", url.Values{"csrf": {"forged"}, "check_every": {"1h"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "without the CSRF token")
}

// postBundle posts a bundle as the page's form does, its parts in order.
func (c *client) postBundle(parts ...[2]string) (*http.Response, string) {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		if p[0] == "bundle" {
			w, err := mw.CreateFormFile("bundle", "licmesh-0.4.0.bundle")
			require.NoError(c.t, err)
			w.Write([]byte(p[1]))
			continue
		}
		require.NoError(c.t, mw.WriteField(p[0], p[1]))
	}
	require.NoError(c.t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, c.e.srv.URL+"/ui/updates/bundle", &buf)
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// TestUpdatesBundleUpload: the file streams to UploadBundle and the page
// says what it brought, or why it was refused; the CSRF token must come
// first.
func TestUpdatesBundleUpload(t *testing.T) {
	f := newFakeUpdates()
	e := newTestEnv(t, withUpdates(f))
	c := e.newClient()
	c.mustSignIn()
	_, page := c.get("/ui/updates")
	csrf := csrfIn(t, page)

	resp, body := c.postBundle([2]string{"csrf", csrf}, [2]string{"bundle", "BUNDLE tar bytes"})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, `id="updates-notice">The bundle licmesh-0.4.0.bundle is verified and imported: verified 4 releases, stored 1 artifacts.</p>`)
	assert.Contains(t, releaseRowOf(t, body, "0.4.0"), `data-action="install"`)

	resp, body = c.postBundle([2]string{"csrf", csrf}, [2]string{"bundle", "tampered"})
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.Contains(t, body, "The bundle licmesh-0.4.0.bundle was refused: master: bad request: release: targets: signatures below threshold")

	resp, body = c.postBundle([2]string{"csrf", csrf})
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.Contains(t, body, "Choose the offline bundle to upload.")

	resp, _ = c.postBundle([2]string{"bundle", "BUNDLE"}, [2]string{"csrf", csrf})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "the file before the token")
	resp, _ = c.postBundle([2]string{"csrf", "forged"}, [2]string{"bundle", "BUNDLE"})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a forged token")
	assert.Equal(t, []string{"BUNDLE tar bytes", "tampered"}, f.bundles, "what reached the master")
}

// TestUpdatesPageOff: without UpdateFuncs.Status there is no page, link
// or form.
func TestUpdatesPageOff(t *testing.T) {
	e := newTestEnv(t)
	c := e.newClient()
	c.mustSignIn()
	_, home := c.get("/ui/")
	assert.NotContains(t, home, "updates-nav")
	resp, _ := c.get("/ui/updates")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}
