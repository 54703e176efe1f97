package hub

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/licensing/release"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/hub/store"
)

// upload publishes through the HTTP upload as apiKey would, and returns
// the status and the body.
func (w *upWorld) upload(t *testing.T, apiKey string, fields map[string]string, files map[string][]byte) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		require.NoError(t, mw.WriteField(k, v))
	}
	for name, data := range files {
		fw, err := mw.CreateFormFile("artifact", name)
		require.NoError(t, err)
		_, err = fw.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, w.url+"/v1/releases", &body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	res, err := w.httpClient(t).Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

// download fetches an artifact with a site's proof or an API key.
func (w *upWorld) download(t *testing.T, name string, set func(*http.Request)) (int, []byte) {
	t.Helper()
	path := "/v1/releases/artifacts/" + name
	if b, ok := strings.CutPrefix(name, "bundle:"); ok {
		path = "/v1/releases/bundle/" + b
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, w.url+path, nil)
	require.NoError(t, err)
	set(req)
	res, err := w.httpClient(t).Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, b
}

func (w *upWorld) releases(t *testing.T, account string) licmeshv1connect.ReleaseServiceClient {
	return licmeshv1connect.NewReleaseServiceClient(w.httpClient(t), w.url, connect.WithInterceptors(header("Authorization", "Bearer "+w.keys[account])))
}

// TestReleasesPublishVerifyDownload publishes through the upload, checks
// what the repository signed with the sites' own verifier, and who may
// download what: staff anything, a site or a customer what its licenses'
// updates cover, a withdrawn release nobody.
func TestReleasesPublishVerifyDownload(t *testing.T) {
	w := newUpWorld(t)
	meshd, collectord := []byte("meshd v1.0.0 binary"), []byte("collectord v1.0.0 binary")
	fields := map[string]string{"version": "1.0.0", "notes": "First release.", "changelog": "- everything", "doc_url": "https://docs.example.com/1.0"}
	files := map[string][]byte{"meshd-linux-amd64": meshd, "collectord-linux-amd64": collectord}

	t.Run("refused uploads change nothing", func(t *testing.T) {
		for _, tc := range []struct {
			name, key string
			fields    map[string]string
			files     map[string][]byte
			status    int
			msg       string
		}{
			{"sales may not publish", w.keys["sales"], fields, files, http.StatusForbidden, ""},
			{"no key", "", fields, files, http.StatusUnauthorized, ""},
			{"bad artifact name", w.keys["release"], fields, map[string][]byte{"meshd.exe": meshd}, http.StatusBadRequest, "meshd.exe"},
			{"no artifact", w.keys["release"], fields, nil, http.StatusBadRequest, "at least one artifact"},
			{"bad version", w.keys["release"], map[string]string{"version": "one"}, files, http.StatusBadRequest, "one"},
			{"bad channel", w.keys["release"], map[string]string{"version": "1.0.0", "channel": "nightly"}, files, http.StatusBadRequest, "nightly"},
			{"unknown field", w.keys["release"], map[string]string{"version": "1.0.0", "colour": "red"}, files, http.StatusBadRequest, "colour"},
			{"unknown list", w.keys["release"], map[string]string{"version": "1.0.0", "notify": "friends"}, files, http.StatusBadRequest, "friends"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st, body := w.upload(t, tc.key, tc.fields, tc.files)
				assert.Equal(t, tc.status, st, body)
				assert.Contains(t, body, tc.msg)
			})
		}
		r, err := w.releases(t, "release").ListReleases(t.Context(), connect.NewRequest(&licmeshv1.ListReleasesRequest{WithRemoved: true}))
		require.NoError(t, err)
		assert.Empty(t, r.Msg.GetReleases())
		left, err := filepath.Glob(filepath.Join(w.s.releaseDir(), "*"))
		require.NoError(t, err)
		assert.Empty(t, left, "a refused upload leaves no file")
	})

	st, body := w.upload(t, w.keys["release"], fields, files)
	require.Equal(t, http.StatusCreated, st, body)
	st, body = w.upload(t, w.keys["release"], fields, files)
	assert.Equal(t, http.StatusBadRequest, st, "the same version twice")
	assert.Contains(t, body, "1.0.0")

	site := newFakeSite(t, "lm-acme-prod")
	w.activate(t, "acme", site, w.acme)
	siteReleases := func(t *testing.T, rootVersion int64) *licmeshv1.SiteReleasesResponse {
		t.Helper()
		r, err := w.upstreamClient(t, "").SiteReleases(t.Context(), connect.NewRequest(&licmeshv1.SiteReleasesRequest{
			Proof: site.proof(t, purposeReleases, w.clk.Now()), RootVersion: rootVersion}))
		require.NoError(t, err)
		return r.Msg
	}
	md := siteReleases(t, 0)
	require.NotEmpty(t, md.GetRoots())
	trust, err := release.TrustFromRoot(md.GetRoots()[0])
	require.NoError(t, err)
	trust, verified, err := release.Verify(trust, release.Metadata{Roots: md.GetRoots(), Timestamp: md.GetTimestamp(), Snapshot: md.GetSnapshot(), Targets: md.GetTargets()}, w.clk.Now())
	require.NoError(t, err)
	art, ok := verified.Artifact("1.0.0", release.ComponentCollectord, "linux", "amd64")
	require.True(t, ok, "the signed targets list the collector")
	require.Len(t, md.GetNotes(), 1)
	assert.Equal(t, "First release.", md.GetNotes()[0].GetNotes())

	withProof := func(purpose string) func(*http.Request) {
		return func(r *http.Request) {
			r.Header.Set(ProofHeader, base64.StdEncoding.EncodeToString(site.proof(t, purpose, w.clk.Now())))
		}
	}
	withKey := func(account string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+w.keys[account]) }
	}
	st, got := w.download(t, art.Name, withProof(purposeDownload))
	require.Equal(t, http.StatusOK, st, string(got))
	require.NoError(t, release.VerifyArtifact(art, bytes.NewReader(got)), "the site verifies what it downloaded")
	st, bundle := w.download(t, "bundle:1.0.0", withKey("acme"))
	require.Equal(t, http.StatusOK, st, string(bundle))
	bmd, bfiles, err := release.ReadBundle(bytes.NewReader(bundle), t.TempDir())
	require.NoError(t, err)
	_, bv, err := release.Verify(trust, bmd, w.clk.Now())
	require.NoError(t, err, "the offline bundle verifies like the online metadata")
	_, ok = bv.Find("1.0.0")
	assert.True(t, ok)
	assert.Len(t, bfiles, 2, "both artifacts of 1.0.0 travel in the bundle")
	st, _ = w.download(t, art.Name, withProof(purposeReleases))
	assert.Equal(t, http.StatusBadRequest, st, "a proof for another purpose")
	st, _ = w.download(t, art.Name, withKey("acme"))
	assert.Equal(t, http.StatusOK, st, "a customer with a current license")
	st, _ = w.download(t, art.Name, func(*http.Request) {})
	assert.Equal(t, http.StatusUnauthorized, st, "nobody")
	st, _ = w.download(t, "1.0.0/meshd-linux-arm64", withKey("lm"))
	assert.Equal(t, http.StatusNotFound, st)

	// A release after the licenses' updates end: seen, not taken.
	w.clk.Advance(400 * 24 * time.Hour)
	require.NoError(t, w.s.refreshReleases(t.Context()), "the release loop's work, a year on: the root is renewed too")
	st, body = w.upload(t, w.keys["release"], map[string]string{"version": "1.1.0"}, map[string][]byte{"collectord-linux-amd64": []byte("v1.1.0")})
	require.Equal(t, http.StatusCreated, st, body)
	list, err := w.releases(t, "acme").ListReleases(t.Context(), connect.NewRequest(&licmeshv1.ListReleasesRequest{}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetReleases(), 2)
	assert.Equal(t, "1.1.0", list.Msg.GetReleases()[0].GetVersion())
	assert.False(t, list.Msg.GetReleases()[0].GetDownloadable(), "1.1.0 came out after acme's updates ended")
	assert.True(t, list.Msg.GetReleases()[1].GetDownloadable())
	st, body3 := w.download(t, "1.1.0/collectord-linux-amd64", withKey("acme"))
	assert.Equal(t, http.StatusForbidden, st)
	assert.Contains(t, string(body3), "after your licenses' updates ended")
	st, _ = w.download(t, "1.1.0/collectord-linux-amd64", withProof(purposeDownload))
	assert.Equal(t, http.StatusForbidden, st, "the site is held to the same date")
	st, _ = w.download(t, "1.1.0/collectord-linux-amd64", withKey("release"))
	assert.Equal(t, http.StatusOK, st, "staff take anything")

	// Withdrawal is signed: the site's verifier says so.
	_, err = w.releases(t, "sales").WithdrawRelease(t.Context(), connect.NewRequest(&licmeshv1.WithdrawReleaseRequest{Version: "1.0.0", Reason: "bad"}))
	assert.Equal(t, connect.CodePermissionDenied, code(t, err))
	_, err = w.releases(t, "release").WithdrawRelease(t.Context(), connect.NewRequest(&licmeshv1.WithdrawReleaseRequest{Version: "1.0.0"}))
	assert.Equal(t, connect.CodeInvalidArgument, code(t, err), "a withdrawal says why")
	_, err = w.releases(t, "release").WithdrawRelease(t.Context(), connect.NewRequest(&licmeshv1.WithdrawReleaseRequest{Version: "1.0.0", Reason: "corrupts the spool"}))
	require.NoError(t, err)
	md = siteReleases(t, 1)
	_, verified, err = release.Verify(trust, release.Metadata{Roots: md.GetRoots(), Timestamp: md.GetTimestamp(), Snapshot: md.GetSnapshot(), Targets: md.GetTargets()}, w.clk.Now())
	require.NoError(t, err)
	r10, ok := verified.Find("1.0.0")
	require.True(t, ok)
	assert.True(t, r10.Withdrawn)
	st, body4 := w.download(t, art.Name, withProof(purposeDownload))
	assert.Equal(t, http.StatusForbidden, st)
	assert.Contains(t, string(body4), "corrupts the spool")

	// Notes are editable after release; the channel is signed.
	up, err := w.releases(t, "release").UpdateRelease(t.Context(), connect.NewRequest(&licmeshv1.UpdateReleaseRequest{Version: "1.1.0",
		Notes: ptr("Faster."), Channel: ptr("beta")}))
	require.NoError(t, err)
	assert.Equal(t, "Faster.", up.Msg.GetRelease().GetNotes())
	md = siteReleases(t, 1)
	_, verified, err = release.Verify(trust, release.Metadata{Roots: md.GetRoots(), Timestamp: md.GetTimestamp(), Snapshot: md.GetSnapshot(), Targets: md.GetTargets()}, w.clk.Now())
	require.NoError(t, err)
	r11, _ := verified.Find("1.1.0")
	assert.Equal(t, release.ChannelBeta, r11.Channel)
	_, err = w.releases(t, "release").UpdateRelease(t.Context(), connect.NewRequest(&licmeshv1.UpdateReleaseRequest{Version: "1.1.0", DocUrl: ptr("ftp://x")}))
	assert.Equal(t, connect.CodeInvalidArgument, code(t, err))
}

