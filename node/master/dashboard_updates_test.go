package master

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/node/dashboard"
	"github.com/licmesh/licmesh/node/fsm"
)

// postBundle posts a file on the Updates page's bundle form.
func (b *dashBrowser) postBundle(csrf string, content []byte) (int, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(b.t, mw.WriteField("csrf", csrf))
	w, err := mw.CreateFormFile("bundle", "site.bundle")
	require.NoError(b.t, err)
	w.Write(content)
	require.NoError(b.t, mw.Close())
	resp, err := b.hc.Post(b.srv.URL+"/ui/updates/bundle", mw.FormDataContentType(), &buf)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestDashboardUpdates: IT sees the Updates page with its buttons, saves
// the settings into the cluster's state and has a bad bundle refused with
// the verification error, both audited as the dashboard's (the page's
// reads are not); a viewer sees
// the page read-only, and a bundle reaching the master in a viewer's name
// is refused and audited.
func TestDashboardUpdates(t *testing.T) {
	s, _ := startMaster(t)
	srv := apiServer(t, s)
	userWithToken(t, s, "ivy", fsm.RoleIT)
	userWithToken(t, s, "vic", fsm.RoleViewer)

	b := newDashBrowser(t, srv)
	require.Equal(t, http.StatusSeeOther, b.signIn("ivy", "ivy long password"))
	status, page := b.get("/ui/updates")
	require.Equal(t, http.StatusOK, status, page)
	for _, want := range []string{`id="updates-nav"`, `id="check-updates"`, `id="save-settings"`, `id="bundle-form"`,
		`<td class="mono">` + s.cfg.NodeID + ` <span class="badge">leader</span>`} {
		assert.Contains(t, page, want)
	}
	csrf := csrfRE.FindStringSubmatch(page)
	require.NotNil(t, csrf)

	status, body := b.post("/ui/updates/settings", url.Values{"csrf": {csrf[1]}, "auto_download": {"on"}, "channel": {"beta"}, "check_every": {"12h"}})
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "Update settings saved.")
	st := s.fsm.Updates().Settings
	assert.False(t, st.ManualDownload)
	assert.True(t, st.ManualInstall)
	assert.Equal(t, "beta", st.Channel)
	assert.Equal(t, (12 * time.Hour).Milliseconds(), st.CheckEveryMs)

	status, body = b.postBundle(csrf[1], []byte("not a bundle"))
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, body, "The bundle site.bundle was refused: master: bad request")
	assert.Empty(t, s.fsm.Updates().Releases)

	var actions []string
	for _, r := range s.fsm.Audit(fsm.AuditFilter{}).Records {
		if r.Actor == "user:ivy" && r.Via == "dashboard" && r.Action != "SignIn" {
			actions = append(actions, r.Action+" "+cmp.Or(r.Code, "ok"))
		}
	}
	assert.ElementsMatch(t, []string{"SetUpdateSettings ok", "UploadUpdateBundle invalid_argument"}, actions)

	v := newDashBrowser(t, srv)
	require.Equal(t, http.StatusSeeOther, v.signIn("vic", "vic long password"))
	status, page = v.get("/ui/updates")
	require.Equal(t, http.StatusOK, status)
	for _, no := range []string{`id="check-updates"`, `id="save-settings"`, `id="bundle-form"`} {
		assert.NotContains(t, page, no)
	}
	csrf = csrfRE.FindStringSubmatch(page)
	require.NotNil(t, csrf)
	status, _ = v.postBundle(csrf[1], []byte("not a bundle"))
	assert.Equal(t, http.StatusForbidden, status)

	ctx := dashboard.WithPrincipal(context.Background(), dashboard.Principal{ID: "user:vic", User: "vic", Role: "viewer", Perms: []string{"read", "self"}})
	_, err := s.dashUploadBundle(ctx, strings.NewReader("not a bundle"))
	require.ErrorIs(t, err, ErrForbidden)
	recs := s.fsm.Audit(fsm.AuditFilter{Actor: "user:vic", Action: "UploadUpdateBundle"}).Records
	require.Len(t, recs, 1, "the refusal's record")
	assert.Equal(t, "permission_denied", recs[0].Code)
}
