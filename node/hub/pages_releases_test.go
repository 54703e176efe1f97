package hub

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// publish sends the releases page's publish form as its script does: a
// multipart upload to POST /v1/releases, with the session's cookie and its
// CSRF token in the X-CSRF-Token header. It returns the status and body.
func (u *webUser) publish(fields map[string]string, files map[string][]byte) (int, string) {
	u.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		require.NoError(u.t, mw.WriteField(k, v))
	}
	for name, data := range files {
		fw, err := mw.CreateFormFile("artifact", name)
		require.NoError(u.t, err)
		_, err = fw.Write(data)
		require.NoError(u.t, err)
	}
	require.NoError(u.t, mw.Close())
	req, err := http.NewRequestWithContext(u.t.Context(), http.MethodPost, u.h.url+"/v1/releases", &body)
	require.NoError(u.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set(csrfHeader, u.csrf)
	resp, err := u.hc.Do(req)
	require.NoError(u.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(u.t, err)
	return resp.StatusCode, string(b)
}

// releaseArticle is the part of the releases page about version.
func releaseArticle(t *testing.T, page, version string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<article [^>]*data-version="` + regexp.QuoteMeta(version) + `".*?</article>`).FindString(page)
	require.NotEmpty(t, m, "the page lists %s", version)
	return m
}

// storedReleases is the catalogue, withdrawn and removed ones included.
func storedReleases(t *testing.T, h *testHub) []store.Release {
	t.Helper()
	var rs []store.Release
	require.NoError(t, h.s.store.Read(t.Context(), func(tx *store.Tx) (err error) {
		rs, err = tx.ListReleases(t.Context(), true)
		return err
	}))
	return rs
}

// TestReleasesPageByRole: a customer reads every available release and
// gets download links for just those its licenses' updates cover (the
// others say when its updates ended), and the links work with its
// session; staff see withdrawn releases with their reason; sales sees no
// publish, edit or withdraw form, and its posts are refused.
func TestReleasesPageByRole(t *testing.T) {
	w := newPageWorld(t)
	rm := w.as["release_manager"]
	meshd := []byte("meshd 1.0.0")
	for _, v := range []string{"0.9.0", "1.0.0"} {
		st, body := rm.publish(map[string]string{"version": v, "notes": "Release " + v + ".", "changelog": "- fixed <everything> in " + v,
			"doc_url": "https://docs.example.com/" + v, "video_url": "https://video.example.com/" + v},
			map[string][]byte{"meshd-linux-amd64": meshd, "collectord-linux-arm64": []byte("collectord " + v)})
		require.Equal(t, http.StatusCreated, st, body)
	}
	rm.follow("/ui/releases/0.9.0/withdraw", url.Values{"reason": {"loses the spool"}})
	// acme's trial (the customer's only license) ended after 14 days.
	w.clk.Advance(30 * 24 * time.Hour)
	for role, email := range map[string]string{"release_manager": "rm@vendor.example", "customer": "page@acme.example",
		"sales": "sales-page@vendor.example", "reseller": "page@one.example"} {
		w.as[role] = w.webAs(t, email, w.password[email]) // the sessions ended meanwhile
	}
	rm = w.as["release_manager"]
	st, body := rm.publish(map[string]string{"version": "1.1.0", "changelog": "- faster"}, map[string][]byte{"meshd-linux-amd64": []byte("meshd 1.1.0")})
	require.Equal(t, http.StatusCreated, st, body)
	ended := time.UnixMilli(0).UTC() // the trial's end, from the store
	require.NoError(t, w.s.store.Read(t.Context(), func(tx *store.Tx) error {
		ls, err := tx.ListLicenses(t.Context(), store.LicenseFilter{Company: store.CompanyID(w.co1), Current: true})
		ended = updatesUntil(ls, w.clk.Now())
		return err
	}))

	cust := w.as["customer"]
	status, page := cust.get("/ui/releases")
	require.Equal(t, http.StatusOK, status, alert(page))
	assert.Contains(t, page, `href="/ui/releases" aria-current="page">Updates</a>`, "the portal's navigation leads here")
	assert.NotContains(t, page, "0.9.0", "a customer does not see a withdrawn release")
	assert.NotContains(t, page, "publish-form")
	assert.NotContains(t, page, "/withdraw")
	assert.Less(t, strings.Index(page, `data-version="1.1.0"`), strings.Index(page, `data-version="1.0.0"`), "newest first")
	r10 := releaseArticle(t, page, "1.0.0")
	for _, want := range []string{"Release 1.0.0.", "- fixed &lt;everything&gt; in 1.0.0", `href="https://docs.example.com/1.0.0"`, `href="https://video.example.com/1.0.0"`,
		`href="/v1/releases/artifacts/1.0.0/meshd-linux-amd64"`, `href="/v1/releases/artifacts/1.0.0/collectord-linux-arm64"`, `href="/v1/releases/bundle/1.0.0"`} {
		assert.Contains(t, r10, want)
	}
	assert.Contains(t, r10, `<pre class="changelog mono">`, "the changelog keeps its lines")
	r11 := releaseArticle(t, page, "1.1.0")
	assert.Contains(t, r11, "- faster")
	assert.Contains(t, r11, "Your updates ended on "+ended.Format(time.DateOnly)+": renew to take this release.")
	assert.NotContains(t, r11, "/v1/releases/", "no download link for a release the licenses do not cover")

	resp, got := cust.send(http.MethodGet, "/v1/releases/artifacts/1.0.0/meshd-linux-amd64", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, got)
	assert.Equal(t, string(meshd), got, "the page's link downloads with the browser's session")
	resp, _ = cust.send(http.MethodGet, "/v1/releases/bundle/1.0.0", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = cust.send(http.MethodGet, "/v1/releases/artifacts/1.1.0/meshd-linux-amd64", nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	sales := w.as["sales"]
	status, page = sales.get("/ui/releases")
	require.Equal(t, http.StatusOK, status, alert(page))
	r09 := releaseArticle(t, page, "0.9.0")
	assert.Contains(t, r09, "loses the spool", "staff see why a release was withdrawn")
	assert.Contains(t, r09, `data-state="withdrawn"`)
	assert.Contains(t, releaseArticle(t, page, "1.1.0"), `href="/v1/releases/artifacts/1.1.0/meshd-linux-amd64"`, "staff take any release")
	for _, form := range []string{"publish-form", "/edit", "/withdraw", "releases.js"} {
		assert.NotContains(t, page, form, "sales sees no %s", form)
	}
	st, body = sales.publish(map[string]string{"version": "2.0.0"}, map[string][]byte{"meshd-linux-amd64": meshd})
	assert.Equal(t, http.StatusForbidden, st, body)
	resp, page = sales.post("/ui/releases/1.0.0/withdraw", url.Values{"reason": {"because"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, alert(page), "may not")
	resp, _ = sales.post("/ui/releases/1.0.0/edit", url.Values{"channel": {"beta"}, "notes": {"sales was here"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, _ = cust.post("/ui/releases/1.0.0/withdraw", url.Values{"reason": {"because"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	rs := storedReleases(t, w.testHub)
	require.Len(t, rs, 3, "nothing published by sales")
	for _, r := range rs {
		if r.Version == "1.0.0" {
			assert.Equal(t, "Release 1.0.0.", r.Notes)
			assert.True(t, r.WithdrawnAt.IsZero())
		}
	}

	status, page = w.as["reseller"].get("/ui/releases")
	assert.Equal(t, http.StatusOK, status, "a reseller may read the releases, as ListReleases allows")
	assert.NotContains(t, page, "/v1/releases/artifacts/", "but downloads are for customers and staff")
	resp, _ = w.web(t).send(http.MethodGet, "/ui/releases", nil)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/ui/login?next=%2Fui%2Freleases", resp.Header.Get("Location"))
}

// TestReleasesPagePublishEditWithdraw: a release manager's page has the
// publish form, wired to the upload with the session's CSRF token; a
// refused upload, edit or withdrawal says why and changes nothing; an
// accepted one is listed, and the audit names the person.
func TestReleasesPagePublishEditWithdraw(t *testing.T) {
	w := newPageWorld(t)
	rm := w.as["release_manager"]
	status, page := rm.get("/ui/releases")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, page, `<form id="publish-form" method="post" action="/v1/releases" enctype="multipart/form-data" data-csrf="`+rm.csrf+`"`)
	assert.Contains(t, page, `<option>release_urgent</option>`, "the announcement's templates")
	assert.Regexp(t, `<script src="/ui/static/releases.js\?v=[0-9a-f]+" defer></script>`, page)
	assert.Contains(t, page, `id="no-releases"`)

	files := map[string][]byte{"meshd-linux-amd64": []byte("meshd 1.2.0")}
	st, body := rm.publish(map[string]string{"version": "one", "notes": "x"}, files)
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Contains(t, body, `\"one\"`, "the refusal names the bad version")
	st, body = rm.publish(map[string]string{"version": "1.2.0"}, map[string][]byte{"meshd.exe": []byte("x")})
	assert.Equal(t, http.StatusBadRequest, st)
	assert.Contains(t, body, "meshd-linux-amd64", "the refusal says how to name an artifact")
	assert.Empty(t, storedReleases(t, w.testHub), "a refused upload publishes nothing")
	// Without the header, the token in the form is not enough: a session
	// must not publish by a cross-site form.
	rm2 := *rm
	rm2.csrf = ""
	st, _ = rm2.publish(map[string]string{"version": "1.2.0"}, files)
	assert.Equal(t, http.StatusForbidden, st)

	st, body = rm.publish(map[string]string{"version": "v1.2.0", "channel": "beta", "notes": "Faster sync.\n\nNew collector.", "changelog": "- sync\n- collector"}, files)
	require.Equal(t, http.StatusCreated, st, body)
	_, page = rm.get("/ui/releases?published=1.2.0")
	assert.Equal(t, "Release 1.2.0 published.", flashText.FindStringSubmatch(page)[1])
	art := releaseArticle(t, page, "1.2.0")
	assert.Contains(t, art, "<p class=\"notes\">Faster sync.</p>\n  <p class=\"notes\">New collector.</p>", "a paragraph per blank line")
	assert.Contains(t, art, "beta")
	assert.Contains(t, art, "by rm@vendor.example")
	_, page = rm.get("/ui/releases?published=9.9.9")
	assert.Nil(t, flashText.FindStringSubmatch(page), "no notice for a release that is not there")

	resp, page := rm.post("/ui/releases/1.2.0/edit", url.Values{"channel": {"stable"}, "notes": {"Faster."}, "changelog": {"- sync\r\n- collector"},
		"doc_url": {"ftp://docs.example.com"}, "video_url": {""}})
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, alert(page), "ftp://docs.example.com")
	art = releaseArticle(t, page, "1.2.0")
	assert.Contains(t, art, `<details class="panel edit" open>`, "the form that was refused is open")
	assert.Contains(t, art, `name="doc_url" value="ftp://docs.example.com" placeholder="https://" aria-invalid="true"`, "with what was typed, marked")
	rs := storedReleases(t, w.testHub)
	require.Len(t, rs, 1)
	assert.Equal(t, "beta", rs[0].Channel, "a refused edit changes nothing")
	assert.Equal(t, "Faster sync.\n\nNew collector.", rs[0].Notes)

	to, page := rm.follow("/ui/releases/1.2.0/edit", url.Values{"channel": {"stable"}, "notes": {"Faster."}, "changelog": {"- sync\r\n- collector"},
		"doc_url": {"https://docs.example.com/1.2"}, "video_url": {""}})
	assert.Equal(t, "/ui/releases", to)
	assert.Equal(t, "Release 1.2.0: channel, notes, documentation link changed.", flashText.FindStringSubmatch(page)[1], "CRLF from the browser is not a change")
	rs = storedReleases(t, w.testHub)
	assert.Equal(t, "stable", rs[0].Channel)
	assert.Equal(t, "Faster.", rs[0].Notes)
	assert.Equal(t, "- sync\n- collector", rs[0].Changelog)
	assert.Equal(t, "https://docs.example.com/1.2", rs[0].DocURL)

	resp, page = rm.post("/ui/releases/1.2.0/withdraw", url.Values{"reason": {"  "}})
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, alert(page), "say why")
	assert.Contains(t, releaseArticle(t, page, "1.2.0"), `<details class="panel danger-zone withdraw" open>`)
	resp, _ = rm.post("/ui/releases/9.9.9/withdraw", url.Values{"reason": {"x"}})
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	_, page = rm.follow("/ui/releases/1.2.0/withdraw", url.Values{"reason": {"corrupts the spool"}})
	art = releaseArticle(t, page, "1.2.0")
	assert.Contains(t, art, "Withdrawn on")
	assert.Contains(t, art, "corrupts the spool")
	assert.NotContains(t, art, "/withdraw\"", "a withdrawn release is not withdrawn again")

	audit, err := w.admin.ListAudit(t.Context(), connect.NewRequest(&licmeshv1.ListAuditRequest{Limit: 100}))
	require.NoError(t, err)
	var actions []string
	for _, e := range audit.Msg.GetEntries() {
		if e.GetActor() == "rm@vendor.example" {
			actions = append(actions, e.GetAction())
		}
	}
	assert.ElementsMatch(t, []string{"release.publish", "release.update", "release.withdraw"}, actions)
}