func ptr[T any](v T) *T { return &v }

// TestReleaseTimestampRefreshAndRetention: the hub keeps the one-day
// timestamp fresh so a site can verify on any day, and drops releases
// older than release_retention, except the newest of a channel.
func TestReleaseTimestampRefreshAndRetention(t *testing.T) {
	w := newUpWorld(t, func(c *Config) { c.ReleaseRetention = 30 * 24 * time.Hour })
	for i, v := range []string{"1.0.0", "1.1.0"} {
		st, body := w.upload(t, w.keys["release"], map[string]string{"version": v}, map[string][]byte{"collectord-linux-amd64": []byte(fmt.Sprint("build ", i))})
		require.Equal(t, http.StatusCreated, st, body)
	}
	site := newFakeSite(t, "lm-acme-prod")
	w.activate(t, "acme", site, w.acme)
	w.clk.Advance(40 * 24 * time.Hour)
	verify := func() (*release.Verified, error) {
		r, err := w.upstreamClient(t, "").SiteReleases(t.Context(), connect.NewRequest(&licmeshv1.SiteReleasesRequest{Proof: site.proof(t, purposeReleases, w.clk.Now())}))
		require.NoError(t, err)
		md := r.Msg
		trust, err := release.TrustFromRoot(md.GetRoots()[0])
		require.NoError(t, err)
		_, v, err := release.Verify(trust, release.Metadata{Roots: md.GetRoots(), Timestamp: md.GetTimestamp(), Snapshot: md.GetSnapshot(), Targets: md.GetTargets()}, w.clk.Now())
		return v, err
	}
	_, err := verify()
	require.ErrorIs(t, err, release.ErrExpired, "40 days on, nothing refreshed the timestamp")
	require.NoError(t, w.s.refreshReleases(t.Context()))
	v, err := verify()
	require.NoError(t, err, "refreshed")
	_, ok := v.Find("1.0.0")
	assert.False(t, ok, "1.0.0 is past retention")
	_, ok = v.Find("1.1.0")
	assert.True(t, ok, "the newest of its channel stays")
	r, err := w.releases(t, "release").ListReleases(t.Context(), connect.NewRequest(&licmeshv1.ListReleasesRequest{WithRemoved: true}))
	require.NoError(t, err)
	require.Len(t, r.Msg.GetReleases(), 2)
	assert.NotZero(t, r.Msg.GetReleases()[1].GetRemovedAtMs())
	files, _ := os.ReadDir(w.s.releaseDir())
	assert.Len(t, files, 1, "the removed release's file is gone")
}

// TestReleaseKeyRotation: the hub rotates its release keys; a site that
// trusts the first root follows the chain, and what the new keys sign
// verifies there.
func TestReleaseKeyRotation(t *testing.T) {
	w := newUpWorld(t)
	st, body := w.upload(t, w.keys["release"], map[string]string{"version": "1.0.0"}, map[string][]byte{"collectord-linux-amd64": []byte("one")})
	require.Equal(t, http.StatusCreated, st, body)
	site := newFakeSite(t, "lm-acme-prod")
	w.activate(t, "acme", site, w.acme)
	fetch := func(rootVersion int64) release.Metadata {
		r, err := w.upstreamClient(t, "").SiteReleases(t.Context(), connect.NewRequest(&licmeshv1.SiteReleasesRequest{
			Proof: site.proof(t, purposeReleases, w.clk.Now()), RootVersion: rootVersion}))
		require.NoError(t, err)
		m := r.Msg
		return release.Metadata{Roots: m.GetRoots(), Timestamp: m.GetTimestamp(), Snapshot: m.GetSnapshot(), Targets: m.GetTargets()}
	}
	md := fetch(0)
	trust, err := release.TrustFromRoot(md.Roots[0])
	require.NoError(t, err)
	trust, _, err = release.Verify(trust, md, w.clk.Now())
	require.NoError(t, err)

	v, err := w.s.RotateReleaseKeys(t.Context(), "test")
	require.NoError(t, err)
	assert.Equal(t, 2, v)
	st, body = w.upload(t, w.keys["release"], map[string]string{"version": "1.1.0"}, map[string][]byte{"collectord-linux-amd64": []byte("two")})
	require.Equal(t, http.StatusCreated, st, body, "the new keys sign")
	md = fetch(release.RootVersion(trust))
	require.Len(t, md.Roots, 1, "the site is sent the roots after its own")
	trust, verified, err := release.Verify(trust, md, w.clk.Now())
	require.NoError(t, err)
	assert.Equal(t, int64(2), release.RootVersion(trust))
	_, ok := verified.Find("1.1.0")
	assert.True(t, ok)
}

// TestReleaseAnnouncementGoesToGlobalByDefault: a hub that sends mail
// announces a release to the global list (every customer account) unless
// the publisher says otherwise, from the template chosen.
func TestReleaseAnnouncementGoesToGlobalByDefault(t *testing.T) {
	srv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, srv.Addr)
	w := &upWorld{testHub: h, keys: map[string]string{}}
	co, err := h.admin.CreateCompany(t.Context(), connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "acme", Email: "it@acme.example"}))
	require.NoError(t, err)
	h.apiKey(t, store.RoleCustomer, "jane@acme.example", co.Msg.GetCompany().GetId(), "")
	w.keys["release"] = h.apiKey(t, store.RoleReleaseManager, "rm@vendor.example", "", "")
	art := map[string][]byte{"collectord-linux-amd64": []byte("build")}

	st, body := w.upload(t, w.keys["release"], map[string]string{"version": "1.0.0", "changelog": "- faster seats"}, art)
	require.Equal(t, http.StatusCreated, st, body)
	st, body = w.upload(t, w.keys["release"], map[string]string{"version": "1.1.0", "notify": "none"}, art)
	require.Equal(t, http.StatusCreated, st, body)
	st, body = w.upload(t, w.keys["release"], map[string]string{"version": "1.2.0", "notify": "global", "template": "release_urgent"}, art)
	require.Equal(t, http.StatusCreated, st, body)

	mails := srv.wait(t, 2)
	require.Len(t, mails, 2, "1.1.0 said none")
	bySubject := map[string]parsedMail{}
	for _, m := range mails {
		assert.Equal(t, []string{"jane@acme.example"}, m.Envelope.To, "the global list is every customer account")
		bySubject[m.Subject] = m
	}
	first, ok := bySubject["[licmesh] version 1.0.0 is out"]
	require.True(t, ok, "subjects: %v", bySubject)
	assert.Contains(t, first.Text, "- faster seats")
	_, ok = bySubject["[licmesh] please update to 1.2.0"]
	assert.True(t, ok, "the urgent template: %v", bySubject)
}
